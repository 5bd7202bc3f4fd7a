//! TELEMETRY subjects and message ids, with unsafe names mapped to safe tokens.

use std::borrow::Cow;

use crate::record::Record;

/// The subject every span falls under when it has no `run_id`.
pub const NO_RUN: &str = "no-run";

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
    format!("telemetry.spans.{}.{}", safe_token(service), safe_token(run))
}

/// The subject a record is published on.
pub fn subject_for(record: &Record) -> String {
    match record {
        Record::Span(s) => span_subject(&s.service, s.run_id()),
        Record::Log(l) => format!("telemetry.logs.{}.{}", safe_token(&l.service), l.level.as_str()),
        Record::Metric(m) => format!("telemetry.metrics.{}.{}", safe_token(&m.service), safe_dotted(&m.name)),
    }
}

/// The `Nats-Msg-Id` of a record: `{trace_id}.{span_id}` for a span, so that a publish
/// retried inside the duplicate window is stored once; a random id for the others.
pub fn msg_id_for(record: &Record) -> String {
    match record {
        Record::Span(s) => format!("{}.{}", s.trace_id, s.span_id),
        _ => format!("{:032x}", fastrand::u128(..)),
    }
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
}
