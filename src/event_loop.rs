//! The event loop: the only module that touches mio.
//!
//! Each worker owns a `Poll`, its listener, a `Slab` of connections keyed
//! by token, and the deadlines. One pass of the loop ([`Worker::run`]):
//!
//! 1. poll, with the nearest deadline as the timeout (zero if some
//!    connection yielded with work left, or a listener may hold more);
//! 2. read the clock once and refresh the cached `Date`;
//! 3. for each event, drive that connection; then, if a listener was
//!    readable or a full batch left some last pass, accept until
//!    `WouldBlock` or a batch per listener;
//! 4. resume connections that yielded to be fair to others;
//! 5. handle expired deadlines;
//! 6. remove connections that closed during the pass (deferred, as in
//!    redis ae, so no handler frees what a later event in the batch names),
//!    and resume accepting if the connection limit had paused it;
//! 7. hand the access log's batch to its writer if it is due, and count
//!    the pass (events, busy time) for `/metrics`;
//! 8. while draining (after SIGTERM/SIGINT, see [`drain`]): stop once no
//!    connection is left or at the shutdown timeout.
//!
//! With `--metrics-addr`, worker 0 also owns that listener: connections
//! from it are the same kind of [`Conn`], routed to `/metrics` and
//! `/healthz` only ([`crate::routes::Face::Metrics`]).
//!
//! `impl Worker` is split: taking and admitting connections is in
//! `accept.rs` (with the [`accept::Accepting`] state), the drain in
//! `drain.rs`, the unsent mark of large downloads in `streams.rs`; the
//! pass, driving connections and deadlines are here.

mod accept;
mod drain;
mod streams;

use accept::Accepting;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::Config;
use crate::conn::{Conn, Transport, Want};
use crate::context::{Context, Settings};
use crate::deadlines::{Deadlines, Owner};
use crate::error::interrupted;
use crate::inflight::Observer;
use crate::lifecycle::{Lifecycle, Outcome};
use crate::routes::Routes;
use crate::sys;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);
const METRICS_LISTENER: Token = Token(usize::MAX - 4);
/// Readiness events taken per poll.
const EVENTS_CAPACITY: usize = 1024;
/// Stale deadline entries tolerated beyond two per connection before the
/// heap is compacted (see [`Deadlines::retain`]).
const DEADLINE_SLACK: usize = 1024;

/// Wakes one worker's `poll` from another thread (to make it see the stop
/// flag), so that [`crate::server::Handle`] needs no mio type.
#[derive(Clone)]
pub struct LoopWaker(Arc<Waker>);

impl LoopWaker {
    pub fn wake(&self) -> io::Result<()> {
        self.0.wake()
    }
}

/// A connection's slot in the slab.
struct Entry {
    stream: TcpStream,
    conn: Conn,
    peer: SocketAddr,
    /// The interest currently registered (re-registered only on change);
    /// `None` until the first time the connection waits for an event.
    registered: Option<Interest>,
    /// The earliest deadline this connection has in the heap.
    queued: Option<Instant>,
    /// Its `TCP_NOTSENT_LOWAT` as last set (the listener's to begin with).
    mark: u32,
    /// Sending a large file: listed in `Worker::streamers`.
    streaming: bool,
}

impl Transport for TcpStream {
    fn send_file(&mut self, file: &std::fs::File, offset: u64, len: usize) -> io::Result<usize> {
        sys::sendfile(self.as_raw_fd(), file, offset, len)
    }

    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send_more(self.as_raw_fd(), buf)
    }

    fn cork(&mut self, on: bool) -> io::Result<()> {
        socket2::SockRef::from(&*self).set_tcp_cork(on)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// One independent event loop.
pub struct Worker {
    poll: Poll,
    waker: Arc<Waker>,
    /// A duplicate of each listening socket the process serves (shared
    /// with the other workers: one accept queue). All share one token: any of them readable
    /// means "accept from each until `WouldBlock`". Empty once draining.
    listeners: Vec<TcpListener>,
    /// `--metrics-addr`'s listener (worker 0 only; dropped when draining).
    metrics_listener: Option<TcpListener>,
    /// SIGTERM, SIGINT and SIGUSR1, when this worker listens for them.
    signals: Option<Signals>,
    lifecycle: Lifecycle,
    conns: Slab<Entry>,
    deadlines: Deadlines,
    cx: Context,
    max_connections: usize,
    /// The id of the last connection accepted: ids are serial numbers, so
    /// unlike slab keys they are never reused.
    last_id: u64,
    accepting: Accepting,
    /// A listener gave a whole batch: take more next pass, without waiting.
    accept_left: bool,
    yielded: Vec<usize>,
    closed: Vec<usize>,
    /// Connections sending a large file now (see [`streams`]).
    streamers: Vec<usize>,
    stop: Arc<AtomicBool>,
    /// Whether accepted sockets come with the listener's TCP_NODELAY
    /// (learnt from the first one).
    nodelay_inherited: Option<bool>,
}

impl Worker {
    pub fn new(
        ls: Vec<std::net::TcpListener>,
        config: &Config,
        routes: Routes,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Worker> {
        Worker::with_observer(ls, None, config, routes, Observer::default(), stop)
    }

    /// A worker that logs and counts through `observe`, and also accepts on
    /// `metrics_listener` if given.
    pub fn with_observer(
        ls: Vec<std::net::TcpListener>,
        metrics_listener: Option<std::net::TcpListener>,
        config: &Config,
        routes: Routes,
        observe: Observer,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listeners = Vec::with_capacity(ls.len());
        for l in ls {
            let mut listener = TcpListener::from_std(l);
            poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
            listeners.push(listener);
        }
        let metrics_listener = match metrics_listener {
            Some(m) => {
                let mut m = TcpListener::from_std(m);
                poll.registry().register(&mut m, METRICS_LISTENER, Interest::READABLE)?;
                Some(m)
            }
            None => None,
        };
        let mut cx = Context::new(routes, Settings::from_config(config));
        cx.observe = observe;
        Ok(Worker {
            poll,
            waker,
            listeners,
            metrics_listener,
            signals: None,
            lifecycle: Lifecycle::new(config.drain_grace, config.shutdown_timeout),
            conns: Slab::with_capacity(64),
            deadlines: Deadlines::default(),
            cx,
            max_connections: config.max_connections,
            last_id: 0,
            accepting: Accepting::Open { warned: false },
            accept_left: false,
            yielded: Vec::new(),
            closed: Vec::new(),
            streamers: Vec::new(),
            stop,
            nodelay_inherited: None,
        })
    }

    pub fn waker(&self) -> LoopWaker {
        LoopWaker(self.waker.clone())
    }

    /// Runs until stopped by the [`crate::Handle`], or by signals: then
    /// says how (drained, timed out, or cut short).
    pub fn run(mut self) -> io::Result<Outcome> {
        let outcome = self.run_passes();
        // However the loop ends, requests still in flight are reported
        // (499) and the access log's last lines handed to its writer.
        for (_, e) in self.conns.iter_mut() {
            e.conn.finish(&mut self.cx);
        }
        self.cx.observe.log.finish();
        outcome
    }

    fn run_passes(&mut self) -> io::Result<Outcome> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        while !self.stop.load(Ordering::Relaxed) {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if interrupted(&e) {
                    continue;
                }
                return Err(e);
            }
            let woke = Instant::now();
            self.cx.now = woke;
            let wall = SystemTime::now();
            self.cx.date.refresh(wall);
            self.cx.observe.log.set_time(wall);
            if log::log_enabled!(log::Level::Trace) {
                log::trace!(events = events.iter().count(), timeout:% = Timeout(timeout); "wake");
            }
            // Accepting comes after the other events, once per pass: what a
            // full batch left in the queue last pass, and what is new.
            let mut accept = std::mem::take(&mut self.accept_left);
            for event in events.iter() {
                match event.token() {
                    LISTENER | METRICS_LISTENER => accept = true,
                    WAKER => {}
                    SIGNALS => {
                        if let Some(outcome) = self.on_signals() {
                            return Ok(outcome);
                        }
                    }
                    Token(key) => {
                        // Errors and hang-ups count as both: the next read or
                        // write reports what happened.
                        let hup = event.is_read_closed();
                        let bad = event.is_error() || hup || event.is_write_closed();
                        let (r, w) = (event.is_readable() || bad, event.is_writable() || bad);
                        if log::log_enabled!(log::Level::Trace) {
                            self.trace_event(event);
                        }
                        self.drive(key, |conn, io, cx| {
                            if hup {
                                conn.on_read_closed();
                            }
                            conn.on_ready(io, r, w, cx)
                        });
                    }
                }
            }
            if accept {
                self.accept();
            }
            self.resume_yielded();
            self.expire();
            self.remove_closed();
            if let Accepting::Backoff { until } = self.accepting
                && until <= self.cx.now
            {
                self.accepting = Accepting::Open { warned: true };
                self.accept();
            }
            self.after_pass(woke, events.iter().count());
            if let Some(outcome) = self.drained() {
                return Ok(outcome);
            }
        }
        Ok(Outcome::Stopped)
    }

    /// Step 7: the access log's batch, and the pass's figures.
    fn after_pass(&mut self, woke: Instant, events: usize) {
        let end = Instant::now();
        self.cx.observe.log.tick(end);
        let busy = end.saturating_duration_since(woke);
        self.cx.observe.count(|m| m.pass(events, busy));
    }

    fn trace_event(&self, event: &mio::event::Event) {
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

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.yielded.is_empty() || self.accept_left {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let retry = match self.accepting {
            Accepting::Backoff { until } => Some(until.saturating_duration_since(now)),
            _ => None,
        };
        let shutdown = self.lifecycle.deadline().map(|t| t.saturating_duration_since(now));
        // Lines waiting in the access log's buffer go out on time even if
        // nothing else happens.
        let log = self.cx.observe.log.deadline().map(|t| t.saturating_duration_since(now));
        [self.deadlines.timeout(now), retry, shutdown, log].into_iter().flatten().min()
    }

    /// Runs `f` on connection `key`, then reconciles interest and deadline.
    fn drive(&mut self, key: usize, f: impl FnOnce(&mut Conn, &mut TcpStream, &mut Context)) {
        let Some(e) = self.conns.get_mut(key) else { return };
        if e.conn.is_closed() {
            return; // removed at the end of this pass
        }
        f(&mut e.conn, &mut e.stream, &mut self.cx);
        self.after(key);
    }

    /// After a connection ran: closed → queue removal; otherwise register
    /// the interest its state wants (the first time it must wait for an
    /// event, or when it changed) and its deadline.
    fn after(&mut self, key: usize) {
        self.note_streaming(key);
        let e = &mut self.conns[key];
        if e.conn.is_closed() {
            self.closed.push(key);
            return;
        }
        if let Some(want) = interest(e.conn.want())
            && Some(want) != e.registered
        {
            let registry = self.poll.registry();
            let first = e.registered.is_none();
            let (what, done) = if first {
                ("register", registry.register(&mut e.stream, Token(key), want))
            } else {
                ("reregister", registry.reregister(&mut e.stream, Token(key), want))
            };
            log::trace!(conn = e.conn.id(), read = want.is_readable(), write = want.is_writable(); "{what}");
            match done {
                Ok(()) => e.registered = Some(want),
                // Never watched, it would wait for nothing: close it now.
                Err(err) if first => {
                    e.conn.on_io_error("register", &err);
                    self.closed.push(key);
                    return;
                }
                Err(err) => log::warn!(conn = e.conn.id(), error:% = err; "reregister failed"),
            }
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

    fn resume_yielded(&mut self) {
        let mut keys = std::mem::take(&mut self.yielded);
        for &key in &keys {
            self.drive(key, |conn, io, cx| conn.resume(io, cx));
        }
        keys.clear();
        if self.yielded.is_empty() {
            self.yielded = keys; // keep the allocation
        }
    }

    /// Pops due deadlines. An entry that is not the connection's current
    /// one is stale and dropped; a current one is checked against the real
    /// deadline, which may have moved later since it was queued.
    fn expire(&mut self) {
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

    fn remove_closed(&mut self) {
        for key in self.closed.drain(..) {
            if self.conns.get(key).is_some_and(|e| e.conn.is_closed()) {
                // No EPOLL_CTL_DEL: closing the socket (dropping the entry)
                // removes it from epoll, as no other descriptor shares it.
                // Its token cannot come back this pass: the batch is done.
                let mut e = self.conns.remove(key);
                e.conn.finish(&mut self.cx);
                let reason = e.conn.close_reason().map_or("", |r| r.as_str());
                log::debug!(conn = e.conn.id(), peer:% = e.peer, reason = reason; "close");
            }
        }
        if self.deadlines.len() > 2 * self.conns.len() + DEADLINE_SLACK {
            let conns = &self.conns;
            self.deadlines
                .retain(|at, o| conns.get(o.key).is_some_and(|e| e.conn.id() == o.id && e.queued == Some(at)));
        }
        if let Accepting::AtLimit { warned } = self.accepting
            && self.conns.len() < self.max_connections
        {
            self.accepting = Accepting::Open { warned };
            self.accept();
        }
    }
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

/// A poll timeout as the trace shows it: `none` (wait for an event) or a
/// duration.
struct Timeout(Option<Duration>);

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(d) => write!(f, "{d:?}"),
        }
    }
}
