//! Size limits, `Expect: 100-continue`, the connection limit, backpressure,
//! and request framing: what a request may look like on the wire, sent as
//! literal bytes over real sockets.

mod common;
use common::*;

use loophttp::config::DEFAULT_MAX_HEAD;
use loophttp::conn::OUT_HIGH_WATER;
use socket2::{Domain, Socket, Type};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sends `raw` on a fresh connection; the answer must be `status`, read
/// whole, followed by a clean EOF (a graceful close, not a reset).
fn refused_then_closed(s: &TestServer, raw: &[u8], status: u16) {
    let what = String::from_utf8_lossy(raw);
    let mut c = s.client();
    c.send(raw);
    let r = c.response();
    assert_eq!(r.status, status, "{what:?}");
    assert_eq!(r.header("connection"), Some("close"), "{what:?}");
    let (rest, end) = c.read_until_end(Duration::from_secs(3));
    assert_eq!((rest.len(), end), (0, End::Eof), "{what:?}: after the {status}");
}

fn get_keep_alive(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

// ---- request-target and head limits -------------------------------------

#[test]
fn long_target_is_414_then_close() {
    let s = TestServer::start();
    let raw = format!("GET /echo/{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    refused_then_closed(&s, raw.as_bytes(), 414);
}

#[test]
fn target_at_the_limit_is_served_one_byte_more_is_414() {
    let s = TestServer::with(|c| c.max_uri_bytes = 64);
    let at_limit = format!("/echo/{}", "a".repeat(58));
    assert_eq!(at_limit.len(), 64);
    let r = s.get(&at_limit);
    assert_eq!((r.status, r.body.len()), (200, 58));
    let raw = format!("GET {at_limit}b HTTP/1.1\r\nHost: t\r\n\r\n");
    refused_then_closed(&s, raw.as_bytes(), 414);
}

#[test]
fn long_target_is_refused_before_the_request_line_ends() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(format!("GET /{}", "a".repeat(9000)).as_bytes());
    let started = Instant::now();
    assert_eq!(c.response().status, 414);
    // Well before the header timeout (10 s), where a server that waits for
    // the end would answer 408.
    assert!(started.elapsed() < LATE, "took {:?}", started.elapsed());
}

/// A head of exactly `len` bytes: request line, Host, one padding header.
fn head_of_len(len: usize) -> String {
    let start = "GET /echo/h HTTP/1.1\r\nHost: t\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let head = format!("{start}{}{end}", "p".repeat(len - start.len() - end.len()));
    assert_eq!(head.len(), len);
    head
}

#[test]
fn head_at_the_limit_is_served_one_byte_more_is_431_then_close() {
    let s = TestServer::with(|c| c.max_head_bytes = 1024);
    let mut c = s.client();
    c.send(head_of_len(1024).as_bytes());
    assert_eq!(c.response().status, 200);
    refused_then_closed(&s, head_of_len(1025).as_bytes(), 431);
}

#[test]
fn oversized_head_is_refused_before_it_ends() {
    let s = TestServer::with(|c| c.max_head_bytes = 1024);
    let mut c = s.client();
    c.send(format!("GET / HTTP/1.1\r\nHost: t\r\nX-Pad: {}", "p".repeat(2000)).as_bytes());
    let started = Instant::now();
    assert_eq!(c.response().status, 431);
    // Well before the header timeout (10 s), where a server that waits for
    // the end would answer 408.
    assert!(started.elapsed() < LATE, "took {:?}", started.elapsed());
}

#[test]
fn default_head_limit_is_16_kib() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(head_of_len(16384).as_bytes());
    assert_eq!(c.response().status, 200);
    refused_then_closed(&s, head_of_len(16385).as_bytes(), 431);
}

fn with_headers(n_total: usize) -> String {
    let extra: String = (1..n_total).map(|i| format!("X-H{i}: v\r\n")).collect();
    format!("GET /echo/h HTTP/1.1\r\nHost: t\r\n{extra}\r\n")
}

#[test]
fn more_than_max_headers_is_431_then_close() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(with_headers(100).as_bytes());
    assert_eq!(c.response().status, 200, "exactly 100 header fields are allowed");
    refused_then_closed(&s, with_headers(101).as_bytes(), 431);
}

// ---- body limits ---------------------------------------------------------

#[test]
fn declared_body_over_the_limit_is_413_before_it_is_read() {
    let s = TestServer::with(|c| c.max_body_bytes = 1000);
    // Only the head is sent: the answer must not wait for the body.
    let raw = b"POST /files/big HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n";
    refused_then_closed(&s, raw, 413);
    assert!(dir_entries(s.dir()).is_empty(), "nothing written: {:?}", dir_entries(s.dir()));

    let mut c = s.client();
    c.send(b"POST /files/fits HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    c.send(&[b'f'; 1000]);
    assert_eq!(c.response().status, 201, "a body of exactly the limit is accepted");
    assert_eq!(std::fs::read(s.dir().join("fits")).unwrap(), vec![b'f'; 1000]);
}

#[test]
fn client_sending_a_refused_body_anyway_reads_the_413_not_a_reset() {
    let s = TestServer::with(|c| c.max_body_bytes = 1000);
    let mut c = s.client();
    c.send(b"POST /files/big HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
    let mut w = c.stream().try_clone().unwrap();
    // The client does not wait for an answer; the server must drain this
    // rather than close with unread input (which would reset the connection).
    let writer = thread::spawn(move || w.write_all(&vec![b'b'; 1_000_000]).is_ok());
    let r = c.response();
    assert_eq!(r.status, 413);
    let (rest, end) = c.read_until_end(Duration::from_secs(3));
    assert_eq!((rest.len(), end), (0, End::Eof));
    assert!(writer.join().unwrap(), "the server reset the connection while the body was still arriving");
    assert!(dir_entries(s.dir()).is_empty());
}

#[test]
fn chunked_body_passing_the_limit_is_413_and_close() {
    let s = TestServer::with(|c| c.max_body_bytes = 1000);
    let chunk = format!("1f4\r\n{}\r\n", "c".repeat(500));
    // 1500 bytes and no last chunk: the 413 must come once the limit is
    // passed, not when (if ever) the body ends.
    let raw =
        format!("POST /files/chunky HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{}", chunk.repeat(3));
    refused_then_closed(&s, raw.as_bytes(), 413);
    assert!(dir_entries(s.dir()).is_empty(), "nothing kept: {:?}", dir_entries(s.dir()));
}

// ---- Expect: 100-continue ------------------------------------------------

#[test]
fn expect_continue_sends_100_before_the_body_is_sent() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"POST /files/e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    let interim = c.response();
    assert_eq!((interim.status, interim.reason.as_str()), (100, "Continue"));
    c.send(b"hello");
    assert_eq!(c.response().status, 201);
    assert_eq!(s.get("/files/e").body, b"hello");
}

/// The final status comes instead of 100, and the body is never read.
fn expect_refused(s: &TestServer, raw: &[u8], status: u16) {
    let mut c = s.client();
    c.send(raw);
    let r = c.response();
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(raw));
    let (rest, end) = c.read_until_end(Duration::from_secs(3));
    assert_eq!((rest.len(), end), (0, End::Eof), "closed after the {status}");
}

#[test]
fn expect_continue_over_the_body_limit_gets_413_without_100() {
    let s = TestServer::with(|c| c.max_body_bytes = 1000);
    let raw = b"POST /files/e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n";
    expect_refused(&s, raw, 413);
    assert!(dir_entries(s.dir()).is_empty());
}

#[test]
fn expect_continue_to_a_missing_route_gets_404_without_100() {
    let s = TestServer::start();
    expect_refused(&s, b"POST /nowhere HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 404);
}

#[test]
fn expect_continue_with_a_wrong_method_gets_405_without_100() {
    let s = TestServer::start();
    expect_refused(&s, b"POST /echo/x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 405);
}

// ---- connection limit and backpressure -----------------------------------

#[test]
fn past_max_connections_new_clients_wait_in_the_backlog_until_one_closes() {
    let s = TestServer::with(|c| c.max_connections = 2);
    let mut a = s.client();
    let mut b = s.client();
    for (c, name) in [(&mut a, "a"), (&mut b, "b")] {
        c.send(get_keep_alive(&format!("/echo/{name}")).as_bytes());
        assert_eq!(c.response().body, name.as_bytes());
    }
    // The kernel completes the handshake from the backlog; the server does not accept.
    let mut third = s.client();
    third.send(get_keep_alive("/echo/third").as_bytes());
    assert!(third.still_open_after(ms(500)), "a third client was served past max_connections=2");
    drop(a);
    let started = Instant::now();
    assert_eq!(third.response().body, b"third");
    assert!(started.elapsed() < LATE, "served {:?} after a slot freed", started.elapsed());
    // The second client is unaffected.
    b.send(get_keep_alive("/echo/b2").as_bytes());
    assert_eq!(b.response().body, b"b2");
}

#[test]
fn a_client_admitted_when_a_slot_frees_is_closed_as_soon_as_it_is_answered() {
    // Admitted in the pass that freed the slot and finished at once: its
    // socket must close then, not at the loop's next wake-up.
    let s = TestServer::with(|c| c.max_connections = 1);
    let mut a = s.client();
    a.send(get_keep_alive("/echo/a").as_bytes());
    assert_eq!(a.response().body, b"a");
    let mut waiting = s.client();
    waiting.send(b"GET /echo/last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    drop(a);
    assert_eq!(waiting.response().body, b"last");
    let started = Instant::now();
    assert!(waiting.closed_within(LATE), "the connection stayed open after its last answer");
    assert!(started.elapsed() < LATE, "closed {:?} after its answer", started.elapsed());
}

#[test]
fn pipelining_client_that_does_not_read_is_answered_in_order_once_it_reads() {
    const N: usize = 5000;
    let s = TestServer::start();
    let mut c = s.client();
    let mut w = c.stream().try_clone().unwrap();
    let writer = thread::spawn(move || {
        let mut wire = Vec::new();
        for i in 0..N {
            write!(wire, "GET /echo/{i:0100} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        }
        // May block for a while: that is the backpressure.
        w.write_all(&wire).is_ok()
    });
    // Meanwhile the loop keeps serving others promptly.
    let stalled = Instant::now();
    let mut worst = Duration::ZERO;
    while stalled.elapsed() < ms(1500) {
        let t = Instant::now();
        assert_eq!(s.get("/echo/other").body, b"other");
        worst = worst.max(t.elapsed());
        thread::sleep(ms(50));
    }
    println!("slowest other client while {N} requests were pipelined: {worst:?}");
    assert!(worst < LATE, "another client waited {worst:?} behind the pipelining one");
    for i in 0..N {
        let r = c.response();
        assert_eq!(r.status, 200, "response {i}");
        assert_eq!(r.body, format!("{i:0100}").as_bytes(), "response {i} out of order");
    }
    assert!(writer.join().unwrap(), "writing the pipelined requests failed");
    c.send(get_keep_alive("/echo/after").as_bytes());
    assert_eq!(c.response().body, b"after");
}

/// True if `s` becomes writable within `within`: poll(2) for POLLOUT.
fn writable_within(s: &TcpStream, within: Duration) -> bool {
    let mut p = libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    let timeout = libc::c_int::try_from(within.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, and we pass a count of one.
    let n = unsafe { libc::poll(&mut p, 1, timeout) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1
}

/// A TCP socket's kernel queues, from /proc/net/tcp{,6}: bytes written
/// but not yet acknowledged by the peer, and bytes received but not yet
/// read by the application.
#[derive(Debug)]
struct Queues {
    tx: usize,
    rx: usize,
}

/// The queues of the socket on this host whose local port is `local` and
/// whose peer's port is `remote` (both ends are on loopback).
fn kernel_queues(local: u16, remote: u16) -> Queues {
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap(), 16).unwrap();
    let hex = |n: &str| usize::from_str_radix(n, 16).unwrap();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for row in text.lines().skip(1) {
            // sl local_address rem_address st tx_queue:rx_queue ...
            let f: Vec<&str> = row.split_whitespace().collect();
            if port(f[1]) == local && port(f[2]) == remote {
                let (tx, rx) = f[4].split_once(':').unwrap();
                return Queues { tx: hex(tx), rx: hex(rx) };
            }
        }
    }
    panic!("no socket {local} -> {remote} in /proc/net/tcp or tcp6");
}

/// The size on the wire of the response to `request`, sent alone.
fn response_size(s: &TestServer, request: &[u8]) -> usize {
    let mut c = s.client();
    c.send(request);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = c.reader.read(&mut buf).unwrap();
        assert!(n > 0, "closed before a response head");
        got.extend_from_slice(&buf[..n]);
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let len = head.split("\r\ncontent-length: ").nth(1).and_then(|r| r.split("\r\n").next()).expect("Content-Length");
    head_end + len.parse::<usize>().unwrap()
}

/// Writes `wire` without blocking until all of it is taken or nothing more
/// is taken for `stall` (the peer stopped reading); returns the bytes taken.
fn write_until_stalled(stream: &TcpStream, wire: &[u8], stall: Duration) -> usize {
    stream.set_nonblocking(true).unwrap();
    let mut taken = 0;
    while taken < wire.len() {
        match (&*stream).write(&wire[taken..]) {
            Ok(n) => taken += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if !writable_within(stream, stall) {
                    break;
                }
            }
            Err(e) => panic!("write after {taken} bytes: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    taken
}

/// The most a socket's send buffer can grow to (net.ipv4.tcp_wmem max).
fn tcp_wmem_max() -> usize {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").unwrap_or_default();
    text.split_whitespace().nth(2).and_then(|n| n.parse().ok()).unwrap_or(4 << 20)
}

#[test]
fn pipelining_client_that_never_reads_is_stopped_by_backpressure_then_served_in_order() {
    /// A write-side stall this long means the server stopped reading.
    const STALL: Duration = Duration::from_millis(500);
    let s = TestServer::start();
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    // Small client buffers, set before connect so the window is small from
    // the start: the client's kernel holds little of what follows.
    sock.set_recv_buffer_size(4096).unwrap();
    sock.set_send_buffer_size(4096).unwrap();
    sock.connect_timeout(&s.addr_v4().into(), IO_TIMEOUT).unwrap();
    let stream: TcpStream = sock.into();
    // 8 KB requests for 8 KB responses that the client does not read. More
    // than the server's kernel buffers can absorb (its send buffer grows to
    // tcp_wmem max): without backpressure the server would read it all.
    let body = |i: usize| format!("{i:08}{}", "b".repeat(8000 - 8));
    let request = |i: usize| format!("GET /echo/{} HTTP/1.1\r\nHost: t\r\n\r\n", body(i));
    let (req, resp) = (request(0).len(), response_size(&s, request(0).as_bytes()));
    let n = (2 * tcp_wmem_max() + (4 << 20)) / req;
    let mut wire: Vec<u8> = (0..n).flat_map(|i| request(i).into_bytes()).collect();
    let started = Instant::now();
    let taken = write_until_stalled(&stream, &wire, STALL);
    assert!(taken < wire.len(), "the server read all {} bytes while no response was read: no backpressure", wire.len());

    // Where the bytes are now. What the kernel buffers is not the server's
    // doing; the rest the server holds itself, and that must stay small.
    let (me, server) = (stream.local_addr().unwrap().port(), s.port);
    let (client_q, server_q) = (kernel_queues(me, server), kernel_queues(server, me));
    let read_by_server = taken - client_q.tx - server_q.rx; // request bytes
    let written_by_server = server_q.tx + client_q.rx; // response bytes
    // Requests read but not answered and answers not written: at most the
    // output mark, one response past it, and the input buffer.
    let held = (read_by_server * resp / req).saturating_sub(written_by_server);
    let bound = OUT_HIGH_WATER + resp + 2 * DEFAULT_MAX_HEAD;
    println!(
        "the server took {taken} of {} bytes in {:?}; kernel: client {client_q:?}, server {server_q:?}; \
         the server read {} requests, wrote {} responses, holds ~{held} bytes",
        wire.len(),
        started.elapsed(),
        read_by_server / req,
        written_by_server / resp
    );
    assert!(held <= bound, "the server holds ~{held} bytes for one client that does not read (bound {bound})");

    // Reading resumes the server: every response arrives whole and in order.
    let mut w = stream.try_clone().unwrap();
    let rest = wire.split_off(taken);
    let writer = thread::spawn(move || w.write_all(&rest).is_ok());
    let mut c = Client::from_stream(stream);
    for i in 0..n {
        let r = c.response();
        assert_eq!(r.status, 200, "response {i}");
        assert!(r.body == body(i).as_bytes(), "response {i} out of order or damaged");
    }
    assert!(writer.join().unwrap(), "writing the rest of the pipelined requests failed");
}

// ---- framing: refused shapes ---------------------------------------------

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let s = TestServer::start();
    for raw in [
        &b"POST /files/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        b"POST /files/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    ] {
        refused_then_closed(&s, raw, 400);
    }
    assert!(dir_entries(s.dir()).is_empty());
}

#[test]
fn differing_duplicate_content_lengths_are_400() {
    let s = TestServer::start();
    refused_then_closed(&s, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400);
}

#[test]
fn invalid_content_lengths_are_400() {
    let s = TestServer::start();
    for value in ["-1", "abc", "99999999999999999999999", "+5", "0x10", ""] {
        let raw = format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {value}\r\n\r\n");
        refused_then_closed(&s, raw.as_bytes(), 400);
    }
}

#[test]
fn transfer_coding_other_than_chunked_is_501() {
    let s = TestServer::start();
    for te in ["gzip, chunked", "gzip"] {
        let raw = format!("POST /files/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {te}\r\n\r\n");
        refused_then_closed(&s, raw.as_bytes(), 501);
    }
}

#[test]
fn invalid_chunk_size_is_400() {
    let s = TestServer::start();
    for body in ["zz\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n"] {
        let raw = format!("POST /files/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
        refused_then_closed(&s, raw.as_bytes(), 400);
    }
    assert!(dir_entries(s.dir()).is_empty());
}

#[test]
fn malformed_header_lines_are_400() {
    let s = TestServer::start();
    let cases: &[(&str, &[u8])] = &[
        ("bare CR", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n"),
        ("NUL", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n folded\r\n\r\n"),
        ("space before colon", b"GET / HTTP/1.1\r\nHost: t\r\nX-A : a\r\n\r\n"),
    ];
    for (what, raw) in cases {
        let mut c = s.client();
        c.send(raw);
        assert_eq!(c.response().status, 400, "{what}");
        assert_eq!(c.read_until_end(Duration::from_secs(3)).1, End::Eof, "{what}");
    }
}

#[test]
fn host_is_required_exactly_once_in_http_11() {
    let s = TestServer::start();
    refused_then_closed(&s, b"GET /echo/x HTTP/1.1\r\n\r\n", 400);
    refused_then_closed(&s, b"GET /echo/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

#[test]
fn unsupported_http_version_is_505() {
    let s = TestServer::start();
    refused_then_closed(&s, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
}

#[test]
fn unknown_method_is_501() {
    let s = TestServer::start();
    refused_then_closed(&s, b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 501);
}

#[test]
fn http_09_request_line_gets_an_http_11_400() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /\r\n\r\n");
    let (got, end) = c.read_until_end(Duration::from_secs(3));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text:?}");
    assert_eq!(end, End::Eof);
}

// ---- framing: accepted shapes --------------------------------------------

#[test]
fn absolute_form_target_is_routed_by_its_path() {
    let s = TestServer::start();
    let r = s.request(b"GET http://h/echo/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"x"[..]));
}

#[test]
fn head_has_the_content_length_of_get_and_no_body() {
    let s = TestServer::start();
    std::fs::write(s.dir().join("f.bin"), vec![7u8; 3000]).unwrap();
    let mut c = s.client();
    for path in ["/", "/echo/abc", "/files/f.bin"] {
        // HEAD, then GET on the same connection: a stray HEAD body would
        // corrupt the GET response.
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\nGET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = c.head_response();
        let get = c.response();
        assert_eq!((head.status, get.status), (200, 200), "{path}");
        assert!(!get.body.is_empty(), "{path}");
        assert_eq!(head.header("content-length"), Some(get.body.len().to_string().as_str()), "{path}");
    }
    c.send(get_keep_alive("/echo/end").as_bytes());
    assert_eq!(c.response().body, b"end", "no body bytes followed the HEAD responses");
}

fn allow_set(r: &Resp) -> BTreeSet<String> {
    r.header("allow").expect("Allow header").split(',').map(|m| m.trim().to_string()).collect()
}

fn set(methods: &[&str]) -> BTreeSet<String> {
    methods.iter().map(|m| m.to_string()).collect()
}

#[test]
fn options_lists_the_allowed_methods() {
    let s = TestServer::start();
    let r = s.request(b"OPTIONS /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(allow_set(&r), set(&["GET", "HEAD", "OPTIONS"]));
    let r = s.request(b"OPTIONS /files/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(allow_set(&r), set(&["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]));
    let r = s.request(b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(allow_set(&r).contains("GET"));
}

#[test]
fn percent_escapes_are_decoded_in_echo() {
    let s = TestServer::start();
    assert_eq!(s.get("/echo/%20x").body, b" x");
    assert_eq!(s.get("/echo/a%2Fb%41").body, b"a/bA");
}

#[test]
fn empty_lines_before_the_request_line_are_ignored() {
    let s = TestServer::start();
    let r = s.request(b"\r\n\r\nGET /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"x"[..]));
}

#[test]
fn chunked_upload_stores_the_decoded_bytes() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"POST /files/ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(b"5\r\nhello\r\n6\r\n world\r\n");
    c.send(b"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 201);
    assert_eq!(s.get("/files/ch").body, b"hello worldabcdefghijklmnopqrstuvwxyz");
}

#[test]
fn chunked_body_with_extensions_and_trailers_is_accepted_and_the_stream_stays_in_sync() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(
        b"PUT /files/ext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;name=value;x\r\nhello\r\n3 ; q=\"1\"\r\nabc\r\n0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n\
          GET /echo/next HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert!(matches!(c.response().status, 201 | 204));
    assert_eq!(c.response().body, b"next");
    assert_eq!(s.get("/files/ext").body, b"helloabc");
}

#[test]
fn body_on_get_is_answered_and_the_next_pipelined_request_still_works() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /echo/next HTTP/1.1\r\nHost: t\r\n\r\n");
    let first = c.response();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("connection"), None, "the body was consumed, so the connection stays open");
    assert_eq!(c.response().body, b"next");
}
