//! The chunked body decoder fed the same bytes whole and in arbitrary pieces
//! must give the same result: the same body bytes and end position, or the
//! same error after the same body bytes. It must also never stall: a call
//! with input that is not finished consumes at least one byte.
//!
//! Input: byte 0 says how many of the next bytes (0 to 15) are piece sizes
//! (cycled; none means one byte at a time); the rest is the wire.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loophttp::error::HttpError;
use loophttp::http::BodyDecoder;

#[derive(Debug, PartialEq, Eq)]
enum End {
    Done,
    NeedMore,
    Error(HttpError),
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    body: Vec<u8>,
    used: usize,
    end: End,
}

/// Feeds `wire` as the connection does: bytes arrive `pieces` at a time and
/// the decoder is called on everything buffered but not yet used.
fn decode(wire: &[u8], pieces: impl Iterator<Item = usize>) -> Outcome {
    let mut d = BodyDecoder::chunked();
    let mut out = Outcome { body: Vec::new(), used: 0, end: End::NeedMore };
    let mut arrived = 0;
    for piece in pieces {
        arrived = (arrived + piece).min(wire.len());
        while out.used < arrived && !d.is_done() {
            let input = &wire[out.used..arrived];
            let step = match d.decode(input) {
                Ok(step) => step,
                Err(e) => {
                    // Where it failed is of no use (the connection closes),
                    // only what body came before and that it failed.
                    out.end = End::Error(e);
                    out.used = 0;
                    return out;
                }
            };
            assert!(step.used <= input.len(), "used {} of {}", step.used, input.len());
            if !step.data.is_empty() {
                let data_at = (step.data.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
                assert!(data_at + step.data.len() <= step.used, "data outside the used bytes");
            }
            assert!(step.used > 0 || d.is_done(), "decoder stalled on {input:?}");
            out.body.extend_from_slice(step.data);
            out.used += step.used;
        }
        if d.is_done() || arrived == wire.len() {
            break;
        }
    }
    out.end = if d.is_done() { End::Done } else { End::NeedMore };
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let (sizes, wire) = rest.split_at(usize::from(n % 16).min(rest.len()));
    let whole = decode(wire, std::iter::once(wire.len()));
    let pieces: Vec<usize> =
        if sizes.is_empty() { vec![1] } else { sizes.iter().map(|&s| usize::from(s) + 1).collect() };
    let split = decode(wire, pieces.iter().copied().cycle());
    assert_eq!(whole, split, "pieces {pieces:?}");
});
