//! The `loophttp` binary: flags, `--help` / `--version`, the startup log
//! line, and startup errors that end the process with one clear message.

mod common;
use common::*;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long a run that should end at once may take.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn loophttp(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loophttp"));
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion; fails the test if it is still running
/// after [`EXIT_WITHIN`]. The outputs are small enough to fit the pipes.
fn run(args: &[&str]) -> Finished {
    let mut child = loophttp(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start loophttp");
    let status = eventually(EXIT_WITHIN, || child.try_wait().expect("wait"));
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("loophttp {args:?} still running after {EXIT_WITHIN:?}");
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    Finished { status, stdout, stderr }
}

/// A startup failure: non-zero exit, no panic, and exactly one error line
/// that mentions `needle`.
fn assert_fails_clearly(args: &[&str], needle: &str) -> Finished {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} exited successfully; stderr: {}", out.stderr);
    assert!(out.status.code().is_some(), "{args:?} died by a signal: {:?}", out.status);
    assert!(!out.stderr.contains("panicked"), "{args:?} panicked: {}", out.stderr);
    assert!(!out.stderr.to_ascii_lowercase().contains("backtrace"), "{args:?}: {}", out.stderr);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.contains("ERROR") || l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{args:?} should give one error line: {}", out.stderr);
    assert!(errors[0].contains(needle), "{args:?}: error line {:?} does not mention {needle:?}", errors[0]);
    out
}

#[test]
fn help_lists_the_flags_and_exits_zero() {
    let out = run(&["--help"]);
    assert!(out.status.success(), "{}", out.stderr);
    for flag in ["Usage", "--host", "--port", "--directory", "--log-level", "--workers", "--help", "--version"] {
        assert!(out.stdout.contains(flag), "--help does not mention {flag}:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("4221"), "--help should show the default port:\n{}", out.stdout);
}

#[test]
fn version_prints_the_package_version() {
    let out = run(&["--version"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), concat!("loophttp ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn startup_line_names_the_address_and_both_urls_when_dual_stack() {
    let r = BinServer::start(&[]);
    let (p, line) = (r.port, &r.startup_line);
    assert!(line.contains(&format!("listening on [::]:{p}")), "{line}");
    assert!(line.contains(&format!("http://127.0.0.1:{p}/")), "{line}");
    assert_eq!(r.get("/echo/up").body, b"up");
    if have_ipv6_loopback() {
        assert!(line.contains(&format!("http://[::1]:{p}/")), "{line}");
    }
}

#[test]
fn host_127_0_0_1_startup_line_has_only_the_ipv4_url() {
    let r = BinServer::start(&["--host", "127.0.0.1"]);
    let (p, line) = (r.port, &r.startup_line);
    assert!(line.contains(&format!("listening on 127.0.0.1:{p}")), "{line}");
    assert!(line.contains(&format!("http://127.0.0.1:{p}/")), "{line}");
    assert!(!line.contains("[::1]"), "{line}");
    assert_eq!(r.get("/echo/v4").body, b"v4");
}

#[test]
fn directory_flag_serves_and_stores_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello"), b"from disk").unwrap();
    let r = BinServer::start(&["--directory", dir.path().to_str().unwrap()]);
    assert_eq!(r.get("/files/hello").body, b"from disk");
    let mut c = Client::connect(([127, 0, 0, 1], r.port).into());
    c.send(b"POST /files/new HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnew!");
    assert_eq!(c.response().status, 201);
    assert_eq!(std::fs::read(dir.path().join("new")).unwrap(), b"new!");
}

#[test]
fn without_directory_files_route_is_404() {
    let r = BinServer::start(&[]);
    assert_eq!(r.get("/files/anything").status, 404);
}

#[test]
fn log_level_and_workers_flags_are_accepted() {
    let r = BinServer::start(&["--log-level", "debug", "--workers", "2"]);
    for i in 0..8 {
        assert_eq!(r.get(&format!("/echo/w{i}")).text(), format!("w{i}"));
    }
}

#[test]
fn port_in_use_exits_nonzero_with_one_message() {
    let taken = TcpListener::bind("[::]:0").or_else(|_| TcpListener::bind("0.0.0.0:0")).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = assert_fails_clearly(&["--port", &port], &port);
    assert!(out.stderr.to_ascii_lowercase().contains("in use"), "{}", out.stderr);
}

#[test]
fn port_in_use_on_ipv4_host_exits_nonzero_with_one_message() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = assert_fails_clearly(&["--host", "127.0.0.1", "--port", &port], &port);
    assert!(out.stderr.to_ascii_lowercase().contains("in use"), "{}", out.stderr);
}

#[test]
fn address_not_on_this_machine_exits_nonzero_with_one_message() {
    assert_fails_clearly(&["--host", "10.255.255.1", "--port", "0"], "10.255.255.1");
}

#[test]
fn host_that_is_not_an_ip_exits_nonzero_with_one_message() {
    assert_fails_clearly(&["--host", "not-an-ip", "--port", "0"], "not-an-ip");
}

#[test]
fn missing_directory_exits_nonzero_with_one_message() {
    assert_fails_clearly(&["--directory", "/nonexistent", "--port", "0"], "/nonexistent");
}

#[test]
fn directory_that_is_a_file_exits_nonzero_with_one_message() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    assert_fails_clearly(&["--directory", path, "--port", "0"], path);
}

#[test]
fn bad_flag_values_exit_nonzero_with_one_message() {
    assert_fails_clearly(&["--port", "70000"], "70000");
    assert_fails_clearly(&["--port", "-1"], "-1");
    assert_fails_clearly(&["--log-level", "loud", "--port", "0"], "loud");
    assert_fails_clearly(&["--workers", "many", "--port", "0"], "many");
    assert_fails_clearly(&["--no-such-flag"], "--no-such-flag");
}
