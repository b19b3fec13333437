//! One request/response exchange, from a parsed head to queued bytes:
//! route it, decide what happens to its body, make the one keep-alive
//! decision, and serialise the answer into the output queue.
//!
//! The body comes before the answer: a success is queued only once the
//! whole body is in and its framing checked, so a message that turns out
//! invalid (cut short, a bad chunk line, too large) never gets a 2xx. A
//! route that does not use the body gets it read and dropped. An error
//! that does not depend on the body (404, 405, 413, ...) goes out at once,
//! with `Connection: close`, and the body is never read.

use std::time::Instant;

use super::buffers::Output;
use super::state::{AfterDrain, Committing, Receiving, ReqInfo, Sink, State};
use super::{CloseReason, Edge};
use crate::blocking::Done;
use crate::context::Context;
use crate::error::HttpError;
use crate::http::response;
use crate::http::{Body, BodyDecoder, Framing, Head, Method, Response};
use crate::inflight::InFlight;
use crate::metrics::labels::Route;
use crate::routes::{self, Action, Face};

/// Starts handling a parsed request: route it, queue what can be answered
/// now, and say what the connection does next (the state and the edge).
pub(super) fn start_request(
    head: &Head<'_>,
    face: Face,
    route: Route,
    out: &mut Output,
    inflight: &mut InFlight,
    cx: &mut Context,
) -> (State, Edge) {
    let has_body = !matches!(head.framing, Framing::None | Framing::Length(0));
    if let Framing::Length(n) = head.framing
        && n > cx.setup.settings.max_body
    {
        // Refused before reading: the body stays unread, so close after.
        cx.observe.count(|m| m.rejected(HttpError::PayloadTooLarge.status()));
        queue(&mut Response::error(HttpError::PayloadTooLarge), ReqInfo::of(head), false, out, inflight, cx);
        return (State::Drain(AfterDrain::Linger(CloseReason::RequestError)), Edge::RequestError);
    }
    let mut action = cx.setup.routes.route(head, face, route);
    // The usual answer is queued where the route left it (a response is
    // large, and moving it out would copy it); the rarer ones are moved.
    match action {
        Action::Respond(resp) if has_body && resp.is_success() => {
            // The answer waits for the body (see the module doc).
            if head.expect_continue {
                response::continue_100(&mut out.buf);
            }
            // Keep-alive is decided with the answer, once the body is in.
            (receiving(head, Sink::Discard(resp.into_owned()), head.keep_alive, cx.now), Edge::BodyWanted)
        }
        Action::Respond(ref mut resp) => {
            // An error needs no body: answered at once, the body left
            // unread, so the connection closes after it.
            let keep = keep_alive(head.keep_alive, resp, !has_body, cx);
            queue(resp, ReqInfo::of(head), keep, out, inflight, cx);
            let after = match (keep, has_body) {
                (true, _) => AfterDrain::NextRequest,
                (false, false) => close_after(head.keep_alive, cx),
                (false, true) => AfterDrain::Linger(CloseReason::NoKeepAlive),
            };
            let next = if after == AfterDrain::NextRequest && out.source.is_none() {
                (State::Head, Edge::Answered)
            } else {
                (State::Drain(after), Edge::SendFirst)
            };
            // The usual answer, once queued, owns nothing (its body is
            // borrowed from the request, or went to the output): it is not
            // dropped, which would call the body's drop (17 instructions a
            // request: callgrind, examples/hotpath.rs).
            if resp.owns_nothing() {
                std::mem::forget(action);
            }
            next
        }
        Action::Upload(upload) => {
            if head.expect_continue {
                response::continue_100(&mut out.buf);
            }
            (receiving(head, Sink::Upload(upload), head.keep_alive, cx.now), Edge::BodyWanted)
        }
    }
}

fn receiving(head: &Head<'_>, sink: Sink, keep_alive: bool, now: Instant) -> State {
    let decoder = match head.framing {
        Framing::Chunked => BodyDecoder::chunked(),
        Framing::Length(n) => BodyDecoder::Length(n),
        Framing::None => BodyDecoder::Length(0),
    };
    let req = ReqInfo::of(head);
    State::Body(Box::new(Receiving { decoder, sink, received: 0, started: now, req, keep_alive }))
}

/// The upload's commit came to `done`: its answer is queued. Returns the
/// state to go to (see [`answered`]).
pub(super) fn finish_commit(
    waiting: Committing,
    done: Done,
    out: &mut Output,
    inflight: &mut InFlight,
    cx: &mut Context,
) -> State {
    let Done::Committed(result) = done;
    let resp = &mut routes::upload_answer(result, waiting.req.method);
    answered(resp, waiting.req, waiting.keep_alive, out, inflight, cx)
}

/// Queues the answer to a request whose body is consumed: the one decided
/// from the head when the route did not need the body ([`Sink::Discard`]),
/// or an upload's once committed. Returns the state to go to: the next
/// request, or first the file that follows the answer, or a close without
/// keep-alive.
pub(super) fn answered(
    resp: &mut Response<'_>,
    req: ReqInfo,
    client_keep_alive: bool,
    out: &mut Output,
    inflight: &mut InFlight,
    cx: &mut Context,
) -> State {
    let keep = keep_alive(client_keep_alive, resp, true, cx);
    queue(resp, req, keep, out, inflight, cx);
    match (keep, out.source.is_some()) {
        (true, false) => State::Head,
        (true, true) => State::Drain(AfterDrain::NextRequest),
        (false, _) => State::Drain(close_after(client_keep_alive, cx)),
    }
}

/// The one keep-alive decision: the client wants it, the handler does not
/// object, the request body was (or will be) consumed, and the server is
/// not draining (then every answer closes its connection, so a proxy stops
/// reusing it instead of racing our close: ARCHITECTURE, section 13).
fn keep_alive(client_wants: bool, resp: &Response<'_>, body_consumed: bool, cx: &Context) -> bool {
    client_wants && !resp.close && body_consumed && cx.drain.is_none()
}

/// How the connection ends after an answer that closes it. A client that
/// asked for keep-alive may already have sent its next request (it
/// pipelines, or the drain began meanwhile), and closing on unread input
/// resets the connection, which can destroy the answer before it is read:
/// so the write side is shut first and input dropped for a moment.
fn close_after(client_wanted_keep_alive: bool, cx: &Context) -> AfterDrain {
    match (client_wanted_keep_alive, cx.drain.is_some()) {
        (true, true) => AfterDrain::Linger(CloseReason::Draining),
        (true, false) => AfterDrain::Linger(CloseReason::NoKeepAlive),
        (false, _) => AfterDrain::Close(CloseReason::NoKeepAlive),
    }
}

/// Serialises `resp` into the output queue; a file body is queued behind
/// it. Tells `inflight` where in the output stream the response lies.
pub(super) fn queue(
    resp: &mut Response<'_>,
    req: ReqInfo,
    keep_alive: bool,
    out: &mut Output,
    inflight: &mut InFlight,
    cx: &mut Context,
) {
    if out.buf.capacity() == 0 {
        out.buf = cx.pool.take_output();
    }
    let head_only = req.method == Method::Head;
    let before = out.pending();
    let extra = &cx.setup.settings.extra_headers;
    let how = response::Delivery { keep_alive, http10: !req.http11, head_only, date: cx.date.get(), extra };
    let head_len = response::serialize(resp, &how, &mut out.buf) as u64;
    if !head_only && matches!(resp.body, Body::File(_) | Body::GzipFile(_) | Body::Generated(_)) {
        // The file moves to the output; the response is done with.
        match std::mem::replace(&mut resp.body, Body::Empty) {
            Body::File(f) if f.len > 0 => out.push_file(f),
            Body::GzipFile(f) => out.push_gzip(f),
            Body::Generated(g) => out.push_generated(g, req.http11),
            _ => {}
        }
    }
    // A streamed body ends when the output is empty; anything else where
    // the queue ends now.
    let after = out.source.is_none().then(|| out.pending());
    inflight.queued(resp.status, before, after, head_len);
}
