//! The input side of the state machine: whatever is buffered is parsed
//! and answered as far as the state allows (heads in `Head`, body bytes in
//! `Body`), and a request error becomes its status and a graceful close.
//! Transitions out of `Head` and `Body` are decided here; those out of
//! `Drain` in `steps.rs`.

use super::exchange::{answered, finish_commit, queue, start_request};
use super::state::{AfterDrain, Committing, ReadSide, ReqInfo, Sink, State};
use super::steps::Budget;
use super::{CloseReason, Conn, Edge, OUT_HIGH_WATER};
use crate::blocking::{Done, Job};
use crate::context::Context;
use crate::error::HttpError;
use crate::http::{Parsed, Response, parse};
use crate::inflight::{Arrived, ParsedHead};
use crate::logging::escaped;

impl Conn {
    /// Handles buffered input as far as the state allows.
    pub(super) fn process(&mut self, cx: &mut Context, budget: &mut Budget) {
        loop {
            let progressed = match self.state {
                // The turn answered its share: the rest waits for the next.
                State::Head if budget.spent() => false,
                // Nothing buffered: the usual end of a turn at keep-alive
                // depth 1, told here in a few instructions (callgrind
                // hotpath: ~15 a request fewer than in `process_head`).
                State::Head if self.input.bytes().is_empty() => false,
                State::Head => self.process_head(cx, budget),
                State::Body(_) => self.process_body(cx),
                State::Linger(_) => {
                    let n = self.input.bytes().len();
                    self.input.consume(n);
                    false
                }
                State::Commit(_) | State::Drain(_) | State::Closed(_) => false,
            };
            if !progressed {
                break;
            }
        }
        if self.read == ReadSide::Eof {
            self.close_after_eof(cx, budget.spent());
        }
    }

    /// The client sent EOF: whatever cannot complete any more is closed once
    /// the responses already queued are out.
    fn close_after_eof(&mut self, cx: &mut Context, turn_spent: bool) {
        match self.state {
            State::Head if !self.input.bytes().is_empty() => {
                // Whole requests may still be buffered behind the output
                // mark, or past this turn's share: answer them first (once
                // the output drains, or next turn), then decide again.
                if !self.backpressured() && !turn_spent && !self.rejects_partial_head(cx) {
                    self.close_when_sent();
                }
            }
            // A partial head or body can never finish now; an upload in
            // progress is dropped, which removes its temporary file.
            State::Head | State::Body(_) => self.close_when_sent(),
            State::Linger(why) => {
                self.transition(State::Closed(why), Edge::PeerEof);
            }
            // Answered once the commit is done; the EOF is seen then.
            State::Commit(_) | State::Drain(_) | State::Closed(_) => {}
        }
    }

    fn close_when_sent(&mut self) {
        let why = CloseReason::ClientClosed;
        let to = if self.out.is_empty() { State::Closed(why) } else { State::Drain(AfterDrain::Close(why)) };
        self.transition(to, Edge::PeerEof);
    }

    /// Enough output is queued: parse no more requests until it drains.
    pub(super) fn backpressured(&self) -> bool {
        self.out.pending() >= OUT_HIGH_WATER || self.inflight.is_full()
    }

    /// At EOF, the unfinished head is parsed once more, whatever was
    /// skipped: if it is already malformed the client gets the same 400 it
    /// would have got had the bytes come in one piece. True if it failed.
    // Never inlined: the rare EOF path would bring a second copy of the
    // parser, and its large answer, into the hot `advance`.
    #[inline(never)]
    fn rejects_partial_head(&mut self, cx: &mut Context) -> bool {
        let mut parsed = Ok(Parsed::Partial);
        parse::parse_head(self.input.bytes(), &cx.setup.settings.parse, &mut cx.setup.last_valid_host, &mut parsed);
        match parsed {
            Err(e) => {
                self.fail(e, cx);
                true
            }
            Ok(_) => false,
        }
    }

    /// Parses one head if a whole one is buffered. Returns true on progress.
    fn process_head(&mut self, cx: &mut Context, budget: &mut Budget) -> bool {
        if self.backpressured() {
            return false; // answer more only once this drains
        }
        let bytes = self.input.bytes();
        if bytes.is_empty() {
            return false;
        }
        self.head_started.get_or_insert(cx.now);
        let limits = &cx.setup.settings.parse;
        // Parse on the first look at a head (the usual case: it is whole, or
        // garbage is refused at once), then again for every new piece, except
        // one that only lengthens a header value: a slow head is not
        // re-parsed per byte, and the answer never depends on the split.
        let scanned = self.input.scanned;
        if scanned > 0
            && bytes.len() <= limits.max_uri.min(limits.max_head)
            && only_extends_a_value(&bytes[..scanned], &bytes[scanned..])
        {
            self.input.scanned = bytes.len();
            return false;
        }
        // Parsed in place and matched by reference: the head is large, and
        // moving it would copy it.
        let mut parsed = Ok(Parsed::Partial);
        parse::parse_head(bytes, limits, &mut cx.setup.last_valid_host, &mut parsed);
        let (next, edge) = match &parsed {
            Ok(Parsed::Partial) => {
                self.input.scanned = bytes.len();
                return false;
            }
            &Ok(Parsed::Complete(ref head, len)) => {
                log::trace!(conn = self.id, method = head.method.as_str(), path:% = escaped(head.path.as_bytes()); "request");
                // Its clock started with the head's first byte, as nginx's $request_time.
                let started = self.head_started.unwrap_or(cx.now);
                // Classified once: the label goes with the request's record.
                let route = cx.setup.routes.classify(head, self.face);
                let trusted = &cx.setup.settings.trust_proxy;
                let parsed = ParsedHead { head, len, route };
                self.inflight.arrived(self.id, Arrived::Head { parsed, started, trusted }, &mut cx.observe);
                let next = start_request(head, self.face, route, &mut self.out, &mut self.inflight, cx);
                self.input.consume(len);
                budget.answered();
                next
            }
            &Err(e) => {
                self.fail(e, cx);
                return true;
            }
        };
        self.head_started = None;
        self.transition(next, edge);
        true
    }

    /// Feeds buffered body bytes to the decoder and the sink.
    // Never inlined: inlined, the chunked decoder's error answers came
    // with it, and the compiler hoisted their loads to the top of
    // `process` (the loop they are in), where every request paid them,
    // body or not (~75 instructions a call: callgrind, the real server).
    #[inline(never)]
    fn process_body(&mut self, cx: &mut Context) -> bool {
        let State::Body(rx) = &mut self.state else { return false };
        let bytes = &self.input.buf[self.input.start..self.input.end];
        let step = match rx.decoder.decode(bytes) {
            Ok(step) => step,
            Err(e) => {
                self.fail(e, cx);
                return true;
            }
        };
        let used = step.used;
        rx.received += step.data.len() as u64;
        let result = if rx.received > cx.setup.settings.max_body {
            Err(HttpError::PayloadTooLarge)
        } else if let Sink::Upload(up) = &mut rx.sink {
            up.write(step.data).map_err(|e| {
                log::warn!(conn = self.id, error:% = e; "upload write failed");
                HttpError::Internal("upload could not be stored")
            })
        } else {
            Ok(())
        };
        if let Err(e) = result {
            self.fail(e, cx);
            return true;
        }
        self.input.consume(used);
        self.inflight.arrived(self.id, Arrived::Body(used as u64), &mut cx.observe);
        if rx.decoder.is_done() {
            let Sink::Discard(resp) = &mut rx.sink else {
                // The commit can wait on the disk: off the loop's thread.
                let waiting = Committing { req: rx.req, keep_alive: rx.keep_alive };
                // The state left holds the upload (the sink is no discard).
                let State::Body(rx) = self.transition(State::Commit(waiting), Edge::BodyDone) else { return true };
                let Sink::Upload(upload) = rx.sink else { return true };
                if let Some(done) = cx.blocking.run_or_offload(self.id, Job::Commit(upload)) {
                    self.complete(done, cx); // no pool: it ran in place
                }
                return true;
            };
            let next = answered(resp, rx.req, rx.keep_alive, &mut self.out, &mut self.inflight, cx);
            self.transition(next, Edge::BodyDone);
            return true;
        }
        used > 0
    }

    /// The blocking-I/O job of this connection came to `done`: the upload
    /// is answered, and the connection goes on from there.
    pub(super) fn complete(&mut self, done: Done, cx: &mut Context) {
        // Closed meanwhile (the client stopped reading a 100 Continue for
        // the write timeout): the outcome has no one left to answer.
        let State::Commit(waiting) = self.state else { return };
        let next = finish_commit(waiting, done, &mut self.out, &mut self.inflight, cx);
        self.transition(next, Edge::Committed);
    }

    /// A request error: queue its status, then close gracefully.
    pub(super) fn fail(&mut self, e: HttpError, cx: &mut Context) {
        self.fail_with(e, Edge::RequestError, CloseReason::RequestError, cx);
    }

    /// Queues the status of `e` and lingers, then closes for `why`.
    pub(super) fn fail_with(&mut self, e: HttpError, edge: Edge, why: CloseReason, cx: &mut Context) {
        log::debug!(conn = self.id, error:% = e; "request error");
        let started = self.head_started.take().unwrap_or(cx.now);
        // A body's request is known; its answer (deferred, or an upload's)
        // is dropped with the state, and an upload's temporary file with it.
        let req = match &self.state {
            State::Body(rx) => rx.req,
            _ => ReqInfo::UNKNOWN,
        };
        // A request that never parsed is logged with what its first line
        // holds; one whose body failed already has its record.
        if !self.inflight.awaiting_response() {
            let input = self.input.bytes();
            self.inflight.arrived(self.id, Arrived::Unparsed { input, started }, &mut cx.observe);
        }
        cx.observe.count(|m| m.rejected(e.status()));
        queue(&mut Response::error(e), req, false, &mut self.out, &mut self.inflight, cx);
        self.transition(State::Drain(AfterDrain::Linger(why)), edge);
    }
}

/// True if `fresh`, appended to the partial head `seen`, can only extend a
/// header value: `seen` ends inside a header line past its colon, and
/// `fresh` holds only bytes valid anywhere in a value (no line end, no CR,
/// no other control byte). Such bytes can neither finish the head nor make
/// it invalid, so parsing again would tell nothing new.
fn only_extends_a_value(seen: &[u8], fresh: &[u8]) -> bool {
    let Some(line_start) = seen.iter().rposition(|&b| b == b'\n') else { return false };
    let line = &seen[line_start + 1..];
    let value_byte = |b: u8| b == b'\t' || (b >= b' ' && b != 0x7f);
    line.contains(&b':') && line.last().is_some_and(|&b| b != b'\r') && fresh.iter().all(|&b| value_byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pieces_that_lengthen_a_header_value_skip_the_parse() {
        let head = b"GET / HTTP/1.1\r\nHost: exam";
        assert!(only_extends_a_value(head, b"ple.org"));
        assert!(only_extends_a_value(head, b" \t\x80\xff"));
        assert!(!only_extends_a_value(head, b"\x01"), "a control byte is refused at once");
        assert!(!only_extends_a_value(head, b"x\r"), "CR may end the line");
        assert!(!only_extends_a_value(head, b"\n"));
        assert!(!only_extends_a_value(b"GET / HTTP/1.1\r\nHo", b"st"), "a name is checked byte by byte");
        assert!(!only_extends_a_value(b"GET /long-targ", b"et"), "the request line is always parsed");
        assert!(!only_extends_a_value(b"GET / HTTP/1.1\r\nA: b\r", b"x"), "bare CR");
    }
}
