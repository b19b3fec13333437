//! Client-controlled bytes made safe for a log line, nginx-style: a byte
//! that could end a field or a line, or fool a terminal, becomes `\xHH`.
//!
//! Combined escapes as nginx does (`ngx_http_log_escape`): `"`, `\`, bytes
//! below 0x20 and 0x7F and above. JSON keeps valid UTF-8 text readable and
//! escapes only `\`, control bytes and bytes that are not UTF-8; the result
//! is then a JSON string (serde_json escapes `"` and the `\` of each
//! escape). Either way a literal backslash is itself escaped, so `\xHH` in
//! a logged value always stands for one byte, and the truncation marker
//! [`TRUNCATED`] (a backslash followed by a dot) can never come from a client.

/// Appended where a value was cut at its limit.
pub const TRUNCATED: &str = "\\...";

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Bytes Combined escapes: `"`, `\`, controls, DEL and everything above.
const COMBINED_ESCAPES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b < 0x20 || b >= 0x7f || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    t
};

fn push_hex(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

/// Appends `value` escaped for a quoted Combined field.
pub fn combined(out: &mut Vec<u8>, value: &[u8]) {
    // The usual case, nothing to escape: one table look-up per byte, one copy.
    let Some(first) = value.iter().position(|&b| COMBINED_ESCAPES[usize::from(b)]) else {
        out.extend_from_slice(value);
        return;
    };
    out.extend_from_slice(&value[..first]);
    let mut start = first;
    for (i, &b) in value.iter().enumerate().skip(first) {
        if COMBINED_ESCAPES[usize::from(b)] {
            out.extend_from_slice(&value[start..i]);
            push_hex(out, b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&value[start..]);
}

/// Appends `value` to `out` as text for a JSON string: valid UTF-8 is kept,
/// anything else (and `\`, control characters) becomes `\xHH`.
pub fn json_text(out: &mut String, value: &[u8]) {
    // Building the escaped text through a Vec keeps this free of unsafe.
    let mut bytes = std::mem::take(out).into_bytes();
    for chunk in value.utf8_chunks() {
        let valid = chunk.valid().as_bytes();
        let mut start = 0;
        for (i, &b) in valid.iter().enumerate() {
            if b == b'\\' || b < 0x20 || b == 0x7f {
                bytes.extend_from_slice(&valid[start..i]);
                push_hex(&mut bytes, b);
                start = i + 1;
            }
        }
        bytes.extend_from_slice(&valid[start..]);
        for &b in chunk.invalid() {
            push_hex(&mut bytes, b);
        }
    }
    // Only valid UTF-8 and ASCII escapes were appended to valid UTF-8.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

/// `value` cut to at most `max` bytes, and whether it was cut.
pub fn bounded(value: &[u8], max: usize) -> (&[u8], bool) {
    if value.len() > max { (&value[..max], true) } else { (value, false) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: &[u8]) -> String {
        let mut out = Vec::new();
        combined(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn j(v: &[u8]) -> String {
        let mut out = String::new();
        json_text(&mut out, v);
        out
    }

    #[test]
    fn combined_escapes_what_nginx_escapes() {
        assert_eq!(c(b"curl/8.1"), "curl/8.1");
        assert_eq!(c(b"a\"b"), "a\\x22b");
        assert_eq!(c(b"a\\b"), "a\\x5Cb");
        assert_eq!(c(b"a\r\nb\t\x00\x1b[31m"), "a\\x0D\\x0Ab\\x09\\x00\\x1B[31m");
        assert_eq!(c(b"\x7f\x80\xff"), "\\x7F\\x80\\xFF");
        assert_eq!(c("é".as_bytes()), "\\xC3\\xA9", "nginx escapes every byte above 0x7E");
    }

    #[test]
    fn a_forged_line_stays_one_field() {
        let hostile = b"x\" 200 1 \"-\" \"-\"\n1.2.3.4 - - [01/Jan/2000:00:00:00 +0000] \"GET /admin HTTP/1.1";
        let s = c(hostile);
        assert!(!s.contains('"') && !s.contains('\n'), "{s}");
    }

    #[test]
    fn json_text_keeps_utf8_and_escapes_the_rest() {
        assert_eq!(j("héllo ✓".as_bytes()), "héllo ✓");
        assert_eq!(j(b"a\\b"), "a\\x5Cb");
        assert_eq!(j(b"a\x00\n\x1b\x7f"), "a\\x00\\x0A\\x1B\\x7F");
        assert_eq!(j(b"ok\xff\xfe\xc3"), "ok\\xFF\\xFE\\xC3", "invalid and truncated sequences");
        assert_eq!(j(b"\"q\""), "\"q\"", "serde_json escapes quotes when it writes the string");
    }

    #[test]
    fn escaped_text_never_contains_the_truncation_marker() {
        for v in [&b"\\..."[..], b"\\\\...", b"a\\.b", b"\\x2E..."] {
            assert!(!c(v).contains(TRUNCATED), "{v:?}");
            assert!(!j(v).contains(TRUNCATED), "{v:?}");
        }
    }

    #[test]
    fn bounded_cuts_at_the_limit() {
        assert_eq!(bounded(b"abcdef", 4), (&b"abcd"[..], true));
        assert_eq!(bounded(b"abc", 4), (&b"abc"[..], false));
    }
}
