//! The connection's states, the edges between them (the labels of the
//! diagram in the module doc), why a connection closed, and
//! [`Conn::transition`]: the one place the state changes.

use super::Conn;
use super::exchange::{Committing, Receiving};
use crate::close_reason::CloseReason;

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
    /// (Always inlined: it runs for every request.)
    #[inline(always)]
    pub(super) fn transition(&mut self, to: State, edge: Edge) {
        log::trace!(conn = self.id, from = self.state.name(), to = to.name(), edge = edge.as_str(); "transition");
        #[cfg(test)]
        self.trail.push((self.state.name(), edge, to.name()));
        self.state = to;
    }
}
