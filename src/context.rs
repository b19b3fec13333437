//! The per-loop context every connection call gets (as `cx`): the loop's
//! clock, the cached `Date`, a pool of buffers, the routes, and the
//! settings. Each loop has its own; `--workers` share nothing.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::forwarded::Cidr;
use crate::http::Limits;
use crate::http::authority::LastValidHost;
use crate::http::date::DateCache;
use crate::inflight::Observer;
use crate::lifecycle::Drain;
use crate::routes::Routes;

/// How long a connection lingers after an error response, reading and
/// dropping input so the client sees our status rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);
/// Spare buffers kept per pool; more are freed.
const POOL_SPARE: usize = 256;
/// Output buffers that grew beyond this are freed rather than pooled.
const OUT_KEEP_MAX: usize = 128 * 1024;
/// Minimum read-buffer size; it is also at least the head limit.
const READ_BUF_MIN: usize = 16 * 1024;

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

/// Buffers handed to busy connections and taken back when they go idle, so
/// idle connections hold none and busy ones allocate none per request.
#[derive(Debug)]
pub struct BufPool {
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    input_size: usize,
}

impl BufPool {
    pub fn new(max_head: usize) -> BufPool {
        // One byte more than the head limit, so a head at the limit plus one
        // byte is seen (and refused) rather than filling the buffer.
        let input_size = READ_BUF_MIN.max(max_head + 1);
        BufPool { inputs: Vec::new(), outputs: Vec::new(), input_size }
    }

    /// A zero-initialised input buffer whose `len()` is its usable size.
    pub fn take_input(&mut self) -> Vec<u8> {
        self.inputs.pop().unwrap_or_else(|| vec![0; self.input_size])
    }

    pub fn put_input(&mut self, buf: Vec<u8>) {
        if self.inputs.len() < POOL_SPARE && buf.len() == self.input_size {
            self.inputs.push(buf);
        }
    }

    /// Spare (input, output) buffers held: for tests of buffer reuse.
    #[cfg(test)]
    pub fn spare(&self) -> (usize, usize) {
        (self.inputs.len(), self.outputs.len())
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        self.outputs.pop().unwrap_or_else(|| Vec::with_capacity(4096))
    }

    pub fn put_output(&mut self, mut buf: Vec<u8>) {
        if self.outputs.len() < POOL_SPARE && buf.capacity() <= OUT_KEEP_MAX {
            buf.clear();
            self.outputs.push(buf);
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
        }
    }
}
