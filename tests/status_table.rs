//! One status table: no status code is written as a number anywhere in
//! `src/` outside the table itself (`src/status.rs`), in any module. Everything else names
//! statuses (`HttpError::NotFound`, `status::CREATED`), so a decision about a
//! status is made in one place. This scans every source file, unit tests
//! aside (they assert on statuses by number, as a client would), for
//! numeric literals that are HTTP statuses.

mod common;

use std::path::{Path, PathBuf};

use loophttp::status::reason;

/// Every source file under `src/` but the table and the unit-test files.
fn scanned_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = common::source_files();
    let is_tests =
        |p: &Path| p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s == "tests" || s.ends_with("_tests"));
    files.retain(|p| *p != src.join("status.rs") && !is_tests(p));
    assert!(files.len() >= 60, "found only {} files", files.len());
    files
}

/// The code of a file without its unit tests (each `#[cfg(test)]` item:
/// a module, a function, a field, wherever it sits) and without comments,
/// as (line number, text).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" {
            skip_item(&mut lines);
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let code = match line.find("//") {
            // Not inside a string: `"http://..."` keeps its slashes.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

/// Skips the item an attribute line stands over: up to its `;` or `,` (a
/// declaration, a field, a statement, a match arm), or to the brace that
/// closes its body; brackets still open mean the item goes on.
fn skip_item<'a>(lines: &mut impl Iterator<Item = (usize, &'a str)>) {
    let mut depth = 0i32;
    for (_, line) in lines {
        let code = line.split("//").next().unwrap_or("");
        let opened = code.contains('{');
        let count = |set: &[char]| code.matches(set).count() as i32;
        depth += count(&['{', '(', '[']) - count(&['}', ')', ']']);
        let trimmed = code.trim_end();
        if trimmed.starts_with("#[") && trimmed.ends_with(']') {
            continue; // another attribute on the same item
        }
        if depth <= 0 && (opened || trimmed.ends_with('}') || trimmed.ends_with(';') || trimmed.ends_with(',')) {
            return;
        }
    }
}

/// Whole decimal literals in a line (not parts of identifiers, hex, or
/// longer numbers), outside string literals.
fn numbers(line: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let (bytes, mut i, mut in_str) = (line.as_bytes(), 0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' && (i == 0 || bytes[i - 1] != b'\\') {
            in_str = !in_str;
        }
        let starts = b.is_ascii_digit() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if in_str || !starts {
            i += 1;
            continue;
        }
        let end =
            (i..bytes.len()).find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_')).unwrap_or(bytes.len());
        if let Ok(n) = line[i..end].trim_end_matches("u16").parse() {
            found.push(n);
        }
        i = end;
    }
    found
}

/// The statuses RFC 9110 defines (section 15), sent or not: a literal 503
/// is spelt out even though the table (which lists only what is sent) has
/// no 503.
const RFC_9110: &[u32] = &[
    100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405,
    406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
];

/// Statuses: the table's, RFC 9110's, and class boundaries (`status < 300`).
fn is_status(n: u32) -> bool {
    (100..600).contains(&n) && (reason(n as u16) != "Unknown" || RFC_9110.contains(&n) || n.is_multiple_of(100))
}

/// The rooms that answer requests (connections, routes, files, the site):
/// no number there may even look like a status. Elsewhere a number is
/// taken for a status where the line speaks of one (a `status`, a `code`,
/// a response): `Duration::from_millis(100)` or a 500 B/s default are not.
fn strict(path: &Path) -> bool {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    ["conn", "files", "site"].iter().any(|d| path.starts_with(src.join(d))) || path == src.join("routes.rs")
}

fn speaks_of_a_status(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    ["status", "code", "resp", "reason"].iter().any(|w| lower.contains(w))
}

#[test]
fn no_status_literal_outside_the_status_table() {
    let mut offenders = Vec::new();
    for path in scanned_files() {
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (no, line) in code_lines(&text) {
            let suspect = strict(&path) || speaks_of_a_status(&line);
            if suspect && numbers(&line).into_iter().any(is_status) {
                offenders.push(format!("{}:{no}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "status codes spelt out; use HttpError or status::\n{}", offenders.join("\n"));
}

#[test]
fn the_scan_sees_literals_and_skips_what_is_not_one() {
    assert_eq!(numbers("Response::error(404)"), [404]);
    assert_eq!(numbers("resp.status = 304;"), [304]);
    assert_eq!(numbers("if status < 300u16 {"), [300]);
    assert!(numbers("let x = v404 + 0x404 + MAX_200;").is_empty());
    assert!(numbers(r#"log::warn!("{e} (500)")"#).is_empty(), "inside a string");
    assert_eq!(numbers("const MAX_NAME: usize = 255;"), [255], "a number, but not a status");
    assert!(is_status(503) && is_status(404) && is_status(300), "sent or not, a status is a status");
    assert!(!is_status(255) && !is_status(600));
}

#[test]
fn the_scan_reads_past_test_items_to_the_code_after_them() {
    let text = "struct Conn {\n    #[cfg(test)]\n    trail: Vec<u16>,\n    status: u16,\n}\n\
                #[cfg(test)]\nmod tests {\n    fn t() { assert_eq!(s, 404); }\n}\n\
                fn want() -> u16 {\n    404 // after the test module\n}\n";
    let lines: Vec<String> = code_lines(text).into_iter().map(|(_, l)| l).collect();
    assert!(lines.iter().any(|l| l.contains("status: u16")), "the field after a test-only field: {lines:?}");
    assert!(!lines.iter().any(|l| l.contains("trail")), "the test-only field: {lines:?}");
    assert!(!lines.iter().any(|l| l.contains("assert_eq")), "the test module: {lines:?}");
    assert!(lines.iter().any(|l| l.trim() == "404"), "code after the test module is scanned: {lines:?}");
}

/// The table's entries as its source spells them: (code, name).
fn table_entries() -> Vec<(u16, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/status.rs");
    let text = std::fs::read_to_string(path).expect("src/status.rs");
    let start = text.find("status_table! {").expect("the table");
    let body = &text[start..start + text[start..].find('}').expect("the table's end")];
    body.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.to_string()))
        })
        .collect()
}

/// Whether `name` is a word of `line` (not part of a longer identifier).
fn names(line: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(name).any(|(at, _)| !line[..at].ends_with(ident) && !line[at + name.len()..].starts_with(ident))
}

#[test]
fn every_status_in_the_table_is_sent() {
    let entries = table_entries();
    assert!(entries.len() >= 10, "the table was not read: {entries:?}");
    let code: Vec<String> = scanned_files()
        .iter()
        .flat_map(|p| code_lines(&std::fs::read_to_string(p).expect("readable source")))
        .map(|(_, l)| l)
        .filter(|l| !l.trim_start().starts_with("use ") && !l.trim_start().starts_with("pub use "))
        .collect();
    let unsent: Vec<String> = entries
        .iter()
        .filter(|(_, name)| !code.iter().any(|l| names(l, name)))
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    assert!(unsent.is_empty(), "in the status table, but no code names them (nothing sends them): {unsent:?}");
}

#[test]
fn a_name_is_a_whole_word() {
    assert!(names("Response::new(status::OK)", "OK"));
    assert!(!names("status::NOT_OK_YET", "OK"));
    assert!(!names("let OKAY = 1;", "OK"));
}
