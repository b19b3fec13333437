//! The two system calls std does not wrap: `sendfile(2)` and raising the
//! open-file limit. Each is one small unsafe call with its contract stated.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

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
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Ok(lim.rlim_cur);
        }
        lim = raised;
    }
    Ok(lim.rlim_cur)
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
    fn nofile_limit_is_at_least_what_it_was() {
        assert!(raise_nofile_limit().unwrap() >= 64);
    }
}
