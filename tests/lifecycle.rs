//! The process lifecycle, on the real binary over real TCP: SIGTERM drains
//! (requests in flight finish, idle connections close after the grace, the
//! exit code is 0), a second signal exits at once, uploads cut short leave
//! no file, and socket activation lets the server restart on one socket
//! without refusing or failing a single request.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a server that should be done may take to exit.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

fn signal(s: &BinServer, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid; the child is not yet reaped
    // (BinServer waits for it only on drop), so the pid cannot be reused.
    let r = unsafe { libc::kill(s.pid() as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Sends `sig` and waits for the server to log that it is draining.
fn drain(s: &mut BinServer, sig: libc::c_int) {
    signal(s, sig);
    if s.wait_for_line(EXIT_WITHIN, |l| l.contains("draining")).is_none() {
        panic!("no drain logged; log: {:#?}", s.lines);
    }
}

/// Waits for the process to exit; panics (with its log) if it does not.
fn exit_status(s: &mut BinServer, within: Duration) -> ExitStatus {
    match eventually(within, || s.child.try_wait().expect("wait")) {
        Some(status) => status,
        None => panic!("still running after {within:?}; log: {:#?}", s.collect()),
    }
}

fn assert_exits_0(s: &mut BinServer, within: Duration) {
    let status = exit_status(s, within);
    assert_eq!(status.code(), Some(0), "exit status {status:?}; log: {:#?}", s.collect());
}

fn addr(s: &BinServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], s.port))
}

/// A client whose receive buffer is small, so a large response cannot
/// hide in kernel buffers: the server is still sending it while we wait.
fn slow_reader(to: SocketAddr) -> Client {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect_timeout(&to.into(), IO_TIMEOUT).unwrap();
    Client::from_stream(socket.into())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    dir_entries(dir).into_iter().map(|p| p.display().to_string()).collect()
}

fn refused(to: SocketAddr) -> bool {
    matches!(TcpStream::connect_timeout(&to, IO_TIMEOUT), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

#[test]
fn sigterm_during_a_slow_download_stops_accepting_lets_it_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let body = pattern(16 << 20);
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    let mut s = BinServer::start(&["--directory", dir.path().to_str().unwrap(), "--drain-grace", "1s"]);
    let mut c = slow_reader(addr(&s));
    c.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = [0u8; 64 * 1024];
    c.reader.read_exact(&mut first).unwrap();

    drain(&mut s, libc::SIGTERM);
    assert!(refused(addr(&s)), "a draining server accepts no new connections");
    let mut rest = Vec::new();
    c.reader.read_to_end(&mut rest).unwrap(); // the response, then the close
    let mut whole = first.to_vec();
    whole.extend_from_slice(&rest);
    let head_end = whole.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert!(whole.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(whole[head_end..] == body[..], "the download finished byte-exact");
    assert_exits_0(&mut s, EXIT_WITHIN);
}

#[test]
fn sigterm_during_an_upload_lets_it_finish_with_connection_close_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = BinServer::start(&["--directory", dir.path().to_str().unwrap(), "--allow-upload"]);
    let body = pattern(2 << 20);
    let mut c = Client::connect(addr(&s));
    c.send(format!("POST /files/up.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    c.send(&body[..1 << 20]);

    drain(&mut s, libc::SIGTERM);
    c.send(&body[1 << 20..]);
    let resp = c.response();
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("connection"), Some("close"), "answered during the drain: the connection ends");
    assert!(c.closed_within(IO_TIMEOUT));
    assert_exits_0(&mut s, EXIT_WITHIN);
    assert!(std::fs::read(dir.path().join("up.bin")).unwrap() == body, "the upload is whole");
    assert_eq!(files_in(dir.path()), ["up.bin"], "no temporary file left");
}

#[test]
fn sigterm_with_only_idle_keep_alive_clients_exits_after_the_grace() {
    let mut s = BinServer::start(&["--drain-grace", "1s", "--shutdown-timeout", "20s"]);
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(addr(&s))).collect();
    for c in &mut clients {
        c.send(b"GET /echo/idle HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response().header("connection"), None, "kept alive");
    }
    let start = Instant::now();
    drain(&mut s, libc::SIGTERM);
    for c in &mut clients {
        assert!(c.closed_within(IO_TIMEOUT), "an idle connection is closed after the grace");
    }
    assert_exits_0(&mut s, EXIT_WITHIN);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(900), "idle connections get the grace first ({took:?})");
    assert!(took < Duration::from_secs(10), "the drain did not wait for --shutdown-timeout ({took:?})");
}

#[test]
fn a_request_on_an_idle_connection_during_the_drain_is_answered_with_connection_close() {
    // The keep-alive race: a proxy may send on a pooled connection just
    // as the drain begins. That request is served, and the answer says
    // the connection ends, so the proxy does not reuse it.
    let mut s = BinServer::start(&["--drain-grace", "30s", "--shutdown-timeout", "60s"]);
    let mut c = Client::connect(addr(&s));
    c.send(b"GET /echo/before HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().text(), "before");
    let start = Instant::now();
    drain(&mut s, libc::SIGTERM);
    c.send(b"GET /echo/during HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = c.response();
    assert_eq!((resp.status, resp.text().as_str()), (200, "during"));
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed_within(IO_TIMEOUT));
    // Its last connection closed, the server is drained: it does not wait out the grace.
    assert_exits_0(&mut s, EXIT_WITHIN);
    assert!(start.elapsed() < Duration::from_secs(20), "exited once drained");
}

#[test]
fn a_second_sigint_exits_at_once_and_the_upload_in_flight_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s =
        BinServer::start(&["--directory", dir.path().to_str().unwrap(), "--allow-upload", "--shutdown-timeout", "60s"]);
    let mut c = Client::connect(addr(&s));
    c.send(b"PUT /files/cut.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
    c.send(&pattern(300_000));
    let temp_exists = || files_in(dir.path()).iter().any(|n| n.starts_with(".loophttp-upload-"));
    assert!(eventually(IO_TIMEOUT, || temp_exists().then_some(())).is_some(), "the upload is in flight");

    drain(&mut s, libc::SIGINT);
    let start = Instant::now();
    signal(&s, libc::SIGINT);
    let status = exit_status(&mut s, EXIT_WITHIN);
    assert!(start.elapsed() < Duration::from_secs(5), "the second signal ends the process at once");
    assert_eq!(status.code(), Some(130), "128 + SIGINT: the drain was cut short; log: {:#?}", s.collect());
    assert!(files_in(dir.path()).is_empty(), "no file, no temporary file: {:?}", files_in(dir.path()));
    assert!(c.closed_within(IO_TIMEOUT));
}

#[test]
fn shutdown_timeout_cuts_a_stalled_upload_logs_it_leaves_no_file_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--directory",
        dir.path().to_str().unwrap(),
        "--allow-upload",
        "--shutdown-timeout",
        "1s",
        "--body-timeout",
        "60s",
    ];
    let mut s = BinServer::start(&args);
    let mut c = Client::connect(addr(&s));
    c.send(b"POST /files/stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly some");
    let temp_exists = || !files_in(dir.path()).is_empty();
    assert!(eventually(IO_TIMEOUT, || temp_exists().then_some(())).is_some(), "the upload is in flight");

    let start = Instant::now();
    drain(&mut s, libc::SIGTERM);
    let status = exit_status(&mut s, EXIT_WITHIN);
    assert_eq!(status.code(), Some(3), "a drain that cut requests exits 3; log: {:#?}", s.collect());
    assert!(start.elapsed() >= Duration::from_millis(900), "the stalled upload had its --shutdown-timeout");
    let cut = s.collect().iter().any(|l| l.contains("shutdown timeout") && l.contains("cut=1"));
    assert!(cut, "the log says what was cut: {:#?}", s.lines);
    assert!(files_in(dir.path()).is_empty(), "no file, no temporary file: {:?}", files_in(dir.path()));
    assert!(c.closed_within(IO_TIMEOUT));
}

#[test]
fn sigusr1_after_renaming_the_access_log_starts_a_new_file_and_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut s = BinServer::start(&["--access-log", log.to_str().unwrap()]);
    let mut c = Client::connect(addr(&s));
    let get = |c: &mut Client, i: usize| {
        c.send(format!("GET /echo/line-{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().status, 200);
    };
    for i in 0..50 {
        get(&mut c, i);
    }
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    for i in 50..100 {
        get(&mut c, i); // still written to the renamed file (or buffered)
    }
    signal(&s, libc::SIGUSR1);
    assert!(eventually(IO_TIMEOUT, || log.exists().then_some(())).is_some(), "SIGUSR1 opened a new file");
    for i in 100..150 {
        get(&mut c, i);
    }
    drop(c);
    drain(&mut s, libc::SIGTERM);
    assert_exits_0(&mut s, EXIT_WITHIN); // a clean exit flushes the log
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    for i in 0..150 {
        let needle = format!("/echo/line-{i} ");
        let n = old.matches(&needle).count() + new.matches(&needle).count();
        assert_eq!(n, 1, "request {i} logged exactly once");
    }
    assert!(new.contains("/echo/line-149 "), "lines after SIGUSR1 go to the new file");
    assert!(!old.contains("/echo/line-149 "));
}

// ---- socket activation ----

/// A launcher speaking the `sd_listen_fds` protocol: the listening socket
/// arrives as stdin, the shell moves it to descriptor 3 and execs the
/// server with `LISTEN_PID` set to its own pid (which `exec` keeps).
fn activated(socket: &std::net::TcpListener, args: &[&str]) -> BinServer {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_loophttp"))
        .args(args)
        .stdin(Stdio::from(dup(socket)))
        .stdout(Stdio::null());
    BinServer::from_command(cmd)
}

/// The same with two sockets: the second arrives as stdout, becomes 4.
fn activated_two(a: &std::net::TcpListener, b: &std::net::TcpListener) -> BinServer {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"exec 3<&0 4>&1 0</dev/null 1>/dev/null; LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_loophttp"))
        .stdin(Stdio::from(dup(a)))
        .stdout(Stdio::from(dup(b)));
    BinServer::from_command(cmd)
}

fn dup(socket: &std::net::TcpListener) -> OwnedFd {
    OwnedFd::from(socket.try_clone().expect("dup the socket"))
}

fn launcher_socket() -> std::net::TcpListener {
    use std::net::{IpAddr, Ipv6Addr};
    loophttp::listener::bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0, 1024, false).expect("bind").listener
}

#[test]
fn a_socket_activated_server_says_so_and_serves_ipv4_and_ipv6_on_the_passed_socket() {
    let socket = launcher_socket();
    let port = socket.local_addr().unwrap().port();
    let mut s = activated(&socket, &["--workers", "2"]);
    let line = s.wait_for_line(EXIT_WITHIN, |l| l.contains("listening on")).unwrap();
    assert!(line.contains("socket-activated"), "startup line: {line}");
    assert_eq!(s.port, port, "the passed socket, not a new one");
    for i in 0..20 {
        let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
        c.send(format!("GET /echo/{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        assert_eq!(c.response().text(), i.to_string());
    }
    // Under CI a host without IPv6 fails here rather than skip the check.
    if have_ipv6_loopback() {
        assert!(loophttp::listener::is_dual_stack(&socket), "a [::] socket with IPV6_V6ONLY off");
        let mut c = Client::connect(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)));
        c.send(b"GET /echo/v6 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert_eq!(c.response().text(), "v6");
    }
    drain(&mut s, libc::SIGTERM);
    assert_exits_0(&mut s, EXIT_WITHIN);
}

#[test]
fn a_passed_descriptor_that_is_not_a_listening_socket_is_one_clear_startup_error() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec 3</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_loophttp"))
        .stdin(Stdio::null())
        .output()
        .expect("run loophttp");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains("descriptor 3 is not a listening TCP socket"), "{stderr}");
}

#[test]
fn listen_fds_meant_for_another_process_are_ignored() {
    // A parent that was socket-activated and left the variables set: they
    // name its pid, not ours, so the server binds its own socket.
    let mut s = BinServer::start_with(&[], |cmd| {
        cmd.env("LISTEN_PID", "1").env("LISTEN_FDS", "1");
    });
    let line = s.wait_for_line(EXIT_WITHIN, |l| l.contains("listening on")).unwrap();
    assert!(!line.contains("socket-activated"), "{line}");
    let mut c = Client::connect(addr(&s));
    c.send(b"GET /echo/own HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().text(), "own");
}

#[test]
fn every_passed_socket_is_served() {
    let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = activated_two(&v4, &other);
    let also = format!("also listening on {}", other.local_addr().unwrap());
    assert!(s.wait_for_line(EXIT_WITHIN, |l| l.contains(&also)).is_some(), "log: {:#?}", s.lines);
    for l in [&v4, &other] {
        let mut c = Client::connect(l.local_addr().unwrap());
        c.send(b"GET /echo/both HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert_eq!(c.response().text(), "both");
    }
    drain(&mut s, libc::SIGTERM);
    assert_exits_0(&mut s, EXIT_WITHIN);
}

/// What the client loop saw.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// One client: connections of a few keep-alive requests each (a mix of
/// GET and non-idempotent POST), reconnecting when the server says
/// `Connection: close`, until `stop`. Every error is counted, never retried.
fn client_loop(to: SocketAddr, id: usize, stop: &AtomicBool, tally: &Tally) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let stream = match TcpStream::connect_timeout(&to, IO_TIMEOUT) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tally.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(e) => {
                eprintln!("client {id}: connect: {e}");
                tally.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut c = Client { reader: std::io::BufReader::new(stream) };
        for _ in 0..8 {
            n += 1;
            let req = if n.is_multiple_of(3) {
                format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n{id:05}")
            } else {
                format!("GET /echo/{id}-{n} HTTP/1.1\r\nHost: t\r\n\r\n")
            };
            match exchange(&mut c, req.as_bytes()) {
                Ok(close) => {
                    tally.requests.fetch_add(1, Ordering::Relaxed);
                    if close {
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("client {id}: request {n}: {e}");
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// One request and its response; Ok(true) if the server ends the connection.
fn exchange(c: &mut Client, req: &[u8]) -> Result<bool, String> {
    c.stream().write_all(req).map_err(|e| format!("send: {e}"))?;
    // Client::response panics on a broken response; here a failure is counted.
    let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.response()))
        .map_err(|_| "no complete response".to_string())?;
    if resp.status != 200 {
        return Err(format!("status {}", resp.status));
    }
    Ok(resp.header("connection") == Some("close"))
}

#[test]
fn restarting_on_a_passed_socket_refuses_no_connection_and_fails_no_request() {
    const RESTARTS: usize = 20;
    const CLIENTS: usize = 4;
    /// Requests each generation serves before it is replaced.
    const PER_GENERATION: u64 = 500;
    let socket = launcher_socket();
    let to = SocketAddr::from(([127, 0, 0, 1], socket.local_addr().unwrap().port()));
    let args = ["--workers", "2"];
    let mut server = activated(&socket, &args);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (stop, tally) = (stop.clone(), tally.clone());
            std::thread::spawn(move || client_loop(to, id, &stop, &tally))
        })
        .collect();
    let served_past = |target: u64| {
        let ok =
            eventually(Duration::from_secs(20), || (tally.requests.load(Ordering::Relaxed) >= target).then_some(()));
        assert!(ok.is_some(), "the clients stalled at {} requests", tally.requests.load(Ordering::Relaxed));
    };
    let started = Instant::now();
    for _ in 0..RESTARTS {
        served_past(tally.requests.load(Ordering::Relaxed) + PER_GENERATION);
        // Stop the old one first: until the new one accepts, the kernel
        // queues connections on the socket the launcher keeps open.
        signal(&server, libc::SIGTERM);
        let mut old = std::mem::replace(&mut server, activated(&socket, &args));
        assert_exits_0(&mut old, EXIT_WITHIN);
    }
    served_past(tally.requests.load(Ordering::Relaxed) + PER_GENERATION);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let (requests, refused, failed) = (
        tally.requests.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "socket-activation restarts: {RESTARTS} restarts, {requests} requests, {refused} refused, {failed} failed \
         ({CLIENTS} clients, {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    assert_eq!((refused, failed), (0, 0), "{requests} requests over {RESTARTS} restarts");
    signal(&server, libc::SIGTERM);
    assert_exits_0(&mut server, EXIT_WITHIN);
}
