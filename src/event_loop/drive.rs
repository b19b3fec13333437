//! Driving one connection: run it, then reconcile what the loop holds for
//! it with what its state wants (the interest registered with mio, its
//! deadline in the heap, its place among the yielded), or queue its removal.

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};

use super::Worker;
use super::entry::Entry;
use super::unsent_mark::sending_large_file;
use crate::conn::{Conn, Want};
use crate::context::Context;
use crate::deadlines::Owner;

impl Worker {
    /// Runs `f` on connection `key`, then reconciles interest and deadline.
    pub(super) fn drive(&mut self, key: usize, f: impl FnOnce(&mut Conn, &mut TcpStream, &mut Context)) {
        let Some(e) = self.conns.get_mut(key) else { return };
        if e.conn.is_closed() {
            return; // removed at the end of this pass
        }
        f(&mut e.conn, &mut e.stream, &mut self.cx);
        self.after(key);
    }

    /// After a connection ran: closed → queue removal; otherwise register
    /// the interest its state wants (the first time it must wait for an
    /// event, or when it changed) and its deadline. The slot is looked up
    /// once (this runs once a request: each lookup is a bounds and a
    /// vacancy check), and again only after a large download started or
    /// ended.
    pub(super) fn after(&mut self, key: usize) {
        if self.cx.blocking.has_jobs() {
            self.offload(key);
        }
        let mut e = &mut self.conns[key];
        let streaming = sending_large_file(&e.conn);
        if streaming != e.streaming {
            self.note_streaming(key, streaming);
            e = &mut self.conns[key];
        }
        if e.conn.is_closed() || !register(&self.poll, key, e) {
            self.closed.push(key);
            return;
        }
        if e.conn.yielded() {
            self.yielded.push(key);
        }
        if let Some(at) = e.conn.deadline(&self.cx)
            && e.queued.is_none_or(|q| at < q)
        {
            self.deadlines.push(at, Owner { key, id: e.conn.id() });
            e.queued = Some(at);
        }
    }

    pub(super) fn resume_yielded(&mut self) {
        let mut keys = std::mem::take(&mut self.yielded);
        for &key in &keys {
            self.drive(key, |conn, io, cx| conn.resume(io, cx));
        }
        keys.clear();
        if self.yielded.is_empty() {
            self.yielded = keys; // keep the allocation
        }
    }
}

/// Registers the interest connection `key`'s state wants, the first time
/// it must wait for an event or when it changed. False if it could not be
/// registered at all: never watched, it would wait for nothing.
fn register(poll: &Poll, key: usize, e: &mut Entry) -> bool {
    let Some(want) = interest(e.conn.want()).filter(|&w| Some(w) != e.registered) else { return true };
    let registry = poll.registry();
    let first = e.registered.is_none();
    let (what, done) = if first {
        ("register", registry.register(&mut e.stream, Token(key), want))
    } else {
        ("reregister", registry.reregister(&mut e.stream, Token(key), want))
    };
    log::trace!(conn = e.conn.id(), read = want.is_readable(), write = want.is_writable(); "{what}");
    match done {
        Ok(()) => e.registered = Some(want),
        Err(err) if first => {
            e.conn.on_io_error("register", &err);
            return false;
        }
        Err(err) => log::warn!(conn = e.conn.id(), error:% = err; "reregister failed"),
    }
    true
}

/// mio cannot register "nothing"; a connection that wants nothing (it is
/// about to close, or yielded) keeps its current registration.
fn interest(want: Want) -> Option<Interest> {
    match (want.read, want.write) {
        (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, true) => Some(Interest::WRITABLE),
        (false, false) => None,
    }
}
