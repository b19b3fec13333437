//! Requests that arrive in pieces and responses that leave in pieces: the
//! server must give the same answer however the bytes are cut.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// What must not change with how a request was cut: everything but `Date`.
fn comparable(r: &Resp) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers = r.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("date")).cloned().collect();
    (r.status, headers, r.body.clone())
}

/// A client whose every `write` goes out as its own segment.
fn nodelay_client(s: &TestServer) -> Client {
    let mut c = s.client();
    c.stream().set_nodelay(true).unwrap();
    c
}

fn send_byte_by_byte(c: &mut Client, bytes: &[u8]) {
    for b in bytes {
        c.stream().write_all(std::slice::from_ref(b)).expect("send one byte");
    }
}

fn upload(name: &str, body: &[u8]) -> Vec<u8> {
    let mut req =
        format!("POST /files/{name} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    req
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Deterministic, poorly compressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

const GET_UA: &[u8] =
    b"GET /user-agent HTTP/1.1\r\nHost: localhost\r\nUser-Agent: split-test/1.0\r\nAccept: */*\r\n\r\n";

#[test]
fn request_delivered_one_byte_per_write_is_answered_the_same() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    c.send(GET_UA);
    let whole = c.response();
    send_byte_by_byte(&mut c, GET_UA);
    let bytewise = c.response();
    assert_eq!(bytewise.body, b"split-test/1.0");
    assert_eq!(comparable(&bytewise), comparable(&whole));
    assert!(c.still_open_after(Duration::from_millis(100)));
}

#[test]
fn upload_delivered_one_byte_per_write_is_stored_whole() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    let body = b"bytes\r\n\r\none at a time\x00\xff";
    send_byte_by_byte(&mut c, &upload("slow", body));
    assert_eq!(c.response().status, 201);
    assert_eq!(std::fs::read(s.dir().join("slow")).unwrap(), body);
}

#[test]
fn chunked_upload_delivered_one_byte_per_write_is_stored_whole() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    let req = b"POST /files/chunky HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
    send_byte_by_byte(&mut c, req);
    assert_eq!(c.response().status, 201);
    assert_eq!(std::fs::read(s.dir().join("chunky")).unwrap(), b"hello, world");
}

#[test]
fn request_split_at_every_offset_gives_the_same_response() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    c.send(GET_UA);
    let expected = comparable(&c.response());
    for i in 1..GET_UA.len() {
        c.send(&GET_UA[..i]);
        c.send(&GET_UA[i..]);
        assert_eq!(comparable(&c.response()), expected, "split at {i}");
    }
}

#[test]
fn request_split_at_every_offset_on_fresh_connections_gives_the_same_response() {
    let s = TestServer::start();
    let req = b"GET /echo/fresh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let expected = comparable(&s.request(req));
    for i in 1..req.len() {
        let mut c = nodelay_client(&s);
        c.send(&req[..i]);
        c.send(&req[i..]);
        assert_eq!(comparable(&c.response()), expected, "split at {i}");
        assert!(c.closed_within(Duration::from_secs(1)), "split at {i}");
    }
}

#[test]
fn upload_split_at_every_offset_is_stored_whole() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    let body = b"0123456789\r\n\r\nabcdef";
    let req = upload("cut", body);
    for i in 1..req.len() {
        c.send(&req[..i]);
        c.send(&req[i..]);
        // The first upload creates the file, every later one replaces it.
        let want = if i == 1 { 201 } else { 204 };
        assert_eq!(c.response().status, want, "split at {i}");
        assert_eq!(std::fs::read(s.dir().join("cut")).unwrap(), body, "split at {i}");
    }
}

#[test]
fn chunked_upload_split_at_every_offset_is_stored_whole() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    let req: &[u8] = b"POST /files/chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                       3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
    for i in 1..req.len() {
        c.send(&req[..i]);
        c.send(&req[i..]);
        // The first upload creates the file, every later one replaces it.
        let want = if i == 1 { 201 } else { 204 };
        assert_eq!(c.response().status, want, "split at {i}");
        assert_eq!(std::fs::read(s.dir().join("chunks")).unwrap(), b"abc0123456789", "split at {i}");
    }
}

#[test]
fn pipelined_pair_split_at_every_offset_gives_both_responses() {
    let s = TestServer::start();
    let mut c = nodelay_client(&s);
    let pair: &[u8] =
        b"GET /echo/one HTTP/1.1\r\nHost: t\r\n\r\nPOST /files/two HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\ntwo";
    for i in 1..pair.len() {
        c.send(&pair[..i]);
        c.send(&pair[i..]);
        assert_eq!(c.response().body, b"one", "split at {i}");
        // The first upload creates the file, every later one replaces it.
        let want = if i == 1 { 201 } else { 204 };
        assert_eq!(c.response().status, want, "split at {i}");
    }
    assert_eq!(std::fs::read(s.dir().join("two")).unwrap(), b"two");
}

#[test]
fn request_then_half_close_still_gets_its_response() {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"GET /echo/half HTTP/1.1\r\nHost: t\r\n\r\n");
    c.stream().shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.response().body, b"half");
    assert!(c.closed_within(Duration::from_secs(1)), "server kept a half-closed connection");
}

#[test]
fn large_download_is_byte_exact() {
    let s = TestServer::start();
    let data = noise(8 << 20);
    std::fs::write(s.dir().join("big.bin"), &data).unwrap();
    let mut c = s.client();
    c.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/after-big HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert_eq!(sha256(&r.body), sha256(&data), "download differs from the file");
    assert_eq!(c.response().body, b"after-big", "pipelined response after a file");
}

#[test]
fn large_upload_is_stored_byte_exact() {
    let s = TestServer::start();
    let data = noise(8 << 20);
    let mut c = s.client();
    let mut writer = c.stream().try_clone().unwrap();
    let req = upload("big-up", &data);
    let sender = std::thread::spawn(move || writer.write_all(&req).expect("send upload"));
    let r = c.response();
    sender.join().unwrap();
    assert_eq!(r.status, 201);
    let stored = std::fs::read(s.dir().join("big-up")).unwrap();
    assert_eq!(sha256(&stored), sha256(&data), "stored upload differs");
}

#[test]
fn pipelined_batch_larger_than_socket_buffers_is_answered_in_order() {
    const N: usize = 400;
    let s = TestServer::start();
    let mut c = s.client();
    let pad = "p".repeat(2000);
    let batch: Vec<u8> =
        (0..N).flat_map(|i| format!("GET /echo/{i}-{pad} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()).collect();
    let mut writer = c.stream().try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&batch).expect("send batch"));
    for i in 0..N {
        let r = c.response();
        assert_eq!(r.text(), format!("{i}-{pad}"), "response {i}");
    }
    sender.join().unwrap();
    assert!(c.still_open_after(Duration::from_millis(100)));
}

#[test]
fn client_that_stops_mid_head_does_not_block_others() {
    let s = TestServer::start();
    let mut stalled = s.client();
    stalled.send(b"GET /echo/never-fini");
    assert_eq!(s.get("/echo/others").body, b"others");
    stalled.send(b"shed HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(stalled.response().body, b"never-finished");
    let mut rest = Vec::new();
    stalled.stream().shutdown(Shutdown::Write).unwrap();
    stalled.reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}
