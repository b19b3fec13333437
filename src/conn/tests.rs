//! The state machine driven by an in-memory stream: reads that return
//! `WouldBlock`, short writes, a client that stops reading, and time.

use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::mem_stream::{MemStream, Rig};
use crate::routes::Routes;
use crate::setup::Settings;

fn context() -> Context {
    Rig::context(Settings::from_config(&Config::defaults()))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

/// Splits written bytes into responses (all ours carry Content-Length).
fn responses(mut out: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut v = Vec::new();
    while !out.is_empty() {
        let end = out.windows(4).position(|w| w == b"\r\n\r\n").expect("head end") + 4;
        let head = std::str::from_utf8(&out[..end]).unwrap();
        let status = head[9..12].parse().unwrap();
        let len: usize =
            head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).map_or(0, |n| n.trim().parse().unwrap());
        v.push((status, out[end..end + len].to_vec()));
        out = &out[end + len..];
    }
    v
}

#[test]
fn one_request_one_read_one_write_and_interest_stays_readable() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&get("/echo/hi"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written), [(200, b"hi".to_vec())]);
    // The read was shorter than the buffer: drained, no second read.
    assert_eq!((io.read_calls, io.write_calls), (1, 1));
    assert_eq!(c.want(), Want { read: true, write: false });
    assert!(!c.is_closed());
}

#[test]
fn pipelined_requests_are_answered_in_order_with_one_write() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    let wire: Vec<u8> = ["/echo/1", "/echo/2", "/user-agent", "/nope", "/echo/3"].iter().flat_map(|p| get(p)).collect();
    io.push(&wire);
    c.on_ready(&mut io, true, false, &mut cx);
    let got = responses(&io.written);
    let want = [(200, &b"1"[..]), (200, b"2"), (200, b""), (404, b"Not Found"), (200, b"3")];
    assert_eq!(got, want.map(|(s, b)| (s, b.to_vec())));
    assert_eq!(io.write_calls, 1, "responses of one read are batched into one write");
}

#[test]
fn a_request_one_byte_per_read_gives_the_same_response() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    for &b in &get("/echo/bytes") {
        io.push(&[b]);
        c.on_ready(&mut io, true, false, &mut cx);
        assert!(io.reads.is_empty(), "each byte is read by its own event");
    }
    assert_eq!(responses(&io.written), [(200, b"bytes".to_vec())]);
}

#[test]
fn short_writes_keep_the_rest_for_the_next_writable_event() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.max_write = 10;
    io.push(&get("/echo/a-longer-body"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(io.written.len(), 10);
    assert!(c.want().write, "pending bytes need the writable edge");
    let mut events = 0;
    while c.want().write {
        c.on_ready(&mut io, false, true, &mut cx);
        events += 1;
        assert!(events < 100);
    }
    assert_eq!(responses(&io.written), [(200, b"a-longer-body".to_vec())]);
    assert_eq!(c.want(), Want { read: true, write: false });
}

#[test]
fn a_client_that_stops_reading_stops_being_read() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.write_blocked = true;
    let path = format!("/echo/{}", "x".repeat(100));
    for _ in 0..2000 {
        io.push(&get(&path));
    }
    c.on_ready(&mut io, true, false, &mut cx);
    for _ in 0..50 {
        c.resume(&mut io, &mut cx);
    }
    // Output stopped near the high-water mark; most input is still unread.
    assert!(c.out.pending() < OUT_HIGH_WATER + 1024, "queued {}", c.out.pending());
    assert!(io.reads.len() > 1000, "kept reading: {} reads left", io.reads.len());
    io.write_blocked = false;
    let mut rounds = 0;
    while !io.reads.is_empty() || c.want().write || !c.out.is_empty() || c.yielded() {
        c.on_ready(&mut io, true, true, &mut cx);
        rounds += 1;
        assert!(rounds < 10_000, "no progress");
    }
    let got = responses(&io.written);
    assert_eq!(got.len(), 2000);
    assert!(got.iter().all(|(s, b)| *s == 200 && b.len() == 100));
}

#[test]
fn connection_close_closes_right_after_the_response() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(
        b"GET /echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /echo/ignored HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(c.is_closed());
    let text = String::from_utf8(io.written.clone()).unwrap();
    assert!(text.contains("Connection: close\r\n"));
    assert_eq!(responses(&io.written).len(), 1);
}

#[test]
fn http_10_closes_unless_keep_alive_is_asked_for() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"GET /echo/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(!c.is_closed());
    io.push(b"GET /echo/b HTTP/1.0\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(c.is_closed());
    assert_eq!(responses(&io.written).len(), 2);
}

#[test]
fn a_bad_request_is_answered_then_closed_gracefully() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written)[0].0, 400);
    assert!(io.shut_write, "write side shut so the client sees EOF after the status");
    assert!(!c.is_closed(), "lingers, reading and dropping input");
    assert_eq!(c.want(), Want { read: true, write: false });
    io.push(b"more junk the client was still sending");
    io.push_eof();
    c.on_read_closed();
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(c.is_closed());
}

#[test]
fn request_bodies_not_needed_are_discarded_and_the_stream_stays_in_sync() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhel");
    c.on_ready(&mut io, true, false, &mut cx);
    io.push(b"lo");
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    io.push(&get("/echo/after"));
    c.on_ready(&mut io, true, false, &mut cx);
    let got = responses(&io.written);
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], (200, b"after".to_vec()));
    assert!(!c.is_closed());
}

#[test]
fn eof_after_pipelined_requests_still_answers_them_then_closes() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&[get("/echo/1"), get("/echo/2")].concat());
    io.push_eof();
    c.on_read_closed();
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written).len(), 2);
    assert!(c.is_closed());
}

#[test]
fn a_slow_head_times_out_with_408_and_an_idle_connection_just_closes() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"GET /echo/slow HTTP/1.1\r\nHo");
    c.on_ready(&mut io, true, false, &mut cx);
    let deadline = c.deadline(&cx).unwrap();
    assert_eq!(deadline, cx.now + cx.setup.settings.header_timeout);
    cx.now = deadline;
    c.on_timeout(&mut io, &mut cx);
    assert_eq!(responses(&io.written)[0].0, 408);

    // Idle after a request: the keep-alive timeout.
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&get("/echo/a"));
    c.on_ready(&mut io, true, false, &mut cx);
    let answered = io.written.len();
    assert_eq!(c.deadline(&cx), Some(cx.now + cx.setup.settings.keepalive_timeout));
    cx.now += cx.setup.settings.keepalive_timeout - Duration::from_millis(1);
    c.on_timeout(&mut io, &mut cx);
    assert!(!c.is_closed(), "not yet due");
    cx.now += Duration::from_millis(1);
    c.on_timeout(&mut io, &mut cx);
    assert_eq!(c.close_reason(), Some(CloseReason::KeepAliveTimeout));
    assert_eq!(io.written.len(), answered, "an idle close sends nothing");
}

#[test]
fn a_connection_silent_since_accept_closes_at_the_header_timeout() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    c.on_ready(&mut io, true, false, &mut cx); // nothing to read
    assert_eq!(c.deadline(&cx), Some(cx.now + cx.setup.settings.header_timeout), "not the keep-alive timeout");
    cx.now += cx.setup.settings.header_timeout;
    c.on_timeout(&mut io, &mut cx);
    assert_eq!(c.close_reason(), Some(CloseReason::HeaderTimeout));
    assert!(io.written.is_empty(), "nothing asked, nothing answered");
}

/// `Conn::deadline` answers `Head` with nothing blocked first: a blocked
/// write still puts a connection in `Head` on the write clock, half a head
/// or not, and once the write is through, the head's own clock counts
/// from when it began.
#[test]
fn in_head_a_blocked_write_runs_the_write_clock_and_then_the_heads_clock_resumes() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    let began = cx.now;
    io.write_blocked = true;
    io.push(&[get("/echo/a").as_slice(), b"GET /echo/b HTTP/1.1\r\nHo"].concat());
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(matches!(c.state, State::Head) && c.head_started == Some(began) && c.want().write);
    assert_eq!(c.deadline(&cx), Some(began + cx.setup.settings.write_timeout));
    cx.now += Duration::from_secs(1);
    io.write_blocked = false;
    c.on_ready(&mut io, false, true, &mut cx);
    assert_eq!(responses(&io.written).len(), 1);
    assert_eq!(c.deadline(&cx), Some(began + cx.setup.settings.header_timeout), "from the head's start");
}

#[test]
fn a_client_that_never_reads_hits_the_write_timeout() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.write_blocked = true;
    io.push(&get("/echo/x"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(c.want().write);
    assert_eq!(c.deadline(&cx), Some(cx.now + cx.setup.settings.write_timeout));
    cx.now += cx.setup.settings.write_timeout;
    c.on_timeout(&mut io, &mut cx);
    assert!(c.is_closed());
}

#[test]
fn an_idle_connection_holds_no_buffers() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&get("/echo/x"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!((c.input.buf.capacity(), c.out.buf.capacity()), (0, 0));
    // ...and they went back to the pool, to serve the next request unallocated.
    assert_eq!(cx.pool.spare(), (1, 1));
    io.push(&get("/echo/y"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(cx.pool.spare(), (1, 1));
    assert!(std::mem::size_of::<Conn>() <= 256, "Conn is {} bytes", std::mem::size_of::<Conn>());
}

#[test]
fn lingering_is_bounded_even_if_the_client_keeps_sending() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"NOT HTTP AT ALL\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    let end = c.deadline(&cx).unwrap();
    assert_eq!(end, cx.now + cx.setup.settings.linger);
    for _ in 0..10 {
        cx.now += cx.setup.settings.linger / 20;
        io.push(b"junk");
        c.on_ready(&mut io, true, false, &mut cx);
        assert_eq!(c.deadline(&cx), Some(end));
    }
    cx.now = end;
    c.on_timeout(&mut io, &mut cx);
    assert!(c.is_closed());
}

#[test]
fn garbage_without_a_line_end_is_refused_at_once_not_at_the_timeout() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written)[0].0, 400);
}

#[test]
fn a_slow_head_is_parsed_again_only_when_a_line_completes() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    for &b in b"GET /echo/slow HTTP/1.1\r\nHost: t\r\n" {
        io.push(&[b]);
        c.on_ready(&mut io, true, false, &mut cx);
    }
    assert_eq!(c.input.scanned, c.input.bytes().len(), "prefix scanned, waiting for more");
    io.push(b"\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written), [(200, b"slow".to_vec())]);
}

/// Drives `c` as the server does after one readable edge: resume while it
/// yielded, and nothing else (no further event will come).
fn one_edge(c: &mut Conn, io: &mut MemStream, cx: &mut Context) {
    c.on_ready(io, true, false, cx);
    let mut resumes = 0;
    while c.yielded() {
        c.resume(io, cx);
        resumes += 1;
        assert!(resumes < 10_000, "no progress");
    }
}

#[test]
fn requests_held_back_by_the_output_mark_are_answered_without_another_event() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    // "/" answers ~170 bytes for 27: one read fills the output past the mark.
    io.push(&get("/").repeat(2000));
    one_edge(&mut c, &mut io, &mut cx);
    let got = responses(&io.written);
    assert_eq!(got.len(), 2000, "every pipelined request answered");
    assert!(!c.is_closed());
}

#[test]
fn eof_after_many_pipelined_requests_answers_them_all_then_closes() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&get("/").repeat(2000));
    io.push_eof();
    c.on_read_closed();
    one_edge(&mut c, &mut io, &mut cx);
    assert_eq!(responses(&io.written).len(), 2000);
    assert!(c.is_closed());
}

#[test]
fn malformed_partial_head_at_eof_gets_its_400_as_if_whole() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    // The second piece has no line end, so it is not parsed on arrival.
    io.push(b"GET / HTTP/1.1\r\nHo");
    c.on_ready(&mut io, true, false, &mut cx);
    io.push(b"st\x01: x");
    io.push_eof();
    c.on_read_closed();
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written).iter().map(|r| r.0).collect::<Vec<_>>(), [400]);
}

/// Status codes of the complete responses written so far.
fn statuses(io: &MemStream) -> Vec<u16> {
    responses(&io.written).iter().map(|r| r.0).collect()
}

#[test]
fn a_body_the_route_does_not_use_is_read_before_the_answer() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(io.written.is_empty(), "no answer before the body is in");
    io.push(b"defghij");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(statuses(&io), [200]);
    assert!(!c.is_closed());
}

#[test]
fn expect_100_continue_on_a_route_without_use_for_the_body_sends_100_and_reads_it() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(io.written, b"HTTP/1.1 100 Continue\r\n\r\n");
    io.written.clear();
    io.push(b"abc");
    io.push(&get("/echo/next"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(statuses(&io), [200, 200]);
    assert!(!c.is_closed());
}

#[test]
fn a_discarded_body_that_fails_gets_its_error_and_never_a_success() {
    for bad_body in [&b"zz\r\n"[..], b"5\r\nabcdeXX", b"5 x\r\nabcde\r\n0\r\n\r\n"] {
        let (mut io, mut cx) = (MemStream::new(), context());
        let mut c = Conn::new(1, cx.now);
        io.push(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        io.push(bad_body);
        c.on_ready(&mut io, true, false, &mut cx);
        assert_eq!(statuses(&io), [400], "{:?}", String::from_utf8_lossy(bad_body));
        assert!(io.shut_write, "closed gracefully: the stream is out of sync");
    }
}

#[test]
fn a_body_cut_short_by_eof_gets_no_answer() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabcde");
    io.push_eof();
    c.on_read_closed();
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(io.written.is_empty());
    assert!(c.is_closed());
}

#[test]
fn a_stalled_discarded_body_times_out_with_a_408() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    c.on_ready(&mut io, true, false, &mut cx);
    cx.now = c.deadline(&cx).unwrap();
    c.on_timeout(&mut io, &mut cx);
    assert_eq!(statuses(&io), [408]);
}

#[test]
fn a_body_below_the_minimum_rate_gets_408_once_the_grace_is_over() {
    let (mut io, mut cx) = (MemStream::new(), context());
    cx.setup.settings.body_min_rate = 100;
    cx.setup.settings.body_rate_grace = Duration::from_secs(2);
    let start = cx.now;
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10000\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    // Nothing yet: the grace holds, whatever the rate.
    assert_eq!(c.deadline(&cx), Some(start + Duration::from_secs(2)));
    // 300 bytes have bought 3 s at 100 B/s: the deadline moves past the grace.
    cx.now = start + Duration::from_secs(1);
    io.push(&[b'x'; 300]);
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(c.deadline(&cx), Some(start + Duration::from_secs(3)));
    // A byte a second keeps the pause clock happy, but not the rate.
    for second in 2..=3 {
        cx.now = start + Duration::from_secs(second);
        io.push(b"x");
        c.on_ready(&mut io, true, false, &mut cx);
    }
    assert!(c.deadline(&cx).unwrap() <= cx.now + Duration::from_millis(20));
    cx.now = c.deadline(&cx).unwrap();
    c.on_timeout(&mut io, &mut cx);
    assert_eq!(statuses(&io), [408]);
}

#[test]
fn a_zero_minimum_rate_leaves_only_the_pause_limit() {
    let (mut io, mut cx) = (MemStream::new(), context());
    cx.setup.settings.body_min_rate = 0;
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(c.deadline(&cx), Some(cx.now + cx.setup.settings.body_timeout));
}

#[test]
fn a_bad_byte_in_a_later_piece_is_refused_at_once_as_when_whole() {
    for piece in [&b"\x01"[..], b"\x7f", b" x\rx"] {
        let (mut io, mut cx) = (MemStream::new(), context());
        let mut c = Conn::new(1, cx.now);
        io.push(b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b");
        c.on_ready(&mut io, true, false, &mut cx);
        io.push(piece);
        c.on_ready(&mut io, true, false, &mut cx);
        assert_eq!(responses(&io.written).first().map(|r| r.0), Some(400), "{piece:?}");
    }
}

/// A connection serving `dir`'s files, and a 3 MiB compressible file in it.
fn with_big_text(dir: &std::path::Path) -> (Context, Vec<u8>) {
    let text: Vec<u8> = (0..).flat_map(|i: u32| format!("line {i}\n").into_bytes()).take(3 << 20).collect();
    std::fs::write(dir.join("big.txt"), &text).unwrap();
    let store = crate::files::FileStore::new(dir).unwrap();
    (Context::new(Routes::new(Some(store)), Settings::from_config(&Config::defaults())), text)
}

fn gunzip_chunked(written: &[u8]) -> Vec<u8> {
    let end = written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(std::str::from_utf8(&written[..end]).unwrap().contains("Transfer-Encoding: chunked\r\n"));
    let mut plain = Vec::new();
    let gz = super::source::tests::dechunk(&written[end..]);
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    plain
}

const GZIP_GET: &[u8] = b"GET /files/big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";

#[test]
fn a_streamed_gzip_body_holds_little_memory_for_a_slow_reader() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cx, text) = with_big_text(dir.path());
    let (mut io, mut c) = (MemStream::new(), Conn::new(1, cx.now));
    io.max_write = 4096;
    io.push(GZIP_GET);
    c.on_ready(&mut io, true, false, &mut cx);
    let (mut events, mut most_queued) = (0, 0);
    while !c.out.is_empty() {
        most_queued = most_queued.max(c.out.pending());
        c.on_ready(&mut io, false, true, &mut cx);
        events += 1;
        assert!(events < 100_000, "no progress");
    }
    assert!(most_queued < 64 * 1024, "queued up to {most_queued} bytes for a slow reader");
    assert_eq!(gunzip_chunked(&io.written), text);
    assert!(!c.is_closed() && c.want().read, "ready for the next request");
}

#[test]
fn a_fast_reader_of_a_streamed_gzip_body_yields_to_others() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cx, text) = with_big_text(dir.path());
    let (mut io, mut c) = (MemStream::new(), Conn::new(1, cx.now));
    io.push(GZIP_GET);
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(c.yielded(), "3 MiB is compressed over several passes, not in one");
    let mut passes = 1;
    while c.yielded() {
        c.resume(&mut io, &mut cx);
        passes += 1;
        assert!(passes < 1000);
    }
    assert!(passes >= 3, "{passes} passes");
    assert_eq!(gunzip_chunked(&io.written), text);
}

fn draining(cx: &mut Context, grace: Duration) {
    cx.drain = Some(crate::lifecycle::Drain { since: cx.now, grace });
}

#[test]
fn while_draining_every_answer_says_connection_close_and_the_connection_ends() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&get("/echo/before"));
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(!String::from_utf8(io.take_written()).unwrap().contains("Connection: close"));
    draining(&mut cx, Duration::from_secs(2));
    io.push(&get("/echo/during"));
    c.on_ready(&mut io, true, false, &mut cx);
    let text = String::from_utf8(io.written.clone()).unwrap();
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert_eq!(responses(&io.written), [(200, b"during".to_vec())]);
    // Closed gracefully: write side first, then input dropped until EOF.
    assert!(io.shut_write, "the client reads a FIN after the answer, not a reset");
    io.push_eof();
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(c.close_reason(), Some(CloseReason::Draining));
}

#[test]
fn while_draining_pipelined_requests_behind_the_closing_answer_do_not_reset_it() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    draining(&mut cx, Duration::from_secs(2));
    io.push(&[get("/echo/1"), get("/echo/2")].concat());
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(responses(&io.written), [(200, b"1".to_vec())], "one answer, then the close");
    assert!(io.shut_write && !c.is_closed(), "lingering: the unanswered request is read and dropped");
    assert_eq!(io.unread(), 0);
}

#[test]
fn while_draining_an_idle_connection_closes_after_a_whole_grace_of_idleness() {
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(&get("/echo/x"));
    c.on_ready(&mut io, true, false, &mut cx);
    let last = cx.now;
    cx.now += Duration::from_secs(1);
    draining(&mut cx, Duration::from_secs(2));
    // Idle since `last`, but the grace counts from the drain's start.
    assert_eq!(c.deadline(&cx), Some(last + Duration::from_secs(3)));
    cx.now = last + Duration::from_secs(3) - Duration::from_millis(1);
    c.on_timeout(&mut io, &mut cx);
    assert!(!c.is_closed(), "not before the grace");
    cx.now += Duration::from_millis(1);
    c.on_timeout(&mut io, &mut cx);
    assert_eq!(c.close_reason(), Some(CloseReason::Draining));
    assert_eq!(responses(&io.written).len(), 1, "the idle close sends nothing");
}

#[test]
fn a_body_that_ends_during_the_drain_is_answered_then_closed() {
    // The answer waits for its body; the drain began meanwhile, so the
    // answer says close, and the write side is shut before the close (the
    // client may already have sent its next request).
    let (mut io, mut cx) = (MemStream::new(), context());
    let mut c = Conn::new(1, cx.now);
    io.push(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc");
    c.on_ready(&mut io, true, false, &mut cx);
    assert!(io.written.is_empty(), "no answer before the body");
    draining(&mut cx, Duration::from_secs(2));
    io.push(b"def");
    c.on_ready(&mut io, true, false, &mut cx);
    assert_eq!(statuses(&io), [200]);
    assert!(String::from_utf8_lossy(&io.written).contains("Connection: close\r\n"));
    assert!(io.shut_write, "lingers: the write side is shut first");
}
