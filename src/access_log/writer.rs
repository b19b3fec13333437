//! The thread that owns the access log's output. Loops hand it whole
//! batches through a bounded channel and never wait for it: when the
//! channel is full (the output is a pipe nobody reads, a slow disk), the
//! loop drops its batch and counts the lines instead of stalling. Written
//! buffers go back to their loop for reuse, so batches allocate nothing
//! once warm.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// Batches in flight between all loops and the writer: with 64 KiB
/// batches, at most about 1 MiB waits for a slow output.
pub const CHANNEL_BATCHES: usize = 16;

/// What a loop sends the writer.
pub(super) enum Msg {
    Batch {
        buf: Vec<u8>,
        lines: u64,
        back: SyncSender<Vec<u8>>,
    },
    /// Look at the flags (a reopen was asked for).
    Wake,
}

/// State shared by the writer, the loops and the signal handler.
#[derive(Debug, Default)]
pub struct LogState {
    /// The output is a file, which can be reopened.
    file: bool,
    reopen: AtomicBool,
    /// Lines lost: batches dropped by loops (channel full) or whose write failed.
    pub(super) dropped: AtomicU64,
}

impl LogState {
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Asks for a reopen (seen after the batch being written); false if
    /// the output is not a file.
    pub(super) fn request_reopen(&self) -> bool {
        self.reopen.store(self.file, Ordering::SeqCst);
        self.file
    }
}

/// Where lines go.
pub(super) enum Sink {
    Stdout,
    File {
        path: PathBuf,
        file: File,
    },
    /// Any writer: tests stand in a stalled pipe with it.
    #[cfg(test)]
    Custom(Box<dyn Write + Send>),
}

impl Sink {
    pub fn open(path: PathBuf) -> io::Result<Sink> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Sink::File { path, file })
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(buf)?;
                out.flush()
            }
            Sink::File { file, .. } => file.write_all(buf),
            #[cfg(test)]
            Sink::Custom(w) => w.write_all(buf).and_then(|()| w.flush()),
        }
    }

    /// For log rotation (SIGUSR1): open the path again, so lines go to the
    /// new file once the old one was renamed. Everything handed over before
    /// went to the old file; nothing buffered is lost either way.
    fn reopen(&mut self) {
        if let Sink::File { path, file } = self {
            match OpenOptions::new().create(true).append(true).open(&*path) {
                Ok(f) => {
                    *file = f;
                    log::info!(path:% = path.display(); "access log reopened");
                }
                Err(e) => {
                    log::warn!(path:% = path.display(), error:% = e; "access log cannot be reopened; still writing the old file")
                }
            }
        }
    }
}

/// The running writer thread; [`LogWriter::finish`] flushes and stops it.
pub struct LogWriter {
    /// Shared with [`LogControl`]s, which must not keep the writer alive:
    /// `finish` takes it out.
    tx: Arc<Mutex<Option<SyncSender<Msg>>>>,
    state: Arc<LogState>,
    thread: Option<JoinHandle<()>>,
    /// In a Mutex only so that a server handle can be shared by threads.
    done: Mutex<Receiver<()>>,
}

impl LogWriter {
    pub(super) fn spawn(sink: Sink) -> io::Result<LogWriter> {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
        let (done_tx, done) = mpsc::channel();
        let state = Arc::new(LogState { file: matches!(sink, Sink::File { .. }), ..LogState::default() });
        let st = state.clone();
        let thread = std::thread::Builder::new().name("loophttp-access-log".into()).spawn(move || {
            run(sink, &rx, &st);
            let _ = done_tx.send(());
        })?;
        Ok(LogWriter { tx: Arc::new(Mutex::new(Some(tx))), state, thread: Some(thread), done: Mutex::new(done) })
    }

    pub(super) fn sender(&self) -> Option<SyncSender<Msg>> {
        self.tx.lock().ok()?.clone()
    }

    pub fn state(&self) -> &Arc<LogState> {
        &self.state
    }

    /// A handle for signal handling: [`LogControl::reopen`].
    pub fn control(&self) -> LogControl {
        LogControl { tx: self.tx.clone(), state: self.state.clone() }
    }

    /// Call after every loop has flushed and dropped its sender: writes
    /// what is queued and stops. Waits at most `within` for an output that
    /// does not take it (a stalled pipe), then gives up on those lines.
    pub fn finish(mut self, within: Duration) {
        if let Ok(mut tx) = self.tx.lock() {
            *tx = None;
        }
        let done = match self.done.lock() {
            Ok(rx) => rx.recv_timeout(within),
            Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
        };
        match done {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                log::warn!(waited:? = within; "access log output did not take the last lines; giving up on them");
            }
        }
    }
}

/// Asks the writer to reopen its file (log rotation), from any thread.
#[derive(Debug, Clone)]
pub struct LogControl {
    tx: Arc<Mutex<Option<SyncSender<Msg>>>>,
    state: Arc<LogState>,
}

impl LogControl {
    /// Reopens the log file after the batches already handed over are
    /// written. Never blocks: if the channel is full, the writer sees the
    /// flag after its next batch.
    pub fn reopen(&self) {
        self.state.request_reopen();
        // A lock only on this rare path, never on a loop's.
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = &*tx
        {
            let _ = tx.try_send(Msg::Wake);
        }
    }
}

fn run(mut sink: Sink, rx: &Receiver<Msg>, state: &LogState) {
    let mut failing = false;
    // Ends when every sender (the loops' and the LogWriter's) is gone.
    while let Ok(msg) = rx.recv() {
        if let Msg::Batch { mut buf, lines, back } = msg {
            match sink.write_all(&buf) {
                Ok(()) if failing => {
                    failing = false;
                    log::info!("access log writes work again");
                }
                Ok(()) => {}
                Err(e) => {
                    state.dropped.fetch_add(lines, Ordering::Relaxed);
                    if !std::mem::replace(&mut failing, true) {
                        log::warn!(error:% = e; "access log write failed; lines dropped (counted in /metrics)");
                    }
                }
            }
            buf.clear();
            let _ = back.try_send(buf);
        }
        if state.reopen.swap(false, Ordering::SeqCst) {
            sink.reopen();
        }
    }
}
