//! Round trips with a real HTTP client (`curl`), over IPv4 and IPv6, with
//! compression, uploads and connection reuse. Without `curl` (or IPv6
//! loopback) a test is skipped with a note, and fails under CI.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

/// curl's own bound on every run, in seconds.
const CURL_MAX_TIME: &str = "10";

/// Runs curl quietly, never through a proxy, bounded by `--max-time`.
fn curl(args: &[&str]) -> Output {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--noproxy", "*", "--max-time", CURL_MAX_TIME])
        .args(args)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn url(s: &TestServer, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", s.port)
}

/// The header block curl wrote with `--dump-header`, lowercased.
fn headers_of(path: &Path) -> String {
    std::fs::read_to_string(path).expect("header dump").to_ascii_lowercase()
}

#[test]
fn curl_gets_echo_over_ipv4() {
    if !have_tool("curl") {
        return;
    }
    let s = TestServer::start();
    let out = curl(&["-4", &format!("http://127.0.0.1:{}/echo/x", s.port)]);
    assert_eq!(out.stdout, b"x");
}

#[test]
fn curl_gets_echo_over_ipv6() {
    if !have_tool("curl") {
        return;
    }
    if !have_ipv6_loopback() {
        return;
    }
    let s = TestServer::start();
    let out = curl(&["-6", &format!("http://[::1]:{}/echo/x", s.port)]);
    assert_eq!(out.stdout, b"x");
}

#[test]
fn curl_compressed_gets_gzip_and_decodes_it() {
    if !have_tool("curl") {
        return;
    }
    let s = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("headers");
    let text = "squeeze-".repeat(20);
    let out = curl(&["--compressed", "--dump-header", dump.to_str().unwrap(), &url(&s, &format!("/echo/{text}"))]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), text);
    let headers = headers_of(&dump);
    assert!(headers.starts_with("http/1.1 200 ok\r\n"), "{headers}");
    assert!(headers.contains("\r\ncontent-encoding: gzip\r\n"), "{headers}");
}

#[test]
fn curl_compressed_decodes_a_large_file_gzipped_in_chunks() {
    if !have_tool("curl") {
        return;
    }
    let s = TestServer::start();
    let text: String = (0..200_000).map(|i| format!("{i}\n")).collect();
    std::fs::write(s.dir().join("big.txt"), &text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("headers");
    let out = curl(&["--compressed", "--dump-header", dump.to_str().unwrap(), &url(&s, "/files/big.txt")]);
    assert!(out.stdout == text.as_bytes(), "curl decoded {} bytes, want {}", out.stdout.len(), text.len());
    let headers = headers_of(&dump);
    assert!(headers.contains("\r\ncontent-encoding: gzip\r\n"), "{headers}");
    assert!(headers.contains("\r\ntransfer-encoding: chunked\r\n"), "{headers}");
}

#[test]
fn curl_uploads_a_file_then_downloads_it_back() {
    if !have_tool("curl") {
        return;
    }
    let s = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let src = tmp.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let up = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", src.display()),
        "--write-out",
        "%{http_code}",
        "--output",
        "/dev/null",
        &url(&s, "/files/curl.bin"),
    ]);
    assert_eq!(String::from_utf8_lossy(&up.stdout), "201");
    assert_eq!(std::fs::read(s.dir().join("curl.bin")).unwrap(), data, "stored upload differs");

    let back = tmp.path().join("back.bin");
    curl(&["--fail", "--output", back.to_str().unwrap(), &url(&s, "/files/curl.bin")]);
    assert_eq!(std::fs::read(&back).unwrap(), data, "downloaded file differs");
}

#[test]
fn curl_reuses_one_connection_for_several_requests() {
    if !have_tool("curl") {
        return;
    }
    let s = TestServer::start();
    let out = curl(&[
        "--write-out",
        "[%{http_code} %{num_connects}]",
        &url(&s, "/echo/a"),
        &url(&s, "/echo/b"),
        &url(&s, "/user-agent"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("a[200 1]b[200 0]curl/"), "curl opened more than one connection: {text}");
    assert!(text.ends_with("[200 0]"), "{text}");
}

#[test]
fn curl_sees_404_and_405() {
    if !have_tool("curl") {
        return;
    }
    let s = TestServer::start();
    let out = curl(&["--write-out", "%{http_code}", "--output", "/dev/null", &url(&s, "/nope")]);
    assert_eq!(out.stdout, b"404");
    let out = curl(&["-X", "DELETE", "--write-out", "%{http_code}", "--output", "/dev/null", &url(&s, "/user-agent")]);
    assert_eq!(out.stdout, b"405");
}
