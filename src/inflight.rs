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
//! `k × length` after the run's start.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::access_log::format::{MAX_HEADER, MAX_TARGET, MAX_TOKEN};
use crate::access_log::{AccessLog, Entry};
use crate::forwarded::{self, Cidr};
use crate::http::{Head, Method};
use crate::metrics::labels::{MethodLabel, Route};
use crate::metrics::{RequestDone, WorkerMetrics};

/// Status logged for a request whose response did not go out completely.
pub const CLIENT_GONE: u16 = 499;
/// Client text kept per connection before it stops parsing more pipelined
/// requests (like the output mark): memory per connection stays bounded.
pub const TEXT_HIGH_WATER: usize = 64 * 1024;
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

/// A request as it arrived. For one that could not be parsed, the tokens
/// of its first line as far as they go (empty if none).
#[derive(Debug, Default, Clone, Copy)]
pub struct Arrival<'a> {
    pub method: Option<Method>,
    pub route: Option<Route>,
    pub method_text: &'a [u8],
    pub target: &'a [u8],
    pub version: &'a [u8],
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    /// The client behind a trusted proxy (`--trust-proxy`); None: the peer.
    pub client: Option<IpAddr>,
    /// Bytes of the head (request line and header section).
    pub head_bytes: u64,
}

impl<'a> Arrival<'a> {
    /// A parsed head of `len` bytes; `client` as [`Arrival::client`].
    pub fn of(head: &Head<'a>, len: usize, client: Option<IpAddr>) -> Arrival<'a> {
        Arrival {
            method: Some(head.method),
            route: Some(Route::of_path(head.path.as_bytes())),
            method_text: head.method.as_str().as_bytes(),
            target: head.target.as_bytes(),
            version: if head.http11 { b"HTTP/1.1" } else { b"HTTP/1.0" },
            user_agent: head.user_agent,
            referer: head.referer,
            client,
            head_bytes: len as u64,
        }
    }

    /// The tokens of a request line that failed to parse: up to its first
    /// line end, split at the first and last space.
    pub fn unparsed(input: &'a [u8]) -> Arrival<'a> {
        let line_end = input.iter().position(|&b| b == b'\n').unwrap_or(input.len());
        let line = input[..line_end].strip_suffix(b"\r").unwrap_or(&input[..line_end]);
        let (method_text, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let (target, version) = match rest.iter().rposition(|&b| b == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        Arrival { method_text, target, version, ..Arrival::default() }
    }
}

/// What the requests one write completed share. They mostly share their
/// start (the requests of a pipelined batch arrive in one readiness
/// event), so the time since it is computed once per start. They mostly
/// share their labels too, and are counted as one run: a count is a load
/// and a store of one cell, so sixteen counts in a row each wait for the
/// store before; one count of sixteen does not.
struct Completions {
    now: Instant,
    last: Option<(Instant, Duration)>,
    run: Option<(RequestDone, u64)>,
}

impl Completions {
    fn at(now: Instant) -> Completions {
        Completions { now, last: None, run: None }
    }

    fn since(&mut self, started: Instant) -> Duration {
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
    fn count(&mut self, done: RequestDone, n: u64, obs: &Observer) {
        match &mut self.run {
            Some((run, count)) if *run == done => *count += n,
            _ => {
                self.flush(obs);
                self.run = Some((done, n));
            }
        }
    }

    /// Adds the run to the counters: every report ends with this.
    fn flush(&mut self, obs: &Observer) {
        if let Some((run, n)) = self.run.take() {
            obs.count(|m| m.requests(&run, n));
        }
    }
}

#[derive(Debug)]
struct Pending {
    started: Instant,
    /// The peer, or the client a trusted proxy named.
    client: IpAddr,
    method: MethodLabel,
    route: Route,
    /// 0 until the response is queued.
    status: u16,
    /// Client text in `Records::text`: start and the five lengths
    /// (method, target, version, agent, referer); a length of `u16::MAX`
    /// marks an absent header.
    text_at: usize,
    lens: [u16; 5],
    received: u64,
    /// Output positions of the response: its first byte, its end (None:
    /// streamed, ends when the output is empty), and its head's length.
    start: u64,
    end: Option<u64>,
    head_len: u64,
    number: u32,
    /// How many requests this record stands for: more than one only for a
    /// run (module doc), whose responses lie back to back from `start` to
    /// `end`, all as long.
    count: u32,
}

impl Pending {
    /// The length of each of its responses; 0 for a streamed one.
    fn each(&self) -> u64 {
        self.end.map_or(0, |end| (end - self.start) / u64::from(self.count))
    }

    /// How many of this record's requests are complete once `sent` bytes
    /// went out (`output_empty`: nothing else is queued).
    fn complete(&self, sent: u64, output_empty: bool) -> u32 {
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
    fn continued_by(&self, next: &Pending, status: u16, start: u64, end: Option<u64>) -> bool {
        self.status == status
            && self.started == next.started
            && self.method == next.method
            && self.route == next.route
            && self.end == Some(start)
            && end.is_some_and(|end| (end - start) * u64::from(self.count) == start - self.start)
            && self.count < u32::MAX
    }
}

#[derive(Debug, Default)]
struct Records {
    /// The connection's id (kept here, not in [`InFlight`], to keep an
    /// idle connection small).
    conn_id: u64,
    /// The request whose response is not queued yet (its body may still
    /// be arriving). A connection reads no next head before it is answered.
    open: Option<Pending>,
    /// Requests whose responses are queued, in output order.
    queue: VecDeque<Pending>,
    text: Vec<u8>,
    /// No text is kept (the log is off): alike responses may form runs.
    runs: bool,
}

impl Records {
    /// Where the oldest text still needed starts.
    fn text_start(&self) -> Option<usize> {
        self.queue.front().or(self.open.as_ref()).map(|p| p.text_at)
    }
}

const ABSENT: u16 = u16::MAX;

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

    /// The client to log for `head`: behind a `--trust-proxy` peer, the
    /// address its forwarding headers name; None (the peer) otherwise, or
    /// when nothing is logged.
    pub fn client(&self, head: &Head<'_>, trusted: &[Cidr], obs: &Observer) -> Option<IpAddr> {
        if trusted.is_empty() || !obs.log.enabled() {
            return None;
        }
        Some(forwarded::client_addr(self.peer, head.proxy, trusted))
    }

    /// The newest request has no response queued yet (its body is arriving).
    pub fn awaiting_response(&self) -> bool {
        self.records.as_ref().is_some_and(|r| r.open.is_some())
    }

    /// A request arrived (its head is parsed, or failed to parse).
    pub fn begin(&mut self, conn_id: u64, a: &Arrival<'_>, now: Instant, obs: &mut Observer) {
        self.requests = self.requests.wrapping_add(1);
        if !obs.active() {
            return;
        }
        let keep_text = obs.log.enabled();
        let records = self.records.get_or_insert_with(|| obs.spare.pop().unwrap_or_default());
        records.conn_id = conn_id;
        records.runs = !keep_text;
        // One never answered (not expected: every head is answered) stays
        // in the queue unanswered, and is reported 499 when it closes.
        if let Some(unanswered) = records.open.take() {
            records.queue.push_back(unanswered);
        }
        let text_at = records.text.len();
        let mut lens = [ABSENT; 5];
        if keep_text {
            let fields = [
                (Some(a.method_text), MAX_TOKEN),
                (Some(a.target), MAX_TARGET),
                (Some(a.version), MAX_TOKEN),
                (a.user_agent, MAX_HEADER),
                (a.referer, MAX_HEADER),
            ];
            for (len, (value, max)) in lens.iter_mut().zip(fields) {
                if let Some(v) = value {
                    // One byte past the limit tells the formatter to mark the cut.
                    let v = &v[..v.len().min(max + 1)];
                    records.text.extend_from_slice(v);
                    *len = v.len() as u16;
                }
            }
        }
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

    /// Where the next queued byte will sit in the output stream.
    pub fn position(&self, pending: usize) -> u64 {
        self.sent + pending as u64
    }

    /// The newest request's response was queued: it occupies output
    /// positions `start..end` (`end` None: a streamed body follows), its
    /// head `head_len` of them.
    pub fn responded(&mut self, status: u16, start: u64, end: Option<u64>, head_len: u64) {
        let Some(records) = self.records.as_mut() else { return };
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

    /// `n` more bytes were written; `output_empty` if nothing is left to
    /// write. Reports every request whose response is now complete.
    pub fn sent(&mut self, n: usize, output_empty: bool, obs: &mut Observer) {
        self.sent += n as u64;
        let Some(records) = &self.records else { return };
        let sent = self.sent;
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
    pub fn closed(&mut self, now: Instant, obs: &mut Observer) {
        let mut batch = Completions::at(now);
        if let Some(r) = self.records.as_mut()
            && let Some(open) = r.open.take()
        {
            r.queue.push_back(open);
        }
        while let Some(n) = self.records.as_ref().and_then(|r| r.queue.front()).map(|p| p.count) {
            self.report_front(CLIENT_GONE, n, &mut batch, obs);
        }
        batch.flush(obs);
        self.release(obs);
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
        obs.count(|m| {
            let n = u64::from(n);
            if p.route == Route::Files && matches!(status, 200 | 206) && p.method == MethodLabel::Known(Method::Get) {
                m.files_served(n);
            }
            if p.route == Route::Files && matches!(p.method, MethodLabel::Known(Method::Post | Method::Put)) {
                m.uploads(matches!(status, 201 | 204), n);
            }
        });
        // Health checks that pass are counted, not logged: a probe every
        // second would drown the requests that matter.
        let quiet = p.route == Route::Healthz && status == 200;
        if obs.log.enabled() && !quiet {
            let mut at = p.text_at;
            let mut field = |i: usize| {
                let len = p.lens[i];
                if len == ABSENT {
                    return None;
                }
                let v = &records.text[at..at + usize::from(len)];
                at += usize::from(len);
                Some(v)
            };
            let (method, target, version) = (field(0), field(1), field(2));
            let (user_agent, referer) = (field(3), field(4));
            let entry = Entry {
                peer: p.client,
                method: method.unwrap_or_default(),
                target: target.unwrap_or_default(),
                version: version.unwrap_or_default(),
                status,
                bytes_sent: sent,
                body_bytes_sent: sent.saturating_sub(p.head_len),
                bytes_received: p.received,
                duration,
                user_agent,
                referer,
                conn_id: records.conn_id,
                request_no: u64::from(p.number),
            };
            obs.log.write(&entry, now);
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
        // Keep the text store from growing while a pipeline never drains.
        match records.text_start() {
            None => records.text.clear(),
            Some(cut) if cut > TEXT_HIGH_WATER / 2 => {
                records.text.drain(..cut);
                for q in records.queue.iter_mut().chain(records.open.as_mut()) {
                    q.text_at -= cut;
                }
            }
            Some(_) => {}
        }
    }

    /// Nothing in flight: give the record store back to the loop.
    fn release(&mut self, obs: &mut Observer) {
        if self.records.as_ref().is_some_and(|r| r.queue.is_empty() && r.open.is_none())
            && let Some(mut r) = self.records.take()
            && obs.spare.len() < SPARE_RECORDS
            && r.text.capacity() <= 2 * TEXT_HIGH_WATER
        {
            r.text.clear();
            obs.spare.push(r);
        }
    }
}

#[cfg(test)]
mod tests;
