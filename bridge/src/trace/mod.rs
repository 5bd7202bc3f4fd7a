//! `dagnats trace`: the spans of one trace, or of a run, read back from TELEMETRY.
//!
//! [`scan`] reads the span records stored in the stream with an ordered consumer (no
//! durable state left behind, nothing acknowledged) filtered on `telemetry.spans.>`, and
//! stops once it has caught up with what was stored when it started: the stream's last
//! sequence at that moment, or no matching message pending. Bodies in either format
//! decode ([`records`]); what cannot be read is counted and skipped.
//!
//! [`find`] answers a [`Query`]: a trace is every span with that trace id; a run is
//! every span whose `run_id` attribute is the run, plus every span of the traces those
//! belong to (so children that carry no `run_id` appear too). That takes two passes,
//! the second keeping only the traces found by the first, so memory holds the answer
//! and not the stream. [`tree`] shapes the answer, [`render`] prints it, [`html`] draws
//! the waterfall page; [`command`] is the whole subcommand.

pub mod html;
pub mod records;
pub mod render;
pub mod tree;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::{self, context::GetStreamErrorKind};
use dagnats_observe::collector::stream::STREAM_NAME;
use dagnats_observe::collector::subject::SubjectKind;
use dagnats_observe::id::{SpanId, TraceId};
use dagnats_observe::nats::InitialConnect;
use dagnats_observe::record::SpanRecord;
use futures::StreamExt;

use crate::cli::TraceArgs;

/// The longest a scan waits for the next message while the server says more are
/// pending: a hang guard, not a timing assumption.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the spans could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum TraceError {
    /// The options cannot be used.
    Usage(String),
    /// NATS could not be reached or refused a request.
    Nats(String),
    /// The server has no TELEMETRY stream.
    NoStream,
    /// The reader stopped receiving while messages were still pending.
    Stalled,
    /// The output could not be written.
    Io(std::io::Error),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Usage(e) => f.write_str(e),
            TraceError::Nats(e) => write!(f, "NATS: {e}"),
            TraceError::NoStream => {
                write!(f, "the server has no {STREAM_NAME} stream (nothing has published telemetry to it yet)")
            }
            TraceError::Stalled => {
                write!(f, "no message from {STREAM_NAME} for {}s while more were pending", STALL_TIMEOUT.as_secs())
            }
            TraceError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TraceError {}

impl From<std::io::Error> for TraceError {
    fn from(e: std::io::Error) -> Self {
        TraceError::Io(e)
    }
}

/// What to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// One trace.
    Trace(TraceId),
    /// Every trace touching a run.
    Run(String),
}

impl Query {
    /// The query of `dagnats trace` options: a trace id (hex, any case) or `--run`.
    pub fn from_args(args: &TraceArgs) -> Result<Query, TraceError> {
        match (&args.trace_id, &args.run) {
            (Some(id), None) => TraceId::from_hex(&id.trim().to_ascii_lowercase())
                .map(Query::Trace)
                .map_err(|e| TraceError::Usage(format!("{id:?} is not a trace id (32 hex digits, not all zero): {e}"))),
            (None, Some(run)) if !run.is_empty() => Ok(Query::Run(run.clone())),
            (None, Some(_)) => Err(TraceError::Usage("--run needs a run id".into())),
            _ => Err(TraceError::Usage("give a TRACE_ID or --run RUN_ID, not both".into())),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Trace(id) => write!(f, "trace {id}"),
            Query::Run(run) => write!(f, "run {run}"),
        }
    }
}

/// What a scan read.
#[derive(Debug, Default)]
pub struct Scan {
    /// The spans kept.
    pub spans: Vec<SpanRecord>,
    /// Messages read.
    pub messages: u64,
    /// Messages whose body could not be read as spans.
    pub unreadable: u64,
}

/// Reads every span stored on `telemetry.spans.>` (those stored in the last `since`,
/// when given) up to the stream's end at the start of the call, keeping the spans for
/// which `keep` holds.
pub async fn scan(
    js: &jetstream::Context,
    since: Option<Duration>,
    mut keep: impl FnMut(&SpanRecord) -> bool,
) -> Result<Scan, TraceError> {
    let mut stream = js.get_stream(STREAM_NAME).await.map_err(|e| match e.kind() {
        GetStreamErrorKind::JetStream(j) if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => {
            TraceError::NoStream
        }
        _ => TraceError::Nats(format!("cannot read the {STREAM_NAME} stream: {e}")),
    })?;
    let last = stream.info().await.map_err(|e| TraceError::Nats(e.to_string()))?.state.last_sequence;
    let mut out = Scan::default();
    if last == 0 {
        return Ok(out);
    }
    let deliver_policy = match since {
        None => DeliverPolicy::All,
        Some(d) => {
            let now = time::OffsetDateTime::now_utc();
            let start_time = time::Duration::try_from(d)
                .ok()
                .and_then(|d| now.checked_sub(d))
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            DeliverPolicy::ByStartTime { start_time }
        }
    };
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: SubjectKind::Spans.wildcard().into(),
            deliver_policy,
            description: Some("dagnats trace".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| TraceError::Nats(format!("cannot create a reader on {STREAM_NAME}: {e}")))?;
    if consumer.cached_info().num_pending == 0 {
        return Ok(out);
    }
    let mut messages = consumer.messages().await.map_err(|e| TraceError::Nats(e.to_string()))?;
    loop {
        let next = tokio::time::timeout(STALL_TIMEOUT, messages.next()).await.map_err(|_| TraceError::Stalled)?;
        let message = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(TraceError::Nats(format!("reading {STREAM_NAME}: {e}"))),
            None => return Ok(out),
        };
        out.messages += 1;
        match records::spans_from_body(&message.subject, &message.payload) {
            Ok(spans) => out.spans.extend(spans.into_iter().filter(|s| keep(s))),
            Err(e) => {
                out.unreadable += 1;
                tracing::debug!(subject = %message.subject, error = %e, "skipping a message that holds no readable span");
            }
        }
        let (sequence, pending) = match message.info() {
            Ok(info) => (info.stream_sequence, info.pending),
            Err(_) => (0, 1),
        };
        if sequence >= last || pending == 0 {
            return Ok(out);
        }
    }
}

/// The spans answering `query` (all of them, unordered; may be empty).
pub async fn find(js: &jetstream::Context, query: &Query, since: Option<Duration>) -> Result<Scan, TraceError> {
    match query {
        Query::Trace(id) => scan(js, since, |s| s.trace_id == *id).await,
        Query::Run(run) => {
            let first = scan(js, since, |s| s.run_id() == Some(run.as_str())).await?;
            let traces: HashSet<TraceId> = first.spans.iter().map(|s| s.trace_id).collect();
            if traces.is_empty() {
                return Ok(first);
            }
            let mut second = scan(js, since, |s| traces.contains(&s.trace_id)).await?;
            // The second pass read the first pass's spans again: only a record it did not
            // see (expired from the stream in between) is added, else every run would show
            // its own spans as duplicates. Counted per span, so that a span the stream
            // really holds twice is still reported once as a duplicate.
            let mut seen: HashMap<(TraceId, SpanId), usize> = HashMap::new();
            for s in &second.spans {
                *seen.entry((s.trace_id, s.span_id)).or_default() += 1;
            }
            for s in first.spans {
                match seen.get_mut(&(s.trace_id, s.span_id)) {
                    Some(n) if *n > 0 => *n -= 1,
                    _ => second.spans.push(s),
                }
            }
            // The messages are the same ones read twice: the second pass's counts (the
            // stream up to its end when the pass started) are those of the run, and an
            // unreadable message is skipped once, not once per pass.
            Ok(second)
        }
    }
}

/// What [`command`] found.
#[derive(Debug)]
pub struct Found {
    /// The trees shown, in start order.
    pub trees: Vec<tree::Tree>,
    /// Messages read.
    pub messages: u64,
    /// Messages skipped as unreadable.
    pub unreadable: u64,
}

/// Finds `query` and shapes the answer into trees.
pub async fn trees(js: &jetstream::Context, query: &Query, since: Option<Duration>) -> Result<Found, TraceError> {
    let scan = find(js, query, since).await?;
    Ok(Found { trees: tree::build(scan.spans), messages: scan.messages, unreadable: scan.unreadable })
}

/// Writes the waterfall page of `trees` to `path`.
pub fn write_html(path: &Path, query: &Query, trees: &[tree::Tree]) -> Result<(), TraceError> {
    let title = match query {
        Query::Trace(id) => format!("Trace {id}"),
        Query::Run(run) => format!("Run {run}"),
    };
    std::fs::write(path, html::page(&title, trees))
        .map_err(|e| TraceError::Io(std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))))
}

/// How `dagnats trace` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Spans were found and shown (exit status 0).
    Shown,
    /// Nothing matched (exit status 1).
    NotFound,
}

/// The whole subcommand: connect, find, print to `out`, write the page when asked.
/// Messages for people (what was not found, where the page went) go to `err`.
pub async fn command(
    args: &TraceArgs,
    out: &mut impl Write,
    err: &mut impl Write,
    paint: render::Paint,
) -> Result<Outcome, TraceError> {
    let query = Query::from_args(args)?;
    let options = args.nats.options("dagnats trace").map_err(|e| TraceError::Usage(e.to_string()))?;
    let client = options.connect(InitialConnect::FailFast).await.map_err(|e| TraceError::Nats(e.to_string()))?;
    let js = jetstream::new(client.clone());
    let found = match trees(&js, &query, args.since).await {
        Err(TraceError::NoStream) => {
            writeln!(err, "dagnats trace: no spans found for {query}: {}", TraceError::NoStream)?;
            return Ok(Outcome::NotFound);
        }
        other => other?,
    };
    let _ = client.drain().await;
    if found.unreadable > 0 {
        writeln!(err, "dagnats trace: skipped {} message(s) that hold no readable span", found.unreadable)?;
    }
    if found.trees.is_empty() {
        let window = args.since.map(|d| format!(" stored in the last {d:?}")).unwrap_or_default();
        writeln!(
            err,
            "dagnats trace: no spans found for {query} (read {} span message(s){window} from {STREAM_NAME})",
            found.messages
        )?;
        return Ok(Outcome::NotFound);
    }
    if let Query::Run(run) = &query {
        let spans: usize = found.trees.iter().map(|t| t.spans.len()).sum();
        writeln!(
            out,
            "run {}  {} trace{}  {} span{}\n",
            render::clean(run),
            found.trees.len(),
            if found.trees.len() == 1 { "" } else { "s" },
            spans,
            if spans == 1 { "" } else { "s" }
        )?;
    }
    render::write_trees(out, &found.trees, paint)?;
    out.flush()?;
    if let Some(path) = &args.html {
        write_html(path, &query, &found.trees)?;
        writeln!(err, "dagnats trace: waterfall written to {}", path.display())?;
    }
    Ok(Outcome::Shown)
}
