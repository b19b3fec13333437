//! Signals as loop events, and the drain they start (the design and the
//! keep-alive race it avoids: `docs/ARCHITECTURE.md`, section 13). What a
//! signal means is decided in [`crate::lifecycle`]; here the loop acts.

use std::io;
use std::sync::Arc;

use mio::Interest;
use signal_hook_mio::v1_0::Signals;

use super::{Accepting, SIGNALS, Worker};
use crate::lifecycle::{self, Action, Outcome};
use crate::upgrade::Handover;

impl Worker {
    /// Hears SIGTERM, SIGINT and SIGUSR1 from now on. Each worker has its
    /// own `Signals`: signal-hook runs every registered handler, so every
    /// loop is told, and a handler only writes to a pipe this poll watches.
    pub fn listen_for_signals(&mut self) -> io::Result<()> {
        let mut signals = Signals::new(lifecycle::SIGNALS)?;
        self.poll.registry().register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Shares `handover` with the process: it may ask this loop to drain
    /// (through the waker), and draining closes its spare sockets.
    pub fn share_handover(&mut self, handover: Arc<Handover>) {
        self.handover = Some(handover);
    }

    /// The waker fired: the handle may have set the stop flag (seen by the
    /// loop's condition) or the process asked for a drain.
    pub(super) fn on_wake(&mut self) {
        if self.handover.as_ref().is_some_and(|h| h.drain_asked())
            && self.lifecycle.ask_drain(self.cx.now) == Action::StartDrain
        {
            // The process logged why (an upgrade, or an early signal).
            self.start_drain("asked");
        }
    }

    /// Acts on the signals that arrived; Some when the loop must end now.
    pub(super) fn on_signals(&mut self) -> Option<Outcome> {
        let pending: Vec<i32> = self.signals.as_mut()?.pending().collect();
        for signal in pending {
            match self.lifecycle.on_signal(signal, self.cx.now) {
                Action::StartDrain => self.start_drain(lifecycle::name(signal)),
                Action::StopNow => {
                    // Dropping the loop drops every connection: sockets
                    // close, an upload in flight removes its temporary file.
                    let cut = self.conns.len();
                    log::warn!(signal = lifecycle::name(signal), cut = cut; "stopping now, cutting every connection");
                    return Some(Outcome::Forced { signal });
                }
                // Lines handed over before this go to the old file, later
                // ones (this loop's buffer included) to the new one.
                Action::ReopenLog => {
                    if !self.cx.observe.log.reopen() {
                        log::info!(signal = lifecycle::name(signal); "no access log file to reopen");
                    }
                }
                Action::Ignore => {}
            }
        }
        None
    }

    /// Stops accepting; from now on every answer closes its connection and
    /// idle connections close after the grace (both decided in `conn`).
    fn start_drain(&mut self, why: &str) {
        // The process's spare duplicates first, so that the loops' own
        // descriptors are the last and their final accept below leaves
        // nothing behind (a new process of an upgrade holds the sockets
        // already and takes every later connection).
        if let Some(h) = &self.handover {
            h.close();
        }
        // Take what the kernel already queued for us: closing the last
        // descriptor of a listener resets the connections in its queue.
        // All of it, batch after batch (bounded by the connection limit).
        self.accept();
        while std::mem::take(&mut self.accept_left) {
            self.accept();
        }
        self.accepting = Accepting::Closed;
        // The metrics listener closes too: the process is on its way out.
        self.metrics_listener = None;
        for mut l in std::mem::take(&mut self.listeners) {
            // Explicit: a passed socket is shared (other workers, the next
            // process), and epoll forgets it only when every fd is closed.
            if let Err(e) = self.poll.registry().deregister(&mut l) {
                log::warn!(error:% = e; "deregistering a listener failed");
            }
        }
        self.cx.drain = self.lifecycle.drain();
        log::info!(
            why = why,
            open = self.conns.len(),
            grace:? = self.lifecycle.grace(),
            timeout:? = self.lifecycle.timeout();
            "draining: stopped accepting; each connection closes when done, or idle for the grace"
        );
        // Idle connections now have an earlier deadline: queue it.
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in keys {
            self.after(key);
        }
    }

    /// While draining: the outcome once no connection is left, or at the
    /// shutdown timeout (cutting what is left); None otherwise.
    pub(super) fn drained(&self) -> Option<Outcome> {
        let deadline = self.lifecycle.deadline()?;
        if self.conns.is_empty() {
            log::info!("drained: every connection finished; stopping");
            return Some(Outcome::Drained);
        }
        if self.cx.now >= deadline {
            let cut = self.conns.len();
            log::warn!(cut = cut; "shutdown timeout: cutting the connections left");
            return Some(Outcome::TimedOut { cut });
        }
        None
    }
}
