//! `--listing`: a directory as an HTML page. Directories first, then names
//! in byte order; each name HTML-escaped for display (invalid UTF-8 shown
//! as U+FFFD) and percent-encoded in its link (every byte but RFC 3986's
//! unreserved ones, so a non-UTF-8 name still links to itself); no script.
//!
//! A large directory must not stall the loop, so the page is made in
//! budgeted pieces, one per turn of the connection, as the client reads
//! (chunked, [`crate::http::response::Generate`]): first the names,
//! [`NAMES_PER_PIECE`] at a time (`getdents`; the kind comes with the
//! name, no `stat`), then one sort, then the rows, [`ROWS_PER_PIECE`] at a
//! time (one `fstatat` each). At most [`MAX_LISTED`] entries are shown.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Site;
use crate::http::response::Generate;
use crate::sys::{self, DirStream};

/// Rows rendered (one `fstatat` each) per piece: some 15 KiB of HTML, and
/// a fraction of a millisecond, between turns of other connections.
pub const ROWS_PER_PIECE: usize = 128;
/// Names read (one `getdents` buffer or two) per piece.
pub const NAMES_PER_PIECE: usize = 1024;
/// Most entries a listing shows: its memory is bounded whatever the
/// directory holds (some 100 bytes a name).
pub const MAX_LISTED: usize = 100_000;

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
    out.extend_from_slice(b"</h1>\n<table><tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n");
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

/// A listing being sent: first the names are read, a batch per piece,
/// then sorted, then the rows made, a batch per piece.
#[derive(Debug)]
pub struct Listing {
    site: Site,
    /// The directory, beneath the root, and open.
    rel: Vec<u8>,
    dir: File,
    /// The decoded request path, for the title.
    path: Vec<u8>,
    /// Still reading names (None once all are in and sorted).
    reading: Option<DirStream>,
    names: Vec<Name>,
    next: usize,
    /// More than [`MAX_LISTED`] entries: the rest are not shown.
    truncated: bool,
}

impl Listing {
    /// The listing of `dir` (at `rel` beneath the site's root) for the
    /// request path `path`.
    pub fn new(site: Site, rel: &[u8], dir: File, path: &[u8]) -> io::Result<Listing> {
        let reading = Some(DirStream::open(&dir)?);
        let (rel, path) = (rel.to_vec(), path.to_vec());
        Ok(Listing { site, rel, dir, path, reading, names: Vec::new(), next: 0, truncated: false })
    }

    /// Reads the next batch of names; once all are in, sorts them and
    /// starts the page.
    fn read_names(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let Some(stream) = &mut self.reading else { return Ok(()) };
        let mut batch = Vec::with_capacity(NAMES_PER_PIECE);
        let end = stream.next_batch(NAMES_PER_PIECE, &mut batch)?;
        for (bytes, kind) in batch {
            if self.names.len() == MAX_LISTED {
                self.truncated = true;
                break;
            }
            if let Some(name) = self.site.listed(&self.dir, &self.rel, bytes, kind) {
                self.names.push(name);
            }
        }
        if end || self.truncated {
            self.reading = None;
            sort(&mut self.names);
            page_start(&self.path, out);
        }
        Ok(())
    }
}

impl Generate for Listing {
    fn next_piece(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        if self.reading.is_some() {
            self.read_names(out)?;
            return Ok(false);
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
            if self.truncated {
                out.extend_from_slice(b"</table>\n<p>Only the first ");
                out.extend_from_slice(itoa::Buffer::new().format(MAX_LISTED).as_bytes());
                out.extend_from_slice(b" entries are listed.</p>\n</body></html>\n");
            } else {
                out.extend_from_slice(PAGE_END);
            }
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
    fn a_listing_comes_in_pieces_of_bounded_names_and_rows() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let n = NAMES_PER_PIECE + ROWS_PER_PIECE * 2 + 5;
        for i in 0..n {
            std::fs::write(dir.join(format!("f{i:05}")), b"x").unwrap();
        }
        std::fs::write(dir.join(".hidden"), b"x").unwrap();
        let site = Site::new(root.path(), super::super::SiteOptions::default()).unwrap();
        let mut listing = Listing::new(site, b"d", File::open(&dir).unwrap(), b"/d/").unwrap();
        let (mut out, mut pieces) = (Vec::new(), 1);
        std::fs::remove_file(dir.join("f00007")).unwrap();
        while !listing.next_piece(&mut out).unwrap() {
            pieces += 1;
        }
        let page = String::from_utf8(out).unwrap();
        let rows = (n - 1).div_ceil(ROWS_PER_PIECE);
        assert_eq!(pieces, n.div_ceil(NAMES_PER_PIECE) + rows, "names, then rows, each in bounded pieces");
        assert_eq!(page.matches("<tr><td><a href=\"f").count(), n - 1, "a name removed meanwhile is left out");
        assert!(!page.contains(".hidden"));
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with(std::str::from_utf8(PAGE_END).unwrap()));
    }
}
