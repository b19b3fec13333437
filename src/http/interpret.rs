//! What a request head means, whichever way it was read (the reference path in
//! `parse.rs`, the fast path in `fast_path.rs`): the request line's size
//! limits, each header field of interest, and the decisions that need them
//! all: `Host`, the body's framing (every smuggling shape refused), and the
//! keep-alive wish of the client.

use super::authority::{self, LastValidHost};
use super::request::{Framing, Head, LONG_METHOD, Limits, MAX_METHOD, Method, ProxyHeaders};
use crate::error::HttpError;

/// What the header loop collects before the framing decision.
#[derive(Default)]
pub(super) struct Seen<'a> {
    content_length: Option<u64>,
    /// A Transfer-Encoding field was present.
    transfer_encoding: bool,
    /// The last transfer coding so far is chunked.
    chunked_last: bool,
    /// A coding other than chunked was listed.
    other_coding: bool,
    hosts: usize,
    host: Option<&'a [u8]>,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// The request line as read: the method and target as sent.
pub(super) struct RequestLine<'a> {
    pub method: &'a [u8],
    pub target: &'a str,
    /// See [`Head::target_plain`].
    pub target_plain: bool,
    pub http11: bool,
}

/// The size limits, in the order the bytes arrive: method, target, head.
pub(super) fn check_sizes(line: &RequestLine<'_>, len: usize, limits: &Limits) -> Result<(), HttpError> {
    if line.method.len() > MAX_METHOD {
        return Err(LONG_METHOD);
    }
    if line.target.len() > limits.max_uri {
        return Err(HttpError::UriTooLong);
    }
    if len > limits.max_head {
        return Err(HttpError::HeadersTooLarge);
    }
    Ok(())
}

/// What the request line says, before any header is read.
pub(super) fn start_head<'a>(method: Method, line: &RequestLine<'a>, path: &'a str, path_escaped: bool) -> Head<'a> {
    Head {
        method,
        path,
        path_escaped,
        target: line.target,
        target_plain: line.target_plain,
        http11: line.http11,
        framing: Framing::None,
        keep_alive: false,
        expect_continue: false,
        user_agent: None,
        referer: None,
        accept: None,
        accept_encoding: None,
        range: None,
        if_range: None,
        if_none_match: None,
        if_modified_since: None,
        proxy: ProxyHeaders::default(),
    }
}

/// The decisions that need every header: `Host`, framing, keep-alive.
/// (The head is changed in place: it is large, and copies of it cost.
/// Inlined into both ways: a call costs a tenth of what it does.)
#[inline(always)]
pub(super) fn finish_head(
    head: &mut Head<'_>,
    seen: &Seen<'_>,
    authority: Option<&str>,
    hosts: &mut LastValidHost,
) -> Result<(), HttpError> {
    check_host(seen, authority, head.http11, hosts)?;
    head.framing = framing(seen, head.http11)?;
    head.keep_alive = if head.http11 { !seen.close } else { seen.keep_alive && !seen.close };
    head.expect_continue = seen.expect_continue;
    Ok(())
}

/// Reads one header line. `Host` is read where this is called: nearly
/// every head has one, and many nothing else of interest, so the usual
/// head makes no call for its headers.
#[inline(always)]
pub(super) fn read_header<'a>(
    name: &[u8],
    value: &'a [u8],
    head: &mut Head<'a>,
    seen: &mut Seen<'a>,
) -> Result<(), HttpError> {
    // `is_token_spelled(name, b"host")`, as one four-byte word.
    if let Ok(word) = <[u8; 4]>::try_from(name)
        && u32::from_le_bytes(word) | 0x2020_2020 == u32::from_le_bytes(*b"host")
    {
        seen.hosts += 1;
        seen.host = Some(value.trim_ascii());
        return Ok(());
    }
    read_other_header(name, value, head, seen)
}

/// Any header but `Host`. The name is matched by its length first, then
/// the spelling: each line costs one or two comparisons, not seventeen.
fn read_other_header<'a>(
    name: &[u8],
    value: &'a [u8],
    head: &mut Head<'a>,
    seen: &mut Seen<'a>,
) -> Result<(), HttpError> {
    let value = value.trim_ascii();
    let is = |known: &str| is_token_spelled(name, known.as_bytes());
    match name.len() {
        5 if is("range") => head.range = Some(value),
        6 if is("accept") => head.accept = Some(value),
        // HTTP/1.0 has no expectations: RFC 9110 §10.1.1 says ignore them.
        6 if is("expect") && head.http11 => {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(HttpError::ExpectationFailed);
            }
            seen.expect_continue = true;
        }
        7 if is("referer") => head.referer = Some(value),
        8 if is("if-range") => head.if_range = Some(value),
        9 if is("forwarded") => head.proxy.forwarded.push(value),
        10 if is("connection") => {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                seen.close |= token.eq_ignore_ascii_case(b"close");
                seen.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        10 if is("user-agent") => head.user_agent = Some(value),
        13 if is("if-none-match") => head.if_none_match = Some(value),
        14 if is("content-length") => {
            let n = parse_content_length(value)?;
            if seen.content_length.is_some_and(|prev| prev != n) {
                return Err(HttpError::BadRequest("conflicting Content-Length"));
            }
            seen.content_length = Some(n);
        }
        15 if is("accept-encoding") => head.accept_encoding = Some(value),
        15 if is("x-forwarded-for") => head.proxy.x_forwarded_for.push(value),
        17 if is("transfer-encoding") => note_transfer_codings(value, seen)?,
        17 if is("if-modified-since") => head.if_modified_since = Some(value),
        _ => {}
    }
    Ok(())
}

/// True if the token `name` is `known` (lowercase letters and `-`) in any
/// case. Setting a byte's 0x20 bit lowercases a letter and keeps `-`, and
/// turns no other token byte into either (only CR, never in a token, would
/// become `-`): `eq_ignore_ascii_case` for tokens, at half its cost.
fn is_token_spelled(name: &[u8], known: &[u8]) -> bool {
    debug_assert!(!name.contains(&b'\r') && known.iter().all(|&k| k == b'-' || k.is_ascii_lowercase()));
    name.len() == known.len() && name.iter().zip(known).all(|(&b, &k)| b | 0x20 == k)
}

/// Digits only: no sign, no spaces, no hex, and no overflow (RFC 9110 §8.6).
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    const BAD: HttpError = HttpError::BadRequest("invalid Content-Length");
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    value.iter().try_fold(0u64, |n, &d| n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))).ok_or(BAD))
}

/// Reads the codings of one Transfer-Encoding field line, in order across
/// lines (RFC 9110 §5.3). Anything after chunked means the body length
/// cannot be known (RFC 9112 §6.3: 400); so does an empty list element,
/// which some proxies read as "no coding".
fn note_transfer_codings(value: &[u8], seen: &mut Seen<'_>) -> Result<(), HttpError> {
    seen.transfer_encoding = true;
    for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        if coding.is_empty() {
            return Err(HttpError::BadRequest("empty transfer coding"));
        }
        if seen.chunked_last {
            return Err(HttpError::BadRequest("chunked is not the final transfer coding"));
        }
        seen.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
        seen.other_coding |= !seen.chunked_last;
    }
    Ok(())
}

/// RFC 9112 §6.3: chunked must be the one and final coding; together with
/// Content-Length it is a smuggling attempt; HTTP/1.0 has no chunked. A
/// coding we do not implement is 501 (RFC 9112 §6.1).
fn framing(seen: &Seen<'_>, http11: bool) -> Result<Framing, HttpError> {
    if !seen.transfer_encoding {
        return Ok(seen.content_length.map_or(Framing::None, Framing::Length));
    }
    if seen.content_length.is_some() {
        return Err(HttpError::BadRequest("both Content-Length and Transfer-Encoding"));
    }
    if !http11 {
        return Err(HttpError::BadRequest("Transfer-Encoding in HTTP/1.0"));
    }
    if seen.other_coding {
        return Err(HttpError::NotImplemented("transfer coding other than chunked"));
    }
    Ok(Framing::Chunked)
}

/// RFC 9112 §3.2: exactly one Host (HTTP/1.1), its value valid. An
/// absolute-form target's authority replaces it (§3.2.2) and must be valid
/// itself; then an empty Host is fine, otherwise it names no host at all.
fn check_host(
    seen: &Seen<'_>,
    authority: Option<&str>,
    http11: bool,
    hosts: &mut LastValidHost,
) -> Result<(), HttpError> {
    if seen.hosts > 1 || (http11 && seen.hosts == 0) {
        return Err(HttpError::BadRequest("exactly one Host header is required"));
    }
    if let Some(authority) = authority
        && !authority::is_valid(authority.as_bytes())
    {
        return Err(HttpError::BadRequest("invalid authority in the target"));
    }
    match seen.host {
        Some(b"") if authority.is_some() => Ok(()),
        Some(host) if !hosts.is_valid(host) => Err(HttpError::BadRequest("invalid Host")),
        _ => Ok(()),
    }
}
