//! Message framing over real sockets (issue 10): every malformed shape gets
//! its 400 and the connection closes while the server goes on serving; a
//! body is read before its answer, so a short or malformed one never gets a
//! 2xx; a trickled body is cut off by the minimum rate and leaves no file.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::{Client, IO_TIMEOUT, TestServer, dir_entries};

/// How long a refused connection may take to close (the server shuts its
/// write side right after the error, then lingers reading).
const CLOSE_WITHIN: Duration = Duration::from_secs(3);

fn chunked(target: &str, body: &[u8]) -> Vec<u8> {
    let head = format!("POST {target} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    [head.as_bytes(), body].concat()
}

fn get_with_host(host: &str) -> Vec<u8> {
    format!("GET /echo/x HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

/// Chunked bodies whose framing is outside RFC 9112 §7.1.
fn bad_chunked_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut long_ext = b"5;a=".to_vec();
    long_ext.resize(64 * 1024, b'x');
    long_ext.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    let bodies: Vec<(&str, &[u8])> = vec![
        ("text after the size", b"5 x\r\nhello\r\n0\r\n\r\n"),
        ("whitespace after the size", b"5 \r\nhello\r\n0\r\n\r\n"),
        ("a bare semicolon", b"5;\r\nhello\r\n0\r\n\r\n"),
        ("a name that is not a token", b"5;a b\r\nhello\r\n0\r\n\r\n"),
        ("a control byte in an extension", b"5;a=\x01\r\nhello\r\n0\r\n\r\n"),
        ("an underscore size", b"_\r\nhello\r\n0\r\n\r\n"),
        ("a 0x size", b"0x5\r\nhello\r\n0\r\n\r\n"),
        ("a plus sign", b"+5\r\nhello\r\n0\r\n\r\n"),
        ("a leading space", b" 5\r\nhello\r\n0\r\n\r\n"),
        ("a negative size", b"-1\r\nhello\r\n0\r\n\r\n"),
        ("a bare CR after the size", b"5\rhello\r\n0\r\n\r\n"),
        ("a bare LF after the size", b"5\nhello\r\n0\r\n\r\n"),
        ("a size past 2^64", b"10000000000000000\r\nhello\r\n0\r\n\r\n"),
        ("data not followed by CRLF", b"5\r\nhelloXX\r\n0\r\n\r\n"),
        ("data followed by a bare LF", b"5\r\nhello\n0\r\n\r\n"),
        ("a trailer without a colon", b"0\r\nX-Trailer\r\n\r\n"),
        ("a folded trailer", b"0\r\nX-A: 1\r\n folded\r\n\r\n"),
        ("a trailer with a bare LF", b"0\r\nX-A: 1\n\r\n"),
    ];
    let mut v: Vec<(&str, Vec<u8>)> = bodies.into_iter().map(|(n, b)| (n, b.to_vec())).collect();
    v.push(("a 64 KiB extension", long_ext));
    v
}

/// Whole requests that are malformed in their head.
fn bad_heads() -> Vec<(&'static str, Vec<u8>)> {
    let long_method = format!("{} / HTTP/1.1\r\nHost: t\r\n\r\n", "A".repeat(100));
    vec![
        ("Host a b", get_with_host("a b")),
        ("Host a/b", get_with_host("a/b")),
        ("Host with userinfo", get_with_host("user@host")),
        ("Host with a path", get_with_host("host/path")),
        ("Host as a list", get_with_host("a, b")),
        ("empty Host", get_with_host("")),
        ("userinfo in an absolute-form target", b"GET http://u@t/ HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
        ("a space inside the target", b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
        ("chunked then gzip", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".to_vec()),
        ("an over-long method", long_method.into_bytes()),
        ("raw non-ASCII in the target", b"GET /echo/caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
        ("an encoded NUL", b"GET /echo/a%00 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
        ("an encoded CR", b"GET /echo/a%0d HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
        ("an encoded LF", b"GET /echo/a%0A HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()),
        ("a bare LF after the request line", b"GET / HTTP/1.1\nHost: t\r\n\r\n".to_vec()),
        ("a bare LF after a header", b"GET / HTTP/1.1\r\nHost: t\n\r\n".to_vec()),
    ]
}

fn assert_400_and_closed(s: &TestServer, what: &str, wire: &[u8]) {
    let mut c = s.client();
    c.send(wire);
    let r = c.response();
    assert_eq!(r.status, 400, "{what}: {:?}", String::from_utf8_lossy(&wire[..wire.len().min(200)]));
    assert_eq!(r.header("connection"), Some("close"), "{what}");
    assert!(c.closed_within(CLOSE_WITHIN), "{what}: the connection stays open");
}

#[test]
fn every_malformed_shape_gets_400_and_a_close_while_the_server_serves_on() {
    let s = TestServer::start();
    // A keep-alive neighbour, open through all of it.
    let mut neighbour = s.client();
    neighbour.send(b"GET /echo/before HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(neighbour.response().text(), "before");
    for (what, body) in bad_chunked_bodies() {
        assert_400_and_closed(&s, what, &chunked("/", &body));
        assert_400_and_closed(&s, what, &chunked("/files/upload", &body));
    }
    for (what, wire) in bad_heads() {
        assert_400_and_closed(&s, what, &wire);
    }
    assert_eq!(dir_entries(s.dir()), Vec::<std::path::PathBuf>::new(), "no upload was stored");
    neighbour.send(b"GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(neighbour.response().text(), "after");
    assert_eq!(s.get("/echo/fresh").status, 200);
}

#[test]
fn well_formed_extensions_trailers_and_hosts_are_accepted() {
    let s = TestServer::start();
    let body = b"5;name=value;q=\"a b\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n";
    let mut c = s.client();
    c.send(&chunked("/files/ok", body));
    assert_eq!(c.response().status, 201);
    for host in ["example.com:8080", "127.0.0.1", "[::1]:4221"] {
        c.send(&get_with_host(host));
        assert_eq!(c.response().status, 200, "{host}");
    }
    c.send(b"GET http://t/echo/abs HTTP/1.1\r\nHost:\r\n\r\n");
    assert_eq!(c.response().text(), "abs");
    assert_eq!(std::fs::read(s.dir().join("ok")).unwrap(), b"hello");
}

/// Everything the server sends until it closes (or the test's patience ends).
fn read_until_closed(c: &mut Client) -> Vec<u8> {
    let mut all = Vec::new();
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match c.reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    all
}

#[test]
fn post_root_with_a_short_or_malformed_body_never_gets_a_2xx() {
    let s = TestServer::start();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("Content-Length: 10, 5 bytes, EOF", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello".to_vec()),
        ("no final chunk, EOF", chunked("/", b"5\r\nhello\r\n")),
        ("a chunk cut short, EOF", chunked("/", b"5\r\nhel")),
    ];
    cases.extend(bad_chunked_bodies().into_iter().map(|(what, body)| (what, chunked("/", &body))));
    for (what, wire) in cases {
        let mut c = s.client();
        c.send(&wire);
        c.stream().shutdown(Shutdown::Write).unwrap();
        let got = String::from_utf8_lossy(&read_until_closed(&mut c)).into_owned();
        assert!(!got.contains("HTTP/1.1 2"), "{what}: {got:?}");
    }
    assert_eq!(s.get("/echo/still").status, 200);
}

#[test]
fn post_root_answers_only_once_its_body_is_in() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello");
    assert!(c.still_open_after(Duration::from_millis(300)), "answered before the body");
    c.send(b"world");
    assert_eq!(c.response().status, 200);
    // With Expect: 100-continue, the 100 comes first, the answer after the body.
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(c.response().status, 100);
    c.send(b"abc");
    assert_eq!(c.response().status, 200);
}

#[test]
fn an_error_that_needs_no_body_goes_out_at_once_with_a_close() {
    let s = TestServer::start();
    for (wire, status) in [
        (&b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"[..], 404),
        (b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n", 405),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n", 413),
    ] {
        let mut c = s.client();
        c.send(wire);
        let r = c.response();
        assert_eq!((r.status, r.header("connection")), (status, Some("close")));
        assert!(c.closed_within(CLOSE_WITHIN));
    }
}

#[test]
fn a_trickled_upload_is_cut_off_by_the_minimum_rate_and_leaves_no_file() {
    let grace = Duration::from_millis(500);
    let s = TestServer::with(|c| {
        c.body_min_rate = 1000;
        c.body_rate_grace = grace;
    });
    // Fast enough: the whole body at once is stored (10 KB buys 10 s).
    let mut c = s.client();
    let big = vec![b'x'; 10_000];
    c.send(format!("PUT /files/fast HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", big.len()).as_bytes());
    c.send(&big);
    assert_eq!(c.response().status, 201);

    // 10 bytes every 50 ms is 200 B/s: never a pause long enough for the
    // body timeout, but a fifth of the minimum rate.
    let mut c = s.client();
    let started = Instant::now();
    c.send(b"PUT /files/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    let mut writer = c.stream().try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..200 {
            if writer.write_all(&[b'y'; 10]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50)); // the trickle's pace, not synchronisation
        }
    });
    let r = c.response();
    let took = started.elapsed();
    assert_eq!(r.status, 408);
    assert!(took >= grace, "cut off after {took:?}, before the grace");
    assert!(took < Duration::from_secs(5), "cut off only after {took:?}");
    assert!(c.closed_within(CLOSE_WITHIN));
    trickle.join().unwrap();
    assert_eq!(dir_entries(s.dir()), [std::path::PathBuf::from("fast")], "the partial upload is removed");
}

#[test]
fn a_chunked_body_past_the_limit_gets_413_even_where_the_route_drops_it() {
    let s = TestServer::with(|c| c.max_body_bytes = 10);
    for target in ["/", "/files/big"] {
        let mut c = s.client();
        c.send(&chunked(target, b"6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n"));
        let r = c.response();
        assert_eq!((r.status, r.header("connection")), (413, Some("close")), "{target}");
        assert!(c.closed_within(CLOSE_WITHIN), "{target}");
    }
    // At the limit is fine.
    let mut c = s.client();
    c.send(&chunked("/", b"a\r\n0123456789\r\n0\r\n\r\n"));
    assert_eq!(c.response().status, 200);
    assert_eq!(dir_entries(s.dir()), Vec::<std::path::PathBuf>::new());
}
