use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn clock() -> LogClock {
    let mut c = LogClock::default();
    // 2026-12-01T04:51:09.000250Z
    c.set(UNIX_EPOCH + Duration::from_secs(1_796_100_669) + Duration::from_micros(250));
    c
}

fn entry<'a>() -> Entry<'a> {
    Entry {
        peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        method: b"GET",
        target: b"/echo/a",
        version: b"HTTP/1.1",
        status: 200,
        bytes_sent: 120,
        body_bytes_sent: 1,
        bytes_received: 78,
        duration: Duration::from_micros(123),
        user_agent: Some(b"curl/8.1"),
        referer: None,
        conn_id: 12,
        request_no: 3,
    }
}

fn line(format: Format, e: &Entry<'_>) -> String {
    let mut out = b"earlier lines\n".to_vec();
    write_line(format, e, &clock(), &mut out);
    let out = out.split_off(14);
    String::from_utf8(out).expect("a line is always valid UTF-8")
}

#[test]
fn combined_is_the_issue_example_byte_for_byte_plus_request_time() {
    assert_eq!(
        line(Format::Combined, &entry()),
        "192.0.2.7 - - [01/Dec/2026:04:51:09 +0000] \"GET /echo/a HTTP/1.1\" 200 1 \"-\" \"curl/8.1\" 0.000123\n"
    );
}

#[test]
fn json_has_every_field_with_its_type() {
    let l = line(Format::Json, &entry());
    assert!(l.ends_with("}\n") && l.matches('\n').count() == 1, "{l}");
    let v: serde_json::Value = serde_json::from_str(&l).unwrap();
    assert_eq!(v["time"], "2026-12-01T04:51:09.000250Z");
    assert_eq!(v["peer"], "192.0.2.7");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["target"], "/echo/a");
    assert_eq!(v["version"], "HTTP/1.1");
    assert_eq!(v["status"], 200);
    assert_eq!(v["bytes_sent"], 120);
    assert_eq!(v["body_bytes_sent"], 1);
    assert_eq!(v["bytes_received"], 78);
    assert_eq!(v["duration_us"], 123);
    assert_eq!(v["user_agent"], "curl/8.1");
    assert_eq!(v["referer"], serde_json::Value::Null);
    assert_eq!(v["connection"], 12);
    assert_eq!(v["request"], 3);
}

#[test]
fn hostile_values_cannot_forge_or_break_lines() {
    let mut e = entry();
    e.target = b"/echo/\"x\\y\x1b[2J\xff";
    e.user_agent = Some(b"evil\" 500 0 \"-\" \"-\" 0.1\n10.0.0.1 - - [x] \"GET /");
    e.referer = Some("r\u{e9}f\r\n".as_bytes());
    let c = line(Format::Combined, &e);
    assert_eq!(c.matches('\n').count(), 1);
    assert_eq!(c.matches('"').count(), 6, "only our own quotes: {c}");
    assert!(c.contains("\"GET /echo/\\x22x\\x5Cy\\x1B[2J\\xFF HTTP/1.1\""), "{c}");
    assert!(c.contains("\"r\\xC3\\xA9f\\x0D\\x0A\""), "{c}");

    let j = line(Format::Json, &e);
    assert_eq!(j.matches('\n').count(), 1);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["target"], "/echo/\"x\\x5Cy\\x1B[2J\\xFF");
    assert_eq!(v["user_agent"], "evil\" 500 0 \"-\" \"-\" 0.1\\x0A10.0.0.1 - - [x] \"GET /");
    assert_eq!(v["referer"], "réf\\x0D\\x0A", "valid UTF-8 stays readable in JSON");
}

#[test]
fn an_over_long_target_is_cut_with_the_marker() {
    let long = vec![b'a'; MAX_TARGET + 100];
    let mut e = entry();
    e.target = &long;
    let c = line(Format::Combined, &e);
    let want = format!("\"GET {}{TRUNCATED} HTTP/1.1\"", "a".repeat(MAX_TARGET));
    assert!(c.contains(&want), "{c}");
    let v: serde_json::Value = serde_json::from_str(&line(Format::Json, &e)).unwrap();
    assert_eq!(v["target"].as_str().unwrap().len(), MAX_TARGET + TRUNCATED.len());
    assert!(v["target"].as_str().unwrap().ends_with(TRUNCATED));
    let agent = vec![b'u'; MAX_HEADER + 1];
    e.user_agent = Some(&agent);
    assert!(line(Format::Combined, &e).contains(&format!("{}{TRUNCATED}\"", "u".repeat(MAX_HEADER))));
}

#[test]
fn a_request_that_never_arrived_logs_a_dash() {
    let mut e = entry();
    (e.method, e.target, e.version, e.user_agent, e.status) = (b"", b"", b"", None, 408);
    let c = line(Format::Combined, &e);
    assert!(c.contains("] \"-\" 408 1 \"-\" \"-\" "), "{c}");
    let v: serde_json::Value = serde_json::from_str(&line(Format::Json, &e)).unwrap();
    assert_eq!(v["method"], "");
    assert_eq!(v["user_agent"], serde_json::Value::Null);
}

#[test]
fn peers_print_as_remote_addr_does() {
    let mut e = entry();
    e.peer = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
    assert!(line(Format::Combined, &e).starts_with("127.0.0.1 - - ["));
    e.peer = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert!(line(Format::Combined, &e).starts_with("::1 - - ["));
}

#[test]
fn a_parsed_line_prints_as_its_tokens_do_in_both_formats() {
    for format in [Format::Combined, Format::Json] {
        for (method, http11) in [(Method::Get, true), (Method::Options, false), (Method::Delete, true)] {
            for target in [&b"/echo/a"[..], b"/\"x\\y\x1b\xff z", &[b'a'; MAX_TARGET + 1]] {
                let plain = target == b"/echo/a";
                let r = Request { line: Line::Parsed { method, target, plain, http11 }, ..entry().request() };
                let [m, t, v] = r.line.parts();
                let raw = Request { line: Line::Raw { method: m, target: t, version: v }, ..r };
                let (mut one, mut other) = (Vec::new(), Vec::new());
                let kept = keep(format, &r, &mut one, &mut String::new());
                assert_eq!(keep(format, &raw, &mut other, &mut String::new()), kept);
                assert_eq!(one, other, "{format:?} {r:?}");
            }
        }
    }
}

#[test]
fn kept_halves_read_the_same_wherever_they_lie_in_the_store() {
    let mut e = entry();
    e.referer = Some(b"http://r.example/");
    for format in [Format::Combined, Format::Json] {
        let mut store = Vec::new();
        let mut kept = Vec::new();
        for target in [&b"/a"[..], b"/b\"", b"/c"] {
            e.target = target;
            let at = store.len();
            kept.push((at, keep(format, &e.request(), &mut store, &mut String::new()), e.clone()));
        }
        for (at, k, e) in kept {
            let mut out = Vec::new();
            write(format, &store[at..at + k.len()], k, &e.completion(), &clock(), &mut LastHead::default(), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), line(format, &e));
        }
    }
}
