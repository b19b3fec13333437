//! What a container or service manager relies on: configuration from
//! `LOOPHTTP_*` environment variables (a flag still wins), and
//! `--probe URL`, the health check that needs no shell.

mod common;
use common::*;

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn loophttp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loophttp"));
    // The test's own environment must not leak into the server under test.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOOPHTTP_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `loophttp --probe URL` (with a short timeout) to completion.
fn probe(url: &str) -> Output {
    loophttp().args(["--probe", url, "--probe-timeout", "500ms"]).output().expect("run the probe")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn an_environment_variable_sets_the_port() {
    let port = free_port();
    let mut server = BinServer::start_with(&[], |cmd| {
        // BinServer passes `--port 0`; a `--` cannot remove it, so start our own command line.
        *cmd = loophttp();
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        cmd.env("LOOPHTTP_PORT", port.to_string()).env("LOOPHTTP_HOST", "127.0.0.1");
    });
    let started_on = server.port;
    assert_eq!(started_on, port, "log: {:#?}", server.collect());
    let mut c = Client::connect(([127, 0, 0, 1], port).into());
    c.send(b"GET /echo/env HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().body, b"env");
}

#[test]
fn a_flag_overrides_its_environment_variable() {
    // The variable names a port that is taken: starting at all proves the flag won.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"from env dir").unwrap();
    let server = BinServer::start_with(&["--host", "127.0.0.1"], |cmd| {
        cmd.env("LOOPHTTP_PORT", taken_port.to_string())
            .env("LOOPHTTP_HOST", "::")
            .env("LOOPHTTP_DIRECTORY", dir.path());
    });
    assert_ne!(server.port, taken_port);
    let mut c = Client::connect(([127, 0, 0, 1], server.port).into());
    c.send(b"GET /files/f HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().body, b"from env dir", "LOOPHTTP_DIRECTORY applies when no flag is given");
}

#[test]
fn help_names_the_environment_variables() {
    let out = loophttp().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in ["LOOPHTTP_PORT", "LOOPHTTP_DIRECTORY", "LOOPHTTP_TRUST_PROXY", "LOOPHTTP_MAX_BODY_BYTES"] {
        assert!(help.contains(&format!("[env: {var}=")), "--help does not show {var}:\n{help}");
    }
    assert!(help.contains("--probe <URL>"), "{help}");
}

#[test]
fn a_bad_trust_proxy_value_is_a_startup_error() {
    let out = loophttp().args(["--port", "0", "--trust-proxy", "10.0.0.0/8,10.1.0.0/8"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10.1.0.0/8") && err.contains("10.0.0.0/8"), "{err}");
}

/// A client on 127.0.0.2 (still loopback) talking to `port`.
fn client_from_127_0_0_2(port: u16) -> Client {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 2], 0)).into()).unwrap();
    socket.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).unwrap();
    Client::from_stream(socket.into())
}

/// The first field of each access-log line, once `n` lines are there.
fn logged_peers(log: &std::path::Path, n: usize) -> Vec<String> {
    let lines = eventually(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(log).ok()?;
        let peers: Vec<String> = text.lines().map(|l| l.split(' ').next().unwrap_or("").to_string()).collect();
        (peers.len() >= n).then_some(peers)
    });
    lines.unwrap_or_else(|| panic!("fewer than {n} lines in {}", log.display()))
}

#[test]
fn forwarding_headers_from_a_peer_not_trusted_are_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let args = ["--host", "127.0.0.1", "--access-log", log.to_str().unwrap(), "--trust-proxy", "127.0.0.1"];
    let server = BinServer::start(&args);
    let mut stranger = client_from_127_0_0_2(server.port);
    stranger.send(b"GET /echo/a HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
    assert_eq!(stranger.response().status, 200);
    stranger.send(b"GET /echo/b HTTP/1.1\r\nHost: t\r\nForwarded: for=203.0.113.9\r\n\r\n");
    assert_eq!(stranger.response().status, 200);
    let mut proxy = Client::connect(([127, 0, 0, 1], server.port).into());
    proxy.send(b"GET /echo/c HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9, 127.0.0.2\r\n\r\n");
    assert_eq!(proxy.response().status, 200);
    assert_eq!(logged_peers(&log, 3), ["127.0.0.2", "127.0.0.2", "127.0.0.2"]);
}

#[test]
fn probe_exits_zero_on_a_2xx_and_one_otherwise() {
    let server = BinServer::start(&["--host", "127.0.0.1"]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let ok = probe(&format!("{base}/echo/ok"));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), format!("{base}/echo/ok: 200"));
    assert!(probe(&base).status.success(), "no path means /");
    let missing = probe(&format!("{base}/no-such-route"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("status 404"));
}

#[test]
fn probe_ignores_the_server_configuration_in_the_environment() {
    let server = BinServer::start(&["--host", "127.0.0.1"]);
    let out = loophttp()
        .env("LOOPHTTP_DIRECTORY", "/nonexistent")
        .env("LOOPHTTP_PORT", "1")
        .args(["--probe", &format!("http://127.0.0.1:{}/", server.port)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn probe_fails_when_nothing_listens() {
    let out = probe(&format!("http://127.0.0.1:{}/", free_port()));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to"), "{out:?}");
}

#[test]
fn probe_gives_up_on_a_server_that_never_answers() {
    // Accepts (the kernel completes the handshake) but never reads or writes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    let out = probe(&format!("http://127.0.0.1:{}/healthz", silent.local_addr().unwrap().port()));
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert!(String::from_utf8_lossy(&out.stderr).contains("healthz"), "{out:?}");
}

#[test]
fn probe_refuses_what_is_not_an_http_url() {
    for url in ["https://127.0.0.1/", "127.0.0.1:4221", "http://"] {
        let out = probe(url);
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("expected http://"), "{url}: {out:?}");
    }
}
