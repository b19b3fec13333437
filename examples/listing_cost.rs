//! How long a `--listing` of a large directory holds the loop at a time:
//! the answer's start (open the directory) and each piece (1,024 names
//! read, or the sort, or 128 rows with one `fstatat` each), the longest
//! being what another client may wait, in this thread's CPU time. Run:
//! `cargo run --release --example listing_cost [N]`.

use std::time::Duration;

use loophttp::http::{Body, Limits, Parsed, parse_head};
use loophttp::site::{Site, SiteOptions};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("file-{i:06}.txt")), b"x").unwrap();
    }
    let site = Site::new(root.path(), SiteOptions { listing: true, ..SiteOptions::default() }).unwrap();
    let limits = Limits { max_uri: 8192, max_head: 16384, max_headers: 100 };
    let mut parsed = Ok(Parsed::Partial);
    parse_head(b"GET /big/ HTTP/1.1\r\nHost: x\r\n\r\n", &limits, &mut Default::default(), &mut parsed);
    let Ok(Parsed::Complete(head, _)) = parsed else { panic!("the request parses") };
    let mut firsts = Vec::new();
    let mut pieces = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let t = cpu_now();
        let resp = site.serve(&head);
        firsts.push(cpu_now() - t);
        let Body::Generated(mut page) = resp.body else { panic!("a listing") };
        let mut out = Vec::new();
        loop {
            let t = cpu_now();
            let done = page.next_piece(&mut out).unwrap();
            pieces.push(cpu_now() - t);
            if done {
                break;
            }
        }
        bytes = out.len();
    }
    firsts.sort();
    pieces.sort();
    let pct = |v: &[Duration], p: usize| v[(v.len() - 1) * p / 100];
    println!("{n} entries, page {bytes} bytes, {} pieces per page", pieces.len() / 5);
    println!("the answer's start: median {:?}, max {:?}", pct(&firsts, 50), pct(&firsts, 100));
    println!("one piece: median {:?}, p99 {:?}, max {:?}", pct(&pieces, 50), pct(&pieces, 99), pct(&pieces, 100));
}

/// This thread's CPU time: unlike the wall clock, it does not count the
/// time other processes had the core (this machine is shared).
fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
