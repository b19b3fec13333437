//! Large downloads: the socket's unsent mark (`TCP_NOTSENT_LOWAT`) follows
//! how many connections are sending a large file at the same time.
//!
//! Every accepted socket inherits [`NOTSENT_LOWAT`] (256 KiB) from the
//! listener. With a few downloads at once that small mark wins: the bytes
//! leave inside our `sendfile`, on our core, instead of waiting in the
//! socket for the client's ACKs and being sent from the client's core
//! (docs/PERFORMANCE.md, large files). With a single download it loses: the
//! client's core has time to spare, and the stream goes faster when the
//! kernel may queue the whole send buffer, so both cores carry it, and the
//! connection wakes the loop far less often. With many downloads it loses
//! too, in fairness: a sender then gets what its client's receive window
//! lets through per wake-up, windows grow where much was read already, and
//! some downloads starve while others finish again and again (64 at once:
//! 4 to 20 downloads per connection in 6 s, the slowest first download 4 s;
//! without the mark 5 to 8, as nginx, which sets no mark). So the mark is
//! on only while 2 to [`MARKED_SENDERS_MAX`] connections send a large file.
//!
//! A `setsockopt` happens only when a sending connection's mark must
//! change: when a download starts, or when the count of senders crosses
//! one of those bounds (then every sender's mark changes).

use super::Worker;
use crate::conn::Conn;
use crate::listener::NOTSENT_LOWAT;

/// A connection counts as sending a large file while more than this many
/// bytes of it are still to go: below it the mark makes no difference.
const LARGE_LEFT: u64 = NOTSENT_LOWAT as u64;

/// The most senders that still get the mark: beyond it the kernel queues
/// every stream's send buffer and the client's reading shares the bytes
/// out evenly (module doc).
const MARKED_SENDERS_MAX: usize = 8;

/// `TCP_NOTSENT_LOWAT` 0: the system's default (`net.ipv4.tcp_notsent_lowat`,
/// unlimited unless set), so the send buffer bounds the queue.
const NO_MARK: u32 = 0;

impl Worker {
    /// Connection `key` started (`now`) or stopped sending a large file
    /// (see [`sending_large_file`]): notes it, and sets the marks this
    /// changes.
    pub(super) fn note_streaming(&mut self, key: usize, now: bool) {
        self.conns[key].streaming = now;
        let before = mark_for(self.streamers.len());
        if now {
            self.streamers.push(key);
        } else {
            self.streamers.retain(|&k| k != key);
        }
        let mark = mark_for(self.streamers.len());
        // Only a sender's mark matters; a connection that stopped sending
        // keeps its mark until it sends a large file again.
        if mark != before {
            for i in 0..self.streamers.len() {
                self.set_mark(self.streamers[i], mark);
            }
        } else if now {
            self.set_mark(key, mark);
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

/// Whether `conn` counts as sending a large file now.
pub(super) fn sending_large_file(conn: &Conn) -> bool {
    !conn.is_closed() && conn.file_left() > LARGE_LEFT
}

/// The mark for every sender while `senders` connections send a large file.
fn mark_for(senders: usize) -> u32 {
    if (2..=MARKED_SENDERS_MAX).contains(&senders) { NOTSENT_LOWAT } else { NO_MARK }
}
