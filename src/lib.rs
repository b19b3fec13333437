//! loophttp: a small HTTP/1.1 server on one mio event loop per worker.
//!
//! How a request travels through the code (see `docs/ARCHITECTURE.md` for
//! the long walk):
//!
//! 1. [`event_loop`] polls; the listener's token means "accept until
//!    `WouldBlock`", any other token names a connection in the slab.
//! 2. [`conn::Conn`] reads into a pooled buffer and hands the bytes to the
//!    pure parser in [`http::parse`].
//! 3. A complete head goes to [`routes`], which answers at once or asks for
//!    the body to be streamed into a [`files::Upload`], which is made
//!    durable by a [`blocking`] pool thread, off the loop.
//! 4. The response is serialised by [`http::response`] into the
//!    connection's output queue; pipelined requests are answered into the
//!    same queue, then written with one call.
//! 5. What the connection waits for next (readable, writable) and until
//!    when ([`deadlines`]) follows from its state; the loop registers
//!    exactly that.
//! 6. Each turn of a connection is bounded (reads, bytes, requests, time):
//!    one that spends its budget yields, and the loop resumes it after the
//!    others that are ready.

pub mod access_log;
pub mod blocking;
pub mod ci;
pub mod close_reason;
pub mod config;
pub mod conn;
pub mod context;
pub mod deadlines;
pub mod error;
pub mod event_loop;
pub mod files;
pub mod forwarded;
pub mod http;
pub mod inflight;
pub mod lifecycle;
pub mod listener;
pub mod logging;
pub mod mem_stream;
pub mod metrics;
pub mod pid_file;
pub mod pool;
pub mod probe;
pub mod routes;
pub mod server;
pub mod setup;
pub mod site;
pub mod status;
pub mod supervise;
pub mod sys;
pub mod upgrade;

pub use config::Config;
pub use server::{Control, Handle, Server};
