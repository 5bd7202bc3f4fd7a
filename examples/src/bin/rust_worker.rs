//! The quickstart's Rust worker: takes the step the C worker hands on, runs it in a
//! child span (the first attempt fails and is retried: an error span, then a good one),
//! and reports the run done to the engine, carrying the trace context on.
//!
//! `NATS_URL=... rust-worker` (prints `ready` once subscribed).

use std::time::Duration;

use dagnats_observe::{
    propagation, Attribute, CollectorOptions, Context, SpanKind, SpanOptions, StatusCode, Telemetry,
};
use futures::StreamExt;

const INBOX: &str = "dagnats.demo.rust";
const DONE: &str = "dagnats.demo.done";

type Event = serde_json::Map<String, serde_json::Value>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let tel = Telemetry::connect(CollectorOptions::from_env().url(&url).service("rust-worker"))?;
    let client = async_nats::connect(&url).await?;
    let mut inbox = client.subscribe(INBOX).await?;
    client.flush().await?;
    println!("rust-worker: ready on {INBOX}");

    let msg = tokio::time::timeout(Duration::from_secs(120), inbox.next()).await?.ok_or("subscription closed")?;
    let mut event: Event = serde_json::from_slice(&msg.payload)?;
    let parent = Context::from_remote(propagation::extract_nats(msg.headers.as_ref(), Some(&event)));
    let run_id = event.get("run_id").and_then(|v| v.as_str()).unwrap_or("").to_owned();

    // The step fails once and is retried, as the engine's retry policy would.
    let mut done_cx = parent.clone();
    for attempt in 1..=2 {
        let (cx, mut span) = tel.tracer.start(
            &parent,
            "rust.publishArtifact",
            SpanOptions::new().kind(SpanKind::Consumer).attributes([
                Attribute::string("run_id", run_id.clone()),
                Attribute::string("step_id", "publish"),
                Attribute::int("attempt", attempt),
            ]),
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
        if attempt == 1 {
            span.record_error("artifact store unavailable (attempt 1)");
            tel.logger.warn(&cx, "publish failed, retrying", [Attribute::int("attempt", attempt)]);
        } else {
            span.set_status(StatusCode::Ok, "");
            tel.logger.info(&cx, "artifact published", [Attribute::int("attempt", attempt)]);
            tel.metrics.counter("artifacts.published").add(1.0, &[("worker", "rust")]);
            done_cx = cx;
        }
        span.end();
        println!("rust-worker: attempt {attempt} {}", if attempt == 1 { "failed" } else { "succeeded" });
    }

    let sc = done_cx.span_context().ok_or("no span")?;
    let mut headers = async_nats::HeaderMap::new();
    propagation::inject_nats(sc, &mut headers);
    propagation::inject_event(sc, &mut event);
    event.insert("step_id".into(), "done".into());
    client.publish_with_headers(DONE, headers, serde_json::to_vec(&event)?.into()).await?;
    client.flush().await?;
    tel.shutdown(Duration::from_secs(10))?;
    println!("rust-worker: reported {run_id} done");
    Ok(())
}
