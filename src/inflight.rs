//! What a connection remembers of its requests until their responses are
//! out, and what it reports when they are: one access-log line and one
//! count in the metrics per request, made when the response's last byte is
//! written, with the bytes actually written.
//!
//! Output positions tie the two together. The connection's output is one
//! byte stream; `sent` counts what went out. When a response has been
//! queued whole, its end is `sent + pending` at that moment; it is complete
//! once `sent` reaches that. A response that streams a file has no known
//! end: it is complete when the output is empty (nothing is queued behind
//! a streamed body: the connection stops parsing until it is out).
//!
//! If the connection ends first, every request not complete is reported
//! with status 499 (nginx's "client closed request") and the bytes that
//! did go out.
//!
//! With the access log off, alike responses queued back to back (same
//! start, method, route, status and length: a pipelined batch of the same
//! request) are kept as one record, a run, and counted together. Which of
//! them are complete still follows from `sent` exactly: the k-th ends
//! `k × length` after the run's start. A request like the run's last
//! (same start, method and route) does not even get a record until its
//! response differs: it only marks the records as `joining`
//! ([`InFlight::arrived`]).
//!
//! The rooms: [`observer`] (the loop's reporting side and its pool of
//! record stores), [`arrival`] (a request as it arrived, and the client
//! address to log), `records.rs` (what is kept per request), `text.rs` (the
//! client's text kept for the access-log line), `runs.rs` (alike responses
//! kept as one run), `report.rs` (reporting complete requests, and 499 for
//! the rest when the connection ends).

mod arrival;
mod observer;
mod records;
mod report;
mod runs;
mod text;

use std::net::IpAddr;
use std::time::Instant;

pub use arrival::{Arrival, ParsedHead};
pub use observer::Observer;
use records::{Joiner, Pending, Records};

use crate::forwarded::Cidr;
use crate::http::Method;
use crate::metrics::labels::{MethodLabel, Route};

/// Status logged for a request whose response did not go out completely.
pub use crate::status::CLIENT_GONE;
/// Client text kept per connection before it stops parsing more pipelined
/// requests (like the output mark): memory per connection stays bounded.
pub const TEXT_HIGH_WATER: usize = 64 * 1024;

/// One connection's requests in flight.
#[derive(Debug)]
pub struct InFlight {
    peer: IpAddr,
    /// Requests begun on this connection.
    requests: u32,
    /// Bytes written to this connection so far.
    sent: u64,
    /// Boxed: an idle connection holds only the pointer's room.
    records: Option<Box<Records>>,
}

impl InFlight {
    pub fn new(peer: IpAddr) -> InFlight {
        InFlight { peer, requests: 0, sent: 0, records: None }
    }

    /// Too much client text is held for unfinished responses: parse no
    /// more requests until some complete.
    pub fn is_full(&self) -> bool {
        self.records.as_ref().is_some_and(|r| r.text.len() >= TEXT_HIGH_WATER)
    }

    /// The newest request has no response queued yet (its body is arriving).
    pub fn awaiting_response(&self) -> bool {
        self.records.as_ref().is_some_and(|r| r.open.is_some() || r.joining.is_some())
    }

    /// Whether a request (`method`, `route`, begun at `now`) joins the run
    /// queued last; if so it is counted as begun, and its response decides
    /// ([`InFlight::responded`]).
    fn joins(&mut self, method: Method, route: Route, now: Instant) -> bool {
        let Some(r) = self.records.as_mut() else { return false };
        if !r.runs || r.open.is_some() || r.joining.is_some() {
            return false;
        }
        let Some(run) = r.queue.back() else { return false };
        if run.started != now || run.method != MethodLabel::Known(method) || run.route != route {
            return false;
        }
        self.requests = self.requests.wrapping_add(1);
        r.joining = Some(Joiner { started: run.started, method: run.method, route: run.route });
        true
    }

    /// A request arrived: its head is parsed and its route classified
    /// ([`ParsedHead`]); its clock started at `started`. Behind a
    /// `--trust-proxy` peer, its record names the client the forwarding
    /// headers give. This runs per request, sixteen times per read in a
    /// pipelined batch, so with only metrics counting (the log off) the
    /// usual request takes a short way: one like the run queued last is
    /// only noted (`joins`), with no [`Arrival`] or record
    /// made; with neither log nor metrics nothing is made at all.
    pub fn arrived(
        &mut self,
        conn_id: u64,
        parsed: ParsedHead<'_, '_>,
        started: Instant,
        trusted: &[Cidr],
        obs: &mut Observer,
    ) {
        let ParsedHead { head, len, route } = parsed;
        if !obs.active() {
            self.requests = self.requests.wrapping_add(1);
            return;
        }
        if self.joins(head.method, route, started) {
            return;
        }
        let client = self.client(head.proxy, trusted, obs);
        self.begin(conn_id, &Arrival::of(head, len, route, client), started, obs);
    }

    /// A request arrived (its head is parsed, or failed to parse).
    pub fn begin(&mut self, conn_id: u64, a: &Arrival<'_>, now: Instant, obs: &mut Observer) {
        self.requests = self.requests.wrapping_add(1);
        if !obs.active() {
            return;
        }
        let keep_text = obs.log.enabled();
        let records = self.records.get_or_insert_with(|| obs.take_records());
        records.conn_id = conn_id;
        records.runs = !keep_text;
        // One never answered (not expected: every head is answered) stays
        // in the queue unanswered, and is reported 499 when it closes.
        if let Some(unanswered) = records.joiner(self.peer, self.requests.wrapping_sub(1)) {
            records.queue.push_back(unanswered);
        }
        if let Some(unanswered) = records.open.take() {
            records.queue.push_back(unanswered);
        }
        let (text_at, lens) = if keep_text { records.keep_text(a) } else { (records.text.len(), [text::ABSENT; 5]) };
        records.open = Some(Pending {
            started: now,
            client: a.client.unwrap_or(self.peer),
            method: MethodLabel::of(a.method),
            route: a.route.unwrap_or(Route::Other),
            status: 0,
            text_at,
            lens,
            received: a.head_bytes,
            start: 0,
            end: None,
            head_len: 0,
            number: self.requests,
            count: 1,
        });
    }

    /// Body bytes of the newest request arrived.
    pub fn received(&mut self, n: u64) {
        // Body bytes may still arrive after an early answer (its body is
        // then drained): they belong to the newest request either way.
        if let Some(r) = self.records.as_mut()
            && let Some(p) = r.open.as_mut().or(r.queue.back_mut())
        {
            p.received += n;
        }
    }

    /// The newest request's response was queued: the output held
    /// `pending_before` unsent bytes before it and `pending_after` after it
    /// (None: a streamed body follows, and the response ends when the
    /// output is empty); its head is `head_len` bytes.
    #[inline]
    pub fn queued(&mut self, status: u16, pending_before: usize, pending_after: Option<usize>, head_len: u64) {
        let start = self.position(pending_before);
        let end = pending_after.map(|pending| self.position(pending));
        self.responded(status, start, end, head_len);
    }

    /// Where the next queued byte will sit in the output stream.
    pub(crate) fn position(&self, pending: usize) -> u64 {
        self.sent + pending as u64
    }

    /// The newest request's response was queued: it occupies output
    /// positions `start..end` (`end` None: a streamed body follows), its
    /// head `head_len` of them.
    // Always inlined into `queued`: out of line it cost ~80 instructions
    // per request (callgrind, examples/hotpath.rs).
    #[inline(always)]
    pub(crate) fn responded(&mut self, status: u16, start: u64, end: Option<u64>, head_len: u64) {
        let Some(records) = self.records.as_mut() else { return };
        if records.joining.is_some() {
            // The run is still the last record unless it completed since.
            if let Some(run) = records.queue.back_mut()
                && run.takes(status, start, end)
            {
                run.count += 1;
                run.end = end;
                records.joining = None;
                return;
            }
            // A different answer, or the run is gone: a record of its own.
            if let Some(mut p) = records.joiner(self.peer, self.requests) {
                (p.status, p.start, p.end, p.head_len) = (status, start, end, head_len);
                records.queue.push_back(p);
            }
            return;
        }
        let Some(p) = records.open.as_mut() else { return };
        // Most of a pipelined batch join a run: the open record is then
        // dropped without being written to or moved (a record is ~120
        // bytes, and the next request's record is written over it at once).
        if records.runs
            && let Some(run) = records.queue.back_mut()
            && run.continued_by(p, status, start, end)
        {
            run.count += 1;
            run.end = end;
            records.open = None;
            return;
        }
        (p.status, p.start, p.end, p.head_len) = (status, start, end, head_len);
        records.queue.extend(records.open.take());
    }
}

#[cfg(test)]
mod tests;
