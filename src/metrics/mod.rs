//! Prometheus metrics. Each loop counts into its own [`WorkerMetrics`]:
//! plain relaxed atomics that only it writes, laid out in fixed arrays
//! indexed by bounded labels ([`labels`]), so counting a request is a few
//! loads and stores, with no lock, no hashing and no allocation. A scrape
//! (on any loop) reads every worker's cells and encodes them with the
//! official `prometheus-client` crate ([`expose`]), each series with a
//! `worker` label.

pub mod cell;
pub mod expose;
pub mod labels;
pub mod process;

use std::sync::Arc;
use std::time::Duration;

use crate::access_log::LogState;
use crate::close_reason::CloseReason;
use cell::{Cell, DURATION_BOUNDS_US, Histogram};
pub use expose::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, Rendered};
use labels::{Label, MethodLabel, Route, Status};

/// Events-per-wake-up bucket bounds.
pub const EVENT_BOUNDS: [u64; 12] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

const METHODS: usize = MethodLabel::ALL.len();
const ROUTES: usize = Route::ALL.len();
const STATUSES: usize = Status::ALL.len();

/// One finished request, as the metrics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestDone {
    pub method: MethodLabel,
    pub route: Route,
    pub status: u16,
    pub duration: Duration,
}

/// The counters of one loop. Written only by that loop.
#[derive(Debug)]
pub struct WorkerMetrics {
    /// Indexed by `(method, route, status)`: see [`WorkerMetrics::request_cell`].
    requests: Box<[Cell]>,
    durations: [Histogram<16>; ROUTES],
    rejected: [Cell; STATUSES],
    pub(crate) received_bytes: Cell,
    pub(crate) sent_bytes: Cell,
    accepted: Cell,
    open: Cell,
    closed: [Cell; CloseReason::ALL.len()],
    files_served: Cell,
    uploads_committed: Cell,
    uploads_aborted: Cell,
    events_per_wakeup: Histogram<12>,
    busy_ns: Cell,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            requests: (0..METHODS * ROUTES * STATUSES).map(|_| Cell::default()).collect(),
            durations: [const { Histogram::new(&DURATION_BOUNDS_US) }; ROUTES],
            rejected: Default::default(),
            received_bytes: Cell::default(),
            sent_bytes: Cell::default(),
            accepted: Cell::default(),
            open: Cell::default(),
            closed: Default::default(),
            files_served: Cell::default(),
            uploads_committed: Cell::default(),
            uploads_aborted: Cell::default(),
            events_per_wakeup: Histogram::new(&EVENT_BOUNDS),
            busy_ns: Cell::default(),
        }
    }
}

impl WorkerMetrics {
    fn request_cell(&self, m: MethodLabel, r: Route, s: Status) -> &Cell {
        &self.requests[(m.index() * ROUTES + r.index()) * STATUSES + s.index()]
    }

    /// A request's response was sent (or its client left: status 499).
    #[inline]
    pub fn request(&self, r: &RequestDone) {
        self.requests(r, 1);
    }

    /// `n` requests alike in every label and duration: one add each, not
    /// `n` (see `inflight.rs`, which counts a pipelined batch this way).
    #[inline(always)]
    pub fn requests(&self, r: &RequestDone, n: u64) {
        self.request_cell(r.method, r.route, Status::of(r.status)).add(n);
        self.durations[r.route.index()].observe_n(micros(r.duration), n);
    }

    /// A request refused for breaking a rule or limit (400, 408, 413, ...).
    pub fn rejected(&self, status: u16) {
        self.rejected[Status::of(status).index()].inc();
    }

    #[inline]
    pub fn received(&self, n: usize) {
        self.received_bytes.add(n as u64);
    }

    #[inline]
    pub fn sent(&self, n: usize) {
        self.sent_bytes.add(n as u64);
    }

    pub fn accepted(&self) {
        self.accepted.inc();
        self.open.inc();
    }

    pub fn closed(&self, why: CloseReason) {
        self.closed[Label::index(why)].inc();
        self.open.sub(1);
    }

    /// `n` downloads answered 200 or 206.
    pub fn files_served(&self, n: u64) {
        self.files_served.add(n);
    }

    /// `n` uploads ended, committed or aborted.
    pub fn uploads(&self, committed: bool, n: u64) {
        if committed { self.uploads_committed.add(n) } else { self.uploads_aborted.add(n) }
    }

    /// One pass of the loop: how many events the poll returned, and how
    /// long the loop worked before polling again.
    #[inline]
    pub fn pass(&self, events: usize, busy: Duration) {
        self.events_per_wakeup.observe(events as u64);
        self.busy_ns.add(u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Requests counted so far with this status: for tests.
    #[cfg(test)]
    pub fn requests_with_status(&self, status: u16) -> u64 {
        let s = Status::of(status);
        let mut n = 0;
        for &m in MethodLabel::ALL {
            for &r in Route::ALL {
                n += self.request_cell(m, r, s).get();
            }
        }
        n
    }
}

/// Whole microseconds in `d`, saturating: in 64-bit arithmetic
/// (`Duration::as_micros` is 128-bit, ~10 more instructions per count,
/// callgrind, examples/hotpath.rs at 1 deep).
#[inline(always)]
fn micros(d: Duration) -> u64 {
    d.as_secs().saturating_mul(1_000_000).saturating_add(u64::from(d.subsec_micros()))
}

/// Every worker's counters plus the shared figures: what `/metrics` shows.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<expose::Snapshot>,
}

impl Metrics {
    /// Counters for `workers` loops; `log` is the access log's shared state.
    pub fn new(workers: usize, log: Option<Arc<LogState>>) -> Metrics {
        let workers = (0..workers.max(1)).map(|_| Arc::new(WorkerMetrics::default())).collect();
        Metrics { inner: Arc::new(expose::Snapshot::new(workers, log)) }
    }

    /// Loop `i`'s counters.
    pub fn worker(&self, i: usize) -> Arc<WorkerMetrics> {
        self.inner.workers[i % self.inner.workers.len()].clone()
    }

    /// The exposition for a scraper that sent `accept`.
    pub fn render(&self, accept: Option<&[u8]>) -> Rendered {
        expose::render(&self.inner, accept)
    }
}

#[cfg(test)]
mod tests;
