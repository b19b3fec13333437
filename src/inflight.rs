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
//! `k × length` after the run's start. With the log off, a request does
//! not even get a record at arrival, only its labels are noted
//! ([`InFlight::arrived`]): its response joins the run answered last if
//! it is alike, or starts a run of its own. The newest run is not a
//! record either, but a few fields after the queue (its tail), so the
//! usual pipelined batch, all alike, is counted when its write completes
//! without a record ever being written; it becomes one only when another
//! must follow it.
//!
//! The connection reports through three calls, in the order things
//! happen to a request: [`InFlight::arrived`] (a head, parsed or not, and
//! then its body's bytes), [`InFlight::queued`] (its response is in the
//! output) and [`InFlight::sent`] (bytes went out; or the connection
//! ended, and nothing more will).
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

pub use arrival::{Arrival, Arrived, ParsedHead};
pub use observer::Observer;
use records::{Joiner, Newest, Pending, Records, Tail};
pub use report::Progress;

use crate::access_log::Kept;
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

    /// The connection's peer, as accepted.
    pub fn peer(&self) -> IpAddr {
        self.peer
    }

    /// Too much client text is held for unfinished responses: parse no
    /// more requests until some complete.
    pub fn is_full(&self) -> bool {
        self.records.as_ref().is_some_and(|r| r.text.len() >= TEXT_HIGH_WATER)
    }

    /// The newest request has no response queued yet (its body is arriving).
    pub fn awaiting_response(&self) -> bool {
        self.records.as_ref().is_some_and(|r| !matches!(r.newest, Newest::Answered))
    }

    /// What the client sent arrived: a head (parsed, or one that failed
    /// to parse), or body bytes of the newest request. A head's record
    /// names, behind a `--trust-proxy` peer, the client the forwarding
    /// headers give. This runs per request, sixteen times per read in a
    /// pipelined batch, so with only metrics counting (the log off) a
    /// parsed head takes a short way: its labels are noted (`note`), with
    /// no [`Arrival`] or record made; with neither log nor metrics nothing
    /// is made at all. (Always inlined,
    /// the unusual arms out of line: a call here cost 36 instructions per
    /// request with nothing followed, callgrind, examples/hotpath.rs.)
    #[inline(always)]
    pub fn arrived(&mut self, conn_id: u64, what: Arrived<'_, '_>, obs: &mut Observer) {
        match what {
            Arrived::Head { parsed: ParsedHead { head, len, route }, started, trusted } => {
                if !obs.log.enabled() {
                    self.requests = self.requests.wrapping_add(1);
                    if obs.metrics.is_some() {
                        self.note(conn_id, Joiner { started, method: MethodLabel::Known(head.method), route }, obs);
                    }
                    return;
                }
                let client = self.client(head.proxy, trusted, obs);
                self.begin(conn_id, &Arrival::of(head, len, route, client), started, obs);
            }
            Arrived::Unparsed { input, started } => self.unparsed(conn_id, input, started, obs),
            Arrived::Body(n) => self.received(n),
        }
    }

    /// With the log off: a parsed request's labels are noted, and its
    /// response decides whether it joins the run queued last
    /// ([`InFlight::responded`]); no record is written for it before.
    #[inline(always)]
    fn note(&mut self, conn_id: u64, labels: Joiner, obs: &mut Observer) {
        let records = match self.records.as_mut() {
            Some(r) => r,
            None => {
                let r = self.records.insert(obs.take_records());
                (r.conn_id, r.runs) = (conn_id, true);
                r
            }
        };
        if !matches!(records.newest, Newest::Answered) {
            // Not expected: every head is answered before the next is read.
            records.settle_joiner(self.peer, self.requests.wrapping_sub(1));
        }
        // Like the run's tail, the usual pipelined request: nothing to note.
        match &records.tail {
            Some(t) if t.alike(&labels) => records.newest = Newest::Joining,
            _ => records.newest = Newest::Joiner(labels),
        }
    }

    /// Input that failed to parse arrived (see [`Arrived::Unparsed`]).
    #[inline(never)]
    fn unparsed(&mut self, conn_id: u64, input: &[u8], started: Instant, obs: &mut Observer) {
        let arrival = Arrival { head_bytes: input.len() as u64, ..Arrival::unparsed(input) };
        self.begin(conn_id, &arrival, started, obs);
    }

    /// A request arrived (its head is parsed, or failed to parse): its
    /// record is the queue's last, open until its response is queued.
    #[inline(never)]
    fn begin(&mut self, conn_id: u64, a: &Arrival<'_>, now: Instant, obs: &mut Observer) {
        self.requests = self.requests.wrapping_add(1);
        if !obs.active() {
            return;
        }
        let keep_text = obs.log.enabled();
        let records = self.records.get_or_insert_with(|| obs.take_records());
        records.conn_id = conn_id;
        records.runs = !keep_text;
        // One never answered (not expected: every head is answered) stays
        // in the queue unanswered (status 0), and is reported 499 when the
        // connection ends. (The newest is checked here first: the usual
        // request finds it answered, and the call cost ~26 instructions a
        // request with the log on, callgrind, examples/hotpath.rs.)
        if !matches!(records.newest, Newest::Answered) {
            records.settle_joiner(self.peer, self.requests.wrapping_sub(1));
        }
        // The open record goes last: the run before it grows no more.
        records.materialize_tail(self.peer);
        let (text_at, kept) = if keep_text {
            records.keep_text(a, self.requests, &mut obs.log)
        } else {
            (records.text.len(), Kept::default())
        };
        // Written where it stays: a record is ~120 bytes, and moving it
        // into the queue later would copy it.
        records.queue.push_back(Pending {
            started: now,
            client: a.client.unwrap_or(self.peer),
            method: MethodLabel::of(a.method()),
            route: a.route.unwrap_or(Route::Other),
            status: 0,
            text_at,
            kept,
            received: a.head_bytes,
            start: 0,
            end: None,
            head_len: 0,
            number: self.requests,
            count: 1,
        });
        records.newest = Newest::Open;
    }

    /// Body bytes of the newest request arrived.
    #[inline(never)]
    fn received(&mut self, n: u64) {
        // Body bytes may still arrive after an early answer (its body is
        // then drained): they belong to the newest request either way.
        // (A joiner has no record: its bytes only the log would show.)
        if let Some(r) = self.records.as_mut()
            && matches!(r.newest, Newest::Answered | Newest::Open)
            && let Some(p) = r.queue.back_mut()
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

    /// The answer to the joiner `j` is not alike the run answered last:
    /// that run is done growing, and this answer starts one of its own (a
    /// streamed response, whose end is not known, a record). (Inlined:
    /// out of line it cost a keep-alive request, which starts a run each
    /// time, ~38 instructions, callgrind, examples/hotpath.rs.)
    #[inline(always)]
    fn start_run(&mut self, j: Joiner, status: u16, start: u64, end: Option<u64>, head_len: u64) {
        let Some(records) = self.records.as_mut() else { return };
        records.materialize_tail(self.peer);
        match end {
            Some(end) => {
                let (started, method, route) = (j.started, j.method, j.route);
                let each = end - start;
                records.tail = Some(Tail { started, method, route, status, each, start, end, count: 1 });
            }
            None => {
                let p = j.record(self.peer, self.requests, records.text.len());
                records.queue.push_back(Pending { status, start, end, head_len, ..p });
            }
        }
    }

    /// The newest request's response was queued: it occupies output
    /// positions `start..end` (`end` None: a streamed body follows), its
    /// head `head_len` of them.
    // Always inlined into `queued`: out of line it cost ~80 instructions
    // per request (callgrind, examples/hotpath.rs).
    #[inline(always)]
    pub(crate) fn responded(&mut self, status: u16, start: u64, end: Option<u64>, head_len: u64) {
        let Some(records) = self.records.as_mut() else { return };
        // The usual case first, by itself: a match on the whole field
        // decodes all its variants and reads a joiner's labels each time.
        if let Newest::Joining = records.newest {
            records.newest = Newest::Answered;
            // The tail is still there: it goes only after `settle_joining`.
            let Some(t) = records.tail.as_mut() else { return };
            if t.takes(status, start, end) {
                t.count += 1;
                t.end += t.each;
                return;
            }
            let j = Joiner { started: t.started, method: t.method, route: t.route };
            self.start_run(j, status, start, end, head_len);
            return;
        }
        match std::mem::take(&mut records.newest) {
            Newest::Joiner(j) => {
                // Alike: one more of the run answered last.
                if let Some(t) = records.tail.as_mut()
                    && t.alike(&j)
                    && t.takes(status, start, end)
                {
                    t.count += 1;
                    t.end += t.each;
                    return;
                }
                self.start_run(j, status, start, end, head_len);
                return;
            }
            // (`Joining` was answered just above.)
            Newest::Answered | Newest::Joining => return,
            Newest::Open => {}
        }
        let last = records.queue.len() - 1;
        // The open record is answered where it lies; most of a pipelined
        // batch joined the run at arrival, so this runs for the first of
        // a batch (or a request whose arrival could not join).
        let p = &mut records.queue[last];
        (p.status, p.start, p.end, p.head_len) = (status, start, end, head_len);
        if records.runs && last > 0 && records.queue[last - 1].continued_by(&records.queue[last], status, start, end) {
            let run = &mut records.queue[last - 1];
            run.count += 1;
            run.end = end;
            records.queue.pop_back();
        }
    }
}

#[cfg(test)]
mod tests;
