//! The listening socket, built with socket2 so every option is explicit:
//! `[::]` with `IPV6_V6ONLY` off (IPv4 clients arrive as `::ffff:a.b.c.d`
//! on the same socket), `SO_REUSEADDR` for quick restarts, `SO_REUSEPORT`
//! only when asked (`--reuse-port`: several processes on one port on
//! purpose; the workers of one process share one socket), non-blocking, a sized backlog, and
//! `TCP_NODELAY`, which Linux copies to every accepted socket (one
//! `setsockopt` per connection saved; the server checks it did), and
//! `TCP_NOTSENT_LOWAT` ([`NOTSENT_LOWAT`]), copied the same way, and
//! `TCP_DEFER_ACCEPT` ([`DEFER_ACCEPT_SECS`]): connections come to
//! `accept` with their request.
//!
//! Or no socket of our own: under socket activation ([`activated`]) the
//! listening sockets are inherited, already bound, from systemd or any
//! launcher speaking its protocol. A restarted process picks up the same
//! socket, so while it restarts the kernel queues connections instead of
//! refusing them.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sys;

/// Unsent bytes a socket may hold before `sendfile`/`send` come up short
/// and `EPOLLOUT` waits (`TCP_NOTSENT_LOWAT`; bytes in flight do not
/// count). Without it the kernel queues up to the whole send buffer (4 MiB
/// and more), and those bytes leave later, each time an ACK arrives, in
/// whatever context processes the ACK: on loopback, the client's own
/// `recv` on its core. Kept small, the bytes leave inside our `sendfile`,
/// on our core, as the window allows (docs/PERFORMANCE.md: large files).
pub const NOTSENT_LOWAT: u32 = 256 * 1024;

/// `TCP_DEFER_ACCEPT`, in seconds: the kernel hands a connection to
/// `accept` once its request has arrived, so the loop reads it at once
/// (`event_loop/accept.rs`) and a connection answered with
/// `Connection: close` costs `accept4`, `recvfrom`, `sendto` and `close`,
/// without an `epoll_ctl` or a wait. A client that connects and sends
/// nothing is accepted when the kernel retransmits its SYN-ACK after
/// about this long (nginx's `listen ... deferred` does the same).
pub const DEFER_ACCEPT_SECS: u32 = 1;

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
    socket.set_tcp_notsent_lowat(NOTSENT_LOWAT)?;
    sys::set_defer_accept(socket.as_raw_fd(), DEFER_ACCEPT_SECS)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// The errors a kernel without IPv6 gives for an IPv6 socket or bind.
fn no_ipv6(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT))
}

/// The first descriptor passed by socket activation (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;
/// More passed sockets than this is a misconfiguration, not a plan.
const MAX_LISTEN_FDS: usize = 64;

/// The `LISTEN_FDNAMES` name of the `--metrics-addr` socket when one
/// process hands it to the next (an upgrade); any other name is a socket
/// to serve the site on.
pub const METRICS_FD_NAME: &str = "loophttp-metrics";
/// The name a socket this process bound itself gets when handed over.
pub const MAIN_FD_NAME: &str = "loophttp";

/// A socket passed by socket activation, with its `LISTEN_FDNAMES` name
/// (systemd's default: the socket unit's name; `unknown` if none given).
#[derive(Debug)]
pub struct Passed {
    pub listener: TcpListener,
    pub name: String,
}

/// Listening sockets passed by systemd socket activation (the
/// `sd_listen_fds(3)` protocol), if this process was given any: when
/// `LISTEN_PID` is our pid and `LISTEN_FDS` is N ≥ 1, descriptors 3..3+N
/// are ours. Each must be a listening TCP socket; it is made non-blocking
/// and close-on-exec. Like `sd_listen_fds(1)`, the variables are removed
/// from the environment either way, so a child never mistakes them for its own.
///
/// Call it once, at startup, before any other thread exists: changing the
/// environment is only sound while no other thread reads it.
pub fn activated() -> io::Result<Option<Vec<Passed>>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    // SAFETY: the caller runs this before spawning threads (see above), so
    // nothing reads the environment concurrently.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    let Some(count) = passed_count(pid.as_deref(), fds.as_deref(), std::process::id()).map_err(io::Error::other)?
    else {
        return Ok(None);
    };
    let first = LISTEN_FDS_START;
    let mut names = names.split(':').map(String::from);
    let named = |fd| {
        let name = names.next().filter(|n| !n.is_empty()).unwrap_or_else(|| "unknown".into());
        adopt(fd).map(|listener| Passed { listener, name })
    };
    (first..first + count as RawFd).map(named).collect::<io::Result<Vec<_>>>().map(Some)
}

/// How many sockets `LISTEN_PID` / `LISTEN_FDS` pass to process `our_pid`:
/// None when they are absent or meant for another process (a parent that
/// was activated and did not clear them).
fn passed_count(pid: Option<&str>, fds: Option<&str>, our_pid: u32) -> Result<Option<usize>, String> {
    let (Some(pid), Some(fds)) = (pid, fds) else { return Ok(None) };
    if pid.trim().parse::<u32>().ok() != Some(our_pid) {
        return Ok(None);
    }
    match fds.trim().parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) if n <= MAX_LISTEN_FDS => Ok(Some(n)),
        _ => Err(format!("LISTEN_FDS={fds:?}: expected a number from 0 to {MAX_LISTEN_FDS}")),
    }
}

/// Takes ownership of a passed descriptor, checking that it is what we
/// serve on: a listening TCP socket (IPv4 or IPv6; a `[::]` socket made
/// dual-stack by whoever created it serves both).
fn adopt(fd: RawFd) -> io::Result<TcpListener> {
    // SAFETY: the activation protocol hands descriptors 3..3+N to this
    // process and nothing else in it has claimed them; from here the
    // socket is owned (and closed) by exactly one value.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let tcp = matches!(socket.domain(), Ok(Domain::IPV4 | Domain::IPV6))
        && socket.r#type().is_ok_and(|t| t == Type::STREAM)
        && socket.protocol().is_ok_and(|p| p == Some(Protocol::TCP));
    if !tcp || !socket.is_listener().unwrap_or(false) {
        return Err(io::Error::other(format!("passed descriptor {fd} is not a listening TCP socket")));
    }
    socket.set_cloexec(true)?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_notsent_lowat(NOTSENT_LOWAT)?;
    sys::set_defer_accept(socket.as_raw_fd(), DEFER_ACCEPT_SECS)?;
    Ok(socket.into())
}

/// Whether a listener accepts IPv4 as well: an IPv6 socket on `[::]`
/// with `IPV6_V6ONLY` off (for a passed socket, its creator decided).
pub fn is_dual_stack(l: &TcpListener) -> bool {
    let socket = socket2::SockRef::from(l);
    let any = l.local_addr().is_ok_and(|a| a.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    any && socket.only_v6().is_ok_and(|only| !only)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    /// Accepts from a non-blocking listener, retrying for up to 5 s.
    fn accept_within(l: &TcpListener) -> TcpStream {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match l.accept() {
                Ok((s, _)) => return s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    #[test]
    fn a_connection_comes_to_accept_with_its_first_bytes() {
        let bound = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, 16, false).unwrap();
        let mut c = TcpStream::connect(bound.listener.local_addr().unwrap()).unwrap();
        // Connected (the handshake is done) but nothing sent: not yet ours.
        assert_eq!(bound.listener.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        c.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let mut accepted = accept_within(&bound.listener);
        let mut first = [0u8; 3];
        std::io::Read::read_exact(&mut accepted, &mut first).unwrap();
        assert_eq!(&first, b"GET", "the request came with the connection");
    }

    #[test]
    fn dual_stack_listener_accepts_ipv4_and_ipv6() {
        let bound = bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0, 16, false).unwrap();
        let port = bound.listener.local_addr().unwrap().port();
        let mut v4 = TcpStream::connect(("127.0.0.1", port)).unwrap();
        v4.write_all(b"G").unwrap();
        let accepted = accept_within(&bound.listener);
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY is inherited from the listener");
        let lowat = socket2::SockRef::from(&accepted).tcp_notsent_lowat().unwrap();
        assert_eq!(lowat, NOTSENT_LOWAT, "and so is TCP_NOTSENT_LOWAT");
        if !bound.dual_stack {
            // `bind` fell back to IPv4 only: this host has no IPv6.
            return crate::ci::skip_unless_ci("no IPv6: [::] gave an IPv4-only listener");
        }
        assert!(TcpStream::connect(("::1", port)).is_ok(), "dual-stack listener refused ::1");
    }

    #[test]
    fn port_in_use_is_an_error_not_a_panic() {
        let a = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, 16, false).unwrap();
        let port = a.listener.local_addr().unwrap().port();
        let err = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), port, 16, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn activation_needs_our_pid_and_a_count() {
        assert_eq!(passed_count(None, None, 7), Ok(None));
        assert_eq!(passed_count(Some("7"), None, 7), Ok(None));
        assert_eq!(passed_count(Some("8"), Some("1"), 7), Ok(None), "meant for another process");
        assert_eq!(passed_count(Some("x"), Some("1"), 7), Ok(None));
        assert_eq!(passed_count(Some("7"), Some("0"), 7), Ok(None));
        assert_eq!(passed_count(Some("7"), Some("1"), 7), Ok(Some(1)));
        assert_eq!(passed_count(Some("7"), Some("2"), 7), Ok(Some(2)));
        assert!(passed_count(Some("7"), Some("-1"), 7).is_err());
        assert!(passed_count(Some("7"), Some("65"), 7).is_err());
    }

    #[test]
    fn a_passed_listener_is_adopted_non_blocking_and_close_on_exec() {
        use std::os::fd::{AsRawFd, IntoRawFd};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        socket2::SockRef::from(&l).set_cloexec(false).unwrap();
        let adopted = adopt(l.into_raw_fd()).unwrap();
        // SAFETY: F_GETFD on a descriptor we own only reads its flags.
        let flags = unsafe { libc::fcntl(adopted.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        assert_eq!(adopted.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"G").unwrap(); // TCP_DEFER_ACCEPT: the first byte makes it acceptable
        assert_eq!(accept_within(&adopted).peer_addr().unwrap(), c.local_addr().unwrap());
        assert!(!is_dual_stack(&adopted));
    }

    #[test]
    fn anything_but_a_listening_tcp_socket_is_refused() {
        use std::os::fd::IntoRawFd;
        let file = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
        assert!(adopt(file).is_err());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().into_raw_fd();
        assert!(adopt(udp).is_err());
        let unconnected = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        assert!(adopt(unconnected.into_raw_fd()).is_err(), "a TCP socket that is not listening");
    }

    #[test]
    fn a_dual_stack_listener_says_so() {
        let bound = bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0, 16, false).unwrap();
        assert_eq!(is_dual_stack(&bound.listener), bound.dual_stack);
    }
}
