//! The pure request-head parser: bytes in, `Complete` / `Partial` / error out.
//!
//! `httparse` does the tokenising; this module adds what RFC 9112 asks of a
//! server on top: size limits (httparse leaves them to the caller), one body
//! framing decided from `Content-Length` / `Transfer-Encoding` with every
//! smuggling shape refused, `Host` rules, target forms, and the keep-alive
//! wish of the client. No I/O happens here; the caller owns the buffer.

use std::mem::MaybeUninit;

use crate::config::MAX_HEADERS_CEILING;
use crate::error::HttpError;

/// The size limits the parser enforces (the caller owns time limits).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_uri: usize,
    pub max_head: usize,
    pub max_headers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Trace,
    Connect,
}

impl Method {
    fn from_bytes(m: &str) -> Option<Method> {
        Some(match m {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
        }
    }
}

/// How the request body is delimited (RFC 9112 §6.3). Never booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head. Borrows the connection's input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: Method,
    /// The path of the target, still percent-encoded, without the query.
    /// `*` for `OPTIONS *`.
    pub path: &'a str,
    /// `HTTP/1.1` (true) or `HTTP/1.0` (false).
    pub http11: bool,
    pub framing: Framing,
    /// What the client asked for: HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive`.
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub user_agent: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
}

/// The outcome of one parse attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole head, and how many bytes of the buffer it used.
    Complete(Head<'a>, usize),
    /// Not enough bytes yet; read more and call again with the grown buffer.
    Partial,
}

/// Parses the head at the start of `buf`.
pub fn parse_head<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, HttpError> {
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
            if len > limits.max_head {
                return Err(HttpError::HeadersTooLarge);
            }
            let head = interpret(&req, limits)?;
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

/// Size checks for a head that is still arriving: a long target is 414 as
/// soon as it passes the limit, a long head 431, without waiting for the end.
fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), HttpError> {
    let line = buf.trim_ascii_start();
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let mut parts = line.splitn(3, |&b| b == b' ');
    let _method = parts.next();
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

/// `HTTP/2.0` is well-formed but unsupported (505); `FOO/1.1`, no version at
/// all (HTTP/0.9's `GET /`), or garbage is a 400.
fn version_error(buf: &[u8]) -> HttpError {
    let line = buf.trim_ascii_start();
    let line = &line[..line.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(line.len())];
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
    let well_formed = version.len() == 8
        && version.starts_with(b"HTTP/")
        && version[5].is_ascii_digit()
        && version[6] == b'.'
        && version[7].is_ascii_digit();
    if well_formed && line.contains(&b' ') {
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

/// What the header loop collects before the framing decision.
#[derive(Default)]
struct Seen<'a> {
    content_length: Option<u64>,
    transfer_encoding: Option<&'a [u8]>,
    te_count: usize,
    hosts: usize,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

fn interpret<'a>(req: &httparse::Request<'_, 'a>, limits: &Limits) -> Result<Head<'a>, HttpError> {
    let method_text = req.method.unwrap_or("");
    let method = Method::from_bytes(method_text).ok_or_else(unknown_method)?;
    let target = req.path.unwrap_or("");
    if target.len() > limits.max_uri {
        return Err(HttpError::UriTooLong);
    }
    let http11 = req.version == Some(1);
    let path = route_path(method, target)?;
    let mut head = Head {
        method,
        path,
        http11,
        framing: Framing::None,
        keep_alive: false,
        expect_continue: false,
        user_agent: None,
        accept_encoding: None,
        range: None,
        if_range: None,
        if_none_match: None,
        if_modified_since: None,
    };
    let mut seen = Seen::default();
    for h in req.headers.iter() {
        read_header(h, &mut head, &mut seen)?;
    }
    if seen.hosts > 1 || (http11 && seen.hosts == 0) {
        return Err(HttpError::BadRequest("exactly one Host header is required"));
    }
    head.framing = framing(&seen, http11)?;
    head.keep_alive = if http11 { !seen.close } else { seen.keep_alive && !seen.close };
    head.expect_continue = seen.expect_continue;
    Ok(head)
}

fn read_header<'a>(h: &httparse::Header<'a>, head: &mut Head<'a>, seen: &mut Seen<'a>) -> Result<(), HttpError> {
    let name = h.name;
    let value = h.value.trim_ascii();
    if name.eq_ignore_ascii_case("content-length") {
        let n = parse_content_length(value)?;
        if seen.content_length.is_some_and(|prev| prev != n) {
            return Err(HttpError::BadRequest("conflicting Content-Length"));
        }
        seen.content_length = Some(n);
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        seen.te_count += 1;
        seen.transfer_encoding = Some(value);
    } else if name.eq_ignore_ascii_case("host") {
        seen.hosts += 1;
    } else if name.eq_ignore_ascii_case("connection") {
        for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            seen.close |= token.eq_ignore_ascii_case(b"close");
            seen.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    } else if name.eq_ignore_ascii_case("expect") && head.http11 {
        // HTTP/1.0 has no expectations: RFC 9110 §10.1.1 says ignore them.
        if !value.eq_ignore_ascii_case(b"100-continue") {
            return Err(HttpError::ExpectationFailed);
        }
        seen.expect_continue = true;
    } else if name.eq_ignore_ascii_case("user-agent") {
        head.user_agent = Some(value);
    } else if name.eq_ignore_ascii_case("accept-encoding") {
        head.accept_encoding = Some(value);
    } else if name.eq_ignore_ascii_case("range") {
        head.range = Some(value);
    } else if name.eq_ignore_ascii_case("if-range") {
        head.if_range = Some(value);
    } else if name.eq_ignore_ascii_case("if-none-match") {
        head.if_none_match = Some(value);
    } else if name.eq_ignore_ascii_case("if-modified-since") {
        head.if_modified_since = Some(value);
    }
    Ok(())
}

/// Digits only: no sign, no spaces, no hex, and no overflow (RFC 9110 §8.6).
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    const BAD: HttpError = HttpError::BadRequest("invalid Content-Length");
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    value.iter().try_fold(0u64, |n, &d| n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))).ok_or(BAD))
}

/// RFC 9112 §6.3: chunked must be the one and final coding; together with
/// Content-Length it is a smuggling attempt; HTTP/1.0 has no chunked.
fn framing(seen: &Seen<'_>, http11: bool) -> Result<Framing, HttpError> {
    let Some(te) = seen.transfer_encoding else {
        return Ok(seen.content_length.map_or(Framing::None, Framing::Length));
    };
    if seen.content_length.is_some() {
        return Err(HttpError::BadRequest("both Content-Length and Transfer-Encoding"));
    }
    if !http11 {
        return Err(HttpError::BadRequest("Transfer-Encoding in HTTP/1.0"));
    }
    if seen.te_count > 1 || te.contains(&b',') {
        return Err(HttpError::NotImplemented("transfer coding other than chunked"));
    }
    if te.eq_ignore_ascii_case(b"chunked") {
        Ok(Framing::Chunked)
    } else {
        Err(HttpError::NotImplemented("transfer coding other than chunked"))
    }
}

/// The path to route by: origin-form as is, absolute-form by its path,
/// `*` only for OPTIONS (RFC 9112 §3.2). The query is dropped.
fn route_path(method: Method, target: &str) -> Result<&str, HttpError> {
    let path = if target.starts_with('/') {
        target
    } else if target == "*" && method == Method::Options {
        return Ok("*");
    } else if let Some(rest) = strip_scheme(target) {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if authority_end == 0 {
            return Err(HttpError::BadRequest("absolute-form target without a host"));
        }
        match &rest[authority_end..] {
            "" => "/",
            p if p.starts_with('?') => "/",
            p => p,
        }
    } else {
        return Err(HttpError::BadRequest("invalid request-target"));
    };
    Ok(path.split_once(['?', '#']).map_or(path, |(p, _)| p))
}

fn strip_scheme(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(rest)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
