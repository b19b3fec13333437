//! `loophttp`: parse flags, start logging, bind (or take the sockets passed
//! by socket activation), run until a signal ends it. Startup errors end
//! the process with one clear message and a non-zero exit code; after
//! startup only SIGTERM/SIGINT do (see `lifecycle.rs` for the exit codes),
//! or SIGUSR2's upgrade, after which a new process serves (`supervise.rs`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use loophttp::lifecycle::Outcome;
use loophttp::server::Control;
use loophttp::supervise::{self, Early, Exiting, Process};
use loophttp::{Config, Server, config, listener, upgrade};

fn main() -> ExitCode {
    let code = run();
    // The log's writer thread holds the last lines (a startup error, the
    // drain's summary): wait for it, briefly, before exiting.
    log::logger().flush();
    code
}

fn run() -> ExitCode {
    let mut config = match Config::load(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => return ExitCode::from(e.report()),
    };
    if let Some(code) = one_shot(&config) {
        return code;
    }
    // Before anything slow: a stop signal from now on drains once the
    // loops run, instead of killing a process still starting.
    let early = match Early::listen() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("loophttp: cannot handle signals: {e}");
            return ExitCode::from(1);
        }
    };
    // While this is the only thread: these edit the environment.
    let passed = listener::activated();
    let ready_fd = upgrade::ready_fd();
    if let Err(code) = prepare(&mut config) {
        return code;
    }
    let Some((server, activated)) = open(&config, passed) else { return ExitCode::from(1) };
    serve(&config, server, activated, early, ready_fd)
}

/// `--probe` and `--generate`: one answer and exit, no server. None
/// when the flags ask for a server.
fn one_shot(config: &Config) -> Option<ExitCode> {
    if let Some(url) = &config.probe {
        return Some(probe(url, config.probe_timeout));
    }
    let what = config.generate?;
    Some(match config::generate(what, &mut io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loophttp --generate: {e}");
            ExitCode::from(1)
        }
    })
}

/// Logging started, the flags checked together, the connection cap set
/// from the open-file limit; the exit code if one of them fails.
fn prepare(config: &mut Config) -> Result<(), ExitCode> {
    if let Err(e) = start_logging(config) {
        eprintln!("loophttp: cannot start logging: {e}");
        return Err(ExitCode::from(1));
    }
    if let Err(msg) = config.validate() {
        log::error!("{msg}");
        return Err(ExitCode::from(2));
    }
    if config.drain_grace >= config.shutdown_timeout {
        // Legal, but the drain then cuts idle connections at the timeout
        // instead of closing them after the grace (ARCHITECTURE, section 13).
        log::warn!(
            drain_grace:? = config.drain_grace, shutdown_timeout:? = config.shutdown_timeout;
            "--drain-grace is not shorter than --shutdown-timeout: a drain will cut idle connections"
        );
    }
    // Accepting stops at what the open-file limit covers, before EMFILE.
    config.max_connections = loophttp::sys::fd_budget(config);
    Ok(())
}

/// Starts the workers, says where it listens, and waits for them to end:
/// the exit code.
fn serve(config: &Config, server: Server, activated: bool, early: Early, ready_fd: Option<OwnedFd>) -> ExitCode {
    let startup = startup_line(&server, activated);
    let metrics_addr = server.metrics_addr();
    let more = server.more_addrs().to_vec();
    // Signals are handled from here on, so the startup line (which tests
    // and scripts wait for) promises that SIGTERM drains.
    let handle = match server.spawn_with_signals() {
        Ok(h) => h,
        Err(e) => {
            log::error!("cannot start the workers: {e}");
            return ExitCode::from(1);
        }
    };
    let process = Process {
        binary: upgrade::Binary::current().inspect_err(|e| log::warn!("no upgrade (SIGUSR2): {e}")).ok(),
        ready_fd,
        pid_file: config.pid_file.clone(),
        upgrade_timeout: config.upgrade_timeout,
    };
    let control = handle.control();
    let exiting = supervise::serving(early, control.clone(), process)
        .inspect_err(|e| log::error!("cannot start the upgrade thread: {e}"))
        .ok();
    announce(&startup, &more, metrics_addr);
    let code = match handle.wait() {
        Ok(outcomes) => ExitCode::from(Outcome::exit_code(&outcomes)),
        Err(e) => {
            log::error!("server stopped: {e}");
            ExitCode::from(1)
        }
    };
    leave(config, exiting.as_ref(), &control);
    code
}

/// The startup line (which tests and scripts wait for), then the other
/// addresses served.
fn announce(startup: &str, more: &[SocketAddr], metrics_addr: Option<SocketAddr>) {
    log::info!("{startup}");
    for addr in more {
        log::info!("also listening on {addr} (socket-activated)");
    }
    if let Some(addr) = metrics_addr {
        log::info!("metrics and /healthz on http://{addr}/metrics");
    }
}

/// What the process does after its loops ended: the supervisor's last
/// word, and the pid file removed if it is still ours.
fn leave(config: &Config, exiting: Option<&Exiting>, control: &Control) {
    if let Some(e) = exiting {
        e.before_exit();
    }
    // After an upgrade the file is the new process's, even if it has not
    // written it yet (a removal then could race its write).
    if let Some(path) = &config.pid_file
        && !control.handover().handed_over()
    {
        loophttp::pid_file::remove_if_ours(path);
    }
}

fn start_logging(config: &Config) -> Result<(), String> {
    // With several loops, say which one logged.
    let threads = config.worker_count() > 1;
    loophttp::logging::init(config.log_level, config.log_format, threads)
}

/// The server on the passed sockets, or on its own; true if passed.
/// Logs why not (one line) when it cannot.
fn open(config: &Config, passed: io::Result<Option<Vec<listener::Passed>>>) -> Option<(Server, bool)> {
    let (server, activated) = match passed {
        Ok(Some(sockets)) => (Server::adopt(config.clone(), sockets), true),
        Ok(None) => (Server::bind(config.clone()), false),
        Err(e) => {
            log::error!("socket activation: {e}");
            return None;
        }
    };
    match server {
        Ok(s) => Some((s, activated)),
        // Server::bind and adopt name what failed: the address, the socket, or the flag.
        Err(e) => {
            log::error!("{e}");
            None
        }
    }
}

fn startup_line(server: &Server, activated: bool) -> String {
    let mode = match (activated, server.dual_stack()) {
        (true, true) => " (socket-activated, dual-stack IPv4 + IPv6)",
        (true, false) => " (socket-activated)",
        (false, true) => " (dual-stack IPv4 + IPv6)",
        (false, false) => "",
    };
    let (version, addr, urls) = (env!("CARGO_PKG_VERSION"), server.local_addr(), server.urls().join(" "));
    format!("loophttp {version} listening on {addr}{mode}: {urls}")
}

/// `--probe URL`: a health check, not a server; one line either way.
fn probe(url: &str, timeout: std::time::Duration) -> ExitCode {
    match loophttp::probe::probe(url, timeout) {
        Ok(status) => {
            println!("{url}: {status}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("loophttp --probe {url}: {why}");
            ExitCode::from(1)
        }
    }
}
