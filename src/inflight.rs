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

/// The time since a start, for the requests one write completed. They
/// mostly share their start (the requests of a pipelined batch arrive in
/// one readiness event), so it is computed once per start, not per request.
struct Elapsed {
    now: Instant,
    last: Option<(Instant, Duration)>,
}

impl Elapsed {
    fn at(now: Instant) -> Elapsed {
        Elapsed { now, last: None }
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
}

#[derive(Debug, Default)]
struct Records {
    /// The connection's id (kept here, not in [`InFlight`], to keep an
    /// idle connection small).
    conn_id: u64,
    queue: VecDeque<Pending>,
    text: Vec<u8>,
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
        self.records.as_ref().and_then(|r| r.queue.back()).is_some_and(|p| p.status == 0)
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
        records.queue.push_back(Pending {
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
        });
    }

    /// Body bytes of the newest request arrived.
    pub fn received(&mut self, n: u64) {
        if let Some(p) = self.records.as_mut().and_then(|r| r.queue.back_mut()) {
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
        if let Some(p) = self.records.as_mut().and_then(|r| r.queue.back_mut())
            && p.status == 0
        {
            (p.status, p.start, p.end, p.head_len) = (status, start, end, head_len);
        }
    }

    /// `n` more bytes were written; `output_empty` if nothing is left to
    /// write. Reports every request whose response is now complete.
    pub fn sent(&mut self, n: usize, output_empty: bool, obs: &mut Observer) {
        self.sent += n as u64;
        let Some(records) = &self.records else { return };
        let sent = self.sent;
        let done = |p: &Pending| p.status != 0 && p.end.map_or(output_empty, |end| end <= sent);
        if !records.queue.front().is_some_and(done) {
            return;
        }
        // One clock read for all the responses this write completed.
        let mut clock = Elapsed::at(Instant::now());
        while let Some(p) = self.records.as_ref().and_then(|r| r.queue.front())
            && done(p)
        {
            let status = p.status;
            self.report_front(status, &mut clock, obs);
        }
        self.release(obs);
    }

    /// The connection ended: whatever is not complete is reported as 499
    /// with the bytes that went out.
    pub fn closed(&mut self, now: Instant, obs: &mut Observer) {
        while self.records.as_ref().is_some_and(|r| !r.queue.is_empty()) {
            self.report_front(CLIENT_GONE, &mut Elapsed::at(now), obs);
        }
        self.release(obs);
    }

    fn report_front(&mut self, status: u16, clock: &mut Elapsed, obs: &mut Observer) {
        let now = clock.now;
        let Some(records) = self.records.as_mut() else { return };
        // Read where it lies, and dropped after: a record is ~120 bytes,
        // and taking it out by value would copy it.
        let Some(p) = records.queue.front() else { return };
        let duration = clock.since(p.started);
        let sent = if p.status == 0 { 0 } else { self.sent.min(p.end.unwrap_or(self.sent)).saturating_sub(p.start) };
        obs.count(|m| {
            m.request(&RequestDone { method: p.method, route: p.route, status, duration });
            if p.route == Route::Files && matches!(status, 200 | 206) && p.method == MethodLabel::Known(Method::Get) {
                m.file_served();
            }
            if p.route == Route::Files && matches!(p.method, MethodLabel::Known(Method::Post | Method::Put)) {
                m.upload(matches!(status, 201 | 204));
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
        records.queue.pop_front();
        // Keep the text store from growing while a pipeline never drains.
        match records.queue.front() {
            None => records.text.clear(),
            Some(next) if next.text_at > TEXT_HIGH_WATER / 2 => {
                let cut = next.text_at;
                records.text.drain(..cut);
                for q in &mut records.queue {
                    q.text_at -= cut;
                }
            }
            Some(_) => {}
        }
    }

    /// Nothing in flight: give the record store back to the loop.
    fn release(&mut self, obs: &mut Observer) {
        if self.records.as_ref().is_some_and(|r| r.queue.is_empty())
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
