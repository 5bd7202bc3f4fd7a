//! A parent span in one service and a child started after a NATS message in another
//! share one trace id, and the child names the remote parent.

use std::time::Duration;

use dagnats_observe::{propagation, CollectorOptions, Context, SpanKind, SpanOptions, Telemetry};
use futures::StreamExt;
use testkit::{wait_for_messages, NatsServer};

#[tokio::test(flavor = "multi_thread")]
async fn child_after_a_message_has_the_remote_parent() {
    let server = NatsServer::start();
    let engine = Telemetry::connect(CollectorOptions::default().url(server.url()).service("engine")).unwrap();
    let worker = Telemetry::connect(CollectorOptions::default().url(server.url()).service("rust-worker")).unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let mut tasks = client.subscribe("dagnats.tasks").await.unwrap();

    // Engine side: dual write into the headers and the event fields.
    let (cx, mut dispatch) =
        engine.tracer.start(&Context::new(), "engine.dispatch", SpanOptions::new().kind(SpanKind::Producer));
    let mut headers = async_nats::HeaderMap::new();
    let mut event = serde_json::Map::new();
    event.insert("run_id".into(), "r-1".into());
    propagation::inject_nats(cx.span_context().unwrap(), &mut headers);
    propagation::inject_event(cx.span_context().unwrap(), &mut event);
    client.publish_with_headers("dagnats.tasks", headers, serde_json::to_vec(&event).unwrap().into()).await.unwrap();
    dispatch.end();

    // Worker side.
    let msg = tasks.next().await.unwrap();
    let body: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&msg.payload).unwrap();
    let parent = propagation::extract_nats(msg.headers.as_ref(), Some(&body)).expect("a parent");
    assert!(parent.is_remote);
    let (_, mut child) = worker.tracer.start(
        &Context::from_remote(Some(parent)),
        "worker.executeTask",
        SpanOptions::new().kind(SpanKind::Consumer),
    );
    child.end();

    engine.flush(Duration::from_secs(10)).unwrap();
    worker.flush(Duration::from_secs(10)).unwrap();
    let msgs = wait_for_messages(&server.url(), "TELEMETRY", 2, Duration::from_secs(10)).await;
    let spans: Vec<serde_json::Value> = msgs.iter().map(|m| m.json()).collect();
    let p = spans.iter().find(|s| s["service"] == "engine").unwrap();
    let c = spans.iter().find(|s| s["service"] == "rust-worker").unwrap();
    assert_eq!(c["trace_id"], p["trace_id"]);
    assert_eq!(c["parent_id"], p["span_id"]);
    assert_eq!(c["parent_is_remote"], true);
    assert_eq!(c["flags"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_traceparent_starts_a_new_root() {
    let (tel, memory) = Telemetry::in_memory("w");
    let headers = [("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")];
    let cx = Context::from_remote(propagation::extract_from_headers(headers));
    let (_, span) = tel.tracer.start(&cx, "t", SpanOptions::new());
    drop(span);
    let s = &memory.spans()[0];
    assert!(s.parent_id.is_none());
    assert_ne!(s.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
}
