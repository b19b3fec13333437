//! The in-place upgrade (SIGUSR2) on the real binary over real TCP: under
//! continuous new connections and keep-alive load, with two workers and a
//! metrics listener, 20 upgrades refuse, reset and fail nothing and leave
//! no old process; a broken binary on disk (one that exits, one that never
//! reports) fails the upgrade and serving goes on; the pid file follows the
//! serving process; systemd hears READY=1, MAINPID= and STOPPING=1; and a
//! stop signal while starting drains instead of killing.

mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an upgrade (start, report, old process gone) may take.
const UPGRADE_WITHIN: Duration = Duration::from_secs(15);

fn kill(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2); the pid is a server this test started (or its
    // successor), checked alive by the caller.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Gone: no such process, or a zombie (exited; its parent, another
/// generation or init, reaps it when it can).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Zombie children of `pid`: started and never reaped.
fn unreaped_children(pid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 1 && fields[0] == "Z" && fields[1] == pid.to_string() {
            found.push(stat);
        }
    }
    found
}

/// The server's generations: a copy of the binary in a temp directory (so
/// the test can break it), its pid file, and the log every generation
/// writes to the same stderr.
struct Generations {
    server: BinServer,
    dir: tempfile::TempDir,
}

impl Generations {
    fn start(args: &[&str]) -> Generations {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("loophttp");
        std::fs::copy(env!("CARGO_BIN_EXE_loophttp"), &bin).unwrap();
        wait_executable(&bin);
        let pid_file = dir.path().join("loophttp.pid");
        let mut all = vec!["--host", "127.0.0.1", "--access-log", "off", "--pid-file"];
        all.push(pid_file.to_str().unwrap());
        all.extend_from_slice(args);
        let server = BinServer::start_program(&bin, &all, |_| {});
        Generations { server, dir }
    }

    fn binary(&self) -> PathBuf {
        self.dir.path().join("loophttp")
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("loophttp.pid")).ok()?.trim().parse().ok()
    }

    /// Replaces the binary on disk as an installer does (rename over it:
    /// the running file cannot be written).
    fn install(&self, contents: &[u8]) {
        let tmp = self.dir.path().join("loophttp.new");
        std::fs::write(&tmp, contents).unwrap();
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, self.binary()).unwrap();
        wait_executable(&self.binary());
    }

    /// SIGUSR2, then waits for the pid file to name a new process and the
    /// old one to be gone; returns the new pid.
    fn upgrade(&mut self) -> u32 {
        let old = eventually(IO_TIMEOUT, || self.pid()).expect("a pid file");
        kill(old, libc::SIGUSR2);
        let new = eventually(UPGRADE_WITHIN, || self.pid().filter(|&p| p != old));
        let Some(new) = new else { panic!("no new process after SIGUSR2; log: {:#?}", self.server.collect()) };
        if eventually(UPGRADE_WITHIN, || gone(old).then_some(())).is_none() {
            panic!("old process {old} still running; log: {:#?}", self.server.collect());
        }
        new
    }
}

impl Drop for Generations {
    fn drop(&mut self) {
        // Later generations are not our children: stop whichever serves.
        if let Some(pid) = self.pid().filter(|&p| !gone(p)) {
            kill(pid, libc::SIGKILL);
        }
    }
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn count(&self, e: &std::io::Error, what: &str) {
        eprintln!("client: {what}: {e}");
        match e.kind() {
            ErrorKind::ConnectionRefused => &self.refused,
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => &self.reset,
            _ => &self.failed,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// One request (a GET, or a non-idempotent POST every third) and its
/// response; Ok(true) if the server ends the connection after it.
fn exchange(s: &mut std::io::BufReader<TcpStream>, n: u64, close: bool) -> std::io::Result<bool> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    let req = if n.is_multiple_of(3) {
        format!("POST / HTTP/1.1\r\nHost: t\r\n{connection}Content-Length: 5\r\n\r\nhello")
    } else {
        format!("GET /echo/{n} HTTP/1.1\r\nHost: t\r\n{connection}\r\n")
    };
    s.get_mut().write_all(req.as_bytes())?;
    let (status, closes) = read_response(s)?;
    if status != 200 {
        return Err(std::io::Error::other(format!("status {status}")));
    }
    Ok(closes)
}

/// Reads one response with a Content-Length body: (status, Connection: close).
fn read_response(s: &mut std::io::BufReader<TcpStream>) -> std::io::Result<(u16, bool)> {
    use std::io::BufRead;
    let mut line = String::new();
    let (mut status, mut len, mut close) = (0, 0, false);
    loop {
        line.clear();
        if s.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "connection closed before a response"));
        }
        let l = line.trim_end().to_ascii_lowercase();
        if let Some(rest) = l.strip_prefix("http/1.1 ") {
            status = rest.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        } else if l == "connection: close" {
            close = true;
        } else if l.is_empty() {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok((status, close))
}

/// A client until `stop`: `fresh` opens a new connection per request;
/// otherwise one connection serves requests until the server closes it.
/// Every error is counted, never retried.
fn client(to: SocketAddr, fresh: bool, stop: &AtomicBool, tally: &Tally) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let stream = match TcpStream::connect_timeout(&to, IO_TIMEOUT) {
            Ok(s) => s,
            Err(e) => {
                tally.count(&e, "connect");
                continue;
            }
        };
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut s = std::io::BufReader::new(stream);
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            match exchange(&mut s, n, fresh) {
                Ok(closes) => {
                    tally.requests.fetch_add(1, Ordering::Relaxed);
                    if closes || fresh {
                        break;
                    }
                }
                Err(e) => {
                    tally.count(&e, &format!("request {n}"));
                    break;
                }
            }
        }
    }
}

/// Clients of both kinds against `to`, until the returned flag is set.
fn load(to: SocketAddr, tally: &Arc<Tally>) -> (Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = [true, true, false, false]
        .into_iter()
        .map(|fresh| {
            let (stop, tally) = (stop.clone(), tally.clone());
            std::thread::spawn(move || client(to, fresh, &stop, &tally))
        })
        .collect();
    (stop, threads)
}

fn served_more(tally: &Tally, more: u64) {
    let target = tally.requests() + more;
    let ok = eventually(Duration::from_secs(20), || (tally.requests() >= target).then_some(()));
    assert!(ok.is_some(), "the clients stalled at {} requests", tally.requests());
}

fn metrics_port(g: &mut Generations) -> u16 {
    let line = g.server.wait_for_line(IO_TIMEOUT, |l| l.contains("metrics and /healthz on")).expect("metrics line");
    let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).expect("metrics address");
    addr.parse::<SocketAddr>().expect("metrics socket address").port()
}

fn healthz(port: u16) -> u16 {
    let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    c.response().status
}

#[test]
fn twenty_upgrades_under_load_lose_nothing_and_a_broken_binary_costs_nothing() {
    const UPGRADES: usize = 20;
    /// Requests each generation serves before it is replaced.
    const PER_GENERATION: u64 = 500;
    let args = ["--workers", "2", "--metrics-addr", "127.0.0.1:0", "--upgrade-timeout", "2s"];
    let mut g = Generations::start(&args);
    let to = SocketAddr::from(([127, 0, 0, 1], g.server.port));
    let metrics = metrics_port(&mut g);
    let first = eventually(IO_TIMEOUT, || g.pid()).expect("the pid file names the first process");
    assert_eq!(first, g.server.pid());
    let tally = Arc::new(Tally::default());
    let (stop, clients) = load(to, &tally);
    let started = Instant::now();
    let mut pids = vec![first];
    for _ in 0..UPGRADES {
        served_more(&tally, PER_GENERATION);
        pids.push(g.upgrade());
        assert_eq!(healthz(metrics), 200, "the metrics listener was handed over too");
    }
    let upgraded = started.elapsed();
    assert_eq!(g.server.child.try_wait().unwrap().and_then(|s| s.code()), Some(0), "the first process drained");
    let serving = *pids.last().unwrap();

    // A binary that fails at once, then one that never says it serves:
    // each upgrade fails, the child is reaped, and the clients see nothing.
    g.install(b"#!/bin/sh\necho broken >&2\nexit 1\n");
    kill(serving, libc::SIGUSR2);
    let failed = g.server.wait_for_line(UPGRADE_WITHIN, |l| l.contains("upgrade failed"));
    assert!(failed.is_some_and(|l| l.contains("exited before it was ready")), "log: {:#?}", g.server.collect());
    served_more(&tally, 200);
    g.install(b"#!/bin/sh\nexec sleep 60\n");
    kill(serving, libc::SIGUSR2);
    let timed_out = g.server.wait_for_line(UPGRADE_WITHIN, |l| l.contains("did not report ready"));
    assert!(timed_out.is_some(), "log: {:#?}", g.server.collect());
    served_more(&tally, 200);
    assert_eq!(g.pid(), Some(serving), "the pid file still names the serving process");
    assert!(!gone(serving), "the process whose upgrades failed still serves");
    assert_eq!(unreaped_children(serving), Vec::<String>::new(), "failed children are reaped");

    // The real binary again: the server can still be upgraded.
    g.install(&std::fs::read(env!("CARGO_BIN_EXE_loophttp")).unwrap());
    let last = g.upgrade();
    served_more(&tally, 200);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (refused, reset, failed) = (count(&tally.refused), count(&tally.reset), count(&tally.failed));
    eprintln!(
        "upgrades: {UPGRADES} upgrades in {:.1} s (2 workers), 2 failed upgrades, 1 more upgrade; \
         {} requests, {refused} refused, {reset} reset, {failed} failed",
        upgraded.as_secs_f64(),
        tally.requests()
    );
    assert_eq!((refused, reset, failed), (0, 0, 0), "{} requests", tally.requests());
    for pid in &pids {
        assert!(gone(*pid), "old process {pid} is gone");
    }
    kill(last, libc::SIGTERM);
    assert!(eventually(UPGRADE_WITHIN, || gone(last).then_some(())).is_some(), "the last one exits on SIGTERM");
    assert!(g.pid().is_none(), "the pid file is removed by the process it names");
}

/// Receives systemd notifications on a socket of our own.
struct Notifications(std::os::unix::net::UnixDatagram, tempfile::TempDir);

impl Notifications {
    fn new() -> Notifications {
        let dir = tempfile::tempdir().unwrap();
        let socket = std::os::unix::net::UnixDatagram::bind(dir.path().join("notify")).unwrap();
        socket.set_read_timeout(Some(UPGRADE_WITHIN)).unwrap();
        Notifications(socket, dir)
    }

    fn path(&self) -> PathBuf {
        self.1.path().join("notify")
    }

    fn next(&self) -> String {
        let mut buf = [0u8; 512];
        let n = self.0.recv(&mut buf).expect("a notification in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[test]
fn systemd_hears_ready_the_new_main_pid_after_an_upgrade_and_stopping() {
    let notify = Notifications::new();
    let path = notify.path();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("loophttp");
    std::fs::copy(env!("CARGO_BIN_EXE_loophttp"), &bin).unwrap();
    wait_executable(&bin);
    let pid_file = dir.path().join("loophttp.pid");
    let args = ["--access-log", "off", "--pid-file", pid_file.to_str().unwrap()];
    let s = BinServer::start_program(&bin, &args, |c| {
        c.env("NOTIFY_SOCKET", &path);
    });
    let g = Generations { server: s, dir };
    assert_eq!(notify.next(), "READY=1\n");
    let old = g.server.pid();
    assert!(eventually(IO_TIMEOUT, || g.pid()).is_some(), "the pid file is written before SIGUSR2");
    kill(old, libc::SIGUSR2);
    let main_pid = notify.next();
    let Some(new_pid) = eventually(UPGRADE_WITHIN, || g.pid().filter(|&p| p != old)) else { panic!("no new pid") };
    assert_eq!(main_pid, format!("MAINPID={new_pid}\n"), "the new process is the service's main process");
    kill(new_pid, libc::SIGTERM);
    assert_eq!(notify.next(), "STOPPING=1\n");
}

/// The signal mask of `pid` that has handlers (`SigCgt` in /proc).
fn caught(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:")).unwrap_or("0");
    u64::from_str_radix(mask.trim(), 16).unwrap_or(0)
}

#[test]
fn a_stop_signal_while_starting_drains_instead_of_killing() {
    let bit = |sig: libc::c_int| 1u64 << (sig - 1);
    let want = bit(libc::SIGTERM) | bit(libc::SIGUSR2);
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loophttp"))
            .args(["--port", "0", "--access-log", "off", "--workers", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // As soon as the handlers are in place, which is before binding.
        let ready = eventually(IO_TIMEOUT, || (caught(pid) & want == want).then_some(()));
        assert!(ready.is_some(), "SIGTERM and SIGUSR2 are caught from the start");
        kill(pid, libc::SIGTERM);
        let status = eventually(IO_TIMEOUT, || child.try_wait().unwrap());
        let mut log = String::new();
        child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(0), "drained and exited 0: {log}");
        assert!(log.contains("draining"), "{log}");
    }
}

#[test]
fn the_pid_file_is_written_whole_and_removed_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("run.pid");
    let s = BinServer::start(&["--pid-file", pid_file.to_str().unwrap()]);
    let written = eventually(IO_TIMEOUT, || std::fs::read_to_string(&pid_file).ok());
    assert_eq!(written, Some(format!("{}\n", s.pid())));
    assert_eq!(dir_entries(dir.path()), vec![PathBuf::from("run.pid")], "no temporary file left");
    kill(s.pid(), libc::SIGTERM);
    let removed = eventually(IO_TIMEOUT, || (!Path::new(&pid_file).exists()).then_some(()));
    assert!(removed.is_some(), "removed at exit");
}
