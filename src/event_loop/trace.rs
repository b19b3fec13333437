//! What the loop says at `trace` level: each readiness event, and the poll
//! timeout of each wake-up.

use std::time::Duration;

use mio::Token;

use super::Worker;

impl Worker {
    pub(super) fn trace_event(&self, event: &mio::event::Event) {
        let Token(key) = event.token();
        let Some(id) = self.conns.get(key).map(|e| e.conn.id()) else { return };
        log::trace!(
            conn = id,
            token = key,
            readable = event.is_readable(),
            writable = event.is_writable(),
            hup = event.is_read_closed() || event.is_write_closed(),
            error = event.is_error();
            "event"
        );
    }
}

/// A poll timeout as the trace shows it: `none` (wait for an event) or a
/// duration.
pub(super) struct Timeout(pub(super) Option<Duration>);

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(d) => write!(f, "{d:?}"),
        }
    }
}
