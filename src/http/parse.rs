//! The pure request-head parser: bytes in, `Complete` / `Partial` / error out.
//!
//! `httparse` does the tokenising (the usual head takes a fast path
//! without it: the fast path, `fast_path.rs`); this module and `interpret.rs`, which says what
//! a head means, add what RFC 9112 asks of a server on top: size limits (httparse leaves them to the caller), one body
//! framing decided from `Content-Length` / `Transfer-Encoding` with every
//! smuggling shape refused, `Host` rules, target forms, and the keep-alive
//! wish of the client. No I/O happens here; the caller owns the buffer.

use std::mem::MaybeUninit;

use super::authority::LastValidHost;
use super::fast_path;
use super::interpret::{RequestLine, Seen, check_sizes, finish_head, read_header, start_head};
use super::line_ends::{first_bare_lf, has_bare_lf, lines_end_in_crlf};
pub use super::request::{Framing, Head, Limits, Method, Parsed};
use super::request::{LONG_METHOD, MAX_HEADERS_CEILING, MAX_METHOD};
use super::target::split_target;
use crate::error::HttpError;

const BARE_LF: HttpError = HttpError::BadRequest("bare LF as a line terminator");

/// Parses the head at the start of `buf` into `out`: the one entry point.
///
/// Lines must end in CRLF (docs/CONFORMANCE.md says why). A head with a bare
/// LF gets the answer the bytes before it give, if that is an error, and
/// 400 otherwise: the same answer however the bytes were split. `hosts`
/// remembers the last valid `Host` (the event loop keeps one): the same
/// answers, for fewer instructions.
///
/// The answer is written to `out`, not returned: the connection's hot
/// path keeps it where it reads it. (Returned by value, a 224-byte answer
/// was built aside and copied, and the first reads of the copy waited for
/// its stores.) Always inlined: a wrapper around the fast path, which
/// stays a call of its own (inlined here it cost 13 instructions per
/// request more: callgrind, examples/hotpath.rs bare 16).
#[inline(always)]
pub fn parse_head<'a>(
    buf: &'a [u8],
    limits: &Limits,
    hosts: &mut LastValidHost,
    out: &mut Result<Parsed<'a>, HttpError>,
) {
    // The fast path, fenced: it answers only for a usual head, and then
    // exactly as the reference path would (see `fast_path.rs`; a property
    // test holds it to that); for anything else it leaves `out` to the
    // reference path.
    if fast_path::parse(buf, limits, hosts, out).is_none() {
        *out = reference_path(buf, limits, hosts);
    }
}

/// The reference path, for any head: httparse tokenises, then the lines'
/// ends are checked and the head interpreted.
pub(super) fn reference_path<'a>(
    buf: &'a [u8],
    limits: &Limits,
    hosts: &mut LastValidHost,
) -> Result<Parsed<'a>, HttpError> {
    let parsed = parse_crlf_head(buf, limits, hosts);
    // httparse takes a lone LF for a line end. A complete head was checked
    // where its lines end; on the rarer paths (a head still arriving, or
    // refused) the whole buffer is head so far, and is scanned.
    let suspect = match &parsed {
        Ok(Parsed::Complete(..)) => false,
        Err(e) if *e == BARE_LF => true,
        _ => has_bare_lf(buf),
    };
    if !suspect {
        return parsed;
    }
    match first_bare_lf(buf) {
        Some(at) => parse_crlf_head(&buf[..at], limits, hosts).and(Err(BARE_LF)),
        None => parsed,
    }
}

/// Parses a head, refusing a complete one with a bare LF (`BARE_LF`),
/// which [`parse_head`] turns into the answer the bytes before it get.
fn parse_crlf_head<'a>(buf: &'a [u8], limits: &Limits, hosts: &mut LastValidHost) -> Result<Parsed<'a>, HttpError> {
    let mut storage = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS_CEILING];
    let max_headers = limits.max_headers.min(MAX_HEADERS_CEILING);
    let mut req = httparse::Request::new(&mut []);
    let status = req.parse_with_uninit_headers(buf, &mut storage[..max_headers]);
    match status {
        Ok(httparse::Status::Partial) => {
            check_partial(buf, limits)?;
            Ok(Parsed::Partial)
        }
        Ok(httparse::Status::Complete(len)) => {
            if !lines_end_in_crlf(&req, buf, len) {
                return Err(BARE_LF);
            }
            let head = interpret(&req, len, limits, hosts)?;
            Ok(Parsed::Complete(head, len))
        }
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::HeadersTooLarge),
        // Wait for the line to end, so the answer (400 or 505) never
        // depends on how the bytes were split.
        Err(httparse::Error::Version) if version_may_continue(buf) => {
            check_partial(buf, limits)?;
            Ok(Parsed::Partial)
        }
        Err(httparse::Error::Version) => Err(version_error(buf)),
        Err(e) => Err(HttpError::BadRequest(parse_error_reason(e))),
    }
}

/// Size checks for a head that is still arriving: a long method is 400, a
/// long target 414 as soon as it passes the limit, a long head 431, without
/// waiting for the end. The whole head is checked in the same order.
fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), HttpError> {
    let line = buf.trim_ascii_start();
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let mut parts = line.splitn(3, |&b| b == b' ');
    if parts.next().is_some_and(|method| method.len() > MAX_METHOD) {
        return Err(LONG_METHOD);
    }
    if parts.next().is_some_and(|target| target.len() > limits.max_uri) {
        return Err(HttpError::UriTooLong);
    }
    if buf.len() > limits.max_head {
        return Err(HttpError::HeadersTooLarge);
    }
    Ok(())
}

fn unknown_method() -> HttpError {
    HttpError::NotImplemented("unknown method")
}

/// The request line has not ended yet. httparse judges a version from its
/// first bytes (`HTTP/2` before the `.0`, and not even consistently for
/// garbage), so a version error is only final once the line is whole.
fn version_may_continue(buf: &[u8]) -> bool {
    !buf.trim_ascii_start().iter().any(|&b| b == b'\r' || b == b'\n')
}

/// `HTTP/2.0` in a well-formed line is unsupported (505); `FOO/1.1`, no
/// version at all (HTTP/0.9's `GET /`), a space inside the target (`GET /a
/// b HTTP/1.1`: four parts) or garbage is a 400.
fn version_error(buf: &[u8]) -> HttpError {
    let line = buf.trim_ascii_start();
    let line = &line[..line.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(line.len())];
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
    let well_formed = version.len() == 8
        && version.starts_with(b"HTTP/")
        && version[5].is_ascii_digit()
        && version[6] == b'.'
        && version[7].is_ascii_digit();
    if well_formed && line.split(|&b| b == b' ').count() == 3 {
        HttpError::VersionNotSupported
    } else {
        HttpError::BadRequest("malformed request line")
    }
}

fn parse_error_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Token => "invalid token",
        _ => "malformed request",
    }
}

/// Interprets a whole head of `len` bytes, checking in the order the
/// bytes arrive (as [`check_partial`] does for a head still arriving).
fn interpret<'a>(
    req: &httparse::Request<'_, 'a>,
    len: usize,
    limits: &Limits,
    hosts: &mut LastValidHost,
) -> Result<Head<'a>, HttpError> {
    let target = req.path.unwrap_or("");
    let line = RequestLine {
        method: req.method.unwrap_or("").as_bytes(),
        target,
        target_plain: target.bytes().all(|b| (b'!'..=b'~').contains(&b) && b != b'"' && b != b'\\'),
        http11: req.version == Some(1),
    };
    check_sizes(&line, len, limits)?;
    let method = Method::from_bytes(line.method).ok_or_else(unknown_method)?;
    let (authority, path) = split_target(method, line.target)?;
    let mut head = start_head(method, &line, path, path.contains('%'));
    let mut seen = Seen::default();
    for h in req.headers.iter() {
        read_header(h.name.as_bytes(), h.value, &mut head, &mut seen)?;
    }
    finish_head(&mut head, &seen, authority, hosts)?;
    Ok(head)
}

/// [`parse_head`], its answer returned: for tests.
#[cfg(test)]
pub(crate) fn parse_once<'a>(
    buf: &'a [u8],
    limits: &Limits,
    hosts: &mut LastValidHost,
) -> Result<Parsed<'a>, HttpError> {
    let mut answer = Ok(Parsed::Partial);
    parse_head(buf, limits, hosts, &mut answer);
    answer
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
