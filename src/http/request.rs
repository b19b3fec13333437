//! What a parsed request head is, as plain types: the [`Head`] the parser
//! gives, its [`Method`] and body [`Framing`], the [`Limits`] it enforces,
//! and the [`Parsed`] outcome. A leaf: it names no other part of `http/`,
//! so the parser, the fast path, the interpreter and the target functions
//! all build on it without going round in a circle.

use crate::error::HttpError;

/// Longest method we read. The longest registered one is 17 bytes
/// (`UPDATEREDIRECTREF`); a longer "method" is malformed, not unknown.
pub const MAX_METHOD: usize = 32;

/// The most header fields any head may carry, whatever `--max-headers`
/// says (the parsers keep room for this many on the stack).
pub const MAX_HEADERS_CEILING: usize = 1024;

pub(super) const LONG_METHOD: HttpError = HttpError::BadRequest("method too long");

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
    #[inline(always)]
    pub(super) fn from_bytes(m: &[u8]) -> Option<Method> {
        Some(match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
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
    /// `path` holds a `%`: known from parsing, so routing decodes only then
    /// (see [`Head::decoded_path`]).
    pub path_escaped: bool,
    /// The whole request-target as sent, query included (for the access log).
    pub target: &'a str,
    /// `target` is visible ASCII without `"` or `\`: the access log has
    /// nothing in it to escape (known from parsing, so the log need not
    /// look at every byte again).
    pub target_plain: bool,
    /// `HTTP/1.1` (true) or `HTTP/1.0` (false).
    pub http11: bool,
    pub framing: Framing,
    /// What the client asked for: HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive`.
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub user_agent: Option<&'a [u8]>,
    /// For the access log only.
    pub referer: Option<&'a [u8]>,
    /// For `/metrics`' choice of format only.
    pub accept: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    /// `Forwarded` / `X-Forwarded-For`, for [`crate::forwarded::client_addr`].
    pub proxy: ProxyHeaders<'a>,
}

/// The outcome of one parse attempt.
#[derive(Debug, PartialEq, Eq)]
// Returned by value once per request and never stored: boxing the head
// would allocate per request to save a copy.
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'a> {
    /// A whole head, and how many bytes of the buffer it used.
    Complete(Head<'a>, usize),
    /// Not enough bytes yet; read more and call again with the grown buffer.
    Partial,
}

/// Most field lines of one forwarding header that are read as its list; a
/// request with more keeps the last ones: the right end, which the
/// proxies wrote, is what decides (the hops lost are the client's claims).
pub const MAX_FIELD_LINES: usize = 4;

/// The two headers a request may carry for [`crate::forwarded::client_addr`], each as the
/// field lines it arrived on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeaders<'a> {
    pub forwarded: FieldLines<'a>,
    pub x_forwarded_for: FieldLines<'a>,
}

impl<'a> ProxyHeaders<'a> {
    /// Each header on one line, or absent.
    pub fn new(forwarded: Option<&'a [u8]>, x_forwarded_for: Option<&'a [u8]>) -> ProxyHeaders<'a> {
        ProxyHeaders { forwarded: FieldLines::from(forwarded), x_forwarded_for: FieldLines::from(x_forwarded_for) }
    }
}

/// The values of one header's field lines, in the order they came (the
/// last [`MAX_FIELD_LINES`] of them). No allocation: slices of the head.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FieldLines<'a> {
    lines: [&'a [u8]; MAX_FIELD_LINES],
    len: u8,
}

impl<'a> FieldLines<'a> {
    /// Adds the value of one more field line.
    pub fn push(&mut self, value: &'a [u8]) {
        let len = usize::from(self.len);
        if len == MAX_FIELD_LINES {
            self.lines.rotate_left(1);
            self.lines[MAX_FIELD_LINES - 1] = value;
        } else {
            self.lines[len] = value;
            self.len += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lines' values, first to last.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.lines[..usize::from(self.len)].iter().copied()
    }
}

impl<'a> From<Option<&'a [u8]>> for FieldLines<'a> {
    fn from(value: Option<&'a [u8]>) -> FieldLines<'a> {
        let mut lines = FieldLines::default();
        if let Some(v) = value {
            lines.push(v);
        }
        lines
    }
}
