//! The connection's states and what the body and commit states hold
//! (`Receiving`, `Committing`, `ReqInfo`), the edges between them (the
//! labels of the diagram in the module doc), and [`Conn::transition`]: the
//! one place the state changes. A leaf among `conn/`'s files: the others
//! build on it, it uses none of them.

use std::time::{Duration, Instant};

use super::Conn;
use crate::close_reason::CloseReason;
use crate::files::Upload;
use crate::http::{BodyDecoder, Head, Method, Response};

#[derive(Debug)]
pub(super) enum State {
    /// Waiting for, or parsing, a request head.
    Head,
    /// Receiving a request body into its sink.
    Body(Box<Receiving>),
    /// An upload's body is all in; its commit runs in the blocking-I/O
    /// pool. Nothing more is read or parsed until it is done.
    Commit(Committing),
    /// Sending what is queued before doing anything else.
    Drain(AfterDrain),
    /// Error sent, write side shut: reading and dropping input until EOF
    /// or the deadline, so the client reads our status instead of a reset.
    /// Then closed for the reason it holds.
    Linger(CloseReason),
    Closed(CloseReason),
}

/// Where `Drain` goes once the output is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterDrain {
    NextRequest,
    Close(CloseReason),
    Linger(CloseReason),
}

impl State {
    /// The state's name as the diagram and the trace log show it.
    pub(super) fn name(&self) -> &'static str {
        match self {
            State::Head => "Head",
            State::Body(_) => "Body",
            State::Commit(_) => "Commit",
            State::Drain(AfterDrain::NextRequest) => "Drain(NextRequest)",
            State::Drain(AfterDrain::Close(_)) => "Drain(Close)",
            State::Drain(AfterDrain::Linger(_)) => "Drain(Linger)",
            State::Linger(_) => "Linger",
            State::Closed(_) => "Closed",
        }
    }
}

#[derive(Debug)]
pub(super) struct Receiving {
    pub decoder: BodyDecoder,
    pub sink: Sink,
    /// Body bytes so far (payload, without chunk framing).
    pub received: u64,
    /// When the body began: the minimum rate is an average from here.
    pub started: Instant,
    pub req: ReqInfo,
    pub keep_alive: bool,
}

impl Receiving {
    /// When the average rate since the body began falls below
    /// `min_rate` bytes/s if nothing more arrives, never before `grace`
    /// has passed (mod_reqtimeout's `MinRate`). None if `min_rate` is 0.
    pub fn rate_deadline(&self, min_rate: u64, grace: Duration) -> Option<Instant> {
        if min_rate == 0 {
            return None;
        }
        let earned = Duration::from_secs_f64(self.received as f64 / min_rate as f64);
        self.started.checked_add(earned.max(grace))
    }
}

#[derive(Debug)]
pub(super) enum Sink {
    /// The route does not use the body: it is read and dropped, and this
    /// answer, decided from the head, is queued once the body is all in.
    Discard(Response<'static>),
    /// Streamed into the file; answered once it is committed.
    Upload(Upload),
}

/// An upload whose body is all in, waiting for its commit (in the
/// blocking-I/O pool): what its answer needs then.
#[derive(Debug, Clone, Copy)]
pub(super) struct Committing {
    pub req: ReqInfo,
    pub keep_alive: bool,
}

/// What serialising a response needs to know of its request.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReqInfo {
    pub method: Method,
    pub http11: bool,
}

impl ReqInfo {
    pub fn of(head: &Head<'_>) -> ReqInfo {
        ReqInfo { method: head.method, http11: head.http11 }
    }

    /// For answers to requests that could not be parsed.
    pub const UNKNOWN: ReqInfo = ReqInfo { method: Method::Get, http11: true };
}

/// Why a state changed: the labels on the arrows of the state diagram in
/// the module doc, one variant per label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Head → Head: a response is queued; keep-alive, nothing to stream.
    Answered,
    /// Head → Drain: a response is queued that must be out before the next
    /// request (a file streams behind it, or the connection closes after it).
    SendFirst,
    /// Head → Body: the body is wanted (an upload), or read and dropped
    /// before the answer that waits for it.
    BodyWanted,
    /// Body → Head, Drain(NextRequest) when a file follows the answer, or
    /// Drain(Close) without keep-alive: the whole body is in, and answered;
    /// Body → Commit: an upload's whole body is in, its commit handed over.
    BodyDone,
    /// Commit → Head, Drain(Close) or Drain(Linger) without keep-alive:
    /// the commit is done (or failed: 500), and answered.
    Committed,
    /// Head, Body → Drain(Linger): a request error; its status is queued.
    RequestError,
    /// Drain → Head, Closed or Linger (write side shut): the output is out.
    Drained,
    /// Head, Body → Drain(Close), or Closed if nothing is queued; Linger →
    /// Closed: the client sent EOF.
    PeerEof,
    /// The deadline passed: Head, Body → Drain(Linger) with a 408 when a
    /// request is half-received and nothing of its response is out; any
    /// state → Closed otherwise.
    Deadline,
    /// Any → Closed: a read or write failed (a reset, most often).
    IoError,
}

impl Edge {
    /// Every edge, for the diagram test to compare with the picture.
    #[cfg(test)]
    pub const ALL: [Edge; 10] = [
        Edge::Answered,
        Edge::SendFirst,
        Edge::BodyWanted,
        Edge::BodyDone,
        Edge::Committed,
        Edge::RequestError,
        Edge::Drained,
        Edge::PeerEof,
        Edge::Deadline,
        Edge::IoError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Edge::Answered => "answered",
            Edge::SendFirst => "send-first",
            Edge::BodyWanted => "body-wanted",
            Edge::BodyDone => "body-done",
            Edge::Committed => "committed",
            Edge::RequestError => "request-error",
            Edge::Drained => "drained",
            Edge::PeerEof => "peer-eof",
            Edge::Deadline => "deadline",
            Edge::IoError => "io-error",
        }
    }
}

/// The read side of the socket, as readiness events and reads left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadSide {
    /// Drained: wait for the next readable edge.
    Idle,
    /// Edge-triggered readiness: the socket may hold unread bytes.
    Ready,
    /// The event said the peer shut its side: read until EOF even after a
    /// short read, since no further edge will announce it.
    HupSeen,
    /// EOF read: the client will send nothing more.
    Eof,
}

impl ReadSide {
    /// A read may give bytes (or the EOF) now.
    pub fn may_read(self) -> bool {
        matches!(self, ReadSide::Ready | ReadSide::HupSeen)
    }
}

impl Conn {
    /// Every state change goes through here, labelled with its edge.
    /// Returns the state left, for what it still holds (an upload to
    /// commit). (Always inlined: it runs for every request.)
    #[inline(always)]
    pub(super) fn transition(&mut self, to: State, edge: Edge) -> State {
        log::trace!(conn = self.id, from = self.state.name(), to = to.name(), edge = edge.as_str(); "transition");
        #[cfg(test)]
        self.trail.push((self.state.name(), edge, to.name()));
        std::mem::replace(&mut self.state, to)
    }
}
