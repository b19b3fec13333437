//! The one rule for a test that cannot run on this host (a tool, IPv6, a
//! kernel feature is missing): on a developer's machine it is skipped with
//! a note; under CI (`CI` set, and not to `false` or `0`) it fails, since
//! a skip there would hide that the behaviour was never checked. Shared by
//! the unit tests and the integration tests (`tests/common`).

/// True under CI (`CI` set, and not to `false` or `0`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether a test that cannot run here (`why`) may pass as skipped: with a
/// note, unless under CI, where this panics instead.
pub fn skip_unless_ci(why: &str) {
    assert!(!under_ci(), "CI is set and this test cannot run: {why}");
    eprintln!("skipped (not under CI): {why}");
}
