//! The statuses loophttp sends, in one table: each one's reason phrase
//! (RFC 9110 §15) and whole status line, and the names of the success
//! statuses handlers answer with. Error statuses are chosen only by the one
//! error table, [`crate::error::HttpError::status`].

use std::io::Write;

// The success statuses handlers answer with.
pub const OK: u16 = 200;
pub const CREATED: u16 = 201;
pub const NO_CONTENT: u16 = 204;
pub const PARTIAL_CONTENT: u16 = 206;
pub const MOVED_PERMANENTLY: u16 = 301;
pub const NOT_MODIFIED: u16 = 304;

/// The statuses loophttp sends: the standard reason phrases (RFC 9110
/// §15), exactly, and each one's whole status line, built at compile time
/// (the serialiser copies it in one piece).
macro_rules! status_table {
    ($($code:literal => $reason:literal,)*) => {
        /// The standard reason phrase of `status`.
        pub fn reason(status: u16) -> &'static str {
            match status {
                $($code => $reason,)*
                _ => "Unknown",
            }
        }

        /// `HTTP/1.1 {status} {reason}` for a status in the table, padded
        /// to [`STATUS_LINE_ROOM`] bytes, and its length.
        fn known_status_line(status: u16) -> Option<(&'static [u8; STATUS_LINE_ROOM], usize)> {
            Some(match status {
                $($code => {
                    const LINE: &[u8] = concat!("HTTP/1.1 ", $code, " ", $reason).as_bytes();
                    (&const { padded(LINE) }, LINE.len())
                })*
                _ => return None,
            })
        }
    };
}

status_table! {
    100 => "Continue",
    200 => "OK",
    201 => "Created",
    204 => "No Content",
    206 => "Partial Content",
    301 => "Moved Permanently",
    304 => "Not Modified",
    400 => "Bad Request",
    403 => "Forbidden",
    404 => "Not Found",
    405 => "Method Not Allowed",
    408 => "Request Timeout",
    409 => "Conflict",
    413 => "Content Too Large",
    414 => "URI Too Long",
    416 => "Range Not Satisfiable",
    417 => "Expectation Failed",
    431 => "Request Header Fields Too Large",
    500 => "Internal Server Error",
    501 => "Not Implemented",
    503 => "Service Unavailable",
    505 => "HTTP Version Not Supported",
}

/// The status line, without its line break (the next header brings it).
pub(super) fn status_line(status: u16, out: &mut Vec<u8>) {
    match known_status_line(status) {
        // A copy of a length known at compile time is a few moves, where
        // one of the line's own length was a `memcpy` call; the padding
        // is cut off again.
        Some((line, len)) => {
            out.extend_from_slice(line);
            out.truncate(out.len() - (STATUS_LINE_ROOM - len));
        }
        // No status outside the table is sent today; written the long way.
        None => {
            let _ = write!(out, "HTTP/1.1 {status} {}", reason(status));
        }
    }
}

/// Room for the longest status line (`HTTP/1.1 431 Request Header Fields
/// Too Large`, 44 bytes), a multiple of 16.
const STATUS_LINE_ROOM: usize = 48;

/// `line` padded with zeros to [`STATUS_LINE_ROOM`] bytes (a longer one
/// fails the build).
const fn padded(line: &[u8]) -> [u8; STATUS_LINE_ROOM] {
    let mut out = [0; STATUS_LINE_ROOM];
    let mut i = 0;
    while i < line.len() {
        out[i] = line[i];
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_line_is_written_whole_and_nothing_more() {
        let mut known = 0;
        for status in 100..600 {
            let mut out = b"x".to_vec();
            status_line(status, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), format!("xHTTP/1.1 {status} {}", reason(status)));
            known += usize::from(known_status_line(status).is_some());
        }
        assert_eq!(known, 22, "the table's statuses");
    }
}
