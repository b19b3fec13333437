//! Large downloads: the socket's unsent mark (`TCP_NOTSENT_LOWAT`) follows
//! how many connections are sending a large file at the same time.
//!
//! Every accepted socket inherits [`NOTSENT_LOWAT`] (256 KiB) from the
//! listener. With several downloads at once that small mark wins: the bytes
//! leave inside our `sendfile`, on our core, instead of waiting in the
//! socket for the client's ACKs and being sent from the client's core
//! (docs/PERFORMANCE.md, large files). With a single download it loses: the
//! client's core has time to spare, and the stream goes faster when the
//! kernel may queue the whole send buffer, so both cores carry it, and the
//! connection wakes the loop far less often. So while exactly one
//! connection sends a large file, its socket gets the system's default
//! (no mark); as soon as a second one starts, both get the small mark.
//!
//! A `setsockopt` happens only when a sending connection's mark must
//! change: when a download starts alone, or when the count of senders
//! crosses between one and two.

use super::Worker;
use crate::listener::NOTSENT_LOWAT;

/// A connection counts as sending a large file while more than this many
/// bytes of it are still to go: below it the mark makes no difference.
const LARGE_LEFT: u64 = NOTSENT_LOWAT as u64;

/// `TCP_NOTSENT_LOWAT` 0: the system's default (`net.ipv4.tcp_notsent_lowat`,
/// unlimited unless set), so the send buffer bounds the queue.
const NO_MARK: u32 = 0;

impl Worker {
    /// After connection `key` ran: notes whether it is sending a large
    /// file now, and sets the marks this changes.
    pub(super) fn note_streaming(&mut self, key: usize) {
        let e = &mut self.conns[key];
        let now = !e.conn.is_closed() && e.conn.file_left() > LARGE_LEFT;
        if now == e.streaming {
            return;
        }
        e.streaming = now;
        if now {
            self.streamers.push(key);
        } else {
            self.streamers.retain(|&k| k != key);
        }
        let mark = if self.streamers.len() == 1 { NO_MARK } else { NOTSENT_LOWAT };
        // Only a sender's mark matters; a connection that stopped sending
        // keeps its mark until it sends a large file again.
        match (now, self.streamers.len()) {
            (_, 1) => self.set_mark(self.streamers[0], mark),
            (true, 2) => {
                self.set_mark(self.streamers[0], mark);
                self.set_mark(self.streamers[1], mark);
            }
            (true, _) => self.set_mark(key, mark),
            (false, _) => {}
        }
    }

    fn set_mark(&mut self, key: usize, mark: u32) {
        let e = &mut self.conns[key];
        if e.mark == mark {
            return;
        }
        log::trace!(conn = e.conn.id(), notsent_lowat = mark, senders = self.streamers.len(); "send mark");
        match socket2::SockRef::from(&e.stream).set_tcp_notsent_lowat(mark) {
            Ok(()) => e.mark = mark,
            Err(err) => log::debug!(conn = e.conn.id(), error:% = err; "setting TCP_NOTSENT_LOWAT failed"),
        }
    }
}
