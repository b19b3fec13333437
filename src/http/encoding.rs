//! Content negotiation (`Accept-Encoding`) and the gzip and zstd encoders
//! it leads to for bodies held in memory.

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

/// A content coding loophttp knows: for precompressed siblings (`x.br`,
/// `x.zst`, `x.gz` next to `x`), and gzip and zstd on the fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    /// All of them, in the order that breaks a tie of q-value and age:
    /// brotli and zstd files are usually the smaller.
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The sibling's suffix.
    pub fn suffix(self) -> &'static [u8] {
        match self {
            Coding::Br => b".br",
            Coding::Zstd => b".zst",
            Coding::Gzip => b".gz",
        }
    }
}

/// The q-value (in thousandths) `Accept-Encoding` gives `coding`: its own
/// entry if listed, else `*`'s, else 0. `x-gzip` counts as gzip. Without the
/// header, no coding is acceptable here (identity is always the safe answer).
pub fn quality(accept_encoding: Option<&[u8]>, coding: Coding) -> u16 {
    let Some(value) = accept_encoding else { return 0 };
    let mut star = 0;
    for item in value.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        let q = parts.find_map(|p| q_param(p.trim_ascii())).unwrap_or(1000);
        let listed = name.eq_ignore_ascii_case(coding.token().as_bytes())
            || (coding == Coding::Gzip && name.eq_ignore_ascii_case(b"x-gzip"));
        if listed {
            return q;
        }
        if name == b"*" {
            star = q;
        }
    }
    star
}

/// `q=0.5` → 500. A malformed value counts as 0: the client said
/// something about this coding, and we cannot tell it liked it.
pub(crate) fn q_param(param: &[u8]) -> Option<u16> {
    let v = param.strip_prefix(b"q=").or_else(|| param.strip_prefix(b"Q="))?.trim_ascii();
    let parsed = match v {
        [b'1'] | [b'1', b'.'] => Some(1000),
        [b'1', b'.', rest @ ..] if rest.len() <= 3 && rest.iter().all(|&b| b == b'0') => Some(1000),
        [b'0'] | [b'0', b'.'] => Some(0),
        [b'0', b'.', rest @ ..] if rest.len() <= 3 && rest.iter().all(u8::is_ascii_digit) => {
            let mut n = 0u16;
            for i in 0..3 {
                n = n * 10 + rest.get(i).map_or(0, |d| u16::from(d - b'0'));
            }
            Some(n)
        }
        _ => None,
    };
    Some(parsed.unwrap_or(0))
}

/// True if `Accept-Encoding` admits zstd (q > 0) at least as much as
/// gzip: then zstd is the better answer, smaller for less CPU.
pub fn prefers_zstd(accept_encoding: Option<&[u8]>) -> bool {
    let zstd = quality(accept_encoding, Coding::Zstd);
    zstd > 0 && zstd >= quality(accept_encoding, Coding::Gzip)
}

/// zstd at level 1, the fast end: like gzip's fast level, this runs inside
/// the loop, where every other client waits for it.
pub const ZSTD_LEVEL: i32 = 1;

/// zstd-compresses a whole in-memory body.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    // Compressing into a Vec fails only on allocation failure.
    zstd::bulk::compress(data, ZSTD_LEVEL).unwrap_or_default()
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
    fn q_values_are_read_per_coding() {
        use Coding::*;
        let q = |h: &str, c| quality(Some(h.as_bytes()), c);
        assert_eq!(q("gzip, br", Br), 1000);
        assert_eq!(q("gzip;q=0.5, br;q=0.25", Gzip), 500);
        assert_eq!(q("gzip;q=0.5, br;q=0.25", Br), 250);
        assert_eq!(q("br;q=0", Br), 0);
        assert_eq!(q("*;q=0.3", Zstd), 300);
        assert_eq!(q("zstd;q=0, *", Zstd), 0, "listed wins over *");
        assert_eq!(q("x-gzip", Gzip), 1000);
        assert_eq!(q("gzip;q=2", Gzip), 0, "out of range");
        assert_eq!(q("gzip;q=0.1234", Gzip), 0, "too many digits");
        assert_eq!(q("GZIP ; Q=1.000", Gzip), 1000);
        assert_eq!(q("deflate", Gzip), 0);
        assert_eq!(quality(None, Gzip), 0);
    }

    #[test]
    fn zstd_is_preferred_only_when_wanted_at_least_as_much_as_gzip() {
        let yes: &[&[u8]] = &[b"zstd", b"gzip, zstd", b"zstd;q=0.5, gzip;q=0.5", b"gzip;q=0, zstd;q=0.1", b"*"];
        let no: &[&[u8]] = &[b"gzip", b"zstd;q=0.5, gzip", b"zstd;q=0", b"br, gzip", b""];
        for v in yes {
            assert!(prefers_zstd(Some(v)), "{:?}", String::from_utf8_lossy(v));
        }
        for v in no {
            assert!(!prefers_zstd(Some(v)), "{:?}", String::from_utf8_lossy(v));
        }
        let data = b"hello hello hello hello".repeat(100);
        assert_eq!(zstd::bulk::decompress(&zstd(&data), data.len()).unwrap(), data);
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
