//! Runs: with the access log off, alike responses queued back to back are
//! kept as one record and counted together (module doc of `inflight`).

use std::time::{Duration, Instant};

use super::Observer;
use super::records::Pending;
use crate::metrics::RequestDone;

/// What the requests one write completed share. They mostly share their
/// start (the requests of a pipelined batch arrive in one readiness
/// event), so the time since it is computed once per start. They mostly
/// share their labels too, and are counted as one run: a count is a load
/// and a store of one cell, so sixteen counts in a row each wait for the
/// store before; one count of sixteen does not.
pub(super) struct Completions {
    pub(super) now: Instant,
    last: Option<(Instant, Duration)>,
    run: Option<(RequestDone, u64)>,
}

impl Completions {
    pub(super) fn at(now: Instant) -> Completions {
        Completions { now, last: None, run: None }
    }

    pub(super) fn since(&mut self, started: Instant) -> Duration {
        match self.last {
            Some((start, elapsed)) if start == started => elapsed,
            _ => {
                let elapsed = self.now.saturating_duration_since(started);
                self.last = Some((started, elapsed));
                elapsed
            }
        }
    }

    /// Counts `n` requests like `done` (with the run they continue, if
    /// they do).
    pub(super) fn count(&mut self, done: RequestDone, n: u64, obs: &Observer) {
        match &mut self.run {
            Some((run, count)) if *run == done => *count += n,
            _ => {
                self.flush(obs);
                self.run = Some((done, n));
            }
        }
    }

    /// Adds the run to the counters: every report ends with this.
    pub(super) fn flush(&mut self, obs: &Observer) {
        if let Some((run, n)) = self.run.take() {
            obs.count(|m| m.requests(&run, n));
        }
    }
}

impl Pending {
    /// The length of each of its responses; 0 for a streamed one.
    pub(super) fn each(&self) -> u64 {
        self.end.map_or(0, |end| (end - self.start) / u64::from(self.count))
    }

    /// How many of this record's requests are complete once `sent` bytes
    /// went out (`output_empty`: nothing else is queued).
    pub(super) fn complete(&self, sent: u64, output_empty: bool) -> u32 {
        match self.end {
            _ if self.status == 0 => 0,
            None => u32::from(output_empty),
            Some(end) if end <= sent => self.count,
            // Part of a run: only whole responses count.
            Some(_) => u32::try_from(sent.saturating_sub(self.start) / self.each().max(1)).unwrap_or(0),
        }
    }

    /// `next`, answered with `status` at output positions `start..end`, is
    /// one more of this run: everything the counters see is the same, and
    /// its response follows this one's last, as long as each (compared
    /// by multiplying: this runs per pipelined request, a division costs).
    pub(super) fn continued_by(&self, next: &Pending, status: u16, start: u64, end: Option<u64>) -> bool {
        self.started == next.started
            && self.method == next.method
            && self.route == next.route
            && self.takes(status, start, end)
    }

    /// A response with `status` at output positions `start..end` may be
    /// one more of this run (its request alike already).
    pub(super) fn takes(&self, status: u16, start: u64, end: Option<u64>) -> bool {
        self.status == status
            && self.end == Some(start)
            && end.is_some_and(|end| (end - start) * u64::from(self.count) == start - self.start)
            && self.count < u32::MAX
    }
}
