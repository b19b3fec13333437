//! Flags, defaults, limits and timeouts: every number the server obeys has a
//! name here, so the loop itself contains no magic numbers.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

mod load;
pub mod values;

pub use load::{Generate, LoadError, generate};

use crate::access_log::{Destination, Format};
use crate::forwarded::Cidr;
use crate::logging::LogFormat;

pub mod headers;
pub mod site;

/// Largest request-target, in bytes (→ 414).
pub const DEFAULT_MAX_URI: usize = 8 * 1024;
/// Largest request line + header section, in bytes (→ 431).
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one request (→ 431).
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Largest request body, in bytes (→ 413).
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;
/// Slowest average rate of a request body, in bytes per second, once the
/// grace has passed (→ 408). Apache's mod_reqtimeout uses the same figure
/// (`body=20,MinRate=500`): far below any real link, far above a trickle.
pub const DEFAULT_BODY_MIN_RATE: u64 = 500;
/// Open connections per worker before the server stops accepting.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Blocking-I/O threads per worker (`--io-threads`): uploads committing at
/// once before the next waits in the queue (`blocking::QUEUE`).
pub const DEFAULT_IO_THREADS: usize = 4;
/// Listen backlog: sized for load tests that open hundreds of connections at once.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Text files smaller than this go uncompressed in site mode: below one
/// TCP segment (~1,400 bytes) compression saves no packet and no round trip,
/// only CPU, and gzip's 18-byte frame makes a tiny body larger.
pub const DEFAULT_COMPRESS_MIN_BYTES: u64 = 1024;

/// Hard ceiling on `--max-headers`: the parser keeps its header array on the stack.
pub use crate::http::request::MAX_HEADERS_CEILING;

/// The tail of `--help`: the units, once, rather than on every flag.
const AFTER_HELP: &str = "\
Durations: 10s, 1.5s, 250ms, 2m, 1h (a plain number is seconds; at most 24h).
Sizes: 16384, 64KiB, 10M, 1G (K, M, G are powers of 1024).
Each flag --some-name can also be set as LOOPHTTP_SOME_NAME; a flag wins over its variable.";

/// A small HTTP/1.1 server on a single mio event loop.
///
/// Serves `/`, `/echo/{s}`, `/user-agent` and `/files/{name}` (with
/// `--directory`). Durations take a unit (`10s`, `1.5s`, `250ms`, `2m`,
/// `1h`; a plain number is seconds; at most 24h). Sizes take an optional
/// unit (`16384`, `64KiB`, `10M`: K, M and G are powers of 1024).
/// Boolean variables take 1/0, true/false or yes/no.
#[derive(Parser, Debug, Clone)]
#[command(name = "loophttp", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Config {
    /// Address to bind; `::` listens on IPv4 and IPv6 alike (dual-stack).
    #[arg(long, default_value = "::", env = "LOOPHTTP_HOST")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free one (the startup log line names it).
    #[arg(short, long, default_value_t = 4221, env = "LOOPHTTP_PORT")]
    pub port: u16,

    /// Directory served by /files/{name}; without it /files answers 404.
    #[arg(long, env = "LOOPHTTP_DIRECTORY")]
    pub directory: Option<PathBuf>,

    /// Let clients write files: POST and PUT /files/{name}. Off: they get 405.
    #[arg(long, value_parser = values::boolean, env = "LOOPHTTP_ALLOW_UPLOAD")]
    pub allow_upload: bool,

    /// Let clients delete files: DELETE /files/{name}. Off: it gets 405.
    #[arg(long, value_parser = values::boolean, env = "LOOPHTTP_ALLOW_DELETE")]
    pub allow_delete: bool,

    /// Site mode: ROOT and its flags (`config/site.rs`).
    #[command(flatten)]
    pub site: site::SiteArgs,

    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", env = "LOOPHTTP_LOG_LEVEL")]
    pub log_level: log::LevelFilter,

    /// Log line format: text (human) or json (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "LOOPHTTP_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Independent event loops sharing one listening socket; 0 = one per core.
    #[arg(long, default_value_t = 1, value_parser = values::workers, env = "LOOPHTTP_WORKERS")]
    pub workers: usize,

    /// Let other processes listen on the same port (SO_REUSEPORT), for
    /// several instances on one port on purpose; without it a port in use is an error.
    #[arg(long, value_parser = values::boolean, env = "LOOPHTTP_REUSE_PORT")]
    pub reuse_port: bool,

    /// Listen backlog handed to the kernel.
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_parser = values::backlog, env = "LOOPHTTP_BACKLOG")]
    pub backlog: i32,

    /// Open connections per worker; past it the server stops accepting until one closes.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = values::max_connections, env = "LOOPHTTP_MAX_CONNECTIONS")]
    pub max_connections: usize,

    /// Threads per worker for file-system calls that can wait on the disk (an upload's fsync and rename).
    #[arg(long, default_value_t = DEFAULT_IO_THREADS, value_parser = values::io_threads, env = "LOOPHTTP_IO_THREADS")]
    pub io_threads: usize,

    /// Longest request-target (longer → 414); at most 1MiB.
    #[arg(long, default_value = "8KiB", value_name = "SIZE", value_parser = values::uri_size, env = "LOOPHTTP_MAX_URI_BYTES")]
    pub max_uri_bytes: usize,

    /// Largest request head, request line + headers (larger → 431); from 64 bytes to 1MiB.
    #[arg(long, default_value = "16KiB", value_name = "SIZE", value_parser = values::head_size, env = "LOOPHTTP_MAX_HEAD_BYTES")]
    pub max_head_bytes: usize,

    /// Most header fields per request (more → 431).
    #[arg(long, default_value_t = DEFAULT_MAX_HEADERS, value_parser = values::max_headers, env = "LOOPHTTP_MAX_HEADERS")]
    pub max_headers: usize,

    /// Largest request body (larger → 413, nothing written).
    #[arg(long, default_value = "64MiB", value_name = "SIZE", value_parser = values::body_size, env = "LOOPHTTP_MAX_BODY_BYTES")]
    pub max_body_bytes: u64,

    /// Time from the first byte of a request head to its end (then 408 and close).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_HEADER_TIMEOUT")]
    pub header_timeout: Duration,

    /// Longest pause while receiving a body (then 408 and close).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_BODY_TIMEOUT")]
    pub body_timeout: Duration,

    /// Slowest average body rate in bytes/s, measured from the body's start
    /// once --body-rate-grace has passed (slower → 408 and close, a partial
    /// upload removed); 0 turns the check off.
    #[arg(long, default_value_t = DEFAULT_BODY_MIN_RATE, value_name = "BYTES_PER_SEC", env = "LOOPHTTP_BODY_MIN_RATE")]
    pub body_min_rate: u64,

    /// How long a body may arrive at any rate before --body-min-rate applies.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_BODY_RATE_GRACE")]
    pub body_rate_grace: Duration,

    /// How long an idle keep-alive connection is kept open.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_KEEPALIVE_TIMEOUT")]
    pub keepalive_timeout: Duration,

    /// Longest pause in sending to a client that stopped reading (then close).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_WRITE_TIMEOUT")]
    pub write_timeout: Duration,

    /// After SIGTERM/SIGINT, the longest wait for requests in flight; what is left then is cut.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Duration,

    /// During that drain, how long a connection may sit idle before it is closed
    /// (keep a proxy's upstream keep-alive timeout shorter).
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_DRAIN_GRACE")]
    pub drain_grace: Duration,

    /// Access log: `-` (stdout), `off`, or a file appended to (reopened on SIGUSR1).
    #[arg(long, default_value = "-", value_name = "PATH|-|off", env = "LOOPHTTP_ACCESS_LOG")]
    pub access_log: Destination,

    /// Access-log line format: Combined (plus request time) or JSON lines.
    #[arg(long, value_enum, default_value_t = Format::Combined, env = "LOOPHTTP_ACCESS_LOG_FORMAT")]
    pub access_log_format: Format,

    /// Serve /metrics (and /healthz) on a listener of their own at this
    /// address, say 127.0.0.1:9464. Without it or --metrics-public, /metrics is not served.
    #[arg(long, value_name = "ADDR:PORT", env = "LOOPHTTP_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Serve /metrics on the main port too, to anyone who can reach it.
    #[arg(long, value_parser = values::boolean, env = "LOOPHTTP_METRICS_PUBLIC")]
    pub metrics_public: bool,

    /// Count nothing and serve no /metrics (counting costs next to nothing).
    #[arg(long, conflicts_with_all = ["metrics_addr", "metrics_public"], value_parser = values::boolean, env = "LOOPHTTP_NO_METRICS")]
    pub no_metrics: bool,

    /// Proxies (CIDRs or addresses, comma-separated) whose `Forwarded` / `X-Forwarded-For` name the client
    /// in the access log and metrics; from any other peer those headers are ignored.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',', env = "LOOPHTTP_TRUST_PROXY")]
    pub trust_proxy: Vec<Cidr>,

    /// Write the serving process's pid here (atomically); after an upgrade (SIGUSR2) the new
    /// process's. Removed at exit by the process it names.
    #[arg(long, value_name = "PATH", env = "LOOPHTTP_PID_FILE")]
    pub pid_file: Option<PathBuf>,

    /// On SIGUSR2, how long the new process may take to say it serves before it is stopped and
    /// this one serves on.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = values::duration, env = "LOOPHTTP_UPGRADE_TIMEOUT")]
    pub upgrade_timeout: Duration,

    /// Health-check client instead of a server: GET this http:// URL, exit 0 on a 2xx, 1 otherwise.
    /// For a container's HEALTHCHECK, which has no shell and no curl. Not read from the environment.
    #[arg(long, value_name = "URL")]
    pub probe: Option<String>,

    /// How long `--probe` waits for a connection and the status line.
    #[arg(long, default_value = "3s", value_name = "DURATION", value_parser = values::duration)]
    pub probe_timeout: Duration,

    /// Print a man page or a shell's completions (from these very flags) and exit.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub generate: Option<Generate>,

    /// The settings whose value came from their environment variable, so
    /// a message about one names the variable (filled by [`Config::load`]).
    #[arg(skip)]
    pub from_env: Vec<String>,
}

impl Config {
    /// The configuration with every default, as `loophttp` with no flags.
    /// Hermetic: `LOOPHTTP_*` variables in the caller's environment are not read.
    pub fn defaults() -> Config {
        let cmd = Config::command().mut_args(|a| a.env(None));
        let matches = cmd.get_matches_from(["loophttp"]);
        Config::from_arg_matches(&matches).expect("the defaults parse")
    }

    /// Number of event loops to run: `--workers 0` means one per core.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Checks that cannot be expressed as a clap value parser: those about
    /// the world outside (is `--directory` there?). The message names the
    /// flag, or its variable when the value came from the environment.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(dir) = &self.directory {
            let problem = match std::fs::metadata(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist".to_string()),
                Err(e) => Some(format!("cannot be read: {e}")),
                Ok(m) if !m.is_dir() => Some("is not a directory".to_string()),
                Ok(_) => std::fs::read_dir(dir).err().map(|e| format!("cannot be read: {e}")),
            };
            if let Some(problem) = problem {
                return Err(format!("{} {}: {problem}", self.name_of("directory"), dir.display()));
            }
        }
        self.site.validate()?;
        Ok(())
    }

    /// How to name the setting `id` (clap's id, `metrics_addr`) in a
    /// message: `--metrics-addr`, or `LOOPHTTP_METRICS_ADDR` when its value
    /// came from that environment variable.
    pub fn name_of(&self, id: &str) -> String {
        if self.from_env.iter().any(|e| e == id) {
            format!("LOOPHTTP_{}", id.to_ascii_uppercase())
        } else {
            format!("--{}", id.replace('_', "-"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_limits() {
        let c = Config::defaults();
        assert_eq!(c.port, 4221);
        assert_eq!(c.host, "::".parse::<IpAddr>().unwrap());
        assert_eq!(c.max_uri_bytes, 8192);
        assert_eq!(c.max_head_bytes, 16384);
        assert_eq!(c.max_headers, 100);
        assert_eq!(c.max_body_bytes, 64 << 20);
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(60));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(c.drain_grace, Duration::from_secs(2));
        assert_eq!(c.body_min_rate, 500);
        assert_eq!(c.body_rate_grace, Duration::from_secs(10));
    }

    #[test]
    fn observability_flags() {
        let c = Config::defaults();
        assert_eq!(c.access_log, Destination::Stdout);
        assert_eq!(c.access_log_format, Format::Combined);
        assert_eq!((c.metrics_addr, c.metrics_public, c.no_metrics), (None, false, false));
        let c = Config::parse_from([
            "loophttp",
            "--access-log",
            "/tmp/a.log",
            "--access-log-format",
            "json",
            "--metrics-addr",
            "127.0.0.1:9100",
        ]);
        assert_eq!(c.access_log, Destination::File("/tmp/a.log".into()));
        assert_eq!(c.access_log_format, Format::Json);
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(Config::parse_from(["loophttp", "--access-log", "off"]).access_log, Destination::Off);
        assert!(Config::try_parse_from(["loophttp", "--no-metrics", "--metrics-addr", "127.0.0.1:1"]).is_err());
        assert!(Config::try_parse_from(["loophttp", "--access-log-format", "xml"]).is_err());
    }

    /// The container convention: each flag `--some-name` is also `LOOPHTTP_SOME_NAME`
    /// (the probe's flags excepted: a probe runs beside a configured server).
    #[test]
    fn every_server_flag_has_its_environment_variable() {
        let cmd = Config::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            // ROOT is --root's positional spelling; LOOPHTTP_ROOT sets --root.
            if ["help", "version", "probe", "probe_timeout", "root_dir", "generate"].contains(&id) {
                assert_eq!(arg.get_env(), None, "{id}");
                continue;
            }
            let want = format!("LOOPHTTP_{}", id.to_ascii_uppercase());
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(want.as_str()), "--{id}");
        }
    }

    /// Every on/off flag reads its variable as a service manager writes it
    /// (clap's own bool parser takes only true/false: LOOPHTTP_X=1 failed).
    #[test]
    fn every_boolean_variable_takes_1_0_true_false_yes_no() {
        let cmd = Config::command();
        let flags: Vec<_> =
            cmd.get_arguments().filter(|a| !a.get_action().takes_values() && a.get_env().is_some()).collect();
        assert!(flags.len() >= 5, "{:?}", flags.iter().map(|a| a.get_id()).collect::<Vec<_>>());
        for arg in flags {
            for (text, want) in
                [("1", true), ("yes", true), ("true", true), ("0", false), ("no", false), ("false", false)]
            {
                // The whole command (hermetic), this flag taking the text as a value.
                let id = arg.get_id().as_str();
                let cmd = Config::command().mut_args(|a| a.env(None)).mut_arg(id, |a| a.action(clap::ArgAction::Set));
                let m = cmd.try_get_matches_from(["loophttp", &format!("--{}={text}", arg.get_long().unwrap())]);
                let got = m.ok().and_then(|m| m.get_one::<bool>(id).copied());
                assert_eq!(got, Some(want), "--{} from {text:?}", arg.get_id());
            }
        }
    }

    #[test]
    fn writes_and_public_metrics_are_off_unless_asked_for() {
        let c = Config::defaults();
        assert_eq!((c.allow_upload, c.allow_delete, c.metrics_public), (false, false, false));
        let c = Config::parse_from(["loophttp", "--allow-upload", "--allow-delete", "--metrics-public"]);
        assert_eq!((c.allow_upload, c.allow_delete, c.metrics_public), (true, true, true));
        assert!(Config::try_parse_from(["loophttp", "--no-metrics", "--metrics-public"]).is_err());
    }

    #[test]
    fn trust_proxy_takes_a_comma_separated_list() {
        assert!(Config::defaults().trust_proxy.is_empty());
        let c = Config::parse_from(["loophttp", "--trust-proxy", "127.0.0.1,10.0.0.0/8, ::1"]);
        let shown: Vec<String> = c.trust_proxy.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        assert!(Config::try_parse_from(["loophttp", "--trust-proxy", "10.1.0.0/8"]).is_err());
    }

    #[test]
    fn the_body_rate_flags_take_a_rate_and_a_duration() {
        let c = Config::try_parse_from(["loophttp", "--body-min-rate", "0", "--body-rate-grace", "250ms"]).unwrap();
        assert_eq!((c.body_min_rate, c.body_rate_grace), (0, Duration::from_millis(250)));
        assert!(Config::try_parse_from(["loophttp", "--body-min-rate", "-1"]).is_err());
        assert!(Config::try_parse_from(["loophttp", "--body-rate-grace", "25h"]).is_err());
    }

    #[test]
    fn max_headers_is_bounded_by_the_stack_array() {
        assert!(Config::try_parse_from(["loophttp", "--max-headers", "5000"]).is_err());
        assert!(Config::try_parse_from(["loophttp", "--max-headers", "0"]).is_err());
    }
}
