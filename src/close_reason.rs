//! Why a connection closed: the connection decides it, the server log's
//! close line says it, and `/metrics` counts by it. A leaf, so the metrics
//! name the reason without depending on the connection.

/// Why a connection closed: logged when it does, and a label to count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client sent EOF; everything owed to it was sent first.
    ClientClosed,
    /// No keep-alive (`Connection: close`, HTTP/1.0): closed after the response.
    NoKeepAlive,
    /// Idle between requests for `--keepalive-timeout`.
    KeepAliveTimeout,
    /// Ended by the drain after SIGTERM/SIGINT: answered with
    /// `Connection: close`, or idle for `--drain-grace`.
    Draining,
    /// A request head took longer than `--header-timeout`.
    HeaderTimeout,
    /// A request body paused longer than `--body-timeout`, or came slower
    /// on average than `--body-min-rate` once `--body-rate-grace` was over.
    BodyTimeout,
    /// The client stopped reading for `--write-timeout`.
    WriteTimeout,
    /// A request error was answered (then the linger ended).
    RequestError,
    /// The peer reset the connection or broke the pipe.
    Reset,
    /// Any other socket error.
    IoError,
}

impl CloseReason {
    pub const ALL: [CloseReason; 10] = [
        CloseReason::ClientClosed,
        CloseReason::NoKeepAlive,
        CloseReason::KeepAliveTimeout,
        CloseReason::Draining,
        CloseReason::HeaderTimeout,
        CloseReason::BodyTimeout,
        CloseReason::WriteTimeout,
        CloseReason::RequestError,
        CloseReason::Reset,
        CloseReason::IoError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client_closed",
            CloseReason::NoKeepAlive => "no_keep_alive",
            CloseReason::KeepAliveTimeout => "keepalive_timeout",
            CloseReason::Draining => "draining",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::BodyTimeout => "body_timeout",
            CloseReason::WriteTimeout => "write_timeout",
            CloseReason::RequestError => "request_error",
            CloseReason::Reset => "reset",
            CloseReason::IoError => "io_error",
        }
    }
}
