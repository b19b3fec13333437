//! The generated tree the site tests serve (tests/site.rs, and the same
//! tree under nginx in tests/site_nginx.rs).
#![allow(dead_code)] // each test file uses a different subset

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Text long enough to be compressed (above the 1,024-byte default minimum).
pub fn long_text() -> String {
    (0..100).map(|i| format!("line {i} of a page\n")).collect()
}

pub const HOSTILE: &[&[u8]] =
    &[b"<img src=x onerror=alert(1)>.txt", b"quote\"and'apos.txt", b"100%.txt", b"\xff\xfe.bin", b"sp ace&amp.txt"];

/// The tree every test serves, and a file outside it.
pub fn tree(root: &Path, outside: &Path) {
    let w = |p: &str, data: &[u8]| {
        let path = root.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    };
    w("index.html", b"<h1>home</h1>");
    w("docs/index.html", b"<h1>docs</h1>");
    w("docs/deep/a/b/index.html", b"<h1>deep</h1>");
    w("docs/page.txt", long_text().as_bytes());
    w("tiny.txt", b"abc");
    w("app.html", b"<div id=app></div>");
    w("app.js", b"let x = 1;");
    w("data.json", b"{}");
    w("logo.svg", b"<svg/>");
    w("image.png", b"\x89PNG");
    w("noindex/file.txt", b"f");
    w(".env", b"SECRET=1");
    w(".git/config", b"[core]");
    fs::create_dir_all(root.join("hostile/a dir")).unwrap();
    for name in HOSTILE {
        fs::write(root.join("hostile").join(std::ffi::OsStr::from_bytes(name)), name).unwrap();
    }
    fs::write(root.join("hostile/.hidden"), b"h").unwrap();
    fs::write(outside, b"outside the root").unwrap();
    std::os::unix::fs::symlink(outside, root.join("hostile/out-absolute")).unwrap();
    std::os::unix::fs::symlink("../../outside.txt", root.join("hostile/out-relative")).unwrap();
    std::os::unix::fs::symlink("../tiny.txt", root.join("hostile/in-link")).unwrap();
    // style.css and its siblings: br and gz fresh, zst fresh, stale.gz for old.css.
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    let at = |p: &str, data: &[u8], t: SystemTime| {
        w(p, data);
        File::options().write(true).open(root.join(p)).unwrap().set_modified(t).unwrap();
    };
    at("style.css", long_text().as_bytes(), t0);
    at("style.css.gz", &gzip(long_text().as_bytes()), t0 + Duration::from_secs(10));
    at("style.css.br", b"pretend brotli bytes", t0 + Duration::from_secs(5));
    at("style.css.zst", b"pretend zstd bytes", t0 + Duration::from_secs(5));
    at("old.css", long_text().as_bytes(), t0 + Duration::from_secs(60));
    at("old.css.gz", b"stale gzip", t0);
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}
