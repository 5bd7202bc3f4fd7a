//! Records read what the Go engine writes, and ours are written byte for byte as the
//! golden files in testdata/records say.

use std::borrow::Cow;
use std::sync::Arc;

use dagnats_observe::record::{EventRecord, LogRecord, MetricKind, MetricPoint, SpanRecord, Timestamp};
use dagnats_observe::{Attribute, Attributes, Level, SpanKind, StatusCode, Value};

fn golden(name: &str) -> String {
    let path = format!("{}/../testdata/records/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim_end().to_owned()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[test]
fn reads_a_go_span() {
    let s: SpanRecord = serde_json::from_str(&golden("go-span.json")).unwrap();
    assert_eq!(s.parent_id.unwrap().to_string(), "53995c3f42cd8ad8");
    assert_eq!(s.kind, SpanKind::Server);
    assert_eq!(s.status, StatusCode::Ok);
    assert_eq!(s.start_time, ts("2026-11-24T10:30:00.123456789Z"), "offsets are converted to UTC");
    assert_eq!(s.duration_ms, 1234);
    assert_eq!(s.attributes.get("attempt"), Some(&Value::Int(2)), "integers stay integers");
    assert_eq!(s.attributes.get("weight"), Some(&Value::Float(3.0)));
    assert_eq!(s.attributes.get("cached"), Some(&Value::Bool(false)));
    assert_eq!(s.run_id(), Some("r-42"));
    assert_eq!(s.events[0].time, ts("2026-11-24T10:30:00.5Z"));
    assert_eq!(s.error, "");
}

#[test]
fn reads_a_go_root_span_with_nulls_and_a_fractional_duration() {
    let s: SpanRecord = serde_json::from_str(&golden("go-span-root.json")).unwrap();
    assert!(s.parent_id.is_none());
    assert_eq!(s.duration_ms, 250);
    assert!(s.attributes.is_empty() && s.events.is_empty());
    assert_eq!(s.status, StatusCode::Error);
    assert_eq!(s.error, "step failed");
}

#[test]
fn reads_go_logs_and_metrics() {
    let l: LogRecord = serde_json::from_str(&golden("go-log.json")).unwrap();
    assert_eq!(l.level, Level::Warn);
    assert_eq!(l.fields.get("attempt"), Some(&Value::Int(3)));
    assert_eq!(l.span_id.unwrap().to_string(), "00f067aa0ba902b7");
    let l: LogRecord = serde_json::from_str(&golden("go-log-no-span.json")).unwrap();
    assert!(l.trace_id.is_none() && l.span_id.is_none());
    let m: MetricPoint = serde_json::from_str(&golden("go-metric.json")).unwrap();
    assert_eq!(m.kind, MetricKind::Counter);
    assert_eq!(m.value, 1.0);
    assert_eq!(m.timestamp, ts("2026-11-24T15:30:03.5Z"));
}

#[test]
fn rejects_what_cannot_be_a_record() {
    for bad in [
        r#"{"trace_id":"","span_id":"00f067aa0ba902b7","name":"x","start_time":"2026-11-24T10:30:00Z","end_time":"2026-11-24T10:30:00Z"}"#,
        r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","name":"x","start_time":"yesterday","end_time":"2026-11-24T10:30:00Z"}"#,
        r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","name":"x","start_time":"2026-11-24T10:30:00Z","end_time":"2026-11-24T10:30:00Z","attributes":{"a":{"nested":1}}}"#,
        "[]",
        "not json",
    ] {
        assert!(serde_json::from_str::<SpanRecord>(bad).is_err(), "{bad}");
    }
}

#[test]
fn writes_spans_exactly() {
    let mut attributes = Attributes::new();
    attributes.extend([
        Attribute::string("run_id", "r-42"),
        Attribute::string("step_id", "build"),
        Attribute::int("attempt", 2),
        Attribute::bool("cached", false),
        Attribute::float("ratio", 0.5),
    ]);
    let span = SpanRecord {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap(),
        span_id: "00f067aa0ba902b7".parse().unwrap(),
        parent_id: Some("53995c3f42cd8ad8".parse().unwrap()),
        name: Cow::Borrowed("worker.executeTask"),
        service: Arc::from("py-worker"),
        kind: SpanKind::Server,
        start_time: ts("2026-11-24T10:30:00.123456789Z"),
        end_time: ts("2026-11-24T10:30:01.357456789Z"),
        duration_ms: 1234,
        status: StatusCode::Error,
        status_message: "step failed".into(),
        attributes,
        events: vec![EventRecord {
            name: Cow::Borrowed("exception"),
            time: ts("2026-11-24T10:30:01Z"),
            attributes: [Attribute::string("exception.message", "disk full")].into_iter().collect(),
            dropped_attributes_count: 0,
        }],
        error: "disk full".into(),
        trace_state: "congo=t61rcWkgMzE".into(),
        links: vec![],
        flags: Some(1),
        parent_is_remote: true,
        dropped_attributes_count: 0,
        dropped_events_count: 0,
        truncated_values_count: 0,
    };
    assert_eq!(serde_json::to_string(&span).unwrap(), golden("ours-span.json"));
    let back: SpanRecord = serde_json::from_str(&golden("ours-span.json")).unwrap();
    assert_eq!(back, span);
}

#[test]
fn writes_logs_and_metrics_exactly() {
    let log = LogRecord {
        level: Level::Error,
        message: "step failed".into(),
        service: Arc::from("py-worker"),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap()),
        span_id: Some("00f067aa0ba902b7".parse().unwrap()),
        fields: [Attribute::string("step", "build"), Attribute::int("attempt", 2)].into_iter().collect(),
        timestamp: ts("2026-11-24T10:30:01Z"),
        error: "disk full".into(),
    };
    assert_eq!(serde_json::to_string(&log).unwrap(), golden("ours-log.json"));
    let metric = MetricPoint {
        name: "task.duration_ms".into(),
        kind: MetricKind::Histogram,
        value: 35.5,
        tags: [("step".to_string(), "build".to_string())].into_iter().collect(),
        service: Arc::from("py-worker"),
        timestamp: ts("2026-11-24T10:30:01Z"),
    };
    assert_eq!(serde_json::to_string(&metric).unwrap(), golden("ours-metric.json"));
}
