//! HTTP/1.1 without sockets: parsing heads and bodies, interpreting targets
//! and negotiation headers, and serialising responses. Everything here is
//! pure (bytes in, bytes out), so it is tested and fuzzed without a network.

pub mod authority;
pub mod body;
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

/// `tchar` (RFC 9110 §5.6.2), the bytes of a token (a header name, a
/// chunk extension): a table, since header names are read on every request.
const TCHAR: [bool; 256] = alnum_or(b"!#$%&'*+-.^_`|~");

/// A byte-class table: ASCII letters and digits, and the bytes of `extra`.
const fn alnum_or(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

pub use body::BodyDecoder;
pub use parse::parse_head;
pub use request::{Framing, Head, Limits, Method, Parsed};
pub use response::{Body, Response};
