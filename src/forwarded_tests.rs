use super::*;
use proptest::prelude::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn cidrs(list: &str) -> Vec<Cidr> {
    list.split(',').map(|c| c.parse().unwrap()).collect()
}

/// The nginx of `deploy/nginx` on loopback, and a private proxy tier.
fn trusted() -> Vec<Cidr> {
    cidrs("127.0.0.1,::1,10.0.0.0/8,fd00::/8")
}

fn xff(peer: &str, value: &str) -> IpAddr {
    let headers = ProxyHeaders::new(None, Some(value.as_bytes()));
    client_addr(ip(peer), headers, &trusted())
}

fn fwd(peer: &str, value: &str) -> IpAddr {
    let headers = ProxyHeaders::new(Some(value.as_bytes()), None);
    client_addr(ip(peer), headers, &trusted())
}

/// `X-Forwarded-For` sent on one field line per element of `lines`.
fn xff_lines(peer: &str, lines: &[&str]) -> IpAddr {
    let mut headers = ProxyHeaders::default();
    for l in lines {
        headers.x_forwarded_for.push(l.as_bytes());
    }
    client_addr(ip(peer), headers, &trusted())
}

#[test]
fn repeated_lines_read_as_one_comma_joined_list() {
    // The nearest proxy added a line of its own instead of appending: the
    // client is still the right-most address that is not a trusted proxy.
    let one = xff("127.0.0.1", "203.0.113.9, 10.0.0.2");
    assert_eq!(one, ip("203.0.113.9"));
    assert_eq!(xff_lines("127.0.0.1", &["203.0.113.9", "10.0.0.2"]), one);
    assert_eq!(xff_lines("127.0.0.1", &["1.1.1.1, 203.0.113.9", "", "10.0.0.2"]), one);
    let mut fwd = ProxyHeaders::default();
    fwd.forwarded.push(b"for=203.0.113.9");
    fwd.forwarded.push(b"for=10.0.0.2");
    assert_eq!(client_addr(ip("127.0.0.1"), fwd, &trusted()), one);
}

#[test]
fn past_the_line_limit_the_last_lines_are_kept() {
    let mut lines = vec!["198.51.100.1"; MAX_FIELD_LINES];
    lines.extend(["203.0.113.9", "10.0.0.2"]);
    assert_eq!(xff_lines("127.0.0.1", &lines), ip("203.0.113.9"));
    // All trusted: the left-most line kept stands for the farthest proxy.
    let trusted_only: Vec<String> = (1..=MAX_FIELD_LINES + 2).map(|i| format!("10.0.0.{i}")).collect();
    let refs: Vec<&str> = trusted_only.iter().map(String::as_str).collect();
    assert_eq!(xff_lines("127.0.0.1", &refs), ip("10.0.0.3"));
}

#[test]
fn without_headers_the_peer_is_the_client() {
    assert_eq!(client_addr(ip("203.0.113.7"), ProxyHeaders::default(), &trusted()), ip("203.0.113.7"));
    assert_eq!(client_addr(ip("127.0.0.1"), ProxyHeaders::default(), &trusted()), ip("127.0.0.1"));
}

#[test]
fn an_untrusted_peer_cannot_spoof_with_either_header() {
    let spoof = ProxyHeaders::new(Some(b"for=1.2.3.4"), Some(b"1.2.3.4"));
    assert_eq!(client_addr(ip("203.0.113.7"), spoof, &trusted()), ip("203.0.113.7"));
    assert_eq!(xff("203.0.113.7", "127.0.0.1"), ip("203.0.113.7"));
    assert_eq!(fwd("2001:db8::9", "for=\"[::1]\""), ip("2001:db8::9"));
}

#[test]
fn with_no_trusted_proxies_headers_are_always_ignored() {
    let headers = ProxyHeaders::new(None, Some(b"1.2.3.4"));
    assert_eq!(client_addr(ip("127.0.0.1"), headers, &[]), ip("127.0.0.1"));
}

#[test]
fn a_trusted_proxy_names_the_client() {
    assert_eq!(xff("127.0.0.1", "198.51.100.4"), ip("198.51.100.4"));
    assert_eq!(xff("::1", "2001:db8::1"), ip("2001:db8::1"));
    assert_eq!(fwd("127.0.0.1", "for=198.51.100.4;proto=https;by=127.0.0.1"), ip("198.51.100.4"));
}

#[test]
fn the_right_most_untrusted_address_wins_over_what_the_client_prepended() {
    // The client sent "X-Forwarded-For: 1.1.1.1"; nginx appended what it saw.
    assert_eq!(xff("127.0.0.1", "1.1.1.1, 198.51.100.4"), ip("198.51.100.4"));
    // Two trusted proxies between client and us.
    assert_eq!(xff("10.0.0.2", "1.1.1.1, 198.51.100.4, 10.0.0.1"), ip("198.51.100.4"));
    // A client claiming to be a trusted proxy does not move the boundary.
    assert_eq!(xff("127.0.0.1", "10.9.9.9, 198.51.100.4"), ip("198.51.100.4"));
    assert_eq!(fwd("127.0.0.1", "for=1.1.1.1, for=198.51.100.4, for=10.0.0.1"), ip("198.51.100.4"));
}

#[test]
fn when_every_hop_is_trusted_the_left_most_is_the_client() {
    assert_eq!(xff("127.0.0.1", "10.0.0.3, 10.0.0.2"), ip("10.0.0.3"));
    assert_eq!(fwd("127.0.0.1", "for=10.0.0.3;proto=http, for=10.0.0.2"), ip("10.0.0.3"));
}

#[test]
fn ipv4_mapped_peers_and_hops_are_ipv4() {
    // A dual-stack listener names an IPv4 proxy ::ffff:127.0.0.1.
    assert_eq!(xff("::ffff:127.0.0.1", "198.51.100.4"), ip("198.51.100.4"));
    assert_eq!(xff("::ffff:203.0.113.7", "198.51.100.4"), ip("203.0.113.7"));
    assert_eq!(xff("127.0.0.1", "::ffff:198.51.100.4"), ip("198.51.100.4"));
    assert_eq!(xff("127.0.0.1", "198.51.100.4, ::ffff:10.0.0.1"), ip("198.51.100.4"));
    assert_eq!(fwd("127.0.0.1", "for=\"[::ffff:198.51.100.4]\""), ip("198.51.100.4"));
    let mapped = cidrs("::ffff:10.0.0.0/104");
    assert_eq!(mapped[0], "10.0.0.0/8".parse().unwrap());
    assert!(mapped[0].contains(ip("::ffff:10.1.2.3")));
}

#[test]
fn forwarded_ipv6_with_port_and_quotes() {
    assert_eq!(fwd("::1", "for=\"[2001:db8::1]:4711\""), ip("2001:db8::1"));
    assert_eq!(fwd("::1", "for=\"[2001:db8::1]\""), ip("2001:db8::1"));
    assert_eq!(fwd("::1", "For=\"198.51.100.4:80\""), ip("198.51.100.4"));
    assert_eq!(fwd("::1", "for=198.51.100.4;proto=https, for=\"[2001:db8:cafe::17]:4711\""), ip("2001:db8:cafe::17"));
    // A quoted comma splits too (see forwarded_hops): the broken element
    // gives the proxy's address, not the address inside the quotes.
    assert_eq!(fwd("::1", "for=1.1.1.1, ext=\"a,for=9.9.9.9\";for=198.51.100.4"), ip("::1"));
}

#[test]
fn an_unbalanced_quote_from_the_client_cannot_swallow_the_proxys_element() {
    // The client sent `Forwarded: for=203.0.113.9;x="`; the proxy appended its element.
    assert_eq!(fwd("127.0.0.1", "for=203.0.113.9;x=\", for=198.51.100.4"), ip("198.51.100.4"));
    assert_eq!(fwd("127.0.0.1", "for=\"203.0.113.9, for=198.51.100.4"), ip("198.51.100.4"));
    assert_eq!(xff("127.0.0.1", "\"203.0.113.9, 198.51.100.4"), ip("198.51.100.4"));
}

#[test]
fn obfuscated_and_unknown_clients_are_named_by_the_proxy_that_hid_them() {
    // RFC 7239 §6.2/§6.3: the client is unknown or hidden behind 10.0.0.1.
    assert_eq!(fwd("127.0.0.1", "for=unknown, for=10.0.0.1"), ip("10.0.0.1"));
    assert_eq!(fwd("127.0.0.1", "for=_hidden, for=10.0.0.1"), ip("10.0.0.1"));
    assert_eq!(fwd("127.0.0.1", "for=\"_gazonk\""), ip("127.0.0.1"));
    // An obfuscated port still leaves a real address.
    assert_eq!(fwd("127.0.0.1", "for=\"198.51.100.4:_p1\""), ip("198.51.100.4"));
    assert_eq!(xff("127.0.0.1", "1.1.1.1, unknown"), ip("127.0.0.1"));
}

#[test]
fn malformed_hops_never_yield_a_client_chosen_address() {
    let cases = [
        "1.1.1.1, 198.51.100.4x",
        "1.1.1.1, 256.1.1.1",
        "1.1.1.1, [2001:db8::1",
        "1.1.1.1, 198.51.100.4:99999",
        "1.1.1.1, 198.51.100.4:",
        "1.1.1.1, 2001:db8::1:80x",
        "1.1.1.1, \"198.51.100.4\"",
        "1.1.1.1, 198.51.100.4 1.2.3.4",
    ];
    for value in cases {
        assert_eq!(xff("127.0.0.1", value), ip("127.0.0.1"), "X-Forwarded-For: {value}");
    }
    let cases = [
        "for=1.1.1.1, for=\"198.51.100.4",
        "for=1.1.1.1, for=198.51.100.4\"",
        "for=1.1.1.1, for=\"[2001:db8::1]:x\"",
        "for=1.1.1.1, for=\"\\1.2.3.4\"",
        "for=1.1.1.1, proto=https",
        "for=1.1.1.1, for=198.51.100.4;for=198.51.100.5",
        "for=1.1.1.1, for",
        "for=1.1.1.1, =",
    ];
    for value in cases {
        assert_eq!(fwd("127.0.0.1", value), ip("127.0.0.1"), "Forwarded: {value}");
    }
}

#[test]
fn empty_elements_are_skipped_and_an_empty_header_says_nothing() {
    assert_eq!(xff("127.0.0.1", " , 198.51.100.4 ,, "), ip("198.51.100.4"));
    assert_eq!(xff("127.0.0.1", ""), ip("127.0.0.1"));
    assert_eq!(fwd("127.0.0.1", " , "), ip("127.0.0.1"));
    let both = ProxyHeaders::new(Some(b""), Some(b"198.51.100.4"));
    assert_eq!(client_addr(ip("127.0.0.1"), both, &trusted()), ip("198.51.100.4"));
}

#[test]
fn two_headers_that_disagree_leave_the_proxy_address() {
    // nginx writes X-Forwarded-For and passes a client's Forwarded through.
    let spoof = ProxyHeaders::new(Some(b"for=1.2.3.4"), Some(b"198.51.100.4"));
    assert_eq!(client_addr(ip("127.0.0.1"), spoof, &trusted()), ip("127.0.0.1"));
    let agree = ProxyHeaders::new(Some(b"for=198.51.100.4"), Some(b"198.51.100.4"));
    assert_eq!(client_addr(ip("127.0.0.1"), agree, &trusted()), ip("198.51.100.4"));
}

#[test]
fn garbage_bytes_do_not_panic() {
    for value in [&b"\xff\xfe"[..], b"\"", b"\\", b",,,;;;===", b"for=\"\\\"", b"[", b"[]:", b"for=\"[\"\"]\""] {
        let headers = ProxyHeaders::new(Some(value), Some(value));
        assert_eq!(client_addr(ip("127.0.0.1"), headers, &trusted()), ip("127.0.0.1"));
    }
}

#[test]
fn cidrs_parse_and_match() {
    let net: Cidr = "10.0.0.0/8".parse().unwrap();
    assert!(net.contains(ip("10.255.0.1")) && !net.contains(ip("11.0.0.1")) && !net.contains(ip("::1")));
    let one: Cidr = " 192.0.2.1 ".parse().unwrap();
    assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
    let v6: Cidr = "2001:db8::/32".parse().unwrap();
    assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")) && !v6.contains(ip("10.0.0.1")));
    let all: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("203.0.113.7")) && all.contains(ip("::ffff:1.2.3.4")) && !all.contains(ip("::2")));
    assert!("::/0".parse::<Cidr>().unwrap().contains(ip("2001:db8::1")));
    assert_eq!("fd00::/8".parse::<Cidr>().unwrap().to_string(), "fd00::/8");
    assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
}

#[test]
fn bad_cidrs_are_refused_with_a_reason() {
    for bad in ["", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "example.com", "10.0.0/8", "1.2.3.4/8/8"] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad:?} accepted");
    }
    let err = "10.1.0.0/8".parse::<Cidr>().unwrap_err();
    assert!(err.contains("10.0.0.0/8"), "{err}");
}

#[test]
fn the_parser_keeps_both_headers_for_client_addr() {
    use crate::http::authority::LastValidHost;
    use crate::http::parse::parse_once;
    use crate::http::{Limits, Parsed};
    let raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 1.1.1.1, 198.51.100.4\r\n\
                FORWARDED: for=198.51.100.4\r\n\r\n";
    let limits = Limits { max_uri: 100, max_head: 1000, max_headers: 10 };
    let Ok(Parsed::Complete(head, _)) = parse_once(raw, &limits, &mut LastValidHost::default()) else {
        panic!("no head")
    };
    // Every line of each, in order: one list (RFC 9110 §5.3).
    let lines: Vec<&[u8]> = head.proxy.x_forwarded_for.iter().collect();
    assert_eq!(lines, [&b"1.1.1.1"[..], b"1.1.1.1, 198.51.100.4"]);
    assert_eq!(head.proxy.forwarded.iter().collect::<Vec<_>>(), [&b"for=198.51.100.4"[..]]);
    assert_eq!(client_addr(ip("::ffff:127.0.0.1"), head.proxy, &trusted()), ip("198.51.100.4"));
}

/// Bytes a client may put in its own forwarding header: the characters the
/// parser treats specially, addresses, and anything else.
fn client_part() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(",".to_string()),
        Just(";".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("for=".to_string()),
        Just("[".to_string()),
        Just("]:".to_string()),
        Just(" ".to_string()),
        Just("203.0.113.9".to_string()),
        Just("2001:db8::9".to_string()),
        Just("127.0.0.1".to_string()),
        Just("_hidden".to_string()),
        "[a-z0-9=:._-]{0,6}",
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the client wrote, the address the trusted proxy appended wins.
    #[test]
    fn the_client_cannot_displace_what_the_trusted_proxy_appended(client in client_part()) {
        prop_assert_eq!(xff("127.0.0.1", &format!("{client}, 198.51.100.4")), ip("198.51.100.4"));
        prop_assert_eq!(fwd("127.0.0.1", &format!("{client}, for=198.51.100.4")), ip("198.51.100.4"));
        prop_assert_eq!(fwd("127.0.0.1", &format!("{client}, for=\"[2001:db8::1]:4711\";proto=https")), ip("2001:db8::1"));
    }

    /// From an untrusted peer nothing in either header matters.
    #[test]
    fn an_untrusted_peer_is_always_itself(client in client_part()) {
        let headers = ProxyHeaders::new(Some(client.as_bytes()), Some(client.as_bytes()));
        prop_assert_eq!(client_addr(ip("198.51.100.77"), headers, &trusted()), ip("198.51.100.77"));
    }
}
