//! The routes as a client sees them: status lines, the headers every
//! response carries, bodies, and gzip negotiation, over real sockets.

mod common;
use common::*;

use std::io::Read;
use std::time::{Duration, SystemTime};

/// Every response carries a matching `Content-Length`, a current `Date`
/// and `Server: loophttp/<version>`.
fn assert_standard_headers(r: &Resp) {
    let len = r.header("content-length").unwrap_or_else(|| panic!("no Content-Length in {r:?}"));
    assert_eq!(len.parse::<usize>().expect("numeric Content-Length"), r.body.len(), "{r:?}");
    let date = r.header("date").unwrap_or_else(|| panic!("no Date in {r:?}"));
    assert!(date.ends_with(" GMT"), "Date {date:?}");
    let when = httpdate::parse_http_date(date).unwrap_or_else(|e| panic!("Date {date:?}: {e}"));
    let skew = match when.duration_since(SystemTime::now()) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    };
    assert!(skew < Duration::from_secs(5), "Date {date:?} is {skew:?} off");
    assert_eq!(r.header("server"), Some(concat!("loophttp/", env!("CARGO_PKG_VERSION"))), "{r:?}");
}

/// Sends `raw` (which must ask for `Connection: close`) and returns every
/// byte the server sends before closing.
fn raw_exchange(s: &TestServer, raw: &[u8]) -> Vec<u8> {
    let mut c = s.client();
    c.send(raw);
    let mut all = Vec::new();
    c.reader.read_to_end(&mut all).expect("read until close");
    all
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("valid gzip body");
    out
}

fn get_with_encoding(s: &TestServer, path: &str, accept: &str) -> Resp {
    s.request(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

#[test]
fn root_answers_json_description_of_the_request() {
    let s = TestServer::start();
    let r = s.get("/");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON body");
    assert_eq!(json, serde_json::json!({"message": "Request received successfully", "method": "GET", "path": "/"}));
    // Byte for byte as documented, for clients that compare text.
    assert_eq!(r.body, br#"{"message": "Request received successfully", "method": "GET", "path": "/"}"#);
    assert_standard_headers(&r);
}

#[test]
fn root_json_names_the_method_and_routes_by_path_without_query() {
    let s = TestServer::start();
    let r = s.request(b"POST /?q=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.body, br#"{"message": "Request received successfully", "method": "POST", "path": "/"}"#);
}

#[test]
fn echo_returns_the_rest_of_the_path_as_plain_text() {
    let s = TestServer::start();
    let r = s.get("/echo/abc");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("3"));
    assert_eq!(r.body, b"abc");
    assert_standard_headers(&r);
}

#[test]
fn echo_response_bytes_are_exact() {
    let s = TestServer::start();
    let all = raw_exchange(&s, b"GET /echo/hi HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8(all).expect("ASCII response");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    assert!(text.contains("\r\nContent-Type: text/plain\r\n"), "{text:?}");
    assert!(text.contains("\r\nContent-Length: 2\r\n"), "{text:?}");
    assert!(text.ends_with("\r\n\r\nhi"), "{text:?}");
}

#[test]
fn user_agent_is_echoed_as_plain_text() {
    let s = TestServer::start();
    let r = s.request(b"GET /user-agent HTTP/1.1\r\nHost: t\r\nUser-Agent: foobar/1.2.3\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.body, b"foobar/1.2.3");
    assert_standard_headers(&r);
}

#[test]
fn file_download_returns_exact_bytes_as_octet_stream() {
    let s = TestServer::start();
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    std::fs::write(s.dir().join("blob"), &data).unwrap();
    let r = s.get("/files/blob");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, data);
    assert_standard_headers(&r);
}

#[test]
fn missing_file_is_404() {
    let s = TestServer::start();
    let r = s.get("/files/absent");
    assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"));
    assert_standard_headers(&r);
}

#[test]
fn file_upload_answers_201_created_and_stores_the_body() {
    let s = TestServer::start();
    let body = b"uploaded \x00\xff bytes";
    let mut req = format!("POST /files/new HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    let mut c = s.client();
    c.send(&req);
    let r = c.response();
    assert_eq!((r.status, r.reason.as_str()), (201, "Created"));
    assert_standard_headers(&r);
    assert_eq!(std::fs::read(s.dir().join("new")).unwrap(), body);
    c.send(b"GET /files/new HTTP/1.1\r\nHost: t\r\n\r\n");
    let back = c.response();
    assert_eq!(back.status, 200);
    assert_eq!(back.body, body);
}

#[test]
fn unknown_path_is_404_not_found() {
    let s = TestServer::start();
    for path in ["/nope", "/echo", "/user-agent/x", "/files", "/index.html"] {
        let all = raw_exchange(&s, format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        assert!(all.starts_with(b"HTTP/1.1 404 Not Found\r\n"), "{path}: {:?}", String::from_utf8_lossy(&all));
        let r = s.get(path);
        assert_standard_headers(&r);
    }
}

#[test]
fn wrong_method_on_known_path_is_405_with_allow() {
    let s = TestServer::start();
    let cases: [(&[u8], &str); 3] = [
        (b"POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "POST"),
        (b"DELETE /user-agent HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "DELETE"),
        (b"PUT /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "PUT"),
    ];
    for (raw, method) in cases {
        let r = s.request(raw);
        assert_eq!((r.status, r.reason.as_str()), (405, "Method Not Allowed"), "{method}");
        let allow = r.header("allow").unwrap_or_else(|| panic!("{method}: no Allow in {r:?}"));
        let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert!(methods.contains(&"GET"), "{method}: Allow {allow:?}");
        assert!(!methods.contains(&method), "{method}: Allow {allow:?}");
        assert_standard_headers(&r);
    }
}

#[test]
fn bad_request_carries_the_standard_headers() {
    let s = TestServer::start();
    let r = s.request(b"GET / HTTP/1.1\r\nHost: t\r\nNo colon\r\n\r\n");
    assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request"));
    assert_standard_headers(&r);
}

#[test]
fn gzip_is_used_when_accept_encoding_lists_it() {
    let s = TestServer::start();
    for accept in
        ["gzip", "deflate, gzip, br", "br, deflate, gzip", "gzip, deflate", "deflate;q=1.0, gzip;q=0.5", "GZIP"]
    {
        let r = get_with_encoding(&s, "/echo/compress-me-compress-me", accept);
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{accept}: {r:?}");
        assert_eq!(r.header("content-type"), Some("text/plain"), "{accept}");
        assert_standard_headers(&r); // Content-Length is the compressed length
        assert_eq!(gunzip(&r.body), b"compress-me-compress-me", "{accept}");
    }
}

#[test]
fn gzip_is_not_used_when_refused_or_not_offered() {
    let s = TestServer::start();
    for accept in ["gzip;q=0", "br", "deflate, br", "identity", "br;q=1, gzip;q=0.0"] {
        let r = get_with_encoding(&s, "/echo/plain", accept);
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.header("content-encoding"), None, "{accept}: {r:?}");
        assert_eq!(r.body, b"plain", "{accept}");
        assert_standard_headers(&r);
    }
    let r = s.get("/echo/plain");
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, b"plain");
}

#[test]
fn gzip_applies_to_user_agent_and_root() {
    let s = TestServer::start();
    let r = s.request(
        b"GET /user-agent HTTP/1.1\r\nHost: t\r\nUser-Agent: zipped/1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_standard_headers(&r);
    assert_eq!(gunzip(&r.body), b"zipped/1");

    let r = get_with_encoding(&s, "/", "gzip");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_standard_headers(&r);
    let json: serde_json::Value = serde_json::from_slice(&gunzip(&r.body)).expect("JSON body");
    assert_eq!(json["path"], "/");
}
