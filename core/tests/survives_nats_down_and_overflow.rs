//! NATS down at start, or restarting, loses nothing that fits in the buffer; a full
//! buffer drops and counts instead of blocking.

mod support;

use std::time::Duration;

use dagnats_observe::{CollectorOptions, Telemetry};
use support::spans;
use testkit::{wait_for_messages, NatsServer};

#[tokio::test(flavor = "multi_thread")]
async fn nats_down_at_start_then_up_delivers_everything() {
    let mut server = NatsServer::reserved();
    let tel = Telemetry::connect(CollectorOptions::default().url(server.url()).service("svc")).unwrap();
    spans(&tel, 200, "before");
    assert!(tel.flush(Duration::from_millis(300)).is_err(), "nothing can be delivered yet");

    server.run();
    tel.flush(Duration::from_secs(30)).unwrap();
    let msgs = wait_for_messages(&server.url(), "TELEMETRY", 200, Duration::from_secs(5)).await;
    assert_eq!(msgs.len(), 200);
    assert_eq!(tel.dropped(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_mid_stream_loses_nothing() {
    let mut server = NatsServer::start();
    let tel = Telemetry::connect(CollectorOptions::default().url(server.url()).service("svc")).unwrap();
    spans(&tel, 100, "first");
    tel.flush(Duration::from_secs(10)).unwrap();

    server.stop();
    spans(&tel, 100, "during");
    server.run();
    spans(&tel, 100, "after");
    tel.flush(Duration::from_secs(30)).unwrap();

    let msgs = wait_for_messages(&server.url(), "TELEMETRY", 300, Duration::from_secs(5)).await;
    assert_eq!(msgs.len(), 300, "every span once (Nats-Msg-Id dedups retried publishes)");
    for run in ["first", "during", "after"] {
        let subject = format!("telemetry.spans.svc.{run}");
        assert_eq!(msgs.iter().filter(|m| m.subject == subject).count(), 100, "{run}");
    }
    assert_eq!(tel.dropped(), 0);
}

#[test]
fn a_full_buffer_drops_and_counts_without_blocking() {
    let server = NatsServer::reserved(); // never started: nothing drains the buffer
    let options =
        CollectorOptions { buffer_capacity: 10, ..CollectorOptions::default().url(server.url()).service("svc") };
    let tel = Telemetry::connect(options).unwrap();
    spans(&tel, 1000, "r");
    let stats = tel.collector_stats().unwrap();
    assert_eq!(stats.dropped_overflow, 990);
    assert_eq!(stats.pending, 10);
    assert_eq!(tel.dropped(), 990);

    let err = tel.shutdown(Duration::from_millis(200)).unwrap_err();
    assert_eq!(err, dagnats_observe::Error::Timeout { pending: 10 });
    assert_eq!(tel.dropped(), 1000, "what shutdown abandoned is counted too");
    spans(&tel, 1, "late");
    assert_eq!(tel.dropped(), 1001, "records after shutdown are counted, not queued");
}
