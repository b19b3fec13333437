//! Connections that never send a request: closed at the header timeout
//! counted from accept, not held for the keep-alive timeout (on ed6a2ad a
//! silent connection was held 61 s: `TCP_DEFER_ACCEPT`'s second, then the
//! keep-alive timeout). Over real sockets against the real binary; set
//! `LOOPHTTP_TEST_BIN` to run another build.

mod common;
use common::*;

use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Short, so the tests take seconds; the keep-alive timeout stays 60 s.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// `TCP_DEFER_ACCEPT`: the kernel hands a silent connection over when it
/// retransmits the SYN-ACK, about a second after the handshake.
const DEFER: Duration = Duration::from_secs(1);
/// Clients in the flood tests.
const FLOOD: usize = 1000;

fn server() -> BinServer {
    BinServer::under_test(&["--header-timeout", "2s", "--access-log", "off"])
}

#[test]
fn a_silent_connection_is_closed_at_the_header_timeout_from_accept() {
    let s = server();
    let connected = Instant::now();
    let mut c = Client::connect(([127, 0, 0, 1], s.port).into());
    let (got, end) = c.read_until_end(DEFER + HEADER_TIMEOUT + LATE);
    let took = connected.elapsed();
    assert_eq!(end, End::Eof, "still open {took:?} after connecting without a word");
    assert!(got.is_empty(), "nothing is sent to a client that asked nothing: {got:?}");
    assert!(took >= HEADER_TIMEOUT, "closed {took:?} after connecting: before the header timeout");
}

/// Waits until the server holds at most `fds` descriptors; returns when.
fn fds_back_to(s: &BinServer, fds: usize, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    eventually(within, || (s.fds() <= fds).then(|| start.elapsed()))
}

/// The server and its descriptors before the flood, and `FLOOD` clients
/// connected to it; None (after a note, or failing under CI) where the
/// open-file limit is too low for the flood.
fn flood() -> Option<(BinServer, usize, Vec<TcpStream>)> {
    if !have_fds(4 * FLOOD as u64) {
        return None;
    }
    let s = server();
    let baseline = s.fds();
    let clients = (0..FLOOD).map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap()).collect();
    Some((s, baseline, clients))
}

#[test]
fn a_thousand_silent_connections_are_all_closed_within_the_header_timeout() {
    let Some((s, baseline, clients)) = flood() else { return };
    // Each is accepted about a second later, when its SYN-ACK is retransmitted.
    let held = eventually(DEFER + LATE, || (s.fds() >= baseline + FLOOD / 2).then_some(()));
    assert!(held.is_some(), "the server never held the silent connections ({} fds)", s.fds());
    let back = fds_back_to(&s, baseline, DEFER + HEADER_TIMEOUT + LATE);
    assert!(back.is_some(), "{} descriptors held, {baseline} at the start", s.fds());
    drop(clients);
}

#[test]
fn a_thousand_clients_that_connect_and_close_at_once_leave_no_descriptor_behind() {
    let Some((s, baseline, clients)) = flood() else { return };
    drop(clients);
    // Linux hands a deferred connection over when the client's FIN comes:
    // the server reads EOF at once. One whose FIN was lost (a full accept
    // queue) arrives later without data, and is held at most the header
    // timeout.
    let back = fds_back_to(&s, baseline, DEFER + HEADER_TIMEOUT + LATE);
    assert!(back.is_some(), "{} descriptors held, {baseline} at the start", s.fds());
    eprintln!("back to {baseline} descriptors {:?} after {FLOOD} clients closed", back.unwrap());
}
