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
    /// The store given back last, handed out first: at keep-alive depth 1
    /// each request borrows one and gives it back, and a slot is a
    /// shorter trip than the stack (as `BufPool`'s hand).
    hand: Option<Box<Records>>,
}

impl Observer {
    pub fn new(log: AccessLog, metrics: Option<Arc<WorkerMetrics>>) -> Observer {
        Observer { log, metrics, spare: Vec::new(), hand: None }
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
        match self.hand.take() {
            Some(r) => r,
            None => self.spare.pop().unwrap_or_default(),
        }
    }

    /// Keeps a connection's emptied record store for the next busy one,
    /// unless enough are kept or its text store grew too large.
    pub(super) fn give_back(&mut self, mut r: Box<Records>) {
        if r.text.capacity() > 2 * TEXT_HIGH_WATER {
            return;
        }
        r.text.clear();
        if self.hand.is_none() {
            self.hand = Some(r);
        } else if self.spare.len() < SPARE_RECORDS {
            self.spare.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_given_back_is_the_next_one_lent_and_comes_back_emptied() {
        let mut obs = Observer::default();
        let (a, b) = (obs.take_records(), obs.take_records());
        let (pa, pb): (*const Records, *const Records) = (&*a, &*b);
        let mut a = a;
        a.text.extend_from_slice(b"a line");
        obs.give_back(a);
        obs.give_back(b);
        let (first, second) = (obs.take_records(), obs.take_records());
        assert_eq!(&*first as *const Records, pa, "the hand's first");
        assert!(first.text.is_empty());
        assert_eq!(&*second as *const Records, pb, "then the stack's");
    }

    #[test]
    fn a_store_whose_text_grew_too_large_is_freed() {
        let mut obs = Observer::default();
        let mut r = obs.take_records();
        r.text.reserve(2 * TEXT_HIGH_WATER + 1);
        obs.give_back(r);
        assert!(obs.hand.is_none() && obs.spare.is_empty());
    }
}
