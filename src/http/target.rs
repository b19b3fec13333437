//! The request-target as routing sees it: the path with its `%XX` escapes
//! decoded, once.

use std::borrow::Cow;

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
