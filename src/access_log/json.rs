//! One JSON object per line:
//! `{"time":…,"peer":…,"method":…,"target":…,"version":…,"status":…,`
//! `"bytes_sent":…,"body_bytes_sent":…,"bytes_received":…,"duration_us":…,`
//! `"user_agent":…,"referer":…,"connection":…,"request":…}`.
//!
//! Kept at arrival ([`line`], [`rest`]): the method, target and version
//! fields, and everything from `user_agent` to the line's end. Added when
//! written ([`write`]): the time and peer before them, the numbers
//! between them.

use super::clock::LogClock;
use super::escape::{self, TRUNCATED};
use super::format::{Completion, Line, MAX_HEADER, MAX_TARGET, MAX_TOKEN, Request};
use super::pieces;

/// `,"method":…,"target":…,"version":…`
pub(super) fn line(line: &Line<'_>, out: &mut Vec<u8>, scratch: &mut String) {
    let [method, target, version] = line.parts();
    for (name, value, max) in
        [("method", method, MAX_TOKEN), ("target", target, MAX_TARGET), ("version", version, MAX_TOKEN)]
    {
        field(out, scratch, name, Some(value), max);
    }
}

/// `,"user_agent":…,"referer":…,"connection":…,"request":…}` and the line end.
pub(super) fn rest(r: &Request<'_>, out: &mut Vec<u8>, scratch: &mut String) {
    field(out, scratch, "user_agent", r.user_agent, MAX_HEADER);
    field(out, scratch, "referer", r.referer, MAX_HEADER);
    for (name, value) in [("connection", r.conn_id), ("request", r.request_no)] {
        key(out, name);
        pieces::number(out, value);
    }
    out.extend_from_slice(b"}\n");
}

/// The line around its kept pieces `line` and `rest`.
pub(super) fn write(line: &[u8], rest: &[u8], c: &Completion, clock: &LogClock, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"time\":\"");
    clock.write_rfc3339(out);
    out.extend_from_slice(b"\",\"peer\":\"");
    pieces::peer(out, c.peer);
    out.push(b'"');
    out.extend_from_slice(line);
    let numbers = [
        ("status", u64::from(c.status)),
        ("bytes_sent", c.bytes_sent),
        ("body_bytes_sent", c.body_bytes_sent),
        ("bytes_received", c.bytes_received),
        ("duration_us", u64::try_from(c.duration.as_micros()).unwrap_or(u64::MAX)),
    ];
    for (name, value) in numbers {
        key(out, name);
        pieces::number(out, value);
    }
    out.extend_from_slice(rest);
}

fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `"name":"escaped value"`, or `"name":null` when absent.
fn field(out: &mut Vec<u8>, scratch: &mut String, name: &str, value: Option<&[u8]>, max: usize) {
    key(out, name);
    let Some(value) = value else {
        out.extend_from_slice(b"null");
        return;
    };
    // The usual value, printable ASCII without `"` or `\`, is the JSON
    // string's text as it is (a pass through serde_json cost ~1,000
    // instructions a line, callgrind, examples/hotpath.rs).
    if value.len() <= max && escape::is_plain(value) {
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
        return;
    }
    escaped(out, scratch, value, max);
}

/// A value's JSON string: escaped, and cut at `max` bytes and marked.
fn escaped(out: &mut Vec<u8>, scratch: &mut String, value: &[u8], max: usize) {
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
mod tests {
    use super::*;

    #[test]
    fn a_plain_value_is_written_as_serde_json_would() {
        let mut values: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b'a', b, b'z']).collect();
        values.extend([b"".to_vec(), b"curl/8.1".to_vec(), b"/echo/a?b=c#d".to_vec(), vec![b'x'; 40]]);
        values.extend(["r\u{e9}f", "\u{202e}x", "a\"b", "a\\b"].map(|v| v.as_bytes().to_vec()));
        for value in values {
            for max in [3, 40] {
                let (mut fast, mut slow, mut scratch) = (Vec::new(), Vec::new(), String::new());
                field(&mut fast, &mut scratch, "v", Some(&value), max);
                key(&mut slow, "v");
                escaped(&mut slow, &mut scratch, &value, max);
                assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap(), "{value:?}");
            }
        }
    }
}
