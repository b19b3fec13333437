//! Safe by default, on the real binary started with no flags but
//! `--directory`: nothing a client sends writes to the disk, `/metrics` is
//! not on the public port, every response says `nosniff`, a file a client
//! uploaded is never active content on this origin, and an ETag says
//! nothing about the disk. Then each flag (or its variable) that opens a
//! thing up, and only that thing.

mod common;
use common::*;

use std::path::Path;

/// The binary on a temp directory holding `hello.txt`, with `flags`.
fn server(dir: &Path, flags: &[&str]) -> BinServer {
    std::fs::write(dir.join("hello.txt"), b"hello").unwrap();
    let mut args = vec!["--host", "127.0.0.1", "--access-log", "off", "--directory", dir.to_str().unwrap()];
    args.extend_from_slice(flags);
    BinServer::start(&args)
}

/// `METHOD path` with a body, on a fresh connection.
fn send(s: &BinServer, method: &str, path: &str, body: &[u8]) -> Resp {
    let mut c = Client::connect(([127, 0, 0, 1], s.port).into());
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    c.send(head.as_bytes());
    c.send(body);
    if method == "HEAD" { c.head_response() } else { c.response() }
}

#[test]
fn writes_are_refused_without_the_flags_and_nothing_touches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let before = dir_entries(dir.path());
    for (method, path) in [
        ("PUT", "/files/new.txt"),
        ("POST", "/files/new.txt"),
        ("PUT", "/files/hello.txt"),
        ("DELETE", "/files/hello.txt"),
    ] {
        let r = send(&s, method, path, b"pwned");
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{method} {path}: Allow lists only what is enabled");
    }
    assert_eq!(dir_entries(dir.path()), before, "no file created, removed, or left half-written");
    assert_eq!(std::fs::read(dir.path().join("hello.txt")).unwrap(), b"hello");
    assert_eq!(send(&s, "OPTIONS", "/files/hello.txt", b"").header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(send(&s, "OPTIONS", "*", b"").header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(s.get("/files/hello.txt").body, b"hello", "reading is what the directory is for");
}

#[test]
fn allow_upload_opens_post_and_put_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--allow-upload"]);
    assert_eq!(send(&s, "PUT", "/files/new.txt", b"new").status, 201);
    assert_eq!(send(&s, "POST", "/files/new.txt", b"newer").status, 204);
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), b"newer");
    let r = send(&s, "DELETE", "/files/new.txt", b"");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD, POST, PUT, OPTIONS")));
    assert!(dir.path().join("new.txt").exists());
}

#[test]
fn allow_delete_opens_delete_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--allow-delete"]);
    let r = send(&s, "PUT", "/files/new.txt", b"new");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD, DELETE, OPTIONS")));
    assert!(!dir.path().join("new.txt").exists());
    assert_eq!(send(&s, "DELETE", "/files/hello.txt", b"").status, 204);
    assert!(!dir.path().join("hello.txt").exists());
}

#[test]
fn the_write_variables_take_the_usual_booleans() {
    for (value, want) in [("1", 201), ("true", 201), ("yes", 201), ("0", 405), ("false", 405), ("no", 405)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let s = BinServer::start_with(&["--host", "127.0.0.1", "--access-log", "off"], |cmd| {
            cmd.env("LOOPHTTP_DIRECTORY", &d).env("LOOPHTTP_ALLOW_UPLOAD", value).env("LOOPHTTP_ALLOW_DELETE", value);
        });
        assert_eq!(send(&s, "PUT", "/files/f", b"x").status, want, "LOOPHTTP_ALLOW_UPLOAD={value}");
        let deleted = if want == 201 { 204 } else { 405 };
        assert_eq!(send(&s, "DELETE", "/files/f", b"").status, deleted, "LOOPHTTP_ALLOW_DELETE={value}");
    }
}

#[test]
fn metrics_are_not_on_the_public_port_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    assert_eq!(s.get("/metrics").status, 404, "/metrics is private by default");
    assert_eq!(s.get("/healthz").body, b"ok", "/healthz stays public");
    let s = server(dir.path(), &["--metrics-public"]);
    let r = s.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("loophttp_requests_total"), "{}", r.text());
}

#[test]
fn every_response_says_nosniff() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let answers = [
        s.get("/"),
        s.get("/echo/x"),
        s.get("/user-agent"),
        s.get("/files/hello.txt"),
        s.get("/files/missing"),
        s.get("/healthz"),
        s.get("/nowhere"),
        send(&s, "PUT", "/files/x", b"x"),
        send(&s, "HEAD", "/files/hello.txt", b""),
        s.get("/files/%2e%2e"),
    ];
    for r in answers {
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{} {:?}", r.status, r.headers);
    }
}

#[test]
fn uploaded_html_and_svg_are_sandboxed_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--allow-upload"]);
    let page = b"<script>alert(document.domain)</script>";
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>";
    for (name, body, ctype) in [("e.html", &page[..], "text/html"), ("e.svg", &svg[..], "image/svg+xml")] {
        assert_eq!(send(&s, "PUT", &format!("/files/{name}"), body).status, 201);
        let r = s.get(&format!("/files/{name}"));
        assert_eq!(r.body, body);
        assert!(r.header("content-type").is_some_and(|t| t.starts_with(ctype)), "{name}: {:?}", r.headers);
        assert_eq!(r.header("content-security-policy"), Some("sandbox"), "{name}: {:?}", r.headers);
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{name}");
    }
    // The operator's own files, on a server nobody can write to, are served as they are.
    let s = server(dir.path(), &[]);
    assert_eq!(s.get("/files/e.html").header("content-security-policy"), None);
}

#[test]
fn an_etag_is_size_and_mtime_without_the_inode() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--allow-upload"]);
    let meta = std::fs::metadata(dir.path().join("hello.txt")).unwrap();
    let etag = s.get("/files/hello.txt").header("etag").unwrap().to_string();
    let nanos = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    assert_eq!(etag, format!("\"{:x}-{nanos:x}\"", meta.len()));
    assert!(!etag.contains(&format!("{:x}", meta.ino())), "{etag} holds inode {:x}", meta.ino());
    // Replaced by a body of the same size at once: a new tag all the same.
    let mut tags = vec![etag];
    for body in [b"HELLO", b"hello", b"HeLLo"] {
        assert_eq!(send(&s, "PUT", "/files/hello.txt", body).status, 204);
        let tag = s.get("/files/hello.txt").header("etag").unwrap().to_string();
        assert!(!tags.contains(&tag), "{tag} was already used: {tags:?}");
        tags.push(tag);
    }
}
