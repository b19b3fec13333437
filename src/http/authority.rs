//! Is this a valid `Host` value (or absolute-form authority)? RFC 9112 §3.2
//! requires a 400 for an invalid one; the grammar is RFC 3986's:
//!
//! ```text
//! Host       = uri-host [ ":" port ]
//! uri-host   = IP-literal / IPv4address / reg-name
//! IP-literal = "[" ( IPv6address / IPvFuture ) "]"
//! IPvFuture  = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
//! reg-name   = *( unreserved / pct-encoded / sub-delims )
//! port       = *DIGIT
//! ```
//!
//! Three choices narrow it (docs/CONFORMANCE.md gives the reasons): the
//! host must not be empty (an `http` URI with an empty host is invalid,
//! RFC 9110 §4.2.1), a port must be a TCP port (at most 65535), and a
//! comma is refused although `sub-delims` has it: `a,b` is what two Host
//! lines combined into one look like (RFC 9110 §5.3).
//! An IPv4 address is a reg-name by this grammar, so it needs no own rule.

use std::net::Ipv6Addr;

/// True if `value` is `uri-host [ ":" port ]` with a non-empty host.
pub fn is_valid(value: &[u8]) -> bool {
    // The usual case in one pass: a reg-name (an IPv4 address is one),
    // then perhaps a port.
    let name_end = value.iter().position(|&b| !REG_NAME[usize::from(b)]).unwrap_or(value.len());
    if name_end > 0 && value.get(name_end).is_none_or(|&b| b == b':') {
        return is_valid_port(&value[name_end..]);
    }
    let (host, port) = if value.first() == Some(&b'[') {
        match value.iter().position(|&b| b == b']') {
            Some(end) => value.split_at(end + 1),
            None => return false,
        }
    } else {
        // A reg-name has no colon: the first one starts the port.
        value.split_at(value.iter().position(|&b| b == b':').unwrap_or(value.len()))
    };
    is_valid_host(host) && is_valid_port(port)
}

/// The longest `Host` value [`LastValidHost`] keeps.
const REMEMBERED: usize = 64;

/// The last `Host` value found valid, one per event loop. Clients send the
/// same one with request after request, and whether a value is valid
/// depends on its bytes alone: a value equal to it is valid without the
/// grammar being walked again (~15 instructions instead of ~170).
#[derive(Debug, Clone)]
pub struct LastValidHost {
    len: usize,
    bytes: [u8; REMEMBERED],
}

impl Default for LastValidHost {
    fn default() -> Self {
        LastValidHost { len: 0, bytes: [0; REMEMBERED] }
    }
}

impl LastValidHost {
    /// [`is_valid`], remembering the value if it is.
    pub fn is_valid(&mut self, value: &[u8]) -> bool {
        // Nothing is remembered while `len` is 0 (an empty value is invalid).
        if self.len != 0 && same(&self.bytes[..self.len], value) {
            return true;
        }
        let valid = is_valid(value);
        if valid && value.len() <= REMEMBERED {
            self.bytes[..value.len()].copy_from_slice(value);
            self.len = value.len();
        }
        valid
    }
}

/// `a == b`; for the usual `Host` length (8 to 16 bytes: `localhost:8080`,
/// `127.0.0.1:4221`) as two overlapping eight-byte words each, without
/// the `memcmp` call, which cost more than the comparison.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(8..=16).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
}

fn is_valid_host(host: &[u8]) -> bool {
    match host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        Some(literal) => is_ipv6(literal) || is_ipv_future(literal),
        None => is_reg_name(host),
    }
}

/// Empty, or `:` and the decimal digits of a TCP port.
fn is_valid_port(port: &[u8]) -> bool {
    let Some(digits) = port.strip_prefix(b":") else { return port.is_empty() };
    // RFC 3986 §3.2.3 allows an empty port after the colon.
    digits.len() <= 5
        && digits.iter().all(u8::is_ascii_digit)
        && digits.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= u32::from(u16::MAX)
}

fn is_ipv6(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(|t| t.parse::<Ipv6Addr>().is_ok())
}

fn is_ipv_future(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"v").or_else(|| text.strip_prefix(b"V")) else { return false };
    let Some(dot) = rest.iter().position(|&b| b == b'.') else { return false };
    let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
    !version.is_empty()
        && version.iter().all(u8::is_ascii_hexdigit)
        && !tail.is_empty()
        && tail.iter().all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':')
}

/// The bytes of a reg-name outside its `%XX` escapes: unreserved and
/// sub-delims, but the comma. A table: Host is checked on every request.
const REG_NAME: [bool; 256] = super::byte_classes::alnum_or(b"-._~!$&'()*+;=");

/// Non-empty, unreserved / pct-encoded / sub-delims, no comma.
fn is_reg_name(name: &[u8]) -> bool {
    if name.is_empty() {
        return false;
    }
    if name.iter().all(|&b| REG_NAME[usize::from(b)]) {
        return true; // the usual case: no escapes
    }
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'%' {
            if !name.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !REG_NAME[usize::from(b)] {
            return false;
        }
        i += 1;
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_is_slice_equality_at_every_length() {
        let base = b"abcdefghijklmnopqrstu";
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same(a, a), "{n}");
            assert!(!same(a, &base[..n.saturating_sub(1)]) || n == 0, "{n}: lengths differ");
            // One byte changed anywhere: the first word, the last, the overlap.
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!same(a, &b), "{n} {at}");
            }
        }
    }

    #[test]
    fn hosts_of_every_form_are_valid() {
        for ok in [
            "example.com",
            "example.com:8080",
            "EXAMPLE.com:",
            "localhost:0",
            "h:65535",
            "127.0.0.1",
            "127.0.0.1:4221",
            "999.1.1.1",
            "[::1]",
            "[::1]:4221",
            "[2001:db8::7]",
            "[::ffff:192.0.2.1]:80",
            "[v1.fe80::a+en1]",
            "a-b_c~d.e",
            "%41bc",
            "a!$&'()*+;=b",
        ] {
            assert!(is_valid(ok.as_bytes()), "{ok:?}");
        }
    }

    #[test]
    fn remembering_the_last_valid_host_never_changes_an_answer() {
        let values: Vec<&[u8]> = vec![
            b"",
            b"x",
            b"x:",
            b"x:1",
            b"x:65536",
            b"X",
            b"127.0.0.1:4221",
            b"127.0.0.1:42210",
            b"127.0.0.1:422",
            b"[::1]",
            b"[::1",
            b"a,b",
            b"a b",
            b"x\0",
        ];
        let long = [b'a'; REMEMBERED + 1];
        for first in values.iter().copied().chain([&long[..], &long[..REMEMBERED]]) {
            let mut memo = LastValidHost::default();
            memo.is_valid(first);
            for &then in &values {
                assert_eq!(memo.clone().is_valid(then), is_valid(then), "{first:?} then {then:?}");
            }
        }
    }

    #[test]
    fn invalid_hosts_are_refused() {
        for bad in [
            "",
            ":80",
            "a b",
            "a/b",
            "/path",
            "user@host",
            "a, b",
            "a,b",
            "a:b",
            "a:80:80",
            "a:-1",
            "a:65536",
            "a:123456",
            "a: 80",
            "a\tb",
            "a\"b",
            "a%4",
            "a%zz",
            "[::1",
            "::1",
            "[::1]x",
            "[::1]:x",
            "[]",
            "[::g]",
            "[fe80::1%25en0]",
            "[v1.]",
            "[v.x]",
            "[vg.x]",
            "a\u{e9}",
            "a?b",
            "a#b",
            "a[b]",
        ] {
            assert!(!is_valid(bad.as_bytes()), "{bad:?}");
        }
    }
}
