//! The event loop: the only module that touches mio.
//!
//! Each worker owns a `Poll`, its listener, a `Slab` of connections keyed
//! by token, and the deadlines. One pass of the loop:
//!
//! 1. poll, with the nearest deadline as the timeout (zero if some
//!    connection yielded with work left);
//! 2. read the clock once and refresh the cached `Date`;
//! 3. for each event: accept until `WouldBlock`, or drive that connection;
//! 4. resume connections that yielded to be fair to others;
//! 5. handle expired deadlines;
//! 6. remove connections that closed during the pass (deferred, as in
//!    redis ae, so no handler frees what a later event in the batch names),
//!    and resume accepting if the connection limit had paused it.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::config::Config;
use crate::conn::{Conn, Transport, Want};
use crate::deadlines::{Deadlines, Owner};
use crate::error::{interrupted, would_block};
use crate::files::FileStore;
use crate::listener;
use crate::routes::Routes;
use crate::shared::{Settings, Shared};
use crate::sys;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// Readiness events taken per poll.
const EVENTS_CAPACITY: usize = 1024;
/// Stale deadline entries tolerated beyond two per connection before the
/// heap is compacted (see [`Deadlines::retain`]).
const DEADLINE_SLACK: usize = 1024;
/// After EMFILE and friends, wait this long before accepting again rather
/// than spinning on a listener that stays readable.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Bound listeners, ready to run.
pub struct Server {
    listeners: Vec<std::net::TcpListener>,
    config: Arc<Config>,
    local_addr: SocketAddr,
    dual_stack: bool,
}

impl Server {
    /// Binds one listener per worker (with `SO_REUSEPORT` when several).
    pub fn bind(config: Config) -> io::Result<Server> {
        let workers = config.worker_count();
        let reuse_port = workers > 1;
        let first = listener::bind(config.host, config.port, config.backlog, reuse_port)?;
        let local_addr = first.listener.local_addr()?;
        let mut listeners = vec![first.listener];
        for _ in 1..workers {
            // Same port as the first (which may have been chosen by the kernel).
            let host = local_addr.ip();
            listeners.push(listener::bind(host, local_addr.port(), config.backlog, true)?.listener);
        }
        Ok(Server { listeners, config: Arc::new(config), local_addr, dual_stack: first.dual_stack })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// URLs a client can use, for the startup log line.
    pub fn urls(&self) -> Vec<String> {
        let port = self.local_addr.port();
        match self.local_addr.ip() {
            _ if self.dual_stack => vec![format!("http://127.0.0.1:{port}/"), format!("http://[::1]:{port}/")],
            ip if ip.is_unspecified() && ip.is_ipv4() => vec![format!("http://127.0.0.1:{port}/")],
            std::net::IpAddr::V6(ip) => vec![format!("http://[{ip}]:{port}/")],
            ip => vec![format!("http://{ip}:{port}/")],
        }
    }

    pub fn dual_stack(&self) -> bool {
        self.dual_stack
    }

    /// Starts every worker on its own thread.
    pub fn spawn(self) -> io::Result<Handle> {
        let stop = Arc::new(AtomicBool::new(false));
        let routes = Routes::new(self.config.directory.as_deref().map(FileStore::new).transpose()?);
        let mut wakers = Vec::new();
        let mut threads = Vec::new();
        for (i, l) in self.listeners.into_iter().enumerate() {
            let worker = Worker::new(l, &self.config, routes.clone(), stop.clone())?;
            wakers.push(worker.waker.clone());
            let thread = std::thread::Builder::new().name(format!("loophttp-{i}")).spawn(move || worker.run())?;
            threads.push(thread);
        }
        Ok(Handle { stop, wakers, threads })
    }

    /// Runs until every worker stops (normally: never).
    pub fn run(self) -> io::Result<()> {
        self.spawn()?.join()
    }
}

/// Controls running workers: stop them, wait for them.
pub struct Handle {
    stop: Arc<AtomicBool>,
    wakers: Vec<Arc<Waker>>,
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl Handle {
    /// Asks every loop to stop and waits for them.
    pub fn shutdown(self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            w.wake()?;
        }
        self.join()
    }

    fn join(self) -> io::Result<()> {
        for t in self.threads {
            t.join().map_err(|_| io::Error::other("worker panicked"))??;
        }
        Ok(())
    }
}

/// A connection's slot in the slab.
struct Entry {
    stream: TcpStream,
    conn: Conn,
    /// The interest currently registered (re-registered only on change).
    registered: Interest,
    serial: u64,
    /// The earliest deadline this connection has in the heap.
    queued: Option<Instant>,
}

impl Transport for TcpStream {
    fn send_file(&mut self, file: &std::fs::File, offset: u64, len: usize) -> io::Result<usize> {
        sys::sendfile(self.as_raw_fd(), file, offset, len)
    }

    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send_more(self.as_raw_fd(), buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// One independent event loop.
struct Worker {
    poll: Poll,
    waker: Arc<Waker>,
    listener: TcpListener,
    conns: Slab<Entry>,
    deadlines: Deadlines,
    shared: Shared,
    max_connections: usize,
    next_serial: u64,
    /// The connection limit was reached: accept again once one closes.
    accept_paused: bool,
    /// Accepting failed for lack of resources: retry at this time.
    accept_retry_at: Option<Instant>,
    /// An accept error was warned about and none has succeeded since.
    accept_failing: bool,
    yielded: Vec<usize>,
    closed: Vec<usize>,
    stop: Arc<AtomicBool>,
    /// Whether accepted sockets come with the listener's TCP_NODELAY
    /// (learnt from the first one).
    nodelay_inherited: Option<bool>,
}

impl Worker {
    fn new(l: std::net::TcpListener, config: &Config, routes: Routes, stop: Arc<AtomicBool>) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listener = TcpListener::from_std(l);
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Worker {
            poll,
            waker,
            listener,
            conns: Slab::with_capacity(64),
            deadlines: Deadlines::default(),
            shared: Shared::new(routes, Settings::from_config(config)),
            max_connections: config.max_connections,
            next_serial: 0,
            accept_paused: false,
            accept_retry_at: None,
            accept_failing: false,
            yielded: Vec::new(),
            closed: Vec::new(),
            stop,
            nodelay_inherited: None,
        })
    }

    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        while !self.stop.load(Ordering::Relaxed) {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if interrupted(&e) {
                    continue;
                }
                return Err(e);
            }
            self.shared.now = Instant::now();
            self.shared.date.refresh(SystemTime::now());
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(key) => {
                        // Errors and hang-ups count as both: the next read or
                        // write reports what happened.
                        let hup = event.is_read_closed();
                        let bad = event.is_error() || hup || event.is_write_closed();
                        let (r, w) = (event.is_readable() || bad, event.is_writable() || bad);
                        self.drive(key, |conn, io, cx| {
                            if hup {
                                conn.on_read_closed();
                            }
                            conn.on_ready(io, r, w, cx)
                        });
                    }
                }
            }
            self.resume_yielded();
            self.expire();
            self.remove_closed();
            if self.accept_retry_at.is_some_and(|t| t <= self.shared.now) {
                self.accept_retry_at = None;
                self.accept();
            }
        }
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.yielded.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let retry = self.accept_retry_at.map(|t| t.saturating_duration_since(now));
        match (self.deadlines.timeout(now), retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Accepts until `WouldBlock`, the connection limit, or a resource error.
    fn accept(&mut self) {
        while self.accept_retry_at.is_none() {
            if self.conns.len() >= self.max_connections {
                // The kernel backlog holds the rest until one closes.
                self.accept_paused = true;
                return;
            }
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if std::mem::take(&mut self.accept_failing) {
                        log::info!("accepting again");
                    }
                    self.admit(stream, peer);
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => {}
                // The client gave up before we accepted: not our problem.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS...: the listener stays readable,
                    // so back off instead of spinning; never end the loop.
                    // Warn once per episode, not every backoff.
                    if self.accept_failing {
                        log::debug!("accept: {e}; pausing accepts for {ACCEPT_BACKOFF:?}");
                    } else {
                        log::warn!("accept: {e}; pausing accepts for {ACCEPT_BACKOFF:?} (repeats logged at debug)");
                    }
                    self.accept_failing = true;
                    self.accept_retry_at = Some(Instant::now() + ACCEPT_BACKOFF);
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        // Linux copies TCP_NODELAY from the listener to accepted sockets;
        // the first connection checks that, and only where it is not so
        // does every connection pay a setsockopt.
        let inherited = *self.nodelay_inherited.get_or_insert_with(|| stream.nodelay().unwrap_or(false));
        if !inherited && let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay {peer}: {e}");
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(&mut stream, Token(key), Interest::READABLE) {
            log::warn!("register {peer}: {e}");
            return;
        }
        self.next_serial += 1;
        let conn = Conn::new(self.shared.now);
        entry.insert(Entry { stream, conn, registered: Interest::READABLE, serial: self.next_serial, queued: None });
        log::debug!("open #{} from {peer}", self.next_serial);
        self.after(key);
    }

    /// Runs `f` on connection `key`, then reconciles interest and deadline.
    fn drive(&mut self, key: usize, f: impl FnOnce(&mut Conn, &mut TcpStream, &mut Shared)) {
        let Some(e) = self.conns.get_mut(key) else { return };
        if e.conn.is_closed() {
            return; // removed at the end of this pass
        }
        f(&mut e.conn, &mut e.stream, &mut self.shared);
        self.after(key);
    }

    /// After a connection ran: closed → queue removal; otherwise register
    /// the interest its state wants (if changed) and its deadline.
    fn after(&mut self, key: usize) {
        let e = &mut self.conns[key];
        if e.conn.is_closed() {
            self.closed.push(key);
            return;
        }
        if let Some(want) = interest(e.conn.want())
            && want != e.registered
        {
            if let Err(err) = self.poll.registry().reregister(&mut e.stream, Token(key), want) {
                log::warn!("reregister: {err}");
            }
            e.registered = want;
        }
        if e.conn.yielded() {
            self.yielded.push(key);
        }
        if let Some(at) = e.conn.deadline(&self.shared)
            && e.queued.is_none_or(|q| at < q)
        {
            self.deadlines.push(at, Owner { key, serial: e.serial });
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
        let now = self.shared.now;
        while let Some((at, owner)) = self.deadlines.pop_due(now) {
            let Some(e) = self.conns.get_mut(owner.key) else { continue };
            if e.serial != owner.serial || e.queued != Some(at) {
                continue;
            }
            e.queued = None;
            self.drive(owner.key, |conn, io, cx| conn.on_timeout(io, cx));
        }
    }

    fn remove_closed(&mut self) {
        for key in self.closed.drain(..) {
            if self.conns.get(key).is_some_and(|e| e.conn.is_closed()) {
                // No EPOLL_CTL_DEL: closing the socket (dropping the entry)
                // removes it from epoll, as no other descriptor shares it.
                // Its token cannot come back this pass: the batch is done.
                let e = self.conns.remove(key);
                log::debug!("close #{}", e.serial);
            }
        }
        if self.deadlines.len() > 2 * self.conns.len() + DEADLINE_SLACK {
            let conns = &self.conns;
            self.deadlines
                .retain(|at, o| conns.get(o.key).is_some_and(|e| e.serial == o.serial && e.queued == Some(at)));
        }
        if self.accept_paused && self.conns.len() < self.max_connections {
            self.accept_paused = false;
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

/// Raises the open-file limit and logs the capacity it gives.
pub fn raise_fd_limit(config: &Config) {
    match sys::raise_nofile_limit() {
        Ok(limit) => {
            let wanted = (config.max_connections * config.worker_count()) as u64 + 64;
            log::info!(
                "open-file limit {limit}; up to {} connections per worker ({} workers)",
                config.max_connections,
                config.worker_count()
            );
            if limit < wanted {
                log::warn!("open-file limit {limit} is below what --max-connections needs ({wanted})");
            }
        }
        Err(e) => log::warn!("could not read the open-file limit: {e}"),
    }
}
