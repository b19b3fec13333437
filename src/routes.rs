//! (method, path) → handler. Routes know requests and responses, never
//! connections: a handler either answers at once or asks for the body to be
//! streamed into an [`Upload`] and answers when it is complete.
//!
//! | path            | methods                              |
//! |-----------------|--------------------------------------|
//! | `/`             | GET, HEAD, POST → JSON echo of the request |
//! | `/echo/{s}`     | GET, HEAD → `s`                      |
//! | `/user-agent`   | GET, HEAD → the `User-Agent` value   |
//! | `/files/{name}` | GET, HEAD; POST, PUT with `--allow-upload`; DELETE with `--allow-delete` |
//! | `/healthz`      | GET, HEAD → `ok`                     |
//! | `/metrics`      | GET, HEAD → the Prometheus exposition (with `--metrics-addr` or `--metrics-public`) |
//!
//! Every route also answers `OPTIONS` with `Allow`; a wrong method (a write
//! not enabled included) gets 405 with `Allow`, before anything touches the
//! disk; any other path 404. Connections through `--metrics-addr`'s
//! listener ([`Face::Metrics`]) see only `/metrics` and `/healthz`; the
//! public port serves `/metrics` only with `--metrics-public`.
//!
//! While uploads are on, every `/files` answer carries
//! `Content-Security-Policy: sandbox`: what a client wrote is never active
//! content on this origin (README, "Security").

use std::borrow::Cow;
use std::ffi::OsStr;

use crate::error::HttpError;
use crate::files::{self, FileStore, Upload};
use crate::http::encoding::{accepts_gzip, gzip};
use crate::http::{Body, Head, Method, Response};
use crate::metrics::Metrics;
use crate::metrics::labels::Route;
use crate::site::Site;
use crate::status;

const ALLOW_ROOT: &str = "GET, HEAD, POST, OPTIONS";
const ALLOW_READ: &str = "GET, HEAD, OPTIONS";

/// Which writes `/files` takes: `--allow-upload` (POST, PUT) and
/// `--allow-delete` (DELETE). Both off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    pub upload: bool,
    pub delete: bool,
}

impl Writes {
    /// `Allow` for `/files/{name}`: only what is enabled.
    fn allow_files(self) -> &'static str {
        match (self.upload, self.delete) {
            (false, false) => ALLOW_READ,
            (true, false) => "GET, HEAD, POST, PUT, OPTIONS",
            (false, true) => "GET, HEAD, DELETE, OPTIONS",
            (true, true) => "GET, HEAD, POST, PUT, DELETE, OPTIONS",
        }
    }

    /// `Allow` for `OPTIONS *`: every method some route takes (`/` takes POST).
    fn allow_any(self) -> &'static str {
        match (self.upload, self.delete) {
            (false, false) => ALLOW_ROOT,
            (true, false) => "GET, HEAD, POST, PUT, OPTIONS",
            (false, true) => "GET, HEAD, POST, DELETE, OPTIONS",
            (true, true) => "GET, HEAD, POST, PUT, DELETE, OPTIONS",
        }
    }
}

/// What a handler wants the connection to do next.
#[derive(Debug)]
pub enum Action<'a> {
    /// Send this response (any request body is not needed).
    Respond(Response<'a>),
    /// Stream the request body into this upload, commit it, then answer with
    /// [`upload_answer`].
    Upload(Upload),
}

/// Which listener a connection came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Face {
    /// The server's port: every route.
    #[default]
    Public,
    /// `--metrics-addr`: `/metrics` and `/healthz` only.
    Metrics,
}

/// The routes of one event loop.
#[derive(Debug, Clone)]
pub struct Routes {
    files: Option<FileStore>,
    /// Site mode (a root): the tree at `/`, in place of the tutorial routes.
    site: Option<Site>,
    writes: Writes,
    /// None with `--no-metrics`.
    metrics: Option<Metrics>,
    /// `/metrics` answers on the public port (`--metrics-public`).
    metrics_public: bool,
}

impl Routes {
    /// Read-only routes, serving `files` if given, and no `/metrics`.
    pub fn new(files: Option<FileStore>) -> Routes {
        Routes { files, site: None, writes: Writes::default(), metrics: None, metrics_public: false }
    }

    /// Takes the writes `writes` enables under `/files`.
    pub fn with_writes(mut self, writes: Writes) -> Routes {
        self.writes = writes;
        self
    }

    /// Serves `site` at `/` instead of the tutorial routes.
    pub fn with_site(mut self, site: Option<Site>) -> Routes {
        self.site = site;
        self
    }

    /// Serves `metrics` at `/metrics`: on the public port too if `public`.
    pub fn with_metrics(mut self, metrics: Option<Metrics>, public: bool) -> Routes {
        self.metrics = metrics;
        self.metrics_public = public;
        self
    }

    /// Which route `head` takes through `face`: the one classification of
    /// a request, made as it arrives. Its label travels with the request
    /// (its record, the access log, the metrics), and [`Routes::route`]
    /// dispatches on it. In site mode everything but `/healthz` and
    /// `/metrics` is the site's, labelled `other`.
    #[inline]
    pub fn classify(&self, head: &Head<'_>, face: Face) -> Route {
        match (head.path, face) {
            ("/healthz", _) => Route::Healthz,
            ("/metrics", Face::Metrics) => Route::Metrics,
            ("/metrics", Face::Public) if self.metrics_public => Route::Metrics,
            (_, Face::Metrics) | ("*", _) => Route::Other,
            _ if self.site.is_some() => Route::Other,
            // Without a `%` the path is its decoded self.
            _ if !head.path_escaped => classify_path(head.path.as_bytes()),
            _ => head.decoded_path().map_or(Route::Other, |p| classify_path(&p)),
        }
    }

    /// Answers `head`, classified as `route`, through `face`.
    pub fn route<'a>(&self, head: &Head<'a>, face: Face, route: Route) -> Action<'a> {
        let m = head.method;
        match route {
            Route::Healthz => return Action::Respond(read_only(m, || Response::text(status::OK, &b"ok"[..]))),
            Route::Metrics => return Action::Respond(self.metrics(head)),
            _ if face == Face::Metrics => return Action::Respond(Response::error(HttpError::NotFound)),
            _ => {}
        }
        if let Some(site) = &self.site {
            return Action::Respond(site.serve(head));
        }
        if head.path == "*" {
            return Action::Respond(with_allow(Response::text(status::OK, &b""[..]), self.writes.allow_any()));
        }
        // Decoded again only if it holds a `%` (borrowed otherwise); the
        // route was decided by `classify`.
        let path = match head.decoded_path() {
            Ok(p) => p,
            Err(e) => return Action::Respond(Response::error(e)),
        };
        // Each arm builds its answer where it is returned: a response is
        // large, and one built aside and then wrapped would be copied.
        match route {
            Route::Root => Action::Respond(match m {
                Method::Get | Method::Head | Method::Post => root(head),
                _ => method_not_allowed(m, ALLOW_ROOT),
            }),
            // Built where it is returned, not through `read_only`'s
            // closure: that kept the answer aside and copied it (224 bytes,
            // twice a request: callgrind, examples/hotpath.rs).
            Route::Echo => match m {
                Method::Get | Method::Head => Action::Respond(plain(head, strip(&path, b"/echo/"))),
                m => Action::Respond(method_not_allowed(m, ALLOW_READ)),
            },
            Route::UserAgent => match m {
                Method::Get | Method::Head => {
                    Action::Respond(plain(head, Cow::Borrowed(head.user_agent.unwrap_or_default())))
                }
                m => Action::Respond(method_not_allowed(m, ALLOW_READ)),
            },
            Route::Files => self.files_route(head, &strip(&path, b"/files/")),
            _ => Action::Respond(Response::error(HttpError::NotFound)),
        }
    }

    /// `GET /metrics`: rendered now, in the format the scraper accepts.
    fn metrics<'a>(&self, head: &Head<'_>) -> Response<'a> {
        let Some(metrics) = &self.metrics else { return Response::error(HttpError::NotFound) };
        read_only(head.method, || {
            let rendered = metrics.render(head.accept);
            let mut resp = Response::text(status::OK, rendered.body.into_bytes());
            resp.content_type = Some(rendered.content_type);
            resp
        })
    }

    fn files_route<'a>(&self, head: &Head<'_>, name: &[u8]) -> Action<'a> {
        // Without --directory there is nothing under /files.
        let Some(store) = &self.files else { return Action::Respond(Response::error(HttpError::NotFound)) };
        let name: &OsStr = match files::sanitize(name) {
            Ok(n) => n,
            Err(e) => return Action::Respond(Response::error(e)),
        };
        let w = self.writes;
        let mut resp = match head.method {
            Method::Get | Method::Head => store.download(name, head),
            Method::Post | Method::Put if w.upload => match store.begin_upload(name) {
                Ok(upload) => return Action::Upload(upload),
                Err(e) => Response::error(e),
            },
            Method::Delete if w.delete => match store.delete(name) {
                Ok(()) => Response::new(status::NO_CONTENT),
                Err(e) => Response::error(e),
            },
            // A write not enabled: 405 before the disk is touched.
            m => method_not_allowed(m, w.allow_files()),
        };
        // Clients may have written this file: a browser must not run it as
        // this origin's page (README, "Security").
        resp.sandbox = w.upload;
        Action::Respond(resp)
    }
}

/// The answer once an upload's whole body has arrived and its commit
/// ([`Upload::commit`], run in the blocking-I/O pool) came to `committed`,
/// the same for POST and PUT: 201 when the file was created, 204 when it
/// replaced one.
pub fn upload_answer(committed: std::io::Result<bool>, method: Method) -> Response<'static> {
    match committed {
        Ok(true) => Response::new(status::NO_CONTENT),
        Ok(false) => Response::text(status::CREATED, &b"Created"[..]),
        Err(e) => {
            log::warn!(method = method.as_str(), error:% = e; "upload commit failed");
            Response::error(HttpError::Internal("upload commit failed"))
        }
    }
}

/// `path` without `prefix`, which [`classify_path`] found there.
#[inline(always)]
fn strip<'p>(path: &Cow<'p, [u8]>, prefix: &[u8]) -> Cow<'p, [u8]> {
    match path {
        Cow::Borrowed(p) => Cow::Borrowed(&p[prefix.len()..]),
        Cow::Owned(p) => Cow::Owned(p[prefix.len()..].to_vec()),
    }
}

/// The route of a decoded path. (Always inlined: every request is
/// classified, and the call cost a few instructions of its ~14.)
#[inline(always)]
pub fn classify_path(path: &[u8]) -> Route {
    match path {
        b"/" => Route::Root,
        b"/user-agent" => Route::UserAgent,
        p if p.starts_with(b"/echo/") => Route::Echo,
        p if p.starts_with(b"/files/") => Route::Files,
        _ => Route::Other,
    }
}

/// Always inlined: it runs for every request to a read-only route, and
/// out of line it cost ~30 instructions per request (callgrind, hotpath).
#[inline(always)]
fn read_only<'a>(m: Method, ok: impl FnOnce() -> Response<'a>) -> Response<'a> {
    match m {
        Method::Get | Method::Head => ok(),
        m => method_not_allowed(m, ALLOW_READ),
    }
}

/// `OPTIONS` is answered with the methods; any other method is not allowed.
fn method_not_allowed<'a>(m: Method, methods: &'static str) -> Response<'a> {
    let r = if m == Method::Options {
        Response::text(status::OK, &b""[..])
    } else {
        Response::error(HttpError::MethodNotAllowed)
    };
    with_allow(r, methods)
}

fn with_allow<'a>(mut r: Response<'a>, methods: &'static str) -> Response<'a> {
    r.allow = Some(methods);
    r
}

/// `text/plain`, gzip-compressed when the client accepts it (as
/// [`negotiate`] decides). One expression, always inlined: it answers
/// every `/echo`, and a response made in a variable and then returned was
/// copied on the way out (callgrind, examples/hotpath.rs).
#[inline(always)]
fn plain<'a>(head: &Head<'_>, body: Cow<'a, [u8]>) -> Response<'a> {
    let gzip = accepts_gzip(head.accept_encoding);
    let body = if gzip { Cow::Owned(self::gzip(&body)) } else { body };
    Response { gzip, vary_encoding: true, ..Response::text(status::OK, body) }
}

/// Compresses the body if the client accepts gzip. (In place: a response
/// is large, and passing it through by value would copy it.)
fn negotiate(head: &Head<'_>, resp: &mut Response<'_>) {
    resp.vary_encoding = true;
    if accepts_gzip(head.accept_encoding)
        && let Body::Bytes(b) = &resp.body
    {
        resp.body = Body::Bytes(Cow::Owned(gzip(b)));
        resp.gzip = true;
    }
}

/// `GET /`: a JSON description of the request. HEAD describes the GET it
/// stands for, so its Content-Length matches GET's (RFC 9110 §9.3.2).
fn root<'a>(head: &Head<'_>) -> Response<'a> {
    let method = if head.method == Method::Head { Method::Get } else { head.method };
    // Written field by field in the documented form and order, with
    // serde_json escaping the strings: the body is the only allocation (a
    // `json!` map would add one per key and value).
    let mut body = Vec::with_capacity(96 + head.path.len());
    body.extend_from_slice(br#"{"message": "Request received successfully", "method": "#);
    json_string(&mut body, method.as_str());
    body.extend_from_slice(br#", "path": "#);
    json_string(&mut body, head.path);
    body.push(b'}');
    let mut resp = Response::new(status::OK);
    resp.content_type = Some("application/json");
    resp.body = Body::Bytes(Cow::Owned(body));
    negotiate(head, &mut resp);
    resp
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}
