//! Records published by the collector land on TELEMETRY under the contract's subjects,
//! with the contract's bodies and `Nats-Msg-Id` headers.

use std::time::Duration;

use dagnats_observe::engine::{decode_metric, MetricData};
use dagnats_observe::{
    Attribute, CollectorOptions, Context, Level, SpanKind, SpanOptions, StatusCode, Telemetry, TelemetryFormat,
};
use testkit::{read_stream, NatsServer};

#[tokio::test(flavor = "multi_thread")]
async fn records_arrive_on_the_right_subjects_with_dedup_ids() {
    let server = NatsServer::start();
    let tel = Telemetry::connect(CollectorOptions::default().url(server.url()).service("py.worker one")).unwrap();

    let (cx, mut span) = tel.tracer.start(
        &Context::new(),
        "worker.executeTask",
        SpanOptions::new()
            .kind(SpanKind::Server)
            .attributes([Attribute::string("run_id", "r-42"), Attribute::int("attempt", 2)]),
    );
    span.set_status(StatusCode::Ok, "done");
    let (_, mut no_run) = tel.tracer.start(&cx, "child", SpanOptions::new());
    no_run.end();
    span.end();
    tel.logger.entry(Level::Warn, "slow step").context(&cx).field(Attribute::float("secs", 1.5)).emit();
    tel.metrics.counter("tasks.completed").add(1.0, &[("queue", "default")]);
    tel.flush(Duration::from_secs(10)).unwrap();

    let msgs = read_stream(&server.url(), "TELEMETRY").await;
    let subjects: Vec<&str> = msgs.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "telemetry.spans.py_worker_one.no-run",
            "telemetry.spans.py_worker_one.r-42",
            "telemetry.logs.py_worker_one.warn",
            "telemetry.metrics.py_worker_one.tasks.completed",
        ]
    );

    let child = msgs[0].json();
    let parent = msgs[1].json();
    assert_eq!(parent["service"], "py.worker one", "the body keeps the original service name");
    assert_eq!(parent["kind"], "server");
    assert_eq!(parent["status"], "ok");
    assert_eq!(parent["status_message"], "done");
    assert_eq!(parent["attributes"]["attempt"], 2);
    assert!(parent.get("parent_id").is_none());
    assert_eq!(child["parent_id"], parent["span_id"]);
    assert_eq!(child["trace_id"], parent["trace_id"]);
    assert_eq!(child["status"], "unset");
    assert_eq!(
        msgs[1].header("Nats-Msg-Id").unwrap(),
        format!("{}.{}", parent["trace_id"].as_str().unwrap(), parent["span_id"].as_str().unwrap())
    );

    let log = msgs[2].json();
    assert_eq!(log["level"], "warn");
    assert_eq!(log["span_id"], parent["span_id"]);
    assert_eq!(log["fields"]["secs"], 1.5);
    let metric = msgs[3].json();
    assert_eq!(metric["type"], "counter");
    assert_eq!(metric["value"], 1.0);
    assert_eq!(metric["tags"]["queue"], "default");

    assert_eq!(tel.collector_stats().unwrap().published, 4);
    tel.shutdown(Duration::from_secs(5)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_metrics_arrive_aggregated_every_interval_and_on_shutdown() {
    let server = NatsServer::start();
    let options = CollectorOptions::default()
        .url(server.url())
        .service("py-worker")
        .format(TelemetryFormat::Engine)
        .metric_interval(Duration::from_millis(300));
    let tel = Telemetry::connect(options).unwrap();
    let done = tel.metrics.counter("tasks.completed");
    for _ in 0..5 {
        done.add(1.0, &[("queue", "default")]);
    }
    tel.metrics.counter("tasks.completed").add(2.0, &[("queue", "slow")]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    done.add(1.0, &[("queue", "default")]);
    tel.shutdown(Duration::from_secs(10)).unwrap();

    let msgs = read_stream(&server.url(), "TELEMETRY").await;
    assert!(msgs.len() >= 4, "at least one interval's export and the final one: {}", msgs.len());
    let mut last_default = 0.0;
    for m in &msgs {
        assert_eq!(m.subject, "telemetry.metrics.py-worker.tasks.completed");
        let metric = decode_metric(m.payload.as_ref(), "py-worker").unwrap();
        let id = m.header("Nats-Msg-Id").unwrap();
        assert!(id.starts_with(&format!("metric.tasks.completed.{}.", metric.timestamp.unix_nanos())), "{id}");
        let MetricData::Sum { points, .. } = metric.data else { panic!("not a sum") };
        assert_eq!(points.len(), 1, "one series per message");
        if points[0].attributes.get("queue").and_then(|v| v.as_str()) == Some("default") {
            assert!(points[0].value >= last_default, "cumulative");
            last_default = points[0].value;
        }
    }
    assert_eq!(last_default, 6.0, "the final export holds every increment");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_stream_keeps_its_settings() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "TELEMETRY".into(),
        subjects: vec!["telemetry.>".into()],
        max_messages: 1000,
        ..Default::default()
    })
    .await
    .unwrap();

    let tel = Telemetry::connect(CollectorOptions::default().url(server.url()).service("svc")).unwrap();
    let (_, span) = tel.tracer.start(&Context::new(), "s", SpanOptions::new());
    drop(span);
    tel.flush(Duration::from_secs(10)).unwrap();

    let mut stream = js.get_stream("TELEMETRY").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_messages, 1000);
    assert_eq!(info.state.messages, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_stream_is_created_with_the_contract_settings() {
    let server = NatsServer::start();
    let tel = Telemetry::connect(CollectorOptions::default().url(server.url()).service("svc")).unwrap();
    tel.metrics.gauge("depth").set(3.0, &[]);
    tel.flush(Duration::from_secs(10)).unwrap();

    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let mut stream = js.get_stream("TELEMETRY").await.unwrap();
    let cfg = stream.info().await.unwrap().config.clone();
    assert_eq!(cfg.subjects, vec!["telemetry.>".to_string()]);
    assert_eq!(cfg.max_age, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(cfg.max_bytes, 1 << 30);
    assert_eq!(cfg.duplicate_window, Duration::from_secs(5));
    assert_eq!(cfg.storage, async_nats::jetstream::stream::StorageType::File);
}
