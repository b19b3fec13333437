//! Atomic uploads: the body goes to a temporary file beside the target,
//! is `fsync`ed, and is renamed over the target only when complete. A
//! dropped [`Upload`] removes its temporary file, so a cut-off, refused or
//! failed upload leaves nothing behind.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{FileStore, fs_error};
use crate::error::HttpError;

/// Prefix of upload temporary files; names with it are refused so a client
/// can never address another upload in flight.
pub(super) const TEMP_PREFIX: &str = ".loophttp-upload-";
/// Names to try when a temporary name is taken by a leftover.
const TEMP_ATTEMPTS: u32 = 16;
/// How far past the replaced file's modification time a replacing upload's
/// is set when the clock has not moved on (see `Upload::move_past`): a
/// microsecond, which file systems that keep less than nanoseconds still keep.
const MTIME_STEP: std::time::Duration = std::time::Duration::from_micros(1);
/// Each time this many more bytes have been written, their writeback to
/// disk is started (see [`Upload::write`]).
const WRITEBACK_STEP: u64 = 1 << 20;

impl FileStore {
    /// Starts `POST` / `PUT /files/{name}`: a temporary file beside the target.
    pub fn begin_upload(&self, name: &OsStr) -> Result<Upload, HttpError> {
        let target = self.dir.join(name);
        if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(HttpError::Conflict);
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let temp = self.dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).mode(0o644).open(&temp) {
                Ok(file) => return Ok(Upload { temp, target, file, written: 0, written_back: 0, committed: false }),
                // A leftover of an earlier process that had our PID (killed
                // before its Drop ran): take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < TEMP_ATTEMPTS => attempts += 1,
                Err(e) => return Err(fs_error(&e, &temp)), // logs what needs the operator
            }
        }
    }
}

/// Removes the temporary files of loophttp processes that no longer run:
/// killed (SIGKILL, a crash, power loss) before [`Upload`]'s `Drop` could,
/// they can never be finished. Those of running processes, this one
/// included, are kept: they may be uploads in flight. A process is running
/// if `/proc/PID` exists, so a reused PID keeps a leftover (harmless), and
/// a loophttp in another PID namespace sharing the directory must not be
/// uploading at our start. Without `/proc` nothing is removed.
pub(super) fn remove_leftovers(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            log::warn!("look for leftover uploads in {}: {e}", dir.display());
            return;
        }
    };
    for entry in entries.flatten() {
        let Some(pid) = temp_pid(entry.file_name().as_bytes()) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => log::info!("removed {}: an upload left by process {pid}, which is gone", entry.path().display()),
            Err(e) => log::warn!("remove leftover upload {}: {e}", entry.path().display()),
        }
    }
}

/// The PID in a temporary name `{TEMP_PREFIX}{pid}-{n}`.
fn temp_pid(name: &[u8]) -> Option<u32> {
    let rest = std::str::from_utf8(name.strip_prefix(TEMP_PREFIX.as_bytes())?).ok()?;
    let (pid, n) = rest.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// A body being received into a temporary file. Dropping it without
/// [`Upload::commit`] removes the temporary file: nothing partial remains.
#[derive(Debug)]
pub struct Upload {
    temp: PathBuf,
    target: PathBuf,
    file: File,
    /// Bytes written so far.
    written: u64,
    /// Bytes whose writeback has been started.
    written_back: u64,
    committed: bool,
}

impl Upload {
    /// Writes one piece of the body (a regular-file write: bounded by the
    /// read that produced it, so the loop stalls only briefly).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.written += data.len() as u64;
        if self.written - self.written_back >= WRITEBACK_STEP {
            self.start_writeback();
        }
        Ok(())
    }

    /// Starts writing the bytes since the last call to disk, without waiting
    /// for it. Otherwise the whole body sits dirty in the page cache until
    /// [`Upload::commit`]'s `fsync`, which then writes all of it while the
    /// loop, and every client on it, waits: a body at the default 64 MiB
    /// limit is a second's work for a disk that writes 64 MB/s. Started as
    /// the body arrives, the writes overlap the network and the `fsync` has
    /// only the tail left (and waits for what is still in flight).
    /// `sync_file_range` makes no durability promise, which is why `commit`
    /// still syncs; it can block briefly when the disk's request queue is
    /// full. Its failure costs only that head start, so it is logged, not
    /// returned.
    fn start_writeback(&mut self) {
        let (Ok(offset), Ok(len)) = (self.written_back.try_into(), (self.written - self.written_back).try_into())
        else {
            return;
        };
        // SAFETY: plain integers and a descriptor open for the call.
        let rc = unsafe { libc::sync_file_range(self.file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
        if rc != 0 {
            log::debug!("sync_file_range {}: {}", self.temp.display(), io::Error::last_os_error());
        }
        self.written_back = self.written;
    }

    /// Makes the upload durable and visible at once: fsync, then rename over
    /// the target. Returns whether an existing file was replaced.
    pub fn commit(mut self) -> io::Result<bool> {
        let old = fs::symlink_metadata(&self.target).ok();
        if let Some(old) = &old {
            self.move_past(old)?;
        }
        self.file.sync_all()?;
        // Created or replaced, decided by the rename itself: commits run on
        // several pool threads at once, and the look above could see two
        // uploads to one new name both "create" it.
        let replaced = match crate::sys::rename_noreplace(&self.temp, &self.target) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                fs::rename(&self.temp, &self.target)?;
                true
            }
            // A file system without RENAME_NOREPLACE: the look decides.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                fs::rename(&self.temp, &self.target)?;
                old.is_some()
            }
            Err(e) => return Err(e),
        };
        self.committed = true;
        // The rename itself is durable once the directory is synced; failing
        // to do so only weakens crash safety, so it is not an error.
        if let Some(dir) = self.target.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(replaced)
    }
}

impl Upload {
    /// Gives the new file a modification time later than the one it
    /// replaces. The ETag is size and mtime (no inode), and the file
    /// system's clock ticks coarsely (a few milliseconds on Linux): a
    /// same-size replacement within one tick would otherwise keep the old
    /// tag, and a client holding it would be told 304 for the new bytes.
    fn move_past(&self, old: &fs::Metadata) -> io::Result<()> {
        let (Ok(before), Ok(now)) = (old.modified(), self.file.metadata().and_then(|m| m.modified())) else {
            return Ok(());
        };
        if now <= before {
            self.file.set_modified(before + MTIME_STEP)?;
        }
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = fs::remove_file(&self.temp)
        {
            log::warn!("remove {}: {e}", self.temp.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::skip_unless_ci;

    #[test]
    fn dropped_upload_leaves_nothing_and_committed_one_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"partial").unwrap();
        drop(up);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"one").unwrap();
        assert!(!up.commit().unwrap());
        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"two").unwrap();
        assert!(up.commit().unwrap());
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_replacing_upload_is_dated_after_the_file_it_replaces() {
        // The old file dated an hour ahead stands for "the clock has not
        // ticked since": the same size, so only the mtime can tell them apart.
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        fs::write(dir.path().join("a"), b"one").unwrap();
        File::options().write(true).open(dir.path().join("a")).unwrap().set_modified(ahead).unwrap();
        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"two").unwrap();
        assert!(up.commit().unwrap());
        let now = fs::metadata(dir.path().join("a")).unwrap().modified().unwrap();
        assert!(now > ahead, "{now:?} is not after {ahead:?}");
    }

    #[test]
    fn leftovers_of_processes_gone_are_removed_and_the_rest_kept() {
        // PIDs stay below pid_max, which can be at most 2^22 (the kernel's
        // PID_MAX_LIMIT): no process ever has this one.
        let gone: u32 = 1 << 22;
        let pid_max: u32 = fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
        assert!(gone >= pid_max);
        let dir = tempfile::tempdir().unwrap();
        let name = |pid: u32, n: u32| format!("{TEMP_PREFIX}{pid}-{n}");
        let kept = [name(std::process::id(), 0), format!("{TEMP_PREFIX}x-1"), name(1, 7), "notes.txt".into()];
        for f in kept.iter().chain(&[name(gone, 0), name(gone, 1)]) {
            fs::write(dir.path().join(f), b"partial").unwrap();
        }
        fs::create_dir(dir.path().join(name(gone, 2))).unwrap(); // not ours to remove
        FileStore::new(dir.path()).unwrap();
        let mut left: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut want: Vec<String> = kept.into_iter().chain([name(gone, 2)]).collect();
        want.sort();
        assert_eq!(left, want);
    }

    #[test]
    fn temp_names_give_their_pid() {
        assert_eq!(temp_pid(b".loophttp-upload-123-4"), Some(123));
        for bad in [
            &b".loophttp-upload-123"[..],
            b".loophttp-upload--4",
            b".loophttp-upload-1-",
            b"x-1-2",
            b".loophttp-upload-1-2x",
        ] {
            assert_eq!(temp_pid(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// `struct cachestat` of cachestat(2) (Linux 6.5): page-cache state of a
    /// file range.
    #[repr(C)]
    #[derive(Debug, Default)]
    struct CacheStat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }

    /// Page-cache state of `len` bytes of `file` from `off`; None where the
    /// kernel has no cachestat.
    fn cachestat(file: &File, off: u64, len: u64) -> Option<CacheStat> {
        const SYS_CACHESTAT: libc::c_long = 451; // the same on every architecture
        let range = [off, len]; // struct cachestat_range
        let mut stat = CacheStat::default();
        // SAFETY: `range` and `stat` are valid for the kernel to read and
        // write for the duration of the call; flags must be 0.
        let rc = unsafe { libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range, &mut stat, 0) };
        if rc == 0 {
            Some(stat)
        } else {
            assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::ENOSYS), "cachestat");
            None
        }
    }

    #[test]
    fn writeback_of_each_step_starts_as_the_upload_is_written() {
        // Next to the test binary, in target/: on disk, where the default
        // temporary directory may be tmpfs, which has no writeback.
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir_in(exe.parent().unwrap()).unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let mut up = store.begin_upload(OsStr::new("big")).unwrap();
        let piece = [7u8; 64 * 1024];
        let pieces = WRITEBACK_STEP / piece.len() as u64;
        for _ in 0..pieces + 1 {
            up.write(&piece).unwrap();
        }
        let (Some(step), Some(tail)) =
            (cachestat(&up.file, 0, WRITEBACK_STEP), cachestat(&up.file, WRITEBACK_STEP, piece.len() as u64))
        else {
            return skip_unless_ci("no cachestat(2) on this kernel (Linux 6.5+)");
        };
        // SAFETY: an all-zero statfs is valid for the kernel to fill.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid descriptor and a valid statfs to fill.
        assert_eq!(unsafe { libc::fstatfs(up.file.as_raw_fd(), &mut fs) }, 0);
        if fs.f_type == 0x0102_1994 {
            return skip_unless_ci("target/ is on tmpfs, which has no writeback");
        }
        assert_eq!(step.nr_dirty, 0, "the first {WRITEBACK_STEP} B still wait for writeback: {step:?}");
        assert!(tail.nr_dirty > 0, "the tail past the step is left to commit's fsync: {tail:?}");
        assert!(!up.commit().unwrap());
    }
}
