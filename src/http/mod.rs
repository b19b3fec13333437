//! HTTP/1.1 without sockets: parsing heads and bodies, interpreting targets
//! and negotiation headers, and serialising responses. Everything here is
//! pure (bytes in, bytes out), so it is tested and fuzzed without a network.

pub mod authority;
pub mod body;
pub mod encoding;
mod interpret;
mod line_ends;
pub mod parse;
pub mod response;
pub mod target;
mod usual;

pub use body::BodyDecoder;
pub use parse::{Framing, Head, Limits, Method, Parsed, parse_head};
pub use response::{Body, Response};
