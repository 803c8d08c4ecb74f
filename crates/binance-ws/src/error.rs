//! The one error type of the client: opaque, with questions to ask it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use binance_types::control::ControlError;
use binance_types::StreamNameError;

/// What went wrong, for `match`ing; see [`Error::kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The reconnect budget ran out (terminal).
    MaxReconnects,
    /// `recv()` waited longer than the socket's `user_timeout` (not terminal).
    Timeout,
    /// The socket was closed by its owner (terminal).
    Closed,
    /// The queue overflowed under [`Overflow::Error`](crate::Overflow::Error) (terminal).
    Overflow {
        /// The queue's capacity.
        capacity: usize,
    },
    /// A stream name is not one Binance serves.
    StreamName,
    /// A URL or option given to the client is not usable.
    Config,
    /// TCP, TLS, proxy or WebSocket handshake failure (reconnectable).
    Connect,
    /// The server answered the upgrade with an HTTP error.
    Http {
        /// HTTP status.
        status: u16,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The connection dropped (reconnectable).
    Disconnected,
    /// A depth cache's book is not in sync (resyncing or starting).
    NotSynced,
    /// The server refused a control request (SUBSCRIBE …).
    Control {
        /// Binance's code.
        code: i64,
    },
    /// A WebSocket API or REST request was refused (not terminal).
    Api {
        /// HTTP-like status (400, 401, 403, 418, 429, 5xx).
        status: u16,
        /// Binance's code (`-1022` bad signature, `-2010` insufficient balance, …).
        code: i64,
        /// When to try again, for 418 and 429.
        retry_after: Option<Duration>,
    },
    /// Binance refused the credentials of a user socket (unknown key
    /// `-2015`, bad signature `-1022`, clock outside `recvWindow` `-1021`
    /// even after resynchronising, …): the socket ends (terminal).
    Auth {
        /// Binance's code.
        code: i64,
    },
    /// A WebSocket API request got no answer in time (not terminal; the
    /// request may still have been executed).
    NoResponse,
}

/// An error from the client. Messages never contain credentials.
///
/// [`source()`](std::error::Error::source) is the underlying io, TLS, HTTP
/// or WebSocket error where there is one.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The error that caused this one, kept for
    /// [`source()`](std::error::Error::source).
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn max_reconnects() -> Self {
        Error::new(ErrorKind::MaxReconnects, "Max reconnect retries reached")
    }

    pub(crate) fn closed() -> Self {
        Error::new(ErrorKind::Closed, "socket closed")
    }

    pub(crate) fn timeout(after: Duration) -> Self {
        Error::new(
            ErrorKind::Timeout,
            format!("no message within {} ms", after.as_millis()),
        )
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True for `recv()` timeouts: the socket is still alive.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// True when nothing more will come from this socket.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::MaxReconnects
                | ErrorKind::Closed
                | ErrorKind::Overflow { .. }
                | ErrorKind::Auth { .. }
        )
    }

    /// True when Binance refused the credentials: a user socket ended with
    /// [`ErrorKind::Auth`], or a request was refused for its key, signature,
    /// timestamp or permissions (`-2014`, `-2015`, `-1022`, `-1021`,
    /// `-1002`, or HTTP 401).
    pub fn is_auth(&self) -> bool {
        match self.kind {
            ErrorKind::Auth { .. } => true,
            ErrorKind::Api { status, code, .. } => {
                status == 401 || matches!(code, -2014 | -2015 | -1022 | -1021 | -1002)
            }
            _ => false,
        }
    }

    /// True for failures a reconnect can cure.
    pub fn is_reconnectable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Connect | ErrorKind::Disconnected | ErrorKind::Http { .. }
        )
    }

    /// True when Binance asked us to slow down (HTTP 429 or 418).
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Http {
                status: 429 | 418,
                ..
            } | ErrorKind::Api {
                status: 429 | 418,
                ..
            }
        )
    }

    /// Binance's error code, for refused requests and credentials.
    pub fn api_code(&self) -> Option<i64> {
        match self.kind {
            ErrorKind::Api { code, .. } | ErrorKind::Auth { code } => Some(code),
            _ => None,
        }
    }

    /// The server's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ErrorKind::Http { retry_after, .. } | ErrorKind::Api { retry_after, .. } => retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

/// Equal when kind and message are: the source is detail, not identity.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<StreamNameError> for Error {
    fn from(e: StreamNameError) -> Self {
        Error::new(ErrorKind::StreamName, e.to_string())
    }
}

impl From<ControlError> for Error {
    fn from(e: ControlError) -> Self {
        Error::new(ErrorKind::Control { code: e.code }, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, ErrorKind};
    use std::error::Error as _;

    #[test]
    fn keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Connect, "connect to x:1: refused").with_source(io);
        let source = e.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
        assert!(Error::max_reconnects().source().is_none());
    }

    #[test]
    fn auth_refusals() {
        assert!(Error::new(ErrorKind::Auth { code: -2015 }, "refused").is_auth());
        let api = |status, code| {
            Error::new(
                ErrorKind::Api {
                    status,
                    code,
                    retry_after: None,
                },
                "refused",
            )
        };
        assert!(api(400, -1022).is_auth());
        assert!(api(401, -1).is_auth());
        assert!(!api(400, -2010).is_auth());
        assert!(!Error::max_reconnects().is_auth());
    }
}
