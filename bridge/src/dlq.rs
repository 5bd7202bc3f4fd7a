//! `dagnats dlq`: the dead letters of the `TELEMETRY_DLQ` stream, listed, shown and put
//! back.
//!
//! The bridge dead-letters a message whose data is at fault (it cannot be decoded, the
//! receiver refused it, it is too large) or that the server gave up on (see
//! [`crate::settle`] and [`crate::advisory`]): the message is stored in `TELEMETRY_DLQ` on
//! `telemetry_dlq.` + its subject without `telemetry.`, with its body, its own headers and
//! the dead-letter headers ([`HEADER_SUBJECT`], [`HEADER_REASON`], [`HEADER_DELIVERIES`],
//! ...).
//!
//! - `dagnats dlq list` prints one line per dead letter: its sequence in `TELEMETRY_DLQ`,
//!   when it was stored, the deliveries it had had, its original subject and the reason
//!   (`--json`: one JSON object per line). `--reason-contains TEXT` keeps those whose
//!   reason contains TEXT.
//! - `dagnats dlq show SEQ` prints one dead letter: its headers and its body.
//! - `dagnats dlq republish SEQ|FIRST-LAST... | --all` publishes each selected dead
//!   letter again on its original subject (so on `TELEMETRY`, where the bridge reads it
//!   like any other message) with its own headers, without the `Dagnats-*` ones the
//!   bridge added (dead-letter, re-queue), and a
//!   `Nats-Msg-Id` of `TELEMETRY_DLQ:SEQ:republished`, so that republishing the same one
//!   twice within TELEMETRY's duplicate window stores it once. Once TELEMETRY has
//!   acknowledged it, it is deleted from `TELEMETRY_DLQ` (`--keep` keeps it). A dead letter
//!   whose body was truncated ([`HEADER_TRUNCATED_FROM`]) is not republished: its data is
//!   incomplete. `--dry-run` only says what would be done.
//!
//! Exit status: 0 when done (an empty dead-letter queue included), 1 when a dead letter
//! asked for does not exist or could not be republished, 2 when the command cannot run
//! (options, NATS).

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use async_nats::header::HeaderMap;
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::{self, ErrorCode};
use bytes::Bytes;
use clap::{Args, Subcommand};
use dagnats_observe::collector::stream::STREAM_NAME;
use dagnats_observe::collector::subject::ROOT;
use dagnats_observe::nats::InitialConnect;
use futures::StreamExt;

use crate::nats_args::NatsArgs;
use crate::settle::{
    carried_headers, DLQ_STREAM, HEADER_DELIVERIES, HEADER_REASON, HEADER_SUBJECT, HEADER_TRUNCATED_FROM,
};

/// The prefix of the headers the bridge adds when it dead-letters or re-queues a message
/// ([`HEADER_SUBJECT`], [`HEADER_REASON`], `Dagnats-Requeued`, ...; producers set none): a
/// republished message carries none of them.
pub const DEAD_LETTER_HEADER_PREFIX: &str = "Dagnats-";

/// Longest wait for the next dead letter while more are pending: a hang guard.
const STALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Characters of a reason shown by `list` (all of it with `--json` and `show`).
const LIST_REASON_CHARS: usize = 120;

/// Options of `dagnats dlq`.
#[derive(Args, Clone, Debug)]
pub struct DlqArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DlqCommand,
}

/// The `dagnats dlq` subcommands.
#[derive(Subcommand, Clone, Debug)]
pub enum DlqCommand {
    /// List the dead letters: sequence, time stored, deliveries, original subject, reason.
    List(ListArgs),
    /// Show one dead letter: its headers and its body.
    Show(ShowArgs),
    /// Publish dead letters again on their original subject (TELEMETRY), then delete them
    /// from TELEMETRY_DLQ.
    ///
    /// Each selected dead letter is published on the subject of its
    /// Dagnats-Original-Subject header with its own headers (not the Dagnats-* ones the
    /// bridge added) and a Nats-Msg-Id derived from its sequence, so a repeated republish
    /// is stored once; once TELEMETRY has stored it, it is deleted from TELEMETRY_DLQ
    /// (unless --keep). Dead letters whose body was truncated are left alone.
    Republish(RepublishArgs),
}

/// Options of `dagnats dlq list`.
#[derive(Args, Clone, Debug)]
pub struct ListArgs {
    /// Only dead letters whose reason contains TEXT (case-insensitive) [default: all]
    #[arg(long, value_name = "TEXT")]
    pub reason_contains: Option<String>,

    /// One JSON object per line (sequence, time, subject, original_subject, deliveries,
    /// reason, bytes) instead of a table [default: false]
    #[arg(long)]
    pub json: bool,

    /// How to reach NATS.
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// Options of `dagnats dlq show`.
#[derive(Args, Clone, Debug)]
pub struct ShowArgs {
    /// The dead letter's sequence in TELEMETRY_DLQ (the first column of `list`)
    #[arg(value_name = "SEQ")]
    pub sequence: u64,

    /// How to reach NATS.
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// Options of `dagnats dlq republish`.
#[derive(Args, Clone, Debug)]
pub struct RepublishArgs {
    /// Dead letters to republish: sequences (42) or ranges (40-50) of TELEMETRY_DLQ
    #[arg(value_name = "SEQ|FIRST-LAST", value_parser = parse_selection, required_unless_present = "all", conflicts_with = "all")]
    pub sequences: Vec<(u64, u64)>,

    /// Republish every dead letter [default: false]
    #[arg(long)]
    pub all: bool,

    /// Only dead letters whose reason contains TEXT (case-insensitive) [default: all
    /// those selected]
    #[arg(long, value_name = "TEXT")]
    pub reason_contains: Option<String>,

    /// Keep the dead letters in TELEMETRY_DLQ after republishing them [default: false]
    #[arg(long)]
    pub keep: bool,

    /// Only print what would be republished [default: false]
    #[arg(long)]
    pub dry_run: bool,

    /// How to reach NATS.
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// `42` or `40-50`, as an inclusive range.
pub fn parse_selection(s: &str) -> Result<(u64, u64), String> {
    let number = |t: &str| t.trim().parse::<u64>().ok().filter(|n| *n > 0);
    let range = match s.split_once('-') {
        Some((a, b)) => number(a).zip(number(b)),
        None => number(s).map(|n| (n, n)),
    };
    match range {
        Some((a, b)) if a <= b => Ok((a, b)),
        Some(_) => Err(format!("{s:?}: the first sequence of a range must not be above the last")),
        None => Err(format!("{s:?} is not a sequence (42) or a range (40-50) of sequences, which start at 1")),
    }
}

/// Why `dagnats dlq` could not do its work.
#[derive(Debug)]
pub enum DlqError {
    /// NATS could not be reached or refused a request.
    Nats(String),
    /// The output could not be written.
    Io(io::Error),
}

impl fmt::Display for DlqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DlqError::Nats(e) => write!(f, "NATS: {e}"),
            DlqError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DlqError {}

impl From<io::Error> for DlqError {
    fn from(e: io::Error) -> Self {
        DlqError::Io(e)
    }
}

/// How a command ended, when it could run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked was done.
    Done,
    /// A dead letter asked for does not exist, or could not be republished.
    Incomplete,
}

/// One dead letter as stored.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// Its sequence in TELEMETRY_DLQ.
    pub sequence: u64,
    /// Its subject in TELEMETRY_DLQ.
    pub subject: String,
    /// When TELEMETRY_DLQ stored it.
    pub time: time::OffsetDateTime,
    /// Its headers, the dead-letter ones included.
    pub headers: HeaderMap,
    /// Its body.
    pub payload: Bytes,
}

impl DeadLetter {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.as_str())
    }

    /// The subject it was published on: its [`HEADER_SUBJECT`], else its dead-letter
    /// subject with `telemetry_dlq.` turned back into `telemetry.`.
    pub fn original_subject(&self) -> String {
        match self.header(HEADER_SUBJECT) {
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => crate::settle::original_subject(&self.subject).unwrap_or_else(|| self.subject.clone()),
        }
    }

    /// Why it was dead-lettered (empty when the header is missing).
    pub fn reason(&self) -> &str {
        self.header(HEADER_REASON).unwrap_or("")
    }

    /// How often it had been delivered, as the header says.
    pub fn deliveries(&self) -> &str {
        self.header(HEADER_DELIVERIES).unwrap_or("?")
    }

    fn reason_matches(&self, filter: Option<&str>) -> bool {
        filter.is_none_or(|f| self.reason().to_lowercase().contains(&f.to_lowercase()))
    }

    /// Its headers for republishing: its own, without the dead-letter headers and the
    /// server's `Nats-*` ones, plus a `Nats-Msg-Id` derived from its DLQ sequence.
    pub fn republish_headers(&self) -> HeaderMap {
        let mut out = carried_headers(Some(&self.headers), |name| {
            name.get(..DEAD_LETTER_HEADER_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(DEAD_LETTER_HEADER_PREFIX))
        });
        out.insert("Nats-Msg-Id", format!("{DLQ_STREAM}:{}:republished", self.sequence).as_str());
        out
    }
}

/// The time as `2026-11-24T10:30:00Z` (seconds, UTC).
fn stamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| "?".into())
}

/// Printable on one line: control characters become spaces, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// Runs `dagnats dlq`: the report goes to `out`, progress and problems to `err`.
pub async fn command(args: &DlqArgs, out: &mut impl Write, err: &mut impl Write) -> Result<Outcome, DlqError> {
    let nats = match &args.command {
        DlqCommand::List(a) => &a.nats,
        DlqCommand::Show(a) => &a.nats,
        DlqCommand::Republish(a) => &a.nats,
    };
    let options = nats.options("dagnats dlq").map_err(|e| DlqError::Nats(e.to_string()))?;
    let client = options.connect(InitialConnect::FailFast).await.map_err(|e| DlqError::Nats(e.to_string()))?;
    let js = jetstream::new(client);
    let Some(stream) = dlq_stream(&js).await? else {
        writeln!(err, "dagnats dlq: there is no {DLQ_STREAM} stream: nothing has been dead-lettered")?;
        return Ok(match &args.command {
            DlqCommand::Show(_) => Outcome::Incomplete,
            DlqCommand::Republish(a) if !a.all => Outcome::Incomplete,
            _ => Outcome::Done,
        });
    };
    match &args.command {
        DlqCommand::List(a) => list(&stream, a, out, err).await,
        DlqCommand::Show(a) => show(&stream, a.sequence, out, err).await,
        DlqCommand::Republish(a) => republish(&js, &stream, a, out, err).await,
    }
}

async fn dlq_stream(js: &jetstream::Context) -> Result<Option<Stream>, DlqError> {
    match js.get_stream(DLQ_STREAM).await {
        Ok(s) => Ok(Some(s)),
        Err(e) => match e.kind() {
            GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND => Ok(None),
            _ => Err(DlqError::Nats(format!("cannot read the {DLQ_STREAM} stream: {e}"))),
        },
    }
}

/// Calls `each` with every dead letter from sequence `first` to `last` (inclusive, capped
/// at the stream's last sequence when the call starts), in order; stops early when `each`
/// returns false.
pub async fn scan<F>(stream: &Stream, first: u64, last: u64, mut each: F) -> Result<(), DlqError>
where
    F: AsyncFnMut(DeadLetter) -> Result<bool, DlqError>,
{
    let info =
        stream.get_info().await.map_err(|e| DlqError::Nats(format!("cannot read the {DLQ_STREAM} stream: {e}")))?;
    let last = last.min(info.state.last_sequence);
    if info.state.messages == 0 || first > last {
        return Ok(());
    }
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: if first <= 1 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence { start_sequence: first }
            },
            description: Some("dagnats dlq".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| DlqError::Nats(format!("cannot create a reader on {DLQ_STREAM}: {e}")))?;
    if consumer.cached_info().num_pending == 0 {
        return Ok(());
    }
    let mut messages = consumer.messages().await.map_err(|e| DlqError::Nats(e.to_string()))?;
    loop {
        let next = tokio::time::timeout(STALL_TIMEOUT, messages.next()).await.map_err(|_| {
            DlqError::Nats(format!(
                "no message from {DLQ_STREAM} for {}s while more were pending",
                STALL_TIMEOUT.as_secs()
            ))
        })?;
        let message = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(DlqError::Nats(format!("reading {DLQ_STREAM}: {e}"))),
            None => return Ok(()),
        };
        let (sequence, pending, time) = match message.info() {
            Ok(i) => (i.stream_sequence, i.pending, i.published),
            Err(e) => return Err(DlqError::Nats(format!("reading {DLQ_STREAM}: {e}"))),
        };
        if sequence > last {
            return Ok(());
        }
        let letter = DeadLetter {
            sequence,
            subject: message.subject.to_string(),
            time,
            headers: message.headers.clone().unwrap_or_default(),
            payload: message.payload.clone(),
        };
        if !each(letter).await? || sequence >= last || pending == 0 {
            return Ok(());
        }
    }
}

async fn list(
    stream: &Stream,
    args: &ListArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<Outcome, DlqError> {
    let filter = args.reason_contains.as_deref();
    let mut shown = 0u64;
    if !args.json {
        writeln!(
            out,
            "{:>8}  {:<20}  {:>10}  {:<40}  REASON",
            "SEQ", "STORED (UTC)", "DELIVERIES", "ORIGINAL SUBJECT"
        )?;
    }
    scan(stream, 1, u64::MAX, async |d: DeadLetter| {
        if !d.reason_matches(filter) {
            return Ok(true);
        }
        shown += 1;
        if args.json {
            let line = serde_json::json!({
                "sequence": d.sequence,
                "time": stamp(d.time),
                "subject": d.subject,
                "original_subject": d.original_subject(),
                "deliveries": d.header(HEADER_DELIVERIES).and_then(|v| v.parse::<i64>().ok()),
                "reason": d.reason(),
                "bytes": d.payload.len(),
                "truncated_from": d.header(HEADER_TRUNCATED_FROM).and_then(|v| v.parse::<u64>().ok()),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:>8}  {:<20}  {:>10}  {:<40}  {}",
                d.sequence,
                stamp(d.time),
                d.deliveries(),
                one_line(&d.original_subject(), 200),
                one_line(d.reason(), LIST_REASON_CHARS)
            )?;
        }
        Ok(true)
    })
    .await?;
    let what = if filter.is_some() { "dead letters with that reason" } else { "dead letters" };
    writeln!(err, "dagnats dlq: {shown} {what} in {DLQ_STREAM}")?;
    Ok(Outcome::Done)
}

async fn get(stream: &Stream, sequence: u64) -> Result<Option<DeadLetter>, DlqError> {
    use async_nats::jetstream::stream::RawMessageErrorKind;
    match stream.get_raw_message(sequence).await {
        Ok(m) => Ok(Some(DeadLetter {
            sequence,
            subject: m.subject.to_string(),
            time: m.time,
            headers: m.headers,
            payload: m.payload,
        })),
        Err(e) => match e.kind() {
            RawMessageErrorKind::NoMessageFound => Ok(None),
            RawMessageErrorKind::JetStream(j) if j.error_code() == ErrorCode::NO_MESSAGE_FOUND => Ok(None),
            _ => Err(DlqError::Nats(format!("cannot read dead letter {sequence}: {e}"))),
        },
    }
}

async fn show(stream: &Stream, sequence: u64, out: &mut impl Write, err: &mut impl Write) -> Result<Outcome, DlqError> {
    let Some(d) = get(stream, sequence).await? else {
        writeln!(err, "dagnats dlq: {DLQ_STREAM} holds no dead letter {sequence}")?;
        return Ok(Outcome::Incomplete);
    };
    writeln!(out, "sequence: {}", d.sequence)?;
    writeln!(out, "stored: {}", stamp(d.time))?;
    writeln!(out, "subject: {}", d.subject)?;
    writeln!(out, "original subject: {}", d.original_subject())?;
    writeln!(out, "headers:")?;
    for (name, values) in d.headers.iter() {
        for v in values {
            writeln!(out, "  {}: {}", name, one_line(v.as_str(), 4096))?;
        }
    }
    match std::str::from_utf8(&d.payload) {
        Ok(text) => {
            writeln!(out, "body ({} bytes):", d.payload.len())?;
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        Err(_) => {
            writeln!(out, "body ({} bytes, not UTF-8, escaped):", d.payload.len())?;
            writeln!(out, "{}", d.payload.escape_ascii())?;
        }
    }
    Ok(Outcome::Done)
}

async fn republish(
    js: &jetstream::Context,
    stream: &Stream,
    args: &RepublishArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<Outcome, DlqError> {
    let filter = args.reason_contains.as_deref();
    let (first, last) = if args.all {
        (1, u64::MAX)
    } else {
        (args.sequences.iter().map(|r| r.0).min().unwrap_or(1), args.sequences.iter().map(|r| r.1).max().unwrap_or(0))
    };
    let selected = |seq: u64| args.all || args.sequences.iter().any(|&(a, b)| a <= seq && seq <= b);
    // Sequences named one by one must exist; ranges may have gaps.
    let mut wanted: BTreeSet<u64> = args.sequences.iter().filter(|(a, b)| a == b).map(|(a, _)| *a).collect();
    let (mut done, mut failed, mut skipped) = (0u64, 0u64, 0u64);
    let verb = if args.dry_run { "would republish" } else { "republished" };
    scan(stream, first, last, async |d: DeadLetter| {
        if !selected(d.sequence) {
            return Ok(true);
        }
        wanted.remove(&d.sequence);
        if !d.reason_matches(filter) {
            skipped += 1;
            return Ok(true);
        }
        let subject = d.original_subject();
        if let Some(size) = d.header(HEADER_TRUNCATED_FROM) {
            failed += 1;
            writeln!(
                err,
                "dagnats dlq: {}: not republished: its body was truncated from {size} bytes when dead-lettered",
                d.sequence
            )?;
            return Ok(true);
        }
        if !subject.strip_prefix(ROOT).is_some_and(|rest| rest.starts_with('.')) {
            failed += 1;
            writeln!(
                err,
                "dagnats dlq: {}: not republished: its original subject {:?} is not a telemetry subject",
                d.sequence,
                one_line(&subject, 200)
            )?;
            return Ok(true);
        }
        if args.dry_run {
            done += 1;
            writeln!(out, "{verb} {} -> {subject}", d.sequence)?;
            return Ok(true);
        }
        let stored = match js.publish_with_headers(subject.clone(), d.republish_headers(), d.payload.clone()).await {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(ack) if ack.stream != STREAM_NAME => {
                failed += 1;
                writeln!(
                    err,
                    "dagnats dlq: {}: stored by stream {} instead of {STREAM_NAME}; kept in {DLQ_STREAM}",
                    d.sequence, ack.stream
                )?;
            }
            Ok(ack) => {
                done += 1;
                let mut line = format!(
                    "{verb} {} -> {subject} ({STREAM_NAME} sequence {}{})",
                    d.sequence,
                    ack.sequence,
                    if ack.duplicate { ", already there" } else { "" }
                );
                if !args.keep {
                    match stream.delete_message(d.sequence).await {
                        Ok(_) => line.push_str(", deleted from the dead letters"),
                        Err(e) => {
                            failed += 1;
                            writeln!(
                                err,
                                "dagnats dlq: {}: republished but not deleted from {DLQ_STREAM}: {e}",
                                d.sequence
                            )?;
                        }
                    }
                }
                writeln!(out, "{line}")?;
            }
            Err(e) => {
                failed += 1;
                writeln!(err, "dagnats dlq: {}: not republished (kept in {DLQ_STREAM}): {e}", d.sequence)?;
            }
        }
        Ok(true)
    })
    .await?;
    for missing in &wanted {
        failed += 1;
        writeln!(err, "dagnats dlq: {DLQ_STREAM} holds no dead letter {missing}")?;
    }
    let skipped = if skipped > 0 { format!(", {skipped} left alone (other reasons)") } else { String::new() };
    writeln!(err, "dagnats dlq: {done} {verb}, {failed} failed{skipped}")?;
    Ok(if failed == 0 { Outcome::Done } else { Outcome::Incomplete })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_are_sequences_or_ranges() {
        assert_eq!(parse_selection("42"), Ok((42, 42)));
        assert_eq!(parse_selection("40-50"), Ok((40, 50)));
        assert!(parse_selection("50-40").is_err());
        assert!(parse_selection("0").is_err());
        assert!(parse_selection("x").is_err());
        assert!(parse_selection("1-").is_err());
    }

    fn letter(headers: &[(&str, &str)]) -> DeadLetter {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, *v);
        }
        DeadLetter {
            sequence: 7,
            subject: "telemetry_dlq.spans.svc.r-1".into(),
            time: time::OffsetDateTime::UNIX_EPOCH,
            headers: map,
            payload: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn republished_headers_drop_the_dead_letter_ones_and_get_a_stable_id() {
        let d = letter(&[
            (HEADER_SUBJECT, "telemetry.spans.svc.r-1"),
            (HEADER_REASON, "HTTP 400"),
            (HEADER_DELIVERIES, "1"),
            (crate::settle::HEADER_STREAM, "TELEMETRY"),
            (crate::settle::HEADER_SEQUENCE, "3"),
            ("dagnats-requeued", "2"),
            ("Nats-Msg-Id", "TELEMETRY:3"),
            ("traceparent", "00-abc-def-01"),
            ("X-Tenant", "t1"),
        ]);
        let h = d.republish_headers();
        let mut names: Vec<String> = h.iter().map(|(n, _)| n.to_string()).collect();
        names.sort();
        assert_eq!(names, ["Nats-Msg-Id", "X-Tenant", "traceparent"]);
        assert_eq!(h.get("traceparent").map(|v| v.as_str()), Some("00-abc-def-01"));
        assert_eq!(h.get("Nats-Msg-Id").map(|v| v.as_str()), Some("TELEMETRY_DLQ:7:republished"));
        assert_eq!(d.original_subject(), "telemetry.spans.svc.r-1");
        assert_eq!(letter(&[]).original_subject(), "telemetry.spans.svc.r-1");
    }

    #[test]
    fn reasons_filter_case_insensitively() {
        let d = letter(&[(HEADER_REASON, "cannot decode: expected value")]);
        assert!(d.reason_matches(None));
        assert!(d.reason_matches(Some("Cannot Decode")));
        assert!(!d.reason_matches(Some("HTTP 400")));
    }
}
