//! Differential: the connection answers an arbitrary byte stream the same
//! whether it arrives whole (one read, writes never short) or in the pieces,
//! `WouldBlock`s and short writes the input describes (`conn_harness.rs`).
//! Same bytes written, same open/closed end.
//!
//! Not in `scripts/fuzz.sh`'s default list: one known difference remains.
//! A head that breaks both a size limit and a syntax rule gets 414/431 when
//! a prefix passes the limit before the bad byte arrives, and 400 when whole
//! (httparse does not say where the error is, so the limit cannot be judged
//! only up to it). Either answer is an error and a close. Fixed so far:
//! versions cut short (400 vs 505), later pieces of a head not parsed, a
//! partial garbage head at EOF. Run it with
//! `FUZZ_TARGETS=conn_split scripts/fuzz.sh`.
#![no_main]

#[path = "conn_harness.rs"]
mod conn_harness;

use conn_harness::{EXACT_EVENTS, Harness, MAX_WRITE, feed, split_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((flags, pieces, stream)) = split_input(data) else { return };
    // The same settings and EOF, but one piece and writes never short.
    let whole_flags = flags & !EXACT_EVENTS | 0xe0;
    assert_eq!(MAX_WRITE[usize::from(whole_flags >> 5)], usize::MAX);
    let mut whole = Harness::new(whole_flags);
    feed(&mut whole, whole_flags, &[], stream);

    let mut split = Harness::new(flags);
    feed(&mut split, flags, pieces, stream);

    if split.rig.io.written != whole.rig.io.written || split.rig.conn.is_closed() != whole.rig.conn.is_closed() {
        panic!(
            "whole and split differ\n stream: {:?}\n whole (closed {}): {:?}\n split (closed {}): {:?}",
            String::from_utf8_lossy(stream),
            whole.rig.conn.is_closed(),
            String::from_utf8_lossy(&whole.rig.io.written),
            split.rig.conn.is_closed(),
            String::from_utf8_lossy(&split.rig.io.written),
        );
    }
});
