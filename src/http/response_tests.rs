use super::*;
use crate::http::date::lines_for;

fn render(resp: &Response<'_>, keep_alive: bool, head_only: bool) -> String {
    let mut out = Vec::new();
    let date = &lines_for(b"Mon, 23 Nov 2026 19:00:00 GMT");
    serialize(resp, &Delivery { keep_alive, http10: false, head_only, date, extra: b"" }, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn text_response_has_exact_framing_and_standard_headers() {
    let s = render(&Response::text(200, &b"abc"[..]), true, false);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        s,
        format!(
            "HTTP/1.1 200 OK\r\nDate: Mon, 23 Nov 2026 19:00:00 GMT\r\nServer: loophttp/{version}\r\n\
             X-Content-Type-Options: nosniff\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
        )
    );
}

#[test]
fn head_keeps_content_length_but_drops_body_and_close_is_announced() {
    let s = render(&Response::text(200, &b"abcdef"[..]), false, true);
    assert!(s.contains("Content-Length: 6\r\n"));
    assert!(s.ends_with("Connection: close\r\n\r\n"), "{s}");
}

#[test]
fn http_10_keep_alive_is_announced() {
    let mut out = Vec::new();
    let cache = DateCache::default();
    let date = cache.get();
    let how = Delivery { keep_alive: true, http10: true, head_only: false, date, extra: b"" };
    serialize(&Response::text(200, &b"x"[..]), &how, &mut out);
    assert!(String::from_utf8(out).unwrap().contains("\r\nConnection: keep-alive\r\n"));
}

#[test]
fn site_headers_are_written_where_set() {
    let mut resp = Response::text(301, &b""[..]);
    resp.charset = true;
    resp.location = Some("/docs/?q=1".into());
    resp.cache_control = Some("no-cache");
    resp.stored_encoding = Some("br");
    let mut out = Vec::new();
    let date = &lines_for(b"Mon, 23 Nov 2026 19:00:00 GMT");
    let extra = b"\r\nX-A: 1\r\nX-B: 2";
    serialize(&resp, &Delivery { keep_alive: true, http10: false, head_only: false, date, extra }, &mut out);
    let s = String::from_utf8(out).unwrap();
    for line in
        ["Content-Type: text/plain; charset=utf-8\r\n", "Location: /docs/?q=1\r\n", "Cache-Control: no-cache\r\n"]
    {
        assert!(s.contains(line), "{line:?} in {s}");
    }
    assert!(s.contains("Content-Encoding: br\r\n") && s.ends_with("X-A: 1\r\nX-B: 2\r\n\r\n"), "{s}");
}

#[test]
fn no_content_and_not_modified_carry_no_length() {
    for status in [204, 304] {
        let s = render(&Response::new(status), true, false);
        assert!(!s.contains("Content-Length"), "{s}");
        assert!(s.starts_with(&format!("HTTP/1.1 {status} {}\r\n", reason(status))));
    }
}

#[test]
fn error_bodies_are_the_reason_phrase() {
    let s = render(&Response::error(HttpError::NotFound), true, false);
    assert!(s.starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert!(s.ends_with("Content-Length: 9\r\n\r\nNot Found"), "{s}");
}

#[test]
fn short_pieces_are_appended_exactly_at_every_length() {
    let piece: Vec<u8> = (b'a'..=b'z').chain(b'A'..=b'Z').collect();
    for n in 0..=piece.len() {
        let mut out = b"head".to_vec();
        push_short(&mut out, &piece[..n]);
        assert_eq!(out, [&b"head"[..], &piece[..n]].concat(), "{n} bytes");
    }
}

#[test]
fn only_an_answer_with_nothing_to_free_owns_nothing() {
    assert!(Response::text(200, &b"borrowed"[..]).owns_nothing());
    assert!(Response::new(204).owns_nothing());
    assert!(!Response::text(200, b"owned".to_vec()).owns_nothing());
    let mut redirect = Response::new(301);
    redirect.location = Some("/there".into());
    assert!(!redirect.owns_nothing(), "its Location is a String");
}
