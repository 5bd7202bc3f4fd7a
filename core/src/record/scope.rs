//! The instrumentation scope a record may name: the extension field
//! `"scope": {"name": "...", "version": "..."}` on span, log and metric records.
//!
//! It tells which library produced the record (OpenTelemetry's instrumentation scope), so
//! that the OTLP converter can export it instead of its own name. It is read leniently:
//! absent, `null`, not an object, or an object without a non-empty string `name` all mean
//! "no scope", never an unreadable record; older readers ignore the field. It is written
//! only when set.
//!
//! The record structs do not carry the field themselves (adding one would change every
//! place that builds a record); [`Scoped`] pairs a record with its scope instead, and
//! reads and writes both from and to one JSON object.
//!
//! ```
//! use dagnats_observe::record::{MetricPoint, Scope, Scoped};
//!
//! let body = br#"{"name":"jobs","type":"counter","value":1,"service":"w",
//!   "timestamp":"2026-11-24T10:30:00Z","scope":{"name":"my.lib","version":"2.1.0"}}"#;
//! let point = Scoped::<MetricPoint>::from_json(body).unwrap();
//! assert_eq!(point.scope, Some(Scope::new("my.lib", "2.1.0")));
//! assert!(String::from_utf8(serde_json::to_vec(&point).unwrap()).unwrap().ends_with(r#""scope":{"name":"my.lib","version":"2.1.0"}}"#));
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// An instrumentation scope: the library that produced a record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Scope {
    /// The library's name, never empty in a scope that was read.
    pub name: String,
    /// Its version, empty when unknown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

impl Scope {
    /// A scope named `name`, at `version` (may be empty).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Scope { name: name.into(), version: version.into() }
    }
}

/// A record with the instrumentation scope it names, if any. Serializes as the record's
/// own JSON object with a `scope` field added when there is one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scoped<T> {
    /// The record.
    #[serde(flatten)]
    pub record: T,
    /// The scope it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

impl<T> Scoped<T> {
    /// `record` naming `scope`.
    pub fn new(record: T, scope: Option<Scope>) -> Self {
        Scoped { record, scope }
    }
}

impl<T> From<T> for Scoped<T> {
    /// A record naming no scope.
    fn from(record: T) -> Self {
        Scoped { record, scope: None }
    }
}

impl<T: DeserializeOwned> Scoped<T> {
    /// Reads a record and its scope from one JSON body. Fails only when the record
    /// itself does: a scope that cannot be read is no scope.
    pub fn from_json(body: &[u8]) -> serde_json::Result<Self> {
        let record = serde_json::from_slice(body)?;
        Ok(Scoped { record, scope: read_scope(body) })
    }
}

/// The scope a record's JSON body names, if it names a usable one (see the module
/// documentation). Never fails; skips every other field without building it.
pub fn read_scope(body: &[u8]) -> Option<Scope> {
    #[derive(Deserialize)]
    struct OnlyScope {
        #[serde(default, deserialize_with = "lenient_scope")]
        scope: Option<Scope>,
    }
    serde_json::from_slice::<OnlyScope>(body).ok().and_then(|o| o.scope)
}

/// Any JSON value; a scope only when it is an object with a non-empty string `name`.
/// A `version` that is not a string is taken as unknown.
fn lenient_scope<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Scope>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let serde_json::Value::Object(map) = value else { return Ok(None) };
    let text = |key: &str| map.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let name = text("name");
    if name.is_empty() {
        return Ok(None);
    }
    Ok(Some(Scope { name, version: text("version") }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{LogRecord, SpanRecord};

    const SPAN: &str = r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","name":"w",
        "service":"s","kind":"server","start_time":"2026-11-24T10:30:00Z","end_time":"2026-11-24T10:30:01Z",
        "duration_ms":1000,"status":"ok""#;

    fn span_with(scope: &str) -> Option<Scope> {
        let body = format!("{SPAN}{scope}}}");
        Scoped::<SpanRecord>::from_json(body.as_bytes()).expect("the record reads whatever its scope").scope
    }

    #[test]
    fn a_scope_is_read_leniently() {
        assert_eq!(span_with(r#","scope":{"name":"lib","version":"1.2"}"#), Some(Scope::new("lib", "1.2")));
        assert_eq!(span_with(r#","scope":{"name":"lib"}"#), Some(Scope::new("lib", "")));
        assert_eq!(span_with(r#","scope":{"name":"lib","version":3,"extra":[1]}"#), Some(Scope::new("lib", "")));
        for unusable in [
            "",
            r#","scope":null"#,
            r#","scope":"lib""#,
            r#","scope":{"name":""}"#,
            r#","scope":{"name":7}"#,
            r#","scope":[1]"#,
        ] {
            assert_eq!(span_with(unusable), None, "{unusable}");
        }
        assert_eq!(read_scope(b"not json"), None);
        assert!(Scoped::<SpanRecord>::from_json(b"{}").is_err(), "a bad record is still an error");
    }

    #[test]
    fn older_readers_ignore_it_and_it_is_written_only_when_set() {
        let body = format!(r#"{SPAN},"scope":{{"name":"lib","version":"1.2"}}}}"#);
        let plain: SpanRecord = serde_json::from_str(&body).expect("an older reader ignores the field");
        let scoped = Scoped::<SpanRecord>::from_json(body.as_bytes()).unwrap();
        assert_eq!(scoped.record, plain);

        let written = serde_json::to_string(&Scoped::from(plain.clone())).unwrap();
        assert_eq!(written, serde_json::to_string(&plain).unwrap(), "no scope, no field");
        let written = serde_json::to_string(&scoped).unwrap();
        assert!(written.ends_with(r#","scope":{"name":"lib","version":"1.2"}}"#), "{written}");
        assert_eq!(Scoped::<SpanRecord>::from_json(written.as_bytes()).unwrap(), scoped, "round trip");
        let no_version = Scoped::new(plain, Some(Scope::new("lib", "")));
        assert!(serde_json::to_string(&no_version).unwrap().ends_with(r#""scope":{"name":"lib"}}"#));
    }

    #[test]
    fn logs_carry_it_too() {
        let body = br#"{"level":"info","message":"m","service":"s","timestamp":"2026-11-24T10:30:00Z","scope":{"name":"log.lib"}}"#;
        let l = Scoped::<LogRecord>::from_json(body).unwrap();
        assert_eq!(l.scope, Some(Scope::new("log.lib", "")));
        assert_eq!(l.record.message, "m");
    }
}
