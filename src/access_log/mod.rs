//! The access log: one line per request (and per error response that ends
//! a connection), in Combined or JSON format, written without ever making
//! the loop wait.
//!
//! A line is written in two halves (`format.rs`): what the request says is
//! rendered when it arrives, into its connection's text store
//! ([`AccessLog::keep`]); the rest is added when the response is complete
//! ([`AccessLog::write`]). Each loop writes lines into its own
//! [`AccessLog`] buffer (reused, so a line allocates nothing) and hands the buffer to the [`LogWriter`] thread
//! when it holds [`BATCH_BYTES`] or its oldest line is [`FLUSH_INTERVAL`]
//! old, like nginx's `access_log ... buffer=64k flush=100ms`. The loop
//! includes [`AccessLog::deadline`] in its poll timeout so a quiet server
//! still writes its last lines on time. If the writer falls behind, whole
//! batches are dropped and counted ([`LogState::dropped_lines`]) and the
//! first drop of an episode is reported in the server log.

mod clock;
mod combined;
pub mod escape;
pub mod format;
mod json;
pub(crate) mod pieces;
mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

pub use clock::LogClock;
#[cfg(test)]
pub use format::Entry;
pub use format::{Completion, Format, Kept, Line, Request};
pub use writer::{CHANNEL_BATCHES, LogControl, LogState, LogWriter};
use writer::{Msg, Sink};

/// A loop hands its lines to the writer once it holds this many bytes.
pub const BATCH_BYTES: usize = 64 * 1024;
/// ... or once its oldest line waited this long.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stopping loop keeps offering its last batch to a busy writer.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// Where the access log goes (`--access-log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Off,
    /// `-`: what containers and systemd collect. Server records stay on stderr.
    Stdout,
    /// Appended to; reopened on request for log rotation.
    File(PathBuf),
}

impl FromStr for Destination {
    type Err = String;

    fn from_str(s: &str) -> Result<Destination, String> {
        match s {
            "" => Err("expected -, off or a file path".into()),
            "-" => Ok(Destination::Stdout),
            "off" => Ok(Destination::Off),
            path => Ok(Destination::File(PathBuf::from(path))),
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Off => f.write_str("off"),
            Destination::Stdout => f.write_str("-"),
            Destination::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Opens the destination and starts the writer; `None` when off.
pub fn start(dest: &Destination) -> std::io::Result<Option<LogWriter>> {
    let sink = match dest {
        Destination::Off => return Ok(None),
        Destination::Stdout => Sink::Stdout,
        Destination::File(path) => Sink::open(path.clone())?,
    };
    LogWriter::spawn(sink).map(Some)
}

/// One loop's side of the access log.
#[derive(Debug)]
pub struct AccessLog {
    format: Format,
    clock: LogClock,
    /// The head of the last Combined line, for the next one of its client.
    head: combined::LastHead,
    buf: Vec<u8>,
    /// Lines in `buf`.
    lines: u64,
    /// When the oldest line in `buf` was added.
    oldest: Option<Instant>,
    scratch: String,
    /// None: the log is off and nothing is formatted.
    tx: Option<SyncSender<Msg>>,
    /// Written buffers coming back from the writer.
    back_tx: SyncSender<Vec<u8>>,
    back_rx: Receiver<Vec<u8>>,
    state: Arc<LogState>,
    /// Batches are being dropped (reported once per episode).
    dropping: bool,
}

impl AccessLog {
    /// A log that writes nothing (`--access-log off`).
    pub fn off() -> AccessLog {
        AccessLog::new(None, Format::Combined)
    }

    /// This loop's end of `writer`'s log (off if there is no writer).
    pub fn new(writer: Option<&LogWriter>, format: Format) -> AccessLog {
        let (back_tx, back_rx) = mpsc::sync_channel(CHANNEL_BATCHES + 2);
        AccessLog {
            format,
            clock: LogClock::default(),
            head: combined::LastHead::default(),
            buf: Vec::new(),
            lines: 0,
            oldest: None,
            scratch: String::new(),
            tx: writer.and_then(LogWriter::sender),
            back_tx,
            back_rx,
            state: writer.map_or_else(Arc::default, |w| w.state().clone()),
            dropping: false,
        }
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Lines lost so far by every loop (for `/metrics`).
    pub fn state(&self) -> &Arc<LogState> {
        &self.state
    }

    /// Log rotation (SIGUSR1): the writer reopens the file after the batch
    /// it is writing; lines still buffered here go to the new file. False
    /// if there is no file to reopen (off, or stdout). Never blocks.
    pub fn reopen(&self) -> bool {
        let Some(tx) = &self.tx else { return false };
        if !self.state.request_reopen() {
            return false;
        }
        let _ = tx.try_send(Msg::Wake);
        true
    }

    /// The loop's wall clock for the lines of this pass.
    pub fn set_time(&mut self, now: SystemTime) {
        // A new second: the last line's head has the old time.
        if self.enabled() && self.clock.set(now) {
            self.head.clear();
        }
    }

    /// Renders the request's half of its line, appended to `store` (the
    /// connection's text store): [`AccessLog::write`] adds the rest.
    pub fn keep(&mut self, request: &Request<'_>, store: &mut Vec<u8>) -> Kept {
        format::keep(self.format, request, store, &mut self.scratch)
    }

    /// Adds one line: the request's half `kept` (`text`, as
    /// [`AccessLog::keep`] left it) with `c`; hands the batch over if it is
    /// full.
    pub fn write(&mut self, text: &[u8], kept: Kept, c: &Completion, now: Instant) {
        if !self.enabled() {
            return;
        }
        if self.buf.capacity() == 0 {
            self.buf = self.back_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES + 4096));
        }
        format::write(self.format, text, kept, c, &self.clock, &mut self.head, &mut self.buf);
        self.lines += 1;
        self.oldest.get_or_insert(now);
        if self.buf.len() >= BATCH_BYTES {
            self.hand_off();
        }
    }

    /// Both halves of `e`'s line at once (tests).
    #[cfg(test)]
    pub fn write_entry(&mut self, e: &Entry<'_>, now: Instant) {
        let mut text = Vec::new();
        let kept = self.keep(&e.request(), &mut text);
        self.write(&text, kept, &e.completion(), now);
    }

    /// When the buffered lines must be handed over: part of the poll timeout.
    pub fn deadline(&self) -> Option<Instant> {
        self.oldest.map(|t| t + FLUSH_INTERVAL)
    }

    /// Hands the batch over if its time has come (once per loop pass).
    pub fn tick(&mut self, now: Instant) {
        if self.deadline().is_some_and(|d| d <= now) {
            self.hand_off();
        }
    }

    /// Hands over the batch without waiting; a full channel drops it.
    fn hand_off(&mut self) {
        self.oldest = None;
        let Some(tx) = &self.tx else { return };
        if self.lines == 0 {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let lines = std::mem::take(&mut self.lines);
        match tx.try_send(Msg::Batch { buf, lines, back: self.back_tx.clone() }) {
            Ok(()) => {
                if std::mem::take(&mut self.dropping) {
                    log::info!("access log output keeps up again");
                }
            }
            Err(TrySendError::Full(Msg::Batch { mut buf, lines, .. }))
            | Err(TrySendError::Disconnected(Msg::Batch { mut buf, lines, .. })) => {
                self.state.dropped.fetch_add(lines, Ordering::Relaxed);
                if !std::mem::replace(&mut self.dropping, true) {
                    log::warn!(
                        "access log output is not keeping up: dropping lines rather than stalling \
                         (counted in loophttp_access_log_dropped_lines_total; reported once)"
                    );
                }
                buf.clear();
                self.buf = buf; // reuse it for the next lines
            }
            Err(_) => {}
        }
    }

    /// The loop is stopping: hand over the last lines, waiting a bounded
    /// time for room ([`SHUTDOWN_WAIT`]), then let go of the writer.
    pub fn finish(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        if self.lines > 0 {
            let give_up = Instant::now() + SHUTDOWN_WAIT;
            let mut msg =
                Msg::Batch { buf: std::mem::take(&mut self.buf), lines: self.lines, back: self.back_tx.clone() };
            loop {
                match tx.try_send(msg) {
                    Ok(()) => break,
                    Err(TrySendError::Full(m)) if Instant::now() < give_up => {
                        msg = m;
                        // Shutdown only: the loop serves nobody any more.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => {
                        self.state.dropped.fetch_add(self.lines, Ordering::Relaxed);
                        log::warn!(lines = self.lines; "access log: lines could not be written at shutdown");
                        break;
                    }
                }
            }
        }
        self.lines = 0;
        self.oldest = None;
    }
}

#[cfg(test)]
mod tests;
