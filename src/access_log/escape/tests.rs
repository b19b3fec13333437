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

/// The byte-by-byte table version [`combined`] must agree with.
fn by_table(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in value {
        if COMBINED_ESCAPES[usize::from(b)] {
            push_hex(&mut out, b);
        } else {
            out.push(b);
        }
    }
    out
}

#[test]
fn the_word_check_flags_exactly_the_bytes_the_table_escapes() {
    // Every byte value at every position of a word, among every other
    // byte value: the flag must sit on exactly the bytes to escape.
    for fill in 0..=255u8 {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = [fill; 8];
                word[at] = b;
                let want = word
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, &x)| m | if COMBINED_ESCAPES[usize::from(x)] { 0x80 << (8 * i) } else { 0 });
                assert_eq!(word_escapes(u64::from_le_bytes(word)), want, "{word:02X?}");
            }
        }
    }
}

#[test]
fn combined_agrees_with_the_table_at_every_length_and_position() {
    // Lengths around the word size (whole words, a tail, none), each byte
    // value at each position, on a background that needs no escape and on
    // one that does.
    for background in [b'a', b'"'] {
        for len in 0..=25 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![background; len];
                    v[at] = b;
                    let mut out = b"prefix ".to_vec();
                    combined(&mut out, &v);
                    assert_eq!(out[7..], by_table(&v)[..], "{v:02X?}");
                }
            }
        }
    }
    let mut out = Vec::new();
    combined(&mut out, b"");
    assert!(out.is_empty());
}
