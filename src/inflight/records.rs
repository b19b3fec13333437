//! What is kept per request until its response is out: a [`Pending`]
//! record, in a connection's [`Records`].

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use crate::access_log::Kept;
use crate::metrics::labels::{MethodLabel, Route};

#[derive(Debug)]
pub(super) struct Pending {
    pub(super) started: Instant,
    /// The peer, or the client a trusted proxy named.
    pub(super) client: IpAddr,
    pub(super) method: MethodLabel,
    pub(super) route: Route,
    /// 0 until the response is queued.
    pub(super) status: u16,
    /// The access-log line's kept half in `Records::text`: where it
    /// starts, and its pieces (empty with the log off).
    pub(super) text_at: usize,
    pub(super) kept: Kept,
    pub(super) received: u64,
    /// Output positions of the response: its first byte, its end (None:
    /// streamed, ends when the output is empty), and its head's length.
    pub(super) start: u64,
    pub(super) end: Option<u64>,
    pub(super) head_len: u64,
    pub(super) number: u32,
    /// How many requests this record stands for: more than one only for a
    /// run (module doc), whose responses lie back to back from `start` to
    /// `end`, all as long.
    pub(super) count: u32,
}

#[derive(Debug, Default)]
pub(super) struct Records {
    /// The connection's id (kept here, not in [`InFlight`], to keep an
    /// idle connection small).
    ///
    /// [`InFlight`]: super::InFlight
    pub(super) conn_id: u64,
    /// Requests in output order: those whose responses are queued, then,
    /// if the newest is [`Newest::Open`], it, not answered yet.
    pub(super) queue: VecDeque<Pending>,
    /// The newest request, while its response is not queued yet. One
    /// field, not three (an open record, a joiner, a request joining the
    /// tail exclude each other): a pipelined arrival checks it with one
    /// comparison (callgrind, examples/hotpath.rs).
    pub(super) newest: Newest,
    pub(super) text: Vec<u8>,
    /// No text is kept (the log is off): alike responses may form runs.
    pub(super) runs: bool,
    /// With the log off, the run answered last, after the queue, as alike
    /// answers join it (see [`Tail`]).
    pub(super) tail: Option<Tail>,
}

/// Where the newest request stands while its response is not queued yet.
/// A connection reads no next head before the newest is answered.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum Newest {
    /// Answered (or none yet).
    #[default]
    Answered,
    /// The queue's last record is the newest request (status 0; its body
    /// may still be arriving).
    Open,
    /// With the log off: alike the run's tail (same start, method and
    /// route), so its labels are the tail's and nothing of it is written;
    /// its answer decides whether it joins. Should the tail become a
    /// record or be reported whole first, it becomes a
    /// [`Newest::Joiner`] (`settle_joining`).
    Joining,
    /// With the log off: by its labels alone, no record written at
    /// arrival. Its response decides: alike the run queued last (same
    /// start, method, route, status and length), it joins it; otherwise it
    /// gets a record.
    Joiner(Joiner),
}

/// The run queued last, with the log off, as alike answers join it: not a
/// record in the queue but after it (the requests in flight are the
/// queue's, then the tail's). Each answer is compared with and counted in
/// these few fields, and the usual pipelined batch, all alike, is reported
/// from here when its write completes, with no record written at all
/// ([`InFlight::sent`]). It becomes a record ([`Records::materialize_tail`])
/// when a record must follow it, or when the queue has to be reported.
///
/// [`InFlight::sent`]: super::InFlight::sent
#[derive(Debug, Clone, Copy)]
pub(super) struct Tail {
    pub(super) started: Instant,
    pub(super) method: MethodLabel,
    pub(super) route: Route,
    pub(super) status: u16,
    /// Each response's length.
    pub(super) each: u64,
    /// Where the run's first response not yet reported starts, and where
    /// the run ends, in the output.
    pub(super) start: u64,
    pub(super) end: u64,
    /// The run's requests not yet reported.
    pub(super) count: u32,
}

impl Tail {
    /// A request like this run's (same start, method and route).
    #[inline(always)]
    pub(super) fn alike(&self, j: &Joiner) -> bool {
        self.started == j.started && self.method == j.method && self.route == j.route
    }

    /// The answer to a request [`Tail::alike`], with `status` at output
    /// positions `start..end`, is one more of this run: its status, and
    /// it follows the run's last, as long as each.
    #[inline(always)]
    pub(super) fn takes(&self, status: u16, start: u64, end: Option<u64>) -> bool {
        self.status == status && self.end == start && end == Some(start + self.each)
        // `count` cannot overflow: it counts responses not yet reported,
        // all queued in the output, which holds at most about
        // `OUT_HIGH_WATER` (64 KiB) before parsing stops.
    }

    /// How many of its requests are complete once `sent` bytes went out.
    #[inline(always)]
    pub(super) fn complete(&self, sent: u64) -> u32 {
        if self.end <= sent {
            return self.count;
        }
        // Part of the run: only whole responses count.
        u32::try_from(sent.saturating_sub(self.start) / self.each.max(1)).unwrap_or(0)
    }
}

/// What the counters need of a [`Newest::Joiner`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Joiner {
    pub(super) started: Instant,
    pub(super) method: MethodLabel,
    pub(super) route: Route,
}

impl Joiner {
    /// Its record: its labels, request number `number`, nothing queued
    /// yet. Joiners exist only with the log off, so the text, head bytes
    /// and client that only the log shows are left out (`text_at` is where
    /// the text store ends).
    pub(super) fn record(&self, peer: IpAddr, number: u32, text_at: usize) -> Pending {
        Pending {
            started: self.started,
            client: peer,
            method: self.method,
            route: self.route,
            status: 0,
            text_at,
            kept: Kept::default(),
            received: 0,
            start: 0,
            end: None,
            head_len: 0,
            number,
            count: 1,
        }
    }
}

impl Records {
    /// A request [`Newest::Joining`] the tail keeps its labels as a
    /// [`Newest::Joiner`]: the tail is about to go.
    pub(super) fn settle_joining(&mut self) {
        if let Newest::Joining = self.newest {
            self.newest = match &self.tail {
                Some(t) => Newest::Joiner(Joiner { started: t.started, method: t.method, route: t.route }),
                None => Newest::Answered,
            };
        }
    }

    /// The joiner, if any, gets its own record, unanswered (the
    /// connection ends, or, not expected, a next request arrives first);
    /// `number` is its request number. An open record stays as it stands.
    pub(super) fn settle_joiner(&mut self, peer: IpAddr, number: u32) {
        self.settle_joining();
        if let Newest::Joiner(j) = std::mem::take(&mut self.newest) {
            self.materialize_tail(peer);
            let p = j.record(peer, number, self.text.len());
            self.queue.push_back(p);
        }
    }

    /// The [`Tail`], if any, becomes the queue's last record: a record is
    /// to follow it, or the queue is to be reported as a whole. Runs form
    /// only with the log off, so what only the log shows is left out.
    #[inline(always)]
    pub(super) fn materialize_tail(&mut self, peer: IpAddr) {
        if self.tail.is_some() {
            self.push_tail(peer);
        }
    }

    /// [`Records::materialize_tail`] when there is a tail. (Out of line:
    /// most calls find none, a keep-alive request's always.)
    #[inline(never)]
    fn push_tail(&mut self, peer: IpAddr) {
        self.settle_joining();
        if let Some(t) = self.tail.take() {
            let p = Pending {
                started: t.started,
                client: peer,
                method: t.method,
                route: t.route,
                status: t.status,
                text_at: self.text.len(),
                kept: Kept::default(),
                received: 0,
                start: t.start,
                end: Some(t.end),
                head_len: 0,
                number: 0,
                count: t.count,
            };
            self.queue.push_back(p);
        }
    }
}
