use std::net::Ipv4Addr;
use std::time::Duration;

use std::sync::Arc;

use super::*;
use crate::access_log::AccessLog;
use crate::access_log::{self, Destination, Format, Line, LogWriter};
use crate::http::Method;

struct Harness {
    obs: Observer,
    writer: LogWriter,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn harness(format: Format) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let writer = access_log::start(&Destination::File(path.clone())).unwrap().unwrap();
    let obs = Observer::new(AccessLog::new(Some(&writer), format), Some(Arc::default()));
    Harness { obs, writer, path, _dir: dir }
}

impl Harness {
    fn lines(mut self) -> Vec<String> {
        self.obs.log.finish();
        self.writer.finish(Duration::from_secs(5));
        std::fs::read_to_string(&self.path).unwrap().lines().map(str::to_owned).collect()
    }
}

fn get<'a>(path: &'a [u8], agent: Option<&'a [u8]>) -> Arrival<'a> {
    Arrival {
        // The label `Routes::classify` gives the path on the public port.
        route: Some(match path {
            b"/healthz" => Route::Healthz,
            p => crate::routes::classify_path(p),
        }),
        line: Line::Parsed { method: Method::Get, target: path, plain: true, http11: true },
        user_agent: agent,
        referer: None,
        client: None,
        head_bytes: 40,
    }
}

fn peer() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
}

#[test]
fn pipelined_responses_complete_as_their_last_bytes_go_out() {
    let mut h = harness(Format::Json);
    let mut f = InFlight::new(peer());
    let t0 = Instant::now();
    // Two requests answered into one output queue: 100 and 50 bytes.
    f.begin(7, &get(b"/echo/a", Some(b"x")), t0, &mut h.obs);
    f.responded(200, f.position(0), Some(f.position(100)), 90);
    f.begin(7, &get(b"/echo/b", None), t0, &mut h.obs);
    f.responded(200, f.position(100), Some(f.position(150)), 40);
    f.sent(99, Progress::Pending, &mut h.obs);
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(200), 0, "one byte of the first is still queued");
    f.sent(1, Progress::Pending, &mut h.obs);
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(200), 1);
    f.sent(50, Progress::Empty, &mut h.obs);
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(200), 2);
    assert!(f.records.is_none(), "the store went back to the loop");
    let lines = h.lines();
    let v: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        (v[0]["target"].as_str(), v[0]["bytes_sent"].as_u64(), v[0]["body_bytes_sent"].as_u64()),
        (Some("/echo/a"), Some(100), Some(10))
    );
    assert_eq!(
        (v[1]["target"].as_str(), v[1]["bytes_sent"].as_u64(), v[1]["request"].as_u64()),
        (Some("/echo/b"), Some(50), Some(2))
    );
    assert_eq!(v[0]["user_agent"], "x");
    assert_eq!(v[1]["user_agent"], serde_json::Value::Null);
    assert_eq!((v[0]["connection"].as_u64(), v[0]["peer"].as_str()), (Some(7), Some("10.1.2.3")));
}

#[test]
fn a_streamed_body_completes_when_the_output_is_empty() {
    let mut h = harness(Format::Combined);
    let mut f = InFlight::new(peer());
    f.begin(7, &get(b"/files/big", None), Instant::now(), &mut h.obs);
    f.responded(200, f.position(0), None, 200);
    f.sent(200 + 1_000_000, Progress::Pending, &mut h.obs);
    f.sent(48_576, Progress::Pending, &mut h.obs);
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(200), 0);
    f.sent(0, Progress::Empty, &mut h.obs);
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(200), 1);
    let lines = h.lines();
    assert!(lines[0].contains("\"GET /files/big HTTP/1.1\" 200 1048576 "), "{}", lines[0]);
}

#[test]
fn a_client_that_leaves_early_is_logged_499_with_what_it_got() {
    let mut h = harness(Format::Json);
    let mut f = InFlight::new(peer());
    f.begin(7, &get(b"/files/big", None), Instant::now(), &mut h.obs);
    f.responded(200, f.position(0), None, 100);
    f.sent(5000, Progress::Pending, &mut h.obs);
    // And an upload whose body never finished: no response at all.
    f.sent(0, Progress::Closed(Instant::now()), &mut h.obs);
    let mut up = InFlight::new(peer());
    let mut a = get(b"/files/u", None);
    a.line = Line::Parsed { method: Method::Post, target: b"/files/u", plain: true, http11: true };
    up.begin(7, &a, Instant::now(), &mut h.obs);
    up.arrived(7, Arrived::Body(10), &mut h.obs);
    up.sent(0, Progress::Closed(Instant::now()), &mut h.obs);
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(CLIENT_GONE), 2);
    let lines = h.lines();
    let v: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        (v[0]["status"].as_u64(), v[0]["bytes_sent"].as_u64(), v[0]["body_bytes_sent"].as_u64()),
        (Some(499), Some(5000), Some(4900))
    );
    assert_eq!(
        (v[1]["status"].as_u64(), v[1]["bytes_sent"].as_u64(), v[1]["bytes_received"].as_u64()),
        (Some(499), Some(0), Some(50))
    );
}

#[test]
fn unparsed_request_lines_keep_what_tokens_they_have() {
    let a = Arrival::unparsed(b"GET /x\x01y HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(a.line.parts(), [&b"GET"[..], b"/x\x01y", b"HTTP/1.1"]);
    assert_eq!(a.method(), None, "tokens, not a parsed method");
    let a = Arrival::unparsed(b"GARBAGE\r\n\r\n");
    assert_eq!(a.line.parts(), [&b"GARBAGE"[..], b"", b""]);
    let a = Arrival::unparsed(b"");
    assert_eq!(a.line.parts(), [&b""[..]; 3]);
}

#[test]
fn passing_health_checks_are_counted_not_logged() {
    let mut h = harness(Format::Combined);
    let mut f = InFlight::new(peer());
    for status in [200, 503] {
        f.begin(7, &get(b"/healthz", None), Instant::now(), &mut h.obs);
        f.responded(status, f.position(0), Some(f.position(10)), 10);
        f.sent(10, Progress::Empty, &mut h.obs);
    }
    assert_eq!(h.obs.metrics.as_ref().unwrap().requests_with_status(200), 1);
    let lines = h.lines();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("\"GET /healthz HTTP/1.1\" 503 0 "), "{}", lines[0]);
}

#[test]
fn a_pipeline_that_never_drains_keeps_its_text_bounded() {
    let mut h = harness(Format::Combined);
    let mut f = InFlight::new(peer());
    let target = vec![b't'; 1000];
    let mut most = 0;
    // Ten responses always queued (100 bytes each); each round one more
    // request comes in and the oldest response goes out.
    for i in 0..2010 {
        let queued = 100 * i.min(10);
        f.begin(7, &get(&target, Some(b"agent")), Instant::now(), &mut h.obs);
        f.responded(200, f.position(queued), Some(f.position(queued + 100)), 50);
        if i >= 10 {
            f.sent(100, Progress::Pending, &mut h.obs);
        }
        most = most.max(f.records.as_ref().map_or(0, |r| r.text.len()));
        assert!(f.records.as_ref().is_some_and(|r| r.queue.len() == 10 || i < 10));
    }
    assert!(most <= TEXT_HIGH_WATER, "{most}");
    f.sent(0, Progress::Closed(Instant::now()), &mut h.obs);
    assert_eq!(h.lines().len(), 2010);
}

#[test]
fn with_the_log_off_nothing_is_copied() {
    let mut obs = counting();
    let mut f = InFlight::new(peer());
    f.begin(7, &get(b"/echo/a", None), Instant::now(), &mut obs);
    assert!(f.records.as_ref().unwrap().text.is_empty());
    f.responded(200, 0, Some(10), 5);
    f.sent(10, Progress::Empty, &mut obs);
    assert_eq!(obs.metrics.as_ref().unwrap().requests_with_status(200), 1);
    // Neither log nor metrics: nothing is followed at all.
    let mut none = Observer::default();
    let mut f = InFlight::new(peer());
    f.begin(7, &get(b"/echo/a", None), Instant::now(), &mut none);
    assert!(f.records.is_none());
}

/// An observer that counts for `/metrics`, with the access log off.
fn counting() -> Observer {
    Observer::new(AccessLog::off(), Some(Arc::default()))
}

/// Requests answered with `status`, as counted so far.
fn done(obs: &Observer, status: u16) -> u64 {
    obs.metrics.as_ref().unwrap().requests_with_status(status)
}

#[test]
fn alike_pipelined_responses_form_one_run_and_complete_exactly() {
    let mut obs = counting();
    let mut f = InFlight::new(peer());
    let t0 = Instant::now();
    // Sixteen alike answers of 150 bytes, queued back to back, then one
    // of another length.
    for i in 0..16 {
        f.begin(7, &get(b"/echo/abc", None), t0, &mut obs);
        f.responded(200, f.position(150 * i), Some(f.position(150 * (i + 1))), 140);
    }
    f.begin(7, &get(b"/echo/abcd", None), t0, &mut obs);
    f.responded(200, f.position(2400), Some(f.position(2551)), 140);
    assert_eq!(f.records.as_ref().unwrap().queue.len(), 2, "one run of 16, then the other");
    // Part of the run goes out: only whole responses count.
    f.sent(150 * 5 + 149, Progress::Pending, &mut obs);
    assert_eq!(done(&obs, 200), 5);
    f.sent(1, Progress::Pending, &mut obs);
    assert_eq!(done(&obs, 200), 6);
    f.sent(150 * 10, Progress::Pending, &mut obs);
    assert_eq!(done(&obs, 200), 16);
    // The connection ends before the last one is out.
    f.sent(100, Progress::Pending, &mut obs);
    f.sent(0, Progress::Closed(Instant::now()), &mut obs);
    assert_eq!(done(&obs, 200), 16);
    assert_eq!(obs.metrics.as_ref().unwrap().requests_with_status(CLIENT_GONE), 1);

    // A run cut short by the close: what went out counts 200, the rest 499.
    let mut f = InFlight::new(peer());
    for i in 0..4 {
        f.begin(7, &get(b"/echo/abc", None), t0, &mut obs);
        f.responded(200, f.position(150 * i), Some(f.position(150 * (i + 1))), 140);
    }
    f.sent(300, Progress::Pending, &mut obs);
    f.sent(0, Progress::Closed(Instant::now()), &mut obs);
    assert_eq!((done(&obs, 200), obs.metrics.as_ref().unwrap().requests_with_status(CLIENT_GONE)), (18, 3));
}

#[test]
fn with_the_log_on_no_runs_form() {
    let mut h = harness(Format::Combined);
    let mut f = InFlight::new(peer());
    for i in 0..3 {
        f.begin(7, &get(b"/echo/abc", None), Instant::now(), &mut h.obs);
        f.responded(200, f.position(150 * i), Some(f.position(150 * (i + 1))), 140);
    }
    assert_eq!(f.records.as_ref().unwrap().queue.len(), 3);
    f.sent(450, Progress::Empty, &mut h.obs);
    assert_eq!(h.lines().len(), 3);
}

#[test]
fn a_request_still_open_keeps_its_text_when_the_ones_before_complete() {
    let mut h = harness(Format::Combined);
    let mut f = InFlight::new(peer());
    f.begin(7, &get(b"/echo/first", None), Instant::now(), &mut h.obs);
    f.responded(200, f.position(0), Some(f.position(100)), 90);
    // The next head is parsed; its body is still arriving when the first
    // response's last byte goes out.
    let mut upload = get(b"/files/second", Some(b"agent"));
    upload.line = Line::Parsed { method: Method::Post, target: b"/files/second", plain: true, http11: true };
    f.begin(7, &upload, Instant::now(), &mut h.obs);
    assert!(f.awaiting_response());
    f.sent(100, Progress::Empty, &mut h.obs);
    f.arrived(7, Arrived::Body(5), &mut h.obs);
    f.responded(201, f.position(0), Some(f.position(60)), 60);
    assert!(!f.awaiting_response());
    f.sent(60, Progress::Empty, &mut h.obs);
    let lines = h.lines();
    assert!(lines[1].contains("\"POST /files/second HTTP/1.1\" 201 0 "), "{}", lines[1]);
    assert!(lines[1].contains("\"agent\""), "{}", lines[1]);
}

/// The requests in flight held apart: records, and the run's tail.
fn held(f: &InFlight) -> usize {
    f.records.as_ref().map_or(0, |r| r.queue.len() + usize::from(r.tail.is_some()))
}

/// A parsed `GET target` arriving at `t0`, reported as the connection
/// reports it.
fn arrive(f: &mut InFlight, target: &str, t0: Instant, obs: &mut Observer) {
    let bytes = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    let limits = crate::http::Limits { max_uri: 8192, max_head: 16384, max_headers: 100 };
    let mut parsed = Ok(crate::http::Parsed::Partial);
    crate::http::parse_head(bytes.as_bytes(), &limits, &mut Default::default(), &mut parsed);
    let Ok(crate::http::Parsed::Complete(head, len)) = parsed else { panic!("{parsed:?}") };
    let route = crate::routes::classify_path(head.path.as_bytes());
    f.arrived(7, Arrived::Head { parsed: ParsedHead { head: &head, len, route }, started: t0, trusted: &[] }, obs);
}

#[test]
fn alike_requests_join_the_run_without_a_record_and_count_exactly() {
    let mut obs = counting();
    let mut f = InFlight::new(peer());
    let t0 = Instant::now();
    let queued = held;
    // The first of a batch makes the run; fifteen alike ones join it.
    for i in 0..16 {
        arrive(&mut f, "/echo/abc", t0, &mut obs);
        assert!(f.awaiting_response(), "request {i} is still to be answered");
        assert_eq!(queued(&f), usize::from(i > 0), "request {i} has no record of its own");
        f.responded(200, f.position(150 * i), Some(f.position(150 * (i + 1))), 140);
    }
    let records = f.records.as_ref().unwrap();
    assert_eq!((held(&f), records.tail.map(|t| t.count)), (1, Some(16)), "one run, no record written");
    // Not alike: another route, or another start: a record of its own.
    arrive(&mut f, "/files/abc", t0, &mut obs);
    f.responded(200, f.position(2400), Some(f.position(2550)), 140);
    arrive(&mut f, "/echo/abc", t0 + Duration::from_millis(1), &mut obs);
    f.responded(200, f.position(2550), Some(f.position(2700)), 140);
    assert_eq!(queued(&f), 3);
    f.sent(2700, Progress::Empty, &mut obs);
    assert_eq!(done(&obs, 200), 18);
    // With the log on no runs form.
    let mut h = harness(Format::Combined);
    let mut logged = InFlight::new(peer());
    for i in 0..2 {
        arrive(&mut logged, "/echo/abc", t0, &mut h.obs);
        logged.responded(200, logged.position(150 * i), Some(logged.position(150 * (i + 1))), 140);
    }
    assert_eq!(queued(&logged), 2, "with the log on no runs form");
    // Alike request, different answer (a longer one): its own record.
    let mut f = InFlight::new(peer());
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.responded(200, f.position(0), Some(f.position(150)), 140);
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.responded(404, f.position(150), Some(f.position(350)), 120);
    assert_eq!(queued(&f), 2);
    f.sent(350, Progress::Empty, &mut obs);
    assert_eq!((done(&obs, 200), done(&obs, 404)), (19, 1));
    // The run completes while an alike request is still unanswered (its
    // body arriving): its answer gets a record of its own.
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.responded(200, f.position(0), Some(f.position(150)), 140);
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.sent(150, Progress::Empty, &mut obs);
    assert!(f.awaiting_response(), "its store is kept while it waits");
    f.responded(200, f.position(0), Some(f.position(150)), 140);
    f.sent(150, Progress::Empty, &mut obs);
    assert_eq!(done(&obs, 200), 21);
    assert!(f.records.is_none());
    // An alike request the connection ends before answering: 499.
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.responded(200, f.position(0), Some(f.position(150)), 140);
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.sent(150, Progress::Pending, &mut obs);
    f.sent(0, Progress::Closed(Instant::now()), &mut obs);
    assert_eq!((done(&obs, 200), done(&obs, CLIENT_GONE)), (22, 1));
}

#[test]
fn a_run_of_joined_answers_completes_in_part_exactly() {
    let mut obs = counting();
    let mut f = InFlight::new(peer());
    let t0 = Instant::now();
    for i in 0..8 {
        arrive(&mut f, "/echo/abc", t0, &mut obs);
        f.responded(200, f.position(150 * i), Some(f.position(150 * (i + 1))), 140);
    }
    // Three and a half go out; then two more join the run that is left.
    f.sent(525, Progress::Pending, &mut obs);
    assert_eq!(done(&obs, 200), 3);
    for i in 8..10 {
        arrive(&mut f, "/echo/abc", t0, &mut obs);
        f.responded(200, f.position(150 * i - 525), Some(f.position(150 * (i + 1) - 525)), 140);
    }
    assert_eq!(held(&f), 1, "they joined the rest of the run");
    f.sent(150 * 5 - 75, Progress::Pending, &mut obs);
    assert_eq!(done(&obs, 200), 8);
    f.sent(0, Progress::Closed(Instant::now()), &mut obs);
    assert_eq!((done(&obs, 200), done(&obs, CLIENT_GONE)), (8, 2));
}

#[test]
fn a_request_joining_the_tail_keeps_its_labels_when_the_tail_goes() {
    let mut obs = counting();
    let t0 = Instant::now();
    // The tail becomes a record (the connection ends) while an alike
    // request waits for its answer: both are reported, 499.
    let mut f = InFlight::new(peer());
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.responded(200, f.position(0), Some(f.position(150)), 140);
    f.sent(100, Progress::Pending, &mut obs);
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    assert!(matches!(f.records.as_ref().unwrap().newest, Newest::Joining), "it joins the tail: nothing written");
    f.sent(0, Progress::Closed(Instant::now()), &mut obs);
    assert_eq!((done(&obs, 200), done(&obs, CLIENT_GONE)), (0, 2));
    // The tail is reported whole while an alike request waits: its
    // answer, a different one, is counted with the request's labels.
    let mut f = InFlight::new(peer());
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.responded(200, f.position(0), Some(f.position(150)), 140);
    arrive(&mut f, "/echo/abc", t0, &mut obs);
    f.sent(150, Progress::Empty, &mut obs);
    f.responded(404, f.position(0), Some(f.position(90)), 90);
    f.sent(90, Progress::Empty, &mut obs);
    let m = obs.metrics.as_ref().unwrap();
    assert_eq!((m.requests_with_status(200), m.requests_with_status(404)), (1, 1));
    assert!(f.records.is_none());
}
