//! Persistent connections: when the server keeps a connection, when it
//! closes it, pipelining, bad requests, and many clients at once.

mod common;
use common::*;

use std::sync::{Arc, Barrier};
use std::time::Duration;

/// How long the server may take to close a connection it said it would close.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);
/// How long a kept connection must stay quiet and open to count as kept.
const QUIET: Duration = Duration::from_millis(200);

fn echo(path: &str) -> Vec<u8> {
    format!("GET /echo/{path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

fn assert_echo(r: &Resp, text: &str) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), text);
    assert_eq!(r.header("connection"), None, "a kept connection needs no Connection header: {r:?}");
}

#[test]
fn http_11_connection_persists_across_requests() {
    let s = TestServer::start();
    let mut c = s.client();
    for i in 0..5 {
        c.send(&echo(&format!("n{i}")));
        assert_echo(&c.response(), &format!("n{i}"));
    }
    assert!(c.still_open_after(QUIET), "HTTP/1.1 connection closed without Connection: close");
}

#[test]
fn several_routes_answered_on_one_connection() {
    let s = TestServer::start();
    std::fs::write(s.dir().join("f"), b"file body").unwrap();
    let mut c = s.client();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().header("content-type"), Some("application/json"));
    c.send(b"GET /user-agent HTTP/1.1\r\nHost: t\r\nUser-Agent: ua/1\r\n\r\n");
    assert_eq!(c.response().body, b"ua/1");
    c.send(b"GET /files/f HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"file body");
    c.send(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 404);
    c.send(b"POST /files/g HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(c.response().status, 201);
    c.send(b"DELETE /user-agent HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 405);
    c.send(&echo("last"));
    assert_echo(&c.response(), "last");
}

#[test]
fn connection_close_is_answered_with_close_and_the_server_closes() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /echo/bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.body, b"bye");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed_within(CLOSE_WITHIN), "server kept a Connection: close connection open");
}

#[test]
fn connection_close_token_among_others_closes() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /echo/x HTTP/1.1\r\nHost: t\r\nConnection: TE, Close\r\n\r\n");
    assert_eq!(c.response().header("connection"), Some("close"));
    assert!(c.closed_within(CLOSE_WITHIN));
}

#[test]
fn http_10_closes_without_keep_alive() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /echo/old HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.body, b"old");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed_within(CLOSE_WITHIN), "HTTP/1.0 connection without keep-alive left open");
}

#[test]
fn http_10_keep_alive_keeps_the_connection() {
    let s = TestServer::start();
    let mut c = s.client();
    for i in 0..3 {
        c.send(format!("GET /echo/k{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.text(), format!("k{i}"));
        assert_ne!(r.header("connection"), Some("close"), "{r:?}");
    }
    assert!(c.still_open_after(QUIET));
    c.send(b"GET /echo/end HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().body, b"end");
    assert!(c.closed_within(CLOSE_WITHIN));
}

/// An HTTP/1.0 client assumes close unless the response says otherwise
/// (RFC 2068 §19.7.1, RFC 9112 §9.3), so a kept 1.0 connection must be
/// announced with `Connection: keep-alive`, as hyper, nginx and Apache do;
/// `ab -k` and other 1.0 clients rely on it.
#[test]
fn http_10_keep_alive_response_announces_keep_alive() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /echo/k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.response();
    assert_eq!(r.body, b"k");
    let connection = r.header("connection").unwrap_or("").to_ascii_lowercase();
    assert_eq!(connection, "keep-alive", "{r:?}");
}

#[test]
fn pipelined_requests_answered_in_order() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(
        b"GET /echo/first HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /user-agent HTTP/1.1\r\nHost: t\r\nUser-Agent: second\r\n\r\n\
          GET /nope HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /echo/last HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_echo(&c.response(), "first");
    assert_echo(&c.response(), "second");
    assert_eq!(c.response().status, 404);
    assert_eq!(c.response().header("content-type"), Some("application/json"));
    assert_echo(&c.response(), "last");
    assert!(c.still_open_after(QUIET), "nothing more was asked for");
}

#[test]
fn hundred_pipelined_requests_in_one_write() {
    let s = TestServer::start();
    let mut c = s.client();
    let batch: Vec<u8> = (0..100).flat_map(|i| echo(&format!("req{i}"))).collect();
    c.send(&batch);
    for i in 0..100 {
        assert_echo(&c.response(), &format!("req{i}"));
    }
    assert!(c.still_open_after(QUIET), "exactly 100 responses were due");
}

#[test]
fn pipelined_upload_then_download_sees_the_upload() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(
        b"POST /files/p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
          GET /files/p HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(c.response().status, 201);
    let r = c.response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert_echo(&c.response(), "after");
}

#[test]
fn request_pipelined_after_connection_close_is_not_answered() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(
        b"GET /echo/one HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n\
          GET /echo/two HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let r = c.response();
    assert_eq!(r.body, b"one");
    assert_eq!(r.header("connection"), Some("close"));
    let mut rest = Vec::new();
    match std::io::Read::read_to_end(&mut c.reader, &mut rest) {
        Ok(_) => {}
        // Closing with the second request unread may reset the connection.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connection not closed after Connection: close: {e}"),
    }
    assert!(rest.is_empty(), "answered past Connection: close: {:?}", String::from_utf8_lossy(&rest));
}

#[test]
fn malformed_request_gets_400_and_the_connection_is_closed() {
    let s = TestServer::start();
    let malformed: [&[u8]; 5] = [
        b"NOT A REQUEST\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ];
    for raw in malformed {
        let mut c = s.client();
        c.send(raw);
        let r = c.response();
        assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request"), "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(r.header("connection"), Some("close"), "{r:?}");
        assert!(c.closed_within(CLOSE_WITHIN), "left open after 400 for {:?}", String::from_utf8_lossy(raw));
        assert_eq!(s.get("/echo/still-serving").body, b"still-serving");
    }
}

#[test]
fn malformed_request_after_good_ones_is_answered_in_order_then_closed() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /echo/ok HTTP/1.1\r\nHost: t\r\n\r\nBROKEN\r\n\r\nGET /echo/never HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_echo(&c.response(), "ok");
    assert_eq!(c.response().status, 400);
    assert!(c.closed_within(CLOSE_WITHIN));
    assert_eq!(s.get("/echo/fine").body, b"fine");
}

#[test]
fn hundred_concurrent_clients_with_keep_alive_requests() {
    const CLIENTS: usize = 100;
    const REQUESTS: usize = 5;
    let s = TestServer::start();
    let port = s.port;
    let start = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut c = Client::connect(([127, 0, 0, 1], port).into());
                start.wait();
                for i in 0..REQUESTS {
                    let text = format!("t{t}-r{i}");
                    c.send(&echo(&text));
                    let r = c.response();
                    assert_eq!((r.status, r.text()), (200, text));
                }
                c.send(b"GET /user-agent HTTP/1.1\r\nHost: t\r\nUser-Agent: last\r\nConnection: close\r\n\r\n");
                assert_eq!(c.response().body, b"last");
                assert!(c.closed_within(CLOSE_WITHIN));
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
}
