//! The fast path: the usual request head, a whole head in its
//! plainest form, read in one pass without httparse, and interpreted by
//! the same functions as every other head (`parse.rs`).
//!
//! It answers only for a head it can vouch for, and then exactly as the
//! reference path would; for anything else it says nothing and the reference path
//! decides. So it accepts a subset of what httparse accepts, and needs no
//! error of its own:
//!
//! ```text
//! request-line = 1*UPPER SP "/" *VCHAR SP "HTTP/1." ("0" / "1") CRLF
//! field-line   = 1*tchar ":" *(SP / VCHAR) CRLF     (no tab, no obs-text)
//! head         = request-line *field-line CRLF
//! ```
//!
//! No leading empty lines, no bare LF, no byte past 0x7e, no error while
//! reading it, within every limit. A head still arriving is not whole, so
//! it is never answered here: the reference path owns partial heads and their
//! early refusals. The tests check both ways agree on every fixture, every
//! refusal and thousands of mutations of them.

use super::authority::LastValidHost;
use super::byte_classes::TCHAR;
use super::interpret::{RequestLine, Seen, check_sizes, finish_head, read_header, start_head};
use super::request::{Limits, MAX_HEADERS_CEILING, Method, Parsed};
use super::target::split_target;
use crate::error::HttpError;

/// The bytes of an origin-form target: visible ASCII, `PLAIN` or, for the
/// ones that need a closer look (`?`, `#`, `%`), `SPECIAL`, and also
/// `QUOTE` for the two the access log escapes (`"`, `\`); 0 for the rest.
const TARGET: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = b'!';
    while b <= b'~' {
        table[b as usize] = match b {
            b'?' | b'#' | b'%' => SPECIAL,
            b'"' | b'\\' => PLAIN | QUOTE,
            _ => PLAIN,
        };
        b += 1;
    }
    table
};
const PLAIN: u8 = 1;
const SPECIAL: u8 = 2;
const QUOTE: u8 = 4;

/// A header value byte here: space or visible ASCII.
fn is_value_byte(b: u8) -> bool {
    (b' '..=b'~').contains(&b)
}

/// How many bytes at the start of `bytes` are value bytes: the values are
/// most of a head's bytes, so they are checked eight at a time.
#[inline(always)]
fn value_run(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let mut words = bytes.chunks_exact(8);
    let mut run = 0;
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A byte's high bit flags it: below 0x20 (its borrow sets it),
        // or 0x7f and above (adding 1 sets it, or it was set). Carries and
        // borrows only run upwards, past a flagged byte: the lowest flag
        // is the first byte that is not a value byte.
        let below = w.wrapping_sub(ONES * 0x20) & !w;
        let above = w.wrapping_add(ONES) | w;
        let flags = (below | above) & HIGH;
        if flags != 0 {
            return run + flags.trailing_zeros() as usize / 8;
        }
        run += 8;
    }
    let rest = words.remainder();
    run + rest.iter().position(|&b| !is_value_byte(b)).unwrap_or(rest.len())
}

/// If the head at the start of `buf` is a usual one, writes the answer
/// (`Complete`, with its length) to `out` and returns `Some`; otherwise
/// None, and [`super::parse_head`] takes the reference path, overwriting `out`.
/// (The head is built where the caller returns it from, field by field: a
/// head is large, and copying a finished one costs a ~250-byte copy, and
/// the caller's reads of it then wait for that copy's stores to land.)
#[inline]
pub(super) fn parse<'a>(
    buf: &'a [u8],
    limits: &Limits,
    hosts: &mut LastValidHost,
    out: &mut Result<Parsed<'a>, HttpError>,
) -> Option<()> {
    let (line, special, mut at) = request_line(buf)?;
    let method = Method::from_bytes(line.method)?;
    // Without a `?`, `#` or `%` the target is the path, and has no escape.
    let (authority, path, escaped) = match special {
        false => (None, line.target, false),
        true => {
            let (authority, path) = split_target(method, line.target).ok()?;
            (authority, path, path.contains('%'))
        }
    };
    *out = Ok(Parsed::Complete(start_head(method, &line, path, escaped), 0));
    let Ok(Parsed::Complete(head, head_len)) = out else { unreachable!("written just above") };
    let mut seen = Seen::default();
    let max_headers = limits.max_headers.min(MAX_HEADERS_CEILING);
    let mut count = 0;
    loop {
        match buf.get(at..at + 2)? {
            b"\r\n" => break,
            _ if count == max_headers => return None,
            _ => {}
        }
        let (name, value, next) = field_line(buf, at)?;
        read_header(name, value, head, &mut seen).ok()?;
        count += 1;
        at = next;
    }
    let len = at + 2;
    check_sizes(&line, len, limits).ok()?;
    finish_head(head, &seen, authority, hosts).ok()?;
    *head_len = len;
    Some(())
}

/// The request line and where the next line starts; `special` says the
/// target holds a `?`, `#` or `%`.
#[inline(always)]
fn request_line(buf: &[u8]) -> Option<(RequestLine<'_>, bool, usize)> {
    let method_len = buf.iter().position(|b| !b.is_ascii_uppercase())?;
    if method_len == 0 || buf[method_len] != b' ' || buf.get(method_len + 1) != Some(&b'/') {
        return None;
    }
    let start = method_len + 1;
    let mut end = start;
    let mut classes = 0;
    while let Some(&b) = buf.get(end) {
        let class = TARGET[usize::from(b)];
        if class == 0 {
            break;
        }
        classes |= class;
        end += 1;
    }
    // ` HTTP/1.1\r\n` or ` HTTP/1.0\r\n`, read as two overlapping words.
    let version = buf.get(end..end + 11)?;
    let word = |at: usize| u64::from_le_bytes(version[at..at + 8].try_into().expect("eight bytes"));
    if word(0) != u64::from_le_bytes(*b" HTTP/1.") {
        return None;
    }
    let http11 = match word(3) {
        w if w == u64::from_le_bytes(*b"TP/1.1\r\n") => true,
        w if w == u64::from_le_bytes(*b"TP/1.0\r\n") => false,
        _ => return None,
    };
    let target = &buf[start..end];
    debug_assert!(target.is_ascii());
    // SAFETY: every byte of `target` passed `TARGET`, which admits only
    // visible ASCII, and ASCII is UTF-8. (`str::from_utf8` would check it
    // again, at ~100 instructions a twentieth of a pipelined request's;
    // httparse skips that check the same way for the bytes it vouches for.)
    let target = unsafe { std::str::from_utf8_unchecked(target) };
    let line = RequestLine { method: &buf[..method_len], target, target_plain: classes & QUOTE == 0, http11 };
    Some((line, classes & SPECIAL != 0, end + 11))
}

/// The field line at `at`: its name, its value (untrimmed), and where the
/// next line starts.
#[inline(always)]
fn field_line(buf: &[u8], at: usize) -> Option<(&[u8], &[u8], usize)> {
    let name_len = buf[at..].iter().position(|&b| !TCHAR[usize::from(b)])?;
    let colon = at + name_len;
    if name_len == 0 || buf[colon] != b':' {
        return None;
    }
    let end = colon + 1 + value_run(&buf[colon + 1..]);
    (buf.get(end..end + 2)? == b"\r\n").then(|| (&buf[at..colon], &buf[colon + 1..end], end + 2))
}

#[cfg(test)]
#[path = "fast_path_tests.rs"]
pub(super) mod tests;
