//! `--header 'Name: value'` and `--cache-control VALUE`, checked at start-up
//! so that nothing an operator types can end a header line early, inject
//! another, or contradict the framing loophttp writes itself.

/// Headers loophttp writes itself: a second copy would contradict the
/// framing, the representation or the validators (RFC 9110 §5.3).
const OWN: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "trailer",
    "te",
    "date",
    "server",
    "content-type",
    "content-encoding",
    "content-range",
    "accept-ranges",
    "etag",
    "last-modified",
    "location",
    "vary",
    "allow",
    "cache-control",
];

/// Checks one `Name: value` and gives it as the header line loophttp
/// appends (`\r\nName: value`).
pub fn parse_header(text: &str) -> Result<String, String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!("{text:?}: expected 'Name: value'"));
    };
    let value = value.trim_matches([' ', '\t']);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(format!("{name:?}: not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"));
    }
    if OWN.contains(&name.to_ascii_lowercase().as_str()) {
        let hint = if name.eq_ignore_ascii_case("cache-control") { " (use --cache-control)" } else { "" };
        return Err(format!("{name}: loophttp writes this header itself{hint}"));
    }
    check_value(value).map_err(|why| format!("{name}: {why}"))?;
    Ok(format!("\r\n{name}: {value}"))
}

/// A field value: visible ASCII, spaces and tabs inside, not empty (RFC
/// 9110 §5.5; no obsolete bytes past 0x7f, and never CR, LF or NUL).
pub fn check_value(value: &str) -> Result<(), String> {
    let ok_byte = |b: u8| b == b' ' || b == b'\t' || b.is_ascii_graphic();
    if value.is_empty() {
        return Err("empty value".into());
    }
    if !value.bytes().all(ok_byte) {
        return Err(format!("{value:?}: values are visible ASCII, spaces and tabs only"));
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err(format!("{value:?}: no leading or trailing white space"));
    }
    Ok(())
}

/// RFC 9110 §5.6.2's `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_headers_become_lines() {
        assert_eq!(parse_header("Access-Control-Allow-Origin: *").unwrap(), "\r\nAccess-Control-Allow-Origin: *");
        assert_eq!(parse_header("X-A:b c").unwrap(), "\r\nX-A: b c");
        assert_eq!(parse_header("X-Frame-Options:  DENY\t").unwrap(), "\r\nX-Frame-Options: DENY");
        assert_eq!(parse_header("Link: </a.css>; rel=preload").unwrap(), "\r\nLink: </a.css>; rel=preload");
    }

    #[test]
    fn nothing_can_inject_a_line_or_contradict_the_framing() {
        let bad = [
            "X-A: b\r\nX-Evil: 1",
            "X-A: b\nSet-Cookie: x",
            "X-A: b\0",
            "X-A: caf\u{e9}",
            "X A: b",
            ": b",
            "X-A",
            "X-A:",
            "Content-Length: 5",
            "transfer-encoding: chunked",
            "Connection: close",
            "Cache-Control: no-store",
            "Content-Type: text/plain",
        ];
        for h in bad {
            assert!(parse_header(h).is_err(), "{h:?}");
        }
        assert!(parse_header("Cache-Control: x").unwrap_err().contains("--cache-control"));
    }

    #[test]
    fn cache_control_values_are_checked_the_same_way() {
        assert!(check_value("public, max-age=31536000, immutable").is_ok());
        assert!(check_value("no-cache").is_ok());
        assert!(check_value("no-cache\r\nX: y").is_err());
        assert!(check_value("").is_err());
    }
}
