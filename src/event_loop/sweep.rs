//! The end of a pass: expired deadlines fired, and the connections that
//! closed during the pass removed (deferred, as in redis ae, so no handler
//! frees what a later event in the batch names).

use super::accept::Accepting;
use super::{DEADLINE_SLACK, Worker};

impl Worker {
    /// Pops due deadlines. An entry that is not the connection's current
    /// one is stale and dropped; a current one is checked against the real
    /// deadline, which may have moved later since it was queued.
    pub(super) fn expire(&mut self) {
        let now = self.cx.now;
        while let Some((at, owner)) = self.deadlines.pop_due(now) {
            let Some(e) = self.conns.get_mut(owner.key) else { continue };
            if e.conn.id() != owner.id || e.queued != Some(at) {
                continue;
            }
            e.queued = None;
            // `due=false`: the deadline moved later since it was queued; the
            // connection only re-queues it (see `deadlines.rs`).
            log::trace!(conn = owner.id, due = e.conn.deadline(&self.cx).is_some_and(|d| d <= now); "deadline");
            self.drive(owner.key, |conn, io, cx| conn.on_timeout(io, cx));
        }
    }

    pub(super) fn remove_closed(&mut self) {
        for key in self.closed.drain(..) {
            if self.conns.get(key).is_some_and(|e| e.conn.is_closed()) {
                // No EPOLL_CTL_DEL: closing the socket (dropping the entry)
                // removes it from epoll, as no other descriptor shares it.
                // Its token cannot come back this pass: the batch is done.
                let mut e = self.conns.remove(key);
                e.conn.finish(&mut self.cx);
                let reason = e.conn.close_reason().map_or("", |r| r.as_str());
                log::debug!(conn = e.conn.id(), peer:% = e.peer(), reason = reason; "close");
            }
        }
        if self.deadlines.len() > 2 * self.conns.len() + DEADLINE_SLACK {
            let conns = &self.conns;
            self.deadlines
                .retain(|at, o| conns.get(o.key).is_some_and(|e| e.conn.id() == o.id && e.queued == Some(at)));
        }
        // Accepting resumes in the next pass's accept step (at once: the
        // poll does not wait while `accept_left`), not here: a connection
        // admitted here and finished at once would not be removed, nor its
        // socket closed, until some later event woke the loop.
        if let Accepting::AtLimit { warned } = self.accepting
            && self.conns.len() < self.max_connections
        {
            self.accepting = Accepting::Open { warned };
            self.accept_left = true;
        }
    }
}
