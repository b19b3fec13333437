//! The benchmark's floor: a bare mio loop that answers every request head
//! (found by its blank line) with one fixed response of the same size as
//! loophttp's `/echo/abc` answer, parsing nothing. It does the least any
//! mio server can do per request: one read, one write, batched per read.
//!
//! `FLOOR=1 scripts/bench.sh` runs it beside loophttp and nginx in the
//! keep-alive `/echo` scenarios, so "how far above the floor" is measured in
//! the same run. Not a server: no limits, no timeouts, no errors answered,
//! `Connection: close` ignored. Never deploy it.
//!
//! Usage: `floor [--host ADDR] [--port N]` (other flags are ignored).

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);
/// Same length as loophttp's answer to `GET /echo/abc` (a fixed `Date`).
const RESPONSE: &[u8] = concat!(
    "HTTP/1.1 200 OK\r\nDate: Wed, 25 Nov 2026 00:00:00 GMT\r\nServer: loophttp/",
    env!("CARGO_PKG_VERSION"),
    "\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
)
.as_bytes();
const HEAD_END: &[u8] = b"\r\n\r\n";
/// As loophttp and nginx get in the benchmark: mio's own `bind` listens
/// with 128, which 10,000 simultaneous connects overflow.
const BACKLOG: i32 = 4096;

struct Conn {
    stream: TcpStream,
    /// How much of `HEAD_END` the last bytes read matched.
    matched: usize,
    out: Vec<u8>,
    pos: usize,
}

fn main() -> io::Result<()> {
    let mut host = "127.0.0.1".to_string();
    let mut port = "4221".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--host" => host = args.next().unwrap_or(host),
            "--port" => port = args.next().unwrap_or(port),
            _ => {}
        }
    }
    let addr: SocketAddr = format!("{host}:{port}").parse().map_err(io::Error::other)?;
    let mut poll = Poll::new()?;
    let mut listener = listen(addr)?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Slab<Conn> = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match poll.poll(&mut events, None) {
            // A signal (or a tracer attaching) interrupts the wait.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => r?,
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    stream.set_nodelay(true)?;
                    let key = conns.vacant_key();
                    // Both interests once: edge-triggered, never re-registered.
                    poll.registry().register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)?;
                    conns.insert(Conn { stream, matched: 0, out: Vec::new(), pos: 0 });
                }
                continue;
            }
            let key = event.token().0;
            let Some(c) = conns.get_mut(key) else { continue };
            if !serve(c, &mut buf) {
                conns.remove(key);
            }
        }
    }
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Reads what is there, queues one response per head end, writes. Returns
/// false when the connection is done.
fn serve(c: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        match c.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                for &b in &buf[..n] {
                    c.matched = if b == HEAD_END[c.matched] { c.matched + 1 } else { usize::from(b == b'\r') };
                    if c.matched == HEAD_END.len() {
                        c.out.extend_from_slice(RESPONSE);
                        c.matched = 0;
                    }
                }
                if n < buf.len() {
                    break; // a short read drained the socket
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    while c.pos < c.out.len() {
        match c.stream.write(&c.out[c.pos..]) {
            Ok(n) => c.pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    c.out.clear();
    c.pos = 0;
    true
}
