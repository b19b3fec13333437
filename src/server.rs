//! Starting and stopping the server: bind one listener per worker, start
//! each worker's event loop ([`crate::event_loop`]) on its own thread, and
//! the [`Handle`] that stops them. No mio here: the loop is the only module
//! that touches it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::config::Config;
use crate::event_loop::{LoopWaker, Worker};
use crate::files::FileStore;
use crate::lifecycle::Outcome;
use crate::listener;
use crate::routes::Routes;

/// Bound listeners, ready to run.
pub struct Server {
    /// Each worker's listeners: its own `SO_REUSEPORT` socket, or
    /// duplicates of every socket passed by socket activation.
    listeners: Vec<Vec<std::net::TcpListener>>,
    config: Arc<Config>,
    local_addr: SocketAddr,
    /// The addresses of the other passed sockets, if several were.
    more_addrs: Vec<SocketAddr>,
    dual_stack: bool,
}

impl Server {
    /// Serves on sockets passed by socket activation ([`listener::activated`]):
    /// every worker gets a duplicate of each (one shared accept queue per socket).
    pub fn adopt(config: Config, passed: Vec<std::net::TcpListener>) -> io::Result<Server> {
        let Some(first) = passed.first() else { return Err(io::Error::other("no socket passed")) };
        let local_addr = first.local_addr()?;
        let more_addrs = passed[1..].iter().map(|l| l.local_addr()).collect::<io::Result<_>>()?;
        let dual_stack = listener::is_dual_stack(first);
        let dup = || passed.iter().map(|l| l.try_clone()).collect::<io::Result<Vec<_>>>();
        let listeners = (0..config.worker_count()).map(|_| dup()).collect::<io::Result<_>>()?;
        Ok(Server { listeners, config: Arc::new(config), local_addr, more_addrs, dual_stack })
    }

    /// Binds one listener per worker (with `SO_REUSEPORT` when several).
    pub fn bind(config: Config) -> io::Result<Server> {
        let workers = config.worker_count();
        let reuse_port = workers > 1;
        let first = listener::bind(config.host, config.port, config.backlog, reuse_port)?;
        let local_addr = first.listener.local_addr()?;
        let mut listeners = vec![vec![first.listener]];
        for _ in 1..workers {
            // Same port as the first (which may have been chosen by the kernel).
            let host = local_addr.ip();
            listeners.push(vec![listener::bind(host, local_addr.port(), config.backlog, true)?.listener]);
        }
        let (more_addrs, dual_stack) = (Vec::new(), first.dual_stack);
        Ok(Server { listeners, config: Arc::new(config), local_addr, more_addrs, dual_stack })
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

    fn start(self, signals: bool) -> io::Result<Handle> {
        let stop = Arc::new(AtomicBool::new(false));
        let routes = Routes::new(self.config.directory.as_deref().map(FileStore::new).transpose()?);
        let mut wakers = Vec::new();
        let mut threads = Vec::new();
        for (i, ls) in self.listeners.into_iter().enumerate() {
            let mut worker = Worker::new(ls, &self.config, routes.clone(), stop.clone())?;
            if signals {
                worker.listen_for_signals()?;
            }
            wakers.push(worker.waker());
            let thread = std::thread::Builder::new().name(format!("loophttp-{i}")).spawn(move || worker.run())?;
            threads.push(thread);
        }
        Ok(Handle { stop, wakers, threads })
    }
}

/// Controls running workers: stop them, wait for them.
pub struct Handle {
    stop: Arc<AtomicBool>,
    wakers: Vec<LoopWaker>,
    threads: Vec<JoinHandle<io::Result<Outcome>>>,
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

    /// Waits for every worker; returns how each ended.
    pub fn wait(self) -> io::Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        for t in self.threads {
            outcomes.push(t.join().map_err(|_| io::Error::other("worker panicked"))??);
        }
        Ok(outcomes)
    }
}
