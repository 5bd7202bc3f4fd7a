//! Log records as OTLP log records.
//!
//! Levels `trace/debug/info/warn/error` become severity numbers 1/5/9/13/17 with the level
//! name as severity text; the message is the body, the fields are the attributes, and an
//! error text is added as the `exception.message` attribute. The record's time is both the
//! event time and the observed time (the logger observed it when it wrote it).

use super::proto::collector::logs::v1::ExportLogsServiceRequest;
use super::proto::common::v1::{any_value, AnyValue};
use super::proto::logs::v1::{self as otlp_logs, ResourceLogs, ScopeLogs, SeverityNumber};
use super::{key_values, string_key_value, ByService, Converter};
use crate::record::{Level, LogRecord, Scoped};

pub use crate::record::LOG_ERROR_ATTRIBUTE as ERROR_ATTRIBUTE;

/// The OTLP severity number of a level.
pub fn severity_number(level: Level) -> SeverityNumber {
    match level {
        Level::Trace => SeverityNumber::Trace,
        Level::Debug => SeverityNumber::Debug,
        Level::Info => SeverityNumber::Info,
        Level::Warn => SeverityNumber::Warn,
        Level::Error => SeverityNumber::Error,
    }
}

impl Converter {
    /// One log record as an OTLP log record (its service goes into the resource).
    pub fn log_record(&self, r: LogRecord) -> otlp_logs::LogRecord {
        let mut attributes = key_values(r.fields);
        if !r.error.is_empty() {
            attributes.push(string_key_value(ERROR_ATTRIBUTE, r.error));
        }
        otlp_logs::LogRecord {
            time_unix_nano: r.timestamp.unix_nanos(),
            observed_time_unix_nano: r.timestamp.unix_nanos(),
            severity_number: severity_number(r.level) as i32,
            severity_text: r.level.as_str().to_owned(),
            body: Some(AnyValue { value: Some(any_value::Value::StringValue(r.message)) }),
            attributes,
            trace_id: r.trace_id.map(|t| t.to_bytes().to_vec()).unwrap_or_default(),
            span_id: r.span_id.map(|s| s.to_bytes().to_vec()).unwrap_or_default(),
            ..Default::default()
        }
    }
}

pub(super) fn convert(c: &Converter, logs: impl IntoIterator<Item = Scoped<LogRecord>>) -> ExportLogsServiceRequest {
    let mut groups: ByService<Vec<otlp_logs::LogRecord>> = ByService::new();
    for Scoped { record, scope } in logs {
        let service = c.service_of(&record.service);
        groups.entry(service, scope, Vec::new).push(c.log_record(record));
    }
    ExportLogsServiceRequest {
        resource_logs: groups
            .into_groups()
            .map(|(service, scopes)| ResourceLogs {
                resource: Some(c.resource(&service)),
                scope_logs: scopes
                    .into_iter()
                    .map(|(scope, log_records)| ScopeLogs {
                        scope: Some(c.otlp_scope(scope)),
                        log_records,
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
    use super::*;
    use any_value::Value as Any;

    fn record(json: &str) -> LogRecord {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn levels_map_to_severities() {
        let expected = [(Level::Trace, 1), (Level::Debug, 5), (Level::Info, 9), (Level::Warn, 13), (Level::Error, 17)];
        for (level, number) in expected {
            assert_eq!(severity_number(level) as i32, number);
        }
    }

    #[test]
    fn a_go_log_keeps_its_ids_fields_and_error() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.logs([record(include_str!("../../../testdata/records/go-log.json"))]);
        let rl = &req.resource_logs[0];
        assert_eq!(
            rl.resource.as_ref().unwrap().attributes[0].value.as_ref().unwrap().value,
            Some(Any::StringValue("engine".into()))
        );
        let l = &rl.scope_logs[0].log_records[0];
        assert_eq!(l.severity_number, 13);
        assert_eq!(l.severity_text, "warn");
        assert_eq!(l.body.as_ref().unwrap().value, Some(Any::StringValue("retrying step".into())));
        assert_eq!(l.trace_id.len(), 16);
        assert_eq!(l.span_id.len(), 8);
        let attempt = l.attributes.iter().find(|kv| kv.key == "attempt").unwrap();
        assert_eq!(attempt.value.as_ref().unwrap().value, Some(Any::IntValue(3)));
        let err = l.attributes.iter().find(|kv| kv.key == ERROR_ATTRIBUTE).unwrap();
        assert_eq!(err.value.as_ref().unwrap().value, Some(Any::StringValue("timeout".into())));
    }

    #[test]
    fn a_log_without_a_span_has_empty_ids() {
        let l = Converter::new("d", "b", "1")
            .log_record(record(include_str!("../../../testdata/records/go-log-no-span.json")));
        assert!(l.trace_id.is_empty() && l.span_id.is_empty());
        assert_eq!(l.severity_number, 9);
    }
}
