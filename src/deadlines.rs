//! Deadlines owned by the loop (redis ae's timers): a min-heap of
//! (when, connection) entries. The poll timeout is the nearest entry, and
//! each pass pops only the expired ones: no per-tick scan of every connection.
//!
//! Entries are lazy. A connection's deadline usually moves *later* with
//! every request; rather than touch the heap each time, the old entry stays
//! and, when it fires, the loop asks the connection for its real deadline
//! and re-queues it. A new entry is pushed only when a deadline moves
//! *earlier* than the one already queued, so the heap holds a few entries per
//! connection at most and the hot path does no heap work.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Which connection an entry belongs to: its slab key and the connection id (a serial number),
/// so an entry left by a closed connection never fires for the next one
/// that reuses the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    pub key: usize,
    pub id: u64,
}

#[derive(Debug, Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, Owner)>>,
}

impl Deadlines {
    pub fn push(&mut self, at: Instant, owner: Owner) {
        self.heap.push(Reverse((at, owner)));
    }

    /// The poll timeout: time until the nearest entry (zero if already due).
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.heap.peek().map(|Reverse((at, _))| at.saturating_duration_since(now))
    }

    /// Removes and returns one entry that is due, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Owner)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops the entries `live` says are stale. Entries of closed
    /// connections otherwise wait until they fire (up to the keep-alive
    /// timeout), so under a high connection rate the loop compacts the heap
    /// once it outgrows the connections it serves: O(n), amortised O(1).
    pub fn retain(&mut self, mut live: impl FnMut(Instant, Owner) -> bool) {
        self.heap.retain(|Reverse((at, owner))| live(*at, *owner));
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_deadline_is_the_timeout_and_pops_in_order() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let a = Owner { key: 1, id: 1 };
        let b = Owner { key: 2, id: 2 };
        d.push(t0 + Duration::from_secs(5), a);
        d.push(t0 + Duration::from_secs(2), b);
        assert_eq!(d.timeout(t0), Some(Duration::from_secs(2)));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(1)), None);
        assert_eq!(d.pop_due(t0 + Duration::from_secs(3)).map(|e| e.1), Some(b));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(3)), None);
        assert_eq!(d.timeout(t0 + Duration::from_secs(9)), Some(Duration::ZERO));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(9)).map(|e| e.1), Some(a));
        assert!(d.is_empty());
    }

    #[test]
    fn retain_drops_stale_entries_and_keeps_the_order() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        for key in 0..10 {
            d.push(t0 + Duration::from_secs(10 - key as u64), Owner { key, id: 0 });
        }
        d.retain(|_, o| o.key % 2 == 0);
        assert_eq!(d.len(), 5);
        let order: Vec<usize> =
            std::iter::from_fn(|| d.pop_due(t0 + Duration::from_secs(99)).map(|e| e.1.key)).collect();
        assert_eq!(order, [8, 6, 4, 2, 0]);
    }
}
