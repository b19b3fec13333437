//! A request as it arrived, and the client address its record carries.

use std::net::IpAddr;
use std::time::Instant;

use super::{InFlight, Observer};
use crate::access_log::Line;
use crate::forwarded::{self, Cidr};
use crate::http::request::ProxyHeaders;
use crate::http::{Head, Method};
use crate::metrics::labels::Route;

/// A request as it arrived. For one that could not be parsed, the tokens
/// of its first line as far as they go (empty if none).
#[derive(Debug, Default, Clone, Copy)]
pub struct Arrival<'a> {
    pub route: Option<Route>,
    /// Its request line as the access log takes it.
    pub line: Line<'a>,
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    /// The client behind a trusted proxy (`--trust-proxy`); None: the peer.
    pub client: Option<IpAddr>,
    /// Bytes of the head (request line and header section).
    pub head_bytes: u64,
}

/// A parsed head as the connection hands it over: the head, its length in
/// bytes, and the route it was classified to.
#[derive(Debug, Clone, Copy)]
pub struct ParsedHead<'h, 'a> {
    pub head: &'h Head<'a>,
    pub len: usize,
    pub route: Route,
}

/// What the connection reports as arriving ([`InFlight::arrived`]).
#[derive(Debug, Clone, Copy)]
pub enum Arrived<'h, 'a> {
    /// A parsed head, its clock started at `started` (its first byte);
    /// `trusted` are the `--trust-proxy` networks.
    Head { parsed: ParsedHead<'h, 'a>, started: Instant, trusted: &'h [Cidr] },
    /// Input that could not be parsed as a head (a 400, a 408, ...): its
    /// first line's tokens are logged.
    Unparsed { input: &'a [u8], started: Instant },
    /// Body bytes of the newest request (with any chunk framing).
    Body(u64),
}

impl<'a> Arrival<'a> {
    /// A parsed head of `len` bytes, taking `route`; `client` as [`Arrival::client`].
    pub fn of(head: &Head<'a>, len: usize, route: Route, client: Option<IpAddr>) -> Arrival<'a> {
        Arrival {
            route: Some(route),
            line: Line::Parsed {
                method: head.method,
                target: head.target.as_bytes(),
                plain: head.target_plain,
                http11: head.http11,
            },
            user_agent: head.user_agent,
            referer: head.referer,
            client,
            head_bytes: len as u64,
        }
    }

    /// The tokens of a request line that failed to parse: up to its first
    /// line end, split at the first and last space.
    pub fn unparsed(input: &'a [u8]) -> Arrival<'a> {
        let line_end = input.iter().position(|&b| b == b'\n').unwrap_or(input.len());
        let line = input[..line_end].strip_suffix(b"\r").unwrap_or(&input[..line_end]);
        let (method, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let (target, version) = match rest.iter().rposition(|&b| b == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        Arrival { line: Line::Raw { method, target, version }, ..Arrival::default() }
    }

    /// Its method, if it was parsed.
    pub fn method(&self) -> Option<Method> {
        match self.line {
            Line::Parsed { method, .. } => Some(method),
            Line::Raw { .. } => None,
        }
    }
}

impl InFlight {
    /// The client to log for a request with forwarding headers `proxy`: behind a `--trust-proxy` peer, the
    /// address its forwarding headers name; None (the peer) otherwise, or
    /// when nothing is logged.
    pub(crate) fn client(&self, proxy: ProxyHeaders<'_>, trusted: &[Cidr], obs: &Observer) -> Option<IpAddr> {
        if trusted.is_empty() || !obs.log.enabled() {
            return None;
        }
        Some(forwarded::client_addr(self.peer, proxy, trusted))
    }
}
