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
}
