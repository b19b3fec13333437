//! Hostile and unlucky clients: thousands of idle connections, slowloris,
//! resets mid-request and mid-response, many concurrent keep-alive clients,
//! and random garbage. After each, the server must still answer promptly.

mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The timing-sensitive tests take this so they do not measure each other
/// (the test harness runs tests in parallel; this host may have 2 cores).
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh client's `GET /echo/{word}` must be answered correctly within `limit`.
fn answered_within(s: &TestServer, word: &str, limit: Duration) -> Duration {
    let t = Instant::now();
    let r = s.get(&format!("/echo/{word}"));
    let took = t.elapsed();
    assert_eq!((r.status, r.body.as_slice()), (200, word.as_bytes()));
    assert!(took < limit, "a new client waited {took:?}");
    took
}

/// Closes with SO_LINGER 0: the server sees a reset, not a FIN.
fn reset(c: Client) {
    let stream = c.reader.into_inner();
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }
}

// ---- many connections ----------------------------------------------------

#[test]
fn five_thousand_idle_connections_leave_the_server_responsive() {
    const IDLE: usize = 5000;
    // Both ends live in this process: 2 fds per connection, plus slack.
    if !have_fds(2 * IDLE as u64 + 100) {
        return;
    }
    let _heavy = heavy();
    let s = TestServer::start();
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..IDLE).map(|_| TcpStream::connect(s.addr_v4()).expect("connect")).collect();
    println!("opened {IDLE} connections in {:?}", opened.elapsed());
    for i in 0..5 {
        answered_within(&s, &format!("fresh{i}"), LATE);
    }
    // The oldest and the newest idle connections were accepted and still work.
    for i in [0, IDLE / 2, IDLE - 1] {
        let mut c = Client::from_stream(idle[i].try_clone().unwrap());
        c.send(format!("GET /echo/idle{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().body, format!("idle{i}").as_bytes());
    }
    idle.clear();
    answered_within(&s, "after", LATE);
}

/// What slowloris clients trickle, one byte per client per round: header
/// lines that never end the head.
const TRICKLE: &[u8] = b"slowslowslowslowslowslowslowslowslowslow\r\nX-Slow: ";
/// One byte to each slowloris client per round: 50 bytes a second each,
/// far busier than a real slowloris (about one a second).
const TRICKLE_ROUND: Duration = Duration::from_millis(20);

/// Sets the flag when dropped, also while a failed assertion unwinds, so
/// a background thread in a `thread::scope` stops and the scope can end.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Sends the next trickle byte to every client, round after round, until
/// `stop`. Returns how many bytes each client sent.
fn trickle(slow: &[TcpStream], stop: &AtomicBool, rounds: &AtomicUsize) -> usize {
    let mut k = 0;
    while !stop.load(Ordering::SeqCst) {
        let round = Instant::now();
        for (i, mut c) in slow.iter().enumerate() {
            let sent = c.write_all(&TRICKLE[k % TRICKLE.len()..][..1]);
            assert!(sent.is_ok(), "slowloris client {i} was cut off after {k} bytes: {sent:?}");
        }
        k += 1;
        rounds.store(k, Ordering::SeqCst);
        // Pacing, not synchronisation: the measurement waits on `rounds`.
        thread::sleep(TRICKLE_ROUND.saturating_sub(round.elapsed()));
    }
    k
}

#[test]
fn five_hundred_slowloris_clients_do_not_delay_a_normal_client() {
    const SLOW: usize = 500;
    /// Normal requests are measured over this many trickle rounds.
    const ROUNDS: usize = 20;
    /// Generous for a busy machine; a loop held up by the slow ones would
    /// not answer at all (their heads never end).
    const LIMIT: Duration = LATE;
    if !have_fds(2 * SLOW as u64 + 100) {
        return;
    }
    let _heavy = heavy();
    let s = TestServer::start(); // header timeout 10 s: far beyond this test
    let slow: Vec<TcpStream> = (0..SLOW)
        .map(|i| {
            let mut c = TcpStream::connect(s.addr_v4()).expect("connect");
            c.write_all(format!("GET /echo/slow{i} HTTP/1.1\r\nHost: t\r\nX-Slow: ").as_bytes()).unwrap();
            c
        })
        .collect();
    let (stop, rounds) = (AtomicBool::new(false), AtomicUsize::new(0));
    let mut worst = Duration::ZERO;
    let sent_each = thread::scope(|scope| {
        let trickler = scope.spawn(|| trickle(&slow, &stop, &rounds));
        let stopper = StopOnDrop(&stop);
        // One fresh client per trickle round, ROUNDS rounds: each request
        // meets the server busy with that round's 500 bytes.
        for n in 0..ROUNDS {
            let round = rounds.load(Ordering::SeqCst);
            worst = worst.max(answered_within(&s, &format!("normal{n}"), LIMIT));
            let next = eventually(Duration::from_secs(2), || (rounds.load(Ordering::SeqCst) > round).then_some(()));
            assert!(next.is_some(), "the trickle stalled at round {round}");
        }
        drop(stopper);
        trickler.join().expect("trickle")
    });
    println!("{ROUNDS} normal requests, slowest {worst:?}, while {SLOW} slowloris clients sent {sent_each} bytes each");
    // The slow ones were neither answered nor dropped: nothing to read.
    for (i, mut c) in slow.iter().enumerate() {
        c.set_nonblocking(true).unwrap();
        let got = c.read(&mut [0u8; 64]);
        assert!(got.as_ref().is_err_and(|e| e.kind() == ErrorKind::WouldBlock), "slowloris client {i}: {got:?}");
        c.set_nonblocking(false).unwrap();
    }
    // And what they trickled was a real head: ended now, it is answered.
    for i in [0, SLOW / 2, SLOW - 1] {
        let mut c = Client::from_stream(slow[i].try_clone().unwrap());
        c.send(&TRICKLE[sent_each % TRICKLE.len()..]);
        c.send(b"end\r\n\r\n");
        let r = c.response();
        assert_eq!((r.status, r.body), (200, format!("slow{i}").into_bytes()), "slowloris client {i}");
    }
}

#[test]
fn hundred_concurrent_keep_alive_clients_get_correct_responses() {
    const CLIENTS: usize = 100;
    const REQUESTS: usize = 20;
    let _heavy = heavy();
    let s = TestServer::start();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let mut c = s.client();
                    for j in 0..REQUESTS {
                        let word = format!("c{i}r{j}");
                        c.send(format!("GET /echo/{word} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
                        let r = c.response();
                        assert_eq!((r.status, r.body.as_slice()), (200, word.as_bytes()), "client {i} request {j}");
                        assert_eq!(r.header("connection"), None, "client {i} request {j}: keep-alive");
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a client got a wrong response");
        }
    });
}

// ---- resets --------------------------------------------------------------

#[test]
fn clients_that_reset_mid_request_do_not_disturb_the_server() {
    let s = TestServer::start();
    // (partial request, whether it starts an upload)
    let partial: [(&[u8], bool); 3] = [
        (b"GET /echo/never HTTP/1.1\r\nHo", false),
        (b"POST /files/cut HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nsome of the body", true),
        (b"PUT /files/cut2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789", true),
    ];
    for round in 0..10 {
        for (raw, upload) in partial {
            let mut c = s.client();
            if round % 2 == 1 {
                // The server must have taken the partial request before
                // the reset: it follows a whole one in the same write, so
                // once that is answered the server has read both.
                let mut wire = b"GET /echo/first HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
                wire.extend_from_slice(raw);
                c.send(&wire);
                assert_eq!(c.response().body, b"first");
                if upload {
                    let started =
                        eventually(Duration::from_secs(2), || (!dir_entries(s.dir()).is_empty()).then_some(()));
                    assert!(
                        started.is_some(),
                        "round {round}: no upload in progress for {:?}",
                        String::from_utf8_lossy(raw)
                    );
                }
            } else {
                // Sometimes the reset overtakes the bytes.
                c.send(raw);
            }
            reset(c);
            let clean = eventually(Duration::from_secs(2), || dir_entries(s.dir()).is_empty().then_some(()));
            assert!(clean.is_some(), "round {round}: a cut-off upload left {:?}", dir_entries(s.dir()));
        }
        answered_within(&s, &format!("after{round}"), LATE);
    }
}

#[test]
fn clients_that_reset_mid_response_do_not_disturb_the_server() {
    const SIZE: u64 = 20 << 20;
    let s = TestServer::start();
    std::fs::File::create(s.dir().join("big")).unwrap().set_len(SIZE).unwrap();
    std::fs::write(s.dir().join("small.txt"), b"small file").unwrap();
    for round in 0..5 {
        let mut c = s.client();
        c.send(b"GET /files/big HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut some = [0u8; 4096];
        c.reader.read_exact(&mut some).unwrap();
        assert!(some.starts_with(b"HTTP/1.1 200 "));
        reset(c);
        answered_within(&s, &format!("after{round}"), LATE);
    }
    assert_eq!(s.get("/files/small.txt").body, b"small file");
    // A complete download still works after all that.
    let mut c = s.client();
    c.send(b"GET /files/big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.body.len() as u64), (200, SIZE));
}

// ---- garbage -------------------------------------------------------------

/// Sends `bytes`, then reads until the server ends the connection or
/// `within` passes; returns what arrived and how it ended.
fn send_garbage(s: &TestServer, bytes: &[u8], within: Duration) -> (String, End) {
    let mut c = s.client();
    // The server may close before all of it is written: the read says how.
    let _ = c.stream().write_all(bytes);
    let (got, end) = c.read_until_end(within);
    (String::from_utf8_lossy(&got).into_owned(), end)
}

#[test]
fn random_garbage_ending_like_a_head_gets_400_and_close() {
    let s = TestServer::start();
    for seed in 1..=20u64 {
        let mut bytes = Rng(seed).bytes(2000);
        bytes.extend_from_slice(b"\r\n\r\n");
        // The whole head is in: the answer is a 400, read whole, then a
        // graceful close (not a reset that could destroy the 400).
        let (text, end) = send_garbage(&s, &bytes, Duration::from_secs(2));
        assert!(text.starts_with("HTTP/1.1 400 "), "seed {seed}: {text:?}");
        assert!(text.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "seed {seed}: {text:?}");
        assert_eq!(end, End::Eof, "seed {seed}: {text:?}");
    }
    answered_within(&s, "after", LATE);
}

#[test]
fn random_garbage_gets_400_and_close_never_a_hang() {
    // Default header_timeout (10 s) is far beyond the bound: garbage must
    // be refused for what it is, not merely timed out.
    let s = TestServer::start();
    let mut rng = Rng(0x5eed);
    thread::scope(|scope| {
        for seed in 0..20u64 {
            let bytes = rng.bytes(64 + 200 * seed as usize);
            let s = &s;
            scope.spawn(move || {
                let (text, end) = send_garbage(s, &bytes, Duration::from_secs(2));
                // Refused for what it is, as soon as it cannot be a request,
                // and closed gracefully so the client reads the 400.
                assert!(text.starts_with("HTTP/1.1 400 "), "garbage #{seed}: {text:?}");
                assert_eq!(end, End::Eof, "garbage #{seed}: {text:?}");
            });
        }
    });
    answered_within(&s, "after", LATE);
}
