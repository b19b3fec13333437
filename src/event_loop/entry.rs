//! A connection's slot in the slab, and the socket as the connection's
//! [`Transport`]: the system calls std does not wrap (`sendfile`, a send
//! with more to follow, cork), and `recv`/`send` without glibc's
//! cancellation point, for a real `TcpStream`.

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::Interest;
use mio::net::TcpStream;

use crate::conn::{Conn, Transport};
use crate::sys;

/// A connection's slot in the slab: 256 bytes, aligned to a cache line,
/// so it spans four lines, not five or six. At 10,000 connections a
/// connection's lines have left the cache by its next turn, and each line
/// a request touches is a miss (docs/PERFORMANCE.md); nearly every field
/// here and in the `Conn` is touched by every request. The peer's address
/// is kept as its port (and IPv6 scope) beside the `Conn`'s copy of the IP,
/// which is all the close line needs: a whole `SocketAddr` was 32 bytes.
#[repr(align(64))]
pub(super) struct Entry {
    pub(super) stream: TcpStream,
    pub(super) conn: Conn,
    /// The peer's port (its IP is the `Conn`'s), for the close line.
    pub(super) port: u16,
    /// The peer's IPv6 scope (0 for IPv4), for the close line.
    pub(super) scope_id: u32,
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

// Held in release builds: a test build's `Conn` carries its transition
// trail, and a debug build's mio socket its selector's id.
#[cfg(not(any(test, debug_assertions)))]
const _: () =
    assert!(size_of::<Entry>() <= 256, "a connection's slot grew past four cache lines (event_loop/entry.rs)");

impl Entry {
    /// A slot for `conn`, accepted from `peer` on `stream`.
    pub(super) fn new(stream: TcpStream, conn: Conn, peer: SocketAddr, mark: u32) -> Entry {
        let scope_id = match peer {
            SocketAddr::V6(v6) => v6.scope_id(),
            SocketAddr::V4(_) => 0,
        };
        Entry { stream, conn, port: peer.port(), scope_id, registered: None, queued: None, mark, streaming: false }
    }

    /// The peer's address, as accepted.
    pub(super) fn peer(&self) -> SocketAddr {
        match self.conn.peer() {
            IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, self.port, 0, self.scope_id)),
            ip => SocketAddr::new(ip, self.port),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

    use crate::routes::Face;

    #[test]
    fn the_close_line_gets_the_peer_as_accepted_from_its_port_and_the_conns_ip() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peers = [
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 4321)),
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 65535, 0, 0)),
            SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 80, 0, 3)),
        ];
        for peer in peers {
            let stream = TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
            let conn = Conn::accepted(1, Instant::now(), peer.ip(), Face::Public);
            let e = Entry::new(stream, conn, peer, 0);
            assert_eq!(e.peer(), peer);
            assert_eq!(e.peer().to_string(), peer.to_string());
        }
    }
}
