//! A small pool of threads for the file-system calls that can wait on the
//! disk, as nginx's `thread_pool`: an upload's commit (`fsync` of the file,
//! `rename` over the target, `fsync` of the directory). On the loop's
//! thread, each such call stops every client of the loop for as long as the
//! disk takes: 500 pipelined one-byte uploads held another client's
//! `/healthz` for 254 ms (issue #17).
//!
//! How a job travels:
//!
//! 1. the connection puts it in [`Blocking::Offload`] (`cx.blocking`) and
//!    waits in its own state (`Commit`, drawn in `conn/mod.rs`), reading
//!    nothing more;
//! 2. the loop takes it from there after driving the connection, tags it
//!    with the connection's [`Owner`] (slab key and id) and hands it to the
//!    [`Pool`]'s bounded queue; when the queue is full, the loop keeps the
//!    job in a list of its own and hands it over when a completion frees a
//!    place: the request waits, it never fails, and the loop never blocks;
//! 3. a pool thread runs it, puts the outcome in the pool's done list, and
//!    calls the wake function, which is the loop's `mio::Waker` (this module
//!    knows nothing of mio);
//! 4. the loop, woken, takes the done list and gives each outcome to its
//!    connection if it is still the same one (`Conn::on_done`), which
//!    answers and goes on.
//!
//! Each worker has its own pool (`--io-threads` threads), as each nginx
//! worker process has its own thread pool: nothing is shared between loops.
//! Without a pool ([`Blocking::Inline`], the default of a bare `Context`:
//! unit tests, the in-memory hot path) a job runs at once, in place.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::deadlines::Owner;
use crate::files::Upload;

/// Jobs waiting for a thread, per pool. Beyond, the loop keeps them (see
/// step 2 above); 64 is a burst of uploads finishing at once.
pub const QUEUE: usize = 64;

/// A call that can wait on the disk.
#[derive(Debug)]
pub enum Job {
    /// Make an upload durable and visible ([`Upload::commit`]).
    Commit(Upload),
    /// Hold a pool thread until told: for tests of a full queue.
    #[cfg(test)]
    Hold(mpsc::Receiver<()>),
}

/// What a [`Job`] came to.
#[derive(Debug)]
pub enum Done {
    /// Whether the upload replaced a file, or why it failed.
    Committed(io::Result<bool>),
}

impl Job {
    pub fn run(self) -> Done {
        match self {
            Job::Commit(upload) => Done::Committed(upload.commit()),
            #[cfg(test)]
            Job::Hold(until) => Done::Committed(until.recv().map(|()| false).map_err(io::Error::other)),
        }
    }
}

/// Where a connection's jobs go: run at once, or collected for the pool.
#[derive(Debug, Default)]
pub enum Blocking {
    /// Run in place, on the calling thread (no pool).
    #[default]
    Inline,
    /// Collected for the loop to hand to its pool, with the id of the
    /// connection that asked.
    Offload(Vec<(u64, Job)>),
}

impl Blocking {
    /// Runs `job` now (then returns its outcome), or queues it for the
    /// loop's pool (None: the outcome comes later, to `Conn::on_done`).
    pub fn run_or_offload(&mut self, conn: u64, job: Job) -> Option<Done> {
        match self {
            Blocking::Inline => Some(job.run()),
            Blocking::Offload(jobs) => {
                jobs.push((conn, job));
                None
            }
        }
    }

    /// The jobs queued since the last call (the loop checks
    /// [`Blocking::has_jobs`] first: most calls queue none).
    pub fn take(&mut self) -> Vec<(u64, Job)> {
        match self {
            Blocking::Inline => Vec::new(),
            Blocking::Offload(jobs) => std::mem::take(jobs),
        }
    }

    pub fn has_jobs(&self) -> bool {
        matches!(self, Blocking::Offload(jobs) if !jobs.is_empty())
    }
}

type Finished = Arc<Mutex<Vec<(Owner, Done)>>>;

/// A worker's threads for blocking calls; dropping it lets the threads
/// finish the jobs they hold (a commit is never cut in half) and joins them.
pub struct Pool {
    tx: Option<SyncSender<(Owner, Job)>>,
    done: Finished,
    /// Jobs the full queue refused, in order: handed over as places free.
    waiting: VecDeque<(Owner, Job)>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` threads (at least one); each calls `wake` after
    /// putting an outcome in the done list.
    pub fn new(threads: usize, name: &str, wake: impl Fn() + Send + Sync + 'static) -> io::Result<Pool> {
        let (tx, rx) = mpsc::sync_channel::<(Owner, Job)>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let done: Finished = Arc::default();
        let wake = Arc::new(wake);
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let (rx, done, wake) = (rx.clone(), done.clone(), wake.clone());
            let thread = std::thread::Builder::new().name(format!("{name}-io-{i}"));
            handles.push(thread.spawn(move || serve(&rx, &done, &*wake))?);
        }
        Ok(Pool { tx: Some(tx), done, waiting: VecDeque::new(), threads: handles })
    }

    /// Hands `job` to a thread; if the queue is full, keeps it (and any
    /// later one, to keep their order) until [`Pool::take_done`] frees a place.
    pub fn submit(&mut self, owner: Owner, job: Job) {
        if self.waiting.is_empty() {
            match self.try_send(owner, job) {
                Ok(()) => return,
                Err((owner, job)) => self.waiting.push_back((owner, job)),
            }
        } else {
            self.waiting.push_back((owner, job));
        }
        log::debug!(conn = owner.id, waiting = self.waiting.len(); "blocking-I/O queue full; the job waits");
    }

    fn try_send(&self, owner: Owner, job: Job) -> Result<(), (Owner, Job)> {
        let Some(tx) = &self.tx else { return Err((owner, job)) };
        match tx.try_send((owner, job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(back) | TrySendError::Disconnected(back)) => Err(back),
        }
    }

    /// Moves the finished jobs' outcomes into `into`, then hands waiting
    /// jobs to the places that freed.
    pub fn take_done(&mut self, into: &mut Vec<(Owner, Done)>) {
        into.append(&mut self.done.lock().unwrap_or_else(|e| e.into_inner()));
        while let Some((owner, job)) = self.waiting.pop_front() {
            if let Err(back) = self.try_send(owner, job) {
                self.waiting.push_front(back);
                break;
            }
        }
    }

    /// Jobs handed over or waiting whose outcome has not been taken.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

fn serve(rx: &Mutex<Receiver<(Owner, Job)>>, done: &Mutex<Vec<(Owner, Done)>>, wake: &dyn Fn()) {
    loop {
        // The lock is held only while waiting for a job, not running it.
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((owner, job)) = next else { return }; // the pool was dropped
        let outcome = job.run();
        done.lock().unwrap_or_else(|e| e.into_inner()).push((owner, outcome));
        wake();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.waiting.clear(); // never started: the uploads' Drop removes their files
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("threads", &self.threads.len()).field("waiting", &self.waiting.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::FileStore;
    use std::ffi::OsStr;
    use std::sync::Condvar;
    use std::time::Duration;

    #[test]
    fn a_full_queue_keeps_jobs_waiting_in_order_and_every_one_completes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let woken = Arc::new((Mutex::new(0usize), Condvar::new()));
        let w = woken.clone();
        let mut pool = Pool::new(1, "test", move || {
            *w.0.lock().unwrap() += 1;
            w.1.notify_all();
        })
        .unwrap();
        // The one thread is held: the queue fills, and the rest wait.
        let (release, hold) = mpsc::channel();
        pool.submit(Owner { key: 0, id: 0 }, Job::Hold(hold));
        let jobs = QUEUE + 21;
        for i in 1..jobs {
            let mut up = store.begin_upload(OsStr::new(&format!("f{i}"))).unwrap();
            up.write(b"x").unwrap();
            pool.submit(Owner { key: i, id: i as u64 }, Job::Commit(up));
        }
        // QUEUE commits fit beside the held job once the thread has taken
        // it; if it has not yet (a loaded machine), the held job fills one
        // place and one more commit waits.
        assert!(matches!(pool.waiting(), 20 | 21), "beyond the queue, jobs wait: {}", pool.waiting());
        release.send(()).unwrap();
        let mut done = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while done.len() < jobs {
            assert!(std::time::Instant::now() < deadline, "only {} of {jobs} jobs completed", done.len());
            let (lock, cv) = &*woken;
            let guard = lock.lock().unwrap();
            let _unused = cv.wait_timeout(guard, Duration::from_millis(50)).unwrap();
            pool.take_done(&mut done);
        }
        let keys: Vec<usize> = done.iter().map(|(o, _)| o.key).collect();
        assert_eq!(keys, (0..jobs).collect::<Vec<_>>(), "one thread: in the order submitted");
        assert!(done.iter().all(|(_, d)| matches!(d, Done::Committed(Ok(false)))));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), jobs - 1, "every file there, no temporary left");
    }

    #[test]
    fn inline_runs_at_once_and_offload_collects() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let up = store.begin_upload(OsStr::new("a")).unwrap();
        assert!(matches!(Blocking::Inline.run_or_offload(1, Job::Commit(up)), Some(Done::Committed(Ok(false)))));
        let up = store.begin_upload(OsStr::new("b")).unwrap();
        let mut b = Blocking::Offload(Vec::new());
        assert!(b.run_or_offload(7, Job::Commit(up)).is_none());
        assert!(b.has_jobs());
        let jobs = b.take();
        assert_eq!(jobs.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [7]);
        assert!(!b.has_jobs());
    }
}
