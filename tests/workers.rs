//! `--workers N`: independent loops sharing one port through SO_REUSEPORT.

mod common;
use common::*;

use std::time::Duration;

#[test]
fn two_workers_serve_the_same_port_and_keep_connections_apart() {
    let s = TestServer::with(|c| c.workers = 2);
    let threads: Vec<_> = (0..40)
        .map(|i| {
            let addr = s.addr_v4();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for j in 0..5 {
                    c.send(format!("GET /echo/{i}-{j} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
                    assert_eq!(c.response().text(), format!("{i}-{j}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
}

#[test]
fn workers_zero_means_one_per_core_and_the_binary_names_its_threads_in_logs() {
    let mut s = BinServer::start(&["--workers", "0", "--log-level", "debug"]);
    let mut c = Client::connect(([127, 0, 0, 1], s.port).into());
    c.send(b"GET /echo/w HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().text(), "w");
    // With several workers each log line names its loop thread.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        let line = s.wait_for_line(Duration::from_secs(5), |l| l.contains("open #")).expect("open line logged");
        assert!(line.contains("loophttp-"), "worker thread not named in: {line}");
    }
}
