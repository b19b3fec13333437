//! A download's `Content-Type`, by the requested name's extension (as
//! nginx does), with the last answer remembered.
//!
//! `mime_guess` finds an extension by a binary search of its table with
//! case-insensitive compares: about 1–1.6% of the server's CPU per 64 KiB
//! download (`perf record` of the loop under `wrk -c50`,
//! docs/PERFORMANCE.md). Requests in a row mostly ask for files of the same
//! kind, so the last extension and its type are kept, and a repeat is one
//! compare of a few bytes.

use std::cell::Cell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The type of a name with no extension, or one `mime_guess` does not know.
pub const UNKNOWN: &str = "application/octet-stream";

/// Longest extension remembered; a longer one is looked up every time.
const EXT_MAX: usize = 15;

/// The last extension looked up and its type. Each loop has its own (the
/// routes are cloned per worker), so a `Cell` is enough.
#[derive(Debug, Clone, Default)]
pub struct LastType(Cell<Option<Remembered>>);

#[derive(Debug, Clone, Copy)]
struct Remembered {
    ext: [u8; EXT_MAX],
    len: u8,
    mime: &'static str,
}

impl LastType {
    /// The type for `name`, from its extension.
    pub fn of(&self, name: &OsStr) -> &'static str {
        let Some(ext) = Path::new(name).extension().map(OsStr::as_bytes) else { return UNKNOWN };
        if let Some(r) = self.0.get()
            && r.ext[..usize::from(r.len)] == *ext
        {
            return r.mime;
        }
        // As `mime_guess::from_path`: an extension that is not UTF-8 has no type.
        let known = std::str::from_utf8(ext).ok().and_then(|e| mime_guess::from_ext(e).first_raw());
        let mime = known.unwrap_or(UNKNOWN);
        if ext.len() <= EXT_MAX {
            let mut r = Remembered { ext: [0; EXT_MAX], len: ext.len() as u8, mime };
            r.ext[..ext.len()].copy_from_slice(ext);
            self.0.set(Some(r));
        }
        mime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_or_not_the_type_is_mime_guess_s() {
        let last = LastType::default();
        let names = [
            "a.html",
            "b.html",
            "c.bin",
            "c.bin",
            "d",
            "e.HTML",
            "f.json",
            "g.tar.gz",
            "h.gz",
            ".profile",
            "i.averyveryverylongextension",
            "j.averyveryverylongextension",
            "k.html",
        ];
        for name in names {
            let want = mime_guess::from_path(name).first_raw().unwrap_or(UNKNOWN);
            assert_eq!(last.of(OsStr::new(name)), want, "{name}");
        }
    }

    #[test]
    fn a_name_that_is_not_utf8_gets_a_type_too() {
        let last = LastType::default();
        assert_eq!(last.of(OsStr::from_bytes(b"x.\xffhtml")), UNKNOWN);
        assert_eq!(last.of(OsStr::from_bytes(b"\xff.html")), "text/html");
    }
}
