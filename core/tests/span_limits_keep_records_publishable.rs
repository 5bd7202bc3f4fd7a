//! Span limits bound attributes, events and string lengths (OpenTelemetry's defaults),
//! and a record too large for the server's max_payload is shortened, never refused.

use std::time::Duration;

use dagnats_observe::{Attribute, CollectorOptions, Context, SpanLimits, SpanOptions, Telemetry, Value};
use testkit::{read_stream, NatsServer};

#[test]
fn defaults_are_opentelemetrys_and_cuts_are_counted() {
    let (tel, memory) = Telemetry::in_memory("svc");
    assert_eq!(
        tel.tracer.limits(),
        SpanLimits { max_attributes: 128, max_events: 128, max_attributes_per_event: 128, max_string_length: None }
    );
    let (_, mut span) = tel.tracer.start(
        &Context::new(),
        "s",
        SpanOptions::new().attributes((0..100).map(|i| Attribute::int(format!("a{i}"), i))),
    );
    span.set_attributes((100..200).map(|i| Attribute::int(format!("a{i}"), i)));
    span.set_attribute(Attribute::int("a0", -1)); // an existing key is always updated
    for i in 0..200 {
        span.add_event(format!("e{i}"), (0..130).map(|j| Attribute::int(format!("k{j}"), j)));
    }
    span.end();
    let r = &memory.spans()[0];
    assert_eq!(r.attributes.len(), 128);
    assert_eq!(r.dropped_attributes_count, 72);
    assert_eq!(r.attributes.get("a0"), Some(&Value::Int(-1)));
    assert_eq!(r.events.len(), 128);
    assert_eq!(r.dropped_events_count, 72);
    assert_eq!(r.events.last().unwrap().name, "e199", "the newest events are kept");
    assert_eq!(r.events[0].attributes.len(), 128);
    assert_eq!(r.events[0].dropped_attributes_count, 2);
}

#[test]
fn string_values_are_cut_at_a_character_boundary() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let tracer = tel.tracer.with_limits(SpanLimits { max_string_length: Some(3), ..SpanLimits::default() });
    let (_, mut span) = tracer.start(&Context::new(), "s", SpanOptions::new());
    span.set_attribute(Attribute::string("s", "héllo"));
    span.set_attribute(Attribute::string("short", "ok"));
    span.add_event("e", [Attribute::string("v", "ééééé")]);
    span.end();
    let r = &memory.spans()[0];
    assert_eq!(r.attributes.get("s"), Some(&Value::from("hél")));
    assert_eq!(r.attributes.get("short"), Some(&Value::from("ok")));
    assert_eq!(r.events[0].attributes.get("v"), Some(&Value::from("ééé")));
    assert_eq!(r.truncated_values_count, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_span_larger_than_max_payload_is_shortened_and_published() {
    let server = NatsServer::start_with_config("max_payload: 8192");
    let tel = Telemetry::connect(CollectorOptions::default().url(server.url()).service("svc")).unwrap();
    let (_, mut span) = tel.tracer.start(&Context::new(), "huge", SpanOptions::new());
    for i in 0..100 {
        span.set_attribute(Attribute::string(format!("k{i}"), "x".repeat(2000)));
    }
    span.record_error("y".repeat(5000));
    span.end();
    tel.logger.info(&Context::new(), "z".repeat(20_000), []);
    tel.flush(Duration::from_secs(10)).unwrap();

    let stats = tel.collector_stats().unwrap();
    assert_eq!((stats.published, stats.dropped_failed, stats.shortened), (2, 0, 2));
    let msgs = read_stream(&server.url(), "TELEMETRY").await;
    let body = msgs[0].json();
    assert!(msgs[0].payload.len() <= 8192);
    assert_eq!(body["name"], "huge");
    assert_eq!(body["status"], "error");
    assert!(body["truncated_values_count"].as_u64().unwrap() >= 100);
    let kept = body["attributes"].as_object().map_or(0, |a| a.len()) as u64;
    assert_eq!(kept + body["dropped_attributes_count"].as_u64().unwrap_or(0), 100);
    assert_eq!(msgs[1].json()["message"].as_str().unwrap().len(), 1024);
}
