//! `dagnats otlp-bridge --check` against real parts: with a live NATS and a live receiver
//! it passes (and creates nothing on the server); with NATS unreachable it fails naming
//! NATS; with an endpoint that refuses connections or answers 401 it fails naming that
//! endpoint, without printing the header's secret. Environment variables set the flags
//! (`DAGNATS_BRIDGE_*`, `NATS_URL`), a flag beats its variable, and an `OTEL_*` value that
//! cannot be used is warned about while the bridge runs and exports anyway.

mod support;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use support::*;
use testkit::NatsServer;

/// The binary with the variables that would change what it does removed, then `env`.
fn bridge_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dagnats"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k.starts_with("DAGNATS_") || k.starts_with("NATS_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("otlp-bridge").args(args).envs(env.iter().copied());
    cmd
}

/// `dagnats otlp-bridge --check ARGS` with `env`, to the end, off the test's runtime.
async fn check(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = bridge_command(&[&["--check"], args].concat(), env);
    let out: Output = tokio::task::spawn_blocking(move || cmd.output().expect("run the check")).await.unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), all)
}

fn line<'a>(output: &'a str, start: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?}:\n{output}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_passes_with_live_nats_and_receiver_and_creates_nothing() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let (code, out) = check(&["--nats-url", &nats.url(), "--endpoint", &receiver.base_url()], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "ok      NATS:").contains(&nats.url()), "{out}");
    line(&out, "ok      JetStream:");
    assert!(line(&out, "ok      stream TELEMETRY:").contains("not created yet"), "{out}");
    assert!(line(&out, "ok      consumer otlp-bridge:").contains("max_deliver 4"), "{out}");
    for signal in ["spans", "logs", "metrics"] {
        line(&out, &format!("ok      {signal} endpoint {}", receiver.base_url()));
    }
    assert!(out.contains("check passed"), "{out}");
    // One empty export request per signal reached the receiver.
    let mut paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(paths, ["/v1/logs", "/v1/metrics", "/v1/traces"]);
    // Nothing was created.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    assert!(js.get_stream("TELEMETRY").await.is_err(), "--check created the stream");

    // Existing stream and consumer are reported with their settings.
    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));
    eventually_async("the consumer exists", || {
        let js = js.clone();
        async move {
            match js.get_stream("TELEMETRY").await {
                Ok(s) => s.consumer_info("otlp-bridge").await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;
    bridge.stop().await;
    let (code, out) = check(&["--nats-url", &nats.url(), "--endpoint", &receiver.base_url()], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "ok      stream TELEMETRY:").contains("exists"), "{out}");
    assert!(line(&out, "ok      consumer otlp-bridge:").contains("exists"), "{out}");
    // Other flags than the consumer's settings: a warning, not a failure.
    let (code, out) =
        check(&["--nats-url", &nats.url(), "--endpoint", &receiver.base_url(), "--max-deliver=9"], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "warning consumer otlp-bridge:").contains("other settings"), "{out}");
    // The room for unacknowledged messages is shown, and too little of it is a warning.
    let (_, out) = check(&["--nats-url", &nats.url(), "--endpoint", &receiver.base_url()], &[]).await;
    // (8 workers x 512 by default, twice over.)
    assert!(line(&out, "ok      consumer otlp-bridge:").contains("max_ack_pending 8192"), "{out}");
    let (code, out) = check(
        &["--nats-url", &nats.url(), "--endpoint", &receiver.base_url(), "--workers=16", "--batch-size=1000"],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let l = line(&out, "warning consumer otlp-bridge:");
    assert!(l.contains("fewer unacknowledged messages than --workers x --batch-size (16 x 1000)"), "{l}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_shows_the_subject_filters_in_effect() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let base = ["--nats-url", &nats.url(), "--endpoint", &receiver.base_url()];
    let (code, out) = check(&base, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(line(&out, "ok      subjects:"), "ok      subjects: consuming telemetry.> (everything)");

    let only = [("DAGNATS_BRIDGE_SUBJECTS", "telemetry.spans.py-worker.>, telemetry.logs.>")];
    let (code, out) = check(&base, &only).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        line(&out, "ok      subjects:"),
        "ok      subjects: consuming only telemetry.spans.py-worker.>, telemetry.logs.>"
    );
    assert!(line(&out, "ok      consumer otlp-bridge:").contains("not created yet"), "{out}");
    assert!(
        line(&out, "ok      consumer otlp-bridge:")
            .contains(r#"filters ["telemetry.spans.py-worker.>", "telemetry.logs.>"]"#),
        "{out}"
    );
    // A flag beats the variable.
    let (_, out) = check(&[&base[..], &["--subject", "telemetry.metrics.>"]].concat(), &only).await;
    assert_eq!(line(&out, "ok      subjects:"), "ok      subjects: consuming only telemetry.metrics.>");

    // An existing consumer with other filters: a warning saying the bridge updates them.
    jetstream(&nats.url()).await;
    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));
    eventually_async("the consumer exists", || async { consumer_backlog(&nats.url()).await.0 != u64::MAX }).await;
    bridge.stop().await;
    let (code, out) = check(&base, &only).await;
    assert_eq!(code, 0, "{out}");
    let l = line(&out, "warning consumer otlp-bridge:");
    assert!(l.contains("other filters than --subject") && l.contains(r#"filters ["telemetry.>"]"#), "{l}");

    // A filter outside TELEMETRY: a usage error naming it.
    let (code, out) = check(&base, &[("DAGNATS_BRIDGE_SUBJECTS", "telemetry.spans.>,events.>")]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(r#"--subject "events.>" is not under telemetry.>"#), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_fails_naming_nats_when_it_is_unreachable() {
    let receiver = Receiver::start().await;
    let nowhere = format!("nats://127.0.0.1:{}", testkit::free_port());
    let (code, out) = check(&["--nats-url", &nowhere, "--endpoint", &receiver.base_url()], &[]).await;
    assert_ne!(code, 0, "{out}");
    assert!(line(&out, "FAILED  NATS:").contains("unreachable"), "{out}");
    line(&out, "skipped consumer otlp-bridge:");
    // The endpoints are still checked.
    line(&out, "ok      spans endpoint");
    assert!(out.contains("check failed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_fails_naming_the_endpoint_that_refuses_connections_or_answers_401() {
    let nats = NatsServer::start();
    let closed = format!("http://127.0.0.1:{}", testkit::free_port());
    let (code, out) = check(&["--nats-url", &nats.url(), "--endpoint", &closed], &[]).await;
    assert_ne!(code, 0, "{out}");
    line(&out, "ok      NATS:");
    for (signal, path) in [("spans", "v1/traces"), ("logs", "v1/logs"), ("metrics", "v1/metrics")] {
        let l = line(&out, &format!("FAILED  {signal} endpoint {closed}/{path} (http/protobuf): unreachable"));
        assert!(l.contains("connect"), "{l}");
    }

    let receiver = Receiver::start().await;
    receiver.set_status(401);
    let secret = "Bearer s3cret-token-value";
    let (code, out) = check(
        &[
            "--nats-url",
            &nats.url(),
            "--endpoint",
            &receiver.base_url(),
            "--header",
            &format!("Authorization={secret}"),
        ],
        &[],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    let l = line(&out, &format!("FAILED  spans endpoint {}/v1/traces", receiver.base_url()));
    assert!(l.contains("401"), "{l}");
    assert!(!out.contains("s3cret"), "a secret was printed:\n{out}");
    assert!(receiver.requests().iter().all(|r| r.authorization == secret), "the header was not sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_variables_set_the_flags_and_a_flag_beats_its_variable() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let base = receiver.base_url();
    let env = [
        ("NATS_URL", nats.url()),
        ("DAGNATS_BRIDGE_ENDPOINT", base.clone()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9".to_owned()),
        ("DAGNATS_BRIDGE_CONSUMER", "from-env".to_owned()),
        ("DAGNATS_BRIDGE_MAX_DELIVER", "7".to_owned()),
        ("DAGNATS_BRIDGE_ACK_WAIT", "45s".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out) = check(&[], &env).await;
    assert_eq!(code, 0, "{out}");
    // DAGNATS_BRIDGE_ENDPOINT counts as the flag: it beats OTEL_EXPORTER_OTLP_ENDPOINT.
    line(&out, &format!("ok      spans endpoint {base}/v1/traces"));
    let consumer = line(&out, "ok      consumer from-env:");
    assert!(consumer.contains("max_deliver 7") && consumer.contains("45s"), "{consumer}");
    // A flag beats its variable.
    let (code, out) = check(&["--consumer", "from-flag"], &env).await;
    assert_eq!(code, 0, "{out}");
    line(&out, "ok      consumer from-flag:");
    // A boolean flag from its variable: 1 / true / yes set it, 0 / false leave it off.
    let sent = receiver.requests().len();
    assert!(receiver.requests().iter().all(|r| r.content_encoding == "gzip"));
    let mut plain = env.clone();
    plain.push(("DAGNATS_BRIDGE_NO_GZIP", "1"));
    let (code, out) = check(&[], &plain).await;
    assert_eq!(code, 0, "{out}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), sent + 3);
    assert!(requests[sent..].iter().all(|r| r.content_encoding.is_empty()), "{requests:?}");
    plain.pop();
    plain.push(("DAGNATS_BRIDGE_NO_GZIP", "false"));
    let (code, out) = check(&["--compression", "gzip"], &plain).await;
    assert_eq!(code, 0, "{out}");
    assert!(receiver.requests()[sent + 3..].iter().all(|r| r.content_encoding == "gzip"));
    // A bad value in a DAGNATS_BRIDGE_* variable is as strict as the flag.
    let mut bad = env.clone();
    bad.push(("DAGNATS_BRIDGE_BATCH_SIZE", "0"));
    let (code, out) = check(&[], &bad).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--batch-size"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_otel_value_is_warned_about_and_the_bridge_exports_anyway() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let env = [
        ("NATS_URL", nats.url()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url()),
        ("DAGNATS_BRIDGE_FLUSH_INTERVAL", "200ms".to_owned()),
        ("DAGNATS_BRIDGE_BATCH_SIZE", "10".to_owned()),
        ("DAGNATS_BRIDGE_STATS_INTERVAL", "0s".to_owned()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten seconds".to_owned()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-ok=1,secret-without-equals".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // --check passes and shows the warnings.
    let (code, out) = check(&[], &env).await;
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "warning configuration:").contains("OTEL_EXPORTER_OTLP_"), "{out}");
    for var in ["OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_HEADERS: entry 2"] {
        assert!(out.lines().any(|l| l.starts_with("warning configuration:") && l.contains(var)), "{var}:\n{out}");
    }
    assert!(!out.contains("secret-without-equals"), "{out}");

    // The bridge itself runs with them, logs the warnings, and exports with the default
    // compression (gzip) and the good header.
    let mut child =
        bridge_command(&[], &env).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start the bridge");
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    publish_spans(&js, 0..5, "svc").await;
    eventually("the spans are exported", || span_id_counts(&receiver).len() == 5).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(receiver.requests().iter().any(|r| r.content_encoding == "gzip" && r.path == "/v1/traces"));
    let log = log.lock().unwrap().clone();
    assert!(log.contains("OTEL_EXPORTER_OTLP_COMPRESSION") && log.contains("OTEL_EXPORTER_OTLP_TIMEOUT"), "{log}");
    assert!(!log.contains("secret-without-equals"), "{log}");
}
