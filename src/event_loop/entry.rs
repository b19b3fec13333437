//! A connection's slot in the slab, and the socket as the connection's
//! [`Transport`]: the system calls std does not wrap (`sendfile`, a send
//! with more to follow, cork), and `recv`/`send` without glibc's
//! cancellation point, for a real `TcpStream`.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::Interest;
use mio::net::TcpStream;

use crate::conn::{Conn, Transport};
use crate::sys;

/// A connection's slot in the slab.
pub(super) struct Entry {
    pub(super) stream: TcpStream,
    pub(super) conn: Conn,
    pub(super) peer: SocketAddr,
    /// The interest currently registered (re-registered only on change);
    /// `None` until the first time the connection waits for an event.
    pub(super) registered: Option<Interest>,
    /// The earliest deadline this connection has in the heap.
    pub(super) queued: Option<Instant>,
    /// Its `TCP_NOTSENT_LOWAT` as last set (the listener's to begin with).
    pub(super) mark: u32,
    /// Sending a large file: listed in `Worker::streamers`.
    pub(super) streaming: bool,
}

impl Transport for TcpStream {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv(self.as_raw_fd(), buf)
    }

    fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send(self.as_raw_fd(), buf)
    }

    fn send_file(&mut self, file: &std::fs::File, offset: u64, len: usize) -> io::Result<usize> {
        sys::sendfile(self.as_raw_fd(), file, offset, len)
    }

    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send_more(self.as_raw_fd(), buf)
    }

    fn cork(&mut self, on: bool) -> io::Result<()> {
        socket2::SockRef::from(&*self).set_tcp_cork(on)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}
