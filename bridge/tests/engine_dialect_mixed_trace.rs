//! A trace whose spans come half from the DagNats engine (its dialect: bare OTLP Spans in
//! protobuf's canonical JSON, flat logs) and half from our workers, some writing records
//! and some the engine's dialect: one trace at the receiver, with the right parents, ints
//! still ints, every span once, services from the subjects; one tree in `dagnats trace`;
//! the engine's aggregated metrics (its own and ours) exported as the cumulative aggregates
//! they are.

mod support;

use std::time::Duration;

use dagnats_bridge::trace::{self, Query};
use dagnats_observe::id::TraceId;
use dagnats_observe::{
    propagation, Attribute, CollectorOptions, Context, SpanKind, SpanOptions, Telemetry, TelemetryFormat,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use support::receiver::ReceivedSpan;
use support::*;
use testkit::NatsServer;

/// The engine's span of the spec's example (trace 4bf92f35…, span 00f067aa0ba902b7),
/// as the engine publishes it: no service in the body, the run in the subject.
const ENGINE_SPAN: &str = include_str!("../../testdata/records/engine-span-example.json");
const ENGINE_LOG: &str = include_str!("../../testdata/records/engine-log.json");
const ENGINE_HISTOGRAM: &str = include_str!("../../testdata/records/engine-metric-histogram.json");
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const ENGINE_SPAN_ID: &str = "00f067aa0ba902b7";
const RUN: &str = "7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b";

fn worker(url: &str, service: &str, format: TelemetryFormat) -> Telemetry {
    Telemetry::connect(CollectorOptions::default().url(url).service(service).format(format)).expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_and_worker_spans_make_one_trace_in_both_dialects() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    publish(&js, &format!("telemetry.spans.dagnats.{RUN}"), ENGINE_SPAN.trim_end().to_owned()).await;
    publish(&js, "telemetry.logs.dagnats.error", ENGINE_LOG.trim_end().to_owned()).await;
    publish(&js, "telemetry.metrics.dagnats.task.duration", ENGINE_HISTOGRAM.trim_end().to_owned()).await;

    // The engine's enqueueTask injected this into the task message.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("traceparent", format!("00-{TRACE}-{ENGINE_SPAN_ID}-01").as_str());
    let parent = propagation::extract_nats(Some(&headers), None).expect("the engine's context");
    let mut ids = Vec::new();
    for (service, format) in [("rust-records", TelemetryFormat::Records), ("rust-engine", TelemetryFormat::Engine)] {
        let tel = worker(&nats.url(), service, format);
        let (cx, mut task) = tel.tracer.start(
            &Context::from_remote(Some(parent.clone())),
            "executeTask build",
            SpanOptions::new()
                .kind(SpanKind::Consumer)
                .attributes([Attribute::string("run_id", RUN), Attribute::int("attempt", 3)]),
        );
        let (_, mut step) = tel.tracer.start(&cx, "compile", SpanOptions::new());
        step.set_attribute(Attribute::float("ratio", 0.5));
        step.record_error("exit status 2");
        tel.logger.warn(&cx, "slow step", [Attribute::int("ms", 1200)]);
        let done = tel.metrics.counter("tasks.done");
        done.add(2.0, &[("queue", "build")]);
        done.add(3.0, &[("queue", "build")]);
        ids.push((service, task.span_context().span_id.to_string(), step.span_context().span_id.to_string()));
        step.end();
        task.end();
        tel.shutdown(Duration::from_secs(10)).expect("shutdown");
    }

    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));
    eventually("5 spans, 3 logs and the metrics exported", || {
        receiver.spans().len() >= 5 && receiver.logs().len() >= 3 && receiver.metrics().len() >= 3
    })
    .await;
    bridge.stop().await;

    // Metrics: the engine's histogram and our engine-format counter arrive as the
    // cumulative aggregates they are (start time kept), the record-format one as its sum.
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let metrics = receiver.metrics();
    let histogram = metrics.iter().find(|m| m.metric.name == "task.duration").expect("the engine's histogram");
    assert_eq!(histogram.service, "dagnats");
    let Some(Data::Histogram(h)) = &histogram.metric.data else { panic!("{histogram:?}") };
    assert_eq!(h.aggregation_temporality, 2, "cumulative kept cumulative");
    assert!(h.data_points.iter().all(|p| p.start_time_unix_nano > 0 && p.explicit_bounds.len() == 15));
    let counters: Vec<_> = metrics.iter().filter(|m| m.metric.name == "tasks.done").collect();
    let engine_counter = counters.iter().find(|m| m.service == "rust-engine").expect("our engine-format counter");
    let Some(Data::Sum(sum)) = &engine_counter.metric.data else { panic!("{engine_counter:?}") };
    assert_eq!((sum.aggregation_temporality, sum.is_monotonic), (2, true));
    let value = match sum.data_points[0].value {
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(v)) => v,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(v)) => v as f64,
        None => panic!("no value"),
    };
    assert_eq!(value, 5.0, "one cumulative point of both increments");
    assert!(counters.iter().any(|m| m.service == "rust-records"), "the record-format counter too");

    let spans = receiver.spans();
    assert_eq!(spans.len(), 5, "every span once");
    let trace = hex(&spans[0].span.trace_id);
    assert_eq!(trace, TRACE);
    assert!(spans.iter().all(|s| hex(&s.span.trace_id) == TRACE), "one trace id");
    let by_id = |id: &str| spans.iter().find(|s| hex(&s.span.span_id) == id).unwrap_or_else(|| panic!("span {id}"));
    let engine = by_id(ENGINE_SPAN_ID);
    assert_eq!((engine.service.as_str(), engine.span.name.as_str()), ("dagnats", "enqueueTask build"));
    assert_eq!(hex(&engine.span.parent_span_id), "53995c3f42cd8ad8");
    let attempt = |s: &ReceivedSpan| s.span.attributes.iter().find(|kv| kv.key == "attempt").cloned();
    assert_eq!(attempt(engine).and_then(|kv| kv.value?.value), Some(Any::IntValue(2)), "the engine's int");
    for (service, task_id, step_id) in &ids {
        let task = by_id(task_id);
        let step = by_id(step_id);
        assert_eq!((task.service.as_str(), step.service.as_str()), (*service, *service));
        assert_eq!(hex(&task.span.parent_span_id), ENGINE_SPAN_ID, "{service}: child of the engine's span");
        assert_eq!(hex(&step.span.parent_span_id), *task_id, "{service}: nested span");
        assert_eq!(attempt(task).and_then(|kv| kv.value?.value), Some(Any::IntValue(3)), "{service}: ints stay ints");
        assert_eq!(step.span.status.as_ref().map(|s| (s.code, s.message.as_str())), Some((2, "exit status 2")));
        assert_eq!(step.span.events[0].name, "exception", "{service}");
    }

    let logs = receiver.logs();
    let engine_log = logs.iter().find(|l| l.service == "dagnats").expect("the engine's log");
    assert_eq!(body_text(&engine_log.log), "task handler failed", "not emptied");
    assert_eq!(engine_log.log.severity_text, "error");
    assert_eq!(hex(&engine_log.log.span_id), ENGINE_SPAN_ID);
    for (service, task_id, _) in &ids {
        let log = logs.iter().find(|l| l.service == *service).unwrap_or_else(|| panic!("{service}'s log"));
        assert_eq!((body_text(&log.log).as_str(), hex(&log.log.span_id)), ("slow step", task_id.clone()));
    }

    let found = trace::trees(&js, &Query::Trace(TraceId::from_hex(TRACE).unwrap()), None).await.expect("dagnats trace");
    assert_eq!(found.trees.len(), 1, "one tree");
    assert_eq!(found.unreadable, 0);
    let tree = &found.trees[0];
    assert_eq!(tree.duplicates, 0);
    let shape: Vec<(String, usize)> = tree.rows.iter().map(|r| (tree.span(r).name.to_string(), r.depth)).collect();
    assert_eq!(shape[0], ("enqueueTask build".to_owned(), 0), "{shape:?}");
    assert_eq!(shape.iter().filter(|(n, d)| n == "executeTask build" && *d == 1).count(), 2, "{shape:?}");
    assert_eq!(shape.iter().filter(|(n, d)| n == "compile" && *d == 2).count(), 2, "{shape:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn body_text(log: &opentelemetry_proto::tonic::logs::v1::LogRecord) -> String {
    match log.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        other => panic!("log body {other:?}"),
    }
}
