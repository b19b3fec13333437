//! One access-log line per request, in either format, written in two
//! halves: what the request says ([`Request`]: its line, `User-Agent`,
//! `Referer`, connection and number) is rendered when it arrives, escaped
//! and bounded, into the connection's text store ([`keep`]); what its
//! response did ([`Completion`]: the status, bytes, duration and the time)
//! is added when the line is written, around that kept text ([`write`]).
//!
//! So a line is put together from two kept pieces and a few fixed-size
//! ones (access_log/pieces.rs), and the client's bytes are copied from the
//! request once, already in the line's form. No allocation per line once
//! the buffers have grown.

use std::net::IpAddr;
use std::time::Duration;

use super::clock::LogClock;
use super::combined::{self, LastHead};
use super::escape::{self, TRUNCATED};
use super::json;
use crate::http::Method;

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

/// What a line says that is known when the request arrives. Client
/// bytes are raw; [`keep`] escapes and bounds them.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub line: Line<'a>,
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    /// The connection's serial number (`#ID` in the server log).
    pub conn_id: u64,
    /// 1 for the first request on its connection.
    pub request_no: u64,
}

/// The request line.
#[derive(Debug, Clone, Copy)]
pub enum Line<'a> {
    /// A parsed head's: a method we know and HTTP/1.x, which need no
    /// escaping, and its target as sent; `plain`: visible ASCII without
    /// `"` or `\`, nothing to escape either (`Head::target_plain`).
    Parsed { method: Method, target: &'a [u8], plain: bool, http11: bool },
    /// The tokens of a line that failed to parse, as far as they go (each
    /// empty if it never came).
    Raw { method: &'a [u8], target: &'a [u8], version: &'a [u8] },
}

impl Default for Line<'_> {
    /// None came.
    fn default() -> Self {
        Line::Raw { method: b"", target: b"", version: b"" }
    }
}

impl<'a> Line<'a> {
    /// Method, target and version.
    pub fn parts(&self) -> [&'a [u8]; 3] {
        match *self {
            Line::Parsed { method, target, http11, .. } => {
                [method.as_str().as_bytes(), target, if http11 { b"HTTP/1.1" } else { b"HTTP/1.0" }]
            }
            Line::Raw { method, target, version } => [method, target, version],
        }
    }
}

/// What a line adds when its request is complete.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    /// The client (the peer, or whom a trusted proxy named). Added here,
    /// not kept: the request's record holds it anyway.
    pub peer: IpAddr,
    pub status: u16,
    /// Bytes written for this response, head included.
    pub bytes_sent: u64,
    /// Of those, bytes of the body (Combined's `%b`, nginx's `$body_bytes_sent`).
    pub body_bytes_sent: u64,
    /// Bytes of the request: head and body.
    pub bytes_received: u64,
    pub duration: Duration,
}

/// Where [`keep`] left a request's half of its line: the lengths of its
/// two pieces, which lie back to back in the store. Combined: the request
/// (`GET / HTTP/1.1" `) and the headers (` "referer" "agent" `); JSON:
/// the request's fields and the rest up to the line's end. Each is at
/// most a few KiB: the limits above, times 5 for escapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept {
    pub line: u32,
    pub rest: u32,
}

impl Kept {
    /// Bytes of the store it takes.
    pub fn len(&self) -> usize {
        self.line as usize + self.rest as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renders `r`'s half of its line in `format`, appended to `store`;
/// `scratch` is reused text space.
pub fn keep(format: Format, r: &Request<'_>, store: &mut Vec<u8>, scratch: &mut String) -> Kept {
    let start = store.len();
    match format {
        Format::Combined => combined::line(&r.line, store),
        Format::Json => json::line(&r.line, store, scratch),
    }
    let line = store.len() - start;
    match format {
        Format::Combined => combined::rest(r, store),
        Format::Json => json::rest(r, store, scratch),
    }
    let rest = store.len() - start - line;
    // Both are bounded by the limits (see `Kept`).
    Kept { line: line as u32, rest: rest as u32 }
}

/// Appends the line whose request's half is `kept` (`text`: its pieces,
/// as [`keep`] left them) with what `c` says, at the time of `clock`.
/// (`last`: Combined's head of the line before.)
#[inline(always)]
pub(super) fn write(
    format: Format,
    text: &[u8],
    kept: Kept,
    c: &Completion,
    clock: &LogClock,
    last: &mut LastHead,
    out: &mut Vec<u8>,
) {
    let (line, rest) = text.split_at(kept.line as usize);
    match format {
        Format::Combined => combined::write(line, rest, c, clock, last, out),
        Format::Json => json::write(line, rest, c, clock, out),
    }
}

/// `value` escaped for Combined, cut at `max` bytes and marked if it was longer.
pub(super) fn combined_value(out: &mut Vec<u8>, value: &[u8], max: usize) {
    let (v, cut) = escape::bounded(value, max);
    escape::combined(out, v);
    if cut {
        out.extend_from_slice(TRUNCATED.as_bytes());
    }
}

/// Everything one line says about one request, at once: how tests state a
/// line ([`write_line`] keeps, then writes it).
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub peer: IpAddr,
    /// Empty when the request line never arrived (Combined then logs `-`).
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: &'a [u8],
    pub status: u16,
    pub bytes_sent: u64,
    pub body_bytes_sent: u64,
    pub bytes_received: u64,
    pub duration: Duration,
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    pub conn_id: u64,
    pub request_no: u64,
}

#[cfg(test)]
impl<'a> Entry<'a> {
    /// Its request's half, with the line as raw tokens.
    pub fn request(&self) -> Request<'a> {
        let line = Line::Raw { method: self.method, target: self.target, version: self.version };
        Request {
            line,
            user_agent: self.user_agent,
            referer: self.referer,
            conn_id: self.conn_id,
            request_no: self.request_no,
        }
    }

    pub fn completion(&self) -> Completion {
        Completion {
            peer: self.peer,
            status: self.status,
            bytes_sent: self.bytes_sent,
            body_bytes_sent: self.body_bytes_sent,
            bytes_received: self.bytes_received,
            duration: self.duration,
        }
    }
}

/// Appends `e`'s line in `format` to `out`, both halves at once.
#[cfg(test)]
pub fn write_line(format: Format, e: &Entry<'_>, clock: &LogClock, out: &mut Vec<u8>) {
    let mut store = b"older text".to_vec();
    let kept = keep(format, &e.request(), &mut store, &mut String::new());
    assert_eq!(store.len(), 10 + kept.len());
    write(format, &store[10..], kept, &e.completion(), clock, &mut LastHead::default(), out);
}

#[cfg(test)]
mod tests;
