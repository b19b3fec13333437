//! What a loop is set up with and its connections consult, fixed for the
//! loop's life: the routes, the limits and timeouts ([`Settings`], from
//! [`Config`]), and the parser's memo of the last valid `Host`. The
//! per-pass side (clock, `Date`, buffers, the drain) is
//! [`crate::context::Context`], which carries one of these as `cx.setup`.

use std::time::Duration;

use crate::config::Config;
use crate::forwarded::Cidr;
use crate::http::Limits;
use crate::http::authority::LastValidHost;
use crate::routes::Routes;

/// How long a connection lingers after an error response, reading and
/// dropping input so the client sees our status rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// The loop's fixed setup: set once when the loop starts, read by every
/// connection call (the host memo aside, which only the parser writes).
pub struct Setup {
    pub routes: Routes,
    pub settings: Settings,
    /// The last `Host` value found valid, for the parser to recognise:
    /// a loop-long memo, never reset between passes.
    pub last_valid_host: LastValidHost,
}

impl Setup {
    pub fn new(routes: Routes, settings: Settings) -> Setup {
        Setup { routes, settings, last_valid_host: LastValidHost::default() }
    }
}

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
