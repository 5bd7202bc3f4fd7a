//! `dagnats otlp-bridge --check`: is this configuration going to work?
//!
//! [`run`] checks, in order, and reports one [`Check`] each:
//!
//! 1. the configuration (and every environment value that was ignored, as a warning);
//! 2. the connection to NATS, with the configured credentials and TLS, bounded by the
//!    connect timeout (no retrying in the background);
//! 3. JetStream, the `TELEMETRY` and `TELEMETRY_DLQ` streams and the durable consumer:
//!    present (with their figures and settings), or absent and to be created by the
//!    bridge, with the filter subjects in effect (`--subject`; a consumer with other
//!    filters is a warning: the bridge updates them). A consumer the bridge could not use
//!    (no explicit acknowledgement) fails;
//! 4. every OTLP endpoint, with the bridge's own exporter (HTTP or gRPC, the configured
//!    headers, TLS and timeout): an empty export request must be accepted. An endpoint
//!    that cannot be reached, or that answers 401, 403, 404 (gRPC: `UNAUTHENTICATED`,
//!    `PERMISSION_DENIED`, `UNIMPLEMENTED`) or anything but success, fails with the
//!    answer.
//!
//! Nothing is changed on the server: no stream or consumer is created, nothing published.
//! No detail holds a secret: URLs are shown without credentials or query, and the reasons
//! come from the NATS client and the exporter, which never include them.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, context::ConsumerInfoErrorKind, context::GetStreamErrorKind};
use dagnats_observe::collector::stream::{STREAM_NAME, STREAM_SUBJECTS};
use dagnats_observe::nats::{redact_url, InitialConnect};
use dagnats_observe::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use dagnats_observe::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use dagnats_observe::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;

use crate::config::{Config, Signal};
use crate::consume::{consumer_filters, filters_match, lacks_room, max_ack_pending};
use crate::export::{Exporter, Outcome};
use crate::settle::DLQ_STREAM;

/// How one check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Ok,
    /// Passed, with something worth knowing (an ignored variable, a consumer whose
    /// settings differ from the flags).
    Warning,
    /// Failed: the bridge would not work (or not export) with this configuration.
    Failed,
    /// Not run, because an earlier check failed.
    Skipped,
}

impl Status {
    /// `ok`, `warning`, `FAILED` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked: `configuration`, `NATS`, `JetStream`, `stream TELEMETRY`,
    /// `consumer otlp-bridge`, `spans endpoint http://collector:4318/v1/traces`, ...
    pub name: String,
    /// How it went.
    pub status: Status,
    /// What was found, or why it failed.
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<8}{}: {}", self.status.as_str(), self.name, self.detail)
    }
}

/// Every check, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, name: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.checks.push(Check { name: name.into(), status, detail: detail.into() });
    }

    /// True when no check failed (warnings pass).
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.status == Status::Failed)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Failed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Slack beyond the NATS connect timeout for the JetStream requests of one check.
const NATS_SLACK: Duration = Duration::from_secs(5);

/// Checks `config` (see the [module documentation](self)). Must run in a tokio runtime.
pub async fn run(config: &Config) -> Report {
    let mut report = Report::default();
    match config.validate() {
        Ok(()) => report.push("configuration", Status::Ok, "valid"),
        Err(e) => report.push("configuration", Status::Failed, e.to_string()),
    }
    for w in &config.warnings {
        report.push("configuration", Status::Warning, w.clone());
    }
    report.push("subjects", Status::Ok, subjects_detail(&config.subjects));
    check_nats(config, &mut report).await;
    check_endpoints(config, &mut report).await;
    report
}

async fn check_nats(config: &Config, report: &mut Report) {
    let url = redact_url(&config.nats.url);
    let bound = config.nats.connect_timeout + NATS_SLACK;
    let client = match tokio::time::timeout(bound, config.nats.connect(InitialConnect::FailFast)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            report.push("NATS", Status::Failed, e.to_string());
            return skip_nats(config, report);
        }
        Err(_) => {
            report.push("NATS", Status::Failed, format!("no connection to {url} within {bound:?}"));
            return skip_nats(config, report);
        }
    };
    let info = client.server_info();
    let tls = if info.tls_required { ", TLS" } else { "" };
    report.push("NATS", Status::Ok, format!("connected to {url} (nats-server {}{tls})", info.version));

    let js = jetstream::new(client.clone());
    match tokio::time::timeout(bound, js.query_account()).await {
        Ok(Ok(a)) => report.push(
            "JetStream",
            Status::Ok,
            format!("enabled ({} streams, {} consumers in the account)", a.streams, a.consumers),
        ),
        Ok(Err(e)) => {
            report.push("JetStream", Status::Failed, format!("not available to this account: {e}"));
            return skip_streams(config, report);
        }
        Err(_) => {
            report.push("JetStream", Status::Failed, format!("no answer within {bound:?}"));
            return skip_streams(config, report);
        }
    }

    let telemetry = check_stream(&js, STREAM_NAME, bound, report).await;
    check_stream(&js, DLQ_STREAM, bound, report).await;
    let name = format!("consumer {}", config.consumer);
    let would_create = format!(
        "not created yet; the bridge creates it (ack_wait {:?}, max_deliver {}, max_ack_pending {}, filters {:?})",
        config.ack_wait,
        config.max_deliver,
        max_ack_pending(config),
        config.subjects
    );
    let Some(stream) = telemetry else {
        report.push(name, Status::Ok, would_create);
        return;
    };
    match tokio::time::timeout(bound, stream.consumer_info(&config.consumer)).await {
        Err(_) => report.push(name, Status::Failed, format!("no answer within {bound:?}")),
        Ok(Err(e)) if e.kind() == ConsumerInfoErrorKind::NotFound => report.push(name, Status::Ok, would_create),
        Ok(Err(e)) => report.push(name, Status::Failed, format!("cannot read it: {e}")),
        Ok(Ok(info)) => {
            let c = &info.config;
            let figures = format!(
                "ack_wait {:?}, max_deliver {}, max_ack_pending {}, filters {:?}; {} waiting, {} in flight, {} redelivered",
                c.ack_wait,
                c.max_deliver,
                c.max_ack_pending,
                consumer_filters(c),
                info.num_pending,
                info.num_ack_pending,
                info.num_redelivered
            );
            if c.ack_policy != consumer::AckPolicy::Explicit {
                report.push(
                    name,
                    Status::Failed,
                    format!("exists without explicit acknowledgement; the bridge cannot use it ({figures})"),
                );
            } else if !filters_match(c, &config.subjects) {
                report.push(
                    name,
                    Status::Warning,
                    format!(
                        "exists with other filters than --subject; the bridge updates them to {:?}: {figures}",
                        config.subjects
                    ),
                );
            } else if lacks_room(c.max_ack_pending, config) {
                report.push(
                    name,
                    Status::Warning,
                    format!(
                        "allows fewer unacknowledged messages than --workers x --batch-size ({} x {}): the server will hold pull requests back; lower the flags or recreate the consumer: {figures}",
                        config.workers, config.batch_size
                    ),
                );
            } else if c.ack_wait != config.ack_wait || c.max_deliver != config.max_deliver {
                report.push(
                    name,
                    Status::Warning,
                    format!("exists with other settings than the flags, which the bridge keeps (delete the consumer to change them): {figures}"),
                );
            } else {
                report.push(name, Status::Ok, format!("exists: {figures}"));
            }
        }
    }
}

/// Reports on `name`; returns it when it exists.
async fn check_stream(
    js: &jetstream::Context,
    name: &str,
    bound: Duration,
    report: &mut Report,
) -> Option<jetstream::stream::Stream> {
    let label = format!("stream {name}");
    match tokio::time::timeout(bound, js.get_stream(name)).await {
        Err(_) => report.push(label, Status::Failed, format!("no answer within {bound:?}")),
        Ok(Err(e)) => match e.kind() {
            GetStreamErrorKind::JetStream(j) if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => {
                report.push(label, Status::Ok, "not created yet; the bridge creates it")
            }
            _ => report.push(label, Status::Failed, format!("cannot read it: {e}")),
        },
        Ok(Ok(stream)) => {
            let info = stream.cached_info();
            let detail = format!(
                "exists: {} messages, {} bytes, subjects {:?}",
                info.state.messages, info.state.bytes, info.config.subjects
            );
            report.push(label, Status::Ok, detail);
            return Some(stream);
        }
    }
    None
}

fn skip_streams(config: &Config, report: &mut Report) {
    for name in
        [format!("stream {STREAM_NAME}"), format!("stream {DLQ_STREAM}"), format!("consumer {}", config.consumer)]
    {
        report.push(name, Status::Skipped, "needs JetStream");
    }
}

fn skip_nats(config: &Config, report: &mut Report) {
    report.push("JetStream", Status::Skipped, "needs a NATS connection");
    for name in
        [format!("stream {STREAM_NAME}"), format!("stream {DLQ_STREAM}"), format!("consumer {}", config.consumer)]
    {
        report.push(name, Status::Skipped, "needs a NATS connection");
    }
}

/// What the bridge consumes, for the `subjects` line.
fn subjects_detail(subjects: &[String]) -> String {
    if subjects == [STREAM_SUBJECTS] {
        return format!("consuming {STREAM_SUBJECTS} (everything)");
    }
    format!("consuming only {}", subjects.join(", "))
}

fn endpoint_name(config: &Config, signal: Signal) -> String {
    let e = config.endpoint(signal);
    format!("{} endpoint {} ({})", signal.as_str(), redact_url(&e.url), e.protocol.as_str())
}

async fn check_endpoints(config: &Config, report: &mut Report) {
    let exporter = match Exporter::new(config) {
        Ok(e) => e,
        Err(e) => {
            report.push("OTLP exporter", Status::Failed, e.to_string());
            for signal in Signal::ALL {
                report.push(endpoint_name(config, signal), Status::Skipped, "needs the exporter");
            }
            return;
        }
    };
    let exporter = &exporter;
    // An empty request of each signal's own type: valid OTLP, exports nothing.
    let probe = |signal: Signal| async move {
        let body = match signal {
            Signal::Spans => exporter.encode(signal, &ExportTraceServiceRequest::default()),
            Signal::Logs => exporter.encode(signal, &ExportLogsServiceRequest::default()),
            Signal::Metrics => exporter.encode(signal, &ExportMetricsServiceRequest::default()),
        };
        exporter.send(signal, body).await
    };
    let outcomes = futures::future::join_all(Signal::ALL.map(probe)).await;
    for (signal, outcome) in Signal::ALL.into_iter().zip(outcomes) {
        let (status, detail) = match outcome {
            Outcome::Exported { .. } => (Status::Ok, "accepted an empty export request".to_owned()),
            Outcome::Retryable { unreachable: true, reason, .. } => (Status::Failed, format!("unreachable: {reason}")),
            Outcome::Retryable { reason, .. } => (Status::Failed, format!("not accepting exports right now: {reason}")),
            Outcome::Misconfigured { reason } => {
                (Status::Failed, format!("refuses the bridge (credentials, path or protocol): {reason}"))
            }
            Outcome::Refused { reason } | Outcome::Permanent { reason } => {
                (Status::Failed, format!("refused an empty export request: {reason}"))
            }
        };
        report.push(endpoint_name(config, signal), status, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_passes_unless_a_check_failed() {
        let mut r = Report::default();
        r.push("configuration", Status::Ok, "valid");
        r.push("configuration", Status::Warning, "X ignored");
        r.push("JetStream", Status::Skipped, "needs a NATS connection");
        assert!(r.passed());
        r.push("NATS", Status::Failed, "server unreachable");
        assert!(!r.passed());
        assert_eq!(r.failures().count(), 1);
        assert_eq!(r.checks[3].to_string(), "FAILED  NATS: server unreachable");
        assert_eq!(r.checks[0].to_string(), "ok      configuration: valid");
    }
}
