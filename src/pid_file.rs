//! `--pid-file`: the pid of whichever process serves. Written whole or not
//! at all (a temporary file renamed over it), by the new process after an
//! upgrade; removed at exit only by the process it names.

use std::io;
use std::path::Path;

/// Written whole or not at all (a temporary file renamed
/// over it), by whichever process serves.
pub fn write(path: &Path) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// At exit: removes the pid file if it still names this process (after
/// an upgrade it names the new one, which keeps it).
pub fn remove_if_ours(path: &Path) {
    let ours = std::fs::read_to_string(path).is_ok_and(|s| s.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_whole_and_removed_only_while_it_names_us() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loophttp.pid");
        write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&path, "1\n").unwrap(); // a successor's
        remove_if_ours(&path);
        assert!(path.exists(), "another process's pid file stays");
        write(&path).unwrap();
        remove_if_ours(&path);
        assert!(!path.exists());
    }
}
