//! Flag values at their extremes: the parser refuses what is out of range
//! with a message, and whatever it accepts starts a server that answers a
//! request and stops cleanly. Nothing panics, whatever the values (a
//! `--keepalive-timeout` of 2^64-1 seconds once overflowed an `Instant`
//! on the first connection).

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;

use loophttp::{Config, Server};
use proptest::prelude::*;

/// Cases: each starts a server (about 20 ms in a debug build). Set
/// `PROPTEST_CASES` for a longer hunt.
const CASES: u32 = 48;

/// Values at and beyond every edge a flag can have, in every unit.
const EXTREMES: &[&str] = &[
    "0",
    "1",
    "-1",
    "",
    "0s",
    "1ms",
    "1.5s",
    "24h",
    "25h",
    "1000000m",
    "18446744073709551615",
    "18446744073709551615s",
    "18446744073709551616",
    "9223372036854775807ms",
    "1e30",
    "63",
    "64",
    "1MiB",
    "1.5G",
    "16E",
    "1024",
    "1025",
    "2147483648",
    "10000000",
    "NaN",
];

/// Every flag that takes a number, a size or a duration. `--workers` is
/// left out: an accepted 1024 would start 1024 threads per case (its
/// range is a unit test of `values`).
const FLAGS: &[&str] = &[
    "--backlog",
    "--max-connections",
    "--max-uri-bytes",
    "--max-head-bytes",
    "--max-headers",
    "--max-body-bytes",
    "--header-timeout",
    "--body-timeout",
    "--body-min-rate",
    "--body-rate-grace",
    "--keepalive-timeout",
    "--write-timeout",
    "--shutdown-timeout",
    "--drain-grace",
];

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn flag_values() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    prop::collection::vec((prop::sample::select(FLAGS), prop::sample::select(EXTREMES)), 1..5)
}

/// Parses `flags` as the binary would; if accepted, serves two requests
/// with a body on one connection and shuts down.
fn parse_and_serve(flags: &[(&str, &str)]) -> Result<(), TestCaseError> {
    let mut args = vec!["loophttp", "--host", "127.0.0.1", "--port", "0", "--access-log", "off"];
    for (flag, value) in flags {
        args.extend([flag, value]);
    }
    let config = match Config::load(&args) {
        Ok(c) => c,
        Err(_) => return Ok(()), // refused with a message: what the test wants
    };
    if config.validate().is_err() {
        return Ok(());
    }
    let server = Server::bind(config).map_err(|e| TestCaseError::fail(format!("{args:?}: bind: {e}")))?;
    let port = server.local_addr().port();
    let handle = server.spawn().map_err(|e| TestCaseError::fail(format!("{args:?}: spawn: {e}")))?;
    // Keep-alive, the head and the body each in two pieces: the header,
    // body and keep-alive deadlines are computed (most likely: the server
    // may read both pieces at once, which only costs coverage). Tiny limits
    // and timeouts may refuse or cut this exchange, which is their job.
    exchange_in_pieces(port);
    // Whatever they did, the server still answers a whole request...
    let healthz = Client::connect(([127, 0, 0, 1], port).into())
        .exchange(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    prop_assert!(healthz.starts_with(b"HTTP/1.1 "), "{args:?}: /healthz got {:?}", String::from_utf8_lossy(&healthz));
    // ...and no worker panicked (which its shutdown would report).
    handle.shutdown().map_err(|e| TestCaseError::fail(format!("{args:?}: shutdown: {e}")))?;
    Ok(())
}

trait Exchange {
    /// Sends `raw` and reads until the server closes.
    fn exchange(self, raw: &[u8]) -> Vec<u8>;
}

impl Exchange for Client {
    fn exchange(mut self, raw: &[u8]) -> Vec<u8> {
        self.send(raw);
        self.read_until_end(IO_TIMEOUT).0
    }
}

/// Two requests on one connection, each sent in pieces; I/O errors are
/// ignored (the server may close early on purpose).
fn exchange_in_pieces(port: u16) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return };
    let _ = s.set_read_timeout(Some(IO_TIMEOUT));
    for close in ["", "Connection: close\r\n"] {
        let middle = format!("Content-Length: 5\r\n{close}\r\nhel");
        let pieces = [&b"POST / HTTP/1.1\r\nHost: t\r\n"[..], middle.as_bytes(), b"lo"];
        if pieces.iter().any(|p| s.write_all(p).is_err()) {
            return;
        }
        // One read of the answer is enough to let the connection go idle.
        let mut buf = [0u8; 4096];
        if matches!(s.read(&mut buf), Ok(0) | Err(_)) {
            return;
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_flag_value_panics_the_parser_or_the_start_up(flags in flag_values()) {
        parse_and_serve(&flags)?;
    }
}

#[test]
fn the_values_that_used_to_panic_are_refused_with_a_message() {
    for (flag, value) in [
        ("--keepalive-timeout", "18446744073709551615s"),
        ("--header-timeout", "307445734561825861m"),
        ("--max-head-bytes", "18446744073709551615"),
        ("--max-connections", "18446744073709551615"),
        ("--workers", "18446744073709551615"),
    ] {
        let err = match Config::load(["loophttp", flag, value]) {
            Err(loophttp::config::LoadError::Clap(e)) => e.to_string(),
            other => panic!("{flag} {value}: {other:?}"),
        };
        assert!(err.contains(flag) && err.contains(value), "{err}");
    }
}
