//! The server's own log never stops the loop: with stderr a pipe nobody
//! reads and `--log-level trace` (a dozen lines a request), the pipe is
//! full after a few hundred requests, yet every request is answered; the
//! lines that did not fit are dropped, counted, and reported once the
//! pipe is read again. On ed6a2ad the loop wrote to stderr itself and
//! stopped at the first full pipe.
//!
//! Set `LOOPHTTP_TEST_BIN` to run another build of loophttp.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Requests sent while nobody reads the server's stderr.
const REQUESTS: usize = 2000;
/// Connections they are spread over (keep-alive, one after the other).
const CONNECTIONS: usize = 20;

fn binary() -> std::path::PathBuf {
    std::env::var_os("LOOPHTTP_TEST_BIN").map_or_else(|| env!("CARGO_BIN_EXE_loophttp").into(), Into::into)
}

#[test]
fn an_unread_stderr_at_trace_level_never_stops_the_server() {
    let mut child = Command::new(binary())
        .args(["--port", "0", "--log-level", "trace", "--access-log", "off"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loophttp");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no startup line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().trim_end_matches(':');
            break addr.parse::<std::net::SocketAddr>().unwrap().port();
        }
    };
    // From here on nobody reads stderr until every request is answered.
    let started = Instant::now();
    let request = b"GET /echo/x HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut answered = 0;
    for _ in 0..CONNECTIONS {
        let mut c = Client::from_stream(TcpStream::connect(("127.0.0.1", port)).unwrap());
        for _ in 0..REQUESTS / CONNECTIONS {
            c.stream().write_all(request).unwrap();
            let r = c.response(); // fails after IO_TIMEOUT if the loop is stuck
            assert_eq!((r.status, r.body.as_slice()), (200, &b"x"[..]));
            answered += 1;
        }
    }
    assert_eq!(answered, REQUESTS);
    eprintln!("{REQUESTS} requests answered in {:?} with stderr unread", started.elapsed());

    // Read the pipe again: the writer catches up and says what it dropped.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut c = Client::connect(([127, 0, 0, 1], port).into());
    c.send(request);
    assert_eq!(c.response().status, 200);
    let mut seen = Vec::new();
    let wait_for = |seen: &mut Vec<String>, what: &str, within: Duration| {
        let deadline = Instant::now() + within;
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            let found = line.contains(what);
            seen.push(line);
            if found {
                return true;
            }
        }
        false
    };
    let reported = wait_for(&mut seen, "log lines dropped", IO_TIMEOUT);
    assert!(reported, "no report of the dropped lines; the log's tail: {:?}", tail(&seen));
    assert!(seen.last().unwrap().contains("WARN"), "{:?}", seen.last());
    // The writer may still hold a full channel: ask until a new request's
    // line comes through, so the lines from now on are not dropped.
    let caught_up = (0..100).any(|i| {
        c.send(format!("GET /echo/marker{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().status, 200);
        wait_for(&mut seen, &format!("path=/echo/marker{i}"), Duration::from_secs(1))
    });
    assert!(caught_up, "the writer never caught up: {:?}", tail(&seen));
    // The drain's lines are written, the last ones before exit.
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    drop(c);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(wait_for(&mut seen, "drained", IO_TIMEOUT), "the last lines are written before exit: {:?}", tail(&seen));
    reader.join().unwrap();
}

fn tail(lines: &[String]) -> &[String] {
    &lines[lines.len().saturating_sub(5)..]
}

#[test]
fn a_startup_error_is_written_before_the_process_exits() {
    // The line goes through the writer thread; exiting must wait for it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(binary()).args(["--host", "127.0.0.1", "--port", &port]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ERROR") && err.contains("cannot listen"), "{err}");
}
