//! `dagnats dlq` on real dead letters: the real binary bridge dead-letters spans a
//! receiver refuses (HTTP 400) and a body that is not JSON; `dlq list` shows them with
//! their original subjects and reasons, `dlq show` one with its headers and body;
//! `dlq republish` puts the refused spans back on TELEMETRY on their original subject,
//! with their own headers and none of the dead-letter ones, deletes them from the DLQ, and
//! a bridge started again exports them. Sequences that do not exist make it exit 1.

mod support;

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use async_nats::header::HeaderMap;
use dagnats_bridge::settle::{DLQ_STREAM, HEADER_REASON, HEADER_SUBJECT};
use support::*;
use testkit::NatsServer;

/// The environment variables that would change what the binary does, removed.
fn clean(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k.starts_with("DAGNATS_") || k.starts_with("NATS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `dagnats dlq ARGS --nats-url URL`, run to the end (in a blocking thread: the test's
/// runtime keeps serving the receiver).
async fn dlq(url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dagnats"));
    clean(&mut cmd).arg("dlq").args(args).args(["--nats-url", url]);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run dagnats dlq")).await.unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The binary bridge, stopped (killed) when dropped.
struct BinaryBridge(Child);

impl BinaryBridge {
    fn start(nats_url: &str, endpoint: &str) -> BinaryBridge {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dagnats"));
        clean(&mut cmd)
            .args(["otlp-bridge", "--nats-url", nats_url, "--endpoint", endpoint])
            .args(["--flush-interval", "200ms", "--stats-interval", "0s", "--max-backoff", "1s"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start the bridge");
        // Drained so that the bridge never blocks on a full pipe.
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stderr.read_to_end(&mut sink);
        });
        BinaryBridge(child)
    }
}

impl Drop for BinaryBridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn publish_with(js: &async_nats::jetstream::Context, subject: &str, headers: HeaderMap, body: Vec<u8>) {
    js.publish_with_headers(subject.to_owned(), headers, body.into()).await.expect("publish").await.expect("stored");
}

/// Waits until the DLQ holds `n` messages.
async fn wait_for_dead_letters(url: &str, n: usize) -> Vec<testkit::StoredMessage> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let letters = dead_letters(url).await;
        if letters.len() >= n {
            return letters;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {n} dead letters, have {}", letters.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_republished_to_their_subject_and_exported_after() {
    let nats = NatsServer::start();
    let url = nats.url();
    let receiver = Receiver::start().await;
    let js = jetstream(&url).await;

    // Three good spans the receiver refuses (400: their content), one body that is no
    // record at all; all with a header of their own.
    receiver.set_status(400);
    for i in 0..3 {
        let mut h = HeaderMap::new();
        h.insert("X-Tenant", format!("tenant-{i}").as_str());
        publish_with(&js, "telemetry.spans.svc.r-1", h, span_json(i, "svc").into_bytes()).await;
    }
    let mut h = HeaderMap::new();
    h.insert("X-Tenant", "poison");
    publish_with(&js, "telemetry.logs.svc.info", h, b"not json".to_vec()).await;

    let bridge = BinaryBridge::start(&url, &receiver.base_url());
    let letters = wait_for_dead_letters(&url, 4).await;
    drop(bridge);
    assert_eq!(letters.len(), 4);
    let poison = letters
        .iter()
        .find(|m| m.header(HEADER_SUBJECT) == Some("telemetry.logs.svc.info"))
        .expect("the poison")
        .sequence;
    let refused: Vec<u64> = letters
        .iter()
        .filter(|m| m.header(HEADER_SUBJECT) == Some("telemetry.spans.svc.r-1"))
        .map(|m| m.sequence)
        .collect();
    assert_eq!(refused.len(), 3, "{letters:?}");
    assert!(letters
        .iter()
        .filter(|m| refused.contains(&m.sequence))
        .all(|m| m.header(HEADER_REASON).unwrap_or("").contains("400")));

    // list: a header line, then one line per dead letter with its sequence, original
    // subject and reason.
    let out = dlq(&url, &["list"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 5, "{listing}");
    assert!(lines[0].contains("SEQ") && lines[0].contains("REASON"), "{listing}");
    for seq in &refused {
        let line = lines.iter().find(|l| l.split_whitespace().next() == Some(&seq.to_string())).expect("listed");
        assert!(line.contains("telemetry.spans.svc.r-1") && line.contains("400"), "{line}");
    }
    let line = lines.iter().find(|l| l.split_whitespace().next() == Some(&poison.to_string())).expect("listed");
    assert!(line.contains("telemetry.logs.svc.info"), "{line}");

    // list --json --reason-contains: only the refused ones, as JSON.
    let out = dlq(&url, &["list", "--json", "--reason-contains", "http 400"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let objects: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let mut seqs: Vec<u64> = objects.iter().map(|o| o["sequence"].as_u64().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, refused);
    assert!(objects
        .iter()
        .all(|o| o["original_subject"] == "telemetry.spans.svc.r-1" && o["deliveries"].as_i64() >= Some(1)));

    // show: headers and body.
    let out = dlq(&url, &["show", &poison.to_string()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("Dagnats-Dead-Letter-Reason: ") && shown.contains("X-Tenant: poison"), "{shown}");
    assert!(shown.contains("original subject: telemetry.logs.svc.info") && shown.contains("not json"), "{shown}");
    let out = dlq(&url, &["show", "9999"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // A dry run changes nothing.
    let before = testkit::read_stream(&url, "TELEMETRY").await.len();
    let out = dlq(&url, &["republish", "--all", "--dry-run"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.starts_with("would republish")).count(), 4);
    assert_eq!(testkit::read_stream(&url, "TELEMETRY").await.len(), before);
    assert_eq!(dead_letters(&url).await.len(), 4);

    // republish the refused ones (by reason), now that the receiver accepts.
    receiver.set_status(200);
    let out = dlq(&url, &["republish", "--all", "--reason-contains", "HTTP 400"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.starts_with("republished")).count(), 3, "{}", text(&out.stdout));
    let left = dead_letters(&url).await;
    assert_eq!(left.iter().map(|m| m.sequence).collect::<Vec<_>>(), [poison], "only the poison stays dead-lettered");

    let telemetry = testkit::read_stream(&url, "TELEMETRY").await;
    let back: Vec<_> = telemetry.iter().skip(before).collect();
    assert_eq!(back.len(), 3);
    for m in &back {
        assert_eq!(m.subject, "telemetry.spans.svc.r-1");
        assert!(m.header("X-Tenant").is_some_and(|t| t.starts_with("tenant-")), "{m:?}");
        assert!(m.headers.iter().all(|(k, _)| !k.starts_with("Dagnats-")), "dead-letter headers left: {m:?}");
        let id = m.header("Nats-Msg-Id").expect("a message id");
        assert!(id.starts_with(&format!("{DLQ_STREAM}:")) && id.ends_with(":republished"), "{id}");
    }

    // A bridge started again exports them.
    let bridge = BinaryBridge::start(&url, &receiver.base_url());
    eventually("the republished spans are exported", || span_id_counts(&receiver).len() == 3).await;
    drop(bridge);
    let counts = span_id_counts(&receiver);
    for i in 0..3 {
        assert!(counts.contains_key(&span_id(i)), "span {i} missing: {counts:?}");
    }

    // Sequences that do not exist: exit 1, nothing done.
    let out = dlq(&url, &["republish", "9999", "9990-9995"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no dead letter 9999"), "{}", text(&out.stderr));
    // --keep: republished and still there.
    let out = dlq(&url, &["republish", &poison.to_string(), "--keep"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(dead_letters(&url).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_dead_letter_stream_list_says_so_and_nats_trouble_exits_2() {
    let nats = NatsServer::start();
    let out = dlq(&nats.url(), &["list"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no TELEMETRY_DLQ stream"), "{}", text(&out.stderr));
    let out = dlq(&nats.url(), &["republish", "--all"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let nowhere = format!("nats://127.0.0.1:{}", testkit::free_port());
    let out = dlq(&nowhere, &["list"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("NATS"), "{}", text(&out.stderr));
}
