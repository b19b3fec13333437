//! The per-loop context every connection call gets (as `cx`). Each loop has
//! its own; `--workers` share nothing. It holds what one pass of the loop
//! needs, grouped by who owns it and how long it holds:
//!
//! - the pass: the clock read once per pass, the `Date` refreshed with it,
//!   and the drain (set when a signal starts one);
//! - the loop's lending: the buffer pool ([`crate::pool`]) and where calls
//!   that can wait on the disk go ([`crate::blocking`]);
//! - `setup`: fixed for the loop's life, consulted by every connection
//!   ([`Setup`]: routes, limits and timeouts, the host memo);
//! - `observe`: the reporting side the request records report into
//!   ([`crate::inflight::Observer`]: the access log, the counters).

use std::time::Instant;

use crate::blocking::Blocking;
use crate::http::date::DateCache;
use crate::inflight::Observer;
use crate::lifecycle::Drain;
pub use crate::pool::BufPool;
use crate::routes::Routes;
use crate::setup::{Settings, Setup};

/// The per-loop context handed to every connection call.
pub struct Context {
    /// The loop's clock, read once per pass: "the loop owns time".
    pub now: Instant,
    pub date: DateCache,
    /// Set once SIGTERM/SIGINT started a drain: every answer closes its
    /// connection, and idle connections close after the grace.
    pub drain: Option<Drain>,
    pub pool: BufPool,
    /// Where calls that can wait on the disk go: run in place, or
    /// collected for the loop's blocking-I/O pool ([`crate::blocking`]).
    pub blocking: Blocking,
    /// What the loop was set up with: routes, settings, the host memo.
    pub setup: Setup,
    /// The access log and the counters (off in a bare `Context::new`).
    pub observe: Observer,
}

impl Context {
    pub fn new(routes: Routes, settings: Settings) -> Context {
        Context {
            now: Instant::now(),
            date: DateCache::default(),
            drain: None,
            pool: BufPool::new(settings.parse.max_head),
            blocking: Blocking::Inline,
            setup: Setup::new(routes, settings),
            observe: Observer::default(),
        }
    }
}
