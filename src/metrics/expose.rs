//! The exposition: a `prometheus-client` [`Collector`] that reads every
//! worker's cells at scrape time and encodes them, in the Prometheus text
//! format (0.0.4) or in OpenMetrics when the scraper's `Accept` asks for
//! it (Prometheus itself does). The crate does the escaping, `# HELP` /
//! `# TYPE`, `_total` suffixes, cumulative `le` buckets and `# EOF`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::WorkerMetrics;
use super::cell::Histogram;
use super::labels::{Label, MethodLabel, Route, Status};
use super::process::ProcessStats;
use crate::access_log::LogState;
use crate::close_reason::CloseReason;
use crate::status;

pub const PROMETHEUS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Series without labels.
const NO_LABELS: [(&str, &str); 0] = [];

/// Statuses the server rejects requests with: always exposed, so a rate
/// over them starts from zero rather than from a missing series.
const REJECT_STATUSES: [u16; 8] = [
    status::BAD_REQUEST,
    status::REQUEST_TIMEOUT,
    status::CONTENT_TOO_LARGE,
    status::URI_TOO_LONG,
    status::EXPECTATION_FAILED,
    status::HEADER_FIELDS_TOO_LARGE,
    status::NOT_IMPLEMENTED,
    status::HTTP_VERSION_NOT_SUPPORTED,
];

/// A rendered scrape.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: String,
}

/// What a scrape reads: all workers and the shared figures.
#[derive(Debug)]
pub struct Snapshot {
    pub(super) workers: Box<[Arc<WorkerMetrics>]>,
    names: Vec<String>,
    log: Option<Arc<LogState>>,
}

impl Snapshot {
    pub fn new(workers: Box<[Arc<WorkerMetrics>]>, log: Option<Arc<LogState>>) -> Snapshot {
        let names = (0..workers.len()).map(|i| i.to_string()).collect();
        Snapshot { workers, names, log }
    }

    fn each(&self) -> impl Iterator<Item = (&str, &WorkerMetrics)> {
        self.names.iter().map(String::as_str).zip(self.workers.iter().map(|w| &**w))
    }
}

/// True if `accept` lists `application/openmetrics-text` with q > 0.
pub fn wants_openmetrics(accept: Option<&[u8]>) -> bool {
    let Some(accept) = accept else { return false };
    accept.split(|&b| b == b',').any(|item| {
        let mut parts = item.split(|&b| b == b';');
        let media = parts.next().unwrap_or_default().trim_ascii();
        media.eq_ignore_ascii_case(b"application/openmetrics-text")
            && parts.all(|p| {
                let p = p.trim_ascii();
                !(p.starts_with(b"q=0") && p[3..].iter().all(|&b| b == b'.' || b == b'0'))
            })
    })
}

pub fn render(snapshot: &Arc<Snapshot>, accept: Option<&[u8]>) -> Rendered {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot.clone()));
    let mut body = String::with_capacity(16 * 1024);
    let openmetrics = wants_openmetrics(accept);
    // Encoding into a String cannot fail; an error would be a bug in a
    // collector, and an empty scrape says so to the scraper.
    let ok = if openmetrics {
        prometheus_client::encoding::text::encode(&mut body, &registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut body, &registry)
    };
    if ok.is_err() {
        log::error!("metrics encoding failed");
        body.clear();
    }
    let content_type = if openmetrics { OPENMETRICS_CONTENT_TYPE } else { PROMETHEUS_CONTENT_TYPE };
    Rendered { content_type, body }
}

type Enc<'a, 'b> = &'a mut DescriptorEncoder<'b>;

fn counter<L: EncodeLabelSet>(
    enc: Enc,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        m.encode_family(&labels)?.encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
    }
    Ok(())
}

fn gauge<L: EncodeLabelSet, G: EncodeGaugeValue>(
    enc: Enc,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, G)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        m.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

fn histogram<'h, L: EncodeLabelSet, const N: usize>(
    enc: Enc,
    name: &str,
    help: &str,
    unit: f64,
    series: impl IntoIterator<Item = (L, &'h Histogram<N>)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in series {
        let (buckets, sum, count) = h.snapshot(unit);
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        self.encode_requests(&mut enc)?;
        self.encode_connections(&mut enc)?;
        self.encode_files_and_log(&mut enc)?;
        self.encode_loop(&mut enc)?;
        encode_process(&mut enc)?;
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        gauge(&mut enc, "loophttp_build_info", "The running loophttp version (always 1).", [(version, 1u64)])
    }
}

impl Snapshot {
    fn encode_requests(&self, enc: Enc) -> fmt::Result {
        let mut series = Vec::new();
        for (w, m) in self.each() {
            for &method in MethodLabel::ALL {
                for &route in Route::ALL {
                    for &status in Status::ALL {
                        let v = m.request_cell(method, route, status).get();
                        if v > 0 {
                            let labels = [
                                ("worker", w),
                                ("method", method.as_str()),
                                ("route", route.as_str()),
                                ("status", status.as_str()),
                            ];
                            series.push((labels, v));
                        }
                    }
                }
            }
        }
        counter(
            enc,
            "loophttp_requests",
            "Requests answered, by method, route pattern and status (499: the client left first).",
            series,
        )?;
        let durations = self.each().flat_map(|(w, m)| {
            Route::ALL
                .iter()
                .map(move |&r| ([("worker", w), ("route", r.as_str())], &m.durations[r.index()]))
                .filter(|(_, h)| h.snapshot(1.0).2 > 0)
        });
        histogram(
            enc,
            "loophttp_request_duration_seconds",
            "From the loop seeing the request to its response's last byte written, by route pattern.",
            1e6,
            durations,
        )?;
        let rejected = self.each().flat_map(|(w, m)| {
            REJECT_STATUSES.iter().map(move |&s| {
                ([("worker", w), ("status", Status::of(s).as_str())], m.rejected[Status::of(s).index()].get())
            })
        });
        counter(
            enc,
            "loophttp_rejected_requests",
            "Requests refused for breaking a rule or limit, by status.",
            rejected,
        )?;
        let received = self.each().map(|(w, m)| ([("worker", w)], m.received_bytes.get()));
        counter(enc, "loophttp_received_bytes", "Bytes read from clients.", received)?;
        let sent = self.each().map(|(w, m)| ([("worker", w)], m.sent_bytes.get()));
        counter(enc, "loophttp_sent_bytes", "Bytes written to clients.", sent)
    }

    fn encode_connections(&self, enc: Enc) -> fmt::Result {
        let accepted = self.each().map(|(w, m)| ([("worker", w)], m.accepted.get()));
        counter(enc, "loophttp_connections_accepted", "Connections accepted.", accepted)?;
        let open = self.each().map(|(w, m)| ([("worker", w)], m.open.get()));
        gauge(enc, "loophttp_connections_open", "Connections open now.", open)?;
        let closed = self.each().flat_map(|(w, m)| {
            CloseReason::ALL
                .iter()
                .map(move |&c| ([("worker", w), ("reason", c.as_str())], m.closed[Label::index(c)].get()))
        });
        counter(enc, "loophttp_connections_closed", "Connections closed, by reason.", closed)
    }

    fn encode_files_and_log(&self, enc: Enc) -> fmt::Result {
        let files = self.each().map(|(w, m)| ([("worker", w)], m.files_served.get()));
        counter(enc, "loophttp_files_served", "File bodies sent by /files/{name} (GET).", files)?;
        let uploads = self.each().flat_map(|(w, m)| {
            [
                ([("worker", w), ("result", "committed")], m.uploads_committed.get()),
                ([("worker", w), ("result", "aborted")], m.uploads_aborted.get()),
            ]
        });
        counter(
            enc,
            "loophttp_uploads",
            "Uploads by result: committed, or aborted (the body never completed).",
            uploads,
        )?;
        let dropped = self.log.as_ref().map_or(0, |l| l.dropped_lines());
        counter(
            enc,
            "loophttp_access_log_dropped_lines",
            "Access-log lines dropped because the output did not keep up.",
            [(NO_LABELS, dropped)],
        )
    }

    fn encode_loop(&self, enc: Enc) -> fmt::Result {
        let events = self.each().map(|(w, m)| ([("worker", w)], &m.events_per_wakeup));
        histogram(
            enc,
            "loophttp_loop_events_per_wakeup",
            "Readiness events per loop wake-up (_count: wake-ups, _sum: events).",
            1.0,
            events,
        )?;
        let busy = self.each().map(|(w, m)| ([("worker", w)], Duration::from_nanos(m.busy_ns.get()).as_secs_f64()));
        let mut m = enc.encode_descriptor(
            "loophttp_loop_busy_seconds",
            "Time the loop spent working rather than waiting in poll; its rate is the loop's utilisation.",
            None,
            MetricType::Counter,
        )?;
        for (labels, v) in busy {
            m.encode_family(&labels)?.encode_counter::<NoLabelSet, f64, f64>(&v, None)?;
        }
        Ok(())
    }
}

fn encode_process(enc: Enc) -> fmt::Result {
    let p = ProcessStats::read();
    let gauges = [
        ("process_open_fds", "Number of open file descriptors.", p.open_fds),
        ("process_max_fds", "Maximum number of open file descriptors.", p.max_fds),
        ("process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_bytes),
        ("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtual_bytes),
    ];
    for (name, help, value) in gauges {
        if let Some(v) = value {
            gauge(enc, name, help, [(NO_LABELS, v)])?;
        }
    }
    if let Some(t) = p.start_time_seconds {
        gauge(
            enc,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            [(NO_LABELS, t)],
        )?;
    }
    if let Some(cpu) = p.cpu_seconds {
        let mut m = enc.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?;
        m.encode_counter::<NoLabelSet, f64, f64>(&cpu, None)?;
    }
    Ok(())
}
