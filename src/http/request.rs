//! Interpreting parts of a request for routing: the percent-decoded path and
//! content negotiation (`Accept-Encoding`), plus the gzip encoder they lead to.

use std::borrow::Cow;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::error::HttpError;

/// Decodes `%XX` escapes once (RFC 3986 §2.1). Borrows when there are none,
/// so the common path allocates nothing.
pub fn percent_decode(path: &str) -> Result<Cow<'_, [u8]>, HttpError> {
    let bytes = path.as_bytes();
    if !bytes.contains(&b'%') {
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

/// True if `Accept-Encoding` admits gzip: listed (or `x-gzip`) with q > 0,
/// or covered by `*` with q > 0 when gzip is not listed (RFC 9110 §12.5.3).
pub fn accepts_gzip(accept_encoding: Option<&[u8]>) -> bool {
    let Some(value) = accept_encoding else { return false };
    let mut star = false;
    for item in value.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let coding = parts.next().unwrap_or_default().trim_ascii();
        let q_positive = parts.all(|param| q_is_positive(param.trim_ascii()));
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            return q_positive;
        }
        if coding == b"*" {
            star = q_positive;
        }
    }
    star
}

/// A `q=` parameter is positive unless it is some spelling of zero; other
/// parameters do not matter.
fn q_is_positive(param: &[u8]) -> bool {
    let Some(q) = param.strip_prefix(b"q=").or_else(|| param.strip_prefix(b"Q=")) else {
        return true;
    };
    let q = q.trim_ascii();
    !(q.first() == Some(&b'0') && q.iter().skip(1).all(|&b| b == b'.' || b == b'0'))
}

/// gzip-compresses a whole in-memory body.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn percent_decoding_happens_once() {
        assert_eq!(&*percent_decode("/echo/%20x").unwrap(), b"/echo/ x");
        assert_eq!(&*percent_decode("/a%2541").unwrap(), b"/a%41");
        assert!(matches!(percent_decode("/plain").unwrap(), Cow::Borrowed(_)));
        assert!(percent_decode("/bad%2").is_err());
        assert!(percent_decode("/bad%zz").is_err());
    }

    #[test]
    fn gzip_is_negotiated_from_accept_encoding() {
        let yes: &[&[u8]] = &[b"gzip", b"deflate, gzip", b"br;q=1.0, GZIP;q=0.5", b"*", b"x-gzip", b"gzip;q=1"];
        let no: &[&[u8]] =
            &[b"", b"deflate", b"gzip;q=0", b"gzip;q=0.000", b"br, *;q=0", b"gzip;q=0, *", b"invalid-encoding"];
        for v in yes {
            assert!(accepts_gzip(Some(v)), "{:?}", String::from_utf8_lossy(v));
        }
        for v in no {
            assert!(!accepts_gzip(Some(v)), "{:?}", String::from_utf8_lossy(v));
        }
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn gzip_round_trips() {
        let data = b"hello hello hello hello".repeat(100);
        let packed = gzip(&data);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
