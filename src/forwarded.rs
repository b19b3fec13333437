//! The client's address behind a reverse proxy (`--trust-proxy`).
//!
//! A proxy opens its own connection to us, so the peer address is the
//! proxy's; the client's address travels in a header each proxy appends to:
//! `X-Forwarded-For` (de facto; what nginx writes) or `Forwarded` (RFC 7239).
//! Anyone can send those headers, so they mean something only when the peer
//! is a proxy we trust, and only at their right end: each trusted proxy
//! appends the address it saw, so walking from the right, the first address
//! that is not itself a trusted proxy is the client. Everything to its left
//! is the client's own claim and is never read. From a peer we do not trust
//! both headers are ignored.
//!
//! A header sent on several field lines is one comma-separated list, the
//! lines joined in order (RFC 9110 §5.3): a proxy that adds its own line
//! instead of appending to the last one says the same thing.
//!
//! Pure: bytes and addresses in, an address out, nothing allocated.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

pub use crate::http::request::{FieldLines, MAX_FIELD_LINES, ProxyHeaders};

/// The address the access log and metrics should name for a request that
/// arrived from `peer`.
///
/// - `peer` not in `trusted` (or `trusted` empty): `peer`, headers ignored.
/// - Otherwise the right-most address in the header that is not in
///   `trusted`. When the hop before it is not an address (`unknown`, an
///   obfuscated `_name`, garbage), the client hid behind that proxy: the
///   proxy's address. When every hop is trusted: the left-most one.
/// - With both headers present the proxy wrote one and passed the other
///   through from the client; we cannot tell which, so unless they agree
///   the answer is `peer` (the trusted proxy), never a guess.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, how a dual-stack socket
/// names an IPv4 peer) are compared and returned as IPv4.
pub fn client_addr(peer: IpAddr, headers: ProxyHeaders<'_>, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    // Each header's lines read as one list: their elements, line by line.
    let xff = headers.x_forwarded_for;
    let via_xff = (!xff.is_empty()).then(|| walk(peer, xff.iter().flat_map(xff_hops), trusted)).flatten();
    let fwd = headers.forwarded;
    let via_forwarded = (!fwd.is_empty()).then(|| walk(peer, fwd.iter().flat_map(forwarded_hops), trusted)).flatten();
    match (via_forwarded, via_xff) {
        (Some(a), Some(b)) if a != b => peer,
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => peer,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|c| c.contains(ip))
}

/// One element of a forwarding header: an address, or an identifier that
/// is not one (`unknown`, `_hidden`, anything malformed).
type Hop = Option<IpAddr>;

/// The right-to-left rule of [`client_addr`], computed in one left-to-right
/// pass so that splitting quoted `Forwarded` values needs no buffer: the
/// answer is decided by the last hop that is not a trusted address. `None`
/// when the header holds no hop at all.
fn walk(peer: IpAddr, hops: impl Iterator<Item = Hop>, trusted: &[Cidr]) -> Option<IpAddr> {
    let mut leftmost: Option<Hop> = None;
    // The last hop that is not a trusted address, and the first trusted
    // address after it (the proxy that wrote it).
    let mut stop: Option<Hop> = None;
    let mut written_by: Option<IpAddr> = None;
    for hop in hops {
        leftmost.get_or_insert(hop);
        match hop {
            Some(ip) if is_trusted(ip, trusted) => {
                written_by.get_or_insert(ip);
            }
            _ => (stop, written_by) = (Some(hop), None),
        }
    }
    match stop {
        Some(Some(client)) => Some(client),
        Some(None) => Some(written_by.unwrap_or(peer)),
        // Every hop trusted: the farthest one is as close to a client as we get.
        None => leftmost.map(|hop| hop.unwrap_or(peer)),
    }
}

/// `X-Forwarded-For: client, proxy1, proxy2`. Empty list elements are
/// skipped (RFC 9110 §5.6.1); `unknown` and garbage become `None`.
fn xff_hops(value: &[u8]) -> impl Iterator<Item = Hop> + '_ {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|e| !e.is_empty()).map(parse_node)
}

/// `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`: the
/// `for` parameter of each element; an element without exactly one `for`
/// is an unknown hop.
///
/// Elements and parameters are split at every `,` and `;`, quotes or not.
/// Deliberately: the elements that decide the answer are the right-most
/// ones, written by trusted proxies, and an address holds neither
/// character. Honouring quotes would let the client's own part decide
/// where the proxies' part begins: `for=1.2.3.4;x="` followed by the
/// proxy's `, for=198.51.100.4` would read as one element naming 1.2.3.4.
/// A quoted `,` or `;` can only break an element into malformed hops,
/// which yield a proxy's address, never a client's claim.
fn forwarded_hops(value: &[u8]) -> impl Iterator<Item = Hop> + '_ {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|e| !e.is_empty()).map(forwarded_for)
}

fn forwarded_for(element: &[u8]) -> Hop {
    let mut found = None;
    for pair in element.split(|&b| b == b';') {
        let eq = pair.iter().position(|&b| b == b'=')?;
        if !pair[..eq].trim_ascii().eq_ignore_ascii_case(b"for") {
            continue;
        }
        if found.is_some() {
            return None; // RFC 7239 §4: a parameter occurs once per element
        }
        found = Some(unquote(pair[eq + 1..].trim_ascii())?);
    }
    parse_node(found?)
}

/// The inside of a quoted-string; an address never needs a backslash, so
/// an escaped value is treated as malformed rather than unescaped.
fn unquote(value: &[u8]) -> Option<&[u8]> {
    match value {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') && !inner.contains(&b'"') => Some(inner),
        [b'"', ..] | [.., b'"'] => None,
        token => Some(token),
    }
}

/// RFC 7239 §6 node: `a.b.c.d`, `[v6]`, either with `:port`; also a bare
/// IPv6 address as `X-Forwarded-For` writes it. Obfuscated and `unknown`
/// identifiers are not addresses.
fn parse_node(node: &[u8]) -> Hop {
    let text = std::str::from_utf8(node).ok()?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let ip = v6.parse::<Ipv6Addr>().ok()?;
        return (after.is_empty() || is_port(after.strip_prefix(':')?)).then(|| IpAddr::V6(ip).to_canonical());
    }
    let (v4, port) = text.split_once(':')?;
    let ip = v4.parse::<Ipv4Addr>().ok()?;
    is_port(port).then_some(IpAddr::V4(ip))
}

/// `node-port`: a port number (digits, at most 65535), or an obfuscated `_name`.
fn is_port(p: &str) -> bool {
    let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok();
    let obfuscated = p.len() > 1
        && p.starts_with('_')
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    digits || obfuscated
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or one address
/// (`127.0.0.1` = `/32`, `::1` = `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask32(self.prefix) & ip.to_bits() == net.to_bits(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask128(self.prefix) & ip.to_bits() == net.to_bits(),
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr =
            addr.parse().map_err(|_| format!("{text:?}: expected an IP address or CIDR like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                p.parse::<u8>().ok().filter(|&p| p <= max).ok_or(format!("{text:?}: prefix must be 0 to {max}"))?
            }
        };
        // `::ffff:10.0.0.0/104` is an IPv4 network; peers are compared as IPv4.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => (addr.to_canonical(), prefix - 96),
            _ => (addr, prefix),
        };
        let network = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask128(prefix))),
        };
        // A typo such as 10.1.0.0/8 would silently trust far more than meant.
        if network != addr {
            return Err(format!("{text:?}: address has bits set past the prefix (the network is {network}/{prefix})"));
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
#[path = "forwarded_tests.rs"]
mod tests;
