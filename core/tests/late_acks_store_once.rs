//! A server that stores at once but whose acknowledgements arrive late (after the
//! stream's 5 s duplicate window) still gets every record once: the collector resends a
//! record only inside the duplicate window, where the server drops the copy by its
//! `Nats-Msg-Id`, and a late ack of any send settles it. The resends are counted.
//! When no send is answered at all (the connection is lost with the answers), the record
//! goes out again after the window, where it may be stored twice: that is counted too.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dagnats_observe::{CollectorOptions, Telemetry};
use support::spans;
use testkit::proxy::DelayProxy;
use testkit::{read_stream, NatsServer};

const RECORDS: usize = 300;

/// How many copies of each record (by `Nats-Msg-Id`) the stream holds.
fn copies_by_msg_id(msgs: &[testkit::StoredMessage]) -> HashMap<String, usize> {
    let mut copies: HashMap<String, usize> = HashMap::new();
    for m in msgs {
        let id = m.header("Nats-Msg-Id").expect("every record carries a Nats-Msg-Id").to_owned();
        *copies.entry(id).or_default() += 1;
    }
    copies
}

#[tokio::test(flavor = "multi_thread")]
async fn acks_later_than_the_duplicate_window_store_each_record_once() {
    let server = NatsServer::start();
    let proxy = DelayProxy::start(server.port());
    let tel = Telemetry::connect(CollectorOptions::default().url(proxy.url()).service("svc")).unwrap();

    // One record through the undelayed path first: the stream exists and the collector
    // has finished its start-up requests before the answers start coming late.
    spans(&tel, 1, "warmup");
    tel.flush(Duration::from_secs(30)).expect("the warm-up record is acknowledged");

    // Longer than the duplicate window (5 s) and than the old 5 s ack timeout.
    proxy.set_server_delay(Duration::from_secs(6));
    spans(&tel, RECORDS, "late");

    // The late acks settle everything about 6 s after the sends; the bound only guards
    // against a hang (a collector that keeps timing out never gets there).
    let guard = Instant::now() + Duration::from_secs(30);
    while tel.collector_stats().unwrap().published < 1 + RECORDS as u64 && Instant::now() < guard {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.set_server_delay(Duration::ZERO);
    tel.flush(Duration::from_secs(90)).expect("every record acknowledged");
    let stats = tel.collector_stats().unwrap();

    let msgs = read_stream(&server.url(), "TELEMETRY").await;
    let copies = copies_by_msg_id(&msgs);
    let stored_twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        stored_twice.is_empty(),
        "{} records stored more than once, e.g. {:?}",
        stored_twice.len(),
        stored_twice.first()
    );
    assert_eq!(copies.len(), 1 + RECORDS, "every record stored");
    assert_eq!(msgs.len(), 1 + RECORDS, "and nothing else");

    assert_eq!(stats.published, 1 + RECORDS as u64);
    assert_eq!(tel.dropped(), 0);
    assert!(stats.resent_in_window > 0, "late acks made the collector resend inside the window: {stats:?}");
    assert!(stats.retried >= stats.resent_in_window, "every resend is a retry: {stats:?}");
    assert_eq!(stats.retried_after_window, 0, "the late acks settled every record: {stats:?}");
    tel.shutdown(Duration::from_secs(5)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_lost_with_the_connection_send_again_after_the_window_and_count_it() {
    let server = NatsServer::start();
    let proxy = DelayProxy::start(server.port());
    let tel = Telemetry::connect(CollectorOptions::default().url(proxy.url()).service("svc")).unwrap();
    spans(&tel, 1, "warmup");
    tel.flush(Duration::from_secs(30)).expect("the warm-up record is acknowledged");

    // Answers held far longer than the test needs: they are lost with the connection.
    proxy.set_server_delay(Duration::from_secs(20));
    spans(&tel, RECORDS, "lost");
    // Once every record has been resent at least once, each is past 1.5 s; 2.5 s more
    // puts it past the 3.5 s in which resends are made. (Bounds here pace the test; the
    // assertions below hold whatever they turn out to be.)
    let guard = Instant::now() + Duration::from_secs(15);
    while tel.collector_stats().unwrap().resent_in_window < RECORDS as u64 && Instant::now() < guard {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    proxy.set_server_delay(Duration::ZERO);
    proxy.cut_connections();

    tel.flush(Duration::from_secs(90)).expect("every record acknowledged after the reconnect");
    let stats = tel.collector_stats().unwrap();
    let msgs = read_stream(&server.url(), "TELEMETRY").await;
    let copies = copies_by_msg_id(&msgs);
    assert_eq!(copies.len(), 1 + RECORDS, "every record stored");
    assert_eq!(stats.published, 1 + RECORDS as u64);
    assert_eq!(tel.dropped(), 0);
    let extra = (msgs.len() - copies.len()) as u64;
    assert!(extra <= stats.retried_after_window, "every extra copy ({extra}) is counted: {stats:?}");
    assert!(
        stats.retried_after_window > 0,
        "records whose answers were lost went out again after the window: {stats:?}"
    );
    tel.shutdown(Duration::from_secs(5)).unwrap();
}
