//! docs/ARCHITECTURE.md stays true to the code: every function its walk
//! ("Follow one request") names exists where the walk says, and its file
//! map lists every file under `src/` (unit-test files aside: they sit
//! beside the code they test, as `tests.rs` or `*_tests.rs`), each once,
//! and names no file that is gone.

mod common;

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn doc() -> String {
    std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md")
}

/// Every `.rs` file under `src/`, as paths relative to `src/`.
fn sources() -> Vec<String> {
    let src = root().join("src");
    common::source_files().iter().map(|p| p.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/")).collect()
}

fn is_unit_tests(file: &str) -> bool {
    let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".rs");
    stem == "tests" || stem.ends_with("_tests")
}

/// The file map: the first fenced block, as entries (`src/x` and the text
/// that follows it up to the next entry).
fn file_map(doc: &str) -> Vec<(String, String)> {
    let block = doc.split("```").nth(1).expect("the file map block");
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("src/") {
            let (key, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            entries.push((key.to_string(), text.to_string()));
        } else if let Some(last) = entries.last_mut() {
            last.1 += " ";
            last.1 += line.trim();
        }
    }
    entries
}

/// Whether the map lists `file` (relative to `src/`): as an entry of its
/// own, or by name in the entry of the module it belongs to (`conn/` for
/// `conn/state.rs`, `event_loop.rs` for `event_loop/drive.rs`).
fn listed(map: &[(String, String)], file: &str) -> bool {
    let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
    map.iter().any(|(key, text)| {
        key == file
            || !dir.is_empty()
                && (key == &format!("{dir}/") || key == &format!("{dir}.rs") || key.ends_with(&format!("{dir}/")))
                && (text.contains(name) || text.contains(&format!("{dir}/{name}")))
            || text.contains(&format!("src/{file}"))
    })
}

#[test]
fn the_file_map_lists_every_source_file() {
    let map = file_map(&doc());
    assert!(map.len() >= 20, "the map was not read: {map:?}");
    let missing: Vec<String> = sources().into_iter().filter(|f| !is_unit_tests(f) && !listed(&map, f)).collect();
    assert!(missing.is_empty(), "docs/ARCHITECTURE.md's file map does not list: {missing:?}");
}

/// The numbered steps of the walk, "Follow one request".
fn walk_steps(doc: &str) -> Vec<String> {
    let start = doc.find("## Follow one request").expect("the walk");
    let walk = &doc[start..];
    let walk = &walk[..walk[3..].find("\n#").map_or(walk.len(), |n| n + 3)];
    let mut steps: Vec<String> = Vec::new();
    for line in walk.lines() {
        let trimmed = line.trim_start();
        let numbered =
            trimmed.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if numbered {
            steps.push(trimmed.to_string());
        } else if line.starts_with("   ") && !steps.is_empty() {
            let last = steps.last_mut().unwrap();
            last.push(' ');
            last.push_str(trimmed);
        }
    }
    steps
}

/// The backticked spans of a text.
fn ticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A backticked span that names a function: `name`, `name()`,
/// `Type::name`, `module::name(..)`, the last part in snake case. Calls
/// of the system (`read(2)`), expressions (`cx.now`) and constants are not.
fn function_named(span: &str) -> Option<(Vec<&str>, &str)> {
    let path = span.split('(').next()?;
    if path.contains(['.', ' ', '<', '&']) || span.contains("(2)") {
        return None;
    }
    let parts: Vec<&str> = path.split("::").collect();
    let name = *parts.last()?;
    let snake = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (snake && !name.ends_with(".rs")).then(|| (parts[..parts.len() - 1].to_vec(), name))
}

fn defines(text: &str, name: &str) -> bool {
    text.contains(&format!("fn {name}(")) || text.contains(&format!("fn {name}<"))
}

#[test]
fn every_function_the_walk_names_is_in_the_file_it_names() {
    let doc = doc();
    let steps = walk_steps(&doc);
    assert!(steps.len() >= 6, "the walk's steps were not read: {steps:?}");
    let sources = sources();
    let read = |file: &str| std::fs::read_to_string(root().join("src").join(file)).unwrap_or_default();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for step in &steps {
        // The files this step names; a function named without a module is
        // looked for in them.
        let files: Vec<&String> = ticked(step)
            .iter()
            .filter(|s| s.ends_with(".rs"))
            .filter_map(|s| sources.iter().find(|f| f == s || f.ends_with(&format!("/{s}"))))
            .collect();
        for span in ticked(step) {
            let Some((path, name)) = function_named(span) else { continue };
            checked += 1;
            let found = match path.as_slice() {
                // `module::name`: the module's file.
                [.., module] if module.starts_with(|c: char| c.is_ascii_lowercase()) => sources.iter().any(|f| {
                    let file = f.trim_end_matches(".rs").trim_end_matches("/mod");
                    (file == path.join("/") || file.ends_with(&format!("/{}", path.join("/"))))
                        && defines(&read(f), name)
                }),
                // `Type::name`: a file with an `impl` of the type and the function.
                [.., ty] => sources.iter().any(|f| {
                    let text = read(f);
                    (text.contains(&format!("impl {ty} "))
                        || text.contains(&format!("impl<'a> {ty}<"))
                        || text.contains(&format!("impl {ty}<")))
                        && defines(&text, name)
                }),
                // A bare name: in a file the step names.
                [] => files.iter().any(|f| defines(&read(f), name)),
            };
            if !found {
                wrong.push(format!("`{span}` (step: {}...)", &step[..step.len().min(50)]));
            }
        }
    }
    assert!(checked >= 20, "only {checked} functions named: the walk was not read");
    assert!(wrong.is_empty(), "named in docs/ARCHITECTURE.md's walk, not found where it says:\n{}", wrong.join("\n"));
}

/// The `.rs` names in an entry's text: `accept.rs`, `config/site.rs`.
fn rs_names(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '.'))
        .map(|w| w.trim_end_matches('.').trim_start_matches("src/"))
        .filter(|w| w.ends_with(".rs") && w.len() > 3)
        .collect()
}

#[test]
fn the_file_map_names_only_files_that_exist_once_each() {
    let map = file_map(&doc());
    let src = root().join("src");
    let mut stale = Vec::new();
    for (i, (key, text)) in map.iter().enumerate() {
        if map[..i].iter().any(|(k, _)| k == key) {
            stale.push(format!("src/{key} (listed twice)"));
        }
        if !src.join(key).exists() {
            stale.push(format!("src/{key}"));
        }
        // A name in the entry: from src/, or in the module's directory.
        let dir = key.trim_end_matches('/').trim_end_matches(".rs");
        for name in rs_names(text) {
            if !src.join(name).exists() && !src.join(dir).join(name).exists() {
                stale.push(format!("{name} (in the entry of src/{key})"));
            }
        }
    }
    assert!(stale.is_empty(), "docs/ARCHITECTURE.md's file map names files that do not exist, or twice: {stale:?}");
}
