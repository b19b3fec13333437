//! Hostile and unlucky clients: thousands of idle connections, slowloris,
//! resets mid-request and mid-response, many concurrent keep-alive clients,
//! and random garbage. After each, the server must still answer promptly.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Raises this process's open-file limit (the in-process server shares it)
/// to at least `need`, or says why it cannot.
fn raise_nofile(need: u64) -> Result<(), String> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit for the kernel to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    if lim.rlim_max < need {
        return Err(format!("hard RLIMIT_NOFILE is {}, need {need}", lim.rlim_max));
    }
    if lim.rlim_cur < need {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: `raised` is a valid rlimit for the kernel to read.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
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
    if let Err(why) = raise_nofile(2 * IDLE as u64 + 100) {
        println!("skipped: {why}");
        return;
    }
    let s = TestServer::start();
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..IDLE).map(|_| TcpStream::connect(s.addr_v4()).expect("connect")).collect();
    println!("opened {IDLE} connections in {:?}", opened.elapsed());
    for i in 0..5 {
        answered_within(&s, &format!("fresh{i}"), Duration::from_secs(1));
    }
    // The oldest and the newest idle connections were accepted and still work.
    for i in [0, IDLE / 2, IDLE - 1] {
        let mut c = Client::from_stream(idle[i].try_clone().unwrap());
        c.send(format!("GET /echo/idle{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().body, format!("idle{i}").as_bytes());
    }
    idle.clear();
    answered_within(&s, "after", Duration::from_secs(1));
}

#[test]
fn five_hundred_slowloris_clients_do_not_delay_a_normal_client() {
    const SLOW: usize = 500;
    if let Err(why) = raise_nofile(2 * SLOW as u64 + 100) {
        println!("skipped: {why}");
        return;
    }
    let s = TestServer::start();
    let mut slow: Vec<Client> = (0..SLOW).map(|_| s.client()).collect();
    for (i, c) in slow.iter_mut().enumerate() {
        c.send(format!("GET /echo/{i} HTTP/1.1\r\nHost: t\r\nX-Slow: ").as_bytes());
    }
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        worst = worst.max(answered_within(&s, &format!("normal{i}"), Duration::from_secs(1)));
    }
    println!("slowest normal response among {SLOW} slowloris clients: {worst:?}");
    // The slow ones are still waiting, not answered or dropped.
    assert!(slow[0].still_open_after(ms(100)));
}

#[test]
fn hundred_concurrent_keep_alive_clients_get_correct_responses() {
    const CLIENTS: usize = 100;
    const REQUESTS: usize = 20;
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
    let partial: [&[u8]; 3] = [
        b"GET /echo/never HTTP/1.1\r\nHo",
        b"POST /files/cut HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nsome of the body",
        b"PUT /files/cut2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789",
    ];
    for round in 0..10 {
        for raw in partial {
            let mut c = s.client();
            c.send(raw);
            if round % 2 == 1 {
                // Sometimes let the server take the bytes before the reset.
                thread::sleep(ms(20));
            }
            reset(c);
        }
        answered_within(&s, &format!("after{round}"), Duration::from_secs(1));
    }
    let clean = eventually(Duration::from_secs(2), || dir_entries(s.dir()).is_empty().then_some(()));
    assert!(clean.is_some(), "cut-off uploads left {:?}", dir_entries(s.dir()));
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
        answered_within(&s, &format!("after{round}"), Duration::from_secs(1));
    }
    assert_eq!(s.get("/files/small.txt").body, b"small file");
    // A complete download still works after all that.
    let mut c = s.client();
    c.send(b"GET /files/big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.body.len() as u64), (200, SIZE));
}

// ---- garbage -------------------------------------------------------------

/// Sends `bytes`; the server must answer 400 and close, or just close,
/// within `within`; it must never leave the connection hanging.
fn garbage_is_refused(s: &TestServer, bytes: &[u8], within: Duration, what: &str) {
    let mut c = s.client();
    // The server may close before all of it is written: that is fine.
    let _ = c.stream().write_all(bytes);
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ended = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        c.stream().set_read_timeout(Some(left)).unwrap();
        match c.reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break false,
            Err(_) => break true,
        }
    };
    let text = String::from_utf8_lossy(&got);
    assert!(ended, "{what}: connection still open after {within:?}, got {text:?}");
    assert!(got.is_empty() || text.starts_with("HTTP/1.1 400 "), "{what}: {text:?}");
}

#[test]
fn random_garbage_ending_like_a_head_gets_400_and_close() {
    let s = TestServer::start();
    for seed in 1..=20u64 {
        let mut bytes = Rng(seed).bytes(2000);
        bytes.extend_from_slice(b"\r\n\r\n");
        garbage_is_refused(&s, &bytes, Duration::from_secs(2), &format!("seed {seed}"));
    }
    answered_within(&s, "after", Duration::from_secs(1));
}

#[test]
fn random_garbage_gets_400_or_close_never_a_hang() {
    // Default header_timeout (10 s) is far beyond the bound: garbage must
    // be refused for what it is, not merely timed out.
    let s = TestServer::start();
    let mut rng = Rng(0x5eed);
    thread::scope(|scope| {
        for seed in 0..20u64 {
            let bytes = rng.bytes(64 + 200 * seed as usize);
            let s = &s;
            scope.spawn(move || garbage_is_refused(s, &bytes, Duration::from_secs(2), &format!("garbage #{seed}")));
        }
    });
    answered_within(&s, "after", Duration::from_secs(1));
}
