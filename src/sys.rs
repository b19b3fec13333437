//! The system calls std does not wrap: `sendfile(2)`, `openat2(2)`,
//! reading a directory by its descriptor, `recv(2)` and `send(2)` without
//! glibc's cancellation point (and `send` with `MSG_MORE`),
//! `TCP_DEFER_ACCEPT`, and raising the open-file limit (with the startup
//! log lines saying what it allows). Each is one small unsafe call with
//! its contract stated.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;

mod sock;

pub use sock::{recv, send, send_more};

/// Sends up to `len` bytes of `file` from `offset` to the socket `sock`
/// without copying through user space. On a non-blocking socket it returns
/// `WouldBlock` when the socket buffer is full, like `write`.
pub fn sendfile(sock: RawFd, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    let mut off = libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both descriptors are open for the duration of the call and
    // `off` is a valid, exclusively borrowed off_t.
    let n = unsafe { libc::sendfile(sock, file.as_raw_fd(), &mut off, len) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// Opens `name` (a path relative to `dir`, no NUL) for reading, in one
/// system call: relative symlinks are followed only while they stay beneath
/// `dir` (`RESOLVE_BENEATH`, which also refuses `..` that climbs out); one
/// that escapes, and any absolute symlink, gives `EXDEV`. `O_NONBLOCK` keeps
/// a FIFO from stalling the loop. The path is copied to a stack buffer: no
/// allocation. Kernels before 5.6 (or a seccomp filter) answer
/// `ENOSYS`/`EPERM`: the caller falls back.
pub fn open_beneath(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    // One segment (the usual case) fits the small buffer; a site's nested
    // path may take up to PATH_MAX.
    if name.len() < 256 { open_beneath_in::<256>(dir, name) } else { open_beneath_in::<4096>(dir, name) }
}

fn open_beneath_in<const N: usize>(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let bytes = name.as_bytes();
    let mut path = [0u8; N];
    if bytes.len() >= path.len() || bytes.contains(&0) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    path[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: open_how is plain integers; all-zero is its valid default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `path` is NUL-terminated and outlives the call; `how` is a
    // valid open_how whose size we pass; `dir` is an open descriptor.
    let fd =
        unsafe { libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), path.as_ptr(), &how, size_of::<libc::open_how>()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    Ok(unsafe { File::from_raw_fd(fd as RawFd) })
}

/// A directory being read by its descriptor (`fdopendir` on a duplicate,
/// which `closedir` closes on drop), a batch of names at a time.
#[derive(Debug)]
pub struct DirStream(std::ptr::NonNull<libc::DIR>);

// SAFETY: the DIR stream is owned by this value alone and used by one
// thread at a time (readdir on distinct streams is thread-safe).
unsafe impl Send for DirStream {}

impl DirStream {
    pub fn open(dir: &File) -> io::Result<DirStream> {
        let dup = dir.try_clone()?;
        // SAFETY: `dup` is an open directory descriptor whose ownership
        // passes to the DIR stream (closedir closes it).
        let stream = unsafe { libc::fdopendir(dup.as_raw_fd()) };
        let Some(stream) = std::ptr::NonNull::new(stream) else {
            return Err(io::Error::last_os_error()); // `dup` is still ours, closed on drop
        };
        std::mem::forget(dup);
        // The duplicate shares the original's offset: start from the top.
        // SAFETY: `stream` is a valid DIR.
        unsafe { libc::rewinddir(stream.as_ptr()) };
        Ok(DirStream(stream))
    }

    /// Appends up to `max` names (not `.` and `..`) with their `d_type`
    /// (`libc::DT_*`; `DT_UNKNOWN` where the file system does not say).
    /// Returns true once the directory is exhausted.
    pub fn next_batch(&mut self, max: usize, out: &mut Vec<(Vec<u8>, u8)>) -> io::Result<bool> {
        let mut taken = 0;
        while taken < max {
            // SAFETY: errno is thread-local; readdir reports errors only by it.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: the stream is valid until drop.
            let entry = unsafe { libc::readdir64(self.0.as_ptr()) };
            if entry.is_null() {
                let e = io::Error::last_os_error();
                return if e.raw_os_error() == Some(0) { Ok(true) } else { Err(e) };
            }
            // SAFETY: readdir returned a valid entry whose d_name is
            // NUL-terminated, valid until the next readdir on this stream.
            let (name, kind) = unsafe { (std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()), (*entry).d_type) };
            let name = name.to_bytes();
            if name != b"." && name != b".." {
                out.push((name.to_vec(), kind));
                taken += 1;
            }
        }
        Ok(false)
    }
}

impl Drop for DirStream {
    fn drop(&mut self) {
        // SAFETY: the stream came from fdopendir and is closed exactly once.
        unsafe { libc::closedir(self.0.as_ptr()) };
    }
}

/// Every name in the open directory `dir`, as [`DirStream::next_batch`] gives them.
pub fn read_dir(dir: &File) -> io::Result<Vec<(Vec<u8>, u8)>> {
    let mut stream = DirStream::open(dir)?;
    let mut names = Vec::new();
    while !stream.next_batch(usize::MAX, &mut names)? {}
    Ok(names)
}

/// `fstatat(dir, name)`: the entry itself when `follow` is false (a symlink
/// is described, not followed).
pub fn stat_at(dir: BorrowedFd<'_>, name: &[u8], follow: bool) -> io::Result<libc::stat64> {
    let name = std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: stat64 is plain integers; the kernel fills it.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `st` valid for writes during the call.
    let rc = unsafe { libc::fstatat64(dir.as_raw_fd(), name.as_ptr(), &mut st, flags) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(st) }
}

/// `TCP_DEFER_ACCEPT` on a listening socket: a connection is handed to
/// `accept` only once its first data has arrived (or, if none comes, after
/// about `secs` seconds, when Linux accepts it anyway). socket2 has no
/// setter for it.
pub fn set_defer_accept(listener: RawFd, secs: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    // SAFETY: `value` is a valid c_int for the duration of the call, and
    // its size is what we pass.
    let rc = unsafe {
        libc::setsockopt(
            listener,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Raises the soft open-file limit to the hard limit, as nginx does with
/// `worker_rlimit_nofile`. Returns the limit now in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit for the kernel to fill and then read.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: `raised` is a valid rlimit the kernel only reads.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            // Keep running with the old limit; the caller logs what is in force.
            log::warn!("could not raise the open-file limit: {}", io::Error::last_os_error());
            return Ok(lim.rlim_cur);
        }
        lim = raised;
    }
    Ok(lim.rlim_cur)
}

/// `renameat2(from, to, RENAME_NOREPLACE)`: renames only if `to` does not
/// exist, atomically (EEXIST if it does). Filesystems without it answer
/// EINVAL; kernels before 3.15, ENOSYS.
pub fn rename_noreplace(from: &std::path::Path, to: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths, alive for the call.
    let rc =
        unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Descriptors kept for what is not a connection, per process: stdio,
/// the access log's file, `/proc` reads for `/metrics`, a socket-activation
/// leftover. Counted on a running server: 10 with one worker.
const FDS_RESERVED: u64 = 16;
/// ... and per worker: its listener, the metrics listener, epoll, the
/// waker's eventfd, the signal pipe's two ends.
const FDS_PER_WORKER: u64 = 8;

/// Descriptors one connection may hold: its socket, plus the file it is
/// sending or the upload it is writing when a directory or a site is served.
pub fn fds_per_connection(config: &crate::config::Config) -> u64 {
    if config.directory.is_some() || config.site.root().is_some() { 2 } else { 1 }
}

/// Raises the open-file limit and returns the connections per worker it
/// covers: `--max-connections`, or fewer if the limit cannot cover them,
/// with a warning that gives the numbers. The loop then stops accepting at
/// that count, before `accept` ever fails with EMFILE.
pub fn fd_budget(config: &crate::config::Config) -> usize {
    let limit = match raise_nofile_limit() {
        Ok(limit) => limit,
        Err(e) => {
            log::warn!("could not read the open-file limit: {e}");
            return config.max_connections;
        }
    };
    let workers = config.worker_count() as u64;
    let per_conn = fds_per_connection(config);
    // Each blocking-I/O thread opens the directory to sync it.
    let reserved = FDS_RESERVED + workers * (FDS_PER_WORKER + config.io_threads as u64);
    let needed = config.max_connections as u64 * per_conn * workers + reserved;
    let mut per_worker = config.max_connections;
    if limit < needed {
        per_worker = usize::try_from((limit.saturating_sub(reserved) / per_conn / workers).max(1)).unwrap_or(1);
        log::warn!(
            "open-file limit {limit} cannot cover --max-connections {} ({} workers x {} connections x {per_conn} descriptors + {reserved} = {needed}): accepting at most {per_worker} connections per worker",
            config.max_connections,
            workers,
            config.max_connections
        );
    }
    log::info!(
        "open-file limit {limit}; up to {per_worker} connections per worker ({} workers, {per_conn} descriptors each)",
        config.worker_count()
    );
    per_worker
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn sendfile_copies_a_file_range_to_a_socket() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(sendfile(a.as_raw_fd(), &f, 3, 4).unwrap(), 4);
        let mut got = [0u8; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"3456");
    }

    #[test]
    fn open_beneath_follows_only_links_that_stay_inside() {
        use std::os::fd::AsFd;
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("in");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("a.txt"), b"A").unwrap();
        std::fs::write(root.path().join("secret"), b"S").unwrap();
        symlink("a.txt", inside.join("ok")).unwrap();
        symlink(inside.join("a.txt"), inside.join("abs")).unwrap();
        symlink(root.path().join("secret"), inside.join("out")).unwrap();
        symlink("../secret", inside.join("rel")).unwrap();
        let dir = File::open(&inside).unwrap();
        let read = |name: &str| -> io::Result<String> {
            let mut s = String::new();
            open_beneath(dir.as_fd(), OsStr::new(name))?.read_to_string(&mut s)?;
            Ok(s)
        };
        match read("a.txt") {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return, // kernel < 5.6
            got => assert_eq!(got.unwrap(), "A"),
        }
        assert_eq!(read("ok").unwrap(), "A");
        assert_eq!(read("abs").unwrap_err().raw_os_error(), Some(libc::EXDEV), "absolute: the caller's to check");
        assert_eq!(read("out").unwrap_err().raw_os_error(), Some(libc::EXDEV));
        assert_eq!(read("rel").unwrap_err().raw_os_error(), Some(libc::EXDEV));
        assert_eq!(read("missing").unwrap_err().kind(), io::ErrorKind::NotFound);
        std::fs::create_dir_all(inside.join("d/e")).unwrap();
        std::fs::write(inside.join("d/e/deep.txt"), b"D").unwrap();
        assert_eq!(read("d/e/deep.txt").unwrap(), "D", "a nested path");
        assert_eq!(read("d/../a.txt").unwrap(), "A", "`..` that stays inside");
        assert_eq!(read("d/../../secret").unwrap_err().raw_os_error(), Some(libc::EXDEV), "`..` out");
        let long = format!("{}/x", "d/.".repeat(400));
        assert_eq!(read(&long).unwrap_err().kind(), io::ErrorKind::NotFound, "a long path is opened, not refused");
    }

    #[test]
    fn read_dir_lists_names_with_their_types() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"").unwrap();
        std::fs::create_dir(root.path().join("d")).unwrap();
        std::os::unix::fs::symlink("f", root.path().join("l")).unwrap();
        std::fs::write(root.path().join(OsStr::from_bytes(b"\xff\xfe")), b"").unwrap();
        let dir = File::open(root.path()).unwrap();
        let mut got = read_dir(&dir).unwrap();
        got.sort();
        let kinds: Vec<(&[u8], u8)> = got.iter().map(|(n, k)| (&n[..], *k)).collect();
        assert_eq!(
            kinds,
            [(&b"d"[..], libc::DT_DIR), (b"f", libc::DT_REG), (b"l", libc::DT_LNK), (b"\xff\xfe", libc::DT_REG)]
        );
        assert_eq!(read_dir(&dir).unwrap().len(), 4, "read again from the same descriptor");
        let (mut stream, mut batch) = (DirStream::open(&dir).unwrap(), Vec::new());
        assert!(!stream.next_batch(3, &mut batch).unwrap() && batch.len() == 3, "at most 3 at a time");
        while !stream.next_batch(3, &mut batch).unwrap() {}
        assert_eq!(batch.len(), 4);
        use std::os::fd::AsFd;
        let st = stat_at(dir.as_fd(), b"l", false).unwrap();
        assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFLNK);
        assert_eq!(stat_at(dir.as_fd(), b"l", true).unwrap().st_mode & libc::S_IFMT, libc::S_IFREG);
    }

    #[test]
    fn send_more_delivers_the_bytes() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut b, _) = l.accept().unwrap();
        assert_eq!(send_more(a.as_raw_fd(), b"head").unwrap(), 4);
        drop(a); // closing flushes what MSG_MORE held back
        let mut got = String::new();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "head");
    }

    #[test]
    fn nofile_limit_is_at_least_what_it_was() {
        assert!(raise_nofile_limit().unwrap() >= 64);
    }
}
