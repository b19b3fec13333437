//! `/files/{name}` over real TCP: byte-exact round trips, conditional and
//! range requests, gzip, atomic and cancellable uploads, and every way of
//! reaching outside `--directory`.

mod common;
use common::*;

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::net::{Shutdown, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// How long the server may take to clean up after a client went away.
const CLEANUP: Duration = Duration::from_secs(5);
const TEMP_PREFIX: &str = ".loophttp-upload-";

/// Deterministic bytes covering every value (xorshift64, eight bytes a step).
fn binary(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Byte-exact comparison. The check itself is a memcmp (SHA-256 of 20 MiB
/// takes seconds in an unoptimised test build); a mismatch is reported by
/// length, SHA-256 and the first differing offset.
#[track_caller]
fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
        let hex = |d: &[u8]| Sha256::digest(d).iter().map(|b| format!("{b:02x}")).collect::<String>();
        panic!(
            "{what}: {} B sha256 {} != expected {} B sha256 {}; first difference at byte {at}",
            got.len(),
            hex(got),
            want.len(),
            hex(want)
        );
    }
}

/// `method path` with `extra` header lines and `Connection: close`.
fn fetch(s: &TestServer, method: &str, path: &str, extra: &[&str]) -> Resp {
    let mut c = s.client();
    c.send(raw(method, path, extra).as_bytes());
    if method == "HEAD" { c.head_response() } else { c.response() }
}

fn raw(method: &str, path: &str, extra: &[&str]) -> String {
    let extra: String = extra.iter().map(|h| format!("{h}\r\n")).collect();
    format!("{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n")
}

/// Uploads `body` with Content-Length on a fresh connection.
fn upload(s: &TestServer, method: &str, path: &str, body: &[u8]) -> Resp {
    let mut c = s.client();
    c.send(raw(method, path, &[&format!("Content-Length: {}", body.len())]).as_bytes());
    c.send(body);
    c.response()
}

fn temp_files(dir: &Path) -> Vec<String> {
    dir_entries(dir).iter().map(|p| p.to_string_lossy().into_owned()).filter(|n| n.starts_with(TEMP_PREFIX)).collect()
}

#[test]
fn binary_files_round_trip_byte_exact_via_post_and_put() {
    let s = TestServer::start();
    for (i, len) in [0, 1, 64 * 1024, 20 << 20].into_iter().enumerate() {
        let data = binary(len, i as u64 + 1);
        for method in ["POST", "PUT"] {
            let name = format!("blob-{len}-{method}.bin");
            let up = upload(&s, method, &format!("/files/{name}"), &data);
            assert_eq!(up.status, 201, "{method} {len} B");
            let down = s.get(&format!("/files/{name}"));
            assert_eq!(down.status, 200, "{name}");
            assert_eq!(down.header("content-length"), Some(len.to_string().as_str()));
            assert_same_bytes(&down.body, &data, &format!("{name} downloaded"));
            assert_same_bytes(&fs::read(s.dir().join(&name)).unwrap(), &data, &format!("{name} on disk"));
        }
    }
    assert!(temp_files(s.dir()).is_empty());
}

#[test]
fn chunked_upload_round_trips() {
    let s = TestServer::start();
    let data = binary(100_000, 9);
    let mut c = s.client();
    c.send(b"POST /files/chunked.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in data.chunks(30_000) {
        c.send(format!("{:x}\r\n", piece.len()).as_bytes());
        c.send(piece);
        c.send(b"\r\n");
    }
    c.send(b"0\r\n\r\n");
    assert_eq!(c.response().status, 201);
    assert_same_bytes(&s.get("/files/chunked.bin").body, &data, "chunked upload");
}

#[test]
fn readers_see_the_old_file_until_an_upload_completes() {
    let s = TestServer::start();
    fs::write(s.dir().join("doc.bin"), b"old").unwrap();
    let new = binary(200_000, 10);
    let mut up = s.client();
    up.send(b"PUT /files/doc.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n");
    up.send(&new[..100_000]);
    assert!(eventually(CLEANUP, || (!temp_files(s.dir()).is_empty()).then_some(())).is_some());
    assert_eq!(s.get("/files/doc.bin").body, b"old", "half an upload is invisible");
    up.send(&new[100_000..]);
    assert_eq!(up.response().status, 204);
    assert_same_bytes(&s.get("/files/doc.bin").body, &new, "after the upload");
}

#[test]
fn upload_and_downloads_pipelined_on_one_connection_stay_in_order() {
    let s = TestServer::start();
    let (a, b) = (binary(300_000, 11), binary(5, 12));
    fs::write(s.dir().join("a.bin"), &a).unwrap();
    let mut c = s.client();
    let mut reqs = format!("PUT /files/b.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", b.len()).into_bytes();
    reqs.extend_from_slice(&b);
    for name in ["a.bin", "b.bin", "a.bin"] {
        reqs.extend_from_slice(format!("GET /files/{name} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.send(&reqs);
    assert_eq!(c.response().status, 201);
    assert_same_bytes(&c.response().body, &a, "first a.bin");
    assert_same_bytes(&c.response().body, &b, "b.bin");
    assert_same_bytes(&c.response().body, &a, "second a.bin");
}

#[test]
fn post_and_put_create_with_201_then_replace_with_204() {
    let s = TestServer::start();
    for method in ["POST", "PUT"] {
        let path = format!("/files/{method}.bin");
        let created = upload(&s, method, &path, b"first");
        assert_eq!((created.status, created.reason.as_str()), (201, "Created"), "{method} creating");
        let replaced = upload(&s, method, &path, b"second");
        assert_eq!((replaced.status, replaced.reason.as_str()), (204, "No Content"), "{method} replacing");
        assert_eq!(replaced.header("content-length"), None, "a 204 has no body");
        assert_eq!(s.get(&path).body, b"second", "{method}");
    }
    assert_eq!(upload(&s, "POST", "/files/PUT.bin", b"third").status, 204, "POST replaces a PUT file");
    assert_eq!(s.get("/files/PUT.bin").body, b"third");
}

#[test]
fn delete_answers_204_then_404() {
    let s = TestServer::start();
    fs::write(s.dir().join("d.txt"), b"bye").unwrap();
    assert_eq!(fetch(&s, "DELETE", "/files/d.txt", &[]).status, 204);
    assert!(!s.dir().join("d.txt").exists());
    assert_eq!(fetch(&s, "DELETE", "/files/d.txt", &[]).status, 404);
    assert_eq!(s.get("/files/d.txt").status, 404);
}

#[test]
fn if_none_match_with_the_etag_gives_304_and_the_connection_stays_usable() {
    let s = TestServer::start();
    fs::write(s.dir().join("c.bin"), binary(1000, 2)).unwrap();
    let first = s.get("/files/c.bin");
    let etag = first.header("etag").expect("ETag").to_string();
    let mut c = s.client();
    c.send(format!("GET /files/c.bin HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes());
    let r = c.response();
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("content-length"), None);
    // A 304 has no body: the next response on this connection must parse.
    c.send(b"GET /files/c.bin HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, first.body);
}

#[test]
fn if_modified_since_last_modified_gives_304_and_an_older_date_200() {
    let s = TestServer::start();
    fs::write(s.dir().join("m.bin"), b"dated").unwrap();
    let lm = s.get("/files/m.bin").header("last-modified").expect("Last-Modified").to_string();
    assert_eq!(fetch(&s, "GET", "/files/m.bin", &[&format!("If-Modified-Since: {lm}")]).status, 304);
    let old = fetch(&s, "GET", "/files/m.bin", &["If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"]);
    assert_eq!((old.status, old.body.as_slice()), (200, &b"dated"[..]));
}

#[test]
fn file_dated_before_1970_is_served_and_the_server_lives_on() {
    let s = TestServer::start();
    let path = s.dir().join("old.txt");
    fs::write(&path, b"from 1965").unwrap();
    // 1965-01-01T00:00:00Z: earlier than any date HTTP can express.
    let y1965 = UNIX_EPOCH - Duration::from_secs(157_766_400);
    fs::File::options().write(true).open(&path).unwrap().set_modified(y1965).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), y1965, "the filesystem kept the date");
    let epoch = "Thu, 01 Jan 1970 00:00:00 GMT";
    let r = s.get("/files/old.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"from 1965"[..]));
    assert_eq!(r.header("last-modified"), Some(epoch), "the earliest HTTP date stands in");
    assert_eq!(fetch(&s, "HEAD", "/files/old.txt", &[]).header("last-modified"), Some(epoch));
    // The conditions compare against the date as sent.
    assert_eq!(fetch(&s, "GET", "/files/old.txt", &[&format!("If-Modified-Since: {epoch}")]).status, 304);
    let part = fetch(&s, "GET", "/files/old.txt", &["Range: bytes=0-3", &format!("If-Range: {epoch}")]);
    assert_eq!((part.status, part.body.as_slice()), (206, &b"from"[..]));
    assert_eq!(s.get("/echo/alive").body, b"alive", "the worker survived");
}

#[test]
fn ranges_give_206_with_content_range_and_exact_bytes() {
    let s = TestServer::start();
    let data = binary(10_000, 3);
    fs::write(s.dir().join("r.bin"), &data).unwrap();
    for (range, first, last) in
        [("0-99", 0, 99), ("9000-", 9000, 9999), ("-500", 9500, 9999), ("9990-20000", 9990, 9999)]
    {
        let r = fetch(&s, "GET", "/files/r.bin", &[&format!("Range: bytes={range}")]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.header("content-range"), Some(format!("bytes {first}-{last}/10000").as_str()), "{range}");
        assert_eq!(r.body, &data[first..=last], "{range}");
    }
}

#[test]
fn ranges_of_a_large_file_are_sent_from_their_offset() {
    // Parts past conn::buffers::INLINE_FILE_MAX (16 KiB) go by sendfile from
    // their offset; the one-byte part is read into the output buffer.
    let s = TestServer::start();
    let size = 1 << 20;
    let data = binary(size, 13);
    fs::write(s.dir().join("big.bin"), &data).unwrap();
    let cases = [
        ("300001-700000", 300_001, 700_000),
        ("1000000-", 1_000_000, size - 1),
        ("-70000", size - 70_000, size - 1),
        ("5-5", 5, 5),
    ];
    for (range, first, last) in cases {
        let r = fetch(&s, "GET", "/files/big.bin", &[&format!("Range: bytes={range}")]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.header("content-range"), Some(format!("bytes {first}-{last}/{size}").as_str()), "{range}");
        assert_same_bytes(&r.body, &data[first..=last], range);
    }
}

#[test]
fn unsatisfiable_range_gives_416_with_star_size() {
    let s = TestServer::start();
    fs::write(s.dir().join("r.bin"), binary(100, 4)).unwrap();
    for range in ["bytes=100-", "bytes=200-300", "bytes=-0"] {
        let r = fetch(&s, "GET", "/files/r.bin", &[&format!("Range: {range}")]);
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("content-range"), Some("bytes */100"), "{range}");
    }
}

#[test]
fn if_range_with_a_stale_etag_gives_the_whole_file() {
    let s = TestServer::start();
    let data = binary(1000, 5);
    fs::write(s.dir().join("ir.bin"), &data).unwrap();
    let etag = s.get("/files/ir.bin").header("etag").unwrap().to_string();
    let fresh = fetch(&s, "GET", "/files/ir.bin", &["Range: bytes=0-9", &format!("If-Range: {etag}")]);
    assert_eq!((fresh.status, fresh.body.as_slice()), (206, &data[..10]));
    let stale = fetch(&s, "GET", "/files/ir.bin", &["Range: bytes=0-9", "If-Range: \"0-0-0\""]);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.header("content-range"), None);
    assert_eq!(stale.body, data);
}

#[test]
fn head_has_the_same_headers_as_get_and_no_body() {
    let s = TestServer::start();
    fs::write(s.dir().join("h.bin"), binary(5000, 6)).unwrap();
    fs::write(s.dir().join("h.txt"), "text ".repeat(1000)).unwrap();
    for (name, extra) in [("h.bin", ""), ("h.txt", ""), ("h.txt", "Accept-Encoding: gzip\r\n")] {
        // Pipelined on one connection: if HEAD sent a body, GET's response would not parse.
        let mut c = s.client();
        let req = |m: &str| format!("{m} /files/{name} HTTP/1.1\r\nHost: t\r\n{extra}\r\n");
        c.send(format!("{}{}", req("HEAD"), req("GET")).as_bytes());
        let head = c.head_response();
        let get = c.response();
        assert_eq!(head.status, 200);
        // A gzip body's length is known only by compressing it, which a HEAD
        // does not do: it leaves the length out (RFC 9110 §9.3.2).
        let omitted = |n: &str| n == "Date" || !extra.is_empty() && n == "Content-Length";
        let without = |r: &Resp| r.headers.iter().filter(|(n, _)| !omitted(n)).cloned().collect::<Vec<_>>();
        assert_eq!(without(&head), without(&get), "{name} {extra}");
        assert_eq!(head.header("content-length").is_none(), !extra.is_empty(), "{name} {extra}");
        assert!(!get.body.is_empty());
    }
}

#[test]
fn content_type_follows_the_extension_and_ranges_are_advertised() {
    let s = TestServer::start();
    let cases = [
        ("page.html", "text/html"),
        ("data.json", "application/json"),
        ("photo.png", "image/png"),
        ("mystery.zzqx", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
    ];
    for (name, mime) in cases {
        fs::write(s.dir().join(name), b"x").unwrap();
        let r = s.get(&format!("/files/{name}"));
        assert_eq!(r.header("content-type"), Some(mime), "{name}");
        assert_eq!(r.header("accept-ranges"), Some("bytes"), "{name}");
    }
}

#[test]
fn compressible_file_is_gzipped_only_when_accepted() {
    let s = TestServer::start();
    let text = "hello gzip, ".repeat(10_000);
    fs::write(s.dir().join("z.txt"), &text).unwrap();
    let r = fetch(&s, "GET", "/files/z.txt", &["Accept-Encoding: gzip"]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert!(r.body.len() < text.len() / 10, "compressed to {} B", r.body.len());
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, text.as_bytes());

    let r = s.get("/files/z.txt");
    assert_eq!((r.header("content-encoding"), r.body.as_slice()), (None, text.as_bytes()));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"), "caches must know it varies");
}

#[test]
fn range_requests_are_never_gzipped() {
    let s = TestServer::start();
    let text = "0123456789".repeat(1000);
    fs::write(s.dir().join("z.txt"), &text).unwrap();
    let r = fetch(&s, "GET", "/files/z.txt", &["Accept-Encoding: gzip", "Range: bytes=10-29"]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, &text.as_bytes()[10..30]);
}

#[test]
fn gzip_response_etag_is_weak_so_if_range_cannot_splice_encodings() {
    let s = TestServer::start();
    let text = "splice ".repeat(1000);
    fs::write(s.dir().join("z.txt"), &text).unwrap();
    let gz = fetch(&s, "GET", "/files/z.txt", &["Accept-Encoding: gzip"]);
    let etag = gz.header("etag").unwrap().to_string();
    // Strong validators must differ between encodings (RFC 9110 §8.8.1): a
    // client holding gzip bytes must not be sent identity bytes to append.
    assert!(etag.starts_with("W/"), "gzip body with strong ETag {etag}");
    let r =
        fetch(&s, "GET", "/files/z.txt", &["Accept-Encoding: gzip", "Range: bytes=10-", &format!("If-Range: {etag}")]);
    assert_eq!(r.status, 200);
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut plain).expect("a whole gzip stream");
    plain
}

#[test]
fn text_files_over_16_kib_are_gzipped_as_they_are_sent_in_chunks() {
    // Up to GZIP_INLINE_MAX (16 KiB) a file is compressed whole and sent
    // with its length; beyond, a piece at a time as the client reads.
    let s = TestServer::start();
    let limit = 16 * 1024;
    let text: Vec<u8> =
        (0..).flat_map(|i: u32| format!("line {i} of a big text\n").into_bytes()).take(3 << 20).collect();
    fs::write(s.dir().join("at.txt"), &text[..limit]).unwrap();
    fs::write(s.dir().join("big.txt"), &text).unwrap();
    let at = fetch(&s, "GET", "/files/at.txt", &["Accept-Encoding: gzip"]);
    assert_eq!(at.header("content-encoding"), Some("gzip"), "exactly 16 KiB is compressed whole");
    assert!(at.header("content-length").is_some() && at.header("transfer-encoding").is_none());
    assert_same_bytes(&gunzip(&at.body), &text[..limit], "at.txt");
    // HEAD does not compress it to learn that length: it leaves the
    // length out (RFC 9110 §9.3.2), and says nothing of chunks either.
    let head = fetch(&s, "HEAD", "/files/at.txt", &["Accept-Encoding: gzip"]);
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert_eq!((head.header("content-length"), head.header("transfer-encoding")), (None, None));
    assert_eq!(head.header("etag"), at.header("etag"));

    // Two on one connection: the chunked body ends exactly where it says.
    let mut c = s.client();
    let get = "GET /files/big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
    c.send(format!("{get}{get}").as_bytes());
    for round in 0..2 {
        let big = c.response();
        assert_eq!(big.status, 200);
        assert_eq!(big.header("content-encoding"), Some("gzip"), "round {round}");
        assert_eq!(big.header("transfer-encoding"), Some("chunked"));
        assert_eq!(big.header("content-length"), None);
        assert_eq!(big.header("vary"), Some("Accept-Encoding"));
        assert!(big.header("etag").is_some_and(|t| t.starts_with("W/")), "gzip bytes, weak tag");
        assert!(big.body.len() < text.len() / 3, "compressed: {} bytes", big.body.len());
        assert_same_bytes(&gunzip(&big.body), &text, "big.txt");
    }

    // HEAD has the same headers and no body.
    let head = fetch(&s, "HEAD", "/files/big.txt", &["Accept-Encoding: gzip"]);
    assert_eq!((head.header("transfer-encoding"), head.header("content-encoding")), (Some("chunked"), Some("gzip")));

    // HTTP/1.0 cannot be sent chunks: it gets the file as it is.
    let mut c = s.client();
    c.send(b"GET /files/big.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    let old = c.response();
    assert_eq!(old.header("content-encoding"), None);
    assert_eq!(old.header("content-length"), Some(text.len().to_string().as_str()));
    assert_same_bytes(&old.body, &text, "big.txt over HTTP/1.0");
}

#[test]
fn concurrent_uploads_to_one_name_leave_one_complete_body_and_no_temp_files() {
    let s = TestServer::start();
    let bodies: Vec<Vec<u8>> = (0..8).map(|i| binary(1 << 20, 100 + i)).collect();
    let half = bodies[0].len() / 2;
    // Every upload is begun and half sent before any is finished, so all
    // eight are in flight at once: eight temporary files side by side.
    let mut clients: Vec<Client> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let method = if i % 2 == 0 { "PUT" } else { "POST" };
            let mut c = s.client();
            c.send(raw(method, "/files/same.bin", &[&format!("Content-Length: {}", body.len())]).as_bytes());
            c.send(&body[..half]);
            c
        })
        .collect();
    let overlap = eventually(CLEANUP, || (temp_files(s.dir()).len() == bodies.len()).then_some(()));
    assert!(overlap.is_some(), "uploads in flight: {:?}", temp_files(s.dir()));
    assert!(!s.dir().join("same.bin").exists(), "nothing is visible before a body is complete");
    for (c, body) in clients.iter_mut().zip(&bodies) {
        c.send(&body[half..]);
    }
    let mut statuses: Vec<u16> = clients.iter_mut().map(|c| c.response().status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 204, 204, 204, 204, 204, 204, 204], "the first to finish creates, the rest replace");
    assert_eq!(dir_entries(s.dir()), [Path::new("same.bin")]);
    let stored = fs::read(s.dir().join("same.bin")).unwrap();
    assert!(bodies.contains(&stored), "stored body ({} B) is not one of the uploads", stored.len());
}

/// Sends headers and half the body, waits until the server has started the
/// upload, then cuts the connection with `cut`.
fn cut_off_upload(cut: impl FnOnce(Client)) {
    let s = TestServer::start();
    let mut c = s.client();
    c.send(b"PUT /files/cut.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n");
    c.send(&binary(100_000, 7));
    assert!(eventually(CLEANUP, || (!temp_files(s.dir()).is_empty()).then_some(())).is_some(), "upload never began");
    cut(c);
    let left = eventually(CLEANUP, || dir_entries(s.dir()).is_empty().then_some(()));
    assert!(left.is_some(), "left behind: {:?}", dir_entries(s.dir()));
    assert_eq!(s.get("/files/cut.bin").status, 404);
}

#[test]
fn upload_cut_off_by_close_leaves_no_file_and_no_temp_file() {
    cut_off_upload(drop);
}

#[test]
fn upload_cut_off_by_half_close_leaves_no_file_and_no_temp_file() {
    cut_off_upload(|mut c| {
        c.stream().shutdown(Shutdown::Write).unwrap();
        assert!(c.closed_within(CLEANUP), "server keeps a half-closed upload open");
    });
}

#[test]
fn stalled_upload_times_out_with_408_and_leaves_nothing() {
    let s = TestServer::with(|c| c.body_timeout = Duration::from_millis(300));
    let mut c = s.client();
    c.send(b"POST /files/stalled.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly this");
    assert_eq!(c.response().status, 408);
    assert_eq!(dir_entries(s.dir()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn upload_over_the_limit_gets_413_and_leaves_nothing() {
    let s = TestServer::with(|c| c.max_body_bytes = 1000);
    let r = upload(&s, "POST", "/files/big.bin", &binary(2000, 8));
    assert_eq!(r.status, 413, "Content-Length over the limit");

    let mut c = s.client();
    c.send(b"PUT /files/big.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..3 {
        c.send(b"190\r\n"); // 400 bytes per chunk: the third passes 1000
        c.send(&[b'x'; 400]);
        c.send(b"\r\n");
    }
    assert_eq!(c.response().status, 413, "chunked body over the limit");
    assert_eq!(dir_entries(s.dir()), Vec::<std::path::PathBuf>::new());
    assert_eq!(upload(&s, "POST", "/files/ok.bin", &[1; 1000]).status, 201, "exactly the limit is fine");
}

/// A sibling of the served directory with a secret in it: what a traversal
/// from the served directory would reach.
struct Outside {
    dir: tempfile::TempDir,
}

impl Outside {
    const SECRET: &[u8] = b"outside secret";

    fn beside(served: &Path) -> Outside {
        let dir = tempfile::tempdir_in(served.parent().unwrap()).unwrap();
        fs::write(dir.path().join("secret"), Self::SECRET).unwrap();
        Outside { dir }
    }

    fn name(&self) -> String {
        self.dir.path().file_name().unwrap().to_string_lossy().into_owned()
    }

    fn assert_untouched(&self) {
        assert_eq!(dir_entries(self.dir.path()), [Path::new("secret")]);
        assert_eq!(fs::read(self.dir.path().join("secret")).unwrap(), Self::SECRET);
    }
}

#[test]
fn every_traversal_shape_is_refused_and_nothing_outside_is_touched() {
    let s = TestServer::start();
    let out = Outside::beside(s.dir());
    let sib = out.name();
    let shapes = [
        "/files/..".to_string(),
        "/files/.".to_string(),
        "/files/".to_string(),
        format!("/files/../{sib}/secret"),
        "/files/%2e%2e".to_string(),
        format!("/files/..%2f{sib}%2fsecret"),
        format!("/files/%2e%2e%2f{sib}%2fsecret"),
        "/files/%2e%2e%2fetc%2fpasswd".to_string(),
        "/files/secret%00".to_string(),
        "/files/a%00b".to_string(),
        "/files//etc/passwd".to_string(),
        format!("/files//{}", out.dir.path().join("secret").display()),
        format!("/files/..%5c{sib}%5csecret"),
        format!("/files/..\\{sib}\\secret"),
        format!("/files/{TEMP_PREFIX}1-0"),
    ];
    for path in &shapes {
        for method in ["GET", "HEAD", "DELETE"] {
            let r = fetch(&s, method, path, &[]);
            assert!(matches!(r.status, 400 | 404), "{method} {path}: {}", r.status);
        }
        for method in ["POST", "PUT"] {
            let r = upload(&s, method, path, b"pwned");
            assert!(matches!(r.status, 400 | 404), "{method} {path}: {}", r.status);
        }
    }
    out.assert_untouched();
    assert_eq!(dir_entries(s.dir()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn symlink_inside_pointing_outside_is_404_and_uploads_do_not_write_through_it() {
    let s = TestServer::start();
    let out = Outside::beside(s.dir());
    symlink(out.dir.path().join("secret"), s.dir().join("link")).unwrap();
    assert_eq!(s.get("/files/link").status, 404);
    assert_eq!(fetch(&s, "HEAD", "/files/link", &[]).status, 404);
    upload(&s, "POST", "/files/link", b"pwned");
    upload(&s, "PUT", "/files/link", b"pwned");
    fetch(&s, "DELETE", "/files/link", &[]);
    out.assert_untouched();
}

#[test]
fn symlink_inside_pointing_inside_is_served() {
    let s = TestServer::start();
    fs::write(s.dir().join("real.bin"), b"inside").unwrap();
    symlink(s.dir().join("real.bin"), s.dir().join("alias.bin")).unwrap();
    assert_eq!(s.get("/files/alias.bin").body, b"inside");
}

#[test]
fn directory_name_is_404() {
    let s = TestServer::start();
    fs::create_dir(s.dir().join("sub")).unwrap();
    fs::write(s.dir().join("sub").join("f"), b"f").unwrap();
    assert_eq!(s.get("/files/sub").status, 404);
    assert_eq!(fetch(&s, "DELETE", "/files/sub", &[]).status, 404);
    assert_eq!(s.get("/files/sub%2ff").status, 400, "one segment only");
    assert!(s.dir().join("sub").join("f").exists());
}

#[test]
fn without_directory_files_are_404_and_nothing_is_read_written_or_deleted() {
    let cwd = tempfile::tempdir().unwrap();
    fs::write(cwd.path().join("here.txt"), b"in the working directory").unwrap();
    // Started in `cwd`: where a server that resolved names against an empty
    // or missing directory would look.
    let s = BinServer::start_with(&[], |cmd| {
        cmd.current_dir(cwd.path());
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], s.port));
    let send = |method: &str, name: &str, body: &[u8]| {
        let mut c = Client::connect(addr);
        let length = format!("Content-Length: {}", body.len());
        c.send(raw(method, &format!("/files/{name}"), &[&length]).as_bytes());
        c.send(body);
        if method == "HEAD" { c.head_response() } else { c.response() }
    };
    for method in ["GET", "HEAD", "DELETE"] {
        assert_eq!(send(method, "here.txt", b"").status, 404, "{method} of a file in the working directory");
    }
    for method in ["POST", "PUT"] {
        assert_eq!(send(method, "new.txt", b"data").status, 404, "{method} new");
        assert_eq!(send(method, "here.txt", b"data").status, 404, "{method} over an existing file");
    }
    assert_eq!(dir_entries(cwd.path()), [Path::new("here.txt")], "nothing written or removed");
    assert_eq!(fs::read(cwd.path().join("here.txt")).unwrap(), b"in the working directory");
}

#[test]
fn fifo_is_404_and_does_not_stall_the_server() {
    let s = TestServer::start();
    let path = CString::new(s.dir().join("pipe").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    // No writer ever opens the FIFO: a blocking open or read would hang here.
    assert_eq!(s.get("/files/pipe").status, 404);
    assert_eq!(fetch(&s, "HEAD", "/files/pipe", &[]).status, 404);
    assert_eq!(s.get("/echo/alive").body, b"alive");
}

/// The unprivileged user and group the unreadable-file test runs the
/// server as when the tests run as root (`nobody` / `nogroup` on Debian).
const NOBODY: u32 = 65534;

/// The uid the process `pid` runs as, from /proc/PID/status.
fn uid_of(pid: u32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:")).expect("Uid line");
    uids.split_whitespace().next().and_then(|u| u.parse().ok()).expect("real uid")
}

#[test]
fn unreadable_file_is_403() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let s = TestServer::start();
        fs::write(s.dir().join("locked.bin"), b"secret").unwrap();
        fs::set_permissions(s.dir().join("locked.bin"), fs::Permissions::from_mode(0o000)).unwrap();
        assert_eq!(s.get("/files/locked.bin").status, 403);
        return;
    }
    // Root reads a file whatever its mode (CI runs as root), so the server
    // runs as nobody: from a copy of the binary nobody may execute (the
    // build directory may sit in a home only root can enter), on a
    // directory nobody may read, where one file has mode 000.
    let root = tempfile::tempdir().unwrap();
    let (bin, files) = (root.path().join("loophttp"), root.path().join("files"));
    fs::copy(env!("CARGO_BIN_EXE_loophttp"), &bin).unwrap();
    fs::create_dir(&files).unwrap();
    fs::write(files.join("open.txt"), b"anyone may read this").unwrap();
    fs::write(files.join("locked.bin"), b"secret").unwrap();
    for (path, mode) in [(root.path(), 0o755), (&bin, 0o755), (&files, 0o755), (&files.join("locked.bin"), 0o000)] {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let args = ["--host", "127.0.0.1", "--directory", files.to_str().unwrap()];
    // std drops the supplementary groups too when it leaves root.
    let b = BinServer::start_program(&bin, &args, |cmd| {
        cmd.uid(NOBODY).gid(NOBODY);
    });
    assert_eq!(uid_of(b.pid()), NOBODY, "the server must not run as root here");
    // The directory is within reach: the 403 is about the file's mode.
    assert_eq!(b.get("/files/open.txt").body, b"anyone may read this");
    let r = b.get("/files/locked.bin");
    assert_eq!((r.status, r.reason.as_str()), (403, "Forbidden"));
}
