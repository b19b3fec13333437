//! The one error → status table, and the small `io::Result` helpers that make
//! every match on a socket call read like prose (after mio's test utilities).

use std::io;

/// Everything that can go wrong with a request, as seen by the client.
///
/// Each variant answers with exactly one status; see [`HttpError::status`].
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
}

impl HttpError {
    /// The status each error is answered with: the one table.
    pub fn status(self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::Timeout => 408,
            HttpError::PayloadTooLarge => 413,
            HttpError::UriTooLong => 414,
            HttpError::ExpectationFailed => 417,
            HttpError::HeadersTooLarge => 431,
            HttpError::NotImplemented(_) => 501,
            HttpError::VersionNotSupported => 505,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadRequest(why) => write!(f, "bad request: {why}"),
            HttpError::NotImplemented(what) => write!(f, "not implemented: {what}"),
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
        ];
        let statuses: Vec<u16> = all.iter().map(|e| e.status()).collect();
        assert_eq!(statuses, [400, 414, 431, 413, 501, 505, 417, 408]);
    }

    #[test]
    fn io_helpers_classify_kinds() {
        assert!(would_block(&io::ErrorKind::WouldBlock.into()));
        assert!(interrupted(&io::ErrorKind::Interrupted.into()));
        assert!(is_disconnect(&io::ErrorKind::BrokenPipe.into()));
        assert!(!is_disconnect(&io::ErrorKind::WouldBlock.into()));
    }
}
