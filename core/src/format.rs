//! The dialect a telemetry writes on TELEMETRY: the record format of the wire contract
//! (the default) or the DagNats engine's OpenTelemetry dialect (see [`crate::engine`]).
//!
//! The choice is made once, here: every package passes its `format` option through, and
//! when none is given the core reads `DAGNATS_TELEMETRY_FORMAT`.
//!
//! ```
//! use dagnats_observe::TelemetryFormat;
//!
//! assert_eq!("engine".parse::<TelemetryFormat>(), Ok(TelemetryFormat::Engine));
//! let err = "otlp".parse::<TelemetryFormat>().unwrap_err();
//! assert!(err.to_string().contains("records, engine"));
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::record::Record;

/// The environment variable read when no format is given.
pub const FORMAT_ENV: &str = "DAGNATS_TELEMETRY_FORMAT";

/// What a telemetry writes on TELEMETRY.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TelemetryFormat {
    /// The records of `telemetry-wire-format.md` (the default).
    #[default]
    Records,
    /// What the DagNats engine (v0.0.12) writes and its own tools read: spans as bare OTLP
    /// `Span`s in protobuf's canonical JSON, flat log objects, aggregated metrics.
    Engine,
}

impl TelemetryFormat {
    /// Every format, in the order the error message names them.
    pub const ALL: [TelemetryFormat; 2] = [TelemetryFormat::Records, TelemetryFormat::Engine];

    /// The option's value: `records` or `engine`.
    pub fn as_str(self) -> &'static str {
        match self {
            TelemetryFormat::Records => "records",
            TelemetryFormat::Engine => "engine",
        }
    }

    /// The format named by `DAGNATS_TELEMETRY_FORMAT`, the default when it is unset or
    /// empty; an unknown value is a configuration error naming the accepted values.
    pub fn from_env() -> Result<TelemetryFormat> {
        match std::env::var(FORMAT_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                v.parse().map_err(|e: UnknownFormat| Error::Config(format!("{FORMAT_ENV}: {e}")))
            }
            _ => Ok(TelemetryFormat::default()),
        }
    }

    /// The message body of `record` in this format. A metric point in the engine format
    /// is one observation written as the engine's aggregated shape (see
    /// [`crate::engine::encode`]).
    pub fn encode(self, record: &Record) -> Vec<u8> {
        match self {
            TelemetryFormat::Records => record.to_json(),
            TelemetryFormat::Engine => crate::engine::encode(record),
        }
    }
}

impl fmt::Display for TelemetryFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is neither `records` nor `engine`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accepted: Vec<&str> = TelemetryFormat::ALL.iter().map(|f| f.as_str()).collect();
        write!(f, "unknown telemetry format {:?}: expected one of {}", self.0, accepted.join(", "))
    }
}

impl std::error::Error for UnknownFormat {}

impl From<UnknownFormat> for Error {
    fn from(e: UnknownFormat) -> Self {
        Error::Config(e.to_string())
    }
}

impl FromStr for TelemetryFormat {
    type Err = UnknownFormat;

    /// `records` or `engine`, ignoring ASCII case and surrounding white space.
    fn from_str(s: &str) -> std::result::Result<Self, UnknownFormat> {
        let name = s.trim();
        TelemetryFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_names_list_the_accepted_ones() {
        for f in TelemetryFormat::ALL {
            assert_eq!(f.as_str().parse::<TelemetryFormat>(), Ok(f));
            assert_eq!(f.as_str().to_uppercase().parse::<TelemetryFormat>(), Ok(f));
        }
        assert_eq!(" engine ".parse::<TelemetryFormat>(), Ok(TelemetryFormat::Engine));
        for bad in ["", "otlp", "record", "engines"] {
            let e = bad.parse::<TelemetryFormat>().unwrap_err();
            let text = Error::from(e).to_string();
            assert!(text.contains("expected one of records, engine"), "{text}");
            assert!(text.contains(&format!("{bad:?}")), "{text}");
        }
    }
}
