//! Atomic uploads: the body goes to a temporary file beside the target,
//! is `fsync`ed, and is renamed over the target only when complete. A
//! dropped [`Upload`] removes its temporary file, so a cut-off, refused or
//! failed upload leaves nothing behind.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{FileStore, io_status};

/// Prefix of upload temporary files; names with it are refused so a client
/// can never address another upload in flight.
pub(super) const TEMP_PREFIX: &str = ".loophttp-upload-";
/// Names to try when a temporary name is taken by a leftover.
const TEMP_ATTEMPTS: u32 = 16;

impl FileStore {
    /// Starts `POST` / `PUT /files/{name}`: a temporary file beside the target.
    pub fn begin_upload(&self, name: &OsStr) -> Result<Upload, u16> {
        let target = self.dir.join(name);
        if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(409);
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let temp = self.dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).mode(0o644).open(&temp) {
                Ok(file) => return Ok(Upload { temp, target, file, committed: false }),
                // A leftover of an earlier process that had our PID (killed
                // before its Drop ran): take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < TEMP_ATTEMPTS => attempts += 1,
                Err(e) => {
                    log::warn!("create {}: {e}", temp.display());
                    return Err(io_status(&e));
                }
            }
        }
    }
}

/// A body being received into a temporary file. Dropping it without
/// [`Upload::commit`] removes the temporary file: nothing partial remains.
#[derive(Debug)]
pub struct Upload {
    temp: PathBuf,
    target: PathBuf,
    file: File,
    committed: bool,
}

impl Upload {
    /// Writes one piece of the body (a regular-file write: bounded by the
    /// read that produced it, so the loop stalls only briefly).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Makes the upload durable and visible at once: fsync, then rename over
    /// the target. Returns whether an existing file was replaced.
    pub fn commit(mut self) -> io::Result<bool> {
        self.file.sync_all()?;
        let replaced = fs::symlink_metadata(&self.target).is_ok();
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        // The rename itself is durable once the directory is synced; failing
        // to do so only weakens crash safety, so it is not an error.
        if let Some(dir) = self.target.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(replaced)
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
}
