//! Few file descriptors: the real binary under a low `RLIMIT_NOFILE`,
//! flooded with more connections than it can hold. At start-up it budgets
//! the descriptors (one per connection, two where a directory is served:
//! a download or an upload holds a file), warns with the numbers, and
//! lowers its connection limit to what the budget covers; so accepting
//! pauses at that limit and `accept` never fails with EMFILE (on ed6a2ad
//! it did, and the loop had to back off). It must not spin (little CPU),
//! keep serving what it holds, and take the waiting clients once
//! connections close. Set `LOOPHTTP_TEST_BIN` to run another build.

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
fn under_a_low_open_file_limit_the_server_warns_and_pauses_accepting_before_emfile() {
    let mut b = low_limit(FD_LIMIT, &[]);
    let warned = b.lines.iter().find(|l| l.contains("WARN") && l.contains("open-file limit")).cloned();
    let warned = warned.unwrap_or_else(|| panic!("no start-up warning about the open-file limit: {:#?}", b.lines));
    assert!(warned.contains(&format!("open-file limit {FD_LIMIT} cannot cover --max-connections")), "{warned}");
    let limit_line = b.lines.iter().find(|l| l.contains("INFO") && l.contains("open-file limit")).cloned();
    let limit_line = limit_line.unwrap_or_else(|| panic!("no startup \"open-file limit\" line: {:#?}", b.lines));
    assert!(limit_line.contains(&format!("open-file limit {FD_LIMIT};")), "{limit_line}");

    // Each client sends a request at once; the kernel completes every
    // handshake (backlog 1024), so those beyond the limit wait there.
    let flood: Vec<Client> = (0..FLOOD)
        .map(|i| {
            let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
            c.send(format!("GET /echo/flood{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            c
        })
        .collect();

    // Hold the flood for WINDOW: a loop retrying accept would use ~100% of
    // a core. Meanwhile take the log as it comes (the deadline is the wait).
    let (cpu0, started) = (cpu_time(b.pid()), Instant::now());
    let _ = b.wait_for_line(WINDOW, |_| false);
    let (cpu, took) = (cpu_time(b.pid()) - cpu0, started.elapsed());
    println!("at the limit for {took:?}: server CPU {cpu:?}");
    assert_no_emfile(&mut b);
    assert!(
        cpu.as_secs_f64() < MAX_CPU_SHARE * took.as_secs_f64(),
        "the server used {cpu:?} of CPU in {took:?} at its connection limit: it spins"
    );
    serve_the_flood(&mut b, flood);
}

fn assert_no_emfile(b: &mut BinServer) {
    let emfile: Vec<String> = b
        .collect()
        .iter()
        .filter(|l| l.contains("os error 24") || l.contains("Too many open files"))
        .cloned()
        .collect();
    assert!(emfile.is_empty(), "EMFILE reached: {emfile:#?}");
}

/// The server under `prlimit --nofile=LIMIT`.
fn low_limit(limit: u64, args: &[&str]) -> BinServer {
    let program = std::env::var_os("LOOPHTTP_TEST_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_loophttp").into(), std::path::PathBuf::from);
    BinServer::start_program(&program, args, |cmd| {
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    })
}

/// Serves what the server holds, then the clients waiting in the backlog.
fn serve_the_flood(b: &mut BinServer, flood: Vec<Client>) {
    // The accepted clients were served all along; the others wait.
    let (mut served, waiting): (Vec<Numbered>, Vec<Numbered>) =
        flood.into_iter().enumerate().partition(|(_, c)| answered(c));
    println!("{} clients served at the limit, {} waiting in the backlog", served.len(), waiting.len());
    assert!(!served.is_empty() && !waiting.is_empty(), "{} served of {FLOOD}", served.len());
    for (i, c) in &mut served {
        assert_eq!(c.response().body, format!("flood{i}").as_bytes());
    }

    // Closing the served ones frees places: every waiting client is then
    // accepted and answered (each closing in turn, to free a place for the
    // next), with no new connection to prompt it.
    drop(served);
    for (i, mut c) in waiting {
        let r = c.response();
        assert_eq!((r.status, r.body), (200, format!("flood{i}").into_bytes()), "waiting client {i}");
    }

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
    assert_no_emfile(b);
    assert!(b.child.try_wait().unwrap().is_none(), "the server exited");
}

/// Uploads hold two descriptors each (the socket and the temporary file):
/// on ed6a2ad, 122 unfinished PUTs under `--nofile 256` and
/// `--max-connections 150` ran the server out of descriptors.
#[test]
fn unfinished_uploads_under_a_low_limit_never_run_the_server_out_of_descriptors() {
    const LIMIT: u64 = 256;
    const UPLOADS: usize = 122;
    let dir = tempfile::tempdir().unwrap();
    let mut b =
        low_limit(LIMIT, &["--max-connections", "150", "--allow-upload", "--directory", dir.path().to_str().unwrap()]);
    let warned = b.lines.iter().find(|l| l.contains("WARN") && l.contains("cannot cover --max-connections 150"));
    assert!(warned.is_some(), "no start-up warning with the numbers: {:#?}", b.lines);
    // Each upload sends its head and one byte of five, then waits.
    let mut uploads: Vec<Client> = (0..UPLOADS)
        .map(|i| {
            let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
            let head =
                format!("PUT /files/up{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\na");
            c.send(head.as_bytes());
            c
        })
        .collect();
    let _ = b.wait_for_line(WINDOW, |_| false);
    assert_no_emfile(&mut b);
    // Finished, each is answered and closed, and the ones waiting in the
    // backlog are taken in their turn.
    for c in &mut uploads {
        c.send(b"bcde");
    }
    for (i, c) in uploads.iter_mut().enumerate() {
        assert_eq!(c.response().status, 201, "upload {i}");
    }
    assert_no_emfile(&mut b);
    assert_eq!(dir_entries(dir.path()).len(), UPLOADS);
}
