//! Time limits, with small values so each test takes about a second: the
//! header deadline (from the first byte of a head), the keep-alive idle
//! limit, the body idle limit, the write limit, and how connections end
//! (right after `Connection: close`; gracefully after a parse error).
//!
//! A timer is timed from an instant taken before the client does what
//! starts it, so it can never look early: it must not come before its limit
//! (which proves that timer fired, not an earlier close) nor [`LATE`] after.

mod common;
use common::*;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sends `bytes` one at a time, `every` apart, until done or `stop` is set.
fn drip(c: &mut Client, bytes: &'static [u8], every: Duration, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let mut w = c.stream().try_clone().unwrap();
    thread::spawn(move || {
        for b in bytes {
            if stop.load(Ordering::Relaxed) || w.write_all(std::slice::from_ref(b)).is_err() {
                return;
            }
            thread::sleep(every);
        }
    })
}

// ---- header timeout ------------------------------------------------------

#[test]
fn slowloris_head_gets_408_at_the_header_timeout_from_its_first_byte_then_close() {
    const HEADER_TIMEOUT: Duration = ms(500);
    let s = TestServer::with(|c| c.header_timeout = HEADER_TIMEOUT);
    let mut c = s.client();
    // Idle first: the header clock starts at the first byte, not at connect.
    thread::sleep(ms(400));
    let stop = Arc::new(AtomicBool::new(false));
    let first_byte = Instant::now();
    // 65 bytes, 100 ms apart: still dripping when the 408 is due, even late.
    let dripper =
        drip(&mut c, b"GET /echo/slow HTTP/1.1\r\nHost: t\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa", ms(100), stop.clone());
    let r = c.response();
    let took = first_byte.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert_eq!((r.status, r.reason.as_str()), (408, "Request Timeout"));
    // Timed from connect, it would have come within 100 ms of the first byte.
    assert!(took >= HEADER_TIMEOUT && took < HEADER_TIMEOUT + LATE, "408 came {took:?} after the first byte");
    let (rest, end) = c.read_until_end(Duration::from_secs(3));
    assert_eq!((rest.len(), end), (0, End::Eof));
    dripper.join().unwrap();
}

#[test]
fn header_timeout_does_not_apply_to_an_idle_keep_alive_connection() {
    let s = TestServer::with(|c| c.header_timeout = ms(300));
    let mut c = s.client();
    c.send(b"GET /echo/a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"a");
    assert!(
        c.still_open_after(ms(800)),
        "an idle connection is governed by keepalive_timeout (60s), not the header timeout"
    );
    c.send(b"GET /echo/b HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"b");
}

// ---- keep-alive timeout --------------------------------------------------

#[test]
fn idle_keep_alive_connection_is_closed_silently_after_keepalive_timeout() {
    const KEEPALIVE_TIMEOUT: Duration = ms(400);
    let s = TestServer::with(|c| c.keepalive_timeout = KEEPALIVE_TIMEOUT);
    let mut c = s.client();
    // The connection goes idle once the response is out: after this instant.
    let asked = Instant::now();
    c.send(b"GET /echo/a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"a");
    let (got, end) = c.read_until_end(KEEPALIVE_TIMEOUT + LATE);
    let took = asked.elapsed();
    assert_eq!(end, End::Eof, "still open {took:?} after the request");
    assert!(got.is_empty(), "an idle close sends nothing, got {:?}", String::from_utf8_lossy(&got));
    assert!(took >= KEEPALIVE_TIMEOUT, "closed {took:?} after the request: before the keep-alive timeout");
}

// ---- body timeout --------------------------------------------------------

#[test]
fn stalled_upload_body_gets_408_after_body_timeout_then_close_and_leaves_no_file() {
    const BODY_TIMEOUT: Duration = ms(400);
    let s = TestServer::with(|c| c.body_timeout = BODY_TIMEOUT);
    let mut c = s.client();
    // The silence starts once the server has these bytes: after this instant.
    let silent_from = Instant::now();
    c.send(b"POST /files/stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    let r = c.response();
    let took = silent_from.elapsed();
    assert_eq!(r.status, 408);
    assert!(took >= BODY_TIMEOUT && took < BODY_TIMEOUT + LATE, "408 came {took:?} into the silence");
    let (rest, end) = c.read_until_end(Duration::from_secs(3));
    assert_eq!((rest.len(), end), (0, End::Eof));
    let left = eventually(Duration::from_secs(2), || dir_entries(s.dir()).is_empty().then_some(()));
    assert!(left.is_some(), "an interrupted upload left {:?}", dir_entries(s.dir()));
}

#[test]
fn a_slow_but_steady_body_is_not_timed_out() {
    let s = TestServer::with(|c| c.body_timeout = ms(1000));
    let mut c = s.client();
    c.send(b"PUT /files/steady HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    // 1.5 s in all, but never silent for long: 150 ms gaps leave a busy
    // machine 850 ms of slack before body_timeout.
    for i in 0..10 {
        thread::sleep(ms(150));
        c.send(format!("{i}{i}{i}{i}{i}{i}{i}{i}{i}{i}").as_bytes());
    }
    assert_eq!(c.response().status, 201);
    assert_eq!(std::fs::read(s.dir().join("steady")).unwrap().len(), 100);
}

// ---- write timeout -------------------------------------------------------

#[test]
fn client_that_never_reads_is_closed_after_write_timeout_while_others_are_served() {
    const SIZE: u64 = 50 << 20;
    const WRITE_TIMEOUT: Duration = ms(500);
    let s = TestServer::with(|c| c.write_timeout = WRITE_TIMEOUT);
    std::fs::File::create(s.dir().join("big")).unwrap().set_len(SIZE).unwrap();
    let mut stuck = s.client();
    stuck.send(b"GET /files/big HTTP/1.1\r\nHost: t\r\n\r\n");
    let asked = Instant::now();
    // While it is stuck, the loop keeps serving everyone else. Reading
    // before the timer surely fired would let the download go on.
    while asked.elapsed() < WRITE_TIMEOUT + LATE {
        let t = Instant::now();
        assert_eq!(s.get("/echo/ok").body, b"ok");
        assert!(t.elapsed() < LATE, "another client waited {:?}", t.elapsed());
        thread::sleep(ms(100));
    }
    // Now read: what the kernel buffered arrives, then the end, well short of the file.
    let (got, end) = stuck.read_until_end(LATE);
    assert_ne!(end, End::StillOpen, "still sending after {:?} (write_timeout {WRITE_TIMEOUT:?})", asked.elapsed());
    assert!((got.len() as u64) < SIZE, "the whole file arrived: the connection was never timed out");
}

// ---- how connections end -------------------------------------------------

#[test]
fn connection_close_closes_right_after_the_response() {
    let s = TestServer::with(|c| c.keepalive_timeout = Duration::from_secs(60));
    let mut c = s.client();
    c.send(b"GET /echo/bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!((r.body.as_slice(), r.header("connection")), (&b"bye"[..], Some("close")));
    assert!(c.closed_within(LATE), "not closed within {LATE:?} (keepalive_timeout 60s)");
}

#[test]
fn parse_error_is_answered_in_full_then_eof_not_a_reset() {
    let s = TestServer::start();
    let mut c = s.client();
    // Bytes after the bad head are left unread by a naive server, which
    // would then reset the connection and could destroy the 400 in flight.
    let mut wire = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    wire.extend_from_slice(b"hello\r\nGET /echo/smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
    wire.extend_from_slice(&[b'z'; 32 * 1024]);
    c.send(&wire);
    let r = c.response();
    assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request"));
    assert_eq!(r.body, b"Bad Request");
    let (rest, end) = c.read_until_end(Duration::from_secs(3));
    assert_eq!(end, End::Eof);
    assert!(rest.is_empty(), "nothing after the 400 (no smuggled response): {:?}", String::from_utf8_lossy(&rest));
}
