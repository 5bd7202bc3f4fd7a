//! Poison: bodies that are not JSON, empty, of the wrong shape, with empty names, bad ids,
//! wrong types, invalid UTF-8, absurd nesting, unknown subjects, several megabytes. Each
//! is dead-lettered with its reason while the good records around them keep flowing, and
//! the bridge keeps running.

mod support;

use dagnats_bridge::settle::{HEADER_REASON, HEADER_SEQUENCE, HEADER_SUBJECT, HEADER_TRUNCATED_FROM};
use dagnats_bridge::Signal;
use support::*;
use testkit::NatsServer;

const GO_SPAN: &str = include_str!("../../testdata/records/go-span.json");
const GO_LOG: &str = include_str!("../../testdata/records/go-log.json");
const GO_METRIC: &str = include_str!("../../testdata/records/go-metric.json");
/// The test server's payload limit, above the NATS default so that multi-megabyte
/// messages can exist at all.
const MAX_PAYLOAD: usize = 8 << 20;

fn poison() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let span = "telemetry.spans.svc.r-1";
    let huge = GO_SPAN.replace("\"step_id\":\"build\"", &format!("\"step_id\":\"{}\"", "x".repeat(3 << 20)));
    vec![
        (span, b"not json".to_vec(), "not a JSON object"),
        (span, Vec::new(), "empty message"),
        (span, b"null".to_vec(), "not a JSON object"),
        (span, b"[]".to_vec(), "not a JSON object"),
        (span, GO_SPAN.replace("\"worker.executeTask\"", "\"\"").into_bytes(), "span name is empty"),
        (span, GO_SPAN.replace("4bf92f3577b34da6a3ce929d0e0e4736", "").into_bytes(), "wrong length"),
        (span, GO_SPAN.replace("4bf92f3577b34da6a3ce929d0e0e4736", "xyz").into_bytes(), "wrong length"),
        (span, GO_SPAN.replace("00f067aa0ba902b7", "0000000000000000").into_bytes(), "all-zero"),
        (span, GO_SPAN.replace("\"duration_ms\":1234", "\"duration_ms\":\"long\"").into_bytes(), "not a valid spans record"),
        (span, GO_SPAN.replace("\"attempt\":2", "\"attempt\":{\"nested\":1}").into_bytes(), "not a valid spans record"),
        (span, b"{\"name\":\"\xff\xfe\"}".to_vec(), "not a valid spans record"),
        (span, format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000)).into_bytes(), "not a valid spans record"),
        (span, huge.into_bytes(), "exceeds the limit"),
        ("telemetry.logs.engine.warn", GO_LOG.replace("00f067aa0ba902b7", "not-an-id").into_bytes(), "invalid id"),
        ("telemetry.metrics.engine.m", GO_METRIC.replace("\"counter\"", "\"summary\"").into_bytes(), "not a valid metrics record"),
        ("telemetry.metrics.engine.m", GO_METRIC.replace("\"value\":1", "\"value\":\"one\"").into_bytes(), "not a valid metrics record"),
        ("telemetry.metrics.engine.m", GO_METRIC.replace("dagnats.tasks.completed", "").into_bytes(), "metric name is empty"),
        ("telemetry.events.engine.x", GO_SPAN.as_bytes().to_vec(), "not on a spans, logs or metrics subject"),
        (
            span,
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00","spanId":"eee19b7ec3c1b174","name":"n"}]}]}]}"#.to_vec(),
            "invalid trace, span or parent id",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_dead_letter_while_the_rest_flows() {
    let nats = NatsServer::start_with_config(&format!("max_payload: {MAX_PAYLOAD}"));
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));
    let stats = bridge.stats.clone();

    let poison = poison();
    let mut good = 0u64;
    for (subject, body, _) in &poison {
        publish_spans(&js, good..good + 2, "svc").await;
        good += 2;
        publish(&js, subject, body.clone()).await;
    }
    // A body at the server's own limit: its dead letter must be truncated to fit.
    let at_limit = vec![b'x'; MAX_PAYLOAD - 1024];
    publish(&js, "telemetry.spans.svc.r-1", at_limit.clone()).await;
    publish_spans(&js, good..good + 2, "svc").await;
    good += 2;
    let poisoned = poison.len() as u64 + 1;

    eventually("every poison message dead-lettered", || stats.snapshot().total().dead_lettered == poisoned).await;
    eventually("every good span exported", || stats.snapshot().signal(Signal::Spans).exported == good).await;
    let counts = span_id_counts(&receiver);
    for i in 0..good {
        assert_eq!(counts.get(&span_id(i)), Some(&1), "good span {i} lost or duplicated");
    }
    assert_eq!(receiver.spans().len() as u64, good);

    let dead = dead_letters(&nats.url()).await;
    assert_eq!(dead.len() as u64, poisoned);
    // Dead letters come from concurrent workers, in any order: match them by sequence.
    let stored = testkit::read_stream(&nats.url(), "TELEMETRY").await;
    let mut matched = vec![false; poison.len()];
    for m in &dead {
        let seq: u64 = m.header(HEADER_SEQUENCE).unwrap().parse().unwrap();
        let original = stored.iter().find(|s| s.sequence == seq).expect("original still in TELEMETRY");
        assert_eq!(m.header(HEADER_SUBJECT), Some(original.subject.as_str()));
        let reason = m.header(HEADER_REASON).unwrap();
        if original.payload == at_limit {
            assert_eq!(m.header(HEADER_TRUNCATED_FROM), Some(at_limit.len().to_string().as_str()));
            assert!(m.payload.len() < at_limit.len() && at_limit.starts_with(&m.payload));
            continue;
        }
        let i = poison
            .iter()
            .position(|(subject, body, _)| *subject == original.subject && *body == original.payload)
            .unwrap_or_else(|| panic!("dead letter {seq} is not a poison message: {reason}"));
        assert!(!matched[i], "poison {i} dead-lettered twice");
        matched[i] = true;
        assert!(reason.contains(poison[i].2), "{}: {reason:?} should say {:?}", poison[i].0, poison[i].2);
        assert_eq!(m.payload, original.payload, "the body is kept");
    }
    assert!(matched.iter().all(|m| *m));

    // Still running: more good spans flow.
    publish_spans(&js, good..good + 5, "svc").await;
    eventually("the bridge still exports", || stats.snapshot().signal(Signal::Spans).exported == good + 5).await;
    bridge.stop().await;
}
