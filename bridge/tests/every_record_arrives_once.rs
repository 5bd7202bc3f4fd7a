//! Happy path: spans, logs and metrics written on TELEMETRY by the core's collector, as
//! raw Go-style JSON and as OTLP-JSON all arrive at the receiver once, with the right
//! ids, parents, kinds, statuses, attribute types, events and resources; the counters
//! say so on the Prometheus endpoint.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use dagnats_bridge::Signal;
use dagnats_observe::{
    propagation, Attribute, CollectorOptions, Context, SpanKind, SpanOptions, StatusCode, Telemetry,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use support::*;
use testkit::NatsServer;

const GO_SPAN: &str = include_str!("../../testdata/records/go-span.json");
const GO_ROOT: &str = include_str!("../../testdata/records/go-span-root.json");
const GO_LOG: &str = include_str!("../../testdata/records/go-log.json");
const GO_LOG_NO_SPAN: &str = include_str!("../../testdata/records/go-log-no-span.json");
const GO_METRIC: &str = include_str!("../../testdata/records/go-metric.json");

const OTLP_TRACES: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"node-worker"}}]},
  "scopeSpans":[{"scope":{"name":"node-sdk","version":"1.0"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
  "spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"node.handle","kind":2,
  "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
  "attributes":[{"key":"count","value":{"intValue":"42"}}],"status":{"code":2,"message":"boom"}}]}]}]}"#;
const OTLP_LOGS: &str = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1544712660000000000",
  "severityNumber":17,"severityText":"error","body":{"stringValue":"from otlp"}}]}]}]}"#;
const OTLP_METRICS: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"node-worker"}}]},
  "scopeMetrics":[{"metrics":[{"name":"node.requests","sum":{"dataPoints":[{"asInt":"7","timeUnixNano":"1544712660000000000"}],
  "aggregationTemporality":1,"isMonotonic":true}}]}]}]}"#;

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v| v.value.as_ref())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Spans, logs and metrics through the core's collector, as a worker would write them.
fn write_with_the_collector(url: String) {
    let tel = Telemetry::connect(CollectorOptions::default().url(url).service("rust-worker")).expect("collector");
    let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    let remote = Context::from_remote(propagation::extract_from_headers(headers));
    let (cx, mut server) = tel.tracer.start(
        &remote,
        "worker.executeTask",
        SpanOptions::new().kind(SpanKind::Server).attributes([
            Attribute::string("run_id", "r-42"),
            Attribute::int("attempt", 2),
            Attribute::float("ratio", 0.5),
            Attribute::bool("cached", false),
        ]),
    );
    server.add_event("cache.miss", [Attribute::int("size", 1024)]);
    tel.logger.info(&cx, "task started", [Attribute::int("attempt", 2)]);
    let (_, mut client) = tel.tracer.start(&cx, "http.call", SpanOptions::new().kind(SpanKind::Client));
    client.record_error("disk full");
    client.set_status(StatusCode::Error, "step failed");
    client.end();
    for (name, kind) in [("queue.send", SpanKind::Producer), ("queue.receive", SpanKind::Consumer)] {
        let (_, mut s) = tel.tracer.start(&cx, name, SpanOptions::new().kind(kind));
        s.end();
    }
    server.set_status(StatusCode::Ok, "");
    server.end();
    tel.logger.warn(&Context::new(), "no span here", []);
    let done = tel.metrics.counter("tasks.completed");
    for _ in 0..3 {
        done.add(1.0, &[("queue", "default")]);
    }
    tel.metrics.gauge("queue.depth").set(7.0, &[]);
    let hist = tel.metrics.histogram("task.duration_ms");
    hist.record(3.0, &[("step", "build")]);
    hist.record(120.0, &[("step", "build")]);
    tel.shutdown(Duration::from_secs(10)).expect("collector delivered everything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_log_and_metric_arrives_once_with_its_fields() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let metrics_port = testkit::free_port();
    let mut config = test_config(&nats.url(), &receiver);
    config.metrics_addr = Some(([127, 0, 0, 1], metrics_port).into());
    let bridge = RunningBridge::start(config);

    let url = nats.url();
    tokio::task::spawn_blocking(move || write_with_the_collector(url)).await.unwrap();
    publish(&js, "telemetry.spans.py-worker.r-42", GO_SPAN).await;
    publish(&js, "telemetry.spans.engine.no-run", GO_ROOT).await;
    publish(&js, "telemetry.logs.engine.warn", GO_LOG).await;
    publish(&js, "telemetry.logs.engine.info", GO_LOG_NO_SPAN).await;
    publish(&js, "telemetry.metrics.engine.dagnats.tasks.completed", GO_METRIC).await;
    publish(&js, "telemetry.spans.node-worker.r-9", OTLP_TRACES).await;
    publish(&js, "telemetry.logs.node-worker.error", OTLP_LOGS).await;
    publish(&js, "telemetry.metrics.node-worker.node.requests", OTLP_METRICS).await;

    // Collector: 4 spans, 2 logs, 6 metric points; Go: 2, 2, 1; OTLP-JSON: 1, 1, 1.
    let stats = bridge.stats.clone();
    eventually("20 messages exported", || stats.snapshot().total().exported == 20).await;
    let snap = stats.snapshot();
    assert_eq!(
        [
            snap.signal(Signal::Spans).exported,
            snap.signal(Signal::Logs).exported,
            snap.signal(Signal::Metrics).exported
        ],
        [7, 5, 8]
    );
    assert_eq!(snap.total().dead_lettered, 0);
    assert_eq!(snap.total().retried, 0);

    // Spans: each exactly once.
    let spans = receiver.spans();
    assert_eq!(spans.len(), 7, "{spans:#?}");
    let ids: HashSet<_> = spans.iter().map(|s| s.span.span_id.clone()).collect();
    assert_eq!(ids.len(), 7, "a span arrived twice");
    let by_name = |name: &str| -> (&str, &str, &Span) {
        // The Go golden span shares the collector span's name; the collector's comes first here.
        let s = spans
            .iter()
            .find(|s| s.span.name == name && s.service != "py-worker")
            .unwrap_or_else(|| panic!("span {name} missing"));
        (s.service.as_str(), s.scope.as_str(), &s.span)
    };

    let (service, scope, server) = by_name("worker.executeTask");
    assert_eq!((service, scope), ("rust-worker", "dagnats-bridge"));
    assert_eq!(hex(&server.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&server.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(server.kind, 2);
    assert_eq!(server.flags & 0x300, 0x300, "remote parent flags");
    assert_eq!(server.status.as_ref().map(|s| s.code), Some(1));
    assert_eq!(attr(&server.attributes, "attempt"), Some(&Any::IntValue(2)));
    assert_eq!(attr(&server.attributes, "ratio"), Some(&Any::DoubleValue(0.5)));
    assert_eq!(attr(&server.attributes, "cached"), Some(&Any::BoolValue(false)));
    assert_eq!(attr(&server.attributes, "run_id"), Some(&Any::StringValue("r-42".into())));
    assert_eq!(server.events.len(), 1);
    assert_eq!(server.events[0].name, "cache.miss");
    assert_eq!(attr(&server.events[0].attributes, "size"), Some(&Any::IntValue(1024)));
    assert!(server.end_time_unix_nano >= server.start_time_unix_nano && server.start_time_unix_nano > 0);

    let (_, _, client) = by_name("http.call");
    assert_eq!(client.trace_id, server.trace_id);
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.kind, 3);
    assert_eq!(client.flags & 0x300, 0, "a local parent is not remote");
    let status = client.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (2, "step failed"));
    assert!(client.events.iter().any(|e| e.name == "exception"));
    assert_eq!(by_name("queue.send").2.kind, 4);
    assert_eq!(by_name("queue.receive").2.kind, 5);

    let go = &spans.iter().find(|s| s.service == "py-worker").expect("Go span").span;
    assert_eq!(hex(&go.parent_span_id), "53995c3f42cd8ad8");
    assert_eq!(go.status.as_ref().map(|s| s.code), Some(1));
    assert_eq!(attr(&go.attributes, "attempt"), Some(&Any::IntValue(2)), "Go integers stay integers");
    assert_eq!(attr(&go.attributes, "weight"), Some(&Any::DoubleValue(3.0)));
    assert_eq!(go.events[0].name, "cache.miss");

    let (service, _, root) = by_name("engine.dispatch");
    assert_eq!(service, "engine");
    assert!(root.parent_span_id.is_empty());
    assert_eq!(root.kind, 4);
    let status = root.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (2, "step failed"));

    let (service, scope, otlp) = by_name("node.handle");
    assert_eq!((service, scope), ("node-worker", "node-sdk"));
    assert_eq!(attr(&otlp.attributes, "count"), Some(&Any::IntValue(42)));
    assert_eq!(hex(&otlp.span_id), "eee19b7ec3c1b174");

    // Logs.
    let logs = receiver.logs();
    assert_eq!(logs.len(), 5, "{logs:#?}");
    let log = |msg: &str| {
        logs.iter()
            .find(|l| l.log.body.as_ref().and_then(|b| b.value.as_ref()) == Some(&Any::StringValue(msg.into())))
            .unwrap_or_else(|| panic!("log {msg:?} missing"))
    };
    let started = log("task started");
    assert_eq!(started.service, "rust-worker");
    assert_eq!((started.log.severity_number, started.log.severity_text.as_str()), (9, "info"));
    assert_eq!(started.log.trace_id, server.trace_id);
    assert_eq!(started.log.span_id, server.span_id);
    assert_eq!(attr(&started.log.attributes, "attempt"), Some(&Any::IntValue(2)));
    assert!(log("no span here").log.span_id.is_empty());
    let retrying = log("retrying step");
    assert_eq!((retrying.service.as_str(), retrying.log.severity_number), ("engine", 13));
    assert_eq!(attr(&retrying.log.attributes, "attempt"), Some(&Any::IntValue(3)));
    assert_eq!(attr(&retrying.log.attributes, "exception.message"), Some(&Any::StringValue("timeout".into())));
    assert!(log("engine started").log.trace_id.is_empty());
    assert_eq!(log("from otlp").service, "dagnats", "an OTLP resource without a service gets the fallback");

    // Metrics: increments add up whatever the batching, histograms are histograms.
    let metrics = receiver.metrics();
    let sum_of = |service: &str, name: &str| -> f64 {
        metrics
            .iter()
            .filter(|m| m.service == service && m.metric.name == name)
            .map(|m| match &m.metric.data {
                Some(metric::Data::Sum(s)) => {
                    assert!(s.is_monotonic && s.aggregation_temporality == 1, "{name}: monotonic delta sum");
                    s.data_points
                        .iter()
                        .map(|p| match p.value {
                            Some(number_data_point::Value::AsDouble(v)) => v,
                            Some(number_data_point::Value::AsInt(v)) => v as f64,
                            None => 0.0,
                        })
                        .sum::<f64>()
                }
                other => panic!("{name} is not a sum: {other:?}"),
            })
            .sum()
    };
    assert_eq!(sum_of("rust-worker", "tasks.completed"), 3.0);
    assert_eq!(sum_of("engine", "dagnats.tasks.completed"), 1.0);
    assert_eq!(sum_of("node-worker", "node.requests"), 7.0);
    let gauge = metrics.iter().find(|m| m.metric.name == "queue.depth").expect("gauge");
    let Some(metric::Data::Gauge(g)) = &gauge.metric.data else { panic!("not a gauge") };
    assert_eq!(g.data_points[0].value, Some(number_data_point::Value::AsDouble(7.0)));
    let (mut count, mut sum) = (0, 0.0);
    for m in metrics.iter().filter(|m| m.metric.name == "task.duration_ms") {
        let Some(metric::Data::Histogram(h)) = &m.metric.data else { panic!("not a histogram") };
        for p in &h.data_points {
            count += p.count;
            sum += p.sum.unwrap_or_default();
            assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
        }
    }
    assert_eq!((count, sum), (2, 123.0));

    // Requests: protobuf, gzip; nothing dead-lettered.
    for r in receiver.requests() {
        assert_eq!((r.content_type.as_str(), r.content_encoding.as_str()), ("application/x-protobuf", "gzip"));
    }
    assert!(dead_letters(&nats.url()).await.is_empty());

    let text = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await.unwrap().text().await.unwrap();
    assert!(text.contains("dagnats_bridge_messages_exported_total{signal=\"spans\"} 7"), "{text}");
    assert!(text.contains("dagnats_bridge_messages_dead_lettered_total{signal=\"logs\"} 0"), "{text}");

    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_success_is_acknowledged_and_counted() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.set_partial_rejects(1);
    let js = jetstream(&nats.url()).await;
    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));
    publish_spans(&js, 0..5, "svc").await;
    let stats = bridge.stats.clone();
    eventually("5 spans exported", || stats.snapshot().signal(Signal::Spans).exported == 5).await;
    let snap = stats.snapshot();
    assert!(snap.signal(Signal::Spans).rejected_records >= 1);
    assert_eq!((snap.total().retried, snap.total().dead_lettered), (0, 0), "a partial success is not retried");
    bridge.stop().await;
    assert_eq!(receiver.answered(200), receiver.requests().len());
}
