//! `parse_head` on arbitrary bytes under several limit settings.
//!
//! Input: byte 0 picks the limits, byte 1 a prefix length, the rest is the
//! buffer. Checked, besides "never panics":
//! - `Complete(head, n)` has `n <= buf.len()`, and `buf[..n]` alone parses
//!   to the same head and length (the head does not peek past its end);
//! - a shorter prefix of a complete head is `Partial` (never an error, never
//!   complete): the answer does not depend on how the bytes arrived;
//! - an error on a prefix stays an error on the whole buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loophttp::error::HttpError;
use loophttp::http::authority::LastValidHost;
use loophttp::http::parse::{Limits, Parsed};

const MAX_URI: [usize; 4] = [1, 16, 8 * 1024, usize::MAX];
const MAX_HEAD: [usize; 4] = [0, 64, 16 * 1024, usize::MAX];
/// 5000 is above the parser's stack-array ceiling, which it must clamp to.
const MAX_HEADERS: [usize; 8] = [0, 1, 2, 4, 100, 1024, 5000, usize::MAX];

fuzz_target!(|data: &[u8]| {
    let [pick, cut, buf @ ..] = data else { return };
    let limits = Limits {
        max_uri: MAX_URI[usize::from(pick & 3)],
        max_head: MAX_HEAD[usize::from(pick >> 2 & 3)],
        max_headers: MAX_HEADERS[usize::from(pick >> 4 & 7)],
    };
    let whole = parse_head(buf, &limits);
    let prefix_len = buf.len() * usize::from(*cut) / 256;
    let prefix = parse_head(&buf[..prefix_len], &limits);

    if let Ok(Parsed::Complete(head, used)) = &whole {
        assert!(*used <= buf.len(), "used {used} > buffer {}", buf.len());
        match parse_head(&buf[..*used], &limits) {
            Ok(Parsed::Complete(again, n)) => {
                assert_eq!(n, *used, "head alone used a different length");
                assert_eq!(&again, head, "head alone parsed differently");
            }
            other => panic!("head alone is not complete: {other:?}"),
        }
        if prefix_len < *used {
            assert_eq!(prefix, Ok(Parsed::Partial), "prefix {prefix_len} of a {used}-byte head");
        }
    }
    if let Err(e) = prefix {
        assert!(whole.is_err(), "prefix {prefix_len} refused ({e:?}) but whole buffer gave {whole:?}");
    }
});

/// The parser's one entry point, its answer returned.
fn parse_head<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, HttpError> {
    let mut answer = Ok(Parsed::Partial);
    loophttp::http::parse_head(buf, limits, &mut LastValidHost::default(), &mut answer);
    answer
}
