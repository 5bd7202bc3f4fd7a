//! The span record.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use super::lenient;
use super::Timestamp;
use crate::attribute::{Attributes, Str};
use crate::id::{SpanId, TraceId};

/// What kind of work a span stands for, as OpenTelemetry defines the kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    /// Work inside one process (the default).
    #[default]
    Internal,
    /// Handling a request or a task received from elsewhere.
    Server,
    /// A call out to another service.
    Client,
    /// Sending a message for later processing.
    Producer,
    /// Processing a message sent by a producer.
    Consumer,
}

impl SpanKind {
    /// Every kind, in OpenTelemetry's API order: a kind's index here is its number.
    pub const ALL: [SpanKind; 5] =
        [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer];

    /// The number OpenTelemetry's API gives the kind: internal 0, server 1, client 2,
    /// producer 3, consumer 4, as in OpenTelemetry JS, the Python and Node enums and the
    /// C ABI's constants. (OTLP's protobuf numbers are these plus one.)
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The kind numbered `n` (see [`number`](Self::number)); `None` outside 0 to 4.
    pub fn from_number(n: i64) -> Option<SpanKind> {
        usize::try_from(n).ok().and_then(|i| SpanKind::ALL.get(i).copied())
    }

    /// OTLP's number for the kind: [`number`](Self::number) plus one (0 is unspecified).
    pub fn otlp_number(self) -> i32 {
        self as i32 + 1
    }

    /// The kind of OTLP number `n`; unspecified and unknown numbers read as internal.
    pub fn from_otlp_number(n: i32) -> SpanKind {
        SpanKind::from_number(i64::from(n) - 1).unwrap_or_default()
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// Parses a wire name, ignoring ASCII case.
    pub fn parse(s: &str) -> Option<SpanKind> {
        SpanKind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl<'de> Deserialize<'de> for SpanKind {
    // A kind this reader does not know is kept as internal rather than losing the span.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Ok(SpanKind::parse(&s).unwrap_or_default())
    }
}

/// A span's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusCode {
    /// No status was set (the default; the reference wrongly writes `ok` here).
    #[default]
    Unset,
    /// The work succeeded, as the instrumented code declared.
    Ok,
    /// The work failed.
    Error,
}

impl StatusCode {
    /// Every code, in OpenTelemetry's API order: a code's index here is its number.
    pub const ALL: [StatusCode; 3] = [StatusCode::Unset, StatusCode::Ok, StatusCode::Error];

    /// The number OpenTelemetry's API gives the code: unset 0, ok 1, error 2 (as OTLP
    /// numbers them too).
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The code numbered `n` (see [`number`](Self::number)); `None` outside 0 to 2.
    pub fn from_number(n: i64) -> Option<StatusCode> {
        usize::try_from(n).ok().and_then(|i| StatusCode::ALL.get(i).copied())
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Ok(match s.to_ascii_lowercase().as_str() {
            "ok" => StatusCode::Ok,
            "error" => StatusCode::Error,
            _ => StatusCode::Unset,
        })
    }
}

/// A timestamped event inside a span.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Event name, for example `exception`.
    pub name: Str,
    /// When it happened.
    pub time: Timestamp,
    /// Event attributes.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// Attributes left out by the span limits (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A link to another span (an extension field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// Linked trace.
    pub trace_id: TraceId,
    /// Linked span.
    pub span_id: SpanId,
    /// Link attributes.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// A finished span as written to `telemetry.spans.{service}.{run_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// W3C trace id.
    pub trace_id: TraceId,
    /// W3C span id.
    pub span_id: SpanId,
    /// Parent span id, local or remote; absent for a root span.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "parent_id")]
    pub parent_id: Option<SpanId>,
    /// Span name.
    pub name: Str,
    /// Producing service.
    #[serde(default)]
    pub service: Arc<str>,
    /// Span kind.
    #[serde(default)]
    pub kind: SpanKind,
    /// Wall-clock start.
    pub start_time: Timestamp,
    /// Start plus the monotonic duration.
    pub end_time: Timestamp,
    /// Whole milliseconds, end minus start, truncated.
    #[serde(default, deserialize_with = "lenient::u64_from_number")]
    pub duration_ms: u64,
    /// Status code.
    #[serde(default)]
    pub status: StatusCode,
    /// The description given with the status (extension).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "lenient::string_or_null")]
    pub status_message: String,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// Events in the order they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "lenient::default_on_null")]
    pub events: Vec<EventRecord>,
    /// Message captured by `record_error`.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "lenient::string_or_null")]
    pub error: String,
    /// W3C trace state carried from the parent (extension).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "lenient::string_or_null")]
    pub trace_state: String,
    /// Links (extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "lenient::default_on_null")]
    pub links: Vec<LinkRecord>,
    /// W3C trace flags (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u8>,
    /// True when the parent came from a message (extension).
    #[serde(default, skip_serializing_if = "lenient::is_false")]
    pub parent_is_remote: bool,
    /// Attributes left out by the span limits or to fit the server's max_payload
    /// (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
    /// Events left out by the span limits or to fit the server's max_payload (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_events_count: u32,
    /// String values shortened by the span limits or to fit the server's max_payload
    /// (extension).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated_values_count: u32,
}

impl SpanRecord {
    /// The `run_id` string attribute, when present and non-empty.
    pub fn run_id(&self) -> Option<&str> {
        self.attributes.get("run_id").and_then(|v| v.as_str()).filter(|s| !s.is_empty())
    }

    /// The span's OTLP start and end, in Unix nanoseconds. Times before 1970 (Go's zero
    /// time for a time never set) read as the epoch, 0; this makes the pair as faithful
    /// as the record allows:
    ///
    /// - an end before the start (an end never set) becomes the start: a zero-length span
    ///   at its real start, rather than one ending before it began, which OTLP forbids;
    /// - a start at 0 with a real end is the end minus `duration_ms` (its true start to
    ///   the millisecond, when the producer measured one), else stays 0.
    pub fn otlp_times(&self) -> (u64, u64) {
        let (mut start, end) = (self.start_time.unix_nanos(), self.end_time.unix_nanos());
        if start == 0 && end > 0 {
            start = end.saturating_sub(self.duration_ms.saturating_mul(1_000_000));
        }
        (start, end.max(start))
    }

    /// The OTLP span flags: W3C trace flags in the low byte (sampled when the record
    /// carries none: a record exists only for a recorded span), and the two remote-parent
    /// bits (`HAS_IS_REMOTE` 0x100, `IS_REMOTE` 0x200) when the parent came from a message.
    pub fn otlp_flags(&self) -> u32 {
        let mut flags = u32::from(self.flags.unwrap_or(0x01));
        if self.parent_is_remote && self.parent_id.is_some() {
            flags |= OTLP_FLAGS_REMOTE_PARENT;
        }
        flags
    }

    /// The OTLP status description: the record's `status_message` when it has one, else
    /// its `error` text, and only for an error status (OTLP ignores a description on any
    /// other).
    pub fn otlp_status_message(&self) -> &str {
        match self.status {
            StatusCode::Error if !self.status_message.is_empty() => &self.status_message,
            StatusCode::Error => &self.error,
            _ => "",
        }
    }
}

/// OTLP's `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
pub const OTLP_FLAGS_REMOTE_PARENT: u32 = 0x100 | 0x200;

/// The Go engine omits a root's parent or writes it empty.
fn parent_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SpanId>, D::Error> {
    let s = Option::<Cow<'de, str>>::deserialize(d)?;
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(hex) => SpanId::from_hex(hex)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("invalid parent_id {hex:?}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes_have_opentelemetry_api_numbers() {
        let kinds: Vec<(u32, &str)> = SpanKind::ALL.iter().map(|k| (k.number(), k.as_str())).collect();
        assert_eq!(kinds, [(0, "internal"), (1, "server"), (2, "client"), (3, "producer"), (4, "consumer")]);
        let codes: Vec<(u32, &str)> = StatusCode::ALL.iter().map(|c| (c.number(), c.as_str())).collect();
        assert_eq!(codes, [(0, "unset"), (1, "ok"), (2, "error")]);
        for k in SpanKind::ALL {
            assert_eq!(SpanKind::from_number(k.number().into()), Some(k));
            assert_eq!(SpanKind::parse(&k.as_str().to_uppercase()), Some(k));
        }
        for c in StatusCode::ALL {
            assert_eq!(StatusCode::from_number(c.number().into()), Some(c));
        }
        assert_eq!((SpanKind::from_number(-1), SpanKind::from_number(5)), (None, None));
        assert_eq!((StatusCode::from_number(-1), StatusCode::from_number(3)), (None, None));
    }
}
