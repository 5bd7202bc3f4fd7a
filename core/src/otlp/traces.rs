//! Span records as OTLP spans.
//!
//! Kinds `internal/server/client/producer/consumer` become OTLP 1 to 5 and statuses
//! `unset/ok/error` become 0 to 2. The status message is the record's `status_message`
//! when it has one, else its `error` text, and only for an error status (OTLP ignores a
//! description on any other). The low byte of the OTLP flags holds the W3C trace flags
//! (sampled when the record carries none: a record exists only for a recorded span); a
//! remote parent also sets `HAS_IS_REMOTE` and `IS_REMOTE`. A span's end never precedes
//! its start, even when the producer never set one.

use super::proto::collector::trace::v1::ExportTraceServiceRequest;
use super::proto::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use super::{key_values, ByService, Converter};
use crate::record::{Scoped, SpanKind, SpanRecord, StatusCode};

/// The OTLP span kind of a record kind.
pub fn span_kind(kind: SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    }
}

/// The OTLP status code of a record status.
pub fn status_code(status: StatusCode) -> status::StatusCode {
    match status {
        StatusCode::Unset => status::StatusCode::Unset,
        StatusCode::Ok => status::StatusCode::Ok,
        StatusCode::Error => status::StatusCode::Error,
    }
}

impl Converter {
    /// One span record as an OTLP span (its service goes into the resource, not here).
    pub fn span(&self, r: SpanRecord) -> Span {
        let (start, end) = r.otlp_times();
        let code = status_code(r.status);
        let message = r.otlp_status_message().to_owned();
        let flags = r.otlp_flags();
        let status =
            (code != status::StatusCode::Unset || !message.is_empty()).then_some(Status { message, code: code as i32 });
        Span {
            trace_id: r.trace_id.to_bytes().to_vec(),
            span_id: r.span_id.to_bytes().to_vec(),
            trace_state: r.trace_state,
            parent_span_id: r.parent_id.map(|p| p.to_bytes().to_vec()).unwrap_or_default(),
            flags,
            name: r.name.into_owned(),
            kind: span_kind(r.kind) as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: key_values(r.attributes),
            dropped_attributes_count: r.dropped_attributes_count,
            events: r
                .events
                .into_iter()
                .map(|e| span::Event {
                    time_unix_nano: e.time.unix_nanos(),
                    name: e.name.into_owned(),
                    attributes: key_values(e.attributes),
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: r.dropped_events_count,
            links: r
                .links
                .into_iter()
                .map(|l| span::Link {
                    trace_id: l.trace_id.to_bytes().to_vec(),
                    span_id: l.span_id.to_bytes().to_vec(),
                    attributes: key_values(l.attributes),
                    ..Default::default()
                })
                .collect(),
            dropped_links_count: 0,
            status,
        }
    }
}

pub(super) fn convert(c: &Converter, spans: impl IntoIterator<Item = Scoped<SpanRecord>>) -> ExportTraceServiceRequest {
    let mut groups: ByService<Vec<Span>> = ByService::new();
    for Scoped { record, scope } in spans {
        let service = c.service_of(&record.service);
        groups.entry(service, scope, Vec::new).push(c.span(record));
    }
    ExportTraceServiceRequest {
        resource_spans: groups
            .into_groups()
            .map(|(service, scopes)| ResourceSpans {
                resource: Some(c.resource(&service)),
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| ScopeSpans {
                        scope: Some(c.otlp_scope(scope)),
                        spans,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::common::v1::any_value::Value as Any;
    use super::*;

    fn record(json: &str) -> SpanRecord {
        serde_json::from_str(json).unwrap()
    }

    const OURS: &str = include_str!("../../../testdata/records/ours-span.json");
    const GO: &str = include_str!("../../../testdata/records/go-span.json");
    const GO_ROOT: &str = include_str!("../../../testdata/records/go-span-root.json");

    #[test]
    fn every_field_of_our_span_arrives() {
        let c = Converter::new("dagnats", "dagnats-bridge", "9.9.9");
        let req = c.traces([record(OURS)]);
        assert_eq!(req.resource_spans.len(), 1);
        let rs = &req.resource_spans[0];
        assert_eq!(rs.resource.as_ref().unwrap().attributes[0].key, "service.name");
        let scope = rs.scope_spans[0].scope.as_ref().unwrap();
        assert_eq!((scope.name.as_str(), scope.version.as_str()), ("dagnats-bridge", "9.9.9"));
        let s = &rs.scope_spans[0].spans[0];
        assert_eq!(hex(&s.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&s.span_id), "00f067aa0ba902b7");
        assert_eq!(hex(&s.parent_span_id), "53995c3f42cd8ad8");
        assert_eq!(s.kind, span::SpanKind::Server as i32);
        let status = s.status.as_ref().unwrap();
        assert_eq!(status.code, status::StatusCode::Error as i32);
        assert_eq!(status.message, "step failed", "status_message wins over the error text");
        assert_eq!(s.trace_state, "congo=t61rcWkgMzE");
        assert_eq!(s.flags, 0x01 | 0x100 | 0x200);
        let attempt = s.attributes.iter().find(|kv| kv.key == "attempt").unwrap();
        assert_eq!(attempt.value.as_ref().unwrap().value, Some(Any::IntValue(2)));
        let ratio = s.attributes.iter().find(|kv| kv.key == "ratio").unwrap();
        assert_eq!(ratio.value.as_ref().unwrap().value, Some(Any::DoubleValue(0.5)));
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.events[0].name, "exception");
        assert_eq!(s.events[0].attributes[0].key, "exception.message");
        assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 1_234_000_000);
    }

    #[test]
    fn go_spans_map_their_error_text_and_root() {
        let c = Converter::new("dagnats", "b", "1");
        let root = c.span(record(GO_ROOT));
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.kind, span::SpanKind::Producer as i32);
        assert_eq!(root.status, Some(Status { code: status::StatusCode::Error as i32, message: "step failed".into() }));
        assert_eq!(root.flags, 0x01, "no remote bits without a remote parent");

        let child = c.span(record(GO));
        assert_eq!(child.status, Some(Status { code: status::StatusCode::Ok as i32, message: String::new() }));
        assert_eq!(child.flags, 0x01);
        assert_eq!(child.events[0].name, "cache.miss");
    }

    #[test]
    fn unset_status_is_omitted_and_links_are_kept() {
        let mut r = record(GO);
        r.status = StatusCode::Unset;
        r.error = "ignored for a non-error status".into();
        r.links = vec![crate::record::LinkRecord {
            trace_id: "0af7651916cd43dd8448eb211c80319c".parse().unwrap(),
            span_id: "b7ad6b7169203331".parse().unwrap(),
            attributes: Default::default(),
        }];
        let s = Converter::new("d", "b", "1").span(r);
        assert_eq!(s.status, None);
        assert_eq!(hex(&s.links[0].span_id), "b7ad6b7169203331");
    }

    #[test]
    fn one_resource_per_service_and_the_fallback_for_none() {
        let mut a = record(GO);
        let mut b = record(GO_ROOT);
        let mut nameless = record(GO);
        a.service = "svc-a".into();
        b.service = "svc-b".into();
        nameless.service = "".into();
        let mut a2 = a.clone();
        a2.name = "second".into();
        let req = Converter::new("dagnats", "b", "1").traces([a, b, nameless, a2]);
        let names: Vec<_> = req
            .resource_spans
            .iter()
            .map(|rs| {
                let v = rs.resource.as_ref().unwrap().attributes[0].value.as_ref().unwrap().value.clone();
                (v, rs.scope_spans[0].spans.len())
            })
            .collect();
        assert_eq!(
            names,
            vec![
                (Some(Any::StringValue("svc-a".into())), 2),
                (Some(Any::StringValue("svc-b".into())), 1),
                (Some(Any::StringValue("dagnats".into())), 1)
            ]
        );
    }

    #[test]
    fn unset_times_give_the_most_faithful_window() {
        let c = Converter::new("d", "b", "1");
        let mut r = record(GO);
        let (start, end) = (r.start_time.unix_nanos(), r.end_time.unix_nanos());
        assert_eq!(r.otlp_times(), (start, end), "real times are kept");

        r.end_time = crate::record::Timestamp::UNIX_EPOCH;
        let s = c.span(r.clone());
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (start, start), "an unset end is the start");

        r.end_time = crate::record::Timestamp(end);
        r.start_time = crate::record::Timestamp::UNIX_EPOCH;
        assert_eq!(r.otlp_times(), (end - 1_234_000_000, end), "an unset start is the end minus the duration");
        r.duration_ms = u64::MAX;
        assert_eq!(r.otlp_times(), (0, end), "an absurd duration leaves the epoch");
        r.end_time = crate::record::Timestamp::UNIX_EPOCH;
        assert_eq!(r.otlp_times(), (0, 0));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
