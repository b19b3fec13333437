//! The statuses loophttp sends, in one table: each one's name, reason
//! phrase (RFC 9110 §15) and whole status line. Everything else that
//! speaks of statuses uses these names: which error gets which status is
//! decided only by the one error table, [`crate::error::HttpError::status`];
//! the metrics' status labels are this table's statuses.

use std::io::Write;

/// The statuses loophttp sends: the standard reason phrases (RFC 9110
/// §15), exactly, and each one's whole status line, built at compile time
/// (the serialiser copies it in one piece). Each gets a name, and
/// [`SENT`] lists them all in order, for the metrics' label set.
macro_rules! status_table {
    ($($code:literal $name:ident $reason:literal,)*) => {
        $(pub const $name: u16 = $code;)*

        /// Every status in the table, ascending, with its code as text.
        pub const SENT: &[(u16, &str)] = &[$(($code, stringify!($code)),)*];

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
    100 CONTINUE "Continue",
    200 OK "OK",
    201 CREATED "Created",
    204 NO_CONTENT "No Content",
    206 PARTIAL_CONTENT "Partial Content",
    301 MOVED_PERMANENTLY "Moved Permanently",
    304 NOT_MODIFIED "Not Modified",
    400 BAD_REQUEST "Bad Request",
    403 FORBIDDEN "Forbidden",
    404 NOT_FOUND "Not Found",
    405 METHOD_NOT_ALLOWED "Method Not Allowed",
    408 REQUEST_TIMEOUT "Request Timeout",
    409 CONFLICT "Conflict",
    413 CONTENT_TOO_LARGE "Content Too Large",
    414 URI_TOO_LONG "URI Too Long",
    416 RANGE_NOT_SATISFIABLE "Range Not Satisfiable",
    417 EXPECTATION_FAILED "Expectation Failed",
    431 HEADER_FIELDS_TOO_LARGE "Request Header Fields Too Large",
    500 INTERNAL_SERVER_ERROR "Internal Server Error",
    501 NOT_IMPLEMENTED "Not Implemented",
    505 HTTP_VERSION_NOT_SUPPORTED "HTTP Version Not Supported",
}

/// A 1xx: an interim answer; the final one follows.
pub const fn is_interim(code: u16) -> bool {
    code < 200
}

/// A 2xx: the request did what it asked.
pub const fn is_success(code: u16) -> bool {
    code >= 200 && code < 300
}

/// Three digits of a class HTTP defines (1xx to 5xx).
pub const fn is_in_a_class(code: u16) -> bool {
    code >= 100 && code < 600
}

/// Not a status that is sent: what the access log and the metrics record
/// for a request whose client left before its response was out (nginx's
/// "client closed request").
pub const CLIENT_GONE: u16 = 499;

/// The status line, without its line break (the next header brings it).
pub(crate) fn status_line(status: u16, out: &mut Vec<u8>) {
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
        assert_eq!(known, 21, "the table's statuses");
    }
}
