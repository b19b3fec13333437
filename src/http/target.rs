//! The request-target: its form and the path to route by (checked as the
//! head is parsed), and the path with its `%XX` escapes decoded, once (as
//! routing sees it).

use std::borrow::Cow;

use super::request::{Head, Method};
use crate::error::HttpError;

/// The authority of an absolute-form target, and the path to route by:
/// origin-form as is, absolute-form by its path, `*` only for OPTIONS
/// (RFC 9112 §3.2). The query is dropped. The target must be visible ASCII
/// (RFC 9112 §3.2 builds it from RFC 3986 characters; raw bytes past 0x7f
/// are not among them), and its path must not encode a control byte: no
/// resource has one in its name, and a decoded NUL, CR or LF is a hazard
/// to whatever the name is handed to.
pub fn split_target(method: Method, target: &str) -> Result<(Option<&str>, &str), HttpError> {
    let bytes = target.as_bytes();
    // httparse refuses controls and spaces in a target, not bytes past 0x7f.
    if !bytes.is_ascii() {
        return Err(HttpError::BadRequest("request-target is not visible ASCII"));
    }
    let (authority, path) = if bytes.first() == Some(&b'/') {
        (None, target)
    } else if target == "*" && method == Method::Options {
        return Ok((None, "*"));
    } else if let Some(rest) = strip_scheme(target) {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let path = match &rest[authority_end..] {
            p if p.starts_with('/') => p,
            _ => "/",
        };
        (Some(&rest[..authority_end]), path)
    } else {
        return Err(HttpError::BadRequest("invalid request-target"));
    };
    // Byte by byte, not `split_once(['?', '#'])`: every request comes
    // here, and a target is short (the char searches cost more to set up).
    let path = &path[..path.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(path.len())];
    if encodes_a_control_byte(path) {
        return Err(HttpError::BadRequest("percent-encoded control byte in the path"));
    }
    Ok((authority, path))
}

/// True if `path` holds `%XX` decoding to a control byte (C0 or DEL).
fn encodes_a_control_byte(path: &str) -> bool {
    let b = path.as_bytes();
    if !has_escape(b) {
        return false;
    }
    b.iter().enumerate().filter(|&(_, &c)| c == b'%').any(|(i, _)| {
        let hex = |j: usize| b.get(j).and_then(|&c| (c as char).to_digit(16));
        matches!((hex(i + 1), hex(i + 2)), (Some(hi), Some(lo)) if hi < 2 || (hi == 7 && lo == 0xf))
    })
}

/// True if `bytes` holds a `%`. A plain loop: on a short path it costs a
/// third of what `memchr`'s setup does, and this runs twice per request.
#[allow(clippy::manual_contains)] // `contains` is the memchr this avoids
fn has_escape(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b == b'%')
}

fn strip_scheme(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(rest)
}

/// Decodes `%XX` escapes once (RFC 3986 §2.1). Borrows when there are none,
/// so the common path allocates nothing.
pub fn percent_decode(path: &str) -> Result<Cow<'_, [u8]>, HttpError> {
    let bytes = path.as_bytes();
    if !has_escape(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(HttpError::BadRequest("truncated percent escape"))?;
            let hi = hex_value(hex[0]);
            let lo = hex_value(hex[1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(HttpError::BadRequest("invalid percent escape")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(Cow::Owned(out))
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl<'a> Head<'a> {
    /// The path with its `%XX` escapes decoded once; borrowed, without a
    /// second look at its bytes, when parsing found no escape.
    pub fn decoded_path(&self) -> Result<Cow<'a, [u8]>, HttpError> {
        if self.path_escaped { percent_decode(self.path) } else { Ok(Cow::Borrowed(self.path.as_bytes())) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_happens_once() {
        assert_eq!(&*percent_decode("/echo/%20x").unwrap(), b"/echo/ x");
        assert_eq!(&*percent_decode("/a%2541").unwrap(), b"/a%41");
        assert!(matches!(percent_decode("/plain").unwrap(), Cow::Borrowed(_)));
        assert!(percent_decode("/bad%2").is_err());
        assert!(percent_decode("/bad%zz").is_err());
    }
}
