//! The architecture's one hard wall: only the event loop (`src/event_loop.rs`
//! and `src/event_loop/`) touches mio. Connections, HTTP, routes and files
//! run over `Transport` and plain bytes, so they can be driven by an
//! in-memory stream; this scans the source to keep it so.

mod common;

use std::path::Path;

#[test]
fn only_the_event_loop_uses_mio() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = common::source_files();
    assert!(files.len() > 20, "found only {files:?}");
    let in_loop = |p: &Path| p == src.join("event_loop.rs") || p.starts_with(src.join("event_loop"));
    let mut offenders = Vec::new();
    for path in files.iter().filter(|p| !in_loop(p)) {
        let text = std::fs::read_to_string(path).expect("readable source");
        for (no, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && (code.contains("mio::") || code.starts_with("use mio")) {
                offenders.push(format!("{}:{}: {}", path.display(), no + 1, code));
            }
        }
    }
    assert!(offenders.is_empty(), "mio outside the event loop:\n{}", offenders.join("\n"));
}
