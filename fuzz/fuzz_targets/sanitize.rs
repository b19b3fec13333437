//! `files::sanitize` on arbitrary names, directly and after the percent
//! decoding the router applies first. Any accepted name is exactly one path
//! segment: not empty, not `.`/`..`, no `/`, `\` or NUL, at most 255 bytes,
//! and joined to a directory it names a child of that directory.
#![no_main]

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use loophttp::files::{MAX_NAME, sanitize};
use loophttp::http::target::percent_decode;

const DIR: &str = "/srv/files";

fn check(name: &[u8]) {
    let Ok(accepted) = sanitize(name) else { return };
    let bytes = accepted.as_bytes();
    assert_eq!(bytes, name, "sanitize changed the name");
    assert!(!bytes.is_empty() && bytes.len() <= MAX_NAME, "bad length {}", bytes.len());
    assert!(bytes != b"." && bytes != b"..", "dot segment accepted");
    assert!(!bytes.iter().any(|&b| b == b'/' || b == b'\\' || b == 0), "separator or NUL accepted: {bytes:?}");

    let dir = Path::new(DIR);
    let joined = dir.join(accepted);
    assert_eq!(joined.parent(), Some(dir), "{joined:?} escapes {DIR}");
    assert_eq!(joined.file_name(), Some(accepted), "{joined:?} names something else");
    let last = joined.components().next_back();
    assert_eq!(last, Some(Component::Normal(accepted)), "{joined:?} ends in a special component");
    assert_eq!(joined.components().count(), dir.components().count() + 1);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(decoded) = percent_decode(text)
    {
        check(&decoded);
    }
});
