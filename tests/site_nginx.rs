//! loophttp's site mode against nginx on the same tree (`root`, `index`,
//! `autoindex`, `gzip_static`, and `gzip` for text above the same minimum):
//! for each request of a matrix, status, `Content-Type`, `Content-Encoding`,
//! `Content-Length` and `Location` must agree, except where the case lists
//! an intended difference with its reason. A listed difference that no
//! longer differs fails too, so the list stays true.

mod common;
#[path = "common/site_tree.rs"]
mod site_tree;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Client, Resp, TestServer, eventually, have_tool};

const FIELDS: [&str; 5] = ["status", "content-type", "content-encoding", "content-length", "location"];

/// One request and the fields where loophttp means to differ, with why.
struct Case {
    method: &'static str,
    path: &'static str,
    headers: &'static str,
    differ: &'static [(&'static str, &'static str)],
}

const ERROR_PAGE: &[(&str, &str)] = &[
    ("content-type", "nginx's error pages are HTML; loophttp's are the reason phrase as text/plain"),
    ("content-length", "the same: a different error body"),
];
const REDIRECT: &[(&str, &str)] = &[
    ("content-type", "nginx's 301 carries an HTML page; loophttp's has no body"),
    ("content-length", "the same: 0 against nginx's page"),
];
const ON_THE_FLY: &[(&str, &str)] = &[(
    "content-length",
    "nginx gzips as it sends (chunked); loophttp compresses up to 128 KiB in memory and sends a length",
)];
const JS: &[(&str, &str)] =
    &[("content-type", "text/javascript (RFC 9239, mime_guess) against nginx's mime.types application/javascript")];
const BR: &[(&str, &str)] = &[
    ("content-encoding", "gzip_static knows only .gz; loophttp also serves x.br and x.zst"),
    ("content-length", "the same: the .br file against the identity file"),
];
const ESCAPING_LINK: &[(&str, &str)] = &[
    (
        "status",
        "nginx follows symlinks anywhere (disable_symlinks is off by default); loophttp refuses one leaving the root",
    ),
    ("content-type", "the same: nginx serves the outside file, loophttp a 404"),
    ("content-length", "the same"),
];
const OPTIONS: &[(&str, &str)] = &[
    ("status", "nginx answers OPTIONS on a static file with 405; loophttp with 200 and Allow, as on every route"),
    ("content-type", "the same: nginx's 405 page against an empty text/plain"),
    ("content-length", "the same"),
];
const RANGE_OF_GZ: &[(&str, &str)] = &[
    (
        "status",
        "nginx ignores Range on a gzip_static answer (200, the whole .gz); loophttp serves the range of the .gz, its own representation with its own strong ETag",
    ),
    ("content-length", "the same: 10 bytes against the whole .gz"),
];
const ZSTD: &[(&str, &str)] = &[
    (
        "content-encoding",
        "nginx has no zstd; loophttp prefers it when wanted as much as gzip (a third of gzip's CPU per byte, smaller: docs/SITE.md)",
    ),
    ("content-length", "the same: the zstd body against nginx's chunked gzip"),
];
const STALE: &[(&str, &str)] = &[(
    "content-length",
    "gzip_static serves a .gz older than its file; loophttp refuses the stale sibling and gzips the file now",
)];

fn c(method: &'static str, path: &'static str, headers: &'static str, differ: &'static [(&str, &str)]) -> Case {
    Case { method, path, headers, differ }
}

fn matrix() -> Vec<Case> {
    let gz = "Accept-Encoding: gzip\r\n";
    vec![
        c("GET", "/", "", &[]),
        c("HEAD", "/", "", &[]),
        c("GET", "/index.html", "", &[]),
        c("GET", "/docs/", "", &[]),
        c("GET", "/docs", "", REDIRECT),
        c("GET", "/docs?x=1&y=%2F", "", REDIRECT),
        c("GET", "/docs/deep", "", REDIRECT),
        c("GET", "/docs/deep/a/b/", "", &[]),
        c("GET", "//docs//./deep/../index.html", "", &[]),
        c("GET", "/docs/page.txt", "", &[]),
        c("GET", "/docs/page.txt", gz, ON_THE_FLY),
        c("GET", "/docs/page.txt", "Accept-Encoding: zstd, gzip\r\n", ZSTD),
        c("GET", "/docs/page.txt/", "", ERROR_PAGE),
        c("GET", "/tiny.txt", gz, &[]),
        c("GET", "/tiny.txt", "Range: bytes=1-\r\n", &[]),
        c("GET", "/tiny.txt", "Range: bytes=9-\r\n", ERROR_PAGE),
        c("GET", "/data.json", "", &[]),
        c("GET", "/logo.svg", "", &[]),
        c("GET", "/image.png", gz, &[]),
        c("GET", "/app.js", "", JS),
        c("GET", "/missing", "", ERROR_PAGE),
        c("GET", "/.env", "", ERROR_PAGE),
        c("GET", "/.git/config", "", ERROR_PAGE),
        c("GET", "/../etc/passwd", "", ERROR_PAGE),
        c("GET", "/noindex/", "", &[]),
        c("GET", "/noindex", "", REDIRECT),
        c("GET", "/hostile/", "", &[]),
        c("GET", "/hostile/%FF%FE.bin", "", &[]),
        c("GET", "/hostile/100%25.txt", "", &[]),
        c("GET", "/hostile/in-link", "", &[]),
        c("GET", "/style.css", "", &[]),
        c("GET", "/style.css", gz, &[]),
        c("HEAD", "/style.css", gz, &[]),
        c("GET", "/style.css", "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n", RANGE_OF_GZ),
        c("GET", "/style.css", "Range: bytes=0-9\r\n", &[]),
        c("GET", "/style.css", "Accept-Encoding: gzip;q=0\r\n", &[]),
        c("GET", "/style.css", "Accept-Encoding: br\r\n", BR),
        c("GET", "/old.css", gz, STALE),
        c("DELETE", "/tiny.txt", "", ERROR_PAGE),
        c("OPTIONS", "/tiny.txt", "", OPTIONS),
        c("GET", "/hostile/out-relative", "", ESCAPING_LINK),
        c("GET", "/hostile/out-absolute", "", ESCAPING_LINK),
    ]
}

/// nginx serving `root` on `port` as loophttp's site flags say.
fn nginx_conf(root: &Path, tmp: &Path, port: u16) -> String {
    let (root, tmp) = (root.display(), tmp.display());
    format!(
        "daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off; server_tokens off;
    include /etc/nginx/mime.types; default_type application/octet-stream;
    client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/p; fastcgi_temp_path {tmp}/f;
    uwsgi_temp_path {tmp}/u; scgi_temp_path {tmp}/s;
    charset utf-8;
    charset_types text/html text/plain text/css application/javascript application/json image/svg+xml text/xml;
    gzip on; gzip_min_length 1024; gzip_vary on;
    gzip_types text/plain text/css application/javascript application/json image/svg+xml text/xml;
    server {{
        listen 127.0.0.1:{port};
        root {root}; index index.html; autoindex on; gzip_static on;
        absolute_redirect off;
        location ~ /\\. {{ return 404; }}
    }}
}}
"
    )
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill(); // our own child, by its handle
        let _ = self.0.wait();
    }
}

fn ask(addr: SocketAddr, case: &Case) -> Resp {
    let mut client = Client::connect(addr);
    let (m, p, h) = (case.method, case.path, case.headers);
    client.send(format!("{m} {p} HTTP/1.1\r\nHost: t\r\n{h}Connection: close\r\n\r\n").as_bytes());
    if m == "HEAD" { client.head_response() } else { client.response() }
}

fn field(r: &Resp, name: &str) -> Option<String> {
    if name == "status" { Some(r.status.to_string()) } else { r.header(name).map(str::to_string) }
}

#[test]
fn site_mode_differs_from_nginx_only_where_listed() {
    if !have_tool("nginx") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    std::fs::create_dir(&root).unwrap();
    site_tree::tree(&root, &base.path().join("outside.txt"));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = base.path().join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&root, base.path(), port)).unwrap();
    let child = Command::new("nginx")
        .args(["-p".as_ref(), base.path().as_os_str(), "-c".as_ref(), conf.as_os_str()])
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let _nginx = Nginx(child);
    let nginx_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = eventually(Duration::from_secs(10), || std::net::TcpStream::connect(nginx_addr).ok());
    assert!(up.is_some(), "nginx did not start: {:?}", std::fs::read_to_string(base.path().join("error.log")));
    let ours = TestServer::with(|c| {
        c.directory = None;
        c.site.root = Some(root.clone());
        c.site.listing = true;
        c.site.precompressed = true;
    });
    let mut wrong = Vec::new();
    for case in matrix() {
        let (a, b) = (ask(ours.addr_v4(), &case), ask(nginx_addr, &case));
        for name in FIELDS {
            let (mine, theirs) = (field(&a, name), field(&b, name));
            let listed = case.differ.iter().find(|(f, _)| *f == name);
            let what =
                format!("{} {} {:?} {name}: loophttp {mine:?}, nginx {theirs:?}", case.method, case.path, case.headers);
            match (mine == theirs, listed) {
                (false, None) => wrong.push(format!("{what}: an unlisted difference")),
                (true, Some((_, why))) => wrong.push(format!("{what}: listed as differing ({why}), but agrees")),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
}
