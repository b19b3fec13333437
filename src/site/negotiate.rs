//! Which representation a client gets, from its request head alone: the
//! stored encodings it accepts, in its order of preference (`Accept-Encoding`
//! q-values, RFC 9110 §12.5.3), whether it wants HTML (for the single-page
//! fallback), and the `Content-Type` of a file name (with its charset).

/// A precompressed sibling's coding: `x.br`, `x.zst`, `x.gz` next to `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    /// All of them, in the order that breaks a tie of q-value and age:
    /// brotli and zstd files are usually the smaller.
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The sibling's suffix.
    pub fn suffix(self) -> &'static [u8] {
        match self {
            Coding::Br => b".br",
            Coding::Zstd => b".zst",
            Coding::Gzip => b".gz",
        }
    }
}

/// The q-value (in thousandths) `Accept-Encoding` gives `coding`: its own
/// entry if listed, else `*`'s, else 0. `x-gzip` counts as gzip. Without the
/// header, no coding is acceptable here (identity is always the safe answer).
pub fn quality(accept_encoding: Option<&[u8]>, coding: Coding) -> u16 {
    let Some(value) = accept_encoding else { return 0 };
    let mut star = 0;
    for item in value.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        let q = parts.find_map(|p| q_param(p.trim_ascii())).unwrap_or(1000);
        let listed = name.eq_ignore_ascii_case(coding.token().as_bytes())
            || (coding == Coding::Gzip && name.eq_ignore_ascii_case(b"x-gzip"));
        if listed {
            return q;
        }
        if name == b"*" {
            star = q;
        }
    }
    star
}

/// `q=0.5` → 500. A malformed value counts as 0: the client said
/// something about this coding, and we cannot tell it liked it.
fn q_param(param: &[u8]) -> Option<u16> {
    let v = param.strip_prefix(b"q=").or_else(|| param.strip_prefix(b"Q="))?.trim_ascii();
    let parsed = match v {
        [b'1'] | [b'1', b'.'] => Some(1000),
        [b'1', b'.', rest @ ..] if rest.len() <= 3 && rest.iter().all(|&b| b == b'0') => Some(1000),
        [b'0'] | [b'0', b'.'] => Some(0),
        [b'0', b'.', rest @ ..] if rest.len() <= 3 && rest.iter().all(u8::is_ascii_digit) => {
            let mut n = 0u16;
            for i in 0..3 {
                n = n * 10 + rest.get(i).map_or(0, |d| u16::from(d - b'0'));
            }
            Some(n)
        }
        _ => None,
    };
    Some(parsed.unwrap_or(0))
}

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
    let mime = mime_guess::from_ext(ext).first_raw().unwrap_or("application/octet-stream");
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

    #[test]
    fn q_values_are_read_per_coding() {
        let q = |h: &str, c| quality(Some(h.as_bytes()), c);
        assert_eq!(q("gzip, br", Br), 1000);
        assert_eq!(q("gzip;q=0.5, br;q=0.25", Gzip), 500);
        assert_eq!(q("gzip;q=0.5, br;q=0.25", Br), 250);
        assert_eq!(q("br;q=0", Br), 0);
        assert_eq!(q("*;q=0.3", Zstd), 300);
        assert_eq!(q("zstd;q=0, *", Zstd), 0, "listed wins over *");
        assert_eq!(q("x-gzip", Gzip), 1000);
        assert_eq!(q("gzip;q=2", Gzip), 0, "out of range");
        assert_eq!(q("gzip;q=0.1234", Gzip), 0, "too many digits");
        assert_eq!(q("GZIP ; Q=1.000", Gzip), 1000);
        assert_eq!(q("deflate", Gzip), 0);
        assert_eq!(quality(None, Gzip), 0);
    }

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
