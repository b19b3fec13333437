//! One request/response exchange, from a parsed head to queued bytes:
//! route it, decide what happens to its body, make the one keep-alive
//! decision, and serialise the answer into the output queue.

use super::buffers::Output;
use super::state::{AfterDrain, State};
use super::{CloseReason, Edge};
use crate::context::Context;
use crate::error::HttpError;
use crate::files::Upload;
use crate::http::response;
use crate::http::{Body, BodyDecoder, Framing, Head, Method, Response};
use crate::routes::{self, Action};

#[derive(Debug)]
pub(super) struct Receiving {
    pub decoder: BodyDecoder,
    pub sink: Sink,
    pub received: u64,
    pub req: ReqInfo,
    pub keep_alive: bool,
}

#[derive(Debug)]
pub(super) enum Sink {
    /// Body not needed by the handler (its response is already queued).
    Discard,
    Upload(Upload),
}

/// Starts handling a parsed request: route it, queue what can be answered
/// now, and say what the connection does next (the state and the edge).
pub(super) fn start_request(head: &Head<'_>, out: &mut Output, cx: &mut Context) -> (State, Edge) {
    let has_body = !matches!(head.framing, Framing::None | Framing::Length(0));
    if let Framing::Length(n) = head.framing
        && n > cx.settings.max_body
    {
        // Refused before reading: the body stays unread, so close after.
        queue(Response::error(HttpError::PayloadTooLarge), ReqInfo::of(head), false, out, cx);
        return (State::Drain(AfterDrain::Linger(CloseReason::RequestError)), Edge::RequestError);
    }
    match cx.routes.route(head) {
        Action::Respond(resp) => {
            // A success needs the body read and dropped to keep the stream
            // in sync; an error is answered at once and the body left unread.
            let discard = has_body && resp.is_success() && !head.expect_continue;
            let keep = keep_alive(head, &resp, !has_body || discard);
            queue(resp, ReqInfo::of(head), keep, out, cx);
            if discard {
                return (receiving(head, Sink::Discard, keep), Edge::BodyWanted);
            }
            let after = match (keep, has_body) {
                (true, _) => AfterDrain::NextRequest,
                (false, false) => AfterDrain::Close(CloseReason::NoKeepAlive),
                (false, true) => AfterDrain::Linger(CloseReason::NoKeepAlive),
            };
            if after == AfterDrain::NextRequest && out.source.is_none() {
                (State::Head, Edge::Answered)
            } else {
                (State::Drain(after), Edge::SendFirst)
            }
        }
        Action::Upload(upload) => {
            if head.expect_continue {
                response::continue_100(&mut out.buf);
            }
            (receiving(head, Sink::Upload(upload), head.keep_alive), Edge::BodyWanted)
        }
    }
}

pub(super) fn receiving(head: &Head<'_>, sink: Sink, keep_alive: bool) -> State {
    let decoder = match head.framing {
        Framing::Chunked => BodyDecoder::chunked(),
        Framing::Length(n) => BodyDecoder::Length(n),
        Framing::None => BodyDecoder::Length(0),
    };
    State::Body(Box::new(Receiving { decoder, sink, received: 0, req: ReqInfo::of(head), keep_alive }))
}

/// The whole body is in: an upload is committed and answered. Returns
/// the state to go to.
pub(super) fn finish_body(rx: &mut Receiving, out: &mut Output, cx: &mut Context) -> State {
    let mut keep = rx.keep_alive;
    if let Sink::Upload(upload) = std::mem::replace(&mut rx.sink, Sink::Discard) {
        let resp = routes::finish_upload(upload, rx.req.method);
        keep = keep && !resp.close;
        queue(resp, rx.req, keep, out, cx);
    }
    if keep { State::Head } else { State::Drain(AfterDrain::Close(CloseReason::NoKeepAlive)) }
}

/// The one keep-alive decision: the client wants it, the handler does not
/// object, and the request body was (or will be) consumed.
fn keep_alive(head: &Head<'_>, resp: &Response<'_>, body_consumed: bool) -> bool {
    head.keep_alive && !resp.close && body_consumed
}

/// What serialising a response needs to know of its request.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReqInfo {
    method: Method,
    http11: bool,
}

impl ReqInfo {
    pub fn of(head: &Head<'_>) -> ReqInfo {
        ReqInfo { method: head.method, http11: head.http11 }
    }

    /// For answers to requests that could not be parsed.
    pub const UNKNOWN: ReqInfo = ReqInfo { method: Method::Get, http11: true };
}

/// Serialises `resp` into the output queue; a file body is queued behind it.
pub(super) fn queue(resp: Response<'_>, req: ReqInfo, keep_alive: bool, out: &mut Output, cx: &mut Context) {
    if out.buf.capacity() == 0 {
        out.buf = cx.pool.take_output();
    }
    let head_only = req.method == Method::Head;
    let how = response::Delivery { keep_alive, http10: !req.http11, head_only, date: cx.date.get() };
    response::serialize(&resp, &how, &mut out.buf);
    if head_only {
        return;
    }
    match resp.body {
        Body::File(f) if f.len > 0 => out.push_file(f),
        Body::GzipFile(f) => out.push_gzip(f),
        _ => {}
    }
}
