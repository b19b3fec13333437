//! Reporting: when a write completes responses, one count and one
//! access-log line per request; when the connection ends, 499 for every
//! request not complete.

use std::time::Instant;

use super::records::{Newest, Records};
use super::runs::Completions;
use super::{InFlight, Observer};
use crate::http::Method;
use crate::metrics::RequestDone;
use crate::metrics::labels::{MethodLabel, Route};
use crate::status;

/// How the output stands after bytes went out ([`InFlight::sent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More is queued.
    Pending,
    /// Nothing is left to write (a streamed body ends here).
    Empty,
    /// The connection ended at this instant: nothing more will go out.
    Closed(Instant),
}

impl InFlight {
    /// `n` more bytes were written, and the output stands as `progress`
    /// says. Reports every request whose response is now complete; when
    /// the connection ended, every other one too, as 499, with the bytes
    /// that did go out.
    #[inline]
    pub fn sent(&mut self, n: usize, progress: Progress, obs: &mut Observer) {
        self.sent += n as u64;
        if let Progress::Closed(at) = progress {
            return self.closed(at, obs);
        }
        let Some(records) = self.records.as_mut() else { return };
        if records.queue.is_empty() {
            // The usual case with the log off: only the run's tail.
            if records.tail.is_some() {
                self.sent_tail(obs);
            }
            return;
        }
        records.materialize_tail(self.peer);
        let sent = self.sent;
        let output_empty = progress == Progress::Empty;
        let complete = |r: &Records| r.queue.front().map_or(0, |p| p.complete(sent, output_empty));
        if complete(records) == 0 {
            return;
        }
        // One clock read for all the responses this write completed.
        let mut batch = Completions::at(Instant::now());
        while let Some(records) = &self.records
            && let n @ 1.. = complete(records)
            && let Some(p) = records.queue.front()
        {
            let status = p.status;
            self.report_front(status, n, &mut batch, obs);
        }
        batch.flush(obs);
        self.release(obs);
    }

    /// The connection ended: whatever is not complete is reported as 499
    /// with the bytes that went out.
    fn closed(&mut self, now: Instant, obs: &mut Observer) {
        let mut batch = Completions::at(now);
        if let Some(r) = self.records.as_mut() {
            r.materialize_tail(self.peer);
            r.settle_joiner(self.peer, self.requests);
        }
        while let Some(n) = self.records.as_ref().and_then(|r| r.queue.front()).map(|p| p.count) {
            self.report_front(status::CLIENT_GONE, n, &mut batch, obs);
        }
        batch.flush(obs);
        self.release(obs);
    }

    /// Nothing is queued but the run's tail: its complete requests are
    /// counted, with one clock read, and no record is touched.
    fn sent_tail(&mut self, obs: &mut Observer) {
        let Some(records) = self.records.as_mut() else { return };
        let Some(t) = records.tail.as_mut() else { return };
        let n = t.complete(self.sent);
        if n == 0 {
            return;
        }
        let duration = Instant::now().saturating_duration_since(t.started);
        let done = RequestDone { method: t.method, route: t.route, status: t.status, duration };
        obs.count(|m| m.requests(&done, u64::from(n)));
        count_files(t.route, t.method, t.status, n, obs);
        if n < t.count {
            t.start += u64::from(n) * t.each;
            t.count -= n;
            return;
        }
        records.settle_joining();
        records.tail = None;
        // The usual batch ends here, with nothing else in flight: the store
        // goes back without `release`'s checks of what is known already
        // (the queue is empty, the tail gone).
        if matches!(records.newest, Newest::Answered)
            && let Some(r) = self.records.take()
        {
            obs.give_back(r);
        }
    }

    /// Reports the first `n` requests of the front record (all of it but
    /// for a run completed in part).
    fn report_front(&mut self, status: u16, n: u32, batch: &mut Completions, obs: &mut Observer) {
        let now = batch.now;
        let Some(records) = self.records.as_mut() else { return };
        // Read where it lies, and dropped after: a record is ~120 bytes,
        // and taking it out by value would copy it.
        let Some(p) = records.queue.front() else { return };
        let duration = batch.since(p.started);
        let sent = if p.status == 0 { 0 } else { self.sent.min(p.end.unwrap_or(self.sent)).saturating_sub(p.start) };
        if obs.metrics.is_some() {
            batch.count(RequestDone { method: p.method, route: p.route, status, duration }, u64::from(n), obs);
        }
        count_files(p.route, p.method, status, n, obs);
        // Health checks that pass are counted, not logged: a probe every
        // second would drown the requests that matter.
        let quiet = p.route == Route::Healthz && status == status::OK;
        if obs.log.enabled() && !quiet {
            let (text, c) = records.line(p, status, sent, duration);
            obs.log.write(text, p.kept, &c, now);
        }
        if n < p.count {
            // Runs exist only with the log off: no text to keep in step.
            let p = records.queue.front_mut().expect("read above");
            p.start += u64::from(n) * p.each();
            p.count -= n;
            p.number = p.number.wrapping_add(n);
            return;
        }
        records.queue.pop_front();
        records.trim_text();
    }

    /// Nothing in flight: give the record store back to the loop.
    fn release(&mut self, obs: &mut Observer) {
        if self
            .records
            .as_ref()
            .is_some_and(|r| r.queue.is_empty() && matches!(r.newest, Newest::Answered) && r.tail.is_none())
            && let Some(r) = self.records.take()
        {
            obs.give_back(r);
        }
    }
}

/// The file counters: downloads served, uploads committed or aborted.
fn count_files(route: Route, method: MethodLabel, status: u16, n: u32, obs: &Observer) {
    obs.count(|m| {
        let n = u64::from(n);
        if route == Route::Files
            && matches!(status, status::OK | status::PARTIAL_CONTENT)
            && method == MethodLabel::Known(Method::Get)
        {
            m.files_served(n);
        }
        if route == Route::Files && matches!(method, MethodLabel::Known(Method::Post | Method::Put)) {
            m.uploads(matches!(status, status::CREATED | status::NO_CONTENT), n);
        }
    });
}
