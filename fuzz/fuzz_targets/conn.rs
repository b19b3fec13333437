//! The connection state machine fed an arbitrary byte stream in arbitrary
//! pieces, with `WouldBlock`s, short and refused writes, an optional EOF and
//! optional timeouts (input format and per-call checks: `conn_harness.rs`).
//!
//! Checked, besides "never panics" and the harness's checks on every call:
//! - a connection left waiting wants some event, and its deadlines end it;
//! - once closed it stays silent whatever happens to it.
#![no_main]

#[path = "conn_harness.rs"]
mod conn_harness;

use conn_harness::{Harness, LATER, TIMEOUTS, feed, split_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((flags, pieces, stream)) = split_input(data) else { return };
    let mut h = Harness::new(flags);
    feed(&mut h, flags, pieces, stream);

    if flags & TIMEOUTS != 0 {
        // Each deadline that passes moves the connection towards closing:
        // a 408 then the linger, or straight to closed.
        for _ in 0..3 {
            h.rig.cx.now += LATER;
            h.call(|h| h.rig.conn.on_timeout(&mut h.rig.io, &mut h.rig.cx));
            h.settle();
        }
        assert!(h.rig.conn.is_closed(), "still open after three expired deadlines");
    }

    if h.rig.conn.is_closed() {
        h.rig.io.push(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        h.event();
        h.rig.cx.now += LATER;
        h.call(|h| h.rig.conn.on_timeout(&mut h.rig.io, &mut h.rig.cx));
    }
});
