use super::*;
use crate::http::Method;

fn get(route: Route, status: u16, micros: u64) -> RequestDone {
    RequestDone { method: MethodLabel::Known(Method::Get), route, status, duration: Duration::from_micros(micros) }
}

/// The value of the sample line that starts with `series ` (exactly).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn prometheus_text_by_default_openmetrics_when_asked() {
    let m = Metrics::new(1, None);
    let plain = m.render(None);
    assert_eq!(plain.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!plain.body.contains("# EOF"));
    let prom_accept = b"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = m.render(Some(prom_accept));
    assert!(om.content_type.starts_with("application/openmetrics-text"));
    assert!(om.body.ends_with("# EOF\n"));
    assert!(!expose::wants_openmetrics(Some(b"application/openmetrics-text;q=0, text/plain")));
    assert!(!expose::wants_openmetrics(Some(b"text/plain")));
}

#[test]
fn requests_land_in_their_labelled_series_and_buckets() {
    let m = Metrics::new(2, None);
    let w = m.worker(1);
    w.request(&get(Route::Echo, 200, 80));
    w.request(&get(Route::Echo, 200, 300));
    w.request(&get(Route::Other, 404, 50));
    w.rejected(431);
    w.accepted();
    w.closed(CloseReason::HeaderTimeout);
    w.received(100);
    w.sent(250);
    w.pass(3, Duration::from_millis(2));
    let t = m.render(None).body;
    let s = |series: &str| sample(&t, series);
    assert_eq!(s(r#"loophttp_requests_total{worker="1",method="GET",route="/echo/{s}",status="200"}"#), Some(2.0));
    assert_eq!(s(r#"loophttp_requests_total{worker="1",method="GET",route="other",status="404"}"#), Some(1.0));
    assert_eq!(s(r#"loophttp_request_duration_seconds_bucket{worker="1",route="/echo/{s}",le="0.0001"}"#), Some(1.0));
    assert_eq!(s(r#"loophttp_request_duration_seconds_bucket{worker="1",route="/echo/{s}",le="0.0005"}"#), Some(2.0));
    assert_eq!(s(r#"loophttp_request_duration_seconds_bucket{worker="1",route="/echo/{s}",le="+Inf"}"#), Some(2.0));
    assert_eq!(s(r#"loophttp_request_duration_seconds_count{worker="1",route="/echo/{s}"}"#), Some(2.0));
    assert_eq!(s(r#"loophttp_rejected_requests_total{worker="1",status="431"}"#), Some(1.0));
    assert_eq!(s(r#"loophttp_rejected_requests_total{worker="0",status="431"}"#), Some(0.0));
    assert_eq!(s(r#"loophttp_connections_closed_total{worker="1",reason="header_timeout"}"#), Some(1.0));
    assert_eq!(s(r#"loophttp_connections_open{worker="1"}"#), Some(0.0));
    assert_eq!(s(r#"loophttp_received_bytes_total{worker="1"}"#), Some(100.0));
    assert_eq!(s(r#"loophttp_sent_bytes_total{worker="1"}"#), Some(250.0));
    assert_eq!(s(r#"loophttp_loop_events_per_wakeup_sum{worker="1"}"#), Some(3.0));
    assert_eq!(s(r#"loophttp_loop_busy_seconds_total{worker="1"}"#), Some(0.002));
    assert!(s(r#"loophttp_build_info{version="0.1.0"}"#).is_some() || t.contains("loophttp_build_info{version="));
    assert!(s("process_open_fds").unwrap() >= 3.0);
    assert!(s("process_resident_memory_bytes").unwrap() > 0.0);
    assert!(!t.contains(r#"worker="0",method"#), "a worker without requests adds no request series");
}

#[test]
fn label_sets_stay_bounded() {
    let m = Metrics::new(1, None);
    let w = m.worker(0);
    w.request(&get(crate::routes::classify_path(b"/a"), 404, 1));
    let before: Vec<String> = m.render(None).body.lines().map(|l| l.rsplit_once(' ').unwrap().0.to_owned()).collect();
    for i in 0..5000u32 {
        let path = format!("/x{i}");
        let method = if i % 2 == 0 { MethodLabel::Other } else { MethodLabel::Known(Method::Get) };
        w.request(&RequestDone {
            method,
            route: crate::routes::classify_path(path.as_bytes()),
            status: 404,
            duration: Duration::ZERO,
        });
    }
    let after: Vec<String> = m.render(None).body.lines().map(|l| l.rsplit_once(' ').unwrap().0.to_owned()).collect();
    let added: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    assert_eq!(added.len(), 1, "only the method=\"other\" series is new: {added:?}");
}

#[test]
fn durations_count_whole_microseconds_and_saturate() {
    assert_eq!(micros(Duration::from_nanos(999)), 0);
    assert_eq!(micros(Duration::from_nanos(1_999)), 1);
    assert_eq!(micros(Duration::new(2, 345_678_999)), 2_345_678);
    // What `as_micros` gave, capped at u64::MAX, for the largest durations.
    for d in
        [Duration::new(u64::MAX / 1_000_000, 999_999_999), Duration::new(u64::MAX / 1_000_000 + 1, 0), Duration::MAX]
    {
        assert_eq!(micros(d), u64::try_from(d.as_micros()).unwrap_or(u64::MAX), "{d:?}");
    }
}
