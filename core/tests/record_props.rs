//! Property tests of the wire records: what we write we read back unchanged, and no
//! input, however broken, panics a reader.

use std::borrow::Cow;
use std::sync::Arc;

use dagnats_observe::record::{EventRecord, LogRecord, MetricPoint, SpanKind, SpanRecord, StatusCode, Timestamp};
use dagnats_observe::{Attribute, Attributes, SpanId, TraceId, Value};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_filter("JSON carries finite floats", |f| f.is_finite()).prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
    ]
}

fn attributes() -> impl Strategy<Value = Attributes> {
    prop::collection::vec((any::<String>(), value()), 0..6)
        .prop_map(|kvs| kvs.into_iter().map(|(k, v)| Attribute::new(k, v)).collect())
}

/// Up to the year 2500: what a wall clock can say.
fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0u64..16_725_225_600_000_000_000).prop_map(Timestamp)
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Internal),
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer)
    ]
}

fn status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![Just(StatusCode::Unset), Just(StatusCode::Ok), Just(StatusCode::Error)]
}

prop_compose! {
    fn span()(
        trace in any::<u128>().prop_filter("non-zero", |v| *v != 0),
        span in any::<u64>().prop_filter("non-zero", |v| *v != 0),
        parent in proptest::option::of(1u64..),
        name in any::<String>(),
        service in any::<String>(),
        kind in kind(),
        start in timestamp(),
        duration_ns in 0u64..10_000_000_000,
        status in status(),
        status_message in any::<String>(),
        attributes in attributes(),
        events in prop::collection::vec((any::<String>(), timestamp(), attributes()), 0..3),
        error in any::<String>(),
        flags in proptest::option::of(any::<u8>()),
        parent_is_remote in any::<bool>(),
    ) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId::from_bytes(trace.to_be_bytes()).unwrap(),
            span_id: SpanId::from_bytes(span.to_be_bytes()).unwrap(),
            parent_id: parent.map(|p| SpanId::from_bytes(p.to_be_bytes()).unwrap()),
            name: Cow::Owned(name),
            service: Arc::from(service),
            kind,
            start_time: start,
            end_time: Timestamp(start.0 + duration_ns),
            duration_ms: duration_ns / 1_000_000,
            status,
            status_message,
            attributes,
            events: events
                .into_iter()
                .map(|(n, t, a)| EventRecord { name: Cow::Owned(n), time: t, attributes: a, dropped_attributes_count: 0 })
                .collect(),
            error,
            trace_state: String::new(),
            links: vec![],
            flags,
            parent_is_remote,
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            truncated_values_count: 0,
        }
    }
}

proptest! {
    #[test]
    fn spans_round_trip(record in span()) {
        let json = serde_json::to_string(&record).unwrap();
        let back: SpanRecord = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, record);
    }

    #[test]
    fn logs_and_metrics_round_trip(
        message in any::<String>(),
        fields in attributes(),
        at in timestamp(),
        value in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        tags in prop::collection::btree_map(any::<String>(), any::<String>(), 0..4),
    ) {
        let log = LogRecord {
            level: dagnats_observe::Level::Warn, message, service: Arc::from("svc"), trace_id: None, span_id: None,
            fields, timestamp: at, error: String::new(),
        };
        let back: LogRecord = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
        prop_assert_eq!(back, log);
        let point = MetricPoint {
            name: "m".into(), kind: dagnats_observe::record::MetricKind::Gauge, value, tags,
            service: Arc::from("svc"), timestamp: at,
        };
        let back: MetricPoint = serde_json::from_str(&serde_json::to_string(&point).unwrap()).unwrap();
        prop_assert_eq!(back, point);
    }

    #[test]
    fn timestamps_round_trip(at in timestamp()) {
        prop_assert_eq!(Timestamp::parse(&at.to_string()).unwrap(), at);
    }

    #[test]
    fn no_string_panics_the_readers(s in any::<String>()) {
        let _ = serde_json::from_str::<SpanRecord>(&s);
        let _ = serde_json::from_str::<LogRecord>(&s);
        let _ = serde_json::from_str::<MetricPoint>(&s);
        let _ = Timestamp::parse(&s);
    }

    #[test]
    fn no_json_object_panics_the_readers(
        fields in prop::collection::vec((
            prop_oneof![
                Just("trace_id".to_string()), Just("span_id".to_string()), Just("parent_id".to_string()),
                Just("name".to_string()), Just("start_time".to_string()), Just("end_time".to_string()),
                Just("duration_ms".to_string()), Just("attributes".to_string()), Just("events".to_string()),
                Just("kind".to_string()), Just("status".to_string()), Just("value".to_string()),
                Just("timestamp".to_string()), Just("tags".to_string()), Just("fields".to_string()),
                any::<String>(),
            ],
            prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
                any::<String>().prop_map(serde_json::Value::from),
                Just(serde_json::json!("4bf92f3577b34da6a3ce929d0e0e4736")),
                Just(serde_json::json!("2026-11-24T10:30:00Z")),
                Just(serde_json::json!([{"name": 1}])),
                Just(serde_json::json!({"k": [1, {"x": null}]})),
            ],
        ), 0..12),
    ) {
        let object: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        let text = serde_json::Value::Object(object).to_string();
        let _ = serde_json::from_str::<SpanRecord>(&text);
        let _ = serde_json::from_str::<LogRecord>(&text);
        let _ = serde_json::from_str::<MetricPoint>(&text);
    }
}
