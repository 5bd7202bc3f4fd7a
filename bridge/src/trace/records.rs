//! One message body on `telemetry.spans.>` as span records, whichever format it is in:
//! a Go-style JSON record (one span), the engine's bare OTLP Span (one span), or an
//! OTLP-JSON traces body (any number of spans, converted back into records by the core's
//! one OTLP mapping, so that every format shows the same way). Decoding is the
//! bridge's own ([`crate::decode`]); nothing here panics on any input.

use std::sync::Arc;

use dagnats_observe::engine;
use dagnats_observe::otlp::proto::trace::v1::{ResourceSpans, Span};
use dagnats_observe::record::SpanRecord;
use prost::Message;

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

fn span_record(s: Span, service: &Arc<str>) -> Option<SpanRecord> {
    // The exporter's OTLP messages and the core's engine messages are generated from the
    // same .proto files: the bytes of one decode as the other, and the core maps it once.
    let span = engine::proto::trace::v1::Span::decode(s.encode_to_vec().as_slice()).ok()?;
    engine::span_from_proto(span, service).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagnats_observe::record::{SpanKind, StatusCode};
    use dagnats_observe::Value;

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
    fn a_golden_engine_span_is_one_span_of_the_subjects_service() {
        let body = include_str!("../../../testdata/records/engine-span.json");
        let spans =
            spans_from_body("telemetry.spans.dagnats.7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b", body.as_bytes()).unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!((&*s.service, s.name.as_ref(), s.kind), ("dagnats", "executeTask build", SpanKind::Server));
        assert_eq!(s.parent_id.map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(s.attributes.get("attempt"), Some(&Value::Int(2)));
    }

    #[test]
    fn other_bodies_are_errors_or_nothing() {
        assert!(spans_from_body(SPANS, b"not json").is_err());
        assert!(spans_from_body(SPANS, br#"{"resourceLogs":[]}"#).unwrap().is_empty());
    }
}
