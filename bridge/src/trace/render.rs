//! Trees and spans as terminal lines.
//!
//! A span line reads `[service] name  kind  duration  status`, then `error: ...` and
//! `message: ...` when the span has an error text or a status description. Trees are
//! drawn with box characters, a child under its parent; a root that has a parent id says
//! why it is a root (`(parent 53995c3f… not received)`). Span text comes from whoever
//! published the record, so control and bidirectional-override characters are shown
//! escaped, never sent to the terminal. Colour is used only when asked for; see
//! [`color_wanted`] for when the commands ask.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use dagnats_observe::id::SpanId;
use dagnats_observe::record::{SpanRecord, StatusCode};

use super::tree::{Detached, Tree};

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org>).
pub fn color_wanted(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// [`color_wanted`] for this process's standard output.
pub fn color_for_stdout() -> bool {
    use std::io::IsTerminal;
    color_wanted(io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// `s` safe to print: control characters and bidirectional overrides escaped (`\n`,
/// `\u{1b}`).
pub fn clean(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A duration in nanoseconds for people: `850ns`, `12.5µs`, `1.23ms`, `123ms`, `4.56s`,
/// `2m03s`, `1h02m`.
pub fn duration(ns: u64) -> String {
    let f = ns as f64;
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => three_digits(f / 1e3, "µs"),
        1_000_000..1_000_000_000 => three_digits(f / 1e6, "ms"),
        1_000_000_000..60_000_000_000 => three_digits(f / 1e9, "s"),
        60_000_000_000..3_600_000_000_000 => format!("{}m{:02}s", ns / 60_000_000_000, (ns / 1_000_000_000) % 60),
        _ => format!("{}h{:02}m", ns / 3_600_000_000_000, (ns / 60_000_000_000) % 60),
    }
}

fn three_digits(v: f64, unit: &str) -> String {
    if v < 10.0 {
        format!("{v:.2}{unit}")
    } else if v < 100.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

/// A span's length in nanoseconds: end minus start, or `duration_ms` when the times
/// say nothing (equal, or the end before the start).
pub fn span_nanos(s: &SpanRecord) -> u64 {
    match s.end_time.unix_nanos().checked_sub(s.start_time.unix_nanos()) {
        Some(d) if d > 0 => d,
        _ => s.duration_ms.saturating_mul(1_000_000),
    }
}

/// The first 8 hex digits of an id and an ellipsis.
pub fn short_id(id: SpanId) -> String {
    format!("{}…", &id.to_string()[..8])
}

/// ANSI colours, or nothing.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    on: bool,
}

const SERVICE_COLORS: [&str; 6] = ["36", "35", "34", "33", "32", "96"];

impl Paint {
    /// Colours `on` or off.
    pub fn new(on: bool) -> Paint {
        Paint { on }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn service(self, service: &str) -> String {
        let hash = service.bytes().fold(0x811c9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x01000193));
        self.wrap(SERVICE_COLORS[hash as usize % SERVICE_COLORS.len()], &format!("[{}]", clean(service)))
    }
}

/// One span as `[service] name  kind  duration  status[  error: ...][  message: ...]`.
pub fn span_line(s: &SpanRecord, paint: Paint) -> String {
    let status = match s.status {
        StatusCode::Error => paint.wrap("1;31", "error"),
        StatusCode::Ok => paint.wrap("32", "ok"),
        StatusCode::Unset => paint.wrap("2", "unset"),
    };
    let mut line = format!(
        "{} {}  {}  {}  {}",
        paint.service(&s.service),
        paint.wrap("1", &clean(&s.name)),
        s.kind.as_str(),
        duration(span_nanos(s)),
        status
    );
    if !s.error.is_empty() {
        let _ = write!(line, "  {}", paint.wrap("31", &format!("error: {}", clean(&s.error))));
    }
    if !s.status_message.is_empty() && s.status_message != s.error {
        let _ = write!(line, "  message: {}", clean(&s.status_message));
    }
    line
}

/// The line above a tree: trace id, spans, services, length.
pub fn tree_header(t: &Tree, paint: Paint) -> String {
    let services = t.services();
    let mut line = format!(
        "trace {}  {} span{}  {} service{} ({})  {}",
        paint.wrap("1", &t.trace_id.to_string()),
        t.spans.len(),
        if t.spans.len() == 1 { "" } else { "s" },
        services.len(),
        if services.len() == 1 { "" } else { "s" },
        services.iter().map(|s| clean(s)).collect::<Vec<_>>().join(", "),
        duration(t.end() - t.start()),
    );
    if t.duplicates > 0 {
        let _ =
            write!(line, "  ({} duplicate record{} ignored)", t.duplicates, if t.duplicates == 1 { "" } else { "s" });
    }
    line
}

/// The lines of a tree (without its header), a child indented under its parent.
pub fn tree_lines(t: &Tree, paint: Paint) -> Vec<String> {
    t.rows
        .iter()
        .map(|row| {
            let mut prefix = String::new();
            if let Some((me, ancestors)) = row.last.split_last() {
                for &last in ancestors {
                    prefix.push_str(if last { "   " } else { "│  " });
                }
                prefix.push_str(if *me { "└─ " } else { "├─ " });
            }
            let prefix = if prefix.is_empty() { prefix } else { paint.wrap("2", &prefix) };
            let mut line = format!("{prefix}{}", span_line(t.span(row), paint));
            match row.detached {
                Some(Detached::MissingParent(p)) => {
                    let _ = write!(line, "  {}", paint.wrap("33", &format!("(parent {} not received)", short_id(p))));
                }
                Some(Detached::Cycle(p)) => {
                    let _ = write!(line, "  {}", paint.wrap("33", &format!("(parent {} forms a cycle)", short_id(p))));
                }
                None => {}
            }
            line
        })
        .collect()
}

/// Every tree with its header, a blank line between trees.
pub fn write_trees(out: &mut impl Write, trees: &[Tree], paint: Paint) -> io::Result<()> {
    for (i, t) in trees.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", tree_header(t, paint))?;
        for line in tree_lines(t, paint) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// One line for `dagnats tail`: end time (UTC, `HH:MM:SS.mmm`), the span line, then the
/// trace id and run.
pub fn tail_line(s: &SpanRecord, paint: Paint) -> String {
    let end = s.end_time.to_string();
    let mut line = format!(
        "{}  {}  {}",
        paint.wrap("2", &end[11..23]),
        span_line(s, paint),
        paint.wrap("2", &format!("trace={}", s.trace_id))
    );
    if let Some(run) = s.run_id() {
        let _ = write!(line, " {}", paint.wrap("2", &format!("run={}", clean(run))));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::tree::build;
    use serde_json::json;

    fn span(extra: serde_json::Value) -> SpanRecord {
        let mut v = serde_json::json!({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"00000000000000a1","name":"step",
            "service":"svc","kind":"server","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00.25Z",
            "duration_ms":250,"status":"ok"});
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(850), "850ns");
        assert_eq!(duration(12_500), "12.5µs");
        assert_eq!(duration(1_234_000), "1.23ms");
        assert_eq!(duration(123_000_000), "123ms");
        assert_eq!(duration(4_560_000_000), "4.56s");
        assert_eq!(duration(123_000_000_000), "2m03s");
        assert_eq!(duration(3_720_000_000_000), "1h02m");
    }

    #[test]
    fn a_span_line_names_service_name_kind_duration_status_and_error() {
        let s = span(json!({"status": "error", "error": "disk full", "status_message": "write failed"}));
        assert_eq!(
            span_line(&s, Paint::new(false)),
            "[svc] step  server  250ms  error  error: disk full  message: write failed"
        );
    }

    #[test]
    fn untrusted_text_cannot_drive_the_terminal() {
        let s = span(json!({"name": "evil\u{1b}[2J\nname\u{202e}", "error": "x\u{7}"}));
        let line = span_line(&s, Paint::new(false));
        assert!(!line.chars().any(|c| c.is_control() || c == '\u{202e}'), "{line:?}");
        assert!(line.contains(r"evil\u{1b}[2J\nname\u{202e}"), "{line}");
    }

    #[test]
    fn colour_only_when_wanted() {
        assert!(color_wanted(true, None));
        assert!(color_wanted(true, Some(std::ffi::OsStr::new(""))));
        assert!(!color_wanted(true, Some(std::ffi::OsStr::new("1"))));
        assert!(!color_wanted(false, None));
        let s = span(json!({}));
        assert!(span_line(&s, Paint::new(true)).contains("\x1b["));
        assert!(!span_line(&s, Paint::new(false)).contains('\x1b'));
    }

    #[test]
    fn trees_are_drawn_with_indentation_and_orphan_notes() {
        let root = span(json!({}));
        let mut child = span(json!({"parent_id": "00000000000000a1", "name": "child"}));
        child.span_id = SpanId::from_hex("00000000000000a2").unwrap();
        let mut orphan = span(json!({"parent_id": "1234567890abcdef", "name": "orphan"}));
        orphan.span_id = SpanId::from_hex("00000000000000a3").unwrap();
        child.start_time = dagnats_observe::record::Timestamp(child.start_time.unix_nanos() + 10_000_000);
        orphan.start_time = dagnats_observe::record::Timestamp(orphan.start_time.unix_nanos() + 20_000_000);
        let trees = build(vec![orphan, child, root]);
        let lines = tree_lines(&trees[0], Paint::new(false));
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("[svc] step"), "{lines:?}");
        assert!(lines[1].starts_with("└─ [svc] child"), "{lines:?}");
        assert!(
            lines[2].starts_with("[svc] orphan") && lines[2].ends_with("(parent 12345678… not received)"),
            "{lines:?}"
        );
        assert!(tree_header(&trees[0], Paint::new(false))
            .starts_with("trace 0af7651916cd43dd8448eb211c80319c  3 spans  1 service (svc)"));
    }

    #[test]
    fn a_tail_line_carries_time_trace_and_run() {
        let s = span(json!({"attributes": {"run_id": "r-7"}}));
        assert_eq!(
            tail_line(&s, Paint::new(false)),
            "00:00:00.250  [svc] step  server  250ms  ok  trace=0af7651916cd43dd8448eb211c80319c run=r-7"
        );
    }
}
