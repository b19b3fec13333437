//! loophttp's own work per request when many connections take turns, as
//! in the 10,000-connection benchmark: each pass, every connection gets
//! one keep-alive request, in turn, so what a request touches of its
//! connection has gone cold by its next turn. Run it under cachegrind to
//! see the cache misses a request costs (deterministic, unlike wall time),
//! with the L2 of this machine (48 KiB L1d, 2 MiB L2 per core) as the
//! simulated last level:
//!
//! ```sh
//! cargo build --release --example manyconns
//! valgrind --tool=cachegrind --cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64 \
//!     target/release/examples/manyconns 10000 10 log
//! ```
//!
//! Arguments: connections, passes, `bare`, `metrics` or `log` as in
//! examples/hotpath.rs (`log`: metrics and the Combined access log, its
//! writer thread writing to /dev/null), and optionally `in-order`.
//!
//! What is counted is loophttp's own: all connections share one in-memory
//! stream, empty between turns (a real socket's state is the kernel's,
//! which cachegrind does not see; one stream per connection added ~7 of
//! the ~10 misses a request). The connections take their turns in a fixed
//! shuffled order, as epoll hands out events in the order they arrived,
//! not in slab order. Visited in order (`in-order`), the lines a
//! connection shares with its neighbour in the array are still in L1 from
//! the neighbour's turn (log: 5.1 L1d misses a request against 6.1), while
//! a sweep over an array a little larger than the L2 (10,000 × 224 bytes)
//! evicts every line before its reuse (4.75 L2 misses against 4.28).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use loophttp::access_log::{self, AccessLog, Destination, Format};
use loophttp::conn::Conn;
use loophttp::inflight::Observer;
use loophttp::mem_stream::{MemStream, Rig};
use loophttp::routes::Face;

fn main() {
    let mut args = std::env::args().skip(1);
    let conns: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let passes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let mode = args.next().unwrap_or_else(|| "bare".into());
    let in_order = args.next().as_deref() == Some("in-order");
    let request = b"GET /echo/abc HTTP/1.1\r\nHost: 127.0.0.1:4221\r\n\r\n";
    let mut cx = Rig::defaults().cx;
    let writer = match mode.as_str() {
        "log" => access_log::start(&Destination::File("/dev/null".into())).expect("open /dev/null"),
        _ => None,
    };
    if mode != "bare" {
        cx.observe = Observer::new(AccessLog::new(writer.as_ref(), Format::Combined), Some(Default::default()));
    }
    // Peers as a benchmark's: one client address, many ports.
    let peer = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let mut all: Vec<Conn> = (0..conns).map(|i| Conn::accepted(i as u64, cx.now, peer, Face::Public)).collect();
    let order = if in_order { (0..conns).collect() } else { shuffled(conns) };
    let mut io = MemStream::new();
    let started = Instant::now();
    for _ in 0..passes {
        for &i in &order {
            let (conn, io) = (&mut all[i], &mut io);
            io.push(request);
            cx.now = Instant::now();
            conn.on_ready(io, true, false, &mut cx);
            while conn.yielded() {
                conn.resume(io, &mut cx);
            }
            io.written.clear();
        }
    }
    let took = started.elapsed();
    cx.observe.log.finish();
    if let Some(w) = writer {
        w.finish(std::time::Duration::from_secs(5));
    }
    let n = conns * passes;
    let each = took.as_nanos() as f64 / n as f64;
    let conn = std::mem::size_of::<Conn>();
    println!("{n} requests over {conns} connections ({mode}, Conn {conn} bytes): {each:.0} ns each");
}

/// `0..n` in a fixed pseudo-random order (Fisher-Yates with xorshift64):
/// the same every run, so cachegrind's counts stay deterministic.
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}
