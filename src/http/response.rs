//! Responses as plain data, and their serialisation into the connection's
//! output buffer: status line, the headers every response carries (`Date`,
//! `Server`, framing, `Connection`), then handler headers and an in-memory
//! body. File bodies are sent afterwards by the connection, straight from disk.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;

pub use super::date::{DateCache, DateLines};
pub use super::validators::{ContentRange, ETag, Validators};
use crate::error::HttpError;
use crate::status::{self, reason, status_line};

/// Room for a typical head (status line, `Date`, `Server`, type, length,
/// `Vary`, `Connection`): reserved at once with the body.
const USUAL_HEAD: usize = 192;

/// A byte range of a file to send (after the head) with `sendfile`.
#[derive(Debug)]
pub struct FileBody {
    pub file: File,
    pub offset: u64,
    pub len: u64,
}

/// A body made as it is sent, a bounded piece at a time (a directory
/// listing): its length is known only at its end, so it goes chunked to an
/// HTTP/1.1 client and delimited by the close to an HTTP/1.0 one.
pub trait Generate: std::fmt::Debug + Send {
    /// Appends the next piece to `out`; true once the body is complete.
    fn next_piece(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool>;
}

#[derive(Debug)]
pub enum Body<'a> {
    Empty,
    /// In memory; borrowed from the request where possible (`/echo`).
    Bytes(Cow<'a, [u8]>),
    File(FileBody),
    /// A file gzip-compressed as it is sent: its length is known only at
    /// the end, so it goes chunked (HTTP/1.1 requests only).
    GzipFile(FileBody),
    /// Made as it is sent ([`Generate`]).
    Generated(Box<dyn Generate>),
    /// HEAD of a gzip body whose length only compressing it would tell:
    /// neither `Content-Length` nor chunked coding is sent (RFC 9110
    /// §9.3.2 lets a HEAD leave out what only generating the content gives).
    Omitted,
}

impl Body<'_> {
    /// The `Content-Length`; None for a chunked body.
    pub fn content_length(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::File(f) => Some(f.len),
            Body::GzipFile(_) | Body::Generated(_) | Body::Omitted => None,
        }
    }
}

/// What a handler answers. Only the headers loophttp ever sends are fields;
/// the serializer adds `Date`, `Server`, framing and `Connection`.
#[derive(Debug)]
pub struct Response<'a> {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// Text: `; charset=utf-8` follows the type.
    pub charset: bool,
    /// The body is gzip-compressed here, on the fly: send `Content-Encoding:
    /// gzip` and a weak ETag.
    pub gzip: bool,
    /// The same, zstd: `Content-Encoding: zstd` and a weak ETag.
    pub zstd: bool,
    /// The body is a stored, already encoded representation (a
    /// precompressed sibling, whose validators are its own): this
    /// `Content-Encoding`, and the ETag stays strong.
    pub stored_encoding: Option<&'static str>,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    /// `Cache-Control` (`--cache-control`, on files).
    pub cache_control: Option<&'static str>,
    /// The body depends on `Accept-Encoding`: send `Vary: Accept-Encoding`.
    pub vary_encoding: bool,
    pub allow: Option<&'static str>,
    pub validators: Option<Validators>,
    pub accept_ranges: bool,
    pub content_range: Option<ContentRange>,
    /// `Content-Security-Policy: sandbox`: a client may have written this
    /// body, so a browser shows it without scripts, in an origin of its own.
    pub sandbox: bool,
    /// The handler wants the connection closed after this response.
    pub close: bool,
    pub body: Body<'a>,
}

impl<'a> Response<'a> {
    #[inline]
    pub fn new(status: u16) -> Response<'a> {
        Response::with(status, None, Body::Empty)
    }

    /// A `text/plain` response. (Always inlined: `/echo` answers with
    /// one, built where the route returns it; out of line it cost ~50
    /// instructions a request, callgrind, examples/hotpath.rs.)
    #[inline(always)]
    pub fn text(status: u16, body: impl Into<Cow<'a, [u8]>>) -> Response<'a> {
        Response::with(status, Some("text/plain"), Body::Bytes(body.into()))
    }

    /// Every field spelt out: made from `Response::new` and the struct
    /// update syntax, the body `new` left empty was dropped (a call, on
    /// every `/echo`).
    #[inline(always)]
    fn with(status: u16, content_type: Option<&'static str>, body: Body<'a>) -> Response<'a> {
        Response {
            status,
            content_type,
            charset: false,
            gzip: false,
            zstd: false,
            stored_encoding: None,
            location: None,
            cache_control: None,
            vary_encoding: false,
            allow: None,
            validators: None,
            accept_ranges: false,
            content_range: None,
            sandbox: false,
            close: false,
            body,
        }
    }

    /// An error answer: the status from the one table, its reason phrase
    /// as a short text body.
    pub fn error(e: HttpError) -> Response<'a> {
        let status = e.status();
        Response::text(status, reason(status).as_bytes())
    }

    /// Nothing in it needs freeing: dropping it would do nothing (so its
    /// owner may forget it instead, saving the call to the body's drop).
    /// Every field is named: one added later must be decided on here.
    #[inline(always)]
    pub fn owns_nothing(&self) -> bool {
        let Response {
            status: _,
            content_type: _,
            charset: _,
            gzip: _,
            zstd: _,
            stored_encoding: _,
            location,
            cache_control: _,
            vary_encoding: _,
            allow: _,
            validators: _,
            accept_ranges: _,
            content_range: _,
            sandbox: _,
            close: _,
            body,
        } = self;
        location.is_none() && matches!(body, Body::Empty | Body::Bytes(Cow::Borrowed(_)))
    }

    /// 1xx, 204 and 304 never carry a body or `Content-Length` (RFC 9110 §8.6).
    pub fn bodiless(&self) -> bool {
        self.status < status::OK || self.status == status::NO_CONTENT || self.status == status::NOT_MODIFIED
    }

    /// A 2xx: the request did what it asked.
    pub fn is_success(&self) -> bool {
        status::is_success(self.status)
    }

    /// The same response owning its body, to be kept while the request's
    /// body arrives (the head it borrows from is gone by then).
    pub fn into_owned(self) -> Response<'static> {
        let body = match self.body {
            Body::Empty => Body::Empty,
            Body::Bytes(b) => Body::Bytes(Cow::Owned(b.into_owned())),
            Body::File(f) => Body::File(f),
            Body::GzipFile(f) => Body::GzipFile(f),
            Body::Generated(g) => Body::Generated(g),
            Body::Omitted => Body::Omitted,
        };
        Response {
            status: self.status,
            content_type: self.content_type,
            charset: self.charset,
            gzip: self.gzip,
            zstd: self.zstd,
            stored_encoding: self.stored_encoding,
            location: self.location,
            cache_control: self.cache_control,
            vary_encoding: self.vary_encoding,
            allow: self.allow,
            validators: self.validators,
            accept_ranges: self.accept_ranges,
            content_range: self.content_range,
            sandbox: self.sandbox,
            close: self.close,
            body,
        }
    }
}

/// What the connection adds around a response as it is sent: the
/// persistence headers, HEAD's missing body, the cached `Date`. (Not to be
/// confused with [`crate::http::parse::Framing`], how a *request* body is delimited.)
pub struct Delivery<'d> {
    pub keep_alive: bool,
    /// The request was HTTP/1.0: persistence must be announced explicitly.
    pub http10: bool,
    /// A HEAD request: same headers, no body.
    pub head_only: bool,
    /// The `Date` and `Server` lines, as [`DateCache`] keeps them.
    pub date: &'d DateLines,
    /// Header lines added to every response (`--header`), each as
    /// `\r\nName: value`, checked at start-up.
    pub extra: &'d [u8],
}

/// Appends the status line, headers, and (unless HEAD or a file) the body;
/// returns the head's length.
///
/// Each header is written as its line break and then the line (`\r\nName:
/// value`), and the head ends with `\r\n\r\n`: a fixed name and the line
/// break before it are one piece, so a typical head is ten copies instead
/// of twenty (this runs for every response).
pub fn serialize(resp: &Response<'_>, how: &Delivery<'_>, out: &mut Vec<u8>) -> usize {
    let bodiless = resp.bodiless();
    let inline_body = match &resp.body {
        Body::Bytes(b) if !how.head_only && !bodiless => &b[..],
        _ => &[],
    };
    let head_start = out.len();
    // One reservation for the usual head and the body; each piece below
    // then only checks it.
    out.reserve(USUAL_HEAD + inline_body.len());
    status_line(resp.status, out);
    // Of a length known at compile time: copied inline, not by a call.
    out.extend_from_slice(how.date);
    if let Some(ct) = resp.content_type {
        out.extend_from_slice(b"\r\nContent-Type: ");
        push_short(out, ct.as_bytes());
        if resp.charset {
            out.extend_from_slice(b"; charset=utf-8");
        }
    }
    if !bodiless {
        match resp.body.content_length() {
            Some(len) => {
                out.extend_from_slice(b"\r\nContent-Length: ");
                push_short(out, itoa::Buffer::new().format(len).as_bytes());
            }
            // HTTP/1.0 has no chunks: the body ends with the connection.
            None if how.http10 => {}
            // HEAD of a body whose length only generating it would tell.
            None if matches!(resp.body, Body::Omitted) => {}
            None => out.extend_from_slice(b"\r\nTransfer-Encoding: chunked"),
        }
    }
    optional_headers(resp, out);
    out.extend_from_slice(how.extra);
    if !how.keep_alive {
        out.extend_from_slice(b"\r\nConnection: close");
    } else if how.http10 {
        // An HTTP/1.0 client only reuses the connection if told (RFC 9112 §9.3).
        out.extend_from_slice(b"\r\nConnection: keep-alive");
    }
    out.extend_from_slice(b"\r\n\r\n");
    let head_len = out.len() - head_start;
    push_short(out, inline_body);
    head_len
}

fn optional_headers(resp: &Response<'_>, out: &mut Vec<u8>) {
    if resp.gzip {
        out.extend_from_slice(b"\r\nContent-Encoding: gzip");
    }
    if resp.zstd {
        out.extend_from_slice(b"\r\nContent-Encoding: zstd");
    }
    if let Some(coding) = resp.stored_encoding {
        out.extend_from_slice(b"\r\nContent-Encoding: ");
        out.extend_from_slice(coding.as_bytes());
    }
    if let Some(location) = &resp.location {
        out.extend_from_slice(b"\r\nLocation: ");
        out.extend_from_slice(location.as_bytes());
    }
    if let Some(cc) = resp.cache_control {
        out.extend_from_slice(b"\r\nCache-Control: ");
        out.extend_from_slice(cc.as_bytes());
    }
    if resp.vary_encoding {
        out.extend_from_slice(b"\r\nVary: Accept-Encoding");
    }
    if let Some(allow) = resp.allow {
        out.extend_from_slice(b"\r\nAllow: ");
        out.extend_from_slice(allow.as_bytes());
    }
    if resp.accept_ranges {
        out.extend_from_slice(b"\r\nAccept-Ranges: bytes");
    }
    if resp.sandbox {
        out.extend_from_slice(b"\r\nContent-Security-Policy: sandbox");
    }
    // Writing into a Vec cannot fail; the `let _` says so.
    if let Some(v) = &resp.validators {
        // A gzip body is a different representation of the same file: its
        // tag is weak, so If-Range (strong comparison) can never splice
        // identity bytes onto gzip bytes; If-None-Match still matches.
        let weak = if resp.gzip || resp.zstd { "W/" } else { "" };
        let modified = httpdate::HttpDate::from(v.modified);
        let _ = write!(out, "\r\nETag: {weak}{}\r\nLast-Modified: {modified}", v.etag);
    }
    match resp.content_range {
        Some(ContentRange::Bytes { first, last, total }) => {
            let _ = write!(out, "\r\nContent-Range: bytes {first}-{last}/{total}");
        }
        Some(ContentRange::Unsatisfied { total }) => {
            let _ = write!(out, "\r\nContent-Range: bytes */{total}");
        }
        None => {}
    }
}

/// `out.extend_from_slice(s)`, for the short pieces of a head (a type, a
/// length, a small body): up to 16 bytes as two overlapping copies of a
/// size known at compile time, which are a few moves, where a copy of a
/// length known only at run time is a `memcpy` call, which costs more
/// than the copying.
#[inline(always)]
fn push_short(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    let at = out.len();
    match n {
        8..=16 => {
            out.extend_from_slice(&s[..8]);
            out.truncate(at + n - 8);
            out.extend_from_slice(&s[n - 8..n]);
        }
        4..8 => {
            out.extend_from_slice(&s[..4]);
            out.truncate(at + n - 4);
            out.extend_from_slice(&s[n - 4..n]);
        }
        _ if n < 4 => {
            for &b in s {
                out.push(b);
            }
        }
        _ => out.extend_from_slice(s),
    }
}

/// `HTTP/1.1 100 Continue`, sent before reading a body the client holds back.
pub fn continue_100(out: &mut Vec<u8>) {
    status_line(status::CONTINUE, out);
    out.extend_from_slice(b"\r\n\r\n");
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
