//! The access log, read as log tools read it: every kind of request gives
//! one line that a Combined regex (or a JSON parser) takes apart into the
//! right values, hostile bytes included; a stalled reader costs lines, not
//! service; a clean shutdown loses nothing.

mod common;
use common::*;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use regex::Regex;

/// One Combined field: any byte but `"` and `\`, or an escape, or the
/// truncation marker.
const FIELD: &str = r#"((?:[^"\\]|\\x[0-9A-F]{2}|\\\.\.\.)*)"#;

fn combined_regex() -> Regex {
    Regex::new(&format!(
        r#"^(\S+) - - \[(\d{{2}}/[A-Z][a-z]{{2}}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}} \+0000)\] "{FIELD}" (\d{{3}}) (\d+) "{FIELD}" "{FIELD}" (\d+\.\d{{6}})$"#
    ))
    .unwrap()
}

#[derive(Debug)]
struct Line {
    peer: String,
    request: String,
    status: u16,
    body_bytes: u64,
    referer: String,
    agent: String,
    seconds: f64,
}

fn parse_combined(line: &str) -> Line {
    let c = combined_regex().captures(line).unwrap_or_else(|| panic!("not Combined: {line:?}"));
    Line {
        peer: c[1].to_owned(),
        request: c[3].to_owned(),
        status: c[4].parse().unwrap(),
        body_bytes: c[5].parse().unwrap(),
        referer: c[6].to_owned(),
        agent: c[7].to_owned(),
        seconds: c[8].parse().unwrap(),
    }
}

/// The lines of the log file once it has at least `n` (lines are batched
/// for up to ~100 ms).
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    eventually(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(path).ok()?;
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        (lines.len() >= n).then_some(lines)
    })
    .unwrap_or_else(|| panic!("fewer than {n} lines in {}: {:?}", path.display(), std::fs::read_to_string(path)))
}

struct Logged {
    _dir: tempfile::TempDir,
    log: PathBuf,
    server: BinServer,
}

fn start(format: &str) -> Logged {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("hello.txt"), b"hello file").unwrap();
    let args = [
        "--host",
        "127.0.0.1",
        "--access-log",
        log.to_str().unwrap(),
        "--access-log-format",
        format,
        "--directory",
        files.to_str().unwrap(),
        "--allow-upload",
        "--allow-delete",
        "--header-timeout",
        "1s",
        "--max-body-bytes",
        "1000",
    ];
    let server = BinServer::start(&args);
    Logged { _dir: dir, log, server }
}

fn addr(s: &BinServer) -> SocketAddr {
    ([127, 0, 0, 1], s.port).into()
}

/// Sends `raw` on a new connection and reads until the server closes it.
fn exchange(s: &BinServer, raw: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(addr(s));
    c.send(raw);
    let mut out = Vec::new();
    let _ = c.reader.read_to_end(&mut out);
    out
}

/// Every kind of request, in order; returns (request-line as logged,
/// status, body bytes, agent as logged).
fn every_kind(s: &BinServer) -> Vec<(&'static str, u16, u64, &'static str)> {
    let close = "Connection: close\r\n";
    exchange(s, format!("GET /echo/a HTTP/1.1\r\nHost: t\r\nUser-Agent: curl/8.1\r\n{close}\r\n").as_bytes());
    exchange(s, format!("HEAD / HTTP/1.1\r\nHost: t\r\n{close}\r\n").as_bytes());
    exchange(s, format!("POST /files/up.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n{close}\r\nabcde").as_bytes());
    exchange(
        s,
        format!("GET /files/hello.txt HTTP/1.1\r\nHost: t\r\nReferer: http://r.example/\r\n{close}\r\n").as_bytes(),
    );
    exchange(s, format!("GET /missing HTTP/1.1\r\nHost: t\r\n{close}\r\n").as_bytes());
    exchange(s, format!("DELETE /user-agent HTTP/1.1\r\nHost: t\r\n{close}\r\n").as_bytes());
    // Hostile: a quote, a backslash, non-UTF-8, a would-be second line.
    exchange(
        s,
        b"GET /echo/q\"x HTTP/1.1\r\nHost: t\r\nUser-Agent: a\"b\\c\xff\" 200 1 \"-\r\nConnection: close\r\n\r\n",
    );
    exchange(s, b"GARBAGE\r\n\r\n");
    exchange(s, format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "u".repeat(9000)).as_bytes());
    exchange(s, format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "b".repeat(20_000)).as_bytes());
    exchange(s, b"POST /files/big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    exchange(s, b"GET /echo/slow HTTP/1.1\r\nHost: t\r\n"); // header timeout (1 s)
    vec![
        ("GET /echo/a HTTP/1.1", 200, 1, "curl/8.1"),
        ("HEAD / HTTP/1.1", 200, 0, "-"),
        ("POST /files/up.txt HTTP/1.1", 201, 7, "-"),
        ("GET /files/hello.txt HTTP/1.1", 200, 10, "-"),
        ("GET /missing HTTP/1.1", 404, 9, "-"),
        ("DELETE /user-agent HTTP/1.1", 405, 18, "-"),
        ("GET /echo/q\\x22x HTTP/1.1", 200, 3, "a\\x22b\\x5Cc\\xFF\\x22 200 1 \\x22-"),
        ("GARBAGE", 400, 11, "-"),
        ("", 414, 12, "-"),
        ("GET / HTTP/1.1", 431, 31, "-"),
        ("POST /files/big HTTP/1.1", 413, 17, "-"),
        ("GET /echo/slow HTTP/1.1", 408, 15, "-"),
    ]
}

#[test]
fn every_kind_of_request_gives_one_combined_line_with_its_values() {
    let l = start("combined");
    let want = every_kind(&l.server);
    let lines = wait_lines(&l.log, want.len());
    assert_eq!(lines.len(), want.len(), "{lines:#?}");
    for (line, (request, status, body, agent)) in lines.iter().zip(want) {
        let got = parse_combined(line);
        assert_eq!(got.peer, "127.0.0.1");
        assert_eq!(got.status, status, "{line}");
        assert_eq!(got.body_bytes, body, "{line}");
        assert_eq!(got.agent, agent, "{line}");
        if status == 414 {
            // Cut at its limit, marked.
            assert!(got.request.starts_with("GET /uuuu") && got.request.contains("\\..."), "{line}");
        } else {
            assert_eq!(got.request, request, "{line}");
        }
        assert!(got.seconds < 5.0, "{line}");
        if request.starts_with("GET /files/hello") {
            assert_eq!(got.referer, "http://r.example/");
        }
    }
    let timed_out = parse_combined(&lines[11]);
    assert!(timed_out.seconds >= 0.9, "the 408 took the header timeout: {}", lines[11]);
}

#[test]
fn json_lines_carry_every_field() {
    let l = start("json");
    let want = every_kind(&l.server);
    let lines = wait_lines(&l.log, want.len());
    let mut conns = std::collections::HashSet::new();
    let rfc3339 = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$").unwrap();
    for (line, (_, status, body, _)) in lines.iter().zip(&want) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["status"], *status, "{line}");
        assert_eq!(v["body_bytes_sent"], *body, "{line}");
        assert!(v["bytes_sent"].as_u64().unwrap() > *body, "the head counts in bytes_sent: {line}");
        assert_eq!(v["peer"], "127.0.0.1");
        assert_eq!(v["request"], 1, "one request per connection here: {line}");
        assert!(conns.insert(v["connection"].as_u64().unwrap()), "connection ids are distinct");
        let time = v["time"].as_str().unwrap();
        assert!(rfc3339.is_match(time), "{time}");
        assert!(v["duration_us"].is_u64() && v["bytes_received"].as_u64().unwrap() > 0, "{line}");
    }
    let hostile: serde_json::Value = serde_json::from_str(&lines[6]).unwrap();
    assert_eq!(hostile["target"], "/echo/q\"x");
    assert_eq!(hostile["user_agent"], "a\"b\\x5Cc\\xFF\" 200 1 \"-");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!((first["method"].as_str(), first["version"].as_str()), (Some("GET"), Some("HTTP/1.1")));
    assert_eq!(first["user_agent"], "curl/8.1");
    assert_eq!(first["referer"], serde_json::Value::Null);
}

#[test]
fn pipelined_requests_are_numbered_on_their_connection() {
    let l = start("json");
    let mut c = Client::connect(addr(&l.server));
    c.send(b"GET /echo/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/2 HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/3 HTTP/1.1\r\nHost: t\r\n\r\n");
    for i in 1..=3 {
        assert_eq!(c.response().text(), i.to_string());
    }
    let lines = wait_lines(&l.log, 3);
    let v: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v.iter().map(|v| v["request"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(v.iter().all(|x| x["connection"] == v[0]["connection"]));
}

#[test]
fn a_client_that_leaves_mid_response_is_logged_499_with_the_bytes_it_got() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 32 << 20]).unwrap();
    let s = BinServer::start(&[
        "--access-log",
        log.to_str().unwrap(),
        "--directory",
        dir.path().to_str().unwrap(),
        "--access-log-format",
        "json",
    ]);
    let mut c = Client::connect(addr(&s));
    c.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut some = [0u8; 1000];
    c.reader.read_exact(&mut some).unwrap();
    // Close with unread data: the kernel resets the connection.
    drop(c);
    let v: serde_json::Value = serde_json::from_str(&wait_lines(&log, 1)[0]).unwrap();
    assert_eq!(v["status"], 499, "{v}");
    let sent = v["bytes_sent"].as_u64().unwrap();
    assert!((1000..32 << 20).contains(&sent), "bytes actually sent: {sent}");
}

#[test]
fn a_clean_shutdown_writes_every_buffered_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let s = TestServer::with(|c| c.access_log = loophttp::access_log::Destination::File(log.clone()));
    let mut c = s.client();
    for i in 0..50 {
        c.send(format!("GET /echo/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().status, 200);
    }
    drop(c);
    drop(s); // shuts down and waits: the batch must be flushed, not lost
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 50, "{text}");
}

#[test]
fn health_checks_answer_ok_and_stay_out_of_the_log() {
    let l = start("combined");
    let mut c = Client::connect(addr(&l.server));
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_response();
    assert_eq!((r.status, r.header("content-length")), (200, Some("2")));
    c.send(b"GET /echo/after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 200);
    let lines = wait_lines(&l.log, 1);
    assert!(lines.iter().all(|l| !l.contains("/healthz")), "{lines:#?}");
    assert!(lines[0].contains("/echo/after"));
}

#[test]
fn a_stalled_stdout_reader_costs_lines_not_service() {
    // stdout is a pipe nobody reads: it fills, the writer thread blocks,
    // the channel fills, and the loop must keep answering.
    let mut s = BinServer::start_with(&["--host", "127.0.0.1", "--access-log", "-", "--metrics-public"], |cmd| {
        cmd.stdout(Stdio::piped());
    });
    let target = format!("/echo/{}", "z".repeat(2000));
    let mut c = Client::connect(addr(&s));
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut answered = 0;
    for _ in 0..1200 {
        let mut batch = String::new();
        for _ in 0..16 {
            batch.push_str(&request);
        }
        c.send(batch.as_bytes());
        for _ in 0..16 {
            assert_eq!(c.response().status, 200);
            answered += 1;
        }
    }
    assert_eq!(answered, 1200 * 16);
    let warning = s.wait_for_line(Duration::from_secs(10), |l| l.contains("not keeping up"));
    assert!(warning.is_some(), "the drop was reported: {:#?}", s.collect());
    c.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let metrics = c.response().text();
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("loophttp_access_log_dropped_lines_total "))
        .expect("dropped-lines counter")
        .parse()
        .unwrap();
    assert!(dropped > 0.0, "{dropped}");
    let reports = s.collect().iter().filter(|l| l.contains("not keeping up")).count();
    assert_eq!(reports, 1, "reported once, not per batch");
    // The pipe's read end stayed open, unread, until here.
    assert!(s.child.stdout.is_some());
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let s =
        BinServer::start(&["--host", "127.0.0.1", "--access-log", log.to_str().unwrap(), "--trust-proxy", "127.0.0.1"]);
    let mut c = Client::connect(addr(&s));
    c.send(b"GET /echo/p HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n\r\n");
    assert_eq!(c.response().status, 200);
    c.send(b"GET /echo/q HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 200);
    let lines = wait_lines(&log, 2);
    assert_eq!(parse_combined(&lines[0]).peer, "203.0.113.9", "the address the proxy saw, not the client's claim");
    assert_eq!(parse_combined(&lines[1]).peer, "127.0.0.1", "no header: the proxy itself");
}

#[test]
fn repeated_forwarding_lines_are_logged_as_the_same_values_on_one_line() {
    // nginx appends to the last X-Forwarded-For; a proxy that adds a line of
    // its own means the same list (RFC 9110 §5.3), and must name the same client.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let s = BinServer::start(&[
        "--host",
        "127.0.0.1",
        "--access-log",
        log.to_str().unwrap(),
        "--trust-proxy",
        "127.0.0.1,10.0.0.0/8",
    ]);
    let mut c = Client::connect(addr(&s));
    for lines in [
        "X-Forwarded-For: 198.51.100.1, 203.0.113.9, 10.0.0.2\r\n",
        "X-Forwarded-For: 198.51.100.1, 203.0.113.9\r\nX-Forwarded-For: 10.0.0.2\r\n",
        "X-Forwarded-For: 198.51.100.1\r\nUser-Agent: t\r\nX-Forwarded-For: 203.0.113.9\r\nx-forwarded-for: 10.0.0.2\r\n",
        "Forwarded: for=198.51.100.1, for=203.0.113.9\r\nForwarded: for=10.0.0.2\r\n",
    ] {
        c.send(format!("GET /echo/p HTTP/1.1\r\nHost: t\r\n{lines}\r\n").as_bytes());
        assert_eq!(c.response().status, 200);
    }
    let lines = wait_lines(&log, 4);
    for line in &lines {
        assert_eq!(parse_combined(line).peer, "203.0.113.9", "{line}");
    }
}

#[test]
fn json_lines_escape_what_could_break_or_disguise_them() {
    // C1 controls (U+0085 is a line break to some readers), the line and
    // paragraph separators, and bidi controls that can make a line read
    // backwards: valid UTF-8, so JSON allows them raw; we write \uXXXX.
    let l = start("json");
    let hostile = "a\u{85}b\u{9b}c\u{2028}d\u{2029}e\u{202e}f\u{2066}g\u{2069}h";
    let raw = format!("GET /echo/x HTTP/1.1\r\nHost: t\r\nUser-Agent: {hostile}\r\nConnection: close\r\n\r\n");
    exchange(&l.server, raw.as_bytes());
    let line = wait_lines(&l.log, 1).remove(0);
    for c in hostile.chars().filter(|c| !c.is_ascii()) {
        assert!(!line.contains(c), "U+{:04X} written raw: {line:?}", u32::from(c));
        assert!(line.contains(&format!("\\u{:04X}", u32::from(c))), "U+{:04X} not escaped: {line}", u32::from(c));
    }
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["user_agent"], hostile, "the value reads back whole");
}
