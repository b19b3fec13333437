//! The site flags (`crate::site` serves them), flattened into [`crate::Config`]: `loophttp [ROOT]`,
//! `--root`, `--index`, `--listing`, `--hidden`, `--fallback`,
//! `--precompressed`, `--compress-min-bytes`, `--cache-control`, `--header`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::headers::{check_value, parse_header};
use crate::config::DEFAULT_COMPRESS_MIN_BYTES;

#[derive(Args, Debug, Clone, Default)]
pub struct SiteArgs {
    /// Serve this directory at / as a static site (index files, optional listings); the
    /// tutorial routes are then off. Same as --root.
    #[arg(value_name = "ROOT", conflicts_with_all = ["root", "directory"])]
    pub root_dir: Option<PathBuf>,

    /// The site's directory (see ROOT).
    #[arg(long, value_name = "DIR", conflicts_with = "directory", env = "LOOPHTTP_ROOT")]
    pub root: Option<PathBuf>,

    /// The file served for a directory's URL (`/docs/` → docs/index.html).
    #[arg(long, value_name = "NAME", default_value = "index.html", value_parser = index_name, env = "LOOPHTTP_INDEX")]
    pub index: String,

    /// List directories that have no index file (an HTML page); off by default: a listing shows what
    /// a site may not mean to link to.
    #[arg(long, value_parser = crate::config::values::boolean, env = "LOOPHTTP_LISTING")]
    pub listing: bool,

    /// Serve and list names starting with `.` (off: `.git`, `.env` stay private).
    #[arg(long, value_parser = crate::config::values::boolean, env = "LOOPHTTP_HIDDEN")]
    pub hidden: bool,

    /// Single-page apps: serve this file (a path under ROOT) with 200 for paths that match nothing,
    /// when the client accepts text/html.
    #[arg(long, value_name = "FILE", env = "LOOPHTTP_FALLBACK")]
    pub fallback: Option<PathBuf>,

    /// Serve x.br, x.zst or x.gz for x when the client accepts that coding and the sibling is not
    /// older than x.
    #[arg(long, value_parser = crate::config::values::boolean, env = "LOOPHTTP_PRECOMPRESSED")]
    pub precompressed: bool,

    /// Text files smaller than this are sent uncompressed (site mode).
    #[arg(long, value_name = "SIZE", default_value_t = DEFAULT_COMPRESS_MIN_BYTES, value_parser = crate::config::values::body_size, env = "LOOPHTTP_COMPRESS_MIN_BYTES")]
    pub compress_min_bytes: u64,

    /// Cache-Control on file responses, e.g. 'public, max-age=31536000, immutable' for hashed
    /// assets or 'no-cache' for HTML.
    #[arg(long, value_name = "VALUE", value_parser = cache_control, env = "LOOPHTTP_CACHE_CONTROL")]
    pub cache_control: Option<String>,

    /// Add this header to every response ('Name: value'; repeatable), e.g.
    /// 'Access-Control-Allow-Origin: *'. Checked at start-up.
    #[arg(long, value_name = "'NAME: VALUE'", value_parser = parse_header, env = "LOOPHTTP_HEADER")]
    pub header: Vec<String>,
}

impl SiteArgs {
    /// The root, from the positional argument or `--root`.
    pub fn root(&self) -> Option<&PathBuf> {
        self.root_dir.as_ref().or(self.root.as_ref())
    }

    /// The `--header` lines, ready to append to a head.
    pub fn header_lines(&self) -> Vec<u8> {
        self.header.concat().into_bytes()
    }

    /// Start-up checks beyond one value: the root is a directory and the
    /// fallback a file beneath it.
    pub fn validate(&self) -> Result<(), String> {
        let Some(root) = self.root() else { return Ok(()) };
        if !root.is_dir() {
            return Err(format!("{}: not a directory", root.display()));
        }
        match &self.fallback {
            Some(f) if !file_beneath(root, f) => {
                Err(format!("--fallback {}: not a file beneath the root", f.display()))
            }
            _ => Ok(()),
        }
    }
}

/// `rel` names a regular file inside `root` once symlinks are resolved
/// (the site opens it beneath the root's descriptor, which says the same).
fn file_beneath(root: &Path, rel: &Path) -> bool {
    let (Ok(root), Ok(file)) = (root.canonicalize(), root.join(rel).canonicalize()) else { return false };
    file.starts_with(root) && file.is_file()
}

/// An index name is one plain path segment.
fn index_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty() && text != "." && text != ".." && !text.contains(['/', '\0']);
    if ok { Ok(text.to_string()) } else { Err(format!("{text:?}: one file name, such as index.html")) }
}

fn cache_control(text: &str) -> Result<String, String> {
    check_value(text).map(|()| text.to_string())
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use clap::Parser;

    #[test]
    fn the_root_is_positional_or_a_flag_and_p_is_the_port() {
        let c = Config::try_parse_from(["loophttp", "site", "-p", "8080"]).unwrap();
        assert_eq!((c.site.root().unwrap().to_str(), c.port), (Some("site"), 8080));
        let c = Config::try_parse_from(["loophttp", "--root", "public"]).unwrap();
        assert_eq!(c.site.root().unwrap().to_str(), Some("public"));
        assert!(Config::try_parse_from(["loophttp", "a", "--root", "b"]).is_err(), "two roots");
        assert!(Config::try_parse_from(["loophttp", "a", "--directory", "b"]).is_err(), "a site or /files");
        assert!(Config::defaults().site.root().is_none(), "without a root, the tutorial routes");
    }

    #[test]
    fn site_flags_parse_and_bad_values_fail_at_start_up() {
        let c = Config::try_parse_from([
            "loophttp",
            "r",
            "--index",
            "home.htm",
            "--listing",
            "--hidden",
            "--precompressed",
            "--compress-min-bytes",
            "0",
            "--cache-control",
            "no-cache",
            "--header",
            "Access-Control-Allow-Origin: *",
            "--header",
            "X-Frame-Options: DENY",
        ])
        .unwrap();
        let s = &c.site;
        assert_eq!(
            (s.index.as_str(), s.listing, s.hidden, s.precompressed, s.compress_min_bytes),
            ("home.htm", true, true, true, 0)
        );
        assert_eq!(s.header_lines(), b"\r\nAccess-Control-Allow-Origin: *\r\nX-Frame-Options: DENY");
        let defaults = Config::defaults().site;
        assert_eq!((defaults.index.as_str(), defaults.compress_min_bytes), ("index.html", 1024));
        for bad in [
            &["--header", "X: a\r\nY: b"][..],
            &["--header", "Content-Length: 1"],
            &["--cache-control", "a\nb"],
            &["--index", "a/b"],
            &["--index", ".."],
        ] {
            assert!(Config::try_parse_from([&["loophttp"][..], bad].concat()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_root_or_fallback_is_a_start_up_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.html"), b"<p>app").unwrap();
        let root = dir.path().to_str().unwrap();
        let with = |extra: &[&str]| Config::try_parse_from([&["loophttp", root][..], extra].concat()).unwrap();
        assert!(with(&[]).validate().is_ok());
        assert!(with(&["--fallback", "app.html"]).validate().is_ok());
        assert!(with(&["--fallback", "missing.html"]).validate().is_err());
        assert!(with(&["--fallback", "/etc/passwd"]).validate().is_err(), "outside the root");
        let missing = Config::try_parse_from(["loophttp", "/no/such/dir"]).unwrap();
        assert!(missing.validate().unwrap_err().contains("not a directory"));
    }
}
