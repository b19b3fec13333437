//! `--listing`: a directory as an HTML page. Directories first, then names
//! in byte order; each name HTML-escaped for display (invalid UTF-8 shown
//! as U+FFFD) and percent-encoded in its link (every byte but RFC 3986's
//! unreserved ones, so a non-UTF-8 name still links to itself); no script.
//!
//! A large directory must not stall the loop, so the page is made in
//! budgeted pieces: when the request arrives the names are read and sorted
//! (one `getdents` pass, no `stat`: the kind comes with the name), and the
//! rows, each needing a `stat`, are rendered [`ROWS_PER_PIECE`] at a time
//! as the client reads, chunked ([`crate::http::response::Generate`]).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::response::Generate;
use crate::sys;

/// Rows rendered (one `fstatat` each) per piece: some 25 KiB of HTML, and
/// well under a millisecond, between turns of other connections.
pub const ROWS_PER_PIECE: usize = 128;

/// One listed name, as read from the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub bytes: Vec<u8>,
    pub dir: bool,
    /// A symlink (judged beneath the root when it was read): `stat` follows it.
    pub link: bool,
}

/// Directories first, then by name, byte by byte.
pub fn sort(names: &mut [Name]) {
    names.sort_unstable_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.bytes.cmp(&b.bytes)));
}

/// Appends `text` (any bytes) HTML-escaped; invalid UTF-8 becomes U+FFFD.
pub fn escape_html(text: &[u8], out: &mut Vec<u8>) {
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '&' => out.extend_from_slice(b"&amp;"),
                '<' => out.extend_from_slice(b"&lt;"),
                '>' => out.extend_from_slice(b"&gt;"),
                '"' => out.extend_from_slice(b"&quot;"),
                '\'' => out.extend_from_slice(b"&#39;"),
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

/// Appends `name` percent-encoded: only `A-Z a-z 0-9 - . _ ~` stay as
/// they are, so the link is one relative path segment whatever the name
/// holds (`:`, `/`, `?`, `#`, quotes, bytes past 0x7f).
pub fn encode_segment(name: &[u8], out: &mut Vec<u8>) {
    for &b in name {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The page up to the first row. `path` is the decoded request path.
pub fn page_start(path: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    out.extend_from_slice(b"<meta name=\"viewport\" content=\"width=device-width\"><title>Index of ");
    escape_html(path, out);
    out.extend_from_slice(b"</title>\n<style>body{font-family:sans-serif;margin:2em}");
    out.extend_from_slice(b"table{border-collapse:collapse}td,th{padding:.2em 1.2em .2em 0;text-align:left}");
    out.extend_from_slice(
        b"td.s{text-align:right}th{border-bottom:1px solid #ccc}</style></head>\n<body><h1>Index of ",
    );
    escape_html(path, out);
    out.extend_from_slice(b"</h1>\n<table><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n");
    if path != b"/" {
        out.extend_from_slice(b"<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
}

/// One row: the link, the size in bytes (`-` for a directory), the time.
pub fn row(name: &Name, size: u64, modified: SystemTime, out: &mut Vec<u8>) {
    let slash: &[u8] = if name.dir { b"/" } else { b"" };
    out.extend_from_slice(b"<tr><td><a href=\"");
    encode_segment(&name.bytes, out);
    out.extend_from_slice(slash);
    out.extend_from_slice(b"\">");
    escape_html(&name.bytes, out);
    out.extend_from_slice(slash);
    out.extend_from_slice(b"</a></td><td class=\"s\">");
    if name.dir {
        out.push(b'-');
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(size).as_bytes());
    }
    out.extend_from_slice(b"</td><td>");
    let clamped = modified.clamp(UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(253_402_300_799));
    out.extend_from_slice(httpdate::fmt_http_date(clamped).as_bytes());
    out.extend_from_slice(b"</td></tr>\n");
}

pub const PAGE_END: &[u8] = b"</table>\n</body></html>\n";

/// A listing being sent: the sorted names, and how far the rows have got.
#[derive(Debug)]
pub struct Listing {
    dir: File,
    names: Vec<Name>,
    next: usize,
    /// The page's start, not yet handed out.
    start: Option<Vec<u8>>,
}

impl Listing {
    /// `names` must be sorted ([`sort`]); `dir` is the listed directory.
    pub fn new(dir: File, path: &[u8], names: Vec<Name>) -> Listing {
        let mut start = Vec::with_capacity(1024);
        page_start(path, &mut start);
        Listing { dir, names, next: 0, start: Some(start) }
    }
}

impl Generate for Listing {
    fn next_piece(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        if let Some(start) = self.start.take() {
            out.extend_from_slice(&start);
        }
        let end = (self.next + ROWS_PER_PIECE).min(self.names.len());
        for name in &self.names[self.next..end] {
            // Gone since it was read: left out, as if read a moment later.
            let Ok(st) = sys::stat_at(self.dir.as_fd(), &name.bytes, name.link) else { continue };
            let modified = UNIX_EPOCH + Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec as u32);
            row(name, st.st_size as u64, modified, out);
        }
        self.next = end;
        let done = self.next == self.names.len();
        if done {
            out.extend_from_slice(PAGE_END);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn name(n: &[u8], dir: bool) -> Name {
        Name { bytes: n.to_vec(), dir, link: false }
    }

    #[test]
    fn hostile_names_are_escaped_for_display_and_encoded_for_links() {
        let cases: &[(&[u8], &str, &str)] = &[
            (
                b"<img src=x onerror=alert(1)>.txt",
                "&lt;img src=x onerror=alert(1)&gt;.txt",
                "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt",
            ),
            (b"a\"b'c&d", "a&quot;b&#39;c&amp;d", "a%22b%27c%26d"),
            (b"100%.txt", "100%.txt", "100%25.txt"),
            (b"\xff\xfename", "\u{fffd}\u{fffd}name", "%FF%FEname"),
            (b"caf\xc3\xa9", "caf\u{e9}", "caf%C3%A9"),
            (b"javascript:x", "javascript:x", "javascript%3Ax"),
            (b"q?#/", "q?#/", "q%3F%23%2F"),
        ];
        for &(raw, shown, link) in cases {
            assert_eq!(s(|o| escape_html(raw, o)), shown);
            assert_eq!(s(|o| encode_segment(raw, o)), link);
        }
    }

    #[test]
    fn directories_come_first_then_names_in_byte_order() {
        let mut names =
            vec![name(b"b", false), name(b"z", true), name(b"A", false), name(b"a", true), name(b"\xff", false)];
        sort(&mut names);
        let order: Vec<&[u8]> = names.iter().map(|n| &n.bytes[..]).collect();
        assert_eq!(order, [&b"a"[..], b"z", b"A", b"b", b"\xff"]);
    }

    #[test]
    fn a_row_links_shows_size_and_time() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let file = s(|o| row(&name(b"a b.txt", false), 4096, t, o));
        assert_eq!(
            file,
            "<tr><td><a href=\"a%20b.txt\">a b.txt</a></td><td class=\"s\">4096</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td></tr>\n"
        );
        let dir = s(|o| row(&name(b"sub", true), 4096, t, o));
        assert!(dir.contains("<a href=\"sub/\">sub/</a></td><td class=\"s\">-</td>"), "{dir}");
    }

    #[test]
    fn the_page_has_no_script_and_a_parent_link_below_the_root() {
        let root = s(|o| page_start(b"/", o));
        assert!(!root.contains("href=\"../\""));
        let sub = s(|o| page_start(b"/<b>/", o));
        assert!(sub.contains("<title>Index of /&lt;b&gt;/</title>") && sub.contains("href=\"../\""));
        assert!(!sub.to_ascii_lowercase().contains("<script"));
    }

    #[test]
    fn a_listing_comes_in_pieces_of_bounded_rows() {
        let dir = tempfile::tempdir().unwrap();
        let n = ROWS_PER_PIECE * 2 + 5;
        let mut names = Vec::new();
        for i in 0..n {
            std::fs::write(dir.path().join(format!("f{i:04}")), b"x").unwrap();
            names.push(name(format!("f{i:04}").as_bytes(), false));
        }
        names.push(name(b"vanished", false));
        sort(&mut names);
        let mut listing = Listing::new(File::open(dir.path()).unwrap(), b"/d/", names);
        let (mut out, mut pieces) = (Vec::new(), 0);
        while !listing.next_piece(&mut out).unwrap() {
            pieces += 1;
        }
        let page = String::from_utf8(out).unwrap();
        assert_eq!(pieces, 2, "{n} rows in pieces of {ROWS_PER_PIECE}");
        assert_eq!(page.matches("<tr><td><a href=\"f").count(), n);
        assert!(!page.contains("vanished"), "a name gone since it was read is left out");
        assert!(page.ends_with(std::str::from_utf8(PAGE_END).unwrap()));
    }
}
