//! The Combined Log Format, nginx's `combined` plus the request time:
//! `peer - - [time] "request" status body_bytes "referer" "agent" seconds`.
//!
//! Kept at arrival ([`line`], [`rest`]): `GET /x HTTP/1.1" ` and
//! ` "referer" "agent" `. Added when written ([`write`]): the peer and
//! the time before them, the status and body bytes between them, the
//! seconds after.

use super::clock::LogClock;
use super::format::{Completion, LINE_LIMITS, Line, MAX_HEADER, MAX_TARGET, Request, combined_value};
use super::pieces::{self, push_cut};
use crate::http::Method;

/// The request line, escaped, and its closing quote: `GET /x HTTP/1.1" `;
/// `-" ` if none came.
pub(super) fn line(line: &Line<'_>, out: &mut Vec<u8>) {
    match *line {
        // Only the target can hold a byte to escape or be too long.
        Line::Parsed { method, target, plain, http11 } => {
            let (word, len) = method_word(method);
            push_cut(out, word, len);
            if plain && target.len() <= MAX_TARGET {
                // The usual target: the parser saw every byte already.
                debug_assert!(target.iter().all(|b| (b'!'..=b'~').contains(b) && !b"\"\\".contains(b)));
                out.extend_from_slice(target);
            } else {
                combined_value(out, target, MAX_TARGET);
            }
            out.extend_from_slice(if http11 { b" HTTP/1.1\" " } else { b" HTTP/1.0\" " });
        }
        Line::Raw { .. } => raw_line(line.parts(), out),
    }
}

/// A line's tokens, each escaped and bounded, the absent ones left out.
fn raw_line(parts: [&[u8]; 3], out: &mut Vec<u8>) {
    let parts = parts.into_iter().zip(LINE_LIMITS);
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
    out.extend_from_slice(b"\" ");
}

/// A method and a space as one eight-byte piece, and its length.
fn method_word(m: Method) -> ([u8; 8], usize) {
    const fn word(m: Method) -> ([u8; 8], usize) {
        let name = m.as_str().as_bytes();
        assert!(name.len() < 8, "a method we know fits a word with its space");
        let mut w = [b' '; 8];
        let mut i = 0;
        while i < name.len() {
            w[i] = name[i];
            i += 1;
        }
        (w, name.len() + 1)
    }
    // A table: a method's name is a run-time length (a `memcpy` call).
    match m {
        Method::Get => const { word(Method::Get) },
        Method::Head => const { word(Method::Head) },
        Method::Post => const { word(Method::Post) },
        Method::Put => const { word(Method::Put) },
        Method::Delete => const { word(Method::Delete) },
        Method::Options => const { word(Method::Options) },
        Method::Patch => const { word(Method::Patch) },
        Method::Trace => const { word(Method::Trace) },
        Method::Connect => const { word(Method::Connect) },
    }
}

/// ` "referer" "agent" `, each escaped and bounded; `-` for one that is
/// absent or empty.
pub(super) fn rest(r: &Request<'_>, out: &mut Vec<u8>) {
    let given = |v: Option<&[u8]>| v.is_some_and(|v| !v.is_empty());
    if !given(r.referer) && !given(r.user_agent) {
        // What a benchmark's client sends: one piece.
        out.extend_from_slice(b" \"-\" \"-\" ");
        return;
    }
    for value in [r.referer, r.user_agent] {
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
}

/// The line around its kept pieces `line` and `rest`.
#[inline(always)]
pub(super) fn write(line: &[u8], rest: &[u8], c: &Completion, clock: &LogClock, out: &mut Vec<u8>) {
    head(c, clock, out);
    out.extend_from_slice(line);
    pieces::status(out, c.status, b' ');
    pieces::number(out, c.body_bytes_sent);
    out.extend_from_slice(rest);
    pieces::seconds(out, c.duration, b'\n');
}

/// `peer - - [time] "`: for an IPv4 peer put together on the stack and
/// appended as one piece (one check of the room left, not four).
#[inline(always)]
fn head(c: &Completion, clock: &LogClock, out: &mut Vec<u8>) {
    const OPEN: &[u8; 6] = b" - - [";
    const CLOSE: &[u8; 3] = b"] \"";
    let Some((text, len)) = pieces::v4_text(c.peer) else {
        pieces::peer(out, c.peer);
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
    push_cut(out, head, at + 35);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::format::MAX_TOKEN;

    const METHODS: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Trace,
        Method::Connect,
    ];

    #[test]
    fn a_methods_word_is_its_name_and_a_space() {
        for m in METHODS {
            let (word, len) = method_word(m);
            assert_eq!(&word[..len], format!("{} ", m.as_str()).as_bytes());
        }
    }

    #[test]
    fn a_parsed_line_reads_as_its_tokens_do() {
        let long = [b"/".as_slice(), &[b'a'; MAX_TARGET + 3]].concat();
        let targets: [&[u8]; 8] =
            [b"/", b"/echo/abc", b"/\"x\\y", b"/x\"", b"/\\", b"/\x1b\x7f\xff", b"/a-target-longer-than-a-word", &long];
        for method in METHODS {
            for target in targets {
                // As the parser says (`Head::target_plain`), or not known.
                let plain = target.iter().all(|b| (b'!'..=b'~').contains(b) && !b"\"\\".contains(b));
                for (http11, plain) in [(true, plain), (false, plain), (true, false)] {
                    let parsed = Line::Parsed { method, target, plain, http11 };
                    let [m, t, v] = parsed.parts();
                    let (mut one, mut other) = (b"x".to_vec(), b"x".to_vec());
                    line(&parsed, &mut one);
                    line(&Line::Raw { method: m, target: t, version: v }, &mut other);
                    assert_eq!(one, other, "{parsed:?}");
                }
            }
        }
    }

    #[test]
    fn raw_tokens_are_escaped_cut_and_left_out_when_absent() {
        let text = |method: &[u8], target: &[u8], version: &[u8]| {
            let mut out = Vec::new();
            line(&Line::Raw { method, target, version }, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(b"", b"", b""), "-\" ");
        assert_eq!(text(b"GARBAGE", b"", b""), "GARBAGE\" ");
        assert_eq!(text(b"G\"T", b"", b"HTTP/1.1"), "G\\x22T HTTP/1.1\" ");
        let long = vec![b'M'; MAX_TOKEN + 1];
        assert_eq!(text(&long, b"/", b"x"), format!("{}\\... / x\" ", "M".repeat(MAX_TOKEN)));
    }
}
