//! `loophttp`: parse flags, start logging, bind, run. Startup errors end the
//! process with one clear message and a non-zero exit code; nothing after
//! startup ends it.

use std::process::ExitCode;

use clap::Parser;
use loophttp::{Config, Server};

fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(url) = &config.probe {
        return probe(url, config.probe_timeout);
    }
    let logger = simple_logger::SimpleLogger::new()
        .with_level(config.log_level)
        // With several loops, say which one logged.
        .with_threads(config.worker_count() > 1)
        // mio's own trace records would drown ours.
        .with_module_level("mio", log::LevelFilter::Warn);
    if let Err(e) = logger.init() {
        eprintln!("loophttp: cannot start logging: {e}");
        return ExitCode::from(1);
    }
    if let Err(msg) = config.validate() {
        log::error!("{msg}");
        return ExitCode::from(2);
    }
    loophttp::sys::raise_fd_limit(&config);
    let server = match Server::bind(config.clone()) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot listen on {}: {e}", std::net::SocketAddr::new(config.host, config.port));
            return ExitCode::from(1);
        }
    };
    let mode = if server.dual_stack() { " (dual-stack IPv4 + IPv6)" } else { "" };
    log::info!(
        "loophttp {} listening on {}{mode}: {}",
        env!("CARGO_PKG_VERSION"),
        server.local_addr(),
        server.urls().join(" ")
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("server stopped: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--probe URL`: a health check, not a server; one line either way.
fn probe(url: &str, timeout: std::time::Duration) -> ExitCode {
    match loophttp::probe::probe(url, timeout) {
        Ok(status) => {
            println!("{url}: {status}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("loophttp --probe {url}: {why}");
            ExitCode::from(1)
        }
    }
}
