//! Property tests: the answer never depends on how the bytes arrive.
//!
//! - A pipelined stream of random valid requests, split at random points and
//!   fed through [`MemStream`] with `WouldBlock`s, short and refused writes,
//!   gets byte-for-byte the responses it gets when fed whole: one per
//!   request, in order, each correct, and the connection stays open.
//! - The head parser gives the same head for a valid request fed whole,
//!   split at every byte offset, and one byte at a time (hyper's "shotgun"
//!   test), and random or mangled bytes never make it panic.

use loophttp::Config;
use loophttp::error::HttpError;
use loophttp::http::authority::LastValidHost;
use loophttp::http::parse::{Framing, Limits, Method, Parsed};
use loophttp::mem_stream::{ReadStep, Rig};
use loophttp::setup::Settings;
use proptest::prelude::*;
use proptest::sample::Index;

/// Cases per property (about a second in all in a debug build); set
/// `PROPTEST_CASES` for a longer hunt.
const CASES: u32 = 256;
/// Calls into one connection before the test calls it a livelock.
const MAX_CALLS: usize = 100_000;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    // No regression files: a failure prints its minimal case to copy into a unit test.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------
// Random valid requests.

#[derive(Debug, Clone)]
enum Target {
    Root,
    /// `/echo/{s}`: the decoded bytes, and which of them are percent-encoded.
    Echo(Vec<(u8, bool)>),
    UserAgent,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Length(Vec<u8>),
    /// Chunks (never empty), an extension on each, a trailer.
    Chunked(Vec<Vec<u8>>, bool, bool),
}

#[derive(Debug, Clone)]
struct Req {
    method: Method,
    target: Target,
    user_agent: Option<String>,
    extra: Vec<(String, String)>,
    keep_alive: bool,
    lowercase: bool,
    body: Body,
}

impl Req {
    fn target(&self) -> String {
        match &self.target {
            Target::Root => "/".into(),
            Target::UserAgent => "/user-agent".into(),
            Target::Echo(s) => {
                let mut t = String::from("/echo/");
                for &(b, encode) in s {
                    if encode || !(b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                        t.push_str(&format!("%{b:02X}"));
                    } else {
                        t.push(char::from(b));
                    }
                }
                t
            }
        }
    }

    fn head(&self) -> Vec<u8> {
        let name = |n: &str| if self.lowercase { n.to_ascii_lowercase() } else { n.to_string() };
        let mut h = format!("{} {} HTTP/1.1\r\n{}: test\r\n", self.method.as_str(), self.target(), name("Host"));
        if let Some(ua) = &self.user_agent {
            h += &format!("{}: {ua}\r\n", name("User-Agent"));
        }
        for (n, v) in &self.extra {
            h += &format!("{n}: {v}\r\n");
        }
        if self.keep_alive {
            h += &format!("{}: keep-alive\r\n", name("Connection"));
        }
        match &self.body {
            Body::None => {}
            Body::Length(b) => h += &format!("{}: {}\r\n", name("Content-Length"), b.len()),
            Body::Chunked(..) => h += &format!("{}: chunked\r\n", name("Transfer-Encoding")),
        }
        h += "\r\n";
        h.into_bytes()
    }

    fn body(&self) -> Vec<u8> {
        match &self.body {
            Body::None => Vec::new(),
            Body::Length(b) => b.clone(),
            Body::Chunked(chunks, ext, trailer) => {
                let mut out = Vec::new();
                for c in chunks {
                    out.extend_from_slice(format!("{:x}", c.len()).as_bytes());
                    if *ext {
                        out.extend_from_slice(b";name=value");
                    }
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n");
                if *trailer {
                    out.extend_from_slice(b"X-Trailer: yes\r\n");
                }
                out.extend_from_slice(b"\r\n");
                out
            }
        }
    }

    fn wire(&self) -> Vec<u8> {
        [self.head(), self.body()].concat()
    }

    /// The body a correct server answers with (before HEAD drops it).
    fn expected_body(&self) -> Vec<u8> {
        match &self.target {
            Target::Echo(s) => s.iter().map(|&(b, _)| b).collect(),
            Target::UserAgent => self.user_agent.clone().unwrap_or_default().into_bytes(),
            Target::Root => Vec::new(), // JSON, checked field by field
        }
    }
}

fn header_text() -> impl Strategy<Value = String> {
    // Printable, no leading or trailing space (the parser trims those).
    "[!-~]([ -~]{0,30}[!-~])?"
}

fn body() -> impl Strategy<Value = Body> {
    let bytes = prop::collection::vec(any::<u8>(), 0..200);
    let chunks = prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..5);
    prop_oneof![
        Just(Body::None),
        bytes.prop_map(Body::Length),
        (chunks, any::<bool>(), any::<bool>()).prop_map(|(c, e, t)| Body::Chunked(c, e, t)),
    ]
}

fn request() -> impl Strategy<Value = Req> {
    let target = prop_oneof![
        Just(Target::Root),
        Just(Target::UserAgent),
        // Any byte but a control byte, which no path may encode (docs/CONFORMANCE.md).
        prop::collection::vec(
            (any::<u8>().prop_filter("control byte", |b| *b >= 0x20 && *b != 0x7f), prop::bool::weighted(0.1)),
            0..20
        )
        .prop_map(Target::Echo),
    ];
    let extra = prop::collection::vec(("X-[A-Za-z0-9-]{1,12}", header_text()), 0..4);
    let method = prop_oneof![Just(Method::Get), Just(Method::Head), Just(Method::Post)];
    (method, target, prop::option::of(header_text()), extra, any::<bool>(), any::<bool>(), body()).prop_map(
        |(method, target, user_agent, extra, keep_alive, lowercase, body)| {
            // Bodies only for POST /, the one route that takes one.
            let (target, body) = if method == Method::Post { (Target::Root, body) } else { (target, Body::None) };
            Req { method, target, user_agent, extra, keep_alive, lowercase, body }
        },
    )
}

// ---------------------------------------------------------------------------
// Driving a connection through an in-memory stream.

/// How the stream reaches the server: pieces, and what happens with each.
#[derive(Debug, Clone)]
struct Piece {
    at: Index,
    /// The socket has nothing more right after this piece.
    would_block: bool,
    /// The client stops reading during this event.
    write_blocked: bool,
}

#[derive(Debug, Clone)]
struct Plan {
    pieces: Vec<Piece>,
    max_write: usize,
}

fn plan() -> impl Strategy<Value = Plan> {
    let piece = (any::<Index>(), any::<bool>(), prop::bool::weighted(0.3))
        .prop_map(|(at, would_block, write_blocked)| Piece { at, would_block, write_blocked });
    let max_write = prop_oneof![Just(1), Just(7), Just(64), Just(1500), Just(usize::MAX)];
    (prop::collection::vec(piece, 0..24), max_write).prop_map(|(pieces, max_write)| Plan { pieces, max_write })
}

struct Driver {
    rig: Rig,
    calls: usize,
}

impl Driver {
    fn new() -> Driver {
        // Both runs send the same `Date`; request accounting is on (as in
        // the server), so random splits exercise it too.
        Driver { rig: Rig::counting(Settings::from_config(&Config::defaults())), calls: 0 }
    }

    /// The events a registered socket would report: readable while there is
    /// input and it wants to read, writable while a write came up short.
    fn event(&mut self) {
        let want = self.rig.conn.want();
        let readable = want.read && !self.rig.io.reads.is_empty();
        if readable || want.write {
            self.count();
            self.rig.conn.on_ready(&mut self.rig.io, readable, want.write, &mut self.rig.cx);
        }
        while self.rig.conn.yielded() {
            self.count();
            self.rig.conn.resume(&mut self.rig.io, &mut self.rig.cx);
        }
    }

    fn count(&mut self) {
        self.calls += 1;
        assert!(self.calls <= MAX_CALLS, "no end after {MAX_CALLS} calls");
    }

    /// What an event can visibly change: input left, output, interest.
    fn snapshot(&self) -> (usize, usize, bool, bool) {
        let input = self.rig.io.unread();
        let want = self.rig.conn.want();
        (input, self.rig.io.written.len(), want.read, want.write)
    }

    /// Unblocks the client and delivers events until nothing changes.
    fn settle(&mut self) {
        self.rig.io.write_blocked = false;
        loop {
            let before = self.snapshot();
            self.event();
            if self.snapshot() == before {
                return;
            }
        }
    }
}

/// Feeds `stream` as `plan` says; returns everything written, and whether
/// the connection closed.
fn serve(stream: &[u8], plan: &Plan) -> (Vec<u8>, bool) {
    let mut d = Driver::new();
    d.rig.io.max_write = plan.max_write;
    let mut pieces: Vec<(usize, &Piece)> = plan.pieces.iter().map(|p| (p.at.index(stream.len() + 1), p)).collect();
    pieces.sort_by_key(|&(at, _)| at);
    let mut pos = 0;
    for (at, p) in pieces {
        // Never an empty push: MemStream would read it as EOF.
        if at > pos {
            d.rig.io.push(&stream[pos..at]);
            pos = at;
        }
        if p.would_block {
            d.rig.io.reads.push_back(ReadStep::WouldBlock);
        }
        d.rig.io.write_blocked = p.write_blocked;
        d.event();
    }
    if pos < stream.len() {
        d.rig.io.push(&stream[pos..]);
    }
    d.settle();
    (d.rig.io.written, d.rig.conn.is_closed())
}

/// One parsed response: status, headers, body.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Splits `bytes` into responses; the i-th is to `reqs[i]` (HEAD: no body).
fn responses(mut bytes: &[u8], reqs: &[Req]) -> Vec<Resp> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("response head ends") + 4;
        let head = std::str::from_utf8(&bytes[..end - 4]).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        assert!(status_line.starts_with("HTTP/1.1 "), "status line {status_line:?}");
        let status = status_line[9..12].parse().expect("status code");
        let headers: Vec<(String, String)> = lines
            .map(|l| l.split_once(": ").expect("header line"))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut r = Resp { status, headers, body: Vec::new() };
        let len: usize = r.header("Content-Length").map_or(0, |v| v.parse().expect("Content-Length"));
        let head_only = reqs.get(out.len()).is_some_and(|q| q.method == Method::Head);
        let len = if head_only { 0 } else { len };
        assert!(bytes.len() >= end + len, "response body cut short");
        r.body = bytes[end..end + len].to_vec();
        bytes = &bytes[end + len..];
        out.push(r);
    }
    out
}

fn check_answers(written: &[u8], reqs: &[Req]) -> Result<(), TestCaseError> {
    let got = responses(written, reqs);
    prop_assert_eq!(got.len(), reqs.len(), "one response per request");
    for (i, (r, q)) in got.iter().zip(reqs).enumerate() {
        prop_assert_eq!(r.status, 200, "request {}: {:?}", i, r);
        prop_assert!(r.header("Connection").is_none(), "request {} closes: {:?}", i, r);
        let want = q.expected_body();
        match q.target {
            Target::Root if q.method != Method::Head => {
                let json: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON body");
                prop_assert_eq!(&json["method"], q.method.as_str());
                prop_assert_eq!(&json["path"], "/");
            }
            Target::Root => prop_assert!(r.body.is_empty()),
            _ if q.method == Method::Head => {
                prop_assert!(r.body.is_empty());
                let len = want.len().to_string();
                prop_assert_eq!(r.header("Content-Length"), Some(len.as_str()));
            }
            _ => prop_assert_eq!(&r.body, &want, "request {}", i),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pipelined_requests_get_the_same_answers_however_the_bytes_arrive(
        reqs in prop::collection::vec(request(), 1..8),
        plan in plan(),
    ) {
        let stream: Vec<u8> = reqs.iter().flat_map(Req::wire).collect();
        let whole = Plan { pieces: Vec::new(), max_write: usize::MAX };
        let (expected, closed) = serve(&stream, &whole);
        check_answers(&expected, &reqs)?;
        prop_assert!(!closed, "keep-alive connection closed");

        let (split, closed) = serve(&stream, &plan);
        prop_assert!(!closed, "keep-alive connection closed when split");
        if split != expected {
            check_answers(&split, &reqs)?;
            prop_assert_eq!(String::from_utf8_lossy(&split), String::from_utf8_lossy(&expected));
        }
    }
}

// ---------------------------------------------------------------------------
// The head parser.

fn limits() -> Limits {
    Settings::from_config(&Config::defaults()).parse
}

/// What a parse gave, owned, so results of different buffers compare.
fn outcome(buf: &[u8], limits: &Limits) -> String {
    format!("{:?}", parse_head(buf, limits))
}

/// Re-parsing exactly the head of a complete parse gives the same head.
fn check_complete_is_self_contained(buf: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    if let Ok(Parsed::Complete(head, used)) = parse_head(buf, limits) {
        prop_assert!(used <= buf.len());
        prop_assert_eq!(parse_head(&buf[..used], limits), Ok(Parsed::Complete(head, used)));
        for k in 0..used {
            prop_assert_eq!(parse_head(&buf[..k], limits), Ok(Parsed::Partial), "prefix {} of {}", k, used);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_valid_head_parses_the_same_whole_split_and_byte_at_a_time(req in request(), next in request()) {
        let limits = limits();
        let head = req.head();
        // Whatever follows the head (body, next request) is not its business.
        let buf = [head.clone(), req.body(), next.wire()].concat();
        let whole = parse_head(&buf, &limits);
        let expected = format!("{whole:?}");
        let Ok(Parsed::Complete(h, used)) = &whole else {
            return Err(TestCaseError::fail(format!("valid head refused: {whole:?}")));
        };
        prop_assert_eq!(*used, head.len());
        prop_assert_eq!(h.method, req.method);
        prop_assert_eq!(h.path, req.target());
        prop_assert_eq!(h.user_agent, req.user_agent.as_deref().map(str::as_bytes));
        prop_assert!(h.keep_alive && h.http11);
        let framing = match &req.body {
            Body::None => Framing::None,
            Body::Length(b) => Framing::Length(b.len() as u64),
            Body::Chunked(..) => Framing::Chunked,
        };
        prop_assert_eq!(h.framing, framing);

        // Split at every offset, which for a pure parser is also one byte at
        // a time: every shorter prefix is incomplete (never an error, never a
        // head), and the first complete parse is the whole head.
        for k in 0..head.len() {
            prop_assert_eq!(parse_head(&buf[..k], &limits), Ok(Parsed::Partial), "prefix {}", k);
        }
        prop_assert_eq!(outcome(&buf[..head.len()], &limits), expected);
    }

    #[test]
    fn random_bytes_never_panic_the_parser(
        buf in prop::collection::vec(any::<u8>(), 0..600),
        max_uri in prop_oneof![Just(1usize), Just(16), Just(8192)],
        max_head in prop_oneof![Just(0usize), Just(64), Just(16384)],
        max_headers in prop_oneof![Just(0usize), Just(1), Just(100), Just(5000)],
    ) {
        let limits = Limits { max_uri, max_head, max_headers };
        check_complete_is_self_contained(&buf, &limits)?;
    }

    #[test]
    fn mangled_valid_requests_never_panic_the_parser(
        req in request(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..4),
    ) {
        let mut buf = req.wire();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        check_complete_is_self_contained(&buf, &limits())?;
    }
}

/// The parser's one entry point, its answer returned.
fn parse_head<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, HttpError> {
    let mut answer = Ok(Parsed::Partial);
    loophttp::http::parse_head(buf, limits, &mut LastValidHost::default(), &mut answer);
    answer
}
