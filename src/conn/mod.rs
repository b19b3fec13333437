//! One connection: an explicit state machine over any [`Transport`], so it
//! runs the same over a mio socket and over an in-memory stream in tests.
//!
//! ```text
//!                       accept
//!                         │
//!             answered    ▼         send-first
//!            ┌───────── Head ─────────────────────────► Drain(NextRequest)
//!            └────────►  │  ▲ ◄──────── drained ────────────────┘
//!                        │  │
//!            body-wanted │  │ body-done
//!                        ▼  │
//!                        Body ── body-done (no keep-alive) ──► Drain(Close)
//!                                                              or Drain(Linger)
//!   body-done, when a file follows the answer: Body ──► Drain(NextRequest)
//!   body-done, an upload: Body ──► Commit ── committed ──► Head, or without
//!                  keep-alive Drain(Close) or Drain(Linger). In Commit the
//!                  upload's fsync and rename run in the blocking-I/O pool
//!                  (`crate::blocking`); nothing is read, and no clock runs
//!                  (the pool always answers); `Conn::on_done` moves on.
//!
//!   send-first, when the answer closes: Head ──► Drain(Close), or Drain(Linger)
//!                  if the client may already be sending more (not to reset it)
//!   Drain(Close)  ── drained ──► Closed
//!   Drain(Linger) ── drained (write side shut) ──► Linger ── peer-eof ──► Closed
//!                                                          └─ deadline ─► Closed
//!   request-error: Head, Body ──► Drain(Linger), its status queued
//!   peer-eof:      Head, Body ──► Drain(Close), or Closed if nothing is queued
//!   deadline:      Head, Body ──► Drain(Linger) with a 408 when nothing of the
//!                  answer is out yet; otherwise Head, Body, any Drain ──► Closed
//!   io-error:      any state ──► Closed
//! ```
//!
//! The labels are the variants of [`Edge`]; every change of state goes
//! through `Conn::transition(to, edge)` (in `state.rs`), which traces it
//! (`--log-level trace`). `diagram_tests.rs` walks every arrow. A closed
//! connection carries its [`CloseReason`].
//!
//! `impl Conn` is split over the files of this module by concern:
//!
//! | file          | holds |
//! |---------------|-------|
//! | `mod.rs`      | the struct, and what the loop calls: `on_ready`, `resume`, `on_done`, `on_timeout`, `want` (interest), `deadline` (time) |
//! | `state.rs`    | `State` and what its body and commit states hold, [`Edge`], the read side, and `transition` (the leaf: it uses no other file here) |
//! | `steps.rs`    | `advance`: the write step and the read step around `process`, until nothing moves |
//! | `process.rs`  | `process`: parsing and answering buffered input; request errors (`fail`) |
//! | `exchange.rs` | one request → response: routing, the keep-alive decision, serialising |
//! | `buffers.rs`  | the input and output byte queues and the I/O loops that fill and drain them |
//! | `source.rs`   | a file body behind its head: `sendfile`, or gzip as it is sent |
//!
//! Output is a byte queue plus at most one `source::Source`: a file sent
//! with `sendfile`, or one gzip-compressed as it goes. Small responses to
//! pipelined requests (small files included: they are read into the queue)
//! are appended and written with one call; a source stops parsing (`Drain`)
//! until it is out, which keeps responses in order. Interest follows from
//! the state in one function, [`Conn::want`]; the time limit likewise from
//! [`Conn::deadline`].

mod buffers;
mod exchange;
mod process;
mod source;
mod state;
mod steps;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

pub use crate::close_reason::CloseReason;
use buffers::{Input, Output, WriteSide};
pub use state::Edge;
use state::{ReadSide, State};

use crate::blocking::Done;
use crate::context::Context;
use crate::error::HttpError;
use crate::inflight::{InFlight, Progress};
use crate::routes::Face;

/// Stop parsing pipelined requests once this much output is queued, and
/// stop reading until it drains: per-connection memory stays bounded.
pub const OUT_HIGH_WATER: usize = 64 * 1024;
/// Most reads per readiness event before yielding to other connections.
pub const MAX_READS_PER_EVENT: usize = 16;
/// Most bytes sent per readiness event (a fast reader must not starve
/// others): one `sendfile` piece. With 4 MiB, 64 concurrent downloads of
/// 10 MiB had a p99 of 1.3-1.6 s against a median of 0.2 s; with 1 MiB,
/// 0.6 s, at the same throughput (docs/PERFORMANCE.md, large files).
pub const MAX_SEND_PER_EVENT: usize = 1 << 20;

/// Most requests one connection answers per turn (an event, or a resume
/// after yielding) before the others that are ready get theirs: a client
/// pipelining thousands of small requests is served 32 at a time, never
/// all at once. wrk's pipelined benchmark sends 16 per write, which stays
/// within one turn, so the budget costs it nothing; nginx answers one
/// pipelined request per turn and posts the rest (its posted events).
/// Measured in docs/ARCHITECTURE.md, section 8.
pub const MAX_REQUESTS_PER_TURN: usize = 32;
/// Longest a turn goes on answering requests, counted from the pass's
/// clock and checked every 8 requests (`steps.rs`): requests that cost
/// more than the usual few microseconds (a `/metrics` page, files opened
/// cold, uploads committed in place without a pool) end the turn early.
/// Measured in docs/ARCHITECTURE.md, section 8.
pub const MAX_TURN_TIME: Duration = Duration::from_millis(1);

/// A byte stream the connection reads and writes: a socket in the server,
/// an in-memory stream in tests.
pub trait Transport: Read + Write {
    /// Sends `len` bytes of `file` from `offset`; returns how many went out.
    /// The default reads into a stack buffer; sockets override it with `sendfile`.
    // Never inlined, as `GzipStream::refill`: its 16 KiB buffer would
    // otherwise sit in the frame of every turn over an in-memory stream
    // (`examples/hotpath.rs` measured it so, the server does not).
    #[inline(never)]
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let want = len.min(chunk.len());
        let n = file.read_at(&mut chunk[..want], offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.write(&chunk[..n])
    }

    /// Reads what is there into `buf` (`Read::read`); sockets override it
    /// with a bare `recv` system call (see [`crate::sys::recv`] for why).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }

    /// Writes what the socket takes of `buf` (`Write::write`); sockets
    /// override it with a bare `send` system call.
    fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }

    /// Writes bytes that more will follow at once (a head before its file
    /// body); sockets pass `MSG_MORE` so both can share a segment.
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }

    /// Holds partial segments back (`on`) while a large file goes out, and
    /// sends what is held (`off`); sockets set `TCP_CORK`, as nginx's
    /// `tcp_nopush`. See [`buffers::CORK_MIN`] for why.
    fn cork(&mut self, _on: bool) -> io::Result<()> {
        Ok(())
    }

    /// Half-closes: the peer sees EOF after the queued bytes.
    fn shutdown_write(&mut self) -> io::Result<()>;
}

/// What the connection wants to be told about next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub read: bool,
    pub write: bool,
}

#[derive(Debug)]
pub struct Conn {
    /// This connection's serial number in its loop (`#ID` in the logs).
    id: u64,
    state: State,
    input: Input,
    out: Output,
    read: ReadSide,
    /// When the current request head began arriving.
    head_started: Option<Instant>,
    /// Nothing received since accept: the header timeout runs from then
    /// (a client that connects and says nothing is not an idle keep-alive
    /// client, which has earned the longer wait with a request).
    silent: bool,
    /// Last read or write progress: the idle, body and write clocks.
    last_progress: Instant,
    /// Work left undone to be fair to others: call [`Conn::resume`] soon.
    yielded: bool,
    /// Requests whose responses are not all out yet: the access log and
    /// the request metrics are written when they are.
    inflight: InFlight,
    /// The listener it came through (which routes it sees).
    face: Face,
    /// Every transition as (from, edge, to), for the tests that walk the diagram.
    #[cfg(test)]
    trail: Vec<(&'static str, Edge, &'static str)>,
}

impl Conn {
    /// A connection for tests: no peer address, the public routes.
    pub fn new(id: u64, now: Instant) -> Conn {
        Conn::accepted(id, now, IpAddr::V4(Ipv4Addr::UNSPECIFIED), Face::Public)
    }

    /// A connection accepted from `peer` on the `face` listener.
    pub fn accepted(id: u64, now: Instant, peer: IpAddr, face: Face) -> Conn {
        Conn {
            id,
            state: State::Head,
            input: Input::default(),
            out: Output::default(),
            read: ReadSide::Idle,
            head_started: None,
            silent: true,
            last_progress: now,
            yielded: false,
            inflight: InFlight::new(peer),
            face,
            #[cfg(test)]
            trail: Vec::new(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The peer's IP, as accepted.
    pub fn peer(&self) -> IpAddr {
        self.inflight.peer()
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Why the connection closed; `None` while it is open.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.state {
            State::Closed(why) => Some(why),
            _ => None,
        }
    }

    /// The loop lets go of the connection (it closed, or the loop stops):
    /// requests whose responses did not go out completely are reported
    /// (status 499), and a close is counted by its reason.
    pub fn finish(&mut self, cx: &mut Context) {
        self.inflight.sent(0, Progress::Closed(Instant::now()), &mut cx.observe);
        if let Some(why) = self.close_reason() {
            cx.observe.count(|m| m.closed(why));
        }
    }

    /// True if the connection stopped with work left; the loop calls
    /// [`Conn::resume`] on its next pass without waiting for an event.
    pub fn yielded(&self) -> bool {
        self.yielded
    }

    /// Interest follows from the state, here and nowhere else: readable
    /// while it takes input, writable only while a write came up short.
    pub fn want(&self) -> Want {
        let read = match self.state {
            State::Head | State::Body(_) => self.read != ReadSide::Eof,
            State::Linger(_) => true,
            State::Commit(_) | State::Drain(_) | State::Closed(_) => false,
        };
        Want { read, write: self.out.blocked() }
    }

    /// Bytes of a file still to go out by `sendfile` (0 when none): the
    /// loop tunes the socket's unsent mark while a large file goes out.
    pub fn file_left(&self) -> u64 {
        match &self.out.source {
            Some(source::Source::Sendfile(f)) => f.len,
            _ => 0,
        }
    }

    /// When this connection times out in its current state. The loop asks
    /// after every turn, so the usual answer (waiting for a head, nothing
    /// blocked) is worked out first and in place, before the other states
    /// are told apart (callgrind of the server under `wrk -c50`: 57
    /// instructions a request before, with a call for the addition).
    #[inline(always)]
    pub fn deadline(&self, cx: &Context) -> Option<Instant> {
        if matches!(self.state, State::Head) && !self.out.blocked() {
            return Some(self.head_deadline(cx));
        }
        self.other_deadline(cx)
    }

    /// [`Conn::deadline`] in every other case.
    fn other_deadline(&self, cx: &Context) -> Option<Instant> {
        let t = &cx.setup.settings;
        Some(match &self.state {
            State::Closed(_) => return None,
            // Waiting for the disk, not the client: the pool always answers.
            State::Commit(_) if !self.out.blocked() => return None,
            State::Linger(_) => self.last_progress + t.linger,
            _ if self.out.blocked() => self.last_progress + t.write_timeout,
            State::Commit(_) | State::Drain(_) => self.last_progress + t.write_timeout,
            // A pause, or a trickle: whichever limit comes first.
            State::Body(rx) => {
                let paused = self.last_progress + t.body_timeout;
                rx.rate_deadline(t.body_min_rate, t.body_rate_grace).map_or(paused, |slow| slow.min(paused))
            }
            State::Head => self.head_deadline(cx),
        })
    }

    /// The deadline in `Head`, with no write blocked: the usual one, so
    /// always inlined (the compiler kept it a call of its own).
    #[inline(always)]
    fn head_deadline(&self, cx: &Context) -> Instant {
        let t = &cx.setup.settings;
        match (self.head_started, cx.drain) {
            (Some(start), _) => start + t.header_timeout,
            // Accepted (`last_progress`), and not a byte since.
            (None, _) if self.silent => self.last_progress + t.header_timeout,
            (None, None) => self.last_progress + t.keepalive_timeout,
            // Draining: idle for the grace, then closed (lifecycle::Drain).
            (None, Some(d)) => d.idle_close_at(self.last_progress).min(self.last_progress + t.keepalive_timeout),
        }
    }

    /// A readiness event: advance as far as possible now.
    pub fn on_ready<T: Transport>(&mut self, io: &mut T, readable: bool, writable: bool, cx: &mut Context) {
        if readable && self.read == ReadSide::Idle {
            self.read = ReadSide::Ready;
        }
        if writable {
            self.out.side = WriteSide::Ready;
        }
        self.advance(io, cx);
    }

    /// The loop could not watch the socket (registering it with the poller
    /// failed): the connection cannot go on.
    pub fn on_io_error(&mut self, what: &str, e: &io::Error) {
        self.io_error(what, e);
    }

    /// The readiness event reported a hang-up (EPOLLRDHUP / EPOLLHUP).
    pub fn on_read_closed(&mut self) {
        if self.read != ReadSide::Eof {
            self.read = ReadSide::HupSeen;
        }
    }

    /// The blocking-I/O pool finished this connection's job (an upload's
    /// commit): answer it and go on at once.
    pub fn on_done<T: Transport>(&mut self, done: Done, io: &mut T, cx: &mut Context) {
        self.complete(done, cx);
        self.advance(io, cx);
    }

    /// Continues work that [`Conn::yielded`] left undone.
    pub fn resume<T: Transport>(&mut self, io: &mut T, cx: &mut Context) {
        log::trace!(conn = self.id; "resume");
        self.advance(io, cx);
    }

    /// The deadline passed: answer 408 if a request is half-received and
    /// nothing of its response is out yet, otherwise just close.
    pub fn on_timeout<T: Transport>(&mut self, io: &mut T, cx: &mut Context) {
        if self.deadline(cx).is_none_or(|d| d > cx.now) {
            return;
        }
        let why = self.timeout_reason(cx);
        let mid_request =
            matches!(self.state, State::Body(_)) || matches!(self.state, State::Head) && self.head_started.is_some();
        if mid_request && self.out.is_empty() && !self.out.blocked() {
            let below_min_rate = match &self.state {
                State::Body(rx) => rx
                    .rate_deadline(cx.setup.settings.body_min_rate, cx.setup.settings.body_rate_grace)
                    .is_some_and(|at| at <= cx.now),
                _ => false,
            };
            log::debug!(conn = self.id, reason = why.as_str(), below_min_rate; "request timed out");
            self.fail_with(HttpError::Timeout, Edge::Deadline, why, cx);
            self.last_progress = cx.now;
            self.advance(io, cx);
        } else {
            self.transition(State::Closed(why), Edge::Deadline);
        }
        self.release_buffers(cx);
    }

    /// Which clock ran out, judged by the state it ran out in.
    fn timeout_reason(&self, cx: &Context) -> CloseReason {
        match &self.state {
            State::Linger(why) => *why,
            _ if self.out.blocked() => CloseReason::WriteTimeout,
            State::Commit(_) | State::Drain(_) | State::Closed(_) => CloseReason::WriteTimeout,
            State::Body(_) => CloseReason::BodyTimeout,
            State::Head if self.head_started.is_some() || self.silent => CloseReason::HeaderTimeout,
            State::Head if cx.drain.is_some() => CloseReason::Draining,
            State::Head => CloseReason::KeepAliveTimeout,
        }
    }
}

#[cfg(test)]
mod diagram_tests;
#[cfg(test)]
mod tests;
