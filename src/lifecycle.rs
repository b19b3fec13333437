//! What a worker does with the signals it hears, and the drain's clock.
//! Pure: the event loop feeds it signals and the time and acts on the
//! answers (the loop is the only one touching mio; see
//! `docs/ARCHITECTURE.md`, "Signals, the drain, and restarts").
//!
//! ```text
//!            SIGTERM / SIGINT,
//!            or asked (an upgrade           no connection left
//!            handed over, an early signal)
//!  Running ───────────────────► Draining ───────────────────► Stopped(Drained)
//!                                 │  │      --shutdown-timeout
//!                                 │  └────────────────────────► Stopped(TimedOut)
//!                                 │ a second SIGTERM / SIGINT
//!                                 └───────────────────────────► Stopped(Forced)
//! ```
//!
//! "Second" counts signals, not drains: a drain that was asked for (the
//! new process of an upgrade is serving) is stopped at once only by the
//! second stop signal after it, since the first may be the same signal a
//! worker also heard itself, or the service manager stopping everything.

use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};

/// The signals every worker listens for.
pub const SIGNALS: [i32; 3] = [SIGTERM, SIGINT, SIGUSR1];

/// The signal that starts an upgrade (heard by the process, not the loops).
pub const UPGRADE_SIGNAL: i32 = signal_hook::consts::SIGUSR2;

/// A drain in progress: what connections consult to close when they go idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    pub since: Instant,
    /// How long a connection may sit idle before the drain closes it.
    pub grace: Duration,
}

impl Drain {
    /// When an idle connection, last active at `last_progress`, is closed:
    /// only once it has been idle for the whole grace, counted from no
    /// earlier than the drain's start. A proxy whose own idle timeout is
    /// shorter than the grace has closed such a connection already, so it
    /// never sends a request into our close (the keep-alive race).
    pub fn idle_close_at(&self, last_progress: Instant) -> Instant {
        self.since.max(last_progress) + self.grace
    }
}

/// How a worker's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stopped by its [`crate::Handle`] (tests, embedding).
    Stopped,
    /// Every connection finished.
    Drained,
    /// `--shutdown-timeout` passed; this many connections were cut.
    TimedOut { cut: usize },
    /// A second SIGTERM/SIGINT: everything was dropped at once.
    Forced { signal: i32 },
}

impl Outcome {
    /// The process's exit code for these worker outcomes, so a script tells
    /// the endings apart: 0 when every connection finished; the shell's
    /// 128 + signal number when a second signal cut the drain short; and
    /// [`EXIT_CUT`] when `--shutdown-timeout` cut connections (the
    /// operator's timeout was obeyed, but requests were lost).
    pub fn exit_code(outcomes: &[Outcome]) -> u8 {
        let forced = outcomes.iter().find_map(|o| match o {
            Outcome::Forced { signal } => Some(128u8.saturating_add(*signal as u8)),
            _ => None,
        });
        let cut = outcomes.iter().any(|o| matches!(o, Outcome::TimedOut { cut } if *cut > 0));
        forced.unwrap_or(if cut { EXIT_CUT } else { 0 })
    }
}

/// The exit code after a drain that reached `--shutdown-timeout` and cut
/// connections still open (1 and 2 are startup errors; 128 + N, signals).
pub const EXIT_CUT: u8 = 3;

/// What the loop must do about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop accepting and drain.
    StartDrain,
    /// Drop everything and stop now.
    StopNow,
    /// Reopen the access log file (logrotate moved it).
    ReopenLog,
    Ignore,
}

/// One worker's lifecycle state.
#[derive(Debug)]
pub struct Lifecycle {
    drain: Option<Drain>,
    /// Stop signals heard so far (the second stops at once).
    stop_signals: u32,
    grace: Duration,
    timeout: Duration,
}

impl Lifecycle {
    pub fn new(grace: Duration, timeout: Duration) -> Lifecycle {
        Lifecycle { drain: None, stop_signals: 0, grace, timeout }
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The drain in progress, if any.
    pub fn drain(&self) -> Option<Drain> {
        self.drain
    }

    pub fn on_signal(&mut self, signal: i32, now: Instant) -> Action {
        match signal {
            SIGTERM | SIGINT => {
                self.stop_signals += 1;
                if self.stop_signals > 1 { Action::StopNow } else { self.ask_drain(now) }
            }
            SIGUSR1 => Action::ReopenLog,
            _ => Action::Ignore,
        }
    }

    /// A drain asked for without a signal to this loop: the process
    /// handed its sockets to a new one, or heard SIGTERM before the loops
    /// listened for it. Nothing to do if already draining.
    pub fn ask_drain(&mut self, now: Instant) -> Action {
        if self.drain.is_some() {
            return Action::Ignore;
        }
        self.drain = Some(Drain { since: now, grace: self.grace });
        Action::StartDrain
    }

    /// When the drain gives up on what is left (`--shutdown-timeout`).
    pub fn deadline(&self) -> Option<Instant> {
        self.drain.map(|d| d.since + self.timeout)
    }
}

/// A signal's name for the log.
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        SIGUSR1 => "SIGUSR1",
        UPGRADE_SIGNAL => "SIGUSR2",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn first_stop_signal_drains_the_second_stops_now() {
        let t0 = Instant::now();
        let mut l = Lifecycle::new(2 * SEC, 10 * SEC);
        assert_eq!(l.on_signal(SIGUSR1, t0), Action::ReopenLog);
        assert_eq!(l.drain(), None, "SIGUSR1 does not drain");
        assert_eq!(l.on_signal(SIGTERM, t0), Action::StartDrain);
        assert_eq!(l.drain(), Some(Drain { since: t0, grace: 2 * SEC }));
        assert_eq!(l.deadline(), Some(t0 + 10 * SEC));
        assert_eq!(l.on_signal(SIGINT, t0 + SEC), Action::StopNow);
        assert_eq!(l.deadline(), Some(t0 + 10 * SEC), "the drain's clock does not restart");
    }

    #[test]
    fn an_asked_drain_is_stopped_at_once_only_by_the_second_signal_after_it() {
        let t0 = Instant::now();
        let mut l = Lifecycle::new(2 * SEC, 10 * SEC);
        assert_eq!(l.ask_drain(t0), Action::StartDrain);
        assert_eq!(l.ask_drain(t0 + SEC), Action::Ignore, "asking twice is one drain");
        assert_eq!(l.deadline(), Some(t0 + 10 * SEC));
        // The worker may hear the very signal that made the process ask.
        assert_eq!(l.on_signal(SIGTERM, t0 + SEC), Action::Ignore);
        assert_eq!(l.on_signal(SIGTERM, t0 + SEC), Action::StopNow);
        // And asking after a signal started the drain changes nothing.
        let mut l = Lifecycle::new(2 * SEC, 10 * SEC);
        assert_eq!(l.on_signal(SIGINT, t0), Action::StartDrain);
        assert_eq!(l.ask_drain(t0), Action::Ignore);
        assert_eq!(l.on_signal(SIGINT, t0), Action::StopNow);
    }

    #[test]
    fn an_idle_connection_closes_only_after_a_whole_grace_of_idleness() {
        let t0 = Instant::now();
        let d = Drain { since: t0 + 10 * SEC, grace: 2 * SEC };
        // Idle long before the drain: the grace counts from its start.
        assert_eq!(d.idle_close_at(t0), t0 + 12 * SEC);
        // Active during the drain (a response sent before it began, or a
        // request in flight): a full grace from its last activity.
        assert_eq!(d.idle_close_at(t0 + 11 * SEC), t0 + 13 * SEC);
    }

    #[test]
    fn exit_code_is_0_for_a_drain_3_when_it_cut_and_128_plus_the_signal_when_forced() {
        assert_eq!(Outcome::exit_code(&[Outcome::Drained, Outcome::Drained]), 0);
        assert_eq!(Outcome::exit_code(&[Outcome::Drained, Outcome::TimedOut { cut: 3 }]), EXIT_CUT);
        assert_eq!(Outcome::exit_code(&[Outcome::TimedOut { cut: 1 }, Outcome::Forced { signal: SIGTERM }]), 143);
        assert_eq!(Outcome::exit_code(&[Outcome::Drained, Outcome::Forced { signal: SIGINT }]), 130);
        assert_eq!(Outcome::exit_code(&[Outcome::Forced { signal: SIGTERM }]), 143);
        assert_eq!(Outcome::exit_code(&[]), 0);
    }
}
