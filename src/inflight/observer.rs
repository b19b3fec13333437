//! One loop's reporting side: the access log, the counters, and the pool
//! of record stores that busy connections borrow.

use std::sync::Arc;

use super::TEXT_HIGH_WATER;
use super::records::Records;
use crate::access_log::AccessLog;
use crate::metrics::WorkerMetrics;

/// Record stores kept per loop for connections that become busy.
const SPARE_RECORDS: usize = 256;

/// One loop's reporting side: the access log, the counters, and spare
/// record stores (idle connections hold none, busy ones allocate none).
#[derive(Debug)]
pub struct Observer {
    pub log: AccessLog,
    /// None with `--no-metrics`: nothing is counted.
    pub metrics: Option<Arc<WorkerMetrics>>,
    /// Boxed because connections hold them boxed: moving one in or out
    /// must not allocate.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Records>>,
}

impl Observer {
    pub fn new(log: AccessLog, metrics: Option<Arc<WorkerMetrics>>) -> Observer {
        Observer { log, metrics, spare: Vec::new() }
    }

    /// Whether requests are followed at all (a log or metrics is on).
    pub fn active(&self) -> bool {
        self.log.enabled() || self.metrics.is_some()
    }

    /// Counts something, if metrics are on.
    #[inline]
    pub fn count(&self, f: impl FnOnce(&WorkerMetrics)) {
        if let Some(m) = &self.metrics {
            f(m);
        }
    }
}

impl Default for Observer {
    /// No access log, no metrics: requests are not followed.
    fn default() -> Self {
        Observer::new(AccessLog::off(), None)
    }
}

impl Observer {
    /// A record store for a connection that becomes busy: a spare one, or
    /// a new one.
    pub(super) fn take_records(&mut self) -> Box<Records> {
        self.spare.pop().unwrap_or_default()
    }

    /// Keeps a connection's emptied record store for the next busy one,
    /// unless enough are kept or its text store grew too large.
    pub(super) fn give_back(&mut self, mut r: Box<Records>) {
        if self.spare.len() < SPARE_RECORDS && r.text.capacity() <= 2 * TEXT_HIGH_WATER {
            r.text.clear();
            self.spare.push(r);
        }
    }
}
