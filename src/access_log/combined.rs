//! The Combined Log Format, nginx's `combined` plus the request time:
//! `peer - - [time] "request" status body_bytes "referer" "agent" seconds`.
//!
//! Kept at arrival ([`line`], [`rest`]): `GET /x HTTP/1.1" ` and
//! ` "referer" "agent" `. Added when written ([`write`]): the peer and
//! the time before them, the status and body bytes between them, the
//! seconds after.

use std::io::Write;
use std::net::IpAddr;

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
            push_cut(out, &word, len);
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
pub(super) fn write(
    line: &[u8],
    rest: &[u8],
    c: &Completion,
    clock: &LogClock,
    last: &mut LastHead,
    out: &mut Vec<u8>,
) {
    if last.peer != Some(c.peer) {
        last.set(c.peer, clock);
    }
    push_cut(out, &last.text, last.len);
    out.extend_from_slice(line);
    pieces::status(out, c.status, b' ');
    pieces::number(out, c.body_bytes_sent);
    out.extend_from_slice(rest);
    pieces::seconds(out, c.duration, b'\n');
}

/// Room for the longest head: an IPv6 peer (at most 45 bytes), ` - - [`,
/// the time (26), `] "`.
const HEAD: usize = 80;

/// `peer - - [time] "` as the last line began, kept for the next line of
/// the same client in the same second ([`LastHead::clear`] when the
/// second changes): lines in a row from one client (one that keeps its
/// connection or pipelines, or every line behind a reverse proxy) copy it
/// whole, one piece, instead of putting the address into text again.
#[derive(Debug)]
pub(super) struct LastHead {
    /// None: nothing kept.
    peer: Option<IpAddr>,
    text: [u8; HEAD],
    len: usize,
}

impl Default for LastHead {
    fn default() -> Self {
        LastHead { peer: None, text: [0; HEAD], len: 0 }
    }
}

impl LastHead {
    /// Forgets the head: its time is past.
    pub(super) fn clear(&mut self) {
        self.peer = None;
    }

    /// The head of `peer`'s lines at `clock`'s time.
    #[inline(never)]
    fn set(&mut self, peer: IpAddr, clock: &LogClock) {
        const OPEN: &[u8; 6] = b" - - [";
        const CLOSE: &[u8; 3] = b"] \"";
        let at = match pieces::v4_text(peer) {
            Some((text, len)) => {
                self.text[..16].copy_from_slice(&text);
                len
            }
            None => {
                let mut room = std::io::Cursor::new(&mut self.text[..HEAD - 35]);
                // Fits: an IPv6 address is at most 45 bytes as text.
                let _ = write!(room, "{}", peer.to_canonical());
                room.position() as usize
            }
        };
        self.text[at..at + 6].copy_from_slice(OPEN);
        self.text[at + 6..at + 32].copy_from_slice(clock.clf());
        self.text[at + 32..at + 35].copy_from_slice(CLOSE);
        (self.peer, self.len) = (Some(peer), at + 35);
    }
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
    fn a_kept_head_is_the_head_made_afresh() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        use std::time::{Duration, UNIX_EPOCH};

        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let longest = IpAddr::V6(Ipv6Addr::new(0xffff, 0xfffe, 0xfffd, 0xfffc, 0xfffb, 0xfffa, 0xfff9, 0xfff8));
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        let peers =
            [v4(127, 0, 0, 1), v4(127, 0, 0, 1), longest, v4(10, 0, 0, 1), mapped, longest, v4(255, 255, 255, 255)];
        let mut clock = LogClock::default();
        clock.set(UNIX_EPOCH + Duration::from_secs(1_796_100_669));
        let mut last = LastHead::default();
        for (i, peer) in peers.into_iter().enumerate() {
            if i == 4 && clock.set(UNIX_EPOCH + Duration::from_secs(1_796_100_670)) {
                last.clear();
            }
            let c = Completion {
                peer,
                status: 200,
                bytes_sent: 10,
                body_bytes_sent: 1,
                bytes_received: 9,
                duration: Duration::from_micros(7),
            };
            let (line, rest) = (b"GET / HTTP/1.1\" ", b" \"-\" \"-\" ");
            let (mut kept, mut afresh) = (Vec::new(), Vec::new());
            write(line, rest, &c, &clock, &mut last, &mut kept);
            write(line, rest, &c, &clock, &mut LastHead::default(), &mut afresh);
            assert_eq!(String::from_utf8(kept).unwrap(), String::from_utf8(afresh.clone()).unwrap());
            let clf = std::str::from_utf8(clock.clf()).unwrap();
            let head = format!("{} - - [{clf}] \"GET / HTTP/1.1\" 200 1 ", peer.to_canonical());
            assert!(afresh.starts_with(head.as_bytes()), "{}", String::from_utf8_lossy(&afresh));
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
