//! What the Rust collector writes in the engine's dialect passes the engine's strict
//! reader (protobuf's JSON parser at its defaults into the official OTLP `Span`, which
//! refuses any key outside the message; logs key by key), and so do the golden engine
//! bodies in testdata/records; the record format does not.

use std::time::Duration;

use dagnats_observe::{Attribute, CollectorOptions, Context, SpanKind, SpanOptions, Telemetry, TelemetryFormat};
use testkit::{engine_strict_reader, read_stream, NatsServer, StoredMessage};

fn publish_a_span_and_a_log(tel: &Telemetry) -> (String, String) {
    let (cx, mut span) = tel.tracer.start(
        &Context::new(),
        "executeTask build",
        SpanOptions::new().kind(SpanKind::Consumer).attributes([
            Attribute::string("run_id", "r-7"),
            Attribute::int("attempt", i64::MAX),
            Attribute::float("ratio", 0.25),
            Attribute::float("nan", f64::NAN),
            Attribute::bool("cached", false),
        ]),
    );
    span.add_event("cache.miss", [Attribute::int("n", 3)]);
    span.record_exception("disk full".into(), Some("IOError".into()));
    tel.logger.warn(&cx, "slow step", [Attribute::int("ms", 1200), Attribute::bool("retry", true)]);
    let ids = (span.span_context().trace_id.to_string(), span.span_context().span_id.to_string());
    span.end();
    tel.flush(Duration::from_secs(10)).expect("flush");
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_engine_spans_and_logs_pass_the_strict_reader_and_records_do_not() {
    let server = NatsServer::start();
    let engine = Telemetry::connect(
        CollectorOptions::default().url(server.url()).service("rust-engine").format(TelemetryFormat::Engine),
    )
    .unwrap();
    let (trace, span) = publish_a_span_and_a_log(&engine);
    let records = Telemetry::connect(
        CollectorOptions::default().url(server.url()).service("rust-records").format(TelemetryFormat::Records),
    )
    .unwrap();
    publish_a_span_and_a_log(&records);

    let stored = read_stream(&server.url(), "TELEMETRY").await;
    let of = |service: &str| -> Vec<&StoredMessage> {
        stored.iter().filter(|m| m.subject.split('.').nth(2) == Some(service)).collect()
    };
    let ours = of("rust-engine");
    assert_eq!(ours.len(), 2, "a span and a log");
    let (code, verdict) = engine_strict_reader(&ours).expect("the strict reader runs");
    assert_eq!(code, 0, "{verdict}");
    let read = &verdict["spans"][0];
    assert_eq!((read["traceId"].as_str(), read["spanId"].as_str()), (Some(trace.as_str()), Some(span.as_str())));
    assert_eq!(read["kind"], "SPAN_KIND_CONSUMER");
    assert_eq!(read["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(verdict["logs"].as_array().map(Vec::len), Some(1));

    let theirs = of("rust-records");
    let (code, verdict) = engine_strict_reader(&theirs).expect("the strict reader runs");
    assert_eq!((code, &verdict["ok"]), (1, &serde_json::Value::Bool(false)), "records are not the engine's");
    engine.shutdown(Duration::from_secs(5)).unwrap();
    records.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn the_golden_engine_bodies_pass_the_strict_reader() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/records");
    let mut messages = Vec::new();
    for (file, subject) in [
        ("engine-span.json", "telemetry.spans.dagnats.7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b"),
        ("engine-span-error.json", "telemetry.spans.dagnats.7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b"),
        ("engine-span-example.json", "telemetry.spans.dagnats.7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b"),
        ("engine-log.json", "telemetry.logs.dagnats.error"),
        ("engine-log-no-span.json", "telemetry.logs.dagnats.info"),
    ] {
        let payload = std::fs::read(dir.join(file)).expect(file);
        messages.push(StoredMessage {
            subject: subject.into(),
            headers: Vec::new(),
            sequence: 0,
            payload: String::from_utf8(payload).unwrap().trim_end().as_bytes().to_vec(),
        });
    }
    let refs: Vec<&StoredMessage> = messages.iter().collect();
    let (code, verdict) = engine_strict_reader(&refs).expect("the strict reader runs");
    assert_eq!(code, 0, "{verdict}");
    assert_eq!(verdict["spans"].as_array().map(Vec::len), Some(3));
}
