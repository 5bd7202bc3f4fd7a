//! What the bridge adds to every resource (OTEL_RESOURCE_ATTRIBUTES) and the
//! instrumentation scope a record names reach the receiver: the record's own service
//! still names its resource, and a record without a scope is exported under the bridge's.

mod support;

use dagnats_bridge::SCOPE_NAME;
use support::*;
use testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_attributes_and_record_scopes_are_exported() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..3, "svc").await;
    let record = span_json(3, "svc");
    let scoped =
        record.strip_suffix('}').unwrap().to_owned() + r#","scope":{"name":"billing.client","version":"2.1.0"}}"#;
    publish(&js, "telemetry.spans.svc.r-1", scoped).await;

    let mut config = test_config(&nats.url(), &receiver);
    config.resource_attributes = vec![("deployment.environment".into(), "prod".into())];
    let bridge = RunningBridge::start(config);
    eventually("4 spans exported", || receiver.spans().len() == 4).await;
    bridge.stop().await;

    for s in receiver.spans() {
        assert_eq!(s.service, "svc", "the record's service names the resource");
        assert!(s.resource.contains(&("deployment.environment".into(), "prod".into())), "{:?}", s.resource);
        let expected = if s.span.name == "step-3" { "billing.client" } else { SCOPE_NAME };
        assert_eq!(s.scope, expected, "scope of {}", s.span.name);
    }
}
