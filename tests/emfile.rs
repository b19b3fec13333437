//! Out of file descriptors: the real binary under a low `RLIMIT_NOFILE`,
//! flooded with more connections than it can accept. `accept` fails with
//! EMFILE while the listener stays readable; a loop that simply retries
//! burns a whole core. The server must back off (little CPU), keep serving
//! what it holds, and take the waiting clients once descriptors free up.

mod common;
use common::*;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// The server's soft and hard open-file limit in this test.
const FD_LIMIT: u64 = 64;
/// More clients than `FD_LIMIT` descriptors can hold.
const FLOOD: usize = 100;
/// How long the flood is held while the server's CPU time is measured.
const WINDOW: Duration = Duration::from_secs(1);
/// Most CPU (as a share of one core) the server may use while stuck at EMFILE.
const MAX_CPU_SHARE: f64 = 0.30;

/// User + system CPU time the process has used so far, from /proc/PID/stat.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name (which may hold spaces) in brackets;
    // utime and stime are fields 14 and 15, so 11th and 12th after it.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// A flood client and its number.
type Numbered = (usize, Client);

/// True if a response has arrived on `c` (checked without waiting).
fn answered(c: &Client) -> bool {
    let s = c.reader.get_ref();
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let got = matches!(s.peek(&mut b), Ok(n) if n > 0);
    s.set_nonblocking(false).unwrap();
    got
}

#[test]
fn at_emfile_the_server_backs_off_instead_of_spinning_and_recovers() {
    let mut b = BinServer::start_with(&[], |cmd| {
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit { rlim_cur: FD_LIMIT, rlim_max: FD_LIMIT };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let limit_line = b.lines.iter().find(|l| l.contains("open-file limit")).cloned();
    let limit_line = limit_line.unwrap_or_else(|| panic!("no startup \"open-file limit\" line: {:#?}", b.lines));
    assert!(limit_line.contains(&format!("open-file limit {FD_LIMIT};")), "{limit_line}");

    // Each client sends a request at once; the kernel completes every
    // handshake (backlog 1024), so those beyond the fd limit wait there.
    let flood: Vec<Client> = (0..FLOOD)
        .map(|i| {
            let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
            c.send(format!("GET /echo/flood{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            c
        })
        .collect();
    let warned = b.wait_for_line(Duration::from_secs(5), |l| l.contains("WARN") && l.contains("accept failed"));
    let warned = warned.unwrap_or_else(|| panic!("no accept warning with {FLOOD} clients: {:#?}", b.lines));
    assert!(warned.contains("os error 24") && warned.contains("pausing accepts"), "not EMFILE: {warned}");

    // Hold the flood for WINDOW: a loop retrying accept would use ~100% of
    // a core. Meanwhile take the log as it comes (the deadline is the wait).
    let (cpu0, started) = (cpu_time(b.pid()), Instant::now());
    let warnings_before = b.collect().iter().filter(|l| l.contains("accept failed")).count();
    let _ = b.wait_for_line(WINDOW, |_| false);
    let (cpu, took) = (cpu_time(b.pid()) - cpu0, started.elapsed());
    let warnings = b.collect().iter().filter(|l| l.contains("accept failed")).count() - warnings_before;
    println!("at EMFILE for {took:?}: server CPU {cpu:?}, {warnings} more accept warnings");
    assert_eq!(warnings, 0, "one warning per episode, repeats at debug: {:#?}", b.lines);
    assert!(
        cpu.as_secs_f64() < MAX_CPU_SHARE * took.as_secs_f64(),
        "the server used {cpu:?} of CPU in {took:?} while out of descriptors: it spins"
    );

    // The accepted clients were served all along; the others wait.
    let (mut served, mut waiting): (Vec<Numbered>, Vec<Numbered>) =
        flood.into_iter().enumerate().partition(|(_, c)| answered(c));
    println!("{} clients served at the limit, {} waiting in the backlog", served.len(), waiting.len());
    assert!(!served.is_empty() && !waiting.is_empty(), "{} served of {FLOOD}", served.len());
    for (i, c) in &mut served {
        assert_eq!(c.response().body, format!("flood{i}").as_bytes());
    }

    // Closing the served ones frees descriptors: every waiting client is
    // then accepted and answered, with no new connection to prompt it.
    drop(served);
    for (i, c) in &mut waiting {
        let r = c.response();
        assert_eq!((r.status, r.body), (200, format!("flood{i}").into_bytes()), "waiting client {i}");
    }
    drop(waiting);

    // And a fresh client is answered once the flood is gone.
    let fresh = eventually(Duration::from_secs(5), || {
        let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
        c.stream().set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        c.send(b"GET /echo/fresh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let mut got = Vec::new();
        c.reader.read_to_end(&mut got).ok()?;
        got.ends_with(b"\r\n\r\nfresh").then_some(())
    });
    assert!(fresh.is_some(), "a fresh client was not answered after the flood; log: {:#?}", b.collect());
    assert!(b.wait_for_line(Duration::from_secs(5), |l| l.contains("accepting again")).is_some(), "recovery logged");
    assert!(b.child.try_wait().unwrap().is_none(), "the server exited");
}
