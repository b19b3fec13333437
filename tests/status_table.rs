//! One error table: no status code is written as a number outside the
//! error table (`src/error.rs`) and the response serialiser
//! (`src/http/response.rs`). Connections, routes and files name statuses
//! (`HttpError::NotFound`, `status::CREATED`) so a decision about a status
//! is made in one place. This scans their source for numeric literals that
//! are HTTP statuses.

use std::path::Path;

use loophttp::status::reason;

/// The code that must not spell out statuses: `src/conn/`, `src/files/`,
/// `src/routes.rs`.
fn scanned_files() -> Vec<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("routes.rs")];
    for dir in ["conn", "files"] {
        let entries = std::fs::read_dir(src.join(dir)).expect("source directory");
        files
            .extend(entries.map(|e| e.expect("dir entry").path()).filter(|p| p.extension().is_some_and(|x| x == "rs")));
    }
    files.sort();
    assert!(files.len() >= 8, "found only {files:?}");
    files
}

/// The code of a file before its unit tests (which assert on statuses by
/// number, as a client would), without comment lines, as (line number, text).
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).expect("readable source");
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
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

#[test]
fn no_status_literal_outside_the_error_table_and_the_serialiser() {
    // Known statuses, and class boundaries (`status < 300`).
    let is_status = |n: u32| (100..600).contains(&n) && (reason(n as u16) != "Unknown" || n.is_multiple_of(100));
    let mut offenders = Vec::new();
    for path in scanned_files() {
        for (no, line) in code_lines(&path) {
            if numbers(&line).into_iter().any(is_status) {
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
}
