use super::*;

fn limits() -> Limits {
    Limits { max_uri: 8192, max_head: 16384, max_headers: 100 }
}

fn parse(buf: &[u8]) -> Result<Parsed<'_>, HttpError> {
    parse_head(buf, &limits())
}

#[test]
fn placeholder_compiles() {
    assert!(matches!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Ok(Parsed::Complete(_, 27))));
}
