//! Starting and stopping the server: bind one listener per worker, start
//! each worker's event loop ([`crate::event_loop`]) on its own thread, and
//! the [`Handle`] that stops them. No mio here: the loop is the only module
//! that touches it.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::access_log::{self, AccessLog, LogControl, LogWriter};
use crate::config::Config;
use crate::event_loop::{LoopWaker, Worker};
use crate::files::FileStore;
use crate::inflight::Observer;
use crate::lifecycle::Outcome;
use crate::listener;
use crate::metrics::Metrics;
use crate::routes::{Routes, Writes};
use crate::upgrade::Handover;

/// Bound listeners, ready to run.
pub struct Server {
    /// Each worker's listeners: a duplicate of every listening socket
    /// (the one it bound, or those passed by socket activation), so all
    /// workers share each socket's one accept queue.
    listeners: Vec<Vec<std::net::TcpListener>>,
    /// Each socket's name, for handing it over (`LISTEN_FDNAMES`).
    names: Vec<String>,
    config: Arc<Config>,
    local_addr: SocketAddr,
    /// The addresses of the other passed sockets, if several were.
    more_addrs: Vec<SocketAddr>,
    dual_stack: bool,
    observability: Observability,
}

/// What `--metrics-addr` and `--access-log` open at startup.
struct Observability {
    /// `--metrics-addr`'s listener, served by worker 0.
    metrics_listener: Option<std::net::TcpListener>,
    /// The access log's writer thread (None: `--access-log off`).
    access_log: Option<LogWriter>,
}

impl Observability {
    /// Binds the metrics listener (unless the previous process of an
    /// upgrade passed it) and opens the access log: startup errors, each
    /// naming its flag.
    fn open(config: &Config, passed: Option<std::net::TcpListener>) -> io::Result<Observability> {
        let metrics_listener = match config.metrics_addr {
            Some(_) if passed.is_some() => passed,
            Some(addr) => Some(
                listener::bind(addr.ip(), addr.port(), config.backlog, false)
                    .map_err(|e| io::Error::new(e.kind(), format!("{} {addr}: {e}", config.name_of("metrics_addr"))))?
                    .listener,
            ),
            None => None,
        };
        let access_log = access_log::start(&config.access_log).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} {}: cannot open: {e}", config.name_of("access_log"), config.access_log),
            )
        })?;
        Ok(Observability { metrics_listener, access_log })
    }
}

impl Server {
    /// Serves on sockets passed by socket activation ([`listener::activated`]):
    /// every worker gets a duplicate of each (one shared accept queue per
    /// socket). One named [`listener::METRICS_FD_NAME`] (an upgrade passes
    /// it) is `--metrics-addr`'s listener instead.
    pub fn adopt(config: Config, passed: Vec<listener::Passed>) -> io::Result<Server> {
        let (metrics, passed): (Vec<_>, Vec<_>) = passed.into_iter().partition(|p| p.name == listener::METRICS_FD_NAME);
        let mut metrics = metrics.into_iter().map(|p| p.listener);
        let passed_metrics = metrics.next();
        if passed_metrics.is_some() && config.metrics_addr.is_none() {
            log::warn!("a metrics socket was passed but --metrics-addr is not set: closing it");
        }
        let (sockets, names): (Vec<_>, Vec<_>) = passed.into_iter().map(|p| (p.listener, p.name)).unzip();
        let Some(first) = sockets.first() else { return Err(io::Error::other("no socket passed")) };
        let local_addr = first.local_addr()?;
        let more_addrs = sockets[1..].iter().map(|l| l.local_addr()).collect::<io::Result<_>>()?;
        let dual_stack = listener::is_dual_stack(first);
        let listeners = for_each_worker(&sockets, config.worker_count())
            .map_err(|e| io::Error::new(e.kind(), format!("cannot serve on the passed socket: {e}")))?;
        let observability = Observability::open(&config, passed_metrics)?;
        let config = Arc::new(config);
        Ok(Server { listeners, names, config, local_addr, more_addrs, dual_stack, observability })
    }

    /// Binds one listener, shared by every worker. Not one `SO_REUSEPORT`
    /// socket per worker: such a socket has its own accept queue, and
    /// closing it (a drain, an upgrade) resets the connections queued there;
    /// and with `SO_REUSEPORT` set, a second server started on the same port
    /// by mistake would share it silently instead of failing. That option
    /// is set only with `--reuse-port`, when the operator means it.
    /// Each error names what failed: the address, or the flag.
    pub fn bind(config: Config) -> io::Result<Server> {
        let addr = SocketAddr::new(config.host, config.port);
        let first = listener::bind(config.host, config.port, config.backlog, config.reuse_port)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let local_addr = first.listener.local_addr()?;
        let listeners = for_each_worker(&[first.listener], config.worker_count())?;
        let (more_addrs, dual_stack) = (Vec::new(), first.dual_stack);
        let observability = Observability::open(&config, None)?;
        let names = vec![listener::MAIN_FD_NAME.to_string()];
        let config = Arc::new(config);
        Ok(Server { listeners, names, config, local_addr, more_addrs, dual_stack, observability })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The other sockets served, when socket activation passed several.
    pub fn more_addrs(&self) -> &[SocketAddr] {
        &self.more_addrs
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

    /// Where `/metrics` answers when `--metrics-addr` was given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.observability.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Starts every worker on its own thread; they stop only through the
    /// [`Handle`] (signals are left alone: tests run servers in-process).
    pub fn spawn(self) -> io::Result<Handle> {
        self.start(false)
    }

    /// Starts every worker, each listening for SIGTERM, SIGINT and SIGUSR1
    /// (the binary's way: the workers then stop after a drain).
    pub fn spawn_with_signals(self) -> io::Result<Handle> {
        self.start(true)
    }

    /// A spare duplicate of each socket, named, for a successor process.
    fn handover(&self) -> io::Result<Handover> {
        let mut sockets = Vec::new();
        let mine = self.listeners.first().into_iter().flatten().zip(&self.names);
        for (l, name) in mine {
            sockets.push((name.clone(), OwnedFd::from(l.try_clone()?)));
        }
        if let Some(m) = &self.observability.metrics_listener {
            sockets.push((listener::METRICS_FD_NAME.to_string(), OwnedFd::from(m.try_clone()?)));
        }
        Ok(Handover::new(sockets))
    }

    fn start(self, signals: bool) -> io::Result<Handle> {
        let stop = Arc::new(AtomicBool::new(false));
        let handover = Arc::new(self.handover()?);
        let c = &self.config;
        let Observability { mut metrics_listener, access_log } = self.observability;
        let log_state = access_log.as_ref().map(|w| w.state().clone());
        let metrics = (!c.no_metrics).then(|| Metrics::new(self.listeners.len(), log_state));
        let writes = Writes { upload: c.allow_upload, delete: c.allow_delete };
        let routes = Routes::new(c.directory.as_deref().map(FileStore::new).transpose()?)
            .with_writes(writes)
            .with_metrics(metrics.clone(), c.metrics_public)
            .with_site(crate::site::Site::from_args(&c.site)?);
        let mut wakers = Vec::new();
        let mut threads = Vec::new();
        for (i, ls) in self.listeners.into_iter().enumerate() {
            let log = AccessLog::new(access_log.as_ref(), c.access_log_format);
            let observe = Observer::new(log, metrics.as_ref().map(|m| m.worker(i)));
            let mine = if i == 0 { metrics_listener.take() } else { None };
            let mut worker = Worker::with_observer(ls, mine, c, routes.clone(), observe, stop.clone())?;
            if signals {
                worker.listen_for_signals()?;
            }
            worker.share_handover(handover.clone());
            wakers.push(worker.waker());
            let thread = std::thread::Builder::new().name(format!("loophttp-{i}")).spawn(move || worker.run())?;
            threads.push(thread);
        }
        let control = Control { handover, wakers: wakers.clone() };
        Ok(Handle { stop, wakers, threads, access_log, control })
    }
}

/// What the process may do to running workers besides waiting for them:
/// ask them to drain, and hand their sockets to a successor.
#[derive(Clone)]
pub struct Control {
    handover: Arc<Handover>,
    wakers: Vec<LoopWaker>,
}

impl Control {
    /// Every loop drains as on SIGTERM (without counting as one).
    pub fn ask_drain(&self) -> io::Result<()> {
        self.handover.ask_drain();
        self.wakers.iter().try_for_each(LoopWaker::wake)
    }

    /// A successor serves: it owns the pid file from now on, and every
    /// loop drains.
    pub fn hand_over(&self) -> io::Result<()> {
        self.handover.hand_over();
        self.wakers.iter().try_for_each(LoopWaker::wake)
    }

    /// The sockets to hand over, and the drain flag the loops check.
    pub fn handover(&self) -> &Handover {
        &self.handover
    }
}

/// A duplicate of every socket for each of `workers` loops: one socket,
/// one accept queue, however many descriptors (and epoll sets) watch it.
fn for_each_worker(sockets: &[std::net::TcpListener], workers: usize) -> io::Result<Vec<Vec<std::net::TcpListener>>> {
    let dup = || sockets.iter().map(|l| l.try_clone()).collect::<io::Result<Vec<_>>>();
    (0..workers).map(|_| dup()).collect()
}

/// Controls running workers: stop them, wait for them.
pub struct Handle {
    stop: Arc<AtomicBool>,
    wakers: Vec<LoopWaker>,
    threads: Vec<JoinHandle<io::Result<Outcome>>>,
    access_log: Option<LogWriter>,
    control: Control,
}

impl Handle {
    /// Asks every loop to stop and waits for them.
    pub fn shutdown(self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            w.wake()?;
        }
        self.wait().map(drop)
    }

    /// Drain without a signal, upgrade: see [`Control`]. Each worker's
    /// listeners are registered with its `Poll` once this exists, so
    /// connections from now on wait in the kernel's queue for a loop.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// For log rotation from outside the loops: [`LogControl::reopen`]
    /// (the loops do it themselves on SIGUSR1). None when the log is off.
    pub fn access_log(&self) -> Option<LogControl> {
        self.access_log.as_ref().map(LogWriter::control)
    }

    /// Waits for every worker; returns how each ended. Then writes the
    /// access log's last lines, which every loop handed over as it ended.
    pub fn wait(self) -> io::Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        let mut failed = None;
        for t in self.threads {
            match t.join().map_err(|_| io::Error::other("worker panicked")).and_then(|r| r) {
                Ok(o) => outcomes.push(o),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(w) = self.access_log {
            w.finish(access_log::SHUTDOWN_WAIT);
        }
        failed.map_or(Ok(outcomes), Err)
    }
}
