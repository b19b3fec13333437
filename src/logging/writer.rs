//! The thread that writes the server's own log to stderr, so that a log
//! line never stops the loop. A loop formats its line and hands it over
//! through a bounded channel without waiting; when the channel is full
//! (stderr is a pipe nobody reads, a terminal scrolled back, a slow
//! journal), the line is dropped and counted. Once the writer can write
//! again it reports the lines lost, once per episode, as a warning line of
//! its own. The access log's writer (`access_log/writer.rs`) works the same way.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines in flight between the loops and the writer: at about 150 bytes a
/// trace line, some 1.2 MB waits for a slow stderr at most.
pub const LINES: usize = 8192;
/// How long [`Stderr::flush`] waits for the writer at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// Lines the writer takes from the channel into one `write`.
const BATCH: usize = 64;

enum Msg {
    Line(Vec<u8>),
    /// Answer once every line sent before is written.
    Flush(mpsc::Sender<()>),
}

/// The loops' end of the writer: cheap to share, never blocks.
pub struct Stderr {
    tx: Mutex<SyncSender<Msg>>,
    dropped: Arc<AtomicU64>,
}

impl Stderr {
    /// Starts the writer thread on `out` (stderr, or a test's writer).
    pub fn spawn(out: impl Write + Send + 'static) -> io::Result<Stderr> {
        let (tx, rx) = mpsc::sync_channel(LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        std::thread::Builder::new().name("loophttp-log".into()).spawn(move || write_lines(&rx, out, &d))?;
        Ok(Stderr { tx: Mutex::new(tx), dropped })
    }

    /// Hands `line` (with its newline) to the writer, or drops and counts
    /// it if the writer is that far behind.
    pub fn send(&self, line: Vec<u8>) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(Msg::Line(line)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped so far.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (a bounded time) until the lines sent so far are written: at
    /// exit, so the last lines (a startup error) are not lost.
    pub fn flush(&self) {
        let (done_tx, done) = mpsc::channel();
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut msg = Msg::Flush(done_tx);
        loop {
            let sent = self.tx.lock().unwrap_or_else(|e| e.into_inner()).try_send(msg);
            match sent {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    msg = back;
                    std::thread::sleep(Duration::from_millis(5)); // polling a full channel at exit only
                }
                Err(_) => return,
            }
        }
        let _ = done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

fn write_lines(rx: &Receiver<Msg>, mut out: impl Write, dropped: &AtomicU64) {
    let mut reported = 0;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut flushes = Vec::new();
    while let Ok(first) = rx.recv() {
        // This line and whatever else is waiting, up to a batch: one write.
        let (mut msg, mut taken) = (Some(first), 0);
        while let Some(m) = msg {
            match m {
                Msg::Line(line) => buf.extend_from_slice(&line),
                Msg::Flush(done) => flushes.push(done),
            }
            taken += 1;
            msg = if taken < BATCH { rx.try_recv().ok() } else { None };
        }
        let lost = dropped.load(Ordering::Relaxed);
        if lost > reported {
            // Once per episode: the writer kept up again.
            let _ = writeln!(
                buf,
                "{} WARN  [loophttp::logging] {} log lines dropped: stderr did not keep up (the loop never waits for it)",
                super::now_rfc3339_millis(),
                lost - reported
            );
            reported = lost;
        }
        // A log line that cannot be written has nowhere to be reported.
        let _ = out.write_all(&buf).and_then(|()| out.flush());
        buf.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Condvar;

    /// Whether the gate is open, what went through, and whether a write
    /// has reached the gate.
    type Passed = Mutex<(bool, Vec<u8>, bool)>;

    /// A writer that blocks until opened, as a pipe nobody reads.
    #[derive(Clone, Default)]
    struct Gate(Arc<(Passed, Condvar)>);

    impl Write for Gate {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let (lock, cv) = &*self.0;
            let mut g = lock.lock().unwrap();
            g.2 = true;
            cv.notify_all();
            let mut g = cv.wait_while(g, |(open, _, _)| !*open).unwrap();
            g.1.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_stderr_drops_lines_without_waiting_and_reports_them_once() {
        let gate = Gate::default();
        let log = Stderr::spawn(gate.clone()).unwrap();
        // The writer holds the first line at the gate before the flood, so
        // all the drops happen while it is stuck: one episode. (Had it
        // started late, it could take a batch mid-flood and report twice.)
        log.send(b"line 0\n".to_vec());
        {
            let (lock, cv) = &*gate.0;
            let stuck = cv.wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(10), |p| !p.2).unwrap();
            assert!(!stuck.1.timed_out(), "the writer never reached the gate");
        }
        let started = Instant::now();
        let lines = LINES + BATCH + 1000;
        for i in 1..lines {
            log.send(format!("line {i}\n").into_bytes());
        }
        assert!(started.elapsed() < Duration::from_secs(5), "sending never waits for the writer");
        assert!(log.dropped() >= 1000 - 2, "dropped {}", log.dropped());
        {
            let (lock, cv) = &*gate.0;
            lock.lock().unwrap().0 = true;
            cv.notify_all();
        }
        log.flush(); // the writer caught up
        log.send(b"after\n".to_vec());
        log.flush();
        let written = String::from_utf8(gate.0.0.lock().unwrap().1.clone()).unwrap();
        assert!(written.starts_with("line 0\n") && written.ends_with("after\n"), "{}", &written[written.len() - 200..]);
        let reports: Vec<_> = written.lines().filter(|l| l.contains("log lines dropped")).collect();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(reports[0].contains(&format!("] {} log lines dropped", log.dropped())), "{reports:?}");
        let kept = written.lines().filter(|l| l.starts_with("line ")).count() as u64;
        assert_eq!(kept + log.dropped(), lines as u64, "every line written or counted");
    }
}
