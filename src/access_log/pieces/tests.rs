use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::*;

fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    // Something before, to see that a piece only appends.
    let mut out = b"x".to_vec();
    f(&mut out);
    String::from_utf8(out).expect("ASCII").split_off(1)
}

#[test]
fn every_octet_at_every_position_prints_as_std_does() {
    for o in 0..=255u8 {
        for at in 0..4 {
            for fill in [0, 9, 10, 99, 100, 255] {
                let mut octets = [fill; 4];
                octets[at] = o;
                let v4 = Ipv4Addr::from(octets);
                assert_eq!(text(|out| peer(out, IpAddr::V4(v4))), v4.to_string());
                let mapped = IpAddr::V6(v4.to_ipv6_mapped());
                assert_eq!(text(|out| peer(out, mapped)), v4.to_string(), "as $remote_addr");
            }
        }
    }
    let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0xffff, 1);
    assert_eq!(text(|out| peer(out, IpAddr::V6(v6))), "2001:db8::ffff:1");
}

#[test]
fn numbers_print_as_std_does() {
    let mut cases: Vec<u64> = (0..=100_000).collect();
    for p in 1..20 {
        let ten = 10u64.pow(p);
        cases.extend([ten - 1, ten, ten + 1]);
    }
    cases.push(u64::MAX);
    for n in cases {
        assert_eq!(text(|out| number(out, n)), n.to_string());
    }
}

#[test]
fn seconds_have_six_decimals() {
    for (d, want) in [
        (Duration::ZERO, "0.000000\n"),
        (Duration::from_micros(123), "0.000123\n"),
        (Duration::from_nanos(999_999_999), "0.999999\n"),
        (Duration::from_micros(2_000_007), "2.000007\n"),
        (Duration::from_secs(123_456_789_012), "123456789012.000000\n"),
    ] {
        assert_eq!(text(|out| seconds(out, d, b'\n')), want);
    }
}

#[test]
fn a_cut_piece_appends_only_its_length() {
    assert_eq!(text(|out| push_cut(out, b"abcdefgh", 3)), "abc");
    assert_eq!(text(|out| push_cut(out, b"abcdefgh", 8)), "abcdefgh");
    assert_eq!(text(|out| push_cut(out, b"abcdefgh", 0)), "");
}

#[test]
fn statuses_print_as_std_does() {
    for s in (0..=1200).chain([u16::MAX]) {
        assert_eq!(text(|out| status(out, s, b' ')), format!("{s} "));
    }
}
