//! The one error → status table, and the small `io::Result` helpers that make
//! every match on a socket call read like prose (after mio's test utilities).

use std::io;

use crate::status;

/// Everything that can go wrong with a request, as seen by the client.
///
/// Each variant answers with exactly one status; see [`HttpError::status`].
/// Nothing outside this table picks an error status: parse errors, routing
/// misses, file-system failures and body limits all become one of these.
/// The `&'static str` payloads are for the debug log, never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// Malformed syntax or a framing rule broken (smuggling shapes included).
    BadRequest(&'static str),
    /// The request-target is longer than the configured limit.
    UriTooLong,
    /// The head is larger than the limit, or has too many header fields.
    HeadersTooLarge,
    /// The body (declared or received) is larger than the limit.
    PayloadTooLarge,
    /// An unknown method, or a transfer coding we do not implement.
    NotImplemented(&'static str),
    /// `HTTP/x.y` other than 1.0 and 1.1.
    VersionNotSupported,
    /// An `Expect` other than `100-continue`.
    ExpectationFailed,
    /// The client took too long to send its head or body.
    Timeout,
    /// No such route, or no such file (or one we will not serve).
    NotFound,
    /// The route exists but not for this method (answered with `Allow`).
    MethodNotAllowed,
    /// The file exists but the server may not read or write it.
    Forbidden,
    /// The request conflicts with what is there (an upload onto a directory).
    Conflict,
    /// A `Range` that selects no byte of the file.
    RangeNotSatisfiable,
    /// The server failed (a disk error, a failed commit).
    Internal(&'static str),
}

impl HttpError {
    /// How a file-system error looks to the client. ELOOP: `O_NOFOLLOW` met
    /// a symlink, or a symlink loop; EXDEV: a symlink leads outside the
    /// directory; ENXIO: a socket or a device with no driver. All are "no
    /// such file here".
    pub fn from_fs(e: &io::Error) -> HttpError {
        if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EXDEV | libc::ENXIO)) {
            return HttpError::NotFound;
        }
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => HttpError::NotFound,
            io::ErrorKind::PermissionDenied => HttpError::Forbidden,
            _ => HttpError::Internal("file-system error"),
        }
    }

    /// The status each error is answered with: the one table.
    pub fn status(self) -> u16 {
        match self {
            HttpError::BadRequest(_) => status::BAD_REQUEST,
            HttpError::Forbidden => status::FORBIDDEN,
            HttpError::NotFound => status::NOT_FOUND,
            HttpError::MethodNotAllowed => status::METHOD_NOT_ALLOWED,
            HttpError::Timeout => status::REQUEST_TIMEOUT,
            HttpError::Conflict => status::CONFLICT,
            HttpError::PayloadTooLarge => status::CONTENT_TOO_LARGE,
            HttpError::UriTooLong => status::URI_TOO_LONG,
            HttpError::RangeNotSatisfiable => status::RANGE_NOT_SATISFIABLE,
            HttpError::ExpectationFailed => status::EXPECTATION_FAILED,
            HttpError::HeadersTooLarge => status::HEADER_FIELDS_TOO_LARGE,
            HttpError::Internal(_) => status::INTERNAL_SERVER_ERROR,
            HttpError::NotImplemented(_) => status::NOT_IMPLEMENTED,
            HttpError::VersionNotSupported => status::HTTP_VERSION_NOT_SUPPORTED,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadRequest(why) => write!(f, "bad request: {why}"),
            HttpError::NotImplemented(what) => write!(f, "not implemented: {what}"),
            HttpError::Internal(what) => write!(f, "internal error: {what}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The socket has nothing more for us (read) or no room (write) right now.
pub fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call; simply try again.
pub fn interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}

/// The peer went away (reset, broken pipe, ...). Routine: debug log, not error.
pub fn is_disconnect(err: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(err.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected | UnexpectedEof)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_a_client_or_server_error_status() {
        let all = [
            HttpError::BadRequest("x"),
            HttpError::UriTooLong,
            HttpError::HeadersTooLarge,
            HttpError::PayloadTooLarge,
            HttpError::NotImplemented("x"),
            HttpError::VersionNotSupported,
            HttpError::ExpectationFailed,
            HttpError::Timeout,
            HttpError::NotFound,
            HttpError::MethodNotAllowed,
            HttpError::Forbidden,
            HttpError::Conflict,
            HttpError::RangeNotSatisfiable,
            HttpError::Internal("x"),
        ];
        let statuses: Vec<u16> = all.iter().map(|e| e.status()).collect();
        assert_eq!(statuses, [400, 414, 431, 413, 501, 505, 417, 408, 404, 405, 403, 409, 416, 500]);
    }

    #[test]
    fn io_helpers_classify_kinds() {
        assert!(would_block(&io::ErrorKind::WouldBlock.into()));
        assert!(interrupted(&io::ErrorKind::Interrupted.into()));
        assert!(is_disconnect(&io::ErrorKind::BrokenPipe.into()));
        assert!(!is_disconnect(&io::ErrorKind::WouldBlock.into()));
    }
}
