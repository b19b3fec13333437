//! `loophttp --probe URL`: a health-check client in the server's own binary.
//!
//! A `FROM scratch` container has no shell and no curl, so its
//! `HEALTHCHECK` runs the one program it has. The probe sends one
//! `GET` with `Connection: close`, reads only the status line and succeeds
//! on a 2xx; everything (connect, write, read) shares one deadline, so a
//! server that accepts and then hangs fails the check instead of stalling it.
//! Blocking std sockets are right here: one request, then the process ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::status;

/// The status line must arrive within this many bytes.
const MAX_STATUS_LINE: usize = 1024;

/// GETs `url` (`http://host[:port][/path]`); `Ok(status)` for a 2xx,
/// otherwise why not.
pub fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let deadline = Instant::now() + timeout;
    let target = Target::parse(url)?;
    let mut stream = connect(&target, deadline)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: loophttp-probe\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream.set_write_timeout(Some(remaining(deadline)?)).map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|e| format!("sending the request: {e}"))?;
    let status = read_status(&mut stream, deadline)?;
    if status::is_success(status) { Ok(status) } else { Err(format!("status {status}")) }
}

/// The parts of an `http://` URL the request needs.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    /// `host:port` as written, for the `Host` header.
    authority: &'a str,
    host: &'a str,
    port: u16,
    path: &'a str,
}

impl<'a> Target<'a> {
    fn parse(url: &'a str) -> Result<Target<'a>, String> {
        let bad = |why: &str| format!("{url:?}: {why} (expected http://HOST[:PORT][/PATH])");
        let rest = url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..]);
        let rest = rest.ok_or_else(|| bad("not an http:// URL"))?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path = if path.is_empty() { "/" } else { path };
        if path.starts_with('?') || path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(bad("invalid path"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("invalid host or port"))?;
        Ok(Target { authority, host, port, path })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; port 80 by default.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, if after.is_empty() { None } else { Some(after.strip_prefix(':')?) })
        }
        None => authority.split_once(':').map_or((authority, None), |(h, p)| (h, Some(p))),
    };
    let port = match port {
        None => 80,
        Some(p) => p.parse().ok()?,
    };
    (!host.is_empty() && !host.contains('@')).then_some((host, port))
}

fn connect(target: &Target<'_>, deadline: Instant) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> =
        (target.host, target.port).to_socket_addrs().map_err(|e| format!("{}: {e}", target.host))?.collect();
    let mut last = format!("{}: no address", target.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Reads until the status line has ended; the rest of the response is not needed.
fn read_status(stream: &mut TcpStream, deadline: Instant) -> Result<u16, String> {
    let mut buf = [0u8; MAX_STATUS_LINE];
    let mut len = 0;
    while !buf[..len].contains(&b'\n') {
        if len == buf.len() {
            return Err("status line too long".into());
        }
        stream.set_read_timeout(Some(remaining(deadline)?)).map_err(|e| e.to_string())?;
        match stream.read(&mut buf[len..]) {
            Ok(0) => return Err("connection closed before a status line".into()),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the response: {e}")),
        }
    }
    parse_status(&buf[..len]).ok_or_else(|| "not an HTTP/1.x status line".into())
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5).filter(|_| rest.get(1) == Some(&b' '))?;
    if !matches!(rest.get(5), Some(b' ' | b'\r' | b'\n')) {
        return None;
    }
    let code = std::str::from_utf8(code).ok()?.parse().ok()?;
    status::is_in_a_class(code).then_some(code)
}

/// Time left before `deadline`, or the error that it has passed (a zero
/// socket timeout would mean "no timeout" to some calls, so it is refused).
fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() { Err("timed out".into()) } else { Ok(left) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_what_the_request_needs() {
        let t = Target::parse("http://127.0.0.1:4221/healthz").unwrap();
        assert_eq!(t, Target { authority: "127.0.0.1:4221", host: "127.0.0.1", port: 4221, path: "/healthz" });
        let t = Target::parse("HTTP://[::1]:8080").unwrap();
        assert_eq!((t.host, t.port, t.path), ("::1", 8080, "/"));
        let t = Target::parse("http://localhost/a?b=c").unwrap();
        assert_eq!((t.host, t.port, t.path), ("localhost", 80, "/a?b=c"));
        for bad in
            ["https://x/", "127.0.0.1:4221", "http://", "http://:80/", "http://h:99999/", "http://[::1/", "http://u@h/"]
        {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert!(Target::parse("http://h/a b").is_err());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 Service Unavailable\r\n"), Some(503));
        assert_eq!(parse_status(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/2 200\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 20x OK\r\n"), None);
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
    }
}
