//! `/files/{name}`: where loophttp touches the disk.
//!
//! - Names are sanitised to exactly one path segment inside `--directory`.
//! - Downloads are answered with a [`FileBody`] the connection streams with
//!   `sendfile`, after conditional (`304`) and range (`206` / `416`) checks.
//! - Uploads go to a temporary file in the same directory, are `fsync`ed and
//!   renamed over the target only when the whole body has arrived, so readers
//!   never see a partial file and a cut-off upload leaves nothing behind.

use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::request::{accepts_gzip, gzip};
use crate::http::response::{ContentRange, ETag, FileBody, Validators};
use crate::http::{Body, Head, Method, Response};

/// Longest file name accepted (Linux's NAME_MAX).
pub const MAX_NAME: usize = 255;
/// Compressible files up to this size are gzip-compressed in memory when the
/// client accepts gzip; larger ones are streamed as they are.
pub const GZIP_INLINE_MAX: u64 = 1024 * 1024;
/// Prefix of upload temporary files; names with it are refused so a client
/// can never address another upload in flight.
const TEMP_PREFIX: &str = ".loophttp-upload-";
/// How many taken temporary names an upload skips before giving up (500).
const TEMP_ATTEMPTS: u32 = 16;

/// Why a name was refused: always a 400.
#[derive(Debug, PartialEq, Eq)]
pub struct BadName;

/// Exactly one percent-decoded path segment: not empty, not `.`/`..`, no
/// `/`, `\` or NUL, at most [`MAX_NAME`] bytes.
pub fn sanitize(name: &[u8]) -> Result<&OsStr, BadName> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == b'/' || b == b'\\' || b == 0)
        && !name.starts_with(TEMP_PREFIX.as_bytes());
    if ok { Ok(OsStr::from_bytes(name)) } else { Err(BadName) }
}

/// The served directory, canonicalised once at startup.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: &Path) -> io::Result<FileStore> {
        Ok(FileStore { dir: fs::canonicalize(dir)? })
    }

    /// Resolves `name`, proves it is a regular file inside the directory
    /// (symlinks are followed, but only to targets that stay inside) and
    /// opens it. Special files are refused before they are ever opened.
    fn open(&self, name: &OsStr) -> Result<(PathBuf, File, Metadata), u16> {
        let real = fs::canonicalize(self.dir.join(name)).map_err(|e| io_status(&e))?;
        if !real.starts_with(&self.dir) || !fs::metadata(&real).map_err(|e| io_status(&e))?.is_file() {
            return Err(404);
        }
        // The path may change between the checks above and the open:
        // O_NOFOLLOW refuses a symlink swapped in, O_NONBLOCK keeps a FIFO
        // swapped in from stalling the loop, and the checks are repeated on
        // what was actually opened (fstat), which also gives the validators.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&real)
            .map_err(|e| io_status(&e))?;
        let meta = file.metadata().map_err(|e| io_status(&e))?;
        if !meta.is_file() {
            return Err(404);
        }
        Ok((real, file, meta))
    }

    /// `GET` / `HEAD /files/{name}`.
    pub fn download<'a>(&self, name: &OsStr, head: &Head<'_>) -> Response<'a> {
        let (path, file, meta) = match self.open(name) {
            Ok(found) => found,
            Err(status) => return Response::error(status),
        };
        let mime = mime_guess::from_path(&path).first_raw().unwrap_or("application/octet-stream");
        let validators = validators(&meta);
        let mut resp = Response::new(200);
        resp.content_type = Some(mime);
        resp.validators = Some(validators);
        resp.accept_ranges = true;
        resp.vary_encoding = compressible(mime);
        if not_modified(head, &validators) {
            resp.status = 304;
            return resp;
        }
        let size = meta.len();
        match requested_range(head, &validators, size) {
            RangeAnswer::Whole => {}
            RangeAnswer::Part { first, last } => {
                resp.status = 206;
                resp.content_range = Some(ContentRange::Bytes { first, last, total: size });
                resp.body = Body::File(FileBody { file, offset: first, len: last - first + 1 });
                return resp;
            }
            RangeAnswer::Unsatisfiable => {
                let mut resp = Response::error(416);
                resp.content_range = Some(ContentRange::Unsatisfied { total: size });
                return resp;
            }
        }
        if resp.vary_encoding && size <= GZIP_INLINE_MAX && accepts_gzip(head.accept_encoding) {
            return gzip_whole(resp, file, size, &path);
        }
        resp.body = Body::File(FileBody { file, offset: 0, len: size });
        resp
    }

    /// Starts `POST` / `PUT /files/{name}`: a temporary file beside the target.
    pub fn begin_upload(&self, name: &OsStr) -> Result<Upload, u16> {
        let target = self.dir.join(name);
        if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(409);
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let temp = self.dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).mode(0o644).open(&temp) {
                Ok(file) => return Ok(Upload { temp, target, file, committed: false }),
                // A leftover of an earlier process that had our PID (killed
                // before its Drop ran): take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < TEMP_ATTEMPTS => attempts += 1,
                Err(e) => {
                    log::warn!("create {}: {e}", temp.display());
                    return Err(io_status(&e));
                }
            }
        }
    }

    /// `DELETE /files/{name}`: 204, or 404 if there is no such file.
    pub fn delete(&self, name: &OsStr) -> u16 {
        let path = self.dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => 404,
            Ok(_) => match fs::remove_file(&path) {
                Ok(()) => 204,
                Err(e) => io_status(&e),
            },
            Err(e) => io_status(&e),
        }
    }
}

/// A body being received into a temporary file. Dropping it without
/// [`Upload::commit`] removes the temporary file: nothing partial remains.
#[derive(Debug)]
pub struct Upload {
    temp: PathBuf,
    target: PathBuf,
    file: File,
    committed: bool,
}

impl Upload {
    /// Writes one piece of the body (a regular-file write: bounded by the
    /// read that produced it, so the loop stalls only briefly).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Makes the upload durable and visible at once: fsync, then rename over
    /// the target. Returns whether an existing file was replaced.
    pub fn commit(mut self) -> io::Result<bool> {
        self.file.sync_all()?;
        let replaced = fs::symlink_metadata(&self.target).is_ok();
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        // The rename itself is durable once the directory is synced; failing
        // to do so only weakens crash safety, so it is not an error.
        if let Some(dir) = self.target.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(replaced)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = fs::remove_file(&self.temp)
        {
            log::warn!("remove {}: {e}", self.temp.display());
        }
    }
}

/// Maps a filesystem error to the status the client sees.
fn io_status(e: &io::Error) -> u16 {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return 404; // O_NOFOLLOW met a symlink, or a symlink loop
    }
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => 404,
        io::ErrorKind::PermissionDenied => 403,
        _ => {
            log::warn!("file error: {e}");
            500
        }
    }
}

fn validators(meta: &Metadata) -> Validators {
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let mtime_nanos = modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Validators { etag: ETag { size: meta.len(), mtime_nanos, inode: meta.ino() }, modified }
}

/// Types worth compressing: text, JSON, JavaScript, XML, SVG.
pub fn compressible(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/javascript" | "application/xml" | "image/svg+xml" | "application/wasm"
        )
}

/// Compresses a small file in memory. `take(size)`: a file that grew since
/// the size check is still read only up to [`GZIP_INLINE_MAX`].
fn gzip_whole<'a>(mut resp: Response<'a>, file: File, size: u64, path: &Path) -> Response<'a> {
    let mut data = Vec::with_capacity(size as usize);
    if let Err(e) = file.take(size).read_to_end(&mut data) {
        log::warn!("read {}: {e}", path.display());
        return Response::error(500);
    }
    resp.gzip = true;
    resp.body = Body::Bytes(gzip(&data).into());
    resp
}

/// RFC 9110 §13.1.2 / §13.1.3: If-None-Match wins; If-Modified-Since only
/// without it. Weak comparison for If-None-Match.
fn not_modified(head: &Head<'_>, v: &Validators) -> bool {
    if let Some(inm) = head.if_none_match {
        return etag_list_matches(inm, &v.etag.to_string(), true);
    }
    let Some(ims) = head.if_modified_since.and_then(parse_date) else { return false };
    truncate_to_secs(v.modified) <= ims
}

fn etag_list_matches(list: &[u8], etag: &str, weak: bool) -> bool {
    list.split(|&b| b == b',').map(<[u8]>::trim_ascii).any(|tag| {
        let tag = if weak { tag.strip_prefix(b"W/").unwrap_or(tag) } else { tag };
        tag == b"*" || tag == etag.as_bytes()
    })
}

fn parse_date(value: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()
}

fn truncate_to_secs(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    Whole,
    Part { first: u64, last: u64 },
    Unsatisfiable,
}

/// RFC 9110 §14.2: one `bytes=` range is served; several, or a syntax we do
/// not understand, get the whole file; `If-Range` must match exactly.
fn requested_range(head: &Head<'_>, v: &Validators, size: u64) -> RangeAnswer {
    let (Some(range), Method::Get) = (head.range, head.method) else { return RangeAnswer::Whole };
    if let Some(if_range) = head.if_range {
        let fresh = if if_range.starts_with(b"\"") {
            etag_list_matches(if_range, &v.etag.to_string(), false)
        } else {
            parse_date(if_range) == Some(truncate_to_secs(v.modified))
        };
        if !fresh {
            return RangeAnswer::Whole;
        }
    }
    parse_range(range, size)
}

fn parse_range(range: &[u8], size: u64) -> RangeAnswer {
    // The range unit is case-insensitive (RFC 9110 §14.1).
    let Some((unit, spec)) = range.split_first_chunk::<6>() else { return RangeAnswer::Whole };
    if !unit.eq_ignore_ascii_case(b"bytes=") {
        return RangeAnswer::Whole;
    }
    let spec = spec.trim_ascii();
    if spec.contains(&b',') {
        return RangeAnswer::Whole;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else { return RangeAnswer::Whole };
    let number = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (number(first), number(last), first.is_empty()) {
        // `-n`: the last n bytes. An empty file has no byte to send, but
        // `-n` (n > 0) is still satisfiable (§14.1.1): the whole, empty, file.
        (None, Some(n), true) if n > 0 && size > 0 => {
            RangeAnswer::Part { first: size.saturating_sub(n), last: size - 1 }
        }
        (None, Some(n), true) if n > 0 => RangeAnswer::Whole,
        (None, Some(_), true) => RangeAnswer::Unsatisfiable,
        // `a-` and `a-b`.
        (Some(a), None, false) if last.is_empty() && a < size => RangeAnswer::Part { first: a, last: size - 1 },
        (Some(a), Some(b), false) if a <= b && a < size => RangeAnswer::Part { first: a, last: b.min(size - 1) },
        (Some(a), _, false) if a >= size && (last.is_empty() || number(last).is_some_and(|b| a <= b)) => {
            RangeAnswer::Unsatisfiable
        }
        _ => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_accepts_plain_names() {
        for ok in [&b"a.txt"[..], b"x", b"..a", b"a..", b"with space", b"\xff\xfe", &[b'n'; 255]] {
            assert!(sanitize(ok).is_ok(), "{:?}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn sanitize_refuses_every_escape_shape() {
        let long = [b'n'; 256];
        let bad: &[&[u8]] = &[
            b"",
            b".",
            b"..",
            b"../x",
            b"a/b",
            b"/etc/passwd",
            b"a\\b",
            b"..\\x",
            b"a\0b",
            &long,
            b".loophttp-upload-1-2",
        ];
        for name in bad {
            assert_eq!(sanitize(name), Err(BadName), "{:?}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeAnswer::*;
        let cases: &[(&[u8], u64, RangeAnswer)] = &[
            (b"bytes=0-9", 100, Part { first: 0, last: 9 }),
            (b"bytes=90-", 100, Part { first: 90, last: 99 }),
            (b"bytes=-10", 100, Part { first: 90, last: 99 }),
            (b"bytes=-500", 100, Part { first: 0, last: 99 }),
            (b"bytes=50-5000", 100, Part { first: 50, last: 99 }),
            (b"bytes=100-", 100, Unsatisfiable),
            (b"bytes=100-200", 100, Unsatisfiable),
            (b"bytes=-0", 100, Unsatisfiable),
            (b"bytes=0-", 0, Unsatisfiable),
            (b"bytes=0-1,5-6", 100, Whole),
            (b"bytes=9-1", 100, Whole),
            (b"items=0-1", 100, Whole),
            (b"bytes=x-1", 100, Whole),
            (b"Bytes=1-2", 100, Part { first: 1, last: 2 }),
            (b"bytes=-5", 0, Whole),
            (b"bytes=", 100, Whole),
            (b"bytes=-", 100, Whole),
            (b"bytes=+1-2", 100, Whole),
            (b"bytes=99999999999999999999-", 100, Whole),
        ];
        for (spec, size, want) in cases {
            assert_eq!(&parse_range(spec, *size), want, "{:?}", String::from_utf8_lossy(spec));
        }
    }

    #[test]
    fn etag_lists_compare_weakly_or_strongly() {
        let tag = "\"a-b-c\"";
        assert!(etag_list_matches(b"\"x\", W/\"a-b-c\"", tag, true));
        assert!(!etag_list_matches(b"W/\"a-b-c\"", tag, false));
        assert!(etag_list_matches(b"*", tag, true));
        assert!(!etag_list_matches(b"\"other\"", tag, true));
    }

    const ETAG: ETag = ETag { size: 100, mtime_nanos: 1_500_000_000, inode: 7 };
    /// Last-Modified of [`validators`]: 1.5 s after the epoch, sent as 1 s.
    const SECOND_1: &[u8] = b"Thu, 01 Jan 1970 00:00:01 GMT";
    const SECOND_2: &[u8] = b"Thu, 01 Jan 1970 00:00:02 GMT";
    const SECOND_0: &[u8] = b"Thu, 01 Jan 1970 00:00:00 GMT";

    fn validators() -> Validators {
        Validators { etag: ETAG, modified: UNIX_EPOCH + Duration::from_millis(1500) }
    }

    fn get() -> Head<'static> {
        Head {
            method: Method::Get,
            path: "/files/a",
            http11: true,
            framing: crate::http::Framing::None,
            keep_alive: true,
            expect_continue: false,
            user_agent: None,
            accept_encoding: None,
            range: None,
            if_range: None,
            if_none_match: None,
            if_modified_since: None,
        }
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let v = validators();
        let ims = |date: &[u8]| not_modified(&Head { if_modified_since: Some(date), ..get() }, &v);
        assert!(ims(SECOND_1), "same second as Last-Modified");
        assert!(ims(SECOND_2), "later than Last-Modified");
        assert!(!ims(SECOND_0), "earlier than Last-Modified");
        assert!(!ims(b"yesterday"), "invalid dates are ignored");
        assert!(!not_modified(&get(), &v), "no condition, no 304");
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let v = validators();
        let tag = ETAG.to_string();
        assert!(not_modified(
            &Head { if_none_match: Some(tag.as_bytes()), if_modified_since: Some(SECOND_0), ..get() },
            &v
        ));
        let other = Head { if_none_match: Some(b"\"other\""), if_modified_since: Some(SECOND_2), ..get() };
        assert!(!not_modified(&other, &v), "a failed If-None-Match is not rescued by the date");
    }

    #[test]
    fn if_range_serves_the_part_only_while_the_validator_matches() {
        use RangeAnswer::*;
        let v = validators();
        let (tag, weak) = (ETAG.to_string(), format!("W/{ETAG}"));
        let ranged =
            |if_range: Option<&[u8]>| requested_range(&Head { range: Some(b"bytes=0-9"), if_range, ..get() }, &v, 100);
        let part = Part { first: 0, last: 9 };
        assert_eq!(ranged(None), part);
        assert_eq!(ranged(Some(tag.as_bytes())), part);
        assert_eq!(ranged(Some(b"\"1-2-3\"")), Whole, "stale ETag");
        assert_eq!(ranged(Some(weak.as_bytes())), Whole, "If-Range compares strongly");
        assert_eq!(ranged(Some(SECOND_1)), part, "exact Last-Modified");
        assert_eq!(ranged(Some(SECOND_2)), Whole, "any other date");
        assert_eq!(ranged(Some(b"garbage")), Whole);
    }

    #[test]
    fn range_applies_to_get_only() {
        let head = Head { method: Method::Head, range: Some(b"bytes=0-9"), ..get() };
        assert_eq!(requested_range(&head, &validators(), 100), RangeAnswer::Whole);
    }

    #[test]
    fn dropped_upload_leaves_nothing_and_committed_one_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"partial").unwrap();
        drop(up);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"one").unwrap();
        assert!(!up.commit().unwrap());
        let mut up = store.begin_upload(OsStr::new("a")).unwrap();
        up.write(b"two").unwrap();
        assert!(up.commit().unwrap());
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
