//! Parser tests: one fixture table run whole, at every split, and one byte
//! at a time; and a must-reject table with the status each shape earns.

use super::*;

fn limits() -> Limits {
    Limits { max_uri: 8192, max_head: 16384, max_headers: 100 }
}

/// Parses `buf`, checking on the way that the fast path (`fast_path.rs`),
/// when it answers, agrees with the reference path, and that remembering the
/// last valid `Host` (as the event loop does, across every input parsed
/// here) changes no answer: every test here checks all three.
fn parse(buf: &[u8]) -> Result<Parsed<'_>, HttpError> {
    crate::http::fast_path::tests::assert_agree(buf, &limits());
    let answer = parse_once(buf, &limits(), &mut LastValidHost::default());
    let remembering = HOSTS.with_borrow_mut(|hosts| parse_once(buf, &limits(), hosts));
    assert_eq!(remembering, answer, "remembering a Host changed the answer to {:?}", String::from_utf8_lossy(buf));
    answer
}

thread_local! {
    static HOSTS: std::cell::RefCell<LastValidHost> = std::cell::RefCell::new(LastValidHost::default());
}

/// Valid requests and what the parser must make of them.
struct Fixture {
    wire: &'static [u8],
    method: Method,
    path: &'static str,
    framing: Framing,
    keep_alive: bool,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        wire: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        method: Method::Get,
        path: "/",
        framing: Framing::None,
        keep_alive: true,
    },
    Fixture {
        wire: b"GET /echo/abc?q=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\nAccept-Encoding: gzip\r\n\r\n",
        method: Method::Get,
        path: "/echo/abc",
        framing: Framing::None,
        keep_alive: true,
    },
    Fixture {
        wire: b"POST /files/a HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n",
        method: Method::Post,
        path: "/files/a",
        framing: Framing::Length(5),
        keep_alive: true,
    },
    Fixture {
        wire: b"PUT /files/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n",
        method: Method::Put,
        path: "/files/a",
        framing: Framing::Chunked,
        keep_alive: false,
    },
    Fixture {
        wire: b"GET / HTTP/1.0\r\n\r\n",
        method: Method::Get,
        path: "/",
        framing: Framing::None,
        keep_alive: false,
    },
    Fixture {
        wire: b"HEAD /user-agent HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        method: Method::Head,
        path: "/user-agent",
        framing: Framing::None,
        keep_alive: true,
    },
    Fixture {
        // RFC 9112 §2.2: empty lines before the request line are ignored.
        wire: b"\r\n\r\nGET http://example.com/echo/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
        method: Method::Get,
        path: "/echo/x",
        framing: Framing::None,
        keep_alive: true,
    },
    Fixture {
        wire: b"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        method: Method::Options,
        path: "*",
        framing: Framing::Length(0),
        keep_alive: true,
    },
    Fixture {
        wire: b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n",
        method: Method::Get,
        path: "/x",
        framing: Framing::None,
        keep_alive: false,
    },
    Fixture {
        // The target's authority replaces an empty Host (RFC 9112 §3.2.2).
        wire: b"GET http://[::1]:4221 HTTP/1.1\r\nHost:\r\n\r\n",
        method: Method::Get,
        path: "/",
        framing: Framing::None,
        keep_alive: true,
    },
    Fixture {
        wire: b"POST /files/a%20b HTTP/1.1\r\nHost: 127.0.0.1:4221\r\nTransfer-Encoding:\t chunked \t\r\n\r\n",
        method: Method::Post,
        path: "/files/a%20b",
        framing: Framing::Chunked,
        keep_alive: true,
    },
];

fn check(f: &Fixture, got: Result<Parsed<'_>, HttpError>) {
    let text = String::from_utf8_lossy(f.wire);
    match got {
        Ok(Parsed::Complete(h, used)) => {
            assert_eq!(used, f.wire.len(), "{text}");
            assert_eq!(
                (h.method, h.path, h.framing, h.keep_alive),
                (f.method, f.path, f.framing, f.keep_alive),
                "{text}"
            );
        }
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn fixtures_parse_whole() {
    for f in FIXTURES {
        check(f, parse(f.wire));
    }
}

/// The buffer grows as bytes arrive, so "split at every offset" and "one
/// byte at a time" are the same for a pure parser: every strict prefix is
/// Partial (never an error), and the whole gives the same head.
#[test]
fn fixtures_split_at_every_offset_are_partial_until_whole() {
    for f in FIXTURES {
        for cut in 0..f.wire.len() {
            assert_eq!(
                parse(&f.wire[..cut]),
                Ok(Parsed::Partial),
                "{:?} cut at {cut}",
                String::from_utf8_lossy(f.wire)
            );
        }
        check(f, parse(f.wire));
    }
}

#[test]
fn garbage_is_refused_before_any_line_ends() {
    for wire in [&b"\x16\x03\x01\x02\x00\x01\x00"[..], b"\xff\xfe\x00hello", b"GET /\x01"] {
        assert_eq!(parse(wire).map_err(HttpError::status), Err(400), "{:?}", String::from_utf8_lossy(wire));
    }
}

#[test]
fn pipelined_heads_parse_one_at_a_time() {
    let wire = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let Ok(Parsed::Complete(h, used)) = parse(wire) else { panic!() };
    assert_eq!(h.path, "/a");
    let Ok(Parsed::Complete(h, _)) = parse(&wire[used..]) else { panic!() };
    assert_eq!(h.path, "/b");
}

#[test]
fn header_fields_of_interest_are_captured_trimmed() {
    let wire = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent:   curl/8  \r\nRange: bytes=0-1\r\nIf-None-Match: \"e\"\r\n\
                 Expect: 100-continue\r\n\r\n";
    let Ok(Parsed::Complete(h, _)) = parse(wire) else { panic!() };
    assert_eq!(h.user_agent, Some(&b"curl/8"[..]));
    assert_eq!(h.range, Some(&b"bytes=0-1"[..]));
    assert_eq!(h.if_none_match, Some(&b"\"e\""[..]));
    assert!(h.expect_continue);
}

const BAD: fn(&'static str) -> HttpError = HttpError::BadRequest;

/// `wire` whole is refused with `status`; every prefix is Partial or
/// refused with the same status: the answer never depends on the split.
fn assert_refused_at_every_split(wire: &[u8], status: u16) {
    let text = String::from_utf8_lossy(wire);
    let got = parse(wire).map(|p| matches!(p, Parsed::Partial));
    assert_eq!(got.map_err(HttpError::status), Err(status), "{text:?}");
    for cut in 0..wire.len() {
        match parse(&wire[..cut]) {
            Ok(Parsed::Partial) => {}
            Err(e) if e.status() == status => {}
            other => panic!("{text:?} cut at {cut}: {other:?}"),
        }
    }
}

/// Host values (RFC 9112 §3.2) and absolute-form authorities (§3.2.2)
/// that make a valid request; each is checked whole and at every split.
#[test]
fn valid_hosts_and_authorities_parse_whole_and_split() {
    let heads: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:4221\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: [::1]:4221\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:   localhost  \r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a-b.c_d~e%41\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x:\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET http://example.com:80?q HTTP/1.1\r\nHost: other\r\n\r\n",
        b"GET https://[::1]/a HTTP/1.1\r\nHost: \r\n\r\n",
        b"GET HTTP://EXAMPLE.COM/ HTTP/1.0\r\n\r\n",
    ];
    for wire in heads {
        let text = String::from_utf8_lossy(wire);
        for cut in 0..wire.len() {
            assert_eq!(parse(&wire[..cut]), Ok(Parsed::Partial), "{text:?} cut at {cut}");
        }
        assert!(matches!(parse(wire), Ok(Parsed::Complete(_, n)) if n == wire.len()), "{text:?}");
    }
}

/// Invalid Host values and authorities: 400 whole and at every split.
#[test]
fn invalid_hosts_and_authorities_are_400_whole_and_split() {
    let hosts = [
        "a b",
        "a/b",
        "/path",
        "user@host",
        "a, b",
        "a,b",
        "a:b",
        "a:65536",
        "a:-1",
        "[::1",
        "[::1]x",
        "[zz]",
        "a\"b",
        "a%zz",
        ":80",
    ];
    for host in hosts {
        assert_refused_at_every_split(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(), 400);
        assert_refused_at_every_split(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes(), 400);
        let absolute = format!("GET http://x/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_refused_at_every_split(absolute.as_bytes(), 400);
    }
    let heads: &[&[u8]] = &[
        // An empty Host where the target has no authority names no host.
        b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:   \r\n\r\n",
        b"GET / HTTP/1.0\r\nHost:\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n",
        // The target's authority must be valid itself.
        b"GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://user:pw@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://a,b/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://x:99999/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://?q HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http:// HTTP/1.1\r\nHost: x\r\n\r\n",
        // Still exactly one Host with an absolute-form target (HTTP/1.1).
        b"GET http://x/ HTTP/1.1\r\n\r\n",
        b"GET http://x/ HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
    ];
    for wire in heads {
        assert_refused_at_every_split(wire, 400);
    }
}

/// Every shape a careful server refuses, with its status.
#[test]
fn must_reject_table() {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(8200));
    let long_method = format!("{} / HTTP/1.1\r\nHost: x\r\n\r\n", "A".repeat(MAX_METHOD + 1));
    let many_headers = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-A: b\r\n".repeat(101));
    let cases: &[(&[u8], u16)] = &[
        // Request smuggling: ambiguous or invalid framing.
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
        // Chunked not final (RFC 9112 §6.3), or an empty coding: 400.
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        // Header syntax.
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
        // Host rules (more in the Host tables below).
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        // Bare LF as a line terminator, anywhere in the head.
        (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        (b"GET / HTTP/1.1\nHost: x\nConnection: close\n\n", 400),
        (b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.0\n\r\n", 400),
        (b"GET / HTTP/1.0\r\n\n", 400),
        (b"GET / HTTP/1.1\r\nA: b\r\nB: c\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: b\r\nHost: x  \n\r\n", 400),
        (b"GET / HTTP/2.0\nHost: x\r\n\r\n", 400),
        // Request line.
        (b"GET /\r\n\r\n", 400),
        (b"GET / FOO/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET nopath HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a%0d%0aSet-Cookie:x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /echo/%0A HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /echo/%1f HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /echo/%7F HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET http://x/a%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"UPDATEREDIRECTREF / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (long_method.as_bytes(), 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n", 417),
        // Limits.
        (long_target.as_bytes(), 414),
        (many_headers.as_bytes(), 431),
    ];
    for (wire, status) in cases {
        assert_refused_at_every_split(wire, *status);
    }
    assert_eq!(BAD("x").status(), 400);
}

#[test]
fn limits_are_enforced_while_the_head_is_still_arriving() {
    let mut wire = b"GET /".to_vec();
    wire.resize(8300, b'a');
    assert_eq!(parse(&wire), Err(HttpError::UriTooLong));
    let mut wire = b"GET / HTTP/1.1\r\nX: ".to_vec();
    wire.resize(16385, b'a');
    assert_eq!(parse(&wire), Err(HttpError::HeadersTooLarge));
    // Just under the limits: still partial, not an error.
    let mut wire = b"GET / HTTP/1.1\r\nX: ".to_vec();
    wire.resize(16000, b'a');
    assert_eq!(parse(&wire), Ok(Parsed::Partial));
}

#[test]
fn an_unsupported_version_is_505_however_the_line_is_split() {
    let wire = b"GET / HTTP/2.0\r\nHost: x\r\n\r\n";
    for cut in 1..wire.len() {
        match parse(&wire[..cut]) {
            Ok(Parsed::Partial) => {}
            // Once the version is whole the answer is final, and the same.
            Err(HttpError::VersionNotSupported) if cut >= b"GET / HTTP/2.0".len() => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert_eq!(parse(wire), Err(HttpError::VersionNotSupported));
    // A bad version is refused when its line ends, whole or split.
    for bad in [&b"GET / HTTP/x"[..], b"GET / HTTQ", b"A ?? ?", b"A ?? ? "] {
        assert_eq!(parse(bad), Ok(Parsed::Partial), "{:?}", String::from_utf8_lossy(bad));
        let line = [bad, b"\r\n"].concat();
        assert!(matches!(parse(&line), Err(HttpError::BadRequest(_))), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn http_10_expectations_are_ignored() {
    for expect in ["100-continue", "something-else"] {
        let wire = format!("POST / HTTP/1.0\r\nExpect: {expect}\r\nContent-Length: 1\r\n\r\n");
        let Ok(Parsed::Complete(head, _)) = parse(wire.as_bytes()) else { panic!("{expect}: refused") };
        assert!(!head.expect_continue, "{expect}");
    }
    let Ok(Parsed::Complete(head, _)) = parse(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n") else {
        panic!()
    };
    assert!(head.expect_continue);
}

/// Visible ASCII that RFC 3986 does not list is accepted and routed as is
/// (docs/CONFORMANCE.md: it cannot change framing); a fragment is dropped.
#[test]
fn visible_ascii_outside_rfc_3986_is_accepted_and_a_fragment_dropped() {
    for (target, path) in [
        ("/a\"b", "/a\"b"),
        ("/a<b>", "/a<b>"),
        ("/a\\b", "/a\\b"),
        ("/a^b`c", "/a^b`c"),
        ("/a{b|c}", "/a{b|c}"),
        ("/a#frag", "/a"),
        ("/a?q#frag", "/a"),
        ("/echo/%41%7e%20", "/echo/%41%7e%20"),
    ] {
        let wire = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let got = parse(wire.as_bytes());
        assert!(matches!(got, Ok(Parsed::Complete(ref h, _)) if h.path == path), "{target:?}: {got:?}");
    }
}
