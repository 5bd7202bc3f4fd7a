//! The one error type of the fallible API: connecting, flushing and shutting down.
//! Instrumenting (starting spans, setting attributes, logging) never fails.

use std::fmt;

/// What went wrong in connect, flush or shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The NATS server refused us (bad credentials, TLS failure, bad URL). The message
    /// names the cause and never contains a secret.
    Connect(String),
    /// An option was invalid (for example an unreadable credentials file).
    Config(String),
    /// The NATS connection options broke a rule of [`NatsOptions::validate`](crate::nats::NatsOptions::validate)
    /// (checked before connecting); [`kind`](crate::nats::NatsOptionsError::kind) says which.
    Options(crate::nats::NatsOptionsError),
    /// Flush or shutdown ran out of time with this many records not yet acknowledged.
    Timeout {
        /// Records still waiting for the server's acknowledgement.
        pending: u64,
    },
    /// The telemetry was already shut down.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect(m) => write!(f, "cannot connect to NATS: {m}"),
            Error::Config(m) => write!(f, "invalid telemetry configuration: {m}"),
            Error::Options(e) => write!(f, "invalid NATS connection options: {e}"),
            Error::Timeout { pending } => {
                write!(f, "timed out with {pending} telemetry records not yet acknowledged")
            }
            Error::Closed => f.write_str("telemetry is shut down"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
