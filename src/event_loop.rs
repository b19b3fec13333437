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
//! 8. while draining (after SIGTERM/SIGINT, see [`signals`]): stop once no
//!    connection is left or at the shutdown timeout.
//!
//! With `--metrics-addr`, worker 0 also owns that listener: connections
//! from it are the same kind of [`crate::conn::Conn`], routed to `/metrics` and
//! `/healthz` only ([`crate::routes::Face::Metrics`]).
//!
//! `impl Worker` is split by concern, one room each:
//!
//! | file | what it holds |
//! |---|---|
//! | `event_loop.rs` | the worker, its construction, the pass (steps 1–8), the poll timeout |
//! | `accept.rs` | taking and admitting connections (step 3), with the [`accept::Accepting`] state |
//! | `drive.rs` | running one connection, then registering its interest and deadline |
//! | `offload.rs` | handing jobs to the blocking-I/O pool and their outcomes back to the connections |
//! | `sweep.rs` | expired deadlines (step 5) and removing closed connections (step 6) |
//! | `signals.rs` | signals as loop events: the drain, stopping at once, reopening the access log |
//! | `unsent_mark.rs` | the `TCP_NOTSENT_LOWAT` mark of connections sending a large file |
//! | `entry.rs` | a connection's slot in the slab; the socket as a [`crate::conn::Transport`] |
//! | `trace.rs` | what the loop says at `trace` level |

mod accept;
mod drive;
mod entry;
mod offload;
mod signals;
mod sweep;
mod trace;
mod unsent_mark;

use accept::Accepting;
use entry::Entry;
use trace::Timeout;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::blocking::{Blocking, Done, Pool};
use crate::config::Config;
use crate::context::Context;
use crate::deadlines::{Deadlines, Owner};
use crate::error::interrupted;
use crate::inflight::Observer;
use crate::lifecycle::{Lifecycle, Outcome};
use crate::routes::Routes;
use crate::setup::Settings;
use crate::upgrade::Handover;

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

/// A listening socket, registered with `poll` under `token`.
fn listen(poll: &Poll, l: std::net::TcpListener, token: Token) -> io::Result<TcpListener> {
    let mut listener = TcpListener::from_std(l);
    poll.registry().register(&mut listener, token, Interest::READABLE)?;
    Ok(listener)
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
    /// Connections sending a large file now (see [`unsent_mark`]).
    streamers: Vec<usize>,
    stop: Arc<AtomicBool>,
    /// Shared with the other loops and the process: a drain asked for
    /// without a signal (an upgrade handed over), and the sockets' spare
    /// duplicates, closed when draining (see [`crate::upgrade`]).
    handover: Option<Arc<Handover>>,
    /// Whether accepted sockets come with the listener's TCP_NODELAY
    /// (learnt from the first one).
    nodelay_inherited: Option<bool>,
    /// Threads for calls that can wait on the disk (see [`offload`]).
    pool: Pool,
    /// Outcomes taken from the pool, kept to reuse the allocation.
    done: Vec<(Owner, Done)>,
    /// When the last pass ended (or the loop began, or a poll was
    /// interrupted): the poll timeout is counted from it, with no clock
    /// read of its own, as only the drain check runs in between.
    pass_end: Instant,
}

impl Worker {
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
        let listeners = ls.into_iter().map(|l| listen(&poll, l, LISTENER)).collect::<io::Result<_>>()?;
        let metrics_listener = metrics_listener.map(|m| listen(&poll, m, METRICS_LISTENER)).transpose()?;
        let mut cx = Context::new(routes, Settings::from_config(config));
        cx.observe = observe;
        cx.blocking = Blocking::Offload(Vec::new());
        let wake = waker.clone();
        // A failed wake leaves the outcome for the next pass, which the
        // deadlines bound; nothing else can be done from the pool's thread.
        let pool = Pool::new(config.io_threads, "loophttp", move || drop(wake.wake()))?;
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
            handover: None,
            nodelay_inherited: None,
            pool,
            done: Vec::new(),
            pass_end: Instant::now(),
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
        self.pass_end = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if interrupted(&e) {
                    // The wait took time: the next timeout counts from now.
                    self.pass_end = Instant::now();
                    continue;
                }
                return Err(e);
            }
            let woke = self.read_clock();
            if log::log_enabled!(log::Level::Trace) {
                log::trace!(events = events.iter().count(), timeout:% = Timeout(timeout); "wake");
            }
            // Accepting comes after the other events, once per pass: what a
            // full batch left in the queue last pass, and what is new.
            let mut accept = std::mem::take(&mut self.accept_left);
            for event in events.iter() {
                match event.token() {
                    LISTENER | METRICS_LISTENER => accept = true,
                    // The stop flag (checked each pass), a drain asked for
                    // by the upgrade, or the blocking-I/O pool's outcomes.
                    WAKER => {
                        self.on_wake();
                        self.collect_done();
                    }
                    SIGNALS => {
                        if let Some(outcome) = self.on_signals() {
                            return Ok(outcome);
                        }
                    }
                    Token(key) => self.on_conn_event(key, event),
                }
            }
            if accept {
                self.accept();
            }
            if let Some(outcome) = self.end_pass(woke, events.iter().count()) {
                return Ok(outcome);
            }
        }
        Ok(Outcome::Stopped)
    }

    /// Step 2: the clock, read once for the pass, and the cached `Date`
    /// and the access log's time with it. Returns when the loop woke.
    fn read_clock(&mut self) -> Instant {
        let woke = Instant::now();
        self.cx.now = woke;
        let wall = SystemTime::now();
        self.cx.date.refresh(wall);
        self.cx.observe.log.set_time(wall);
        woke
    }

    /// Step 3, for a connection's event: drive it.
    #[inline]
    fn on_conn_event(&mut self, key: usize, event: &Event) {
        // Errors and hang-ups count as both: the next read or write
        // reports what happened.
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

    /// Steps 4 to 8, after the events. Returns how the loop ended once a
    /// drain is over.
    fn end_pass(&mut self, woke: Instant, events: usize) -> Option<Outcome> {
        self.resume_yielded();
        self.expire();
        self.remove_closed();
        if let Accepting::Backoff { until } = self.accepting
            && until <= self.cx.now
        {
            self.accepting = Accepting::Open { warned: true };
            self.accept_left = true;
        }
        self.after_pass(woke, events);
        self.drained()
    }

    /// Step 7: the access log's batch, and the pass's figures.
    fn after_pass(&mut self, woke: Instant, events: usize) {
        let end = Instant::now();
        self.pass_end = end;
        self.cx.observe.log.tick(end);
        let busy = end.saturating_duration_since(woke);
        self.cx.observe.count(|m| m.pass(events, busy));
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.yielded.is_empty() || self.accept_left {
            return Some(Duration::ZERO);
        }
        let now = self.pass_end;
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
}
