//! The fast path agrees with the reference path wherever it answers, and it
//! answers for the heads it is there for.

use proptest::prelude::*;

use super::*;
use crate::http::parse::{Parsed, reference_path};

/// Panics unless the fast path is silent on `buf` or gives exactly the
/// reference path's answer. The parser tests call this on every input they try.
pub(in crate::http) fn assert_agree(buf: &[u8], limits: &Limits) {
    let mut short = Ok(Parsed::Partial);
    if parse(buf, limits, &mut LastValidHost::default(), &mut short).is_some() {
        assert_eq!(
            reference_path(buf, limits, &mut LastValidHost::default()),
            short,
            "the fast path disagrees on {:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

const LIMITS: Limits = Limits { max_uri: 8192, max_head: 16384, max_headers: 100 };

/// Heads of every usual shape and some near misses, to be mutated.
const CORPUS: &[&[u8]] = &[
    b"GET /echo/abc HTTP/1.1\r\nHost: 127.0.0.1:4221\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"HEAD /user-agent HTTP/1.0\r\nConnection: Keep-Alive\r\nUser-Agent: curl/8.5\r\n\r\n",
    b"GET /echo/a%20b?q=1#f HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\nAccept: */*\r\n\r\n",
    b"POST /files/a HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    b"PUT /files/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    b"GET /files/f HTTP/1.1\r\nHost: [::1]:80\r\nRange: bytes=0-1\r\nIf-Range: \"x\"\r\nIf-None-Match: *\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nReferer: /r\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nX-Empty:\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n",
    b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://x/y HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a\"b\\c HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nExpect: nothing\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
];

/// Bytes that change a head's meaning wherever they land (`"` and `\` its
/// access-log line).
const TWISTS: &[u8] = b" \t\r\n:;,%?#/*\x00\x7f\x80\xffaZ0\"\\";

#[test]
fn every_mutation_of_the_corpus_gets_the_same_answer_both_ways() {
    let tight = [
        LIMITS,
        Limits { max_headers: 1, ..LIMITS },
        Limits { max_headers: 0, ..LIMITS },
        Limits { max_uri: 4, max_head: 40, ..LIMITS },
    ];
    for &wire in CORPUS {
        for limits in &tight {
            for at in 0..=wire.len() {
                assert_agree(&wire[..at], limits);
                let mut cut = wire.to_vec();
                if at < wire.len() {
                    cut.remove(at);
                    assert_agree(&cut, limits);
                }
                for &twist in TWISTS {
                    let mut changed = wire.to_vec();
                    changed.insert(at, twist);
                    assert_agree(&changed, limits);
                    if at < wire.len() {
                        changed.remove(at + 1);
                        assert_agree(&changed, limits);
                    }
                }
            }
        }
    }
}

proptest! {
    /// Eight at a time, the value scan stops exactly where one byte at a
    /// time does, whatever the bytes and wherever the word boundaries fall.
    #[test]
    fn value_run_stops_where_a_byte_scan_stops(
        bytes in proptest::collection::vec(
            prop_oneof![4 => 0x20u8..=0x7e, 1 => any::<u8>(), 1 => proptest::sample::select(vec![0x1f, 0x7f, 0x80, 0xff, 0, b'\t', b'\r'])],
            0..40,
        )
    ) {
        let bytewise = bytes.iter().position(|&b| !is_value_byte(b)).unwrap_or(bytes.len());
        prop_assert_eq!(value_run(&bytes), bytewise);
    }

    /// Heads of the fast path's own grammar, generated whole: the fast path
    /// answers for every one, and exactly as the reference path does.
    #[test]
    fn generated_usual_heads_take_the_fast_path_and_agree(
        method in proptest::sample::select(vec!["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
        path in "/[a-zA-Z0-9._~/-]{0,24}",
        query in proptest::option::of("[a-z0-9=&%]{0,8}"),
        http11 in any::<bool>(),
        host in proptest::option::of(proptest::sample::select(vec!["127.0.0.1:4221", "localhost", "[::1]:8080", "example.com"])),
        fields in proptest::collection::vec((
            proptest::sample::select(vec!["User-Agent", "Accept", "Accept-Encoding", "Referer", "X-Custom", "Cache-Control", "connection"]),
            "[!-~]([ -~]{0,28}[!-~])?",
        ), 0..6),
    ) {
        let version = if http11 { "HTTP/1.1" } else { "HTTP/1.0" };
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let mut wire = format!("{method} {path}{query} {version}\r\n");
        // HTTP/1.1 requires a Host; the fast path answers only for a valid head.
        if let Some(host) = host.or(http11.then_some("localhost")) {
            wire += &format!("Host: {host}\r\n");
        }
        for (name, value) in &fields {
            wire += &format!("{name}: {value}\r\n");
        }
        wire += "\r\n";
        let wire = wire.as_bytes();
        let mut fast = Ok(Parsed::Partial);
        let answered = parse(wire, &LIMITS, &mut LastValidHost::default(), &mut fast).is_some();
        let reference = reference_path(wire, &LIMITS, &mut LastValidHost::default());
        if answered {
            prop_assert_eq!(&fast, &reference, "the fast path disagrees on {:?}", String::from_utf8_lossy(wire));
        }
        // Silent only where the reference path refuses the head too.
        prop_assert!(answered || reference.is_err(), "the fast path passed over {:?}: {:?}", String::from_utf8_lossy(wire), reference);
    }

    /// Random heads built from the pieces of real ones.
    #[test]
    fn heads_assembled_at_random_get_the_same_answer_both_ways(
        pieces in proptest::collection::vec(proptest::sample::select(vec![
            "GET", "HEAD", "POST", " ", "/", "/echo/", "abc", "%41", "?q", "#", " HTTP/1.1", " HTTP/1.0",
            "\r\n", "\n", "\r", "Host", "host", ":", ": ", "127.0.0.1", ":4221", "Content-Length", "5",
            "Transfer-Encoding", "chunked", "Connection", "close", "keep-alive", ",", "\t", "x", "\u{e9}",
        ]), 0..24)
    ) {
        let wire = pieces.concat();
        assert_agree(wire.as_bytes(), &LIMITS);
    }
}

#[test]
fn the_heads_it_is_there_for_take_the_short_way() {
    for wire in [
        &b"GET /echo/abc HTTP/1.1\r\nHost: 127.0.0.1:4221\r\n\r\n"[..],
        b"GET /echo/a%20b?q=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\nAccept-Encoding: gzip\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"POST /files/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    ] {
        let mut answer = Ok(Parsed::Partial);
        parse(wire, &LIMITS, &mut LastValidHost::default(), &mut answer).expect("the fast path");
        let Ok(Parsed::Complete(_, len)) = answer else { panic!("not complete: {answer:?}") };
        assert_eq!(len, wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    }
}

#[test]
fn a_target_with_a_quote_or_a_backslash_is_not_plain_either_way() {
    for (target, plain) in
        [("/echo/abc", true), ("/a?b=%22#f", true), ("/a\"b", false), ("/a\\b", false), ("/x?\"", false)]
    {
        let wire = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_agree(wire.as_bytes(), &LIMITS);
        let mut fast = Ok(Parsed::Partial);
        assert!(parse(wire.as_bytes(), &LIMITS, &mut LastValidHost::default(), &mut fast).is_some(), "{target}");
        let Ok(Parsed::Complete(head, _)) = fast else { panic!("{target}: {fast:?}") };
        assert_eq!((head.target, head.target_plain), (target, plain));
    }
}
