//! One connection: an explicit state machine over any [`Transport`], so it
//! runs the same over a mio socket and over an in-memory stream in tests.
//!
//! ```text
//!             accept
//!               │
//!               ▼             head parsed, no body / body discarded
//!   ┌────────► Head ────────────────────────────────┐
//!   │          │  │ head parsed, body wanted        │ response queued
//!   │          │  ▼                                 │ (pipelined: keep parsing
//!   │          │ Body ── body complete ─────────────┤  while output is small)
//!   │          │  │                                 ▼
//!   │ drained, │  │ bad body / too large / timeout  Drain(after)
//!   │ keep-    │  │                                 │   │
//!   └─ alive ──┼──┼──── Drain(NextRequest) ◄────────┘   │ drained
//!              │  ▼                                     ▼
//!  bad head ───┴► Drain(Linger) ──► Linger ──► Closed ◄── Drain(Close)
//!  (4xx queued)    error sent,     EOF or          ▲
//!                  write side shut  deadline        └─ peer EOF, I/O error, idle timeout
//! ```
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
mod input;
mod source;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

use buffers::{Filled, Input, Output};
use exchange::Receiving;

use crate::error::{HttpError, interrupted, is_disconnect, would_block};
use crate::shared::Shared;

/// Stop parsing pipelined requests once this much output is queued, and
/// stop reading until it drains: per-connection memory stays bounded.
pub const OUT_HIGH_WATER: usize = 64 * 1024;
/// Most reads per readiness event before yielding to other connections.
pub const MAX_READS_PER_EVENT: usize = 16;
/// Most bytes sent per readiness event (a fast reader must not starve others).
pub const MAX_SEND_PER_EVENT: usize = 4 << 20;

/// A byte stream the connection reads and writes: a socket in the server,
/// an in-memory stream in tests.
pub trait Transport: Read + Write {
    /// Sends `len` bytes of `file` from `offset`; returns how many went out.
    /// The default reads into a stack buffer; sockets override it with `sendfile`.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let want = len.min(chunk.len());
        let n = file.read_at(&mut chunk[..want], offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.write(&chunk[..n])
    }

    /// Writes bytes that more will follow at once (a head before its file
    /// body); sockets pass `MSG_MORE` so both can share a segment.
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
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
enum State {
    /// Waiting for, or parsing, a request head.
    Head,
    /// Receiving a request body into its sink.
    Body(Box<Receiving>),
    /// Sending what is queued before doing anything else.
    Drain(AfterDrain),
    /// Error sent, write side shut: reading and dropping input until EOF
    /// or the deadline, so the client reads our status instead of a reset.
    Linger,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterDrain {
    NextRequest,
    Close,
    Linger,
}

#[derive(Debug)]
pub struct Conn {
    state: State,
    input: Input,
    out: Output,
    /// Edge-triggered readiness: the socket may hold unread bytes.
    read_ready: bool,
    /// The event said the peer shut its side: read until EOF even after a
    /// short read, since no further edge will announce it.
    read_closed: bool,
    peer_eof: bool,
    /// When the current request head began arriving.
    head_started: Option<Instant>,
    /// Last read or write progress: the idle, body and write clocks.
    last_progress: Instant,
    /// Work left undone to be fair to others: call [`Conn::resume`] soon.
    yielded: bool,
}

impl Conn {
    pub fn new(now: Instant) -> Conn {
        Conn {
            state: State::Head,
            input: Input::default(),
            out: Output::default(),
            read_ready: false,
            read_closed: false,
            peer_eof: false,
            head_started: None,
            last_progress: now,
            yielded: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
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
            State::Head | State::Body(_) => !self.peer_eof,
            State::Linger => true,
            State::Drain(_) | State::Closed => false,
        };
        Want { read, write: self.out.blocked }
    }

    /// When this connection times out in its current state.
    pub fn deadline(&self, cx: &Shared) -> Option<Instant> {
        let t = &cx.settings;
        Some(match &self.state {
            State::Closed => return None,
            State::Linger => self.last_progress + t.linger,
            _ if self.out.blocked => self.last_progress + t.write_timeout,
            State::Drain(_) => self.last_progress + t.write_timeout,
            State::Body(_) => self.last_progress + t.body_timeout,
            State::Head => match self.head_started {
                Some(start) => start + t.header_timeout,
                None => self.last_progress + t.keepalive_timeout,
            },
        })
    }

    /// A readiness event: advance as far as possible now.
    pub fn on_ready<T: Transport>(&mut self, io: &mut T, readable: bool, writable: bool, cx: &mut Shared) {
        self.read_ready |= readable;
        if writable {
            self.out.blocked = false;
        }
        self.advance(io, cx);
    }

    /// The readiness event reported a hang-up (EPOLLRDHUP / EPOLLHUP).
    pub fn on_read_closed(&mut self) {
        self.read_closed = true;
    }

    /// Continues work that [`Conn::yielded`] left undone.
    pub fn resume<T: Transport>(&mut self, io: &mut T, cx: &mut Shared) {
        self.advance(io, cx);
    }

    /// The deadline passed: answer 408 if a request is half-received and
    /// nothing of its response is out yet, otherwise just close.
    pub fn on_timeout<T: Transport>(&mut self, io: &mut T, cx: &mut Shared) {
        if self.deadline(cx).is_none_or(|d| d > cx.now) {
            return;
        }
        let mid_request =
            matches!(self.state, State::Body(_)) || matches!(self.state, State::Head) && self.head_started.is_some();
        if mid_request && self.out.is_empty() && !self.out.blocked {
            log::debug!("request timed out");
            self.fail(HttpError::Timeout, cx);
            self.last_progress = cx.now;
            self.advance(io, cx);
        } else {
            self.state = State::Closed;
        }
        self.release_buffers(cx);
    }

    /// Read → parse → route → serialise → write, repeated while there is
    /// progress (darkhttpd's "continue at once instead of waiting a turn").
    fn advance<T: Transport>(&mut self, io: &mut T, cx: &mut Shared) {
        self.yielded = false;
        let mut reads = 0;
        let mut sent = 0;
        loop {
            self.process(cx);
            if !self.out.is_empty() && !self.out.blocked {
                let held_back = self.backpressured();
                sent += self.flush(io, cx, MAX_SEND_PER_EVENT - sent.min(MAX_SEND_PER_EVENT));
                if !self.out.is_empty() && !self.out.blocked && !self.is_closed() {
                    // Not all out and the socket not full: the send budget
                    // ran out. The others go first; resume next pass.
                    self.yielded = true;
                    break;
                }
                // The output mark stopped parsing and the write made room:
                // the requests still buffered have no event to wake them.
                if held_back && !self.backpressured() && !self.input.bytes().is_empty() {
                    continue;
                }
            }
            if self.out.is_empty() && self.finish_drain(io) {
                continue;
            }
            if self.is_closed() {
                break;
            }
            if self.want().read && self.read_ready && self.has_room() {
                if reads == MAX_READS_PER_EVENT {
                    self.yielded = true;
                    break;
                }
                reads += 1;
                if self.read(io, cx) {
                    continue;
                }
            }
            break;
        }
        self.release_buffers(cx);
    }

    /// Room to read into: backpressure stops reading while output piles up.
    fn has_room(&self) -> bool {
        match self.state {
            State::Head | State::Body(_) => self.out.pending() < OUT_HIGH_WATER,
            _ => true,
        }
    }

    /// One read. Returns true if there are new bytes (or an EOF) to process.
    fn read<T: Transport>(&mut self, io: &mut T, cx: &mut Shared) -> bool {
        match self.input.fill(io, &mut cx.pool) {
            Ok(Filled::Data { drained }) => {
                // Input dropped while lingering is not progress: the linger
                // is bounded from when it began, however much junk arrives.
                if !matches!(self.state, State::Linger) {
                    self.last_progress = cx.now;
                }
                // Drained, unless the peer hung up: its EOF came with this
                // same edge and must be read now, no later edge will say so.
                if drained && !self.read_closed {
                    self.read_ready = false;
                }
                true
            }
            Ok(Filled::Eof) => {
                // The client will send nothing more. Answer what it did
                // send (it may still be reading), then close.
                self.peer_eof = true;
                self.read_ready = false;
                true
            }
            Ok(Filled::NoRoom) => false,
            Err(e) if would_block(&e) => {
                self.read_ready = false;
                false
            }
            Err(e) if interrupted(&e) => true,
            Err(e) => {
                self.io_error("read", &e);
                false
            }
        }
    }

    /// Sends what is queued; returns the bytes sent.
    fn flush<T: Transport>(&mut self, io: &mut T, cx: &mut Shared, budget: usize) -> usize {
        match self.out.send(io, budget) {
            Ok(sent) => {
                if sent > 0 {
                    self.last_progress = cx.now;
                }
                sent
            }
            Err(e) => {
                self.io_error("write", &e);
                0
            }
        }
    }

    /// Output is empty: leave `Drain` for what comes after. Returns true if
    /// the state changed (so the caller continues at once).
    fn finish_drain<T: Transport>(&mut self, io: &mut T) -> bool {
        let State::Drain(after) = self.state else { return false };
        self.state = match after {
            AfterDrain::NextRequest => State::Head,
            AfterDrain::Close => State::Closed,
            AfterDrain::Linger => match io.shutdown_write() {
                Ok(()) => State::Linger,
                Err(_) => State::Closed,
            },
        };
        true
    }

    /// Socket errors end the connection; disconnects are routine.
    fn io_error(&mut self, what: &str, e: &io::Error) {
        if is_disconnect(e) {
            log::debug!("{what}: peer went away: {e}");
        } else {
            log::warn!("{what}: {e}");
        }
        self.state = State::Closed;
        self.out.blocked = false;
        self.out.source = None;
    }

    /// Idle with nothing buffered: return the buffers to the loop's pool so
    /// an idle keep-alive connection holds no buffer memory.
    fn release_buffers(&mut self, cx: &mut Shared) {
        if self.input.start == self.input.end && !self.input.buf.is_empty() {
            let input = std::mem::take(&mut self.input);
            cx.pool.put_input(input.buf);
        }
        if self.out.pending() == 0 && self.out.buf.capacity() > 0 {
            self.out.pos = 0;
            cx.pool.put_output(std::mem::take(&mut self.out.buf));
        }
        if self.is_closed() {
            self.out.source = None;
        }
    }
}

#[cfg(test)]
mod tests;
