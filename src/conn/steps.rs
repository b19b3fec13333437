//! `advance`: read → parse → route → serialise → write, repeated while
//! there is progress (darkhttpd's "continue at once instead of waiting a
//! turn"). Each round handles buffered input (`process`, in `process.rs`),
//! then takes one write step and one read step.

use std::io;
use std::time::Instant;

use super::buffers::{Filled, WriteSide};
use super::state::{AfterDrain, ReadSide, State};
use super::{
    CloseReason, Conn, Edge, MAX_READS_PER_EVENT, MAX_REQUESTS_PER_TURN, MAX_SEND_PER_EVENT, MAX_TURN_TIME,
    OUT_HIGH_WATER, Transport,
};
use crate::context::Context;
use crate::error::{interrupted, is_disconnect, would_block};
use crate::inflight::Progress;

/// What a step says the round should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Something moved: go round again.
    Again,
    /// Nothing more to do until the next event.
    Wait,
    /// Work is left but the budget for this event is spent: let the
    /// others go first and resume on the next pass.
    Yield,
}

/// What one turn (an event, or a resume) may do before the connection
/// yields to the others that are ready: reads, bytes sent, requests
/// answered, time (see [`MAX_REQUESTS_PER_TURN`], [`MAX_TURN_TIME`]).
#[derive(Debug)]
pub(super) struct Budget {
    reads: usize,
    sent: usize,
    requests: usize,
    /// The pass's clock (`cx.now`) as the turn began: read once per pass
    /// already, so a turn costs no clock read of its own. A turn late in a
    /// busy pass has less time left, never fewer than
    /// [`TIME_CHECK_EVERY`] requests.
    began: Instant,
    /// No more requests this turn: the requests or the time are spent.
    spent: bool,
}

/// The turn's time is checked every this many requests: a clock read per
/// request cost 11 of the hot path's ~1,500 instructions per request
/// (callgrind), and each request's own work is bounded (section 8 of
/// docs/ARCHITECTURE.md), so eight never run far past the bound.
const TIME_CHECK_EVERY: usize = 8;

impl Budget {
    fn new(began: Instant) -> Budget {
        Budget { reads: 0, sent: 0, requests: 0, began, spent: false }
    }

    /// Counts an answered request; spends the budget if that was the last
    /// one allowed, or the turn has run its time.
    pub(super) fn answered(&mut self) {
        self.requests += 1;
        if self.requests >= MAX_REQUESTS_PER_TURN
            || self.requests.is_multiple_of(TIME_CHECK_EVERY) && Instant::now() >= self.began + MAX_TURN_TIME
        {
            self.spent = true;
        }
    }

    /// True once no further request may be answered this turn.
    pub(super) fn spent(&self) -> bool {
        self.spent
    }
}

impl Conn {
    pub(super) fn advance<T: Transport>(&mut self, io: &mut T, cx: &mut Context) {
        self.yielded = false;
        let mut budget = Budget::new(cx.now);
        loop {
            self.process(cx, &mut budget);
            let step = match self.write_step(io, cx, &mut budget) {
                // Requests are still buffered, but this turn answered its
                // share: the others that are ready go first.
                Step::Wait if budget.spent() && self.has_unanswered() => Step::Yield,
                Step::Wait if !self.is_closed() => self.read_step(io, cx, &mut budget),
                step => step,
            };
            match step {
                Step::Again => continue,
                Step::Wait => break,
                Step::Yield => {
                    log::trace!(
                        conn = self.id, requests = budget.requests, reads = budget.reads, sent = budget.sent,
                        micros = budget.began.elapsed().as_micros() as u64;
                        "yield"
                    );
                    self.yielded = true;
                    break;
                }
            }
        }
        self.release_buffers(cx);
    }

    /// Input is buffered that the head parser has not answered yet.
    fn has_unanswered(&self) -> bool {
        matches!(self.state, State::Head) && !self.input.bytes().is_empty()
    }

    /// Writes what is queued (unless the socket is full), then leaves
    /// `Drain` if all of it is out.
    fn write_step<T: Transport>(&mut self, io: &mut T, cx: &mut Context, budget: &mut Budget) -> Step {
        if !self.out.is_empty() && !self.out.blocked() {
            let held_back = self.backpressured();
            let (sent, empty) = self.flush(io, cx, MAX_SEND_PER_EVENT - budget.sent.min(MAX_SEND_PER_EVENT));
            budget.sent += sent;
            if !empty && !self.out.blocked() && !self.is_closed() {
                // Not all out and the socket not full: the send budget ran out.
                return Step::Yield;
            }
            // The output mark stopped parsing and the write made room:
            // the requests still buffered have no event to wake them.
            if held_back && !self.backpressured() && !self.input.bytes().is_empty() {
                return Step::Again;
            }
        }
        if self.out.is_empty() && self.finish_drain(io) {
            return Step::Again;
        }
        Step::Wait
    }

    /// One read, if the state takes input, the socket may have some, and
    /// there is room for it.
    fn read_step<T: Transport>(&mut self, io: &mut T, cx: &mut Context, budget: &mut Budget) -> Step {
        if !(self.want().read && self.read.may_read() && self.has_room()) {
            return Step::Wait;
        }
        if budget.reads == MAX_READS_PER_EVENT {
            return Step::Yield;
        }
        budget.reads += 1;
        if self.read(io, cx) { Step::Again } else { Step::Wait }
    }

    /// Room to read into: backpressure stops reading while output piles up.
    fn has_room(&self) -> bool {
        match self.state {
            State::Head | State::Body(_) => self.out.pending() < OUT_HIGH_WATER,
            _ => true,
        }
    }

    /// One read. Returns true if there are new bytes (or an EOF) to process.
    fn read<T: Transport>(&mut self, io: &mut T, cx: &mut Context) -> bool {
        match self.input.fill(io, &mut cx.pool) {
            Ok(Filled::Data { bytes, drained }) => {
                log::trace!(conn = self.id, bytes = bytes; "read");
                self.silent = false;
                cx.observe.count(|m| m.received(bytes));
                // Input dropped while lingering is not progress: the linger
                // is bounded from when it began, however much junk arrives.
                if !matches!(self.state, State::Linger(_)) {
                    self.last_progress = cx.now;
                }
                // Drained, unless the peer hung up: its EOF came with this
                // same edge and must be read now, no later edge will say so.
                if drained && self.read == ReadSide::Ready {
                    self.read = ReadSide::Idle;
                }
                true
            }
            Ok(Filled::Eof) => {
                log::trace!(conn = self.id; "read EOF");
                // The client will send nothing more. Answer what it did
                // send (it may still be reading), then close.
                self.read = ReadSide::Eof;
                true
            }
            Ok(Filled::NoRoom) => false,
            Err(e) if would_block(&e) => {
                if self.read == ReadSide::Ready {
                    self.read = ReadSide::Idle;
                }
                false
            }
            Err(e) if interrupted(&e) => true,
            Err(e) => {
                self.io_error("read", &e);
                false
            }
        }
    }

    /// Sends what is queued; returns the bytes sent, and whether the output
    /// is empty now (worked out once: the caller asks too).
    fn flush<T: Transport>(&mut self, io: &mut T, cx: &mut Context, budget: usize) -> (usize, bool) {
        match self.out.send(io, budget) {
            Ok(sent) => {
                log::trace!(conn = self.id, bytes = sent, blocked = self.out.blocked(); "wrote");
                if sent > 0 {
                    self.last_progress = cx.now;
                    cx.observe.count(|m| m.sent(sent));
                }
                // Responses whose last byte just went out are logged now.
                let empty = self.out.is_empty();
                let progress = if empty { Progress::Empty } else { Progress::Pending };
                self.inflight.sent(sent, progress, &mut cx.observe);
                (sent, empty)
            }
            Err(e) => {
                self.io_error("write", &e);
                (0, self.out.is_empty())
            }
        }
    }

    /// Output is empty: leave `Drain` for what comes after. Returns true if
    /// the state changed (so the caller continues at once).
    fn finish_drain<T: Transport>(&mut self, io: &mut T) -> bool {
        let State::Drain(after) = self.state else { return false };
        let to = match after {
            AfterDrain::NextRequest => State::Head,
            AfterDrain::Close(why) => State::Closed(why),
            AfterDrain::Linger(why) => match io.shutdown_write() {
                Ok(()) => State::Linger(why),
                Err(e) => {
                    self.io_error("shutdown", &e);
                    return true;
                }
            },
        };
        self.transition(to, Edge::Drained);
        true
    }

    /// Socket errors end the connection; disconnects are routine.
    pub(super) fn io_error(&mut self, what: &str, e: &io::Error) {
        let why = if is_disconnect(e) {
            log::debug!(conn = self.id, op = what, error:% = e; "peer went away");
            CloseReason::Reset
        } else {
            log::warn!(conn = self.id, op = what, error:% = e; "socket error");
            CloseReason::IoError
        };
        self.transition(State::Closed(why), Edge::IoError);
        self.out.side = WriteSide::Ready;
        self.out.source = None;
    }

    /// Idle with nothing buffered: return the buffers to the loop's pool so
    /// an idle keep-alive connection holds no buffer memory.
    pub(super) fn release_buffers(&mut self, cx: &mut Context) {
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
