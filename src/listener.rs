//! The listening socket, built with socket2 so every option is explicit:
//! `[::]` with `IPV6_V6ONLY` off (IPv4 clients arrive as `::ffff:a.b.c.d`
//! on the same socket), `SO_REUSEADDR` for quick restarts, `SO_REUSEPORT`
//! when several workers share a port, non-blocking, a sized backlog, and
//! `TCP_NODELAY`, which Linux copies to every accepted socket (one
//! `setsockopt` per connection saved; the server checks it did).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// A bound, listening socket and what kind of binding it got.
#[derive(Debug)]
pub struct Bound {
    pub listener: TcpListener,
    /// True for the `[::]` socket that also accepts IPv4.
    pub dual_stack: bool,
}

/// Binds `host:port`. For `::`, tries dual-stack and falls back to
/// `0.0.0.0` (with a warning) on hosts without IPv6.
pub fn bind(host: IpAddr, port: u16, backlog: i32, reuse_port: bool) -> io::Result<Bound> {
    if host == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        match bind_one(SocketAddr::new(host, port), backlog, reuse_port, true) {
            Ok(listener) => return Ok(Bound { listener, dual_stack: true }),
            Err(e) if no_ipv6(&e) => {
                log::warn!("IPv6 unavailable ({e}); listening on 0.0.0.0 (IPv4 only)");
                let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
                return bind_one(v4, backlog, reuse_port, false).map(|listener| Bound { listener, dual_stack: false });
            }
            Err(e) => return Err(e),
        }
    }
    let listener = bind_one(SocketAddr::new(host, port), backlog, reuse_port, false)?;
    Ok(Bound { listener, dual_stack: false })
}

fn bind_one(addr: SocketAddr, backlog: i32, reuse_port: bool, dual: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual {
        // Explicit: the default comes from net.ipv6.bindv6only and varies.
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    // Responses are written whole; Nagle would only delay them.
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The errors a kernel without IPv6 gives for an IPv6 socket or bind.
fn no_ipv6(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn dual_stack_listener_accepts_ipv4_and_ipv6() {
        let bound = bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0, 16, false).unwrap();
        let port = bound.listener.local_addr().unwrap().port();
        let _v4 = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, _) = bound.listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY is inherited from the listener");
        if bound.dual_stack && TcpStream::connect(("::1", port)).is_err() {
            panic!("dual-stack listener refused ::1");
        }
    }

    #[test]
    fn port_in_use_is_an_error_not_a_panic() {
        let a = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, 16, false).unwrap();
        let port = a.listener.local_addr().unwrap().port();
        let err = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), port, 16, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
