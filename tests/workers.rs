//! `--workers N`: independent loops sharing one listening socket; a port
//! already in use is an error whatever the number of workers, unless
//! `--reuse-port` says the sharing is meant.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

/// How long to keep opening connections until every worker has taken one.
/// Every loop watches the shared socket and whichever is free first
/// accepts, so a few connections almost surely reach both; the deadline
/// only bounds a server that never spreads them.
const ALL_WORKERS_WITHIN: Duration = Duration::from_secs(10);

/// The worker threads that have logged an accepted connection so far: with
/// several workers every log line names its thread (`[MODULE@loophttp-N]`).
fn workers_that_opened(b: &mut BinServer) -> BTreeSet<String> {
    let opens = b.collect().iter().filter(|l| l.contains(" open peer="));
    let source = |l: &str| Some(l.split_once('[')?.1.split_once(']')?.0.rsplit_once('@')?.1.to_string());
    opens.filter_map(|l| source(l)).filter(|t| t.starts_with("loophttp-")).collect()
}

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
    assert_eq!(s.get("/echo/w").text(), "w");
    // With several workers each log line names its loop thread.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        let line = s.wait_for_line(Duration::from_secs(5), |l| l.contains(" open peer=")).expect("open line logged");
        assert!(line.contains("loophttp-"), "worker thread not named in: {line}");
    }
}

#[test]
fn workers_2_runs_two_loops_that_both_accept_connections() {
    let mut b = BinServer::start(&["--workers", "2", "--log-level", "debug"]);
    let want: BTreeSet<String> = ["loophttp-0".into(), "loophttp-1".into()].into();
    let mut sent = 0;
    // One connection per try, each from a new port, until both loops have
    // logged an open: a single loop (the flag ignored) never gets there.
    let both = eventually(ALL_WORKERS_WITHIN, || {
        sent += 1;
        assert_eq!(b.get(&format!("/echo/n{sent}")).text(), format!("n{sent}"));
        let seen = workers_that_opened(&mut b);
        (seen == want).then_some(())
    });
    let seen = workers_that_opened(&mut b);
    assert!(both.is_some(), "after {sent} connections only {seen:?} accepted any; log: {:#?}", b.lines);
}

/// A second server started on a port the first serves (the wrong unit
/// started twice, a stale process): it must fail, not share the port and
/// take half the connections, whatever `--workers` says.
#[test]
fn a_second_instance_on_the_same_port_fails_with_a_clear_message() {
    let first = BinServer::start(&["--workers", "2", "--host", "127.0.0.1"]);
    let port = first.port.to_string();
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_loophttp"))
        .args(["--workers", "2", "--host", "127.0.0.1", "--port", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loophttp");
    // Bounded: a second instance that shares the port serves forever.
    let status = eventually(Duration::from_secs(10), || second.try_wait().expect("wait"));
    if status.is_none() {
        let _ = second.kill();
    }
    let mut stderr = String::new();
    second.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let _ = second.wait();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "the second instance must fail: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
    assert!(errors[0].contains("in use"), "{stderr}");
    assert_eq!(first.get("/echo/still").text(), "still", "the first instance is untouched");
}

#[test]
fn reuse_port_lets_two_instances_share_a_port_on_purpose() {
    let a = BinServer::start(&["--host", "127.0.0.1", "--reuse-port"]);
    let port = a.port.to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loophttp"));
    cmd.args(["--host", "127.0.0.1", "--reuse-port", "--port", &port]).stdout(Stdio::null());
    let b = BinServer::from_command(cmd);
    assert_eq!(b.port, a.port);
    assert_eq!(b.get("/echo/shared").text(), "shared");
}
