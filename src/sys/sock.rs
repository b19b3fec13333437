//! A socket's reads and writes as bare system calls (`recvfrom`,
//! `sendto`), not through glibc's `recv`/`send` wrappers: see [`recv`].

use std::io;
use std::os::fd::RawFd;

/// `recv(2)` on a socket, as the bare system call. glibc's `recv` and
/// `send` (which std's `TcpStream` calls) are cancellation points: in a
/// process with more than one thread (loophttp has the access log's
/// writer and the blocking-I/O pool) each call turns asynchronous
/// cancellation on and off around the system call, two atomic
/// compare-and-swaps on the thread's state, for a `pthread_cancel` that
/// loophttp never calls. `syscall(2)` is no cancellation point. Per
/// keep-alive request (one `recv`, one `send`) that was ~115 of the
/// loop's ~2,400 instructions (callgrind) and 1.3% of the server's CPU
/// (perf); the bare loop (`examples/floor.rs`, one thread) never paid it.
pub fn recv(sock: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes during the
    // call; no address is asked for (both pointers null), as `recv` does.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            libc::c_long::from(sock),
            buf.as_mut_ptr(),
            buf.len(),
            libc::c_long::from(0),
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// `send(2)` on a socket with `flags` (and always `MSG_NOSIGNAL`: a peer
/// gone is `EPIPE`, never a signal), as the bare system call, for the
/// reason given at [`recv`].
fn send_flags(sock: RawFd, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes during the
    // call; no address is given (null, length 0), as `send` does.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            libc::c_long::from(sock),
            buf.as_ptr(),
            buf.len(),
            libc::c_long::from(flags | libc::MSG_NOSIGNAL),
            std::ptr::null::<libc::sockaddr>(),
            libc::c_long::from(0),
        )
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// `send(2)`, as std's `TcpStream::write` does it (`MSG_NOSIGNAL`), but
/// without glibc's cancellation point (see [`recv`]).
pub fn send(sock: RawFd, buf: &[u8]) -> io::Result<usize> {
    send_flags(sock, buf, 0)
}

/// `send(2)` with `MSG_MORE`: the kernel may hold these bytes to share a
/// segment with what follows (a response head before its `sendfile` body),
/// as nginx's `tcp_nopush` does, without two `setsockopt` calls.
pub fn send_more(sock: RawFd, buf: &[u8]) -> io::Result<usize> {
    send_flags(sock, buf, libc::MSG_MORE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn recv_reads_what_is_there_then_would_block_then_eof() {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.write_all(b"hello").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(recv(a.as_raw_fd(), &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        let e = recv(a.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
        drop(b);
        assert_eq!(recv(a.as_raw_fd(), &mut buf).unwrap(), 0, "EOF");
    }

    #[test]
    fn send_and_send_more_deliver_bytes_in_order() {
        let (a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(send_more(a.as_raw_fd(), b"head ").unwrap(), 5);
        assert_eq!(send(a.as_raw_fd(), b"body").unwrap(), 4);
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"head body");
    }

    #[test]
    fn send_to_a_full_socket_would_block() {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let chunk = [7u8; 64 * 1024];
        let e = loop {
            match send(a.as_raw_fd(), &chunk) {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
    }

    #[test]
    fn send_to_a_closed_peer_is_broken_pipe() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let e = send(a.as_raw_fd(), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
    }
}
