//! TELEMETRY subjects and message ids, with unsafe names mapped to safe tokens.

use std::borrow::Cow;

use crate::format::TelemetryFormat;
use crate::record::Record;

/// The subject every span falls under when it has no `run_id`.
pub const NO_RUN: &str = "no-run";

/// The first token of every TELEMETRY subject; the stream captures `telemetry.>`.
pub const ROOT: &str = "telemetry";

/// What a TELEMETRY subject carries, named by its second token:
/// `telemetry.{spans|logs|metrics}.{...}`. The one grammar of the subjects, which the
/// collector formats and the bridge, the viewers and the tests read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// `telemetry.spans.{service}.{run_id}`.
    Spans,
    /// `telemetry.logs.{service}.{level}`.
    Logs,
    /// `telemetry.metrics.{service}.{metric name, dots kept}`.
    Metrics,
}

impl SubjectKind {
    /// Every kind.
    pub const ALL: [SubjectKind; 3] = [SubjectKind::Spans, SubjectKind::Logs, SubjectKind::Metrics];

    /// The second token.
    pub fn token(self) -> &'static str {
        match self {
            SubjectKind::Spans => "spans",
            SubjectKind::Logs => "logs",
            SubjectKind::Metrics => "metrics",
        }
    }

    /// Every subject of this kind: `telemetry.{kind}.>`.
    pub fn wildcard(self) -> &'static str {
        match self {
            SubjectKind::Spans => "telemetry.spans.>",
            SubjectKind::Logs => "telemetry.logs.>",
            SubjectKind::Metrics => "telemetry.metrics.>",
        }
    }

    /// The kind carried on `subject`: `telemetry.{kind}.` followed by at least one more
    /// token; `None` for any other subject.
    pub fn of(subject: &str) -> Option<SubjectKind> {
        let rest = subject.strip_prefix(ROOT)?.strip_prefix('.')?;
        let (kind, tail) = rest.split_once('.')?;
        if tail.is_empty() {
            return None;
        }
        SubjectKind::ALL.into_iter().find(|k| k.token() == kind)
    }
}

/// Whether a byte may appear in a subject token: printable ASCII other than the
/// separators and wildcards `.`, `*`, `>`.
fn token_byte_ok(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !matches!(b, b'.' | b'*' | b'>')
}

/// Maps `s` to a subject token: every byte that could break a subject (`.`, `*`, `>`,
/// white space, control and non-ASCII bytes) becomes `_`; an empty string becomes `_`.
/// The JSON body keeps the original value.
pub fn safe_token(s: &str) -> Cow<'_, str> {
    if !s.is_empty() && s.bytes().all(token_byte_ok) {
        return Cow::Borrowed(s);
    }
    if s.is_empty() {
        return Cow::Borrowed("_");
    }
    Cow::Owned(s.bytes().map(|b| if token_byte_ok(b) { b as char } else { '_' }).collect())
}

/// A metric name may keep its dots; each dot-separated part is made safe.
pub fn safe_dotted(s: &str) -> String {
    s.split('.').map(safe_token).collect::<Vec<_>>().join(".")
}

/// `telemetry.spans.{service}.{run_id}`.
pub fn span_subject(service: &str, run_id: Option<&str>) -> String {
    let run = run_id.filter(|r| !r.is_empty()).unwrap_or(NO_RUN);
    format!("{ROOT}.spans.{}.{}", safe_token(service), safe_token(run))
}

/// The subject a record is published on. A span's run token is its `run_id` attribute;
/// in the engine's dialect, the first attribute named `dagnats.run.id` or `run_id`, as the
/// engine chooses it.
pub fn subject_for(record: &Record, format: TelemetryFormat) -> String {
    match record {
        Record::Span(s) if format == TelemetryFormat::Engine => {
            let run = s
                .attributes
                .iter()
                .find(|a| a.key == "dagnats.run.id" || a.key == "run_id")
                .and_then(|a| a.value.as_str());
            span_subject(&s.service, run)
        }
        Record::Span(s) => span_subject(&s.service, s.run_id()),
        Record::Log(l) => format!("{ROOT}.logs.{}.{}", safe_token(&l.service), l.level.as_str()),
        Record::Metric(m) => metric_subject(&m.service, &m.name),
        Record::EngineMetric(m) => metric_subject(&m.service, &m.name),
    }
}

/// `telemetry.metrics.{service}.{name}`, the name's dots kept.
pub fn metric_subject(service: &str, name: &str) -> String {
    format!("{ROOT}.metrics.{}.{}", safe_token(service), safe_dotted(name))
}

/// The `Nats-Msg-Id` of a record: `{trace_id}.{span_id}` for a span, so that a publish
/// retried inside the duplicate window is stored once. For the others a random id in the
/// record format, and the engine's `log.{unix_nanos}.{sequence}` or
/// `metric.{name}.{unix_nanos}.{sequence}` in its dialect.
pub fn msg_id_for(record: &Record, format: TelemetryFormat) -> String {
    match (record, format) {
        (Record::Span(s), _) => format!("{}.{}", s.trace_id, s.span_id),
        (Record::Log(l), TelemetryFormat::Engine) => {
            format!("log.{}.{}", l.timestamp.unix_nanos(), crate::engine::next_sequence())
        }
        (Record::Metric(m), TelemetryFormat::Engine) => engine_metric_id(&m.name, m.timestamp),
        // Only the engine's shape exists for it, whatever the format.
        (Record::EngineMetric(m), _) => engine_metric_id(&m.name, m.timestamp),
        _ => format!("{:032x}", fastrand::u128(..)),
    }
}

fn engine_metric_id(name: &str, t: crate::record::Timestamp) -> String {
    format!("metric.{name}.{}.{}", t.unix_nanos(), crate::engine::next_sequence())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_made_safe() {
        assert_eq!(safe_token("py-worker"), "py-worker");
        assert_eq!(safe_token("my.svc *>x"), "my_svc___x");
        assert_eq!(safe_token(""), "_");
        assert_eq!(safe_token("tab\there"), "tab_here");
        assert_eq!(safe_token("é"), "__");
        assert_eq!(safe_dotted("tasks..done*"), "tasks._.done_");
        assert_eq!(span_subject("svc", Some("")), "telemetry.spans.svc.no-run");
        assert_eq!(span_subject("a b", Some("r.1")), "telemetry.spans.a_b.r_1");
    }

    #[test]
    fn the_kind_is_read_back_from_the_subjects_formatted_here() {
        assert_eq!(SubjectKind::of(&span_subject("py-worker", Some("r-42"))), Some(SubjectKind::Spans));
        assert_eq!(SubjectKind::of(&span_subject("", None)), Some(SubjectKind::Spans));
        assert_eq!(SubjectKind::of("telemetry.logs.engine.warn"), Some(SubjectKind::Logs));
        assert_eq!(SubjectKind::of("telemetry.metrics.engine.dagnats.tasks.completed"), Some(SubjectKind::Metrics));
        for kind in SubjectKind::ALL {
            let wildcard = kind.wildcard();
            assert_eq!(wildcard, format!("{ROOT}.{}.>", kind.token()));
            assert_eq!(SubjectKind::of(&wildcard.replace('>', "svc")), Some(kind));
        }
    }

    #[test]
    fn other_subjects_have_no_kind() {
        for subject in [
            "telemetry.spans",
            "telemetry.spans.",
            "telemetry.traces.svc.r",
            "telemetryx.spans.svc.r",
            "telemetry_dlq.spans.svc.r",
            "other.spans.svc.r",
            "",
        ] {
            assert_eq!(SubjectKind::of(subject), None, "{subject:?}");
        }
    }
}
