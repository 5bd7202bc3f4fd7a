//! One message body on `telemetry.spans.>` as span records, whichever format it is in:
//! a Go-style JSON record (one span), or an OTLP-JSON traces body (any number of spans,
//! converted back into records so that both formats show the same way). Decoding is the
//! bridge's own ([`crate::decode`]); nothing here panics on any input.

use std::borrow::Cow;
use std::sync::Arc;

use dagnats_observe::attribute::{Attribute, Attributes, Value};
use dagnats_observe::id::{SpanId, TraceId};
use dagnats_observe::otlp::proto::common::v1::{any_value, AnyValue, KeyValue};
use dagnats_observe::otlp::proto::trace::v1::{ResourceSpans, Span};
use dagnats_observe::record::{EventRecord, LinkRecord, SpanKind, SpanRecord, StatusCode, Timestamp};

use crate::decode::{self, resource_service, DecodeError, Decoded};

/// Bodies larger than this are skipped unread.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// The spans in one message body stored on `subject` (a span subject; its service token
/// names the service of an engine span, whose body has none). A body that holds no span
/// (a log or metric body on a spans subject) gives none; one that cannot be read is an
/// error saying why.
pub fn spans_from_body(subject: &str, body: &[u8]) -> Result<Vec<SpanRecord>, DecodeError> {
    match decode::decode(subject, body, MAX_BODY_BYTES)? {
        Decoded::Span(s) => Ok(vec![s.record]),
        Decoded::Traces(rs) => Ok(from_otlp(rs)),
        _ => Ok(Vec::new()),
    }
}

/// OTLP spans as records: the resource's `service.name` becomes the service, kinds,
/// statuses, attributes, events and links are mapped back, and the remote-parent flag
/// bits become `parent_is_remote`. Spans with invalid ids are left out.
pub fn from_otlp(resource_spans: Vec<ResourceSpans>) -> Vec<SpanRecord> {
    let mut out = Vec::new();
    for rs in resource_spans {
        let service: Arc<str> = Arc::from(resource_service(rs.resource.as_ref()).unwrap_or(""));
        for scope in rs.scope_spans {
            for span in scope.spans {
                if let Some(record) = span_record(span, &service) {
                    out.push(record);
                }
            }
        }
    }
    out
}

fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    TraceId::from_bytes(bytes.try_into().ok()?)
}

fn span_id(bytes: &[u8]) -> Option<SpanId> {
    SpanId::from_bytes(bytes.try_into().ok()?)
}

fn span_record(s: Span, service: &Arc<str>) -> Option<SpanRecord> {
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;
    let kind = match s.kind {
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    };
    let (status, status_message) = match &s.status {
        Some(st) if st.code == 1 => (StatusCode::Ok, st.message.clone()),
        Some(st) if st.code == 2 => (StatusCode::Error, st.message.clone()),
        Some(st) => (StatusCode::Unset, st.message.clone()),
        None => (StatusCode::Unset, String::new()),
    };
    // An exception event (OpenTelemetry's convention for a recorded error) gives the text.
    let error = s
        .events
        .iter()
        .find(|e| e.name == "exception")
        .and_then(|e| e.attributes.iter().find(|kv| kv.key == "exception.message"))
        .and_then(|kv| kv.value.as_ref())
        .map(any_text)
        .unwrap_or_default();
    let start = Timestamp(s.start_time_unix_nano);
    let end = Timestamp(s.end_time_unix_nano);
    let parent_id = if s.parent_span_id.is_empty() { None } else { span_id(&s.parent_span_id) };
    Some(SpanRecord {
        trace_id: trace_id(&s.trace_id)?,
        span_id: span_id(&s.span_id)?,
        parent_is_remote: parent_id.is_some() && s.flags & (HAS_IS_REMOTE | IS_REMOTE) == HAS_IS_REMOTE | IS_REMOTE,
        parent_id,
        name: Cow::Owned(s.name),
        service: Arc::clone(service),
        kind,
        start_time: start,
        end_time: end,
        duration_ms: end.unix_nanos().saturating_sub(start.unix_nanos()) / 1_000_000,
        status,
        status_message,
        attributes: attributes(s.attributes),
        events: s
            .events
            .into_iter()
            .map(|e| EventRecord {
                name: Cow::Owned(e.name),
                time: Timestamp(e.time_unix_nano),
                attributes: attributes(e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        error,
        trace_state: s.trace_state,
        links: s
            .links
            .into_iter()
            .filter_map(|l| {
                Some(LinkRecord {
                    trace_id: trace_id(&l.trace_id)?,
                    span_id: span_id(&l.span_id)?,
                    attributes: attributes(l.attributes),
                })
            })
            .collect(),
        flags: (s.flags != 0).then_some((s.flags & 0xff) as u8),
        dropped_attributes_count: s.dropped_attributes_count,
        dropped_events_count: s.dropped_events_count,
        truncated_values_count: 0,
    })
}

fn attributes(kvs: Vec<KeyValue>) -> Attributes {
    kvs.into_iter()
        .map(|kv| Attribute {
            key: Cow::Owned(kv.key),
            value: kv.value.as_ref().map(value).unwrap_or(Value::String(Cow::Borrowed(""))),
        })
        .collect()
}

/// A scalar stays what it is; arrays, maps and bytes become their text.
fn value(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::String(Cow::Owned(s.clone())),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::Float(*d),
        _ => Value::String(Cow::Owned(any_text(v))),
    }
}

/// Any OTLP value as text: `[a, b]` for arrays, `{k: v}` for maps, hex for bytes.
fn any_text(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            format!("[{}]", a.values.iter().map(any_text).collect::<Vec<_>>().join(", "))
        }
        Some(any_value::Value::KvlistValue(l)) => format!(
            "{{{}}}",
            l.values
                .iter()
                .map(|kv| format!("{}: {}", kv.key, kv.value.as_ref().map(any_text).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(any_value::Value::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        #[allow(unreachable_patterns)]
        Some(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_SPAN: &str = include_str!("../../../testdata/records/go-span.json");
    const SPANS: &str = "telemetry.spans.go-engine.r-42";

    #[test]
    fn a_go_record_is_one_span() {
        let spans = spans_from_body(SPANS, GO_SPAN.as_bytes()).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].span_id.to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn an_otlp_body_becomes_records() {
        let body = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"node-worker"}}]},
          "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
          "parentSpanId":"eee19b7ec3c1b173","name":"otlp span","kind":5,"flags":769,"startTimeUnixNano":"1544712660000000000",
          "endTimeUnixNano":"1544712661500000000","attributes":[{"key":"run_id","value":{"stringValue":"r-9"}},
          {"key":"n","value":{"intValue":"42"}},{"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}}],
          "events":[{"name":"exception","timeUnixNano":"1544712661000000000","attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}]}],
          "status":{"code":2,"message":"failed"}},
          {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"second","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let spans = spans_from_body(SPANS, body.as_bytes()).unwrap();
        assert_eq!(spans.len(), 2);
        let s = &spans[0];
        assert_eq!(&*s.service, "node-worker");
        assert_eq!(s.kind, SpanKind::Consumer);
        assert_eq!(s.status, StatusCode::Error);
        assert_eq!(s.status_message, "failed");
        assert_eq!(s.error, "boom");
        assert_eq!(s.duration_ms, 1500);
        assert!(s.parent_is_remote);
        assert_eq!(s.run_id(), Some("r-9"));
        assert_eq!(s.attributes.get("n"), Some(&Value::Int(42)));
        assert_eq!(s.attributes.get("tags").and_then(|v| v.as_str()), Some("[a, 1]"));
        assert_eq!(s.events[0].name, "exception");
        assert!(spans[1].parent_id.is_none());
    }

    #[test]
    fn other_bodies_are_errors_or_nothing() {
        assert!(spans_from_body(SPANS, b"not json").is_err());
        assert!(spans_from_body(SPANS, br#"{"resourceLogs":[]}"#).unwrap().is_empty());
    }
}
