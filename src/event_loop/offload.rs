//! The loop's side of the blocking-I/O pool ([`crate::blocking`]): jobs a
//! connection queued in `cx.blocking` go to the pool tagged with the
//! connection's key and id, and outcomes come back when the pool's threads
//! wake the loop through its `mio::Waker` (the `WAKER` token).

use super::Worker;
use crate::deadlines::Owner;

impl Worker {
    /// Hands the jobs connection `key` just queued to the pool. A full
    /// queue keeps them in the pool's waiting list: never refused, never
    /// waited for here.
    pub(super) fn offload(&mut self, key: usize) {
        for (id, job) in self.cx.blocking.take() {
            log::trace!(conn = id; "offloaded to the blocking-I/O pool");
            self.pool.submit(Owner { key, id }, job);
        }
    }

    /// After the waker's event: each outcome goes to its connection if it
    /// is still the one that asked (a key is reused, an id never is).
    pub(super) fn collect_done(&mut self) {
        let mut done = std::mem::take(&mut self.done);
        self.pool.take_done(&mut done);
        for (owner, outcome) in done.drain(..) {
            if self.conns.get(owner.key).is_some_and(|e| e.conn.id() == owner.id) {
                log::trace!(conn = owner.id; "blocking-I/O job done");
                self.drive(owner.key, |conn, io, cx| conn.on_done(outcome, io, cx));
            }
        }
        self.done = done; // keep the allocation
    }
}
