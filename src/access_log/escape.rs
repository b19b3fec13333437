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
///
/// The usual case, nothing to escape, is found eight bytes at a time
/// ([`word_escapes`]) and copied in one piece; only a value with a byte
/// to escape goes through the table byte by byte. (A table look-up per
/// byte cost ~92 instructions and a `memcpy` call per request-line field;
/// callgrind, examples/hotpath.rs.)
#[inline(always)]
pub fn combined(out: &mut Vec<u8>, value: &[u8]) {
    if has_escapes(value) {
        return combined_escaping(out, value);
    }
    out.extend_from_slice(value);
}

/// Whether `value` is printable ASCII without `"` or `\`: nothing in it
/// to escape, in either format.
#[inline(always)]
pub fn is_plain(value: &[u8]) -> bool {
    !has_escapes(value)
}

/// [`combined`] for a value with a byte to escape (out of line: unusual).
#[inline(never)]
fn combined_escaping(out: &mut Vec<u8>, value: &[u8]) {
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        if COMBINED_ESCAPES[usize::from(b)] {
            out.extend_from_slice(&value[start..i]);
            push_hex(out, b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&value[start..]);
}

/// Whether `value` has a byte Combined escapes, checked a word at a time.
#[inline(always)]
fn has_escapes(value: &[u8]) -> bool {
    let (words, rest) = value.as_chunks::<8>();
    let mut flags = 0;
    for word in words {
        flags |= word_escapes(u64::from_le_bytes(*word));
    }
    if !rest.is_empty() {
        let word = match value.last_chunk::<8>() {
            // The last eight bytes: checking again some that were checked
            // already is cheaper than moving the rest into place.
            Some(last) => u64::from_le_bytes(*last),
            // A short value: its bytes shifted in one by one, above a
            // padding of bytes that need no escape.
            None => rest.iter().rev().fold(u64::from_le_bytes([b'a'; 8]), |word, &b| word << 8 | u64::from(b)),
        };
        flags |= word_escapes(word);
    }
    flags != 0
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);

/// The bytes of the little-endian `word` that Combined escapes
/// ([`COMBINED_ESCAPES`]): the high bit of each such byte is set, every
/// other bit is 0. Exact per byte: each sum below adds at most 0x7F to a
/// byte of at most 0x7F, so no carry crosses into the next byte.
#[inline(always)]
fn word_escapes(word: u64) -> u64 {
    let low7 = word & !HIGH;
    // Bytes 0x80 and above: their own high bit.
    let high = word;
    // Below 0x20: adding 0x60 leaves the high bit clear.
    let control = !(low7 + 0x60 * LOW);
    // 0x7F (and 0xFF, already counted): adding 1 sets the high bit.
    let del = low7 + LOW;
    // Equal to `"` or `\`: the XOR is 0, and adding 0x7F leaves it clear.
    let quote = !((low7 ^ QUOTES) + 0x7f * LOW);
    let backslash = !((low7 ^ BACKSLASHES) + 0x7f * LOW);
    (high | control | del | quote | backslash) & HIGH
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
mod tests;
