//! The process around the loops: the signals it hears from its first
//! moment, how it says it serves (the pid file, systemd's `READY=1`, or the
//! old process of an upgrade), and SIGUSR2's upgrade ([`crate::upgrade`]),
//! run on a thread of its own so the loops never wait for it.
//!
//! The loops hear SIGTERM, SIGINT and SIGUSR1 themselves
//! ([`crate::lifecycle`]); this thread hears them too (signal-hook runs
//! every handler), only to tell systemd `STOPPING=1` and to know that a
//! stop came while an upgrade was under way.

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use crate::lifecycle::UPGRADE_SIGNAL;
use crate::server::Control;
use crate::upgrade::{self, Binary};

/// Signals caught from the start of `main`: without a handler, SIGTERM,
/// SIGUSR1 and SIGUSR2 would kill a process still starting (a deploy
/// script's stop, or logrotate, in its first milliseconds).
pub struct Early {
    signals: Signals,
    /// Set by any SIGTERM/SIGINT, even while the thread is busy upgrading.
    stop_seen: Arc<AtomicBool>,
}

impl Early {
    pub fn listen() -> io::Result<Early> {
        let stop_seen = Arc::new(AtomicBool::new(false));
        for signal in [SIGTERM, SIGINT] {
            signal_hook::flag::register(signal, stop_seen.clone())?;
        }
        let signals = Signals::new([SIGTERM, SIGINT, SIGUSR1, UPGRADE_SIGNAL])?;
        Ok(Early { signals, stop_seen })
    }
}

/// What the process needs to announce itself and to upgrade.
pub struct Process {
    /// How to start this binary again; None if its path is unknown.
    pub binary: Option<Binary>,
    /// Set when this process is the new one of an upgrade.
    pub ready_fd: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub upgrade_timeout: Duration,
}

/// What `main` checks before the process exits.
pub struct Exiting {
    stop_seen: Arc<AtomicBool>,
    stopping_told: Arc<AtomicBool>,
    control: Control,
}

impl Exiting {
    /// Tells systemd `STOPPING=1` if a stop signal came and the thread
    /// did not get to say so: a drain with nothing open ends in
    /// microseconds, and the process may exit before that thread runs.
    pub fn before_exit(&self) {
        tell_stopping(&self.stop_seen, &self.stopping_told, &self.control);
    }
}

/// `STOPPING=1`, once, if a stop signal came and no successor serves.
fn tell_stopping(stop_seen: &AtomicBool, told: &AtomicBool, control: &Control) {
    if stop_seen.load(Ordering::SeqCst) && !control.handover().handed_over() && !told.swap(true, Ordering::SeqCst) {
        notify(&[NotifyState::Stopping]);
    }
}

/// Called once the loops run ([`crate::Handle::control`]): acts on stop
/// signals that came before the loops listened, says this process serves,
/// and starts the thread that hears SIGUSR2.
pub fn serving(early: Early, control: Control, mut process: Process) -> io::Result<Exiting> {
    let Early { mut signals, stop_seen } = early;
    let stopping_told = Arc::new(AtomicBool::new(false));
    let mut stopping = false;
    for signal in signals.pending() {
        match signal {
            SIGTERM | SIGINT => {
                log::info!(signal = crate::lifecycle::name(signal); "stop signal while starting: asking the loops to drain");
                control.ask_drain()?;
                stopping = true;
            }
            UPGRADE_SIGNAL => log::warn!("SIGUSR2 while starting: ignored (send it once the server serves)"),
            _ => {}
        }
    }
    announce(&mut process);
    if stopping {
        tell_stopping(&stop_seen, &stopping_told, &control);
    }
    let exiting =
        Exiting { stop_seen: stop_seen.clone(), stopping_told: stopping_told.clone(), control: control.clone() };
    let supervisor = Supervisor { control, process, stop_seen, stopping_told, stopping, upgraded: false };
    std::thread::Builder::new().name("loophttp-upgrade".into()).spawn(move || supervisor.run(signals))?;
    Ok(exiting)
}

/// Whoever waits for us first: the old process of an upgrade (which
/// tells systemd our pid) or systemd itself; then the pid file. In that
/// order because the old process gives up after `--upgrade-timeout`, and a
/// file system busy with other writers has been seen to hold a rename for
/// seconds (the pid file then lags, harmlessly: scripts wait for it).
fn announce(process: &mut Process) {
    // SAFETY: getppid cannot fail. Read before it may exit.
    let old = unsafe { libc::getppid() };
    // Taken: once written and closed, the old process reads our byte.
    match process.ready_fd.take().map(upgrade::report_ready) {
        None => {
            notify(&[NotifyState::Ready]);
            write_pid_file(process);
        }
        Some(Ok(())) => {
            write_pid_file(process);
            log::info!(old = old; "upgrade: serving; the old process drains");
        }
        // It gave up on us (the timeout) and stops us, or it is gone; its
        // pid file stays its own.
        Some(Err(e)) => log::warn!(error:% = e; "upgrade: could not tell the old process we serve"),
    }
}

fn write_pid_file(process: &Process) {
    if let Some(path) = &process.pid_file
        && let Err(e) = crate::pid_file::write(path)
    {
        log::warn!(error:% = e; "--pid-file {}: cannot write it", path.display());
    }
}

/// systemd's notification socket, if it gave us one (`Type=notify`).
fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        log::warn!(error:% = e; "cannot notify systemd");
    }
}

struct Supervisor {
    control: Control,
    process: Process,
    stop_seen: Arc<AtomicBool>,
    stopping_told: Arc<AtomicBool>,
    /// A stop signal came: no upgrade from now on.
    stopping: bool,
    /// A new process serves: this one drains, and is no longer systemd's.
    upgraded: bool,
}

impl Supervisor {
    fn run(mut self, mut signals: Signals) {
        for signal in signals.forever() {
            match signal {
                SIGTERM | SIGINT => self.on_stop(),
                UPGRADE_SIGNAL => self.upgrade(),
                _ => {} // SIGUSR1: the loops reopen the access log
            }
        }
    }

    fn on_stop(&mut self) {
        tell_stopping(&self.stop_seen, &self.stopping_told, &self.control);
        self.stopping = true;
    }

    fn upgrade(&mut self) {
        if self.stopping || self.upgraded {
            log::warn!("SIGUSR2 while draining: ignored");
            return;
        }
        let Some(binary) = &self.process.binary else {
            log::warn!("SIGUSR2: this binary's own path is unknown, cannot upgrade");
            return;
        };
        log::info!(binary:% = binary.path.display(); "upgrade: starting the binary with our sockets");
        match upgrade::start_successor(binary, self.control.handover(), self.process.upgrade_timeout) {
            Ok(pid) => self.handed_over(pid),
            Err(why) => {
                log::warn!("upgrade failed: {why}; still serving");
                // It may have written its pid before it failed.
                write_pid_file(&self.process);
            }
        }
    }

    /// The new process serves. Unless a stop came meanwhile (then it
    /// stops too: the operator stopped the service), drain.
    fn handed_over(&mut self, pid: u32) {
        if self.stop_seen.load(Ordering::SeqCst) {
            log::info!(new = pid; "upgrade: a stop signal came while the new process started; stopping it too");
            // SAFETY: kill(2) on the process we just started.
            unsafe { libc::kill(pid as libc::pid_t, SIGTERM) };
            self.on_stop();
            return;
        }
        self.upgraded = true;
        notify(&[NotifyState::MainPid(pid)]);
        log::info!(new = pid; "upgrade: the new process serves; draining");
        if let Err(e) = self.control.hand_over() {
            log::error!(error:% = e; "upgrade: cannot wake the loops to drain");
        }
    }
}
