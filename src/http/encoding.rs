//! Content negotiation (`Accept-Encoding`) and the gzip encoder it leads
//! to for bodies held in memory.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

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
