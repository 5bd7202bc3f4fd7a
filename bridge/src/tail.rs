//! `dagnats tail`: new spans as they are stored, one line each, until a shutdown.
//!
//! An ordered consumer on `telemetry.spans.>` that starts at the next message stored
//! (deliver policy `new`): nothing durable is created and nothing acknowledged. Both
//! record formats are read ([`crate::trace::records`]); `--service` and `--run` filter on
//! the records themselves (not on subjects, whose tokens may have been made safe). The
//! TELEMETRY stream is created with the contract's settings when it does not exist yet,
//! as producers do, so `tail` can be started before anything publishes.

use std::future::Future;
use std::io::{self, Write};

use async_nats::jetstream::{self, consumer::pull, consumer::DeliverPolicy};
use dagnats_observe::collector::stream::{ensure, stream_config, STREAM_NAME};
use dagnats_observe::collector::subject::SubjectKind;
use dagnats_observe::nats::InitialConnect;
use dagnats_observe::record::SpanRecord;
use futures::StreamExt;

use crate::cli::TailArgs;
use crate::trace::render::{self, Paint};
use crate::trace::{records, TraceError};

/// Which spans to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TailFilter {
    /// Only this service (the record's `service` field, exactly).
    pub service: Option<String>,
    /// Only spans whose `run_id` attribute is this.
    pub run: Option<String>,
}

impl TailFilter {
    /// Whether `s` passes.
    pub fn matches(&self, s: &SpanRecord) -> bool {
        self.service.as_deref().is_none_or(|want| &*s.service == want)
            && self.run.as_deref().is_none_or(|want| s.run_id() == Some(want))
    }
}

impl std::fmt::Display for TailFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.service, &self.run) {
            (None, None) => f.write_str("every service and run"),
            (Some(s), None) => write!(f, "service {}", render::clean(s)),
            (None, Some(r)) => write!(f, "run {}", render::clean(r)),
            (Some(s), Some(r)) => write!(f, "service {}, run {}", render::clean(s), render::clean(r)),
        }
    }
}

/// Prints every new span passing `filter` to `out` until `shutdown` resolves (or `out`
/// is closed); says on `err` when it is following. Returns the number of lines printed.
pub async fn follow(
    js: &jetstream::Context,
    filter: &TailFilter,
    out: &mut impl Write,
    err: &mut impl Write,
    paint: Paint,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, TraceError> {
    let stream = ensure(js, stream_config()).await.map_err(TraceError::Nats)?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: SubjectKind::Spans.wildcard().into(),
            deliver_policy: DeliverPolicy::New,
            description: Some("dagnats tail".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| TraceError::Nats(format!("cannot create a reader on {STREAM_NAME}: {e}")))?;
    let mut messages = consumer.messages().await.map_err(|e| TraceError::Nats(e.to_string()))?;
    writeln!(err, "dagnats tail: following new spans on {STREAM_NAME} ({filter}); Ctrl-C to stop")?;
    err.flush()?;

    tokio::pin!(shutdown);
    let mut printed = 0;
    loop {
        let message = tokio::select! {
            _ = &mut shutdown => break,
            next = messages.next() => match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    // The ordered consumer recreates itself after these; keep following.
                    tracing::warn!(error = %e, "reading {STREAM_NAME}");
                    continue;
                }
                None => break,
            },
        };
        let spans = match records::spans_from_body(&message.subject, &message.payload) {
            Ok(spans) => spans,
            Err(e) => {
                tracing::debug!(subject = %message.subject, error = %e, "skipping a message that holds no readable span");
                continue;
            }
        };
        for s in spans.iter().filter(|s| filter.matches(s)) {
            match writeln!(out, "{}", render::tail_line(s, paint)).and_then(|_| out.flush()) {
                Ok(()) => printed += 1,
                // Whoever read the output (`| head`) has gone: a normal end.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(printed),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(printed)
}

/// The whole subcommand: connect and follow until `shutdown`.
pub async fn command(
    args: &TailArgs,
    out: &mut impl Write,
    err: &mut impl Write,
    paint: Paint,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, TraceError> {
    let options = args.nats.options("dagnats tail").map_err(|e| TraceError::Usage(e.to_string()))?;
    let client = options.connect(InitialConnect::FailFast).await.map_err(|e| TraceError::Nats(e.to_string()))?;
    let filter = TailFilter { service: args.service.clone(), run: args.run.clone() };
    let printed = follow(&jetstream::new(client.clone()), &filter, out, err, paint, shutdown).await?;
    let _ = client.drain().await;
    Ok(printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_apply_to_the_record() {
        let s: SpanRecord = serde_json::from_str(
            r#"{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"00000000000000a1","name":"n","service":"node worker",
            "kind":"server","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","duration_ms":1000,"status":"ok",
            "attributes":{"run_id":"r.1"}}"#,
        )
        .unwrap();
        assert!(TailFilter::default().matches(&s));
        assert!(TailFilter { service: Some("node worker".into()), run: Some("r.1".into()) }.matches(&s));
        assert!(!TailFilter { service: Some("node_worker".into()), run: None }.matches(&s));
        assert!(!TailFilter { service: None, run: Some("r-1".into()) }.matches(&s));
    }
}
