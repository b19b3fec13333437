//! `/metrics` read before and after traffic: the counters, labels and
//! histogram buckets move as they should, label sets stay bounded whatever
//! clients send, the output passes `promtool check metrics`, and the
//! listener options do what they say.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

/// Series (name with labels) → value, from a Prometheus text exposition.
/// `--metrics-public`: these tests scrape the server's own port.
fn public(c: &mut loophttp::Config) {
    c.metrics_public = true;
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("sample line {l:?}"));
            (series.to_owned(), value.parse().unwrap_or_else(|_| panic!("value in {l:?}")))
        })
        .collect()
}

fn scrape_at(addr: SocketAddr) -> String {
    let mut c = Client::connect(addr);
    c.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    r.text()
}

fn v(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

fn close_get(s: &TestServer, path: &str) -> u16 {
    s.get(path).status
}

#[test]
fn counters_labels_and_buckets_move_with_traffic() {
    let s = TestServer::with(public);
    let before = parse(&scrape_at(s.addr_v4()));
    let mut c = s.client();
    for i in 0..20 {
        c.send(format!("GET /echo/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().status, 200);
    }
    for i in 0..5 {
        c.send(format!("GET /nope/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.response().status, 404);
    }
    c.send(b"PUT /files/a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(c.response().status, 201);
    c.send(b"GET /files/a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().text(), "abc");
    drop(c);
    let mut bad = s.client();
    bad.send(b"GARBAGE\r\n\r\n");
    assert_eq!(bad.response().status, 400);
    assert!(bad.closed_within(Duration::from_secs(5)));
    let after = eventually(Duration::from_secs(5), || {
        let m = parse(&scrape_at(s.addr_v4()));
        (v(&m, r#"loophttp_connections_closed_total{worker="0",reason="request_error"}"#) >= 1.0).then_some(m)
    })
    .expect("the bad connection's close is counted");
    let d = |series: &str| v(&after, series) - v(&before, series);
    assert_eq!(d(r#"loophttp_requests_total{worker="0",method="GET",route="/echo/{s}",status="200"}"#), 20.0);
    assert_eq!(d(r#"loophttp_requests_total{worker="0",method="GET",route="other",status="404"}"#), 5.0);
    assert_eq!(d(r#"loophttp_requests_total{worker="0",method="PUT",route="/files/{name}",status="201"}"#), 1.0);
    assert_eq!(d(r#"loophttp_requests_total{worker="0",method="other",route="other",status="400"}"#), 1.0);
    assert_eq!(d(r#"loophttp_rejected_requests_total{worker="0",status="400"}"#), 1.0);
    assert_eq!(d(r#"loophttp_uploads_total{worker="0",result="committed"}"#), 1.0);
    assert_eq!(d(r#"loophttp_files_served_total{worker="0"}"#), 1.0);
    assert_eq!(d(r#"loophttp_request_duration_seconds_count{worker="0",route="/echo/{s}"}"#), 20.0);
    assert_eq!(d(r#"loophttp_request_duration_seconds_bucket{worker="0",route="/echo/{s}",le="+Inf"}"#), 20.0);
    assert!(d(r#"loophttp_request_duration_seconds_bucket{worker="0",route="/echo/{s}",le="1"}"#) == 20.0);
    assert!(d(r#"loophttp_request_duration_seconds_sum{worker="0",route="/echo/{s}"}"#) > 0.0);
    assert!(d(r#"loophttp_connections_accepted_total{worker="0"}"#) >= 2.0);
    assert!(d(r#"loophttp_received_bytes_total{worker="0"}"#) > 25.0 * 30.0);
    assert!(d(r#"loophttp_sent_bytes_total{worker="0"}"#) > 25.0 * 100.0);
    assert!(d(r#"loophttp_loop_events_per_wakeup_count{worker="0"}"#) >= 1.0);
    assert!(v(&after, r#"loophttp_loop_busy_seconds_total{worker="0"}"#) > 0.0);
    assert!(v(&after, "process_open_fds") >= 4.0);
    assert!(v(&after, "process_resident_memory_bytes") > 1e6);
    assert_eq!(v(&after, &format!(r#"loophttp_build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"))), 1.0);
}

/// A pipelined batch of alike requests is counted as one run that grows
/// as each answer joins it (inflight's tail); a scrape after the answers
/// are read must see every one of them, counted and timed, and a
/// different answer in the middle of the batch its own.
#[test]
fn a_pipelined_batch_is_counted_exactly_by_the_next_scrape() {
    let s = TestServer::with(public);
    let before = parse(&scrape_at(s.addr_v4()));
    let mut c = s.client();
    let mut batch = Vec::new();
    for i in 0..16 {
        let path = if i == 7 { "/nope".to_string() } else { format!("/echo/{}", i % 2) };
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.send(&batch);
    for i in 0..16 {
        assert_eq!(c.response().status, if i == 7 { 404 } else { 200 });
    }
    let after = parse(&scrape_at(s.addr_v4()));
    let d = |series: &str| v(&after, series) - v(&before, series);
    assert_eq!(d(r#"loophttp_requests_total{worker="0",method="GET",route="/echo/{s}",status="200"}"#), 15.0);
    assert_eq!(d(r#"loophttp_requests_total{worker="0",method="GET",route="other",status="404"}"#), 1.0);
    assert_eq!(d(r#"loophttp_request_duration_seconds_count{worker="0",route="/echo/{s}"}"#), 15.0);
}

#[test]
fn thousands_of_distinct_paths_methods_and_agents_do_not_grow_the_output() {
    let s = TestServer::with(public);
    let mut c = s.client();
    let round = |c: &mut Client, n: usize| {
        for i in 0..n {
            c.send(format!("GET /p{i}/{i} HTTP/1.1\r\nHost: t\r\nUser-Agent: agent-{i}\r\n\r\n").as_bytes());
            assert_eq!(c.response().status, 404);
            c.send(format!("PATCH /echo/{i} HTTP/1.1\r\nHost: t\r\nUser-Agent: a{i}\r\n\r\n").as_bytes());
            assert_eq!(c.response().status, 405);
        }
    };
    round(&mut c, 1);
    let mut x = s.client();
    x.send(b"FOO-1 / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(x.response().status, 501);
    let series = |text: &str| parse(text).into_keys().filter(|k| !k.starts_with("process_")).collect::<Vec<_>>();
    scrape_at(s.addr_v4()); // the scrape itself is a request: its series exist from now on
    let before = series(&scrape_at(s.addr_v4()));
    round(&mut c, 2000);
    for i in 0..200 {
        let mut x = s.client();
        x.send(format!("FOO{i} /x{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(x.response().status, 501);
    }
    let after = series(&scrape_at(s.addr_v4()));
    assert_eq!(before, after, "the set of series did not change");
}

#[test]
fn promtool_accepts_the_output_after_every_kind_of_traffic() {
    // Debian: apt-get install prometheus (.ci/run does).
    if !have_tool("promtool") {
        return;
    }
    let s = TestServer::with(|c| {
        public(c);
        c.header_timeout = Duration::from_millis(300);
    });
    let mut c = s.client();
    for req in [
        &b"GET /echo/x HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /files/u.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET /files/u.bin HTTP/1.1\r\nHost: t\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        c.send(req);
        assert!(c.response().status < 500);
    }
    let mut bad = s.client();
    bad.send(b"GET /x HTTP/9.9\r\n\r\n");
    assert_eq!(bad.response().status, 505);
    let mut slow = s.client();
    slow.send(b"GET / HTTP/1.1\r\n");
    assert_eq!(slow.response().status, 408);
    let mut abandoned = s.client();
    abandoned.send(b"PUT /files/gone HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab");
    drop(abandoned);
    let text = eventually(Duration::from_secs(5), || {
        let t = scrape_at(s.addr_v4());
        t.contains(r#"loophttp_uploads_total{worker="0",result="aborted"} 1"#).then_some(t)
    })
    .expect("the abandoned upload is counted");
    for body in [text.clone(), openmetrics(&s)] {
        let is_om = body.ends_with("# EOF\n");
        if is_om {
            // promtool reads the Prometheus text format only; the OpenMetrics
            // form is checked by a real Prometheus in scripts/prometheus-e2e.sh.
            continue;
        }
        let out = run_promtool(&body);
        assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "promtool: {out:?}");
    }
}

fn openmetrics(s: &TestServer) -> String {
    let mut c = s.client();
    c.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n");
    let r = c.response();
    assert_eq!(r.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let text = r.text();
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE loophttp_requests counter\n"));
    text
}

fn run_promtool(body: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn metrics_addr_moves_metrics_off_the_public_port() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = probe.local_addr().unwrap();
    drop(probe);
    let s =
        BinServer::start(&["--host", "127.0.0.1", "--metrics-addr", &metrics_addr.to_string(), "--access-log", "off"]);
    let public: SocketAddr = ([127, 0, 0, 1], s.port).into();
    let mut c = Client::connect(public);
    c.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 404, "not on the public port");
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().text(), "ok", "health stays where load balancers look");
    c.send(b"GET /echo/x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().text(), "x");
    let m = parse(&scrape_at(metrics_addr));
    assert_eq!(v(&m, r#"loophttp_requests_total{worker="0",method="GET",route="/echo/{s}",status="200"}"#), 1.0);
    let mut admin = Client::connect(metrics_addr);
    admin.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(admin.response().text(), "ok");
    admin.send(b"GET /echo/x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(admin.response().status, 404, "the metrics listener serves only /metrics and /healthz");
}

#[test]
fn no_metrics_turns_the_endpoint_off() {
    let s = BinServer::start(&["--host", "127.0.0.1", "--no-metrics", "--access-log", "off"]);
    let mut c = Client::connect(([127, 0, 0, 1], s.port).into());
    c.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 404);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let mut rest = Vec::new();
    let _ = c.reader.read_to_end(&mut rest);
}

#[test]
fn every_worker_has_its_own_series() {
    let s = TestServer::with(|c| {
        public(c);
        c.workers = 2;
    });
    for i in 0..40 {
        assert_eq!(close_get(&s, &format!("/echo/{i}")), 200);
    }
    let m = parse(&scrape_at(s.addr_v4()));
    let total: f64 = ["0", "1"]
        .iter()
        .map(|w| {
            v(&m, &format!(r#"loophttp_requests_total{{worker="{w}",method="GET",route="/echo/{{s}}",status="200"}}"#))
        })
        .sum();
    assert_eq!(total, 40.0, "no request lost between workers");
    assert!(m.contains_key(r#"loophttp_connections_open{worker="1"}"#));
}
