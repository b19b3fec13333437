//! Accepting: take new connections until `WouldBlock`, the connection
//! limit, or a resource error, and admit each one to the slab with its id.
//! [`Accepting`] says whether the loop takes connections now, and if not,
//! why and until when.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::{Entry, Worker};
use crate::conn::Conn;
use crate::error::{interrupted, would_block};
use crate::listener::NOTSENT_LOWAT;
use crate::routes::Face;

/// Connections taken per listener per pass. Each one is read and often
/// answered at once, so a flood of new connections would otherwise keep the
/// loop in `accept` for as long as it lasts, and every open connection,
/// deadline and signal would wait. The rest are taken on the next pass,
/// after the other events (nginx's `multi_accept off` takes one).
pub(super) const ACCEPT_BATCH: usize = 64;

/// After EMFILE and friends, wait this long before accepting again rather
/// than spinning on a listener that stays readable.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Whether the loop takes new connections, and if not, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accepting {
    /// Accepting. `warned`: an accept error was warned about and none has
    /// succeeded since, so repeats of this episode are logged at debug.
    Open { warned: bool },
    /// The connection limit is reached: the kernel backlog holds the rest
    /// until a connection closes.
    AtLimit { warned: bool },
    /// Accepting failed for lack of resources (EMFILE, ENFILE, ENOBUFS...):
    /// the listener stays readable, so wait until then instead of spinning.
    Backoff { until: Instant },
    /// Draining: the listeners are closed for good.
    Closed,
}

impl Worker {
    /// Accepts from every listener until `WouldBlock`, the connection
    /// limit, a resource error, or [`ACCEPT_BATCH`] connections (then
    /// `accept_left` says to go on next pass).
    pub(super) fn accept(&mut self) {
        for i in 0..self.listeners.len() {
            self.accept_from(Some(i));
        }
        self.accept_metrics();
    }

    /// Accepts on `--metrics-addr`'s listener, if this worker has it.
    fn accept_metrics(&mut self) {
        if self.metrics_listener.is_some() {
            self.accept_from(None);
        }
    }

    /// Accepts from public listener `i`, or from the metrics listener (None).
    fn accept_from(&mut self, i: Option<usize>) {
        for _ in 0..ACCEPT_BATCH {
            let warned = match self.accepting {
                Accepting::Backoff { .. } | Accepting::Closed => return,
                Accepting::Open { warned } | Accepting::AtLimit { warned } => warned,
            };
            if self.conns.len() >= self.max_connections {
                self.accepting = Accepting::AtLimit { warned };
                return;
            }
            let (listener, face) = match i {
                Some(i) => (&self.listeners[i], Face::Public),
                None => match &self.metrics_listener {
                    Some(l) => (l, Face::Metrics),
                    None => return,
                },
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if warned {
                        log::info!("accepting again");
                    }
                    self.accepting = Accepting::Open { warned: false };
                    self.admit(stream, peer, face);
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => {}
                // The client gave up before we accepted: not our problem.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS...: back off; never end the loop.
                    // Warn once per episode, not every backoff.
                    if warned {
                        log::debug!(error:% = e; "accept failed; pausing accepts for {ACCEPT_BACKOFF:?}");
                    } else {
                        log::warn!(error:% = e; "accept failed; pausing accepts for {ACCEPT_BACKOFF:?} (repeats logged at debug)");
                    }
                    self.accepting = Accepting::Backoff { until: Instant::now() + ACCEPT_BACKOFF };
                }
            }
        }
        // A whole batch: more may be waiting, and no new edge will say so.
        self.accept_left = true;
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, face: Face) {
        // Linux copies TCP_NODELAY from the listener to accepted sockets;
        // the first connection checks that, and only where it is not so
        // does every connection pay a setsockopt.
        let inherited = *self.nodelay_inherited.get_or_insert_with(|| stream.nodelay().unwrap_or(false));
        self.last_id += 1;
        let id = self.last_id;
        if !inherited && let Err(e) = stream.set_nodelay(true) {
            log::debug!(conn = id, peer:% = peer, error:% = e; "set_nodelay failed");
        }
        // The pass may have run a while serving the connections accepted
        // before this one (each is read at once, below): its request must
        // not be timed from before it arrived.
        self.cx.now = Instant::now();
        let conn = Conn::accepted(id, self.cx.now, peer.ip(), face);
        self.cx.observe.count(|m| m.accepted());
        let key = self.conns.insert(Entry::new(stream, conn, peer, NOTSENT_LOWAT));
        log::debug!(conn = id, peer:% = peer; "open");
        // Read at once instead of registering and waiting for the first
        // readable event: a client usually sends its request right behind
        // the handshake, so it is often here already. A connection answered
        // and closed within this call (`Connection: close`) then costs no
        // `epoll_ctl` at all; one that must wait is registered in `after`,
        // and registering reports readiness that arrived in between.
        self.drive(key, |conn, io, cx| conn.on_ready(io, true, false, cx));
    }
}
