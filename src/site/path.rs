//! From a request path to a place in the served tree, without touching the
//! disk: `%XX` decoded once (by the parser's [`crate::http::Head::decoded_path`]),
//! then `//` and `/./` dropped and `..` applied, as nginx does. A `..` that
//! would climb above the root is refused (400), so nothing resolves outside
//! it by name; symlinks are judged when the file is opened (`openat2`
//! beneath the root).

use crate::error::HttpError;

/// Why a path was refused.
pub const ABOVE_ROOT: HttpError = HttpError::BadRequest("path climbs above the root");
/// Longest path accepted once normalised (Linux's PATH_MAX, less the NUL).
pub const MAX_PATH: usize = 4095;

/// A request path as a place in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Segments joined by `/`, no leading or trailing slash; empty for the root.
    pub rel: Vec<u8>,
    /// The request path ended in `/` (or was `/`): it names a directory.
    pub slash: bool,
}

impl Place {
    /// True if some segment starts with `.` (a dotfile, or inside a dot
    /// directory): hidden unless `--hidden`.
    pub fn is_hidden(&self) -> bool {
        self.rel.split(|&b| b == b'/').any(|s| s.first() == Some(&b'.'))
    }

    /// The path to open beneath the root: `.` for the root itself.
    pub fn open_path(&self) -> &[u8] {
        if self.rel.is_empty() { b"." } else { &self.rel }
    }

    /// The last segment: the name whose extension gives the type.
    pub fn name(&self) -> &[u8] {
        self.rel.rsplit(|&b| b == b'/').next().unwrap_or_default()
    }
}

/// Normalises a decoded path (it starts with `/`). NUL is refused (no name
/// holds one; the parser already refuses other encoded controls).
pub fn normalize(decoded: &[u8]) -> Result<Place, HttpError> {
    if decoded.first() != Some(&b'/') || decoded.contains(&0) {
        return Err(HttpError::BadRequest("not an absolute path"));
    }
    let mut rel: Vec<u8> = Vec::with_capacity(decoded.len());
    let segments = decoded[1..].split(|&b| b == b'/');
    let mut slash = true;
    for seg in segments {
        // `.`, `..` and an empty last segment all name a directory.
        slash = matches!(seg, b"" | b"." | b"..");
        match seg {
            b"" | b"." => {}
            b".." => {
                if rel.is_empty() {
                    return Err(ABOVE_ROOT);
                }
                let cut = rel.iter().rposition(|&b| b == b'/').unwrap_or(0);
                rel.truncate(cut);
            }
            _ => {
                if !rel.is_empty() {
                    rel.push(b'/');
                }
                rel.extend_from_slice(seg);
            }
        }
    }
    if rel.len() > MAX_PATH {
        return Err(HttpError::UriTooLong);
    }
    Ok(Place { rel, slash })
}

/// Where `/dir` is redirected: the path as the client sent it (still
/// percent-encoded) with `/` added, and the query kept.
pub fn slash_location(raw_path: &str, target: &str) -> String {
    let query = target.find('?').map_or("", |i| &target[i..]);
    // An absolute-form target's path is already what `raw_path` holds.
    format!("{raw_path}/{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(p: &str) -> Result<(String, bool), HttpError> {
        normalize(p.as_bytes()).map(|pl| (String::from_utf8(pl.rel).unwrap(), pl.slash))
    }

    #[test]
    fn paths_normalise_as_nginx_does() {
        let ok = |rel: &str, slash| Ok((rel.to_string(), slash));
        assert_eq!(place("/"), ok("", true));
        assert_eq!(place("/a"), ok("a", false));
        assert_eq!(place("/a/"), ok("a", true));
        assert_eq!(place("//a//b"), ok("a/b", false));
        assert_eq!(place("/a/./b/."), ok("a/b", true));
        assert_eq!(place("/a/../b"), ok("b", false));
        assert_eq!(place("/a/b/.."), ok("a", true));
        assert_eq!(place("/a/.."), ok("", true));
        assert_eq!(place("/..a/b.."), ok("..a/b..", false));
    }

    #[test]
    fn nothing_climbs_above_the_root() {
        for bad in ["/..", "/../etc/passwd", "/a/../../b", "/./../x", "//.."] {
            assert_eq!(place(bad), Err(ABOVE_ROOT), "{bad}");
        }
        assert!(place("relative").is_err());
        assert!(normalize(b"/a\0b").is_err());
        assert_eq!(normalize(&[&b"/"[..], &[b'a'; 5000]].concat()), Err(HttpError::UriTooLong));
    }

    #[test]
    fn dot_segments_are_hidden_anywhere_in_the_path() {
        let hidden = |p: &str| normalize(p.as_bytes()).unwrap().is_hidden();
        assert!(hidden("/.env"));
        assert!(hidden("/.git/config"));
        assert!(hidden("/a/.secret/"));
        assert!(!hidden("/a.b/c"));
        assert!(!hidden("/"));
        assert!(!hidden("/a/./b"), "a `.` segment is dropped, not hidden");
    }

    #[test]
    fn names_and_open_paths() {
        let p = normalize(b"/a/b/c.txt").unwrap();
        assert_eq!((p.name(), p.open_path()), (&b"c.txt"[..], &b"a/b/c.txt"[..]));
        let root = normalize(b"/").unwrap();
        assert_eq!((root.name(), root.open_path()), (&b""[..], &b"."[..]));
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Whatever the path, what comes out is plain segments, none of
        /// them empty, `.` or `..`: nothing left for the file system to
        /// resolve upwards (symlinks are the kernel's to judge).
        #[test]
        fn a_normalised_path_has_only_plain_segments(
            segs in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b"..".to_vec()),
                    proptest::strategy::Just(b".".to_vec()),
                    proptest::strategy::Just(Vec::new()),
                    // Any bytes but `/`, which would make more segments.
                    proptest::collection::vec(proptest::num::u8::ANY, 1..4)
                        .prop_map(|v| v.into_iter().map(|b| if b == b'/' { b'x' } else { b }).collect()),
                ],
                0..12,
            )
        ) {
            let path: Vec<u8> = segs.iter().flat_map(|s| [&b"/"[..], s].concat()).collect();
            let path = if path.is_empty() { b"/".to_vec() } else { path };
            // Refused exactly for a NUL or for climbing above the root.
            let depth = segs.iter().try_fold(0i32, |d, s| match &s[..] {
                b".." if d == 0 => None,
                b".." => Some(d - 1),
                b"" | b"." => Some(d),
                _ => Some(d + 1),
            });
            let result = normalize(&path);
            proptest::prop_assert_eq!(result.is_ok(), depth.is_some() && !path.contains(&0));
            if let Ok(place) = result {
                proptest::prop_assert!(!place.rel.starts_with(b"/") && !place.rel.ends_with(b"/"));
                for seg in place.rel.split(|&b| b == b'/').filter(|_| !place.rel.is_empty()) {
                    proptest::prop_assert!(!seg.is_empty() && seg != b"." && seg != b"..", "{:?}", place.rel);
                }
            }
        }
    }

    #[test]
    fn the_slash_redirect_keeps_the_query_and_the_encoding() {
        assert_eq!(slash_location("/docs", "/docs"), "/docs/");
        assert_eq!(slash_location("/a%20b", "/a%20b?x=1&y=%2F"), "/a%20b/?x=1&y=%2F");
        assert_eq!(slash_location("/d", "http://h/d?q"), "/d/?q");
    }
}
