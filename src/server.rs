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
use crate::listener;
use crate::routes::Routes;

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
            wakers.push(worker.waker());
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
    wakers: Vec<LoopWaker>,
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
