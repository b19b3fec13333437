//! One access-log line per [`Entry`], in either format, appended to a
//! reused buffer: no allocation per line once the buffers have grown.

use std::net::IpAddr;
use std::time::Duration;

use super::clock::LogClock;
use super::escape::{self, TRUNCATED};
use super::pieces;

/// Longest request-target logged, in raw bytes; longer ones are cut and
/// marked with [`TRUNCATED`].
pub const MAX_TARGET: usize = 2048;
/// Longest `User-Agent` or `Referer` logged, in raw bytes.
pub const MAX_HEADER: usize = 512;
/// Longest method or version token logged (only garbage is longer).
pub const MAX_TOKEN: usize = 32;
/// The request line's limits: method, target, version.
pub const LINE_LIMITS: [usize; 3] = [MAX_TOKEN, MAX_TARGET, MAX_TOKEN];

/// Which line format (`--access-log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Apache/nginx Combined Log Format plus the request time in seconds.
    Combined,
    /// One JSON object per line.
    Json,
}

/// Everything one line says about one request. Client-controlled values
/// are raw bytes; the formatter escapes and bounds them.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub peer: IpAddr,
    /// Empty when the request line never arrived (Combined then logs `-`).
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: &'a [u8],
    /// The three above as one piece, joined by single spaces, when each is
    /// there and none was cut (at most [`MAX_TOKEN`], [`MAX_TARGET`] and
    /// [`MAX_TOKEN`] bytes): Combined escapes it in one pass. None: the
    /// parts are written one by one (the result is the same).
    pub request_line: Option<&'a [u8]>,
    pub status: u16,
    /// Bytes written for this response, head included.
    pub bytes_sent: u64,
    /// Of those, bytes of the body (Combined's `%b`, nginx's `$body_bytes_sent`).
    pub body_bytes_sent: u64,
    /// Bytes of the request: head and body.
    pub bytes_received: u64,
    pub duration: Duration,
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    /// The connection's serial number (`#ID` in the server log).
    pub conn_id: u64,
    /// 1 for the first request on its connection.
    pub request_no: u64,
}

/// Appends one line in `format` to `out`; `scratch` is reused text space.
pub fn write_line(format: Format, e: &Entry<'_>, clock: &LogClock, out: &mut Vec<u8>, scratch: &mut String) {
    match format {
        Format::Combined => combined(e, clock, out),
        Format::Json => json(e, clock, out, scratch),
    }
}

/// `peer - - [time] "request" status body_bytes "referer" "agent" request_time`
fn combined(e: &Entry<'_>, clock: &LogClock, out: &mut Vec<u8>) {
    combined_head(e.peer, clock, out);
    match e.request_line {
        Some(line) => {
            debug_assert!(is_joined(e, line), "the line is its parts");
            escape::combined(out, line);
        }
        None => combined_request(e, out),
    }
    out.extend_from_slice(b"\" ");
    pieces::status(out, e.status);
    out.push(b' ');
    pieces::number(out, e.body_bytes_sent);
    for value in [e.referer, e.user_agent] {
        match value {
            Some(v) if !v.is_empty() => {
                out.extend_from_slice(b" \"");
                combined_value(out, v, MAX_HEADER);
                out.push(b'"');
            }
            _ => out.extend_from_slice(b" \"-\""),
        }
    }
    out.push(b' ');
    pieces::seconds(out, e.duration);
    out.push(b'\n');
}

/// `peer - - [time] "`: for an IPv4 peer put together on the stack and
/// appended as one piece (one check of the room left, not four).
#[inline(always)]
fn combined_head(peer: IpAddr, clock: &LogClock, out: &mut Vec<u8>) {
    const OPEN: &[u8; 6] = b" - - [";
    const CLOSE: &[u8; 3] = b"] \"";
    let Some((text, len)) = pieces::v4_text(peer) else {
        pieces::peer(out, peer);
        out.extend_from_slice(OPEN);
        out.extend_from_slice(clock.clf());
        out.extend_from_slice(CLOSE);
        return;
    };
    let mut head = [0u8; 16 + 6 + 26 + 3];
    head[..16].copy_from_slice(&text);
    let at = len.min(16);
    head[at..at + 6].copy_from_slice(OPEN);
    head[at + 6..at + 32].copy_from_slice(clock.clf());
    head[at + 32..at + 35].copy_from_slice(CLOSE);
    pieces::push_cut(out, head, at + 35);
}

/// The request line's parts, each escaped and bounded; `-` if none came.
fn combined_request(e: &Entry<'_>, out: &mut Vec<u8>) {
    let parts = [e.method, e.target, e.version].into_iter().zip(LINE_LIMITS);
    if parts.clone().all(|(v, _)| v.is_empty()) {
        out.push(b'-');
    }
    let mut first = true;
    for (value, max) in parts.filter(|(v, _)| !v.is_empty()) {
        if !std::mem::take(&mut first) {
            out.push(b' ');
        }
        combined_value(out, value, max);
    }
}

/// Whether `line` is what [`Entry::request_line`] must be: the parts,
/// each there and within its limit, joined by single spaces. (Compared
/// in place: the tests count allocations per request.)
fn is_joined(e: &Entry<'_>, line: &[u8]) -> bool {
    let (m, t) = (e.method.len(), e.target.len());
    [e.method, e.target, e.version].iter().zip(LINE_LIMITS).all(|(v, max)| (1..=max).contains(&v.len()))
        && line.len() == m + 1 + t + 1 + e.version.len()
        && line[..m] == *e.method
        && line[m] == b' '
        && line[m + 1..m + 1 + t] == *e.target
        && line[m + 1 + t] == b' '
        && line[m + 2 + t..] == *e.version
}

/// `value` escaped, cut at `max` bytes and marked if it was longer.
fn combined_value(out: &mut Vec<u8>, value: &[u8], max: usize) {
    let (v, cut) = escape::bounded(value, max);
    escape::combined(out, v);
    if cut {
        out.extend_from_slice(TRUNCATED.as_bytes());
    }
}

fn json(e: &Entry<'_>, clock: &LogClock, out: &mut Vec<u8>, scratch: &mut String) {
    out.extend_from_slice(b"{\"time\":\"");
    clock.write_rfc3339(out);
    out.extend_from_slice(b"\",\"peer\":\"");
    pieces::peer(out, e.peer);
    out.push(b'"');
    let texts = [("method", e.method, MAX_TOKEN), ("target", e.target, MAX_TARGET), ("version", e.version, MAX_TOKEN)];
    for (name, value, max) in texts {
        json_field(out, scratch, name, Some(value), max);
    }
    let numbers = [
        ("status", u64::from(e.status)),
        ("bytes_sent", e.bytes_sent),
        ("body_bytes_sent", e.body_bytes_sent),
        ("bytes_received", e.bytes_received),
        ("duration_us", u64::try_from(e.duration.as_micros()).unwrap_or(u64::MAX)),
    ];
    for (name, value) in numbers {
        json_key(out, name);
        pieces::number(out, value);
    }
    json_field(out, scratch, "user_agent", e.user_agent, MAX_HEADER);
    json_field(out, scratch, "referer", e.referer, MAX_HEADER);
    for (name, value) in [("connection", e.conn_id), ("request", e.request_no)] {
        json_key(out, name);
        pieces::number(out, value);
    }
    out.extend_from_slice(b"}\n");
}

fn json_key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `"name":"escaped value"`, or `"name":null` when absent.
fn json_field(out: &mut Vec<u8>, scratch: &mut String, name: &str, value: Option<&[u8]>, max: usize) {
    json_key(out, name);
    let Some(value) = value else {
        out.extend_from_slice(b"null");
        return;
    };
    scratch.clear();
    let (v, cut) = escape::bounded(value, max);
    escape::json_text(scratch, v);
    if cut {
        scratch.push_str(TRUNCATED);
    }
    // JSON's escapes, and `\uXXXX` for what could break or disguise a line.
    escape::json_string(out, scratch);
}

#[cfg(test)]
mod tests;
