//! Which representation a client gets, from its request head alone: the
//! stored encodings it accepts, in its order of preference (`Accept-Encoding`
//! q-values, RFC 9110 §12.5.3), whether it wants HTML (for the single-page
//! fallback), and the `Content-Type` of a file name (with its charset).
//! The q-values themselves are read by [`crate::http::encoding::quality`].

pub use crate::http::encoding::Coding;
use crate::http::encoding::q_param;

/// A candidate sibling: its coding, how much the client wants it, and its
/// modification time (nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub coding: Coding,
    pub q: u16,
    pub mtime: u128,
}

/// The sibling to serve: highest q first, then the fresher, then
/// [`Coding::ALL`]'s order. None if none is acceptable (q = 0) or every one
/// is older than the file itself (a stale sibling would serve old content).
pub fn choose(candidates: &[Candidate], original_mtime: u128) -> Option<Coding> {
    candidates
        .iter()
        .filter(|c| c.q > 0 && c.mtime >= original_mtime)
        .max_by_key(|c| (c.q, c.mtime, std::cmp::Reverse(Coding::ALL.iter().position(|&k| k == c.coding))))
        .map(|c| c.coding)
}

/// True if `Accept` admits `text/html` (listed, `text/*` or `*/*`, q > 0):
/// a browser navigating, not a script fetching an asset that is missing.
pub fn accepts_html(accept: Option<&[u8]>) -> bool {
    let Some(value) = accept else { return false };
    let mut best: Option<(u8, u16)> = None; // (specificity, q)
    for item in value.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let range = parts.next().unwrap_or_default().trim_ascii();
        let q = parts.find_map(|p| q_param(p.trim_ascii())).unwrap_or(1000);
        let specificity = match range {
            r if r.eq_ignore_ascii_case(b"text/html") => 3,
            r if r.eq_ignore_ascii_case(b"text/*") => 2,
            b"*/*" => 1,
            _ => continue,
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.is_some_and(|(_, q)| q > 0)
}

/// The media type of a file name, by its extension (as nginx does), and
/// whether it is text that should say `charset=utf-8`.
pub fn content_type(name: &[u8]) -> (&'static str, bool) {
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(i) if i > 0 => std::str::from_utf8(&name[i + 1..]).unwrap_or(""),
        _ => "",
    };
    let mime = mime_guess::from_ext(ext).first_raw().unwrap_or(crate::files::types::UNKNOWN);
    (mime, is_text(mime))
}

/// Types whose bytes are characters: `text/*`, JavaScript, JSON, SVG.
pub fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(mime, "application/javascript" | "application/json" | "image/svg+xml" | "application/manifest+json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    fn c(coding: Coding, q: u16, mtime: u128) -> Candidate {
        Candidate { coding, q, mtime }
    }

    #[test]
    fn the_best_acceptable_fresh_sibling_is_chosen() {
        assert_eq!(choose(&[c(Gzip, 1000, 10), c(Br, 1000, 10)], 10), Some(Br), "tie: br first");
        assert_eq!(choose(&[c(Gzip, 1000, 10), c(Br, 500, 10)], 10), Some(Gzip), "q decides");
        assert_eq!(choose(&[c(Gzip, 1000, 12), c(Br, 1000, 11)], 10), Some(Gzip), "the fresher");
        assert_eq!(choose(&[c(Gzip, 1000, 9), c(Br, 1000, 10)], 10), Some(Br), "older than x: skipped");
        assert_eq!(choose(&[c(Gzip, 1000, 9)], 10), None);
        assert_eq!(choose(&[c(Zstd, 0, 99)], 10), None, "q=0: refused");
        assert_eq!(choose(&[], 10), None);
    }

    #[test]
    fn html_is_accepted_by_browsers_not_by_asset_fetches() {
        let yes = ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8", "*/*", "text/*", "TEXT/HTML;q=0.1"];
        let no = ["application/json", "image/*", "text/html;q=0", "text/html;q=0, */*", ""];
        for h in yes {
            assert!(accepts_html(Some(h.as_bytes())), "{h}");
        }
        for h in no {
            assert!(!accepts_html(Some(h.as_bytes())), "{h}");
        }
        assert!(!accepts_html(None));
    }

    #[test]
    fn text_types_get_a_charset() {
        assert_eq!(content_type(b"index.html"), ("text/html", true));
        let (js, text) = content_type(b"app.js");
        assert!(js.ends_with("javascript") && text, "{js}");
        assert_eq!(content_type(b"data.json"), ("application/json", true));
        assert_eq!(content_type(b"logo.svg"), ("image/svg+xml", true));
        assert_eq!(content_type(b"photo.png"), ("image/png", false));
        assert_eq!(content_type(b"README"), ("application/octet-stream", false));
        assert_eq!(content_type(b".bashrc"), ("application/octet-stream", false));
        assert_eq!(content_type(b"x.\xff"), ("application/octet-stream", false));
    }
}
