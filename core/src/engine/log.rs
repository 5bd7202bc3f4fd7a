//! Logs as the engine's `dagnats logs` reads them: a flat object
//! `{"timestamp", "severity", "body", "attributes"?, "traceId"?, "spanId"?, "serviceName"}`
//! with the ids in lowercase hex (unlike spans) and attributes of strings only.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::EngineError;
use crate::attribute::{Attribute, Attributes, Str, Value};
use crate::id::{SpanId, TraceId};
use crate::record::{Level, LogRecord, Timestamp, LOG_ERROR_ATTRIBUTE};

/// What an entry with neither a message nor an error says: `dagnats logs` crashes on an
/// empty body.
const EMPTY_BODY: &str = "(no message)";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EngineLog<'a> {
    timestamp: Timestamp,
    severity: &'static str,
    body: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "string_map")]
    attributes: Vec<(&'a str, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<TraceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<SpanId>,
    service_name: &'a str,
}

fn string_map<S: serde::Serializer>(pairs: &[(&str, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// The log entry as the engine's reader accepts it: never an empty `body` or
/// `severity`; a field that is not a string written as its text (`2`, `true`, `1.5`);
/// the error text as the `exception.message` attribute.
pub fn encode_log(r: &LogRecord) -> Vec<u8> {
    let body = [r.message.as_str(), r.error.as_str()].into_iter().find(|s| !s.is_empty()).unwrap_or(EMPTY_BODY);
    let mut attributes: Vec<(&str, String)> = r.fields.iter().map(|a| (&*a.key, a.value.to_string())).collect();
    if !r.error.is_empty() {
        attributes.push((LOG_ERROR_ATTRIBUTE, r.error.clone()));
    }
    let log = EngineLog {
        timestamp: r.timestamp,
        severity: r.level.as_str(),
        body,
        attributes,
        trace_id: r.trace_id,
        span_id: r.span_id,
        service_name: &r.service,
    };
    serde_json::to_vec(&log).unwrap_or_default()
}

/// Reads one engine log entry. Keys match ignoring case, as `dagnats logs` matches them;
/// unknown keys are ignored. The service is `serviceName`, else the subject's `service`
/// token. An entry is recognised by its `body` or `severity`; one with neither (a
/// record-format log, say) is an error, so that the caller can try the other format.
pub fn decode_log(body: &[u8], service: &str) -> Result<LogRecord, EngineError> {
    let object: Map<String, Json> =
        serde_json::from_slice(body).map_err(|e| EngineError(format!("not an engine log: {e}")))?;
    let mut fields: [Option<Json>; 7] = Default::default();
    const KEYS: [&str; 7] = ["timestamp", "severity", "body", "attributes", "traceid", "spanid", "servicename"];
    for (key, value) in object {
        if let Some(i) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(&key)) {
            fields[i].get_or_insert(value);
        }
    }
    let [timestamp, severity, message, attributes, trace_id, span_id, service_name] = fields;
    if message.is_none() && severity.is_none() {
        return Err(EngineError("not an engine log: neither body nor severity".into()));
    }
    let text = |v: Option<Json>, what: &str| -> Result<String, EngineError> {
        match v {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::String(s)) => Ok(s),
            Some(other) => Err(EngineError(format!("{what} is {other}, not a string"))),
        }
    };
    let timestamp = match text(timestamp, "timestamp")? {
        t if t.is_empty() => return Err(EngineError("the log entry has no timestamp".into())),
        t => Timestamp::parse(&t).map_err(EngineError)?,
    };
    let level = Level::parse(&text(severity, "severity")?.to_ascii_lowercase()).unwrap_or(Level::Info);
    let mut record = LogRecord {
        level,
        message: text(message, "body")?,
        service: match text(service_name, "serviceName")? {
            s if s.is_empty() => service.into(),
            s => s.into(),
        },
        trace_id: id(text(trace_id, "traceId")?, "traceId")?,
        span_id: id(text(span_id, "spanId")?, "spanId")?,
        fields: Attributes::new(),
        timestamp,
        error: String::new(),
    };
    match attributes {
        None | Some(Json::Null) => {}
        Some(Json::Object(map)) => {
            for (key, value) in map {
                let value = match value {
                    Json::String(s) => s,
                    // The engine writes strings only; another writer's value is kept as
                    // its JSON text rather than lost.
                    other => other.to_string(),
                };
                if key == LOG_ERROR_ATTRIBUTE && record.error.is_empty() {
                    record.error = value;
                } else {
                    record.fields.set(Attribute::new(key, Value::String(Str::Owned(value))));
                }
            }
        }
        Some(other) => return Err(EngineError(format!("attributes is {other}, not an object"))),
    }
    Ok(record)
}

fn id<T: std::str::FromStr>(hex: String, what: &str) -> Result<Option<T>, EngineError>
where
    T::Err: std::fmt::Display,
{
    if hex.is_empty() {
        return Ok(None);
    }
    hex.parse().map(Some).map_err(|e| EngineError(format!("{what} {hex:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Telemetry};

    #[test]
    fn the_spec_example_reads() {
        let body = br#"{"timestamp":"2026-08-07T12:00:00Z","severity":"error","body":"task handler failed",
            "attributes":{"run_id":"7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b"},
            "traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","serviceName":"dagnats"}"#;
        let r = decode_log(body, "from-subject").unwrap();
        assert_eq!((r.level, r.message.as_str(), &*r.service), (Level::Error, "task handler failed", "dagnats"));
        assert_eq!(r.trace_id.unwrap().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id.unwrap().to_string(), "00f067aa0ba902b7");
        assert_eq!(r.fields.get("run_id").and_then(|v| v.as_str()), Some("7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b"));
        assert_eq!(r.timestamp, Timestamp::parse("2026-08-07T12:00:00Z").unwrap());
    }

    #[test]
    fn keys_ignore_case_and_the_subject_names_a_service_the_body_lacks() {
        let r = decode_log(br#"{"TimeStamp":"2026-08-07T12:00:00+02:00","SEVERITY":"WARN","Body":"b","x":1}"#, "svc")
            .unwrap();
        assert_eq!((r.level, r.message.as_str(), &*r.service), (Level::Warn, "b", "svc"));
    }

    #[test]
    fn our_logs_are_never_empty_and_their_fields_are_strings() {
        let (tel, memory) = Telemetry::in_memory("svc");
        tel.logger.error(&Context::new(), "", [Attribute::int("attempt", 2), Attribute::bool("retry", true)]);
        let mut r = memory.logs().remove(0);
        r.error = "disk full".into();
        let v: Json = serde_json::from_slice(&encode_log(&r)).unwrap();
        assert_eq!(v["body"], "disk full");
        assert_eq!(v["severity"], "error");
        assert_eq!(
            v["attributes"],
            serde_json::json!({"attempt": "2", "retry": "true", "exception.message": "disk full"})
        );
        assert!(v.get("traceId").is_none(), "no span was current");
        r.error.clear();
        let v: Json = serde_json::from_slice(&encode_log(&r)).unwrap();
        assert_eq!(v["body"], EMPTY_BODY);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["attributes", "body", "serviceName", "severity", "timestamp"]);
    }

    #[test]
    fn a_written_log_reads_back() {
        let (tel, memory) = Telemetry::in_memory("svc");
        let (cx, mut span) = tel.tracer.start(&Context::new(), "op", crate::SpanOptions::new());
        tel.logger.info(&cx, "hello", [Attribute::string("k", "v")]);
        span.end();
        let r = memory.logs().remove(0);
        let back = decode_log(&encode_log(&r), "other").unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn record_format_logs_and_broken_entries_are_errors() {
        for (body, reason) in [
            (&br#"{"level":"info","message":"m","timestamp":"2026-08-07T12:00:00Z"}"#[..], "neither body nor severity"),
            (br#"{"severity":"info","body":"m"}"#, "no timestamp"),
            (br#"{"severity":"info","body":5,"timestamp":"2026-08-07T12:00:00Z"}"#, "body is 5"),
            (br#"{"severity":"info","body":"m","timestamp":"2026-08-07T12:00:00Z","traceId":"zz"}"#, "traceId"),
            (br#"[]"#, "not an engine log"),
        ] {
            let e = decode_log(body, "s").unwrap_err();
            assert!(e.0.contains(reason), "{e} lacks {reason:?}");
        }
    }
}
