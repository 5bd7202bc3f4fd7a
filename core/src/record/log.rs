//! The log record.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use super::lenient;
use super::Timestamp;
use crate::attribute::Attributes;
use crate::id::{SpanId, TraceId};

/// Log severity, from least to most severe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Very detailed tracing output.
    Trace,
    /// Debugging output.
    Debug,
    /// Normal operation (the default).
    #[default]
    Info,
    /// Something unexpected that the program handled.
    Warn,
    /// A failure.
    Error,
}

impl Level {
    /// The wire name, also the subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Parses a level name, ignoring case, with the common aliases (`warning`, `fatal`,
    /// `critical`).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "fatal" | "critical" => Level::Error,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Ok(Level::parse(&s).unwrap_or_default())
    }
}

/// The attribute that carries a log record's error text where a format has no field for
/// it (OTLP, the engine's logs).
pub const LOG_ERROR_ATTRIBUTE: &str = "exception.message";

/// A log record as written to `telemetry.logs.{service}.{level}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Severity.
    #[serde(default)]
    pub level: Level,
    /// The message.
    #[serde(default, deserialize_with = "lenient::string_or_null")]
    pub message: String,
    /// Producing service.
    #[serde(default)]
    pub service: Arc<str>,
    /// Trace of the span that was current.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "optional_id")]
    pub trace_id: Option<TraceId>,
    /// The span that was current.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "optional_id")]
    pub span_id: Option<SpanId>,
    /// Structured fields.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub fields: Attributes,
    /// When it was written.
    pub timestamp: Timestamp,
    /// An error message attached to the entry.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "lenient::string_or_null")]
    pub error: String,
}

/// Absent, `null` or `""` means no id; anything else must be a valid id.
fn optional_id<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s = Option::<Cow<'de, str>>::deserialize(d)?;
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(hex) => hex.parse().map(Some).map_err(|e| serde::de::Error::custom(format!("invalid id {hex:?}: {e}"))),
    }
}
