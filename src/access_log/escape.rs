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
//!
//! [`json_string`] writes that string: JSON's own escapes, plus `\uXXXX`
//! for the characters that are valid text yet can break or disguise a line
//! in a viewer: C1 controls, the line and paragraph separators, and the
//! bidirectional overrides and isolates (which can make a line read
//! backwards: "Trojan Source").

use std::io::{self, Write};

use serde::Serialize;

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

/// Appends `text` as a JSON string literal (quotes included), escaping
/// what JSON requires and every [`disguises`] character as `\uXXXX`.
pub fn json_string(out: &mut Vec<u8>, text: &str) {
    let mut ser = serde_json::Serializer::with_formatter(out, LineSafe);
    // Serialising a &str into a Vec cannot fail.
    let _ = text.serialize(&mut ser);
}

/// Valid text that can break or disguise a log line: C1 controls
/// (U+0080-U+009F; U+0085 is a line break to some readers), U+2028 and
/// U+2029 (line and paragraph separators), and the bidirectional controls
/// U+202A-U+202E and U+2066-U+2069.
pub fn disguises(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// serde_json's compact output, with [`disguises`] characters escaped in
/// strings too. serde_json hands over each run of text it would copy as it
/// is; this copies it, writing those characters as `\uXXXX`.
struct LineSafe;

impl serde_json::ser::Formatter for LineSafe {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices().filter(|&(_, c)| disguises(c)) {
            w.write_all(&fragment.as_bytes()[start..i])?;
            write!(w, "\\u{:04X}", u32::from(c))?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
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

    fn js(text: &str) -> String {
        let mut out = Vec::new();
        json_string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_strings_escape_what_can_break_or_disguise_a_line() {
        assert_eq!(js("plain ✓ é"), "\"plain ✓ é\"");
        assert_eq!(js("a\"b\n"), "\"a\\\"b\\n\"", "JSON's own escapes stay");
        let hostile = "a\u{85}b\u{9f}c\u{2028}d\u{2029}e\u{202a}\u{202e}f\u{2066}\u{2069}g";
        let line = js(hostile);
        assert_eq!(line, r#""a\u0085b\u009Fc\u2028d\u2029e\u202A\u202Ef\u2066\u2069g""#);
        assert_eq!(serde_json::from_str::<String>(&line).unwrap(), hostile, "the value reads back whole");
        for c in ['\u{7f}', '\u{a0}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{206a}'] {
            assert!(!disguises(c), "{:04X} is ordinary text", u32::from(c));
        }
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
