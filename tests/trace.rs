//! `--log-level trace` shows the loop at work, and reads like the state
//! diagram: the real binary, JSON log lines, one connection.

mod common;

use std::time::Duration;

use common::{BinServer, Client};
use serde_json::Value;

const WITHIN: Duration = Duration::from_secs(10);

fn trace_server() -> BinServer {
    BinServer::start(&["--log-level", "trace", "--log-format", "json", "--access-log", "off"])
}

/// The JSON lines logged about connection(s), once the connection from
/// `port` has logged its close.
fn lines_until_close(b: &mut BinServer, port: u16) -> Vec<Value> {
    let suffix = format!(":{port}\"");
    let closed = b.wait_for_line(WITHIN, |l| l.contains("\"message\":\"close\"") && l.contains(&suffix));
    assert!(closed.is_some(), "no close line for port {port}; log: {:#?}", b.lines);
    b.collect().iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn messages<'a>(lines: &'a [Value], of: &[&str]) -> Vec<&'a str> {
    lines.iter().filter_map(|l| l["message"].as_str()).filter(|m| of.contains(m)).collect()
}

fn transitions(lines: &[Value]) -> Vec<(String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    lines.iter().filter(|l| l["message"] == "transition").map(|l| (s(&l["from"]), s(&l["edge"]), s(&l["to"]))).collect()
}

fn arrow(from: &str, edge: &str, to: &str) -> (String, String, String) {
    (from.into(), edge.into(), to.into())
}

/// Every line that names a connection names the same one; returns its id.
fn one_id(lines: &[Value]) -> u64 {
    let ids: std::collections::BTreeSet<u64> = lines.iter().filter_map(|l| l["conn"].as_u64()).collect();
    assert_eq!(ids.len(), 1, "one connection, one id: {ids:?}");
    ids.into_iter().next().unwrap()
}

#[test]
fn a_keep_alive_pair_is_traced_under_one_id_in_the_diagrams_order() {
    let mut b = trace_server();
    let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
    let port = c.stream().local_addr().unwrap().port();
    for word in ["one", "two"] {
        c.send(format!("GET /echo/{word} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().text(), word);
    }
    drop(c);
    let lines = lines_until_close(&mut b, port);
    one_id(&lines);
    assert_eq!(
        transitions(&lines),
        [arrow("Head", "answered", "Head"), arrow("Head", "answered", "Head"), arrow("Head", "peer-eof", "Closed")]
    );
    let steps = ["open", "request", "transition", "close"];
    assert_eq!(
        messages(&lines, &steps),
        ["open", "request", "transition", "request", "transition", "transition", "close"],
        "accepted, two answers, then closed"
    );
    let close = lines.iter().find(|l| l["message"] == "close").unwrap();
    let open = lines.iter().find(|l| l["message"] == "open").unwrap();
    assert_eq!(open["peer"], close["peer"], "open and close name the peer");
    assert_eq!(close["reason"], "client_closed");
    // The loop at work: wake-ups with their timeout, events, bytes.
    let wake = lines.iter().find(|l| l["message"] == "wake").expect("a wake-up line");
    assert!(wake["events"].as_u64().is_some() && wake["timeout"].is_string(), "{wake}");
    let event = lines.iter().find(|l| l["message"] == "event").expect("an event line");
    assert!(event["token"].is_u64() && event["readable"].is_boolean() && event["hup"].is_boolean(), "{event}");
    let read: Vec<u64> = lines.iter().filter(|l| l["message"] == "read").filter_map(|l| l["bytes"].as_u64()).collect();
    let wrote: Vec<u64> =
        lines.iter().filter(|l| l["message"] == "wrote").filter_map(|l| l["bytes"].as_u64()).collect();
    assert!(read.len() >= 2 && read.iter().all(|&n| n > 0), "bytes read per request: {read:?}");
    assert_eq!(wrote.len(), 2, "one write per answer: {wrote:?}");
    assert!(lines.iter().any(|l| l["message"] == "read EOF"), "the client's EOF is read");
}

#[test]
fn a_pipelined_pair_is_read_once_answered_twice_and_written_once() {
    let mut b = trace_server();
    let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
    let port = c.stream().local_addr().unwrap().port();
    c.send(b"GET /echo/one HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().text(), "one");
    assert_eq!(c.response().text(), "two");
    let lines = lines_until_close(&mut b, port);
    one_id(&lines);
    assert_eq!(
        transitions(&lines),
        [
            arrow("Head", "answered", "Head"),
            arrow("Head", "send-first", "Drain(Close)"),
            arrow("Drain(Close)", "drained", "Closed")
        ]
    );
    assert_eq!(messages(&lines, &["read", "wrote"]), ["read", "wrote"], "one read, both answers in one write");
    let close = lines.iter().find(|l| l["message"] == "close").unwrap();
    assert_eq!(close["reason"], "no_keep_alive");
}

#[test]
fn client_bytes_in_a_path_reach_the_log_escaped() {
    let mut b = BinServer::start(&["--log-level", "trace", "--access-log", "off"]);
    let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
    // A quote and a backslash pass the parser; in the log they are escaped,
    // so a value cannot end early or fake another field.
    c.send(b"GET /echo/a\"b\\c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let _ = c.response();
    let line = b.wait_for_line(WITHIN, |l| l.contains(" request ")).expect("request line");
    assert!(line.contains(r#"path="/echo/a\\\"b\\\\c""#), "{line}");
}

/// The `send mark` lines: (connection id, TCP_NOTSENT_LOWAT set, senders).
fn marks(b: &mut BinServer) -> Vec<(u64, u64, u64)> {
    b.collect()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "send mark")
        .map(|l| (l["conn"].as_u64().unwrap(), l["notsent_lowat"].as_u64().unwrap(), l["senders"].as_u64().unwrap()))
        .collect()
}

/// Waits until `n` send-mark lines were logged; returns them all.
fn marks_within(b: &mut BinServer, n: usize) -> Vec<(u64, u64, u64)> {
    let got = common::eventually(WITHIN, || {
        let m = marks(b);
        (m.len() >= n).then_some(m)
    });
    got.unwrap_or_else(|| panic!("expected {n} send-mark lines; got {:?}", marks(b)))
}

/// A traced server whose `--directory` holds `big.bin`, 32 MiB: far more
/// than any send buffer, so a download that is not read stays in progress.
fn trace_server_with_big_file() -> (tempfile::TempDir, BinServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 32 << 20]).unwrap();
    let b = BinServer::start(&[
        "--log-level",
        "trace",
        "--log-format",
        "json",
        "--access-log",
        "off",
        "--directory",
        dir.path().to_str().unwrap(),
    ]);
    (dir, b)
}

#[test]
fn the_unsent_mark_follows_how_many_connections_send_a_large_file() {
    let (_dir, mut b) = trace_server_with_big_file();
    let get = b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    // Neither client reads: each download stays in progress, blocked on a
    // full socket, with far more than the mark left to send.
    let mut first = Client::connect(([127, 0, 0, 1], b.port).into());
    first.send(get);
    // Alone: no mark, so the kernel may queue the whole send buffer.
    let [(a, mark, senders)] = marks_within(&mut b, 1)[..] else { panic!("{:?}", marks(&mut b)) };
    assert_eq!((mark, senders), (0, 1), "a lone download gets the system's default");
    let mut second = Client::connect(([127, 0, 0, 1], b.port).into());
    second.send(get);
    // Two at once: the first goes back to the listener's 256 KiB, which the
    // second has inherited already.
    let m = marks_within(&mut b, 2);
    assert_eq!(m[1], (a, 256 * 1024, 2), "{m:?}");
    assert_eq!(m.len(), 2, "the second connection needs no setsockopt: {m:?}");
    // The second gives up (closing with unread data sends a reset): the
    // first is alone again.
    drop(second);
    let m = marks_within(&mut b, 3);
    assert_eq!(m[2], (a, 0, 1), "{m:?}");
    drop(first);
}

#[test]
fn the_unsent_mark_is_off_again_beyond_eight_senders() {
    // `MARKED_SENDERS_MAX` in src/event_loop/unsent_mark.rs.
    const MARKED_MAX: usize = 8;
    const LOWAT: u64 = 256 * 1024;
    let (_dir, mut b) = trace_server_with_big_file();
    let get = b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    // None reads: every download stays in progress on a full socket.
    let mut clients = Vec::new();
    for _ in 0..MARKED_MAX {
        let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
        c.send(get);
        clients.push(c);
    }
    // The first alone (no mark), then the first back to 256 KiB when the
    // second starts; the other six inherit it from the listener.
    let m = marks_within(&mut b, 2);
    assert_eq!((m[0].1, m[1].1), (0, LOWAT), "{m:?}");
    let mut ninth = Client::connect(([127, 0, 0, 1], b.port).into());
    ninth.send(get);
    // Nine: every sender's mark goes off, one setsockopt each.
    let m = marks_within(&mut b, 2 + MARKED_MAX + 1);
    let off: Vec<_> = m[2..].iter().map(|&(_, mark, senders)| (mark, senders)).collect();
    assert_eq!(off, vec![(0, MARKED_MAX as u64 + 1); MARKED_MAX + 1], "{m:?}");
    let ids: std::collections::BTreeSet<u64> = m[2..].iter().map(|l| l.0).collect();
    assert_eq!(ids.len(), MARKED_MAX + 1, "each sender once: {m:?}");
    // One gives up (a reset): eight are left, and get the mark back.
    drop(ninth);
    let m = marks_within(&mut b, 2 + 2 * MARKED_MAX + 1);
    let back: Vec<_> = m[2 + MARKED_MAX + 1..].iter().map(|&(_, mark, senders)| (mark, senders)).collect();
    assert_eq!(back, vec![(LOWAT, MARKED_MAX as u64); MARKED_MAX], "{m:?}");
    drop(clients);
}

#[test]
fn a_flood_of_new_connections_is_taken_in_batches_between_other_events() {
    const CLIENTS: usize = 150;
    let mut b = trace_server();
    // Stopped, the server cannot accept: the kernel queues every
    // connection with its request. Resumed, it finds all of them at once.
    let pid = libc::pid_t::try_from(b.pid()).unwrap();
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            let mut c = Client::connect(([127, 0, 0, 1], b.port).into());
            c.send(format!("GET /echo/{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
            c
        })
        .collect();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.response().text(), i.to_string());
    }
    let closes = common::eventually(WITHIN, || {
        let n = b.collect().iter().filter(|l| l.contains("\"message\":\"close\"")).count();
        (n == CLIENTS).then_some(n)
    });
    assert_eq!(closes, Some(CLIENTS), "every connection closed");
    // Accepts per pass: the "open" lines between two "wake" lines.
    let mut per_pass = vec![0usize];
    for l in b.collect() {
        if l.contains("\"message\":\"wake\"") {
            per_pass.push(0);
        } else if l.contains("\"message\":\"open\"") {
            *per_pass.last_mut().unwrap() += 1;
        }
    }
    let most = per_pass.iter().copied().max().unwrap();
    assert_eq!(per_pass.iter().sum::<usize>(), CLIENTS);
    assert!(most <= 64, "at most a batch (64) per pass, got {most}: {per_pass:?}");
    assert!(per_pass.iter().filter(|&&n| n > 0).count() >= 3, "150 take three passes: {per_pass:?}");
}
