//! loophttp's own work per request, without the kernel: one connection
//! answers N keep-alive requests over an in-memory stream. Run it under
//! callgrind for instruction counts that do not drift with machine noise:
//!
//! ```sh
//! cargo build --release --example hotpath
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     target/release/examples/hotpath /echo/abc 100000
//! callgrind_annotate /tmp/cg.out | head -30
//! ```
//!
//! It prints the wall time per request too, which is only indicative.
//!
//! A third argument adds the observability work: `metrics` (counting for
//! `/metrics`) or `log` (counting plus the Combined access log, written by
//! its thread to /dev/null), to compare against the bare run (`bare`).
//!
//! A fourth argument sets the pipelining depth: that many requests arrive in
//! one read and are answered in one `on_ready` (wrk's pipelining script sends
//! 16 per write). `N` stays the number of requests:
//!
//! ```sh
//! target/release/examples/hotpath /echo/abc 100000 bare 16
//! ```

use std::time::Instant;

use loophttp::access_log::{self, AccessLog, Destination, Format};
use loophttp::inflight::Observer;
use loophttp::mem_stream::Rig;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/echo/abc".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    // The request wrk sends.
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:4221\r\n\r\n").into_bytes();
    let mode = args.next().unwrap_or_else(|| "bare".into());
    let depth: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let batch = request.repeat(depth);
    let mut rig = Rig::defaults();
    let writer = match mode.as_str() {
        "log" => access_log::start(&Destination::File("/dev/null".into())).expect("open /dev/null"),
        _ => None,
    };
    if mode != "bare" {
        rig.cx.observe = Observer::new(AccessLog::new(writer.as_ref(), Format::Combined), Some(Default::default()));
    }
    let started = Instant::now();
    let mut bytes = 0;
    let n = n / depth * depth;
    for _ in 0..n / depth {
        rig.io.push(&batch);
        // As the loop does once per pass: the turn's time budget counts
        // from this clock.
        rig.cx.now = Instant::now();
        rig.conn.on_ready(&mut rig.io, true, false, &mut rig.cx);
        // A turn that spent its budget is resumed, as the loop resumes it.
        while rig.conn.yielded() {
            rig.conn.resume(&mut rig.io, &mut rig.cx);
        }
        bytes += rig.io.written.len();
        rig.io.written.clear();
    }
    let took = started.elapsed();
    rig.cx.observe.log.finish();
    if let Some(w) = writer {
        w.finish(std::time::Duration::from_secs(5));
    }
    println!(
        "{n} requests for {path} ({mode}, {depth} per read): {:.0} ns each, {} response bytes each",
        took.as_nanos() as f64 / n as f64,
        bytes / n
    );
}
