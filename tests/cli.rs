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
    // The test's own environment must not leak into the binary under test.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOOPHTTP_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs the binary to completion; fails the test if it is still running
/// after [`EXIT_WITHIN`]. The outputs are small enough to fit the pipes.
fn run(args: &[&str]) -> Finished {
    finish(loophttp(args))
}

/// Runs `cmd` to completion, as [`run`] does.
fn finish(mut cmd: Command) -> Finished {
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start loophttp");
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
    let r = BinServer::start(&["--directory", dir.path().to_str().unwrap(), "--allow-upload"]);
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
    assert_fails_clearly(&["--directory", "/nonexistent", "--port", "0"], "--directory /nonexistent: does not exist");
}

#[test]
fn directory_that_is_a_file_exits_nonzero_with_one_message() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    assert_fails_clearly(&["--directory", path, "--port", "0"], &format!("--directory {path}: is not a directory"));
}

#[test]
fn directory_that_cannot_be_read_exits_nonzero_with_one_message() {
    use std::os::unix::fs::{PermissionsExt, chown};
    use std::os::unix::process::CommandExt;
    let root = tempfile::tempdir().unwrap();
    let locked = root.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let path = locked.to_str().unwrap();
    let mut cmd = loophttp(&["--directory", path, "--port", "0"]);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Root reads any directory: run as nobody (a copy of the binary
        // nobody may run, in a directory nobody may enter).
        let bin = root.path().join("loophttp");
        std::fs::copy(env!("CARGO_BIN_EXE_loophttp"), &bin).unwrap();
        wait_executable(&bin);
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        chown(&locked, Some(0), Some(0)).unwrap();
        cmd = Command::new(&bin);
        cmd.args(["--directory", path, "--port", "0"]).stdin(Stdio::null()).uid(65534).gid(65534);
    }
    let out = finish(cmd);
    assert!(!out.status.success(), "started on an unreadable directory: {}", out.stderr);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(errors[0].contains(&format!("--directory {path}: cannot be read")), "{}", errors[0]);
}

#[test]
fn an_access_log_that_cannot_be_opened_is_named_with_its_path() {
    let out = assert_fails_clearly(&["--port", "0", "--access-log", "/nonexistent/access.log"], "--access-log");
    assert!(out.stderr.contains("/nonexistent/access.log: cannot open"), "{}", out.stderr);
    assert!(!out.stderr.contains("cannot listen"), "the main port was fine: {}", out.stderr);
}

#[test]
fn a_metrics_address_in_use_is_named_with_its_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = assert_fails_clearly(&["--port", "0", "--metrics-addr", &addr], &format!("--metrics-addr {addr}"));
    assert!(out.stderr.to_ascii_lowercase().contains("in use"), "{}", out.stderr);
    assert!(!out.stderr.contains("cannot listen on [::]"), "the main port was fine: {}", out.stderr);
}

#[test]
fn out_of_range_values_are_refused_with_the_range() {
    let out = assert_fails_clearly(&["--keepalive-timeout", "18446744073709551615s"], "--keepalive-timeout");
    assert!(out.stderr.contains("at most 24h"), "{}", out.stderr);
    let out = assert_fails_clearly(&["--max-head-bytes", "2G"], "--max-head-bytes");
    assert!(out.stderr.contains("64 to 1048576"), "{}", out.stderr);
    assert_fails_clearly(&["--workers", "100000"], "--workers");
    assert_fails_clearly(&["--max-body-bytes", "lots"], "lots");
}

#[test]
fn durations_and_sizes_take_units() {
    let r = BinServer::start(&["--keepalive-timeout", "1.5s", "--header-timeout", "1m", "--max-body-bytes", "1KiB"]);
    let mut c = Client::connect(([127, 0, 0, 1], r.port).into());
    let body = vec![b'x'; 1025];
    c.send(format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    c.send(&body);
    assert_eq!(c.response().status, 413, "1KiB is 1024 bytes");
}

#[test]
fn a_bad_value_from_the_environment_is_reported_under_the_variable() {
    let mut cmd = loophttp(&[]);
    cmd.env("LOOPHTTP_PORT", "eighty");
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("LOOPHTTP_PORT") && out.stderr.contains("eighty"), "{}", out.stderr);
    assert!(!out.stderr.contains("--port"), "the operator never typed --port: {}", out.stderr);
    let mut cmd = loophttp(&["--port", "0"]);
    cmd.env("LOOPHTTP_DIRECTORY", "/nonexistent");
    let out = finish(cmd);
    assert!(out.stderr.contains("LOOPHTTP_DIRECTORY /nonexistent: does not exist"), "{}", out.stderr);
    let mut cmd = loophttp(&["--port", "0"]);
    cmd.env("LOOPHTTP_ACCESS_LOG", "/nonexistent/a.log");
    let out = finish(cmd);
    assert!(out.stderr.contains("LOOPHTTP_ACCESS_LOG /nonexistent/a.log: cannot open"), "{}", out.stderr);
}

#[test]
fn environment_booleans_take_1_0_true_false_yes_no() {
    for value in ["1", "true", "yes", "YES", "0", "false", "no"] {
        let r = BinServer::start_with(&[], |cmd| {
            cmd.env("LOOPHTTP_NO_METRICS", value);
        });
        assert_eq!(r.get("/echo/up").body, b"up", "LOOPHTTP_NO_METRICS={value}");
    }
    let mut cmd = loophttp(&["--port", "0"]);
    cmd.env("LOOPHTTP_NO_METRICS", "maybe");
    let out = finish(cmd);
    assert!(out.stderr.contains("LOOPHTTP_NO_METRICS") && out.stderr.contains("yes/no"), "{}", out.stderr);
}

// ---- --generate: the man page and completions ------------------------------

/// Every long flag of the clap definition.
fn long_flags() -> Vec<String> {
    use clap::CommandFactory;
    loophttp::Config::command().get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")).collect()
}

fn generated(what: &str) -> String {
    let out = run(&["--generate", what]);
    assert!(out.status.success(), "--generate {what}: {}", out.stderr);
    out.stdout
}

#[test]
fn generate_man_is_a_page_man_renders_with_every_flag() {
    let page = generated("man");
    assert!(page.contains(".TH loophttp 1"), "{page}");
    if !have_tool("man") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loophttp.1");
    std::fs::write(&file, &page).unwrap();
    let out = Command::new("man").arg("-l").arg(&file).env("MANPAGER", "cat").env("MANWIDTH", "200").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).replace('\u{2010}', "-");
    for flag in long_flags() {
        assert!(text.contains(&flag), "the man page lacks {flag}:\n{text}");
    }
}

#[test]
fn generate_completions_are_valid_scripts_naming_every_flag() {
    for (shell, check) in [("bash", &["-n"][..]), ("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        let script = generated(shell);
        for flag in long_flags() {
            let bare = flag.trim_start_matches('-');
            assert!(script.contains(bare), "{shell} completions lack {flag}");
        }
        if !have_tool(shell) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("loophttp.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(shell).args(check).arg(&file).output().unwrap();
        assert!(out.status.success(), "{shell} {check:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn help_explains_units_and_shows_no_prometheus_port() {
    let help = run(&["--help"]).stdout;
    assert!(help.contains("Durations: 10s, 1.5s, 250ms"), "{help}");
    assert!(help.contains("Sizes:"), "{help}");
    assert!(!help.contains("9090"), "9090 is Prometheus's own port:\n{help}");
}

#[test]
fn bad_flag_values_exit_nonzero_with_one_message() {
    assert_fails_clearly(&["--port", "70000"], "70000");
    assert_fails_clearly(&["--port", "-1"], "-1");
    assert_fails_clearly(&["--log-level", "loud", "--port", "0"], "loud");
    assert_fails_clearly(&["--workers", "many", "--port", "0"], "many");
    assert_fails_clearly(&["--no-such-flag"], "--no-such-flag");
}
