//! HTTP/1.1 without sockets: parsing heads and bodies, interpreting targets
//! and negotiation headers, and serialising responses. Everything here is
//! pure (bytes in, bytes out), so it is tested and fuzzed without a network.

pub mod authority;
pub mod body;
mod byte_classes;
pub mod date;
pub mod encoding;
mod fast_path;
mod interpret;
mod line_ends;
pub mod parse;
pub mod request;
pub mod response;
pub mod target;
pub mod validators;

pub use body::BodyDecoder;
pub use parse::parse_head;
pub use request::{Framing, Head, Limits, Method, Parsed};
pub use response::{Body, Response};
