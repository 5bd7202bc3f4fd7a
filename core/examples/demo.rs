//! The quickstart demo: an engine span's trace context crosses a NATS message, a worker
//! starts the child span on the other side, and the demo prints what arrived on
//! TELEMETRY as a tree.
//!
//! Needs a nats-server with JetStream at `NATS_URL` (scripts/demo starts one).

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use dagnats_observe::record::SpanRecord;
use dagnats_observe::{
    propagation, Attribute, CollectorOptions, Context, SpanKind, SpanOptions, StatusCode, Telemetry,
};
use futures::StreamExt;

const TASKS: &str = "dagnats.demo.tasks";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let run_id = format!("run-{:08x}", fastrand_u32());
    let client = async_nats::connect(&url).await?;
    let mut tasks = client.subscribe(TASKS).await?;

    // The engine: dispatch a task, writing the trace context into the headers and the
    // event fields (dual write).
    let engine = Telemetry::connect(CollectorOptions::default().url(&url).service("engine"))?;
    let (cx, mut dispatch) = engine.tracer.start(
        &Context::new(),
        "engine.dispatch",
        SpanOptions::new().kind(SpanKind::Producer).attribute(Attribute::string("run_id", run_id.clone())),
    );
    let sc = cx.span_context().expect("a current span");
    let mut headers = async_nats::HeaderMap::new();
    propagation::inject_nats(sc, &mut headers);
    let mut event = serde_json::Map::new();
    event.insert("run_id".into(), run_id.clone().into());
    event.insert("step_id".into(), "build".into());
    propagation::inject_event(sc, &mut event);
    client.publish_with_headers(TASKS, headers, serde_json::to_vec(&event)?.into()).await?;
    client.flush().await?;
    println!("engine   published {TASKS} with traceparent {}", sc.traceparent());
    dispatch.set_status(StatusCode::Ok, "");
    dispatch.end();

    // The worker: extract the parent (header first, event field second) and do the work
    // in a child span.
    let worker = Telemetry::connect(CollectorOptions::default().url(&url).service("rust-worker"))?;
    let msg = tokio::time::timeout(Duration::from_secs(5), tasks.next()).await?.ok_or("no task")?;
    let body: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&msg.payload)?;
    let parent = propagation::extract_nats(msg.headers.as_ref(), Some(&body));
    println!("worker   extracted parent {:?}", parent.as_ref().map(|p| p.traceparent()));
    let (cx, mut span) = worker.tracer.start(
        &Context::from_remote(parent),
        "worker.executeTask",
        SpanOptions::new().kind(SpanKind::Consumer).attributes([
            Attribute::string("run_id", run_id.clone()),
            Attribute::string("step_id", "build"),
            Attribute::int("attempt", 1),
        ]),
    );
    worker.logger.info(&cx, "executing step", [Attribute::string("step_id", "build")]);
    let (_, mut inner) = worker.tracer.start(&cx, "cache.lookup", SpanOptions::new());
    inner.add_event("cache.miss", [Attribute::string("key", "build")]);
    inner.end();
    worker.metrics.counter("tasks.completed").add(1.0, &[("step", "build")]);
    span.set_status(StatusCode::Ok, "");
    span.end();

    engine.shutdown(Duration::from_secs(5))?;
    worker.shutdown(Duration::from_secs(5))?;

    // What arrived on TELEMETRY for this run.
    let spans = read_run(&client, &run_id).await?;
    println!("\nTELEMETRY: {} spans for {run_id}", spans.len());
    print_tree(&spans);
    let trace_ids: std::collections::BTreeSet<_> = spans.iter().map(|s| s.trace_id).collect();
    if trace_ids.len() != 1 || spans.len() != 3 {
        return Err(
            format!("expected 3 spans in one trace, got {} spans in {} traces", spans.len(), trace_ids.len()).into()
        );
    }
    println!("\none trace id across the message boundary: {}", spans[0].trace_id);
    Ok(())
}

/// Spans of one run, read with an ordered consumer filtered on the run's subject. The
/// worker's inner span has no run_id, so it is found through its trace.
async fn read_run(client: &async_nats::Client, run_id: &str) -> Result<Vec<SpanRecord>, Box<dyn std::error::Error>> {
    let js = jetstream::new(client.clone());
    let stream = js.get_stream("TELEMETRY").await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: "telemetry.spans.>".into(),
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let mut all = Vec::new();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(500), messages.next()).await {
        if let Ok(span) = serde_json::from_slice::<SpanRecord>(&m.payload) {
            all.push(span);
        }
    }
    let traces: std::collections::BTreeSet<_> =
        all.iter().filter(|s| s.run_id() == Some(run_id)).map(|s| s.trace_id).collect();
    all.retain(|s| traces.contains(&s.trace_id));
    all.sort_by_key(|s| s.start_time);
    Ok(all)
}

fn print_tree(spans: &[SpanRecord]) {
    fn print(spans: &[SpanRecord], span: &SpanRecord, depth: usize) {
        println!(
            "{:indent$}{} {} [{}] {} ms {}",
            "",
            span.service,
            span.name,
            span.kind.as_str(),
            span.duration_ms,
            span.status.as_str(),
            indent = depth * 2
        );
        for child in spans.iter().filter(|c| c.parent_id == Some(span.span_id)) {
            print(spans, child, depth + 1);
        }
    }
    let ids: std::collections::HashSet<_> = spans.iter().map(|s| s.span_id).collect();
    // Roots, and spans whose parent never arrived, each start a branch.
    for root in spans.iter().filter(|s| s.parent_id.is_none_or(|p| !ids.contains(&p))) {
        print(spans, root, 0);
    }
}

fn fastrand_u32() -> u32 {
    dagnats_observe::SpanId::random().to_bytes()[..4].iter().fold(0u32, |a, b| a << 8 | *b as u32)
}
