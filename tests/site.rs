//! Site mode (`loophttp ROOT`) on a generated tree, over real TCP: nested
//! indexes and the slash redirect, listings with hostile names, dotfiles,
//! symlinks leaving the root, precompressed siblings (q-values, ranges and
//! 304 on a `.gz`), the single-page fallback, the compression minimum,
//! charsets, and the operator's headers.

mod common;
#[path = "common/site_tree.rs"]
mod site_tree;

use std::fs::{self, File};

use common::{Resp, TestServer};
use loophttp::Config;
use site_tree::{HOSTILE, gunzip, long_text, tree};

/// A site server on the generated tree, with `adjust` applied.
fn site(adjust: impl FnOnce(&mut Config)) -> (TestServer, tempfile::TempDir) {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    fs::create_dir(&root).unwrap();
    tree(&root, &base.path().join("outside.txt"));
    let server = TestServer::with(|c| {
        c.directory = None;
        c.site.root = Some(root);
        adjust(c);
    });
    (server, base)
}

fn get_with(s: &TestServer, path: &str, headers: &str) -> Resp {
    s.request(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n").as_bytes())
}

#[test]
fn nested_indexes_are_served_and_a_directory_without_its_slash_is_redirected_keeping_the_query() {
    let (s, _t) = site(|_| {});
    for (path, body) in [("/", "<h1>home</h1>"), ("/docs/", "<h1>docs</h1>"), ("/docs/deep/a/b/", "<h1>deep</h1>")] {
        let r = s.get(path);
        assert_eq!((r.status, r.text().as_str()), (200, body), "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    }
    for (path, location) in
        [("/docs", "/docs/"), ("/docs/deep?x=1&y=%2F", "/docs/deep/?x=1&y=%2F"), ("/no%69ndex", "/no%69ndex/")]
    {
        let r = s.get(path);
        assert_eq!((r.status, r.header("location")), (301, Some(location)), "{path}");
    }
    let cases =
        [("/docs/../index.html", 200), ("//docs//./index.html", 200), ("/noindex/", 403), ("/docs/page.txt/", 404)];
    for (path, status) in cases.into_iter().chain([("/../etc/passwd", 400), ("/%2e%2e/x", 400), ("/missing", 404)]) {
        assert_eq!(s.get(path).status, status, "{path}");
    }
}

#[test]
fn the_tutorial_routes_are_off_and_healthz_stays() {
    let (s, _t) = site(|_| {});
    assert_eq!(s.get("/echo/abc").status, 404);
    assert_eq!(s.get("/user-agent").status, 404);
    assert_eq!(s.get("/healthz").text(), "ok");
    let r = s.request(b"DELETE /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD, OPTIONS")));
}

#[test]
fn a_listing_escapes_hostile_names_and_its_links_lead_to_them() {
    let (s, _t) = site(|c| c.site.listing = true);
    let r = s.get("/hostile/");
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/html; charset=utf-8")));
    let page = r.text();
    assert!(!page.contains("<img") && !page.to_lowercase().contains("<script"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;.txt"), "{page}");
    assert!(page.contains("quote&quot;and&#39;apos.txt") && page.contains("sp ace&amp;amp.txt"), "{page}");
    assert!(page.contains("href=\"%FF%FE.bin\""), "{page}");
    let dir_at = page.find("href=\"a%20dir/\"").expect("the directory");
    assert!(page.find("href=\"100%25.txt\"").unwrap() > dir_at, "directories first");
    assert!(!page.contains(".hidden") && !page.contains("out-absolute") && !page.contains("out-relative"), "{page}");
    assert!(page.contains("href=\"in-link\""), "a symlink inside the root is listed");
    // Every link, followed, gets the file whose name it shows.
    for name in HOSTILE {
        let mut href = Vec::new();
        loophttp::site::listing::encode_segment(name, &mut href);
        let href = String::from_utf8(href).unwrap();
        assert!(page.contains(&format!("href=\"{href}\"")), "{href}");
        let r = s.get(&format!("/hostile/{href}"));
        assert_eq!((r.status, &r.body[..]), (200, *name), "{href}");
    }
    // HTTP/1.0 has no chunks: the page ends with the connection.
    let r10 = s.request(b"GET /hostile/ HTTP/1.0\r\n\r\n");
    assert_eq!((r10.header("transfer-encoding"), r10.header("connection")), (None, Some("close")));
    assert_eq!(r10.text(), page);
    let mut c = s.client();
    c.send(b"HEAD /hostile/ HTTP/1.1\r\nHost: t\r\n\r\nGET /tiny.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.head_response().status, 200);
    assert_eq!(c.response().text(), "abc", "HEAD sent no body; the connection goes on");
}

#[test]
fn a_ten_thousand_entry_listing_arrives_whole() {
    let (s, t) = site(|c| c.site.listing = true);
    let big = t.path().join("root/big");
    fs::create_dir(&big).unwrap();
    for i in 0..10_000 {
        File::create(big.join(format!("f{i:05}.txt"))).unwrap();
    }
    let mut c = s.client();
    c.send(b"GET /big/ HTTP/1.1\r\nHost: t\r\n\r\n");
    // While it streams, the same server answers someone else.
    assert_eq!(s.get("/tiny.txt").text(), "abc");
    let page = c.response().text();
    assert_eq!(page.matches("<tr><td><a href=\"f").count(), 10_000);
    assert!(page.find("f00000.txt").unwrap() < page.find("f09999.txt").unwrap());
}

#[test]
fn dotfiles_are_hidden_unless_asked_and_symlinks_must_stay_inside() {
    let (s, _t) = site(|_| {});
    for path in ["/.env", "/.git/config", "/hostile/.hidden", "/hostile/out-absolute", "/hostile/out-relative"] {
        assert_eq!(s.get(path).status, 404, "{path}");
    }
    assert_eq!(s.get("/hostile/in-link").text(), "abc");
    let (s, _t) = site(|c| c.site.hidden = true);
    assert_eq!(s.get("/.env").text(), "SECRET=1");
    assert_eq!(s.get("/.git/config").text(), "[core]");
    assert_eq!(s.get("/hostile/out-relative").status, 404, "--hidden does not open the root");
}

#[test]
fn precompressed_siblings_follow_q_values_and_freshness() {
    let (s, t) = site(|c| c.site.precompressed = true);
    let root = t.path().join("root");
    let gz = fs::read(root.join("style.css.gz")).unwrap();
    let cases: &[(&str, Option<&str>)] = &[
        ("", None),
        ("Accept-Encoding: gzip\r\n", Some("gzip")),
        ("Accept-Encoding: br;q=0.5, gzip\r\n", Some("gzip")),
        ("Accept-Encoding: gzip;q=0.5, br\r\n", Some("br")),
        ("Accept-Encoding: gzip, br, zstd\r\n", Some("gzip")), // equal q: the freshest file
        ("Accept-Encoding: br, zstd\r\n", Some("br")),         // equal q and age: br first
        ("Accept-Encoding: zstd;q=1, br;q=0.9\r\n", Some("zstd")),
        ("Accept-Encoding: *;q=0.1, gzip;q=0\r\n", Some("br")),
        ("Accept-Encoding: identity\r\n", None),
    ];
    for &(ae, want) in cases {
        let r = get_with(&s, "/style.css", ae);
        assert_eq!((r.status, r.header("content-encoding")), (200, want), "{ae:?}");
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
        let want_body = match want {
            Some("gzip") => gz.clone(),
            Some("br") => b"pretend brotli bytes".to_vec(),
            Some(_) => b"pretend zstd bytes".to_vec(),
            None => long_text().into_bytes(),
        };
        assert_eq!(r.body, want_body, "{ae:?}");
    }
    // A sibling older than its file is never served: this gzip is made now.
    let r = get_with(&s, "/old.css", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), long_text().as_bytes());
}

#[test]
fn a_gz_representation_has_its_own_etag_ranges_and_304() {
    let (s, t) = site(|c| c.site.precompressed = true);
    let gz = fs::read(t.path().join("root/style.css.gz")).unwrap();
    let plain = get_with(&s, "/style.css", "");
    let whole = get_with(&s, "/style.css", "Accept-Encoding: gzip\r\n");
    let tag = whole.header("etag").unwrap().to_string();
    assert!(!tag.starts_with("W/"), "a stored representation's tag is strong: {tag}");
    assert_ne!(Some(tag.as_str()), plain.header("etag"), "one tag per representation");
    let part = get_with(&s, "/style.css", &format!("Accept-Encoding: gzip\r\nRange: bytes=0-9\r\nIf-Range: {tag}\r\n"));
    assert_eq!((part.status, part.header("content-encoding")), (206, Some("gzip")));
    assert_eq!(part.header("content-range"), Some(format!("bytes 0-9/{}", gz.len()).as_str()));
    assert_eq!(part.body, gz[..10]);
    let not_modified = get_with(&s, "/style.css", &format!("Accept-Encoding: gzip\r\nIf-None-Match: {tag}\r\n"));
    assert_eq!((not_modified.status, not_modified.header("etag")), (304, Some(tag.as_str())));
    let other = get_with(&s, "/style.css", &format!("If-None-Match: {tag}\r\n"));
    assert_eq!(other.status, 200, "the gzip tag does not match the identity file");
    let beyond = get_with(&s, "/style.css", &format!("Accept-Encoding: gzip\r\nRange: bytes={}-\r\n", gz.len()));
    assert_eq!(beyond.status, 416);
}

#[test]
fn the_fallback_answers_browsers_for_unknown_paths_and_assets_stay_404() {
    let (s, _t) = site(|c| c.site.fallback = Some("app.html".into()));
    let html = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    let r = get_with(&s, "/some/client/route", html);
    assert_eq!((r.status, r.text().as_str()), (200, "<div id=app></div>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get_with(&s, "/some/client/route", "Accept: application/json\r\n").status, 404);
    assert_eq!(get_with(&s, "/missing.js", "").status, 404, "no Accept: no fallback");
    assert_eq!(get_with(&s, "/tiny.txt", html).text(), "abc", "real files win");
    assert_eq!(get_with(&s, "/.env", html).text(), "<div id=app></div>", "a hidden file is as good as absent");
}

#[test]
fn only_text_above_the_minimum_is_compressed_on_the_fly() {
    let (s, _t) = site(|_| {});
    let gz = "Accept-Encoding: gzip\r\n";
    let tiny = get_with(&s, "/tiny.txt", gz);
    assert_eq!((tiny.header("content-encoding"), tiny.header("content-length")), (None, Some("3")));
    let page = get_with(&s, "/docs/page.txt", gz);
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&page.body), long_text().as_bytes());
    assert_eq!(get_with(&s, "/image.png", gz).header("content-encoding"), None, "not text");
    // zstd when the client wants it at least as much as gzip.
    let z = get_with(&s, "/docs/page.txt", "Accept-Encoding: gzip, zstd\r\n");
    assert_eq!(z.header("content-encoding"), Some("zstd"));
    assert!(z.header("etag").unwrap().starts_with("W/"), "compressed here: a weak tag");
    assert_eq!(zstd::bulk::decompress(&z.body, 1 << 20).unwrap(), long_text().as_bytes());
    let g = get_with(&s, "/docs/page.txt", "Accept-Encoding: gzip, zstd;q=0.5\r\n");
    assert_eq!(g.header("content-encoding"), Some("gzip"));
    let tiny = get_with(&s, "/tiny.txt", "Accept-Encoding: zstd\r\n");
    assert_eq!(tiny.header("content-encoding"), None, "the minimum holds for zstd too");
    let (s, _t) = site(|c| c.site.compress_min_bytes = 0);
    assert_eq!(get_with(&s, "/tiny.txt", gz).header("content-encoding"), Some("gzip"));
    // Without a root, /echo compresses as it always did.
    let tutorial = TestServer::start();
    let echo = get_with(&tutorial, "/echo/abc", gz);
    assert_eq!((echo.header("content-encoding"), gunzip(&echo.body)), (Some("gzip"), b"abc".to_vec()));
}

#[test]
fn text_types_say_utf_8_and_others_do_not() {
    let (s, _t) = site(|_| {});
    for path in ["/tiny.txt", "/index.html", "/app.js", "/data.json", "/logo.svg", "/style.css"] {
        let ct = s.get(path).header("content-type").unwrap().to_string();
        assert!(ct.ends_with("; charset=utf-8"), "{path}: {ct}");
    }
    assert_eq!(s.get("/image.png").header("content-type"), Some("image/png"));
}

#[test]
fn the_operators_headers_go_on_every_response_and_cache_control_on_files() {
    let (s, _t) = site(|c| {
        c.site.header = vec!["\r\nAccess-Control-Allow-Origin: *".into(), "\r\nX-Frame-Options: DENY".into()];
        c.site.cache_control = Some("public, max-age=60".into());
    });
    for (path, status, cached) in
        [("/tiny.txt", 200, true), ("/missing", 404, false), ("/docs", 301, false), ("/", 200, true)]
    {
        let r = s.get(path);
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("cache-control"), cached.then_some("public, max-age=60"), "{path}");
    }
    let bad = s.request(b"GET / HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n");
    assert_eq!((bad.status, bad.header("access-control-allow-origin")), (400, Some("*")), "parse errors too");
}

#[test]
fn the_binary_serves_a_folder_given_as_its_argument() {
    let (_s, t) = site(|_| {});
    let root = t.path().join("root");
    let bin = common::BinServer::start(&[root.to_str().unwrap()]);
    assert_eq!(bin.get("/docs/").text(), "<h1>docs</h1>");
    let bad =
        std::process::Command::new(env!("CARGO_BIN_EXE_loophttp")).args(["/no/such/root", "-p", "0"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a directory"), "{bad:?}");
}
