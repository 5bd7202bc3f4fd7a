//! `NatsOptions::url` may list several servers separated by commas (a cluster): the
//! collector connects to whichever answers. (async-nats reads one string as one URL; a
//! list used to fail as an invalid URL.)

use std::time::Duration;

use dagnats_observe::{CollectorOptions, Context, SpanOptions, Telemetry};
use testkit::{wait_for_messages, NatsServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_with_one_live_server_delivers() {
    let down = NatsServer::reserved(); // never started
    let live = NatsServer::start();
    let url = format!("{}, {}", down.url(), live.url());
    let tel = Telemetry::connect(CollectorOptions::default().url(url).service("svc")).expect("a URL list connects");
    for _ in 0..10 {
        let (_, mut s) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
        s.end();
    }
    tel.flush(Duration::from_secs(20)).expect("delivered through the live server");
    assert_eq!(wait_for_messages(&live.url(), "TELEMETRY", 10, Duration::from_secs(5)).await.len(), 10);
    tel.shutdown(Duration::from_secs(5)).unwrap();
}
