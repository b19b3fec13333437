//! The per-loop context every connection call gets (as `cx`): the loop's
//! clock, the cached `Date`, a pool of buffers ([`crate::pool`]), the
//! routes, and the settings. Each loop has its own; `--workers` share nothing.

use std::time::{Duration, Instant};

use crate::blocking::Blocking;
use crate::config::Config;
use crate::forwarded::Cidr;
use crate::http::Limits;
use crate::http::authority::LastValidHost;
use crate::http::date::DateCache;
use crate::inflight::Observer;
use crate::lifecycle::Drain;
pub use crate::pool::BufPool;
use crate::routes::Routes;

/// How long a connection lingers after an error response, reading and
/// dropping input so the client sees our status rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// Limits and timeouts a connection obeys, from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub parse: Limits,
    pub max_body: u64,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// Slowest average body rate (bytes/s) after the grace; 0 = no check.
    pub body_min_rate: u64,
    pub body_rate_grace: Duration,
    pub keepalive_timeout: Duration,
    pub write_timeout: Duration,
    pub linger: Duration,
    /// `--trust-proxy`: peers whose forwarding headers name the client
    /// (the access log's peer, see [`crate::forwarded::client_addr`]).
    pub trust_proxy: Vec<Cidr>,
    /// `--header` lines added to every response, each `\r\nName: value`.
    pub extra_headers: Vec<u8>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            parse: Limits { max_uri: c.max_uri_bytes, max_head: c.max_head_bytes, max_headers: c.max_headers },
            max_body: c.max_body_bytes,
            header_timeout: c.header_timeout,
            body_timeout: c.body_timeout,
            body_min_rate: c.body_min_rate,
            body_rate_grace: c.body_rate_grace,
            keepalive_timeout: c.keepalive_timeout,
            write_timeout: c.write_timeout,
            linger: LINGER,
            trust_proxy: c.trust_proxy.clone(),
            extra_headers: c.site.header_lines(),
        }
    }
}

/// The per-loop context handed to every connection call.
pub struct Context {
    /// The loop's clock, read once per pass: "the loop owns time".
    pub now: Instant,
    pub date: DateCache,
    pub pool: BufPool,
    pub routes: Routes,
    pub settings: Settings,
    /// Set once SIGTERM/SIGINT started a drain: every answer closes its
    /// connection, and idle connections close after the grace.
    pub drain: Option<Drain>,
    /// The access log and the counters (off in a bare `Context::new`).
    pub observe: Observer,
    /// The last `Host` value found valid, for the parser to recognise.
    pub last_valid_host: LastValidHost,
    /// Where calls that can wait on the disk go: run in place, or
    /// collected for the loop's blocking-I/O pool ([`crate::blocking`]).
    pub blocking: Blocking,
}

impl Context {
    pub fn new(routes: Routes, settings: Settings) -> Context {
        Context {
            now: Instant::now(),
            date: DateCache::default(),
            pool: BufPool::new(settings.parse.max_head),
            routes,
            settings,
            drain: None,
            observe: Observer::default(),
            last_valid_host: LastValidHost::default(),
            blocking: Blocking::Inline,
        }
    }
}
