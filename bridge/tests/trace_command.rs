//! `dagnats trace` and `dagnats tail` against a real nats-server: spans published in
//! both record formats (Go-style JSON and OTLP-JSON, and through the core's collector)
//! come back as trees in the right order, orphans included; a run brings its whole
//! traces; an unknown trace exits non-zero; `tail` follows, filters and stops on SIGTERM.
//! The waterfall page written here is also what `scripts/test-waterfall` opens in
//! Chromium.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use async_nats::jetstream;
use dagnats_bridge::trace::{self, tree::Detached, Query, TraceError};
use dagnats_observe::id::{SpanId, TraceId};
use dagnats_observe::record::Timestamp;
use dagnats_observe::{propagation, CollectorOptions, Context, SpanKind, SpanOptions, Telemetry};
use serde_json::json;
use support::*;
use testkit::NatsServer;

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const U: &str = "0af7651916cd43dd8448eb211c80319c";
const V: &str = "11112222333344445555666677778888";
const MISSING_PARENT: &str = "1234567890abcdef";

/// 2026-11-24T10:30:00Z in nanoseconds.
fn base() -> u64 {
    Timestamp::parse("2026-11-24T10:30:00Z").unwrap().unix_nanos()
}

fn at(ms: u64) -> String {
    Timestamp(base() + ms * 1_000_000).to_string()
}

/// A Go-style span record; `extra` fields are merged in.
#[allow(clippy::too_many_arguments)]
fn record(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    service: &str,
    kind: &str,
    start: u64,
    end: u64,
    extra: serde_json::Value,
) -> String {
    let mut v = json!({
        "trace_id": trace, "span_id": id, "name": name, "service": service, "kind": kind,
        "start_time": at(start), "end_time": at(end), "duration_ms": end - start, "status": "ok",
    });
    if let Some(p) = parent {
        v["parent_id"] = json!(p);
    }
    for (k, x) in extra.as_object().cloned().unwrap_or_default() {
        v[k] = x;
    }
    v.to_string()
}

/// The known trace T (a run r-42 across five services, one failed attempt and its retry,
/// a span whose parent never arrives), a second trace V of the same run, a trace U of
/// another run, a log record and a message that is no span, as (subject, body), in an
/// order unlike the tree's: children before parents, the later sibling first.
fn fixture() -> Vec<(String, String)> {
    let otlp_store = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "rust-worker"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": T, "spanId": "00000000000000e5", "parentSpanId": "00000000000000d4", "name": "rust.store", "kind": 3,
            "startTimeUnixNano": (base() + 550_000_000).to_string(), "endTimeUnixNano": (base() + 650_000_000).to_string(),
            "attributes": [{"key": "db.rows", "value": {"intValue": "3"}}]
        }]}]
    }]});
    vec![
        ("telemetry.spans.rust-worker.no-run".into(), otlp_store.to_string()),
        (
            "telemetry.spans.c-worker.no-run".into(),
            record(
                T,
                "00000000000000d4",
                Some("00000000000000c3"),
                "c.transform",
                "c-worker",
                "internal",
                500,
                700,
                json!({}),
            ),
        ),
        (
            "telemetry.spans.node-worker.r-42".into(),
            record(
                T,
                "00000000000000c3",
                Some("00000000000000a1"),
                "worker.executeTask",
                "node-worker",
                "consumer",
                450,
                800,
                json!({"parent_is_remote": true, "attributes": {"run_id": "r-42", "step_id": "build", "attempt": 2}}),
            ),
        ),
        (
            "telemetry.spans.node-worker.r-42".into(),
            record(
                T,
                "00000000000000b2",
                Some("00000000000000a1"),
                "worker.executeTask",
                "node-worker",
                "consumer",
                100,
                400,
                json!({"parent_is_remote": true, "status": "error", "error": "connection reset", "status_message": "attempt 1 failed",
                    "attributes": {"run_id": "r-42", "step_id": "build", "attempt": 1, "payload": "</script><img src=x onerror=window.__pwned=1>"},
                    "events": [{"name": "exception", "time": at(390), "attributes": {"exception.message": "connection reset"}}]}),
            ),
        ),
        ("telemetry.spans.bad.no-run".into(), "this is not a span".into()),
        (
            "telemetry.spans.py-worker.no-run".into(),
            record(
                T,
                "00000000000000f6",
                Some(MISSING_PARENT),
                "late.callback",
                "py-worker",
                "internal",
                820,
                850,
                json!({"status": "unset"}),
            ),
        ),
        (
            "telemetry.spans.engine.r-42".into(),
            record(
                T,
                "00000000000000a1",
                None,
                "engine.run",
                "engine",
                "server",
                0,
                900,
                json!({"attributes": {"run_id": "r-42"}}),
            ),
        ),
        (
            "telemetry.spans.engine.no-run".into(),
            record(
                V,
                "00000000000000b7",
                Some("00000000000000a7"),
                "cleanup.child",
                "engine",
                "internal",
                2_100,
                2_200,
                json!({}),
            ),
        ),
        (
            "telemetry.spans.engine.r-42".into(),
            record(
                V,
                "00000000000000a7",
                None,
                "engine.cleanup",
                "engine",
                "internal",
                2_000,
                2_500,
                json!({"attributes": {"run_id": "r-42"}}),
            ),
        ),
        (
            "telemetry.spans.engine.r-43".into(),
            record(
                U,
                "00000000000000a9",
                None,
                "engine.run",
                "engine",
                "server",
                3_000,
                3_100,
                json!({"attributes": {"run_id": "r-43"}}),
            ),
        ),
        (
            "telemetry.logs.engine.info".into(),
            json!({"level": "info", "message": "done", "service": "engine", "timestamp": at(3_200)}).to_string(),
        ),
    ]
}

async fn publish_fixture(js: &jetstream::Context) {
    for (subject, body) in fixture() {
        publish(js, &subject, body).await;
    }
}

/// The rows of the only tree of `found` as (name, depth).
fn shape(tree: &trace::tree::Tree) -> Vec<(String, usize)> {
    tree.rows.iter().map(|r| (tree.span(r).name.to_string(), r.depth)).collect()
}

fn run_binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dagnats"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run dagnats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_the_tree_of_a_trace() {
    let nats = NatsServer::start();
    publish_fixture(&jetstream(&nats.url()).await).await;

    let out = run_binary(&["trace", T, "--nats-url", &nats.url()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            &format!("trace {T}  6 spans  5 services (c-worker, engine, node-worker, py-worker, rust-worker)  900ms")[..],
            "[engine] engine.run  server  900ms  ok",
            "├─ [node-worker] worker.executeTask  consumer  300ms  error  error: connection reset  message: attempt 1 failed",
            "└─ [node-worker] worker.executeTask  consumer  350ms  ok",
            "   └─ [c-worker] c.transform  internal  200ms  ok",
            "      └─ [rust-worker] rust.store  client  100ms  unset",
            "[py-worker] late.callback  internal  30.0ms  unset  (parent 12345678… not received)",
        ],
        "{stdout}"
    );
    // The message that is no span was skipped, and said so.
    assert!(stderr.contains("skipped 1 message"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_trace_or_run_exits_non_zero_with_a_message() {
    let nats = NatsServer::start();
    // No stream at all yet.
    let out = run_binary(&["trace", U, "--nats-url", &nats.url()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no spans found for trace"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    publish_fixture(&jetstream(&nats.url()).await).await;
    let unknown = "ffffffffffffffffffffffffffffffff";
    let out = run_binary(&["trace", unknown, "--nats-url", &nats.url()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("no spans found for trace {unknown}")), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = run_binary(&["trace", "--run", "r-nobody", "--nats-url", &nats.url()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no spans found for run r-nobody"));

    // Not a trace id: a usage error, told apart.
    let out = run_binary(&["trace", "xyz", "--nats-url", &nats.url()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a trace id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parents_come_before_children_siblings_in_start_order_and_orphans_stay() {
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    publish_fixture(&js).await;

    let found = trace::trees(&js, &Query::Trace(TraceId::from_hex(T).unwrap()), None).await.unwrap();
    assert_eq!(found.unreadable, 1);
    assert_eq!(found.trees.len(), 1);
    let tree = &found.trees[0];
    assert_eq!(
        shape(tree),
        [
            ("engine.run".into(), 0),
            ("worker.executeTask".into(), 1),
            ("worker.executeTask".into(), 1),
            ("c.transform".into(), 2),
            ("rust.store".into(), 3),
            ("late.callback".into(), 0),
        ]
    );
    // Siblings in start order: the failed attempt (started first) before its retry.
    assert_eq!(tree.span(&tree.rows[1]).error, "connection reset");
    assert_eq!(tree.span(&tree.rows[2]).attributes.get("attempt").map(|v| v.to_string()), Some("2".into()));
    // The OTLP-JSON span reads like the others.
    assert_eq!(&*tree.span(&tree.rows[4]).service, "rust-worker");
    // The orphan is shown, naming its missing parent.
    assert_eq!(tree.rows[5].detached, Some(Detached::MissingParent(SpanId::from_hex(MISSING_PARENT).unwrap())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_brings_its_whole_traces_and_nothing_else() {
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    publish_fixture(&js).await;

    let found = trace::trees(&js, &Query::Run("r-42".into()), None).await.unwrap();
    let ids: Vec<String> = found.trees.iter().map(|t| t.trace_id.to_string()).collect();
    assert_eq!(ids, [T, V], "both traces of the run, in start order, and not U");
    // Spans without run_id (c.transform, rust.store, late.callback, cleanup.child) are there.
    assert_eq!(found.trees[0].spans.len(), 6);
    assert_eq!(shape(&found.trees[1]), [("engine.cleanup".into(), 0), ("cleanup.child".into(), 1)]);
    assert!(found.trees[1].span(&found.trees[1].rows[1]).run_id().is_none());

    let other = trace::trees(&js, &Query::Run("r-43".into()), None).await.unwrap();
    assert_eq!(other.trees.len(), 1);
    assert_eq!(other.trees[0].trace_id.to_string(), U);

    // The binary prints the run's header and both trees.
    let out = run_binary(&["trace", "--run", "r-42", "--nats-url", &nats.url()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(stdout.starts_with("run r-42  2 traces  8 spans\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("trace {V}  2 spans")) && stdout.contains("└─ [engine] cleanup.child"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_counts_each_span_and_each_unreadable_message_once() {
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    // One run: a root with the run id, a child of another service without it.
    let run = json!({"attributes": {"run_id": "r-7"}});
    publish(
        &js,
        "telemetry.spans.engine.r-7",
        record(T, "00000000000000a1", None, "engine.run", "engine", "server", 0, 900, run.clone()),
    )
    .await;
    publish(
        &js,
        "telemetry.spans.engine.r-7",
        record(T, "00000000000000a2", Some("00000000000000a1"), "engine.step", "engine", "internal", 10, 500, run),
    )
    .await;
    let child = record(
        T,
        "00000000000000b1",
        Some("00000000000000a2"),
        "worker.task",
        "py-worker",
        "consumer",
        20,
        400,
        json!({}),
    );
    publish(&js, "telemetry.spans.py-worker.no-run", child.clone()).await;

    // Clean input: three spans, no duplicate, nothing skipped.
    let found = trace::trees(&js, &Query::Run("r-7".into()), None).await.unwrap();
    assert_eq!((found.trees.len(), found.trees[0].spans.len()), (1, 3));
    assert_eq!((found.trees[0].duplicates, found.unreadable), (0, 0));
    let out = run_binary(&["trace", "--run", "r-7", "--nats-url", &nats.url()]);
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("run r-7  1 trace  3 spans\n"), "{stdout}");
    assert!(!stdout.contains("duplicate"), "{stdout}");
    assert!(!stderr.contains("skipped"), "{stderr}");

    // N unreadable messages: exactly N skipped, still no duplicate.
    const N: u64 = 2;
    for _ in 0..N {
        publish(&js, "telemetry.spans.py-worker.r-7", "not a span").await;
    }
    let found = trace::trees(&js, &Query::Run("r-7".into()), None).await.unwrap();
    assert_eq!((found.trees[0].spans.len(), found.trees[0].duplicates, found.unreadable), (3, 0, N));
    let out = run_binary(&["trace", "--run", "r-7", "--nats-url", &nats.url()]);
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("duplicate"), "{stdout}");
    assert!(stderr.contains(&format!("skipped {N} message(s) that hold no readable span")), "{stderr}");

    // A record the stream really holds twice is still reported, once.
    publish(&js, "telemetry.spans.py-worker.no-run", child).await;
    let out = run_binary(&["trace", "--run", "r-7", "--nats-url", &nats.url()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("3 spans") && stdout.contains("(1 duplicate record ignored)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_limits_the_window_and_a_missing_stream_is_told() {
    let nats = NatsServer::start();
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    assert!(matches!(trace::find(&js, &Query::Run("r-42".into()), None).await, Err(TraceError::NoStream)));

    let js = jetstream(&nats.url()).await;
    publish_fixture(&js).await;
    let q = Query::Trace(TraceId::from_hex(T).unwrap());
    assert_eq!(trace::find(&js, &q, Some(Duration::from_secs(3600))).await.unwrap().spans.len(), 6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(trace::find(&js, &q, Some(Duration::from_millis(100))).await.unwrap().spans.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_from_the_core_collector_show_across_a_message() {
    let nats = NatsServer::start();
    let engine = Telemetry::connect(CollectorOptions::default().url(nats.url()).service("engine")).unwrap();
    let worker = Telemetry::connect(CollectorOptions::default().url(nats.url()).service("rust-worker")).unwrap();

    let (cx, mut dispatch) =
        engine.tracer.start(&Context::new(), "engine.dispatch", SpanOptions::new().kind(SpanKind::Producer));
    let trace_id = dispatch.trace_id();
    let mut headers = async_nats::HeaderMap::new();
    propagation::inject_nats(cx.span_context().unwrap(), &mut headers);
    let parent = propagation::extract_nats(Some(&headers), None).expect("a parent");
    let (child_cx, mut child) = worker.tracer.start(
        &Context::from_remote(Some(parent)),
        "worker.executeTask",
        SpanOptions::new().kind(SpanKind::Consumer),
    );
    let (_, mut grandchild) = worker.tracer.start(&child_cx, "worker.step", SpanOptions::new());
    grandchild.record_error("disk full");
    grandchild.end();
    child.end();
    dispatch.end();
    engine.flush(Duration::from_secs(10)).unwrap();
    worker.flush(Duration::from_secs(10)).unwrap();

    let js = jetstream(&nats.url()).await;
    let found = trace::trees(&js, &Query::Trace(TraceId::from_hex(&trace_id).unwrap()), None).await.unwrap();
    assert_eq!(found.trees.len(), 1);
    assert_eq!(
        shape(&found.trees[0]),
        [("engine.dispatch".into(), 0), ("worker.executeTask".into(), 1), ("worker.step".into(), 2)]
    );
    assert_eq!(found.trees[0].span(&found.trees[0].rows[2]).error, "disk full");
}

/// Lines of a child's pipe, as they come.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(rx: &mpsc::Receiver<String>, what: &str) -> String {
    rx.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("no line from {what}"))
}

struct Tail {
    child: std::process::Child,
    stdout: mpsc::Receiver<String>,
}

fn start_tail(nats_url: &str, filter: &[&str]) -> Tail {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dagnats"))
        .args(["tail", "--nats-url", nats_url])
        .args(filter)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dagnats tail");
    let stderr = lines_of(child.stderr.take().unwrap());
    let stdout = lines_of(child.stdout.take().unwrap());
    let ready = next_line(&stderr, "tail's stderr");
    assert!(ready.contains("following new spans"), "{ready}");
    Tail { child, stdout }
}

fn tail_span(name: &str, service: &str, run: Option<&str>, start: u64) -> (String, String) {
    let attrs = run.map(|r| json!({"attributes": {"run_id": r}})).unwrap_or(json!({}));
    let id = format!("{:016x}", start + 1);
    (
        format!("telemetry.spans.{service}.{}", run.unwrap_or("no-run")),
        record(T, &id, None, name, service, "internal", start, start + 5, attrs),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_new_spans_filters_and_stops_on_sigterm() {
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    // Stored before tail starts: never shown.
    let (subject, body) = tail_span("old.span", "node-worker", None, 0);
    publish(&js, &subject, body).await;

    let mut by_service = start_tail(&nats.url(), &["--service", "node-worker"]);
    let mut by_run = start_tail(&nats.url(), &["--run", "r-7"]);
    for (name, service, run, start) in [
        ("n1", "node-worker", Some("r-1"), 10),
        ("e1", "engine", Some("r-7"), 20),
        ("n2", "node-worker", None, 30),
        ("marker", "node-worker", Some("r-7"), 40),
    ] {
        let (subject, body) = tail_span(name, service, run, start);
        publish(&js, &subject, body).await;
    }
    // Delivery is in order: once the marker is shown, everything before it was seen.
    let service_lines: Vec<String> = (0..3).map(|_| next_line(&by_service.stdout, "tail --service")).collect();
    let run_lines: Vec<String> = (0..2).map(|_| next_line(&by_run.stdout, "tail --run")).collect();
    let names = |lines: &[String]| {
        lines.iter().map(|l| l.split_whitespace().nth(2).unwrap_or("").to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(&service_lines), ["n1", "n2", "marker"], "{service_lines:?}");
    assert_eq!(names(&run_lines), ["e1", "marker"], "{run_lines:?}");
    assert!(
        service_lines[0].contains("[node-worker] n1  internal  5.00ms  ok")
            && service_lines[0].ends_with(&format!("trace={T} run=r-1"))
    );

    for tail in [&mut by_service, &mut by_run] {
        let kill = Command::new("kill").args(["-TERM", &tail.child.id().to_string()]).status().unwrap();
        assert!(kill.success());
    }
    for tail in [&mut by_service, &mut by_run] {
        let deadline = std::time::Instant::now() + PATIENCE;
        let status = loop {
            if let Some(s) = tail.child.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "tail did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(status.success(), "tail exited with {status:?}");
    }
}

/// Where the browser test finds the page: `$WATERFALL_DIR`, else the test scratch dir.
fn artifacts_dir() -> PathBuf {
    std::env::var_os("WATERFALL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("waterfall"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_the_waterfall_page() {
    let nats = NatsServer::start();
    publish_fixture(&jetstream(&nats.url()).await).await;
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("waterfall.html");
    let _ = std::fs::remove_file(&page);

    let out = run_binary(&["trace", T, "--html", page.to_str().unwrap(), "--nats-url", &nats.url()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("waterfall written to"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<div class=\"bar").count(), 6);
    assert_eq!(html.matches("<div class=\"bar error\"").count(), 1);
    assert!(!html.contains("<img"), "span text is escaped");
    assert!(!html.contains("http://") && !html.contains("https://"), "self-contained");

    // What the browser test checks, from the same fixture.
    let expect = json!({
        "trace_id": T,
        "spans": 6,
        "services": ["c-worker", "engine", "node-worker", "py-worker", "rust-worker"],
        "error_span_ids": ["00000000000000b2"],
        "click": {"span_id": "00000000000000b2", "attributes": {"attempt": "1", "step_id": "build", "run_id": "r-42"}, "event": "exception",
                  "error": "connection reset", "status_message": "attempt 1 failed"},
        "orphan_span_id": "00000000000000f6",
    });
    std::fs::write(dir.join("waterfall-expect.json"), serde_json::to_string_pretty(&expect).unwrap()).unwrap();
}
