//! Site mode (`loophttp ROOT`): the tree under ROOT served at `/`, as a
//! static-site server does. The tutorial routes are off; `/healthz` and
//! `/metrics` stay (routes.rs answers those first).
//!
//! | file           | what it decides, without I/O unless said |
//! |----------------|------------------------------------------|
//! | `path.rs`      | request path → place in the tree (`..`, `//`, dotfiles, the slash redirect) |
//! | `negotiate.rs` | `Accept-Encoding` q-values → precompressed sibling; `Accept` → SPA fallback; type and charset |
//! | `listing.rs`   | `--listing`: the HTML page, made a bounded piece at a time (reads the directory) |
//! | `mod.rs`       | opening beneath the root and putting the answer together |
//!
//! Every open is `openat2(RESOLVE_BENEATH)` relative to the root's
//! descriptor, so a symlink that leaves the root is refused by the kernel
//! (`files::open_resolved` decides where `openat2` cannot). Files are then
//! answered by `files::answer_file`, the code `/files` uses: conditional
//! requests, one range, HEAD, `sendfile`, gzip or zstd on the fly. The
//! flags are read and checked in `config/site.rs` and `config/headers.rs`.

pub mod listing;
pub mod negotiate;
pub mod path;

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::site::SiteArgs;
use crate::error::HttpError;
use crate::files::{self, OnTheFly, compressible};
use crate::http::{Body, Head, Method, Response};
use crate::status;
use listing::{Listing, Name};
use negotiate::{Candidate, Coding};
use path::Place;

const ALLOW: &str = "GET, HEAD, OPTIONS";

/// How the tree is served: the site flags.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// `--index`: the file served for a directory.
    pub index: Vec<u8>,
    /// `--listing`: directories without an index get a page.
    pub listing: bool,
    /// `--hidden`: names starting with `.` are served (and listed).
    pub hidden: bool,
    /// `--fallback`: a path beneath the root served, with 200, for paths
    /// that match nothing when the client accepts HTML.
    pub fallback: Option<Vec<u8>>,
    /// `--precompressed`: serve `x.br` / `x.zst` / `x.gz` for `x`.
    pub precompressed: bool,
    /// `--compress-min-bytes`: smaller text files go as they are.
    pub compress_min: u64,
    /// `--cache-control` on file answers (leaked once at start-up).
    pub cache_control: Option<&'static str>,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            index: b"index.html".to_vec(),
            listing: false,
            hidden: false,
            fallback: None,
            precompressed: false,
            compress_min: crate::config::DEFAULT_COMPRESS_MIN_BYTES,
            cache_control: None,
        }
    }
}

/// The served tree: its root, opened once, and the options.
#[derive(Debug, Clone)]
pub struct Site {
    root: PathBuf,
    root_fd: Arc<OwnedFd>,
    opts: Arc<SiteOptions>,
}

impl Site {
    /// Opens the root; a `--fallback` must be a file beneath it.
    pub fn new(root: &Path, opts: SiteOptions) -> Result<Site, String> {
        let shown = root.display();
        let root = std::fs::canonicalize(root).map_err(|e| format!("{shown}: {e}"))?;
        let fd = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&root)
            .map_err(|e| format!("{shown}: {e}"))?;
        let site = Site { root, root_fd: Arc::new(fd.into()), opts: Arc::new(opts) };
        if let Some(f) = &site.opts.fallback {
            match site.open(f) {
                Ok((_, m)) if m.is_file() => {}
                _ => return Err(format!("--fallback {}: not a file beneath the root", String::from_utf8_lossy(f))),
            }
        }
        Ok(site)
    }

    /// The site, if a root was given. Errors name the flag at fault.
    pub fn from_args(args: &SiteArgs) -> io::Result<Option<Site>> {
        let Some(root) = args.root() else { return Ok(None) };
        let opts = SiteOptions {
            index: args.index.as_bytes().to_vec(),
            listing: args.listing,
            hidden: args.hidden,
            fallback: args.fallback.as_ref().map(|f| f.as_os_str().as_bytes().to_vec()),
            precompressed: args.precompressed,
            compress_min: args.compress_min_bytes,
            // Once per worker at start-up: a response borrows it for ever.
            cache_control: args.cache_control.clone().map(|v| &*Box::leak(v.into_boxed_str())),
        };
        Site::new(root, opts).map(Some).map_err(io::Error::other)
    }

    /// The answer to a request under the root.
    pub fn serve<'a>(&self, head: &Head<'a>) -> Response<'a> {
        match head.method {
            Method::Get | Method::Head => {}
            Method::Options => return allow(Response::text(status::OK, &b""[..])),
            _ => return allow(Response::error(HttpError::MethodNotAllowed)),
        }
        let place = match head.decoded_path().and_then(|p| path::normalize(&p)) {
            Ok(place) => place,
            Err(e) => return Response::error(e),
        };
        match self.find(&place, head) {
            Ok(resp) => resp,
            Err(HttpError::NotFound) if self.opts.fallback.is_some() && negotiate::accepts_html(head.accept) => {
                self.fallback(head)
            }
            Err(e) => Response::error(e),
        }
    }

    fn find<'a>(&self, place: &Place, head: &Head<'a>) -> Result<Response<'a>, HttpError> {
        if place.is_hidden() && !self.opts.hidden {
            return Err(HttpError::NotFound);
        }
        let (file, meta) = self.open(place.open_path())?;
        if meta.is_file() {
            // `/file.txt/` names a directory that is not there.
            return if place.slash { Err(HttpError::NotFound) } else { Ok(self.file(head, &place.rel, file, &meta)) };
        }
        if !place.slash {
            let mut resp = Response::new(status::MOVED_PERMANENTLY);
            resp.location = Some(path::slash_location(head.path, head.target));
            return Ok(resp);
        }
        let index = join(&place.rel, &self.opts.index);
        match self.open(&index) {
            Ok((f, m)) if m.is_file() => return Ok(self.file(head, &index, f, &m)),
            Ok(_) | Err(HttpError::NotFound) => {}
            Err(e) => return Err(e),
        }
        if !self.opts.listing {
            // As nginx: the directory is there, but not for showing.
            return Err(HttpError::Forbidden);
        }
        self.listing(head, place, file)
    }

    /// Opens `rel` beneath the root: a regular file or a directory.
    fn open(&self, rel: &[u8]) -> Result<(File, Metadata), HttpError> {
        let name = OsStr::from_bytes(rel);
        let file = match crate::sys::open_beneath(self.root_fd.as_fd(), name) {
            Ok(file) => file,
            // No openat2, or a symlink it will not judge: the resolving way.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::EXDEV)) => {
                return files::open_resolved(&self.root, name, true);
            }
            Err(e) => return Err(files::fs_error(&e, Path::new(name))),
        };
        let meta = file.metadata().map_err(|e| files::fs_error(&e, Path::new(name)))?;
        if !meta.is_file() && !meta.is_dir() {
            return Err(HttpError::NotFound); // a FIFO, socket or device: never read
        }
        Ok((file, meta))
    }

    /// A regular file at `rel`: a fresh precompressed sibling if the client
    /// takes one, else the file (compressed here if it is text, large
    /// enough, and the client accepts gzip).
    fn file<'a>(&self, head: &Head<'_>, rel: &[u8], file: File, meta: &Metadata) -> Response<'a> {
        let name = rel.rsplit(|&b| b == b'/').next().unwrap_or_default();
        let (mime, text) = negotiate::content_type(name);
        let mut resp = Response::new(status::OK);
        resp.content_type = Some(mime);
        resp.charset = text;
        resp.cache_control = self.opts.cache_control;
        let worth_compressing = compressible(mime);
        resp.vary_encoding = worth_compressing || self.opts.precompressed;
        if self.opts.precompressed
            && let Some((coding, sibling, sibling_meta)) = self.sibling(head, rel, meta)
        {
            resp.stored_encoding = Some(coding.token());
            return files::answer_file(head, OsStr::from_bytes(rel), sibling, &sibling_meta, resp, OnTheFly::Off);
        }
        let on_the_fly = if worth_compressing && meta.len() >= self.opts.compress_min {
            OnTheFly::GzipOrZstd
        } else {
            OnTheFly::Off
        };
        files::answer_file(head, OsStr::from_bytes(rel), file, meta, resp, on_the_fly)
    }

    /// The sibling to serve instead of `rel`, if any: only the codings the
    /// client accepts are looked for (one `openat2` each).
    fn sibling(&self, head: &Head<'_>, rel: &[u8], meta: &Metadata) -> Option<(Coding, File, Metadata)> {
        let mut found: Vec<(Candidate, File, Metadata)> = Vec::new();
        for coding in Coding::ALL {
            let q = crate::http::encoding::quality(head.accept_encoding, coding);
            if q == 0 {
                continue;
            }
            let Ok((f, m)) = self.open(&[rel, coding.suffix()].concat()) else { continue };
            if m.is_file() {
                found.push((Candidate { coding, q, mtime: mtime_nanos(&m) }, f, m));
            }
        }
        let cands: Vec<Candidate> = found.iter().map(|(c, ..)| *c).collect();
        let chosen = negotiate::choose(&cands, mtime_nanos(meta))?;
        found.into_iter().find(|(c, ..)| c.coding == chosen).map(|(c, f, m)| (c.coding, f, m))
    }

    /// `--fallback`: the page for paths that match nothing, with 200.
    fn fallback<'a>(&self, head: &Head<'_>) -> Response<'a> {
        let Some(rel) = &self.opts.fallback else { return Response::error(HttpError::NotFound) };
        match self.open(rel) {
            Ok((f, m)) if m.is_file() => self.file(head, rel, f, &m),
            Ok(_) => Response::error(HttpError::NotFound),
            Err(e) => Response::error(e),
        }
    }

    /// `--listing` for the directory `dir` at `place`: the page is made
    /// as the client reads it (see `listing.rs`).
    fn listing<'a>(&self, head: &Head<'_>, place: &Place, dir: File) -> Result<Response<'a>, HttpError> {
        let shown = head.decoded_path().unwrap_or_default();
        let page = Listing::new(self.clone(), &place.rel, dir, &shown)
            .map_err(|e| files::fs_error(&e, Path::new(OsStr::from_bytes(&place.rel))))?;
        let mut resp = Response::new(status::OK);
        resp.content_type = Some("text/html");
        resp.charset = true;
        // HTTP/1.0 has no chunks: the close ends the page.
        resp.close = !head.http11;
        resp.body = Body::Generated(Box::new(page));
        Ok(resp)
    }

    /// A directory entry as listed (dotfiles only with `--hidden`): a directory or a regular file, a
    /// symlink only if it resolves beneath the root (else it is left out,
    /// as it would not be served), anything else left out.
    fn listed(&self, dir: &File, rel: &[u8], bytes: Vec<u8>, kind: u8) -> Option<Name> {
        if bytes.first() == Some(&b'.') && !self.opts.hidden {
            return None;
        }
        let kind = match kind {
            libc::DT_UNKNOWN => match crate::sys::stat_at(dir.as_fd(), &bytes, false).ok()?.st_mode & libc::S_IFMT {
                libc::S_IFDIR => libc::DT_DIR,
                libc::S_IFREG => libc::DT_REG,
                libc::S_IFLNK => libc::DT_LNK,
                _ => return None,
            },
            k => k,
        };
        match kind {
            libc::DT_DIR => Some(Name { bytes, dir: true, link: false }),
            libc::DT_REG => Some(Name { bytes, dir: false, link: false }),
            libc::DT_LNK => {
                let (_, m) = self.open(&join(rel, &bytes)).ok()?;
                Some(Name { bytes, dir: m.is_dir(), link: true })
            }
            _ => None,
        }
    }
}

fn allow(mut resp: Response<'_>) -> Response<'_> {
    resp.allow = Some(ALLOW);
    resp
}

/// `rel/name`, or `name` at the root.
fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    if rel.is_empty() { name.to_vec() } else { [rel, b"/", name].concat() }
}

fn mtime_nanos(m: &Metadata) -> u128 {
    (m.mtime() as i128 * 1_000_000_000 + i128::from(m.mtime_nsec())).max(0) as u128
}
