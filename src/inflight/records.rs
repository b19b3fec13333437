//! What is kept per request until its response is out: a [`Pending`]
//! record, in a connection's [`Records`].

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

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
    /// Client text in `Records::text`: start and the five lengths
    /// (method, target, version, agent, referer); a length of `u16::MAX`
    /// marks an absent header.
    pub(super) text_at: usize,
    pub(super) lens: [u16; 5],
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
    pub(super) conn_id: u64,
    /// The request whose response is not queued yet (its body may still
    /// be arriving). A connection reads no next head before it is answered.
    pub(super) open: Option<Pending>,
    /// Requests whose responses are queued, in output order.
    pub(super) queue: VecDeque<Pending>,
    pub(super) text: Vec<u8>,
    /// No text is kept (the log is off): alike responses may form runs.
    pub(super) runs: bool,
    /// The newest request is like the run last queued (same start, method
    /// and route) and has no record of its own: the usual pipelined
    /// request joins the run without one being written. Its response
    /// decides: alike, it joins; otherwise [`Records::joiner`] gives it one.
    /// Its labels are kept: the run may complete and leave the queue
    /// before the response is queued (a request body still arriving).
    pub(super) joining: Option<Joiner>,
}

/// What the counters need of a [`Records::joining`] request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Joiner {
    pub(super) started: Instant,
    pub(super) method: MethodLabel,
    pub(super) route: Route,
}

impl Records {
    /// The record of the request that was [`Records::joining`] (if one
    /// was): its labels, request number `number`, nothing queued yet. Only
    /// runs join, and runs form only with the log off, so the text, head
    /// bytes and client that only the log shows are left out.
    pub(super) fn joiner(&mut self, peer: IpAddr, number: u32) -> Option<Pending> {
        let j = self.joining.take()?;
        Some(Pending {
            started: j.started,
            client: peer,
            method: j.method,
            route: j.route,
            status: 0,
            text_at: self.text.len(),
            lens: [super::text::ABSENT; 5],
            received: 0,
            start: 0,
            end: None,
            head_len: 0,
            number,
            count: 1,
        })
    }
}
