//! `/files/{name}`: where loophttp touches the disk.
//!
//! - Names are sanitised to exactly one path segment inside `--directory`.
//! - Downloads are answered with a [`FileBody`] (the file, or one range of
//!   it) after conditional (`304`) and range (`206` / `416`) checks. The
//!   connection reads a body of up to 16 KiB (`conn::buffers::INLINE_FILE_MAX`)
//!   into its output queue, to leave with the head in one write; a larger
//!   one goes by `sendfile`, a piece at a time as the client reads, so memory
//!   stays bounded whatever the file size. Compressible files are gzipped
//!   when the client asks: in memory up to [`GZIP_INLINE_MAX`], beyond that
//!   as they are sent, a bounded piece at a time, in chunked coding.
//! - Uploads go to a temporary file in the same directory, are `fsync`ed and
//!   renamed over the target only when the whole body has arrived, so readers
//!   never see a partial file and a cut-off upload leaves nothing behind.

pub(crate) mod conditional;
pub(crate) mod types;
mod upload;

pub use upload::Upload;

use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use conditional::{RangeAnswer, not_modified, requested_range, validators};
use upload::TEMP_PREFIX;

use crate::error::HttpError;
use crate::http::encoding::{Coding, accepts_gzip, gzip, prefers_zstd, zstd};
use crate::http::response::{ContentRange, FileBody};
use crate::http::{Body, Head, Method, Response};
use crate::logging::escaped;
use crate::status;
use crate::sys;

/// Longest file name accepted (Linux's NAME_MAX).
pub const MAX_NAME: usize = 255;
/// Compressible files up to this size are gzip-compressed in memory when the
/// client accepts gzip, and sent with a `Content-Length`; larger ones are
/// compressed a piece at a time as the client reads, in chunked coding
/// (`conn::source`), a bounded share per turn of the loop. Compression runs
/// inside the loop, stalling every other client while it does, and the
/// compressed body stays in memory until a slow reader takes it. 16 KiB
/// (the same bound as a file read into the output queue) is about 0.1 ms
/// of compression; at 128 KiB, which this was until issue #17, each
/// pipelined request stalled the loop for about a millisecond (2,000
/// pipelined HEADs of a 128 KiB text took 1.99 s of CPU).
pub const GZIP_INLINE_MAX: u64 = 16 * 1024;

/// Why a name was refused.
pub const BAD_NAME: HttpError = HttpError::BadRequest("not one plain path segment");

/// Exactly one percent-decoded path segment: not empty, not `.`/`..`, no
/// `/`, `\` or NUL, at most [`MAX_NAME`] bytes. Otherwise [`BAD_NAME`].
pub fn sanitize(name: &[u8]) -> Result<&OsStr, HttpError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == b'/' || b == b'\\' || b == 0)
        && !name.starts_with(TEMP_PREFIX.as_bytes());
    if ok { Ok(OsStr::from_bytes(name)) } else { Err(BAD_NAME) }
}

/// The served directory, canonicalised and opened once at startup.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    /// Downloads are opened relative to this, beneath it.
    dir_fd: Arc<OwnedFd>,
    /// The last download's extension and type (`types.rs`).
    last_type: types::LastType,
}

impl FileStore {
    /// Opens the directory and removes uploads that processes killed
    /// earlier left behind.
    pub fn new(dir: &Path) -> io::Result<FileStore> {
        let dir = fs::canonicalize(dir)?;
        let fd = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(&dir)?;
        upload::remove_leftovers(&dir);
        Ok(FileStore { dir, dir_fd: Arc::new(fd.into()), last_type: types::LastType::default() })
    }

    /// Opens `name` if it is a regular file inside the directory; symlinks
    /// are followed only to targets that stay inside. The usual way is one
    /// `openat2` beneath the directory plus one `fstat` (what nginx does:
    /// open, then check what was opened); kernels without `openat2`, and
    /// names that are absolute or escaping symlinks, take
    /// [`FileStore::open_resolved`].
    fn open(&self, name: &OsStr) -> Result<(File, Metadata), HttpError> {
        let file = match sys::open_beneath(self.dir_fd.as_fd(), name) {
            Ok(file) => file,
            // No openat2 here, or a symlink it will not judge (absolute, or
            // leading outside): the resolving way decides.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::EXDEV)) => {
                return self.open_resolved(name);
            }
            Err(e) => return Err(fs_error(&e, Path::new(name))),
        };
        let meta = file.metadata().map_err(|e| fs_error(&e, Path::new(name)))?;
        if !meta.is_file() {
            return Err(HttpError::NotFound); // a directory, FIFO or device: never read
        }
        Ok((file, meta))
    }

    /// The portable way: resolve the path, prove it is a regular file inside
    /// the directory, and open it. Special files are refused before they are
    /// ever opened.
    fn open_resolved(&self, name: &OsStr) -> Result<(File, Metadata), HttpError> {
        open_resolved(&self.dir, name, false)
    }

    /// `GET` / `HEAD /files/{name}`.
    pub fn download<'a>(&self, name: &OsStr, head: &Head<'_>) -> Response<'a> {
        let (file, meta) = match self.open(name) {
            Ok(found) => found,
            Err(e) => return Response::error(e),
        };
        // By the requested name's extension, as nginx does (a symlink's
        // target name does not matter).
        let mime = self.last_type.of(name);
        let mut resp = Response::new(status::OK);
        resp.content_type = Some(mime);
        resp.vary_encoding = compressible(mime);
        let on_the_fly = if resp.vary_encoding { OnTheFly::Gzip } else { OnTheFly::Off };
        answer_file(head, name, file, &meta, resp, on_the_fly)
    }
}

/// Which codings a file may be compressed with as it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnTheFly {
    /// Sent as stored.
    Off,
    /// gzip, if the client accepts it (`/files`).
    Gzip,
    /// zstd in memory (up to [`GZIP_INLINE_MAX`]) when the client wants it
    /// at least as much as gzip, else gzip (a site's text files). zstd costs
    /// a third of gzip's CPU per byte for smaller output (docs/SITE.md).
    GzipOrZstd,
}

/// The answer with an open file, after its conditions: 304, 206 or 416, or
/// the whole file; compressed on the fly as `on_the_fly` allows and the
/// client accepts (the whole file only: a range is of the stored bytes).
/// `resp` carries the type and the other headers already decided; `name`
/// is for the log.
pub(crate) fn answer_file<'a>(
    head: &Head<'_>,
    name: &OsStr,
    file: File,
    meta: &Metadata,
    mut resp: Response<'a>,
    on_the_fly: OnTheFly,
) -> Response<'a> {
    let validators = validators(meta);
    resp.validators = Some(validators);
    resp.accept_ranges = true;
    if not_modified(head, &validators) {
        resp.status = status::NOT_MODIFIED;
        return resp;
    }
    let size = meta.len();
    match requested_range(head, &validators, size) {
        RangeAnswer::Whole => {}
        RangeAnswer::Part { first, last } => {
            resp.status = status::PARTIAL_CONTENT;
            resp.content_range = Some(ContentRange::Bytes { first, last, total: size });
            resp.body = Body::File(FileBody { file, offset: first, len: last - first + 1 });
            return resp;
        }
        RangeAnswer::Unsatisfiable => {
            let mut resp = Response::error(HttpError::RangeNotSatisfiable);
            resp.content_range = Some(ContentRange::Unsatisfied { total: size });
            return resp;
        }
    }
    let body = FileBody { file, offset: 0, len: size };
    if on_the_fly == OnTheFly::GzipOrZstd && size <= GZIP_INLINE_MAX && prefers_zstd(head.accept_encoding) {
        return compress_whole(resp, body.file, size, name, Coding::Zstd, head.method == Method::Head);
    }
    if on_the_fly != OnTheFly::Off && accepts_gzip(head.accept_encoding) {
        if size <= GZIP_INLINE_MAX {
            return compress_whole(resp, body.file, size, name, Coding::Gzip, head.method == Method::Head);
        }
        // Larger: compressed as it is sent, chunked, which HTTP/1.0
        // cannot frame; an HTTP/1.0 client gets the file as it is.
        if head.http11 {
            resp.gzip = true;
            resp.body = Body::GzipFile(body);
            return resp;
        }
    }
    resp.body = Body::File(body);
    resp
}

impl FileStore {
    /// `DELETE /files/{name}`: removed, or [`HttpError::NotFound`] if there is
    /// no such file.
    pub fn delete(&self, name: &OsStr) -> Result<(), HttpError> {
        let path = self.dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Err(HttpError::NotFound),
            Ok(_) => fs::remove_file(&path).map_err(|e| fs_error(&e, &path)),
            Err(e) => Err(fs_error(&e, &path)),
        }
    }
}

/// The portable way to open `name` beneath `dir` (canonical): resolve the
/// path, prove it is a regular file (or, if `dirs_ok`, a directory) inside
/// `dir`, and open it. Special files are refused before they are ever opened.
pub(crate) fn open_resolved(dir: &Path, name: &OsStr, dirs_ok: bool) -> Result<(File, Metadata), HttpError> {
    let joined = dir.join(name);
    let real = fs::canonicalize(&joined).map_err(|e| fs_error(&e, &joined))?;
    let wanted = |m: &Metadata| m.is_file() || (dirs_ok && m.is_dir());
    if !real.starts_with(dir) || !wanted(&fs::metadata(&real).map_err(|e| fs_error(&e, &real))?) {
        return Err(HttpError::NotFound);
    }
    // The path may change between the checks above and the open:
    // O_NOFOLLOW refuses a symlink swapped in, O_NONBLOCK keeps a FIFO
    // swapped in from stalling the loop, and the checks are repeated on
    // what was actually opened (fstat), which also gives the validators.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|e| fs_error(&e, &real))?;
    let meta = file.metadata().map_err(|e| fs_error(&e, &real))?;
    if !wanted(&meta) {
        return Err(HttpError::NotFound);
    }
    Ok((file, meta))
}

/// A file-system error on `path` as the client sees it
/// ([`HttpError::from_fs`]); the ones the operator should know about (a
/// client cannot make a file unreadable, nor the disk fail) are logged.
pub(crate) fn fs_error(e: &io::Error, path: &Path) -> HttpError {
    let answer = HttpError::from_fs(e);
    if answer != HttpError::NotFound {
        let path = escaped(path.as_os_str().as_bytes());
        log::warn!(path:% = path, error:% = e, status = answer.status(); "file refused");
    }
    answer
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
fn compress_whole<'a>(
    mut resp: Response<'a>,
    file: File,
    size: u64,
    name: &OsStr,
    coding: Coding,
    head_only: bool,
) -> Response<'a> {
    if head_only {
        // GET would send the compressed length, known only by compressing
        // the file, for a body HEAD throws away: the length is left out
        // instead (RFC 9110 §9.3.2).
        match coding {
            Coding::Zstd => resp.zstd = true,
            _ => resp.gzip = true,
        }
        resp.body = Body::Omitted;
        return resp;
    }
    let mut data = Vec::with_capacity(size as usize);
    if let Err(e) = file.take(size).read_to_end(&mut data) {
        log::warn!(path:% = escaped(name.as_bytes()), error:% = e; "file read failed");
        return Response::error(HttpError::Internal("file read failed"));
    }
    let packed = match coding {
        Coding::Zstd => {
            resp.zstd = true;
            zstd(&data)
        }
        _ => {
            resp.gzip = true;
            gzip(&data)
        }
    };
    resp.body = Body::Bytes(packed.into());
    resp
}

#[cfg(test)]
mod tests;
