//! Message bodies into records: the Go engine's JSON records, and OTLP-JSON bodies.
//!
//! A body on `telemetry.spans.>`, `.logs.>` or `.metrics.>` is first read as that
//! subject's record (the core's lenient readers: what the Go engine writes). A body that
//! is not such a record but holds `resourceSpans`, `resourceLogs` or `resourceMetrics`
//! is read as OTLP-JSON (hex ids, 64-bit integers as strings, enums as numbers, as the
//! OTLP/JSON encoding says), whatever its subject; its signal is the one it holds.
//!
//! Anything else is a [`DecodeError`] whose text says why, for the dead-letter headers:
//! not JSON, a wrong type, a bad id, an empty span or metric name, too large. Decoding
//! never panics on any input; a panic in a dependency is caught and reported the same way.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dagnats_observe::engine;
use dagnats_observe::otlp::proto::common::v1::{any_value, AnyValue};
use dagnats_observe::otlp::proto::logs::v1::ResourceLogs;
use dagnats_observe::otlp::proto::metrics::v1::ResourceMetrics;
use dagnats_observe::otlp::proto::trace::v1::ResourceSpans;
use dagnats_observe::record::{read_scope, LogRecord, MetricPoint, Scoped, SpanRecord};
use serde::Deserialize;

use crate::config::Signal;
use crate::consume::route;

/// One decoded message.
#[derive(Debug)]
pub enum Decoded {
    /// A span record, with the instrumentation scope it names.
    Span(Box<Scoped<SpanRecord>>),
    /// A log record, with the instrumentation scope it names.
    Log(Box<Scoped<LogRecord>>),
    /// A metric point, with the instrumentation scope it names.
    Metric(Box<Scoped<MetricPoint>>),
    /// An OTLP-JSON traces body.
    Traces(Vec<ResourceSpans>),
    /// An OTLP-JSON logs body.
    Logs(Vec<ResourceLogs>),
    /// An OTLP-JSON metrics body.
    Metrics(Vec<ResourceMetrics>),
    /// One aggregated metric in the engine's dialect (the Go SDK's shape).
    EngineMetric(Box<engine::EngineMetric>),
}

impl Decoded {
    /// The signal, which decides the endpoint.
    pub fn signal(&self) -> Signal {
        match self {
            Decoded::Span(_) | Decoded::Traces(_) => Signal::Spans,
            Decoded::Log(_) | Decoded::Logs(_) => Signal::Logs,
            Decoded::Metric(_) | Decoded::Metrics(_) | Decoded::EngineMetric(_) => Signal::Metrics,
        }
    }

    /// Spans, log records or metric data points held.
    pub fn record_count(&self) -> usize {
        match self {
            Decoded::Span(_) | Decoded::Log(_) | Decoded::Metric(_) => 1,
            Decoded::Traces(r) => r.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum(),
            Decoded::Logs(r) => r.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum(),
            Decoded::Metrics(r) => {
                r.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics).map(data_points).sum()
            }
            Decoded::EngineMetric(m) => m.data.len(),
        }
    }
}

/// Data points in one OTLP metric.
fn data_points(m: &dagnats_observe::otlp::proto::metrics::v1::Metric) -> usize {
    use dagnats_observe::otlp::proto::metrics::v1::metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Why a message cannot be decoded; the text goes into the dead-letter reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(s: impl Into<String>) -> DecodeError {
    DecodeError(s.into())
}

/// Decodes one message body that arrived on `subject`. The subject's signal says which
/// records to read (on any other subject only OTLP-JSON is accepted) and its service
/// token names the service of a body that names none (the engine's spans never do).
/// Bodies longer than `max_bytes` are refused unread.
pub fn decode(subject: &str, body: &[u8], max_bytes: usize) -> Result<Decoded, DecodeError> {
    if body.len() > max_bytes {
        return Err(err(format!("message of {} bytes exceeds the limit of {max_bytes}", body.len())));
    }
    match catch_unwind(AssertUnwindSafe(|| decode_unchecked(subject, body))) {
        Ok(result) => result,
        Err(_) => Err(err("the decoder panicked on this message")),
    }
}

/// The `{service}` token of `telemetry.{kind}.{service}.…`; empty on other subjects.
pub fn subject_service(subject: &str) -> &str {
    match route(subject) {
        Some(_) => subject.split('.').nth(2).unwrap_or(""),
        None => "",
    }
}

fn decode_unchecked(subject: &str, body: &[u8]) -> Result<Decoded, DecodeError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(err(if body.is_empty() { "empty message".to_string() } else { "not a JSON object".to_string() }));
    }
    let signal = route(subject);
    let record_error = match signal.map(|s| decode_record(s, subject_service(subject), body)) {
        Some(Ok(d)) => return Ok(d),
        Some(Err(e)) => Some(e),
        None => None,
    };
    if looks_like_otlp(body) {
        return decode_otlp(body);
    }
    Err(record_error.unwrap_or_else(|| err("not on a spans, logs or metrics subject, and not an OTLP-JSON body")))
}

/// Whether a body holds `key` as written (the engine's writers never vary the case).
fn mentions(body: &[u8], key: &memchr::memmem::Finder<'static>) -> bool {
    key.find(body).is_some()
}

static ENGINE_SPAN_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"traceId\""));

/// Which dialect a log body is in: the engine's flat entry has `body` and `severity`
/// (matched ignoring case, as `dagnats logs` matches them), the record `message` and
/// `level`. A record read from an engine entry would be emptied: no message, severity
/// info, no ids. So the keys decide, not which reader happens to succeed.
fn is_engine_log(body: &[u8]) -> bool {
    let Some(map) = top_level(body) else { return false };
    let has = |name: &str| map.keys().any(|k| k.eq_ignore_ascii_case(name));
    (has("body") || has("severity")) && !map.contains_key("message") && !map.contains_key("level")
}

/// The body's top-level object, to tell the dialects apart by their keys.
fn top_level(body: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_slice(body).ok()
}

/// Whether a metric body is the engine's aggregated shape: a `data` object (the SDK's
/// aggregation) where a record has a `value`.
fn is_engine_metric(body: &[u8]) -> bool {
    let Some(map) = top_level(body) else { return false };
    map.keys().any(|k| k.eq_ignore_ascii_case("data")) && !map.contains_key("value")
}

fn decode_record(signal: Signal, service: &str, body: &[u8]) -> Result<Decoded, DecodeError> {
    let what = signal.as_str();
    let bad = |e: serde_json::Error| err(format!("not a valid {what} record: {e}"));
    match signal {
        Signal::Spans => {
            // The engine's bare OTLP Span (camelCase keys) or a record (snake_case).
            let engine_error = match mentions(body, &ENGINE_SPAN_KEY) {
                true => match engine::decode_span(body, service) {
                    Ok(s) => return Ok(Decoded::Span(Box::new(Scoped::new(s, None)))),
                    Err(e) => Some(e),
                },
                false => None,
            };
            let mut s: SpanRecord = match (serde_json::from_slice(body), engine_error) {
                (Ok(s), _) => s,
                (Err(_), Some(e)) => return Err(err(format!("not a valid engine span: {e}"))),
                (Err(e), None) => return Err(bad(e)),
            };
            if s.name.trim().is_empty() {
                return Err(err("span name is empty"));
            }
            if s.service.is_empty() {
                s.service = service.into();
            }
            Ok(Decoded::Span(Box::new(with_scope(s, body))))
        }
        Signal::Logs if is_engine_log(body) => {
            let l = engine::decode_log(body, service).map_err(|e| err(format!("not a valid engine log: {e}")))?;
            Ok(Decoded::Log(Box::new(Scoped::new(l, None))))
        }
        Signal::Logs => {
            let mut l: LogRecord = serde_json::from_slice(body).map_err(bad)?;
            if l.service.is_empty() {
                l.service = service.into();
            }
            Ok(Decoded::Log(Box::new(with_scope(l, body))))
        }
        Signal::Metrics if is_engine_metric(body) => {
            let m = engine::decode_metric(body, service).map_err(|e| err(format!("not a valid engine metric: {e}")))?;
            Ok(Decoded::EngineMetric(Box::new(m)))
        }
        Signal::Metrics => {
            let mut m: MetricPoint = serde_json::from_slice(body).map_err(bad)?;
            // A point the OTLP data model cannot carry as it says (a negative counter
            // increment would make a monotonic sum go down) is refused with the reason.
            m.validate().map_err(|e| err(format!("metric point cannot be exported: {e}")))?;
            if m.service.is_empty() {
                m.service = service.into();
            }
            Ok(Decoded::Metric(Box::new(with_scope(m, body))))
        }
    }
}

/// `record` with the scope its body names. The body is read a second time only when it
/// mentions a scope at all, which keeps the common record at one parse.
fn with_scope<T>(record: T, body: &[u8]) -> Scoped<T> {
    static SCOPE_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"scope\""));
    let mentions_scope = SCOPE_KEY.find(body).is_some();
    Scoped::new(record, if mentions_scope { read_scope(body) } else { None })
}

fn looks_like_otlp(body: &[u8]) -> bool {
    const KEYS: [&[u8]; 3] = [b"\"resourceSpans\"", b"\"resourceLogs\"", b"\"resourceMetrics\""];
    KEYS.iter().any(|k| body.windows(k.len()).any(|w| w == *k))
}

/// The three OTLP-JSON top-level shapes in one reader (`TracesData`, `LogsData`,
/// `MetricsData`, which are also the export requests' shapes).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtlpBody {
    resource_spans: Option<Vec<ResourceSpans>>,
    resource_logs: Option<Vec<ResourceLogs>>,
    resource_metrics: Option<Vec<ResourceMetrics>>,
}

fn decode_otlp(body: &[u8]) -> Result<Decoded, DecodeError> {
    let b: OtlpBody = serde_json::from_slice(body).map_err(|e| err(format!("not a valid OTLP-JSON body: {e}")))?;
    let decoded = match (b.resource_spans, b.resource_logs, b.resource_metrics) {
        (Some(s), None, None) => Decoded::Traces(s),
        (None, Some(l), None) => Decoded::Logs(l),
        (None, None, Some(m)) => Decoded::Metrics(m),
        _ => {
            return Err(err("an OTLP-JSON body must hold exactly one of resourceSpans, resourceLogs, resourceMetrics"))
        }
    };
    validate_otlp(&decoded)?;
    Ok(decoded)
}

fn id_ok(id: &[u8], len: usize, optional: bool) -> bool {
    (optional && id.is_empty()) || (id.len() == len && id.iter().any(|b| *b != 0))
}

/// What a receiver would reject for the whole request, caught per message instead.
fn validate_otlp(d: &Decoded) -> Result<(), DecodeError> {
    match d {
        Decoded::Traces(rs) => {
            for s in rs.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                if !id_ok(&s.trace_id, 16, false) || !id_ok(&s.span_id, 8, false) || !id_ok(&s.parent_span_id, 8, true)
                {
                    return Err(err(format!("OTLP span {:?} has an invalid trace, span or parent id", s.name)));
                }
                if s.name.trim().is_empty() {
                    return Err(err("OTLP span name is empty"));
                }
                for l in &s.links {
                    if !id_ok(&l.trace_id, 16, false) || !id_ok(&l.span_id, 8, false) {
                        return Err(err(format!("OTLP span {:?} has a link with an invalid id", s.name)));
                    }
                }
            }
        }
        Decoded::Logs(rl) => {
            for l in rl.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records) {
                if !id_ok(&l.trace_id, 16, true) || !id_ok(&l.span_id, 8, true) {
                    return Err(err("OTLP log record has an invalid trace or span id"));
                }
            }
        }
        Decoded::Metrics(rm) => {
            for m in rm.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
                if m.name.trim().is_empty() {
                    return Err(err("OTLP metric name is empty"));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The service named by an OTLP resource's `service.name`, when it names one.
pub fn resource_service(resource: Option<&dagnats_observe::otlp::proto::resource::v1::Resource>) -> Option<&str> {
    resource?.attributes.iter().find(|kv| kv.key == "service.name").and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) => Some(s.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagnats_observe::otlp::proto::common::v1::any_value::Value as Any;
    use dagnats_observe::record::Level;

    const MAX: usize = 1 << 20;
    const SPANS: &str = "telemetry.spans.svc.no-run";
    const LOGS: &str = "telemetry.logs.svc.info";
    const METRICS: &str = "telemetry.metrics.svc.tasks.completed";
    const OTHER: &str = "other.subject";
    const GO_SPAN: &str = include_str!("../../testdata/records/go-span.json");
    const GO_LOG: &str = include_str!("../../testdata/records/go-log.json");
    const GO_METRIC: &str = include_str!("../../testdata/records/go-metric.json");

    const OTLP_TRACES: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"node-worker"}}]},
      "scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
      "parentSpanId":"eee19b7ec3c1b173","name":"otlp span","kind":2,"startTimeUnixNano":"1544712660000000000",
      "endTimeUnixNano":"1544712661000000000","attributes":[{"key":"n","value":{"intValue":"42"}}],
      "status":{"code":2,"message":"boom"}}]}]}]}"#;

    #[test]
    fn go_records_decode_by_subject() {
        assert!(matches!(decode(SPANS, GO_SPAN.as_bytes(), MAX), Ok(Decoded::Span(_))));
        assert!(matches!(decode(LOGS, GO_LOG.as_bytes(), MAX), Ok(Decoded::Log(_))));
        assert!(matches!(decode(METRICS, GO_METRIC.as_bytes(), MAX), Ok(Decoded::Metric(_))));
    }

    const ENGINE_SPAN: &str = include_str!("../../testdata/records/engine-span.json");
    const ENGINE_LOG: &str = include_str!("../../testdata/records/engine-log.json");
    const ENGINE_LOG_NO_SPAN: &str = include_str!("../../testdata/records/engine-log-no-span.json");

    #[test]
    fn engine_spans_and_logs_decode_with_the_subjects_service() {
        let subject = "telemetry.spans.dagnats.7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b";
        let Ok(Decoded::Span(s)) = decode(subject, ENGINE_SPAN.as_bytes(), MAX) else { panic!() };
        assert_eq!((&*s.record.service, s.record.name.as_ref()), ("dagnats", "executeTask build"));
        assert_eq!(s.record.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");

        let Ok(Decoded::Log(l)) = decode("telemetry.logs.dagnats.error", ENGINE_LOG.as_bytes(), MAX) else { panic!() };
        let l = &l.record;
        assert_eq!((l.message.as_str(), l.level, &*l.service), ("task handler failed", Level::Error, "dagnats"));
        assert_eq!(l.span_id.map(|s| s.to_string()).as_deref(), Some("00f067aa0ba902b7"));
        let Ok(Decoded::Log(l)) = decode("telemetry.logs.from-subject.info", ENGINE_LOG_NO_SPAN.as_bytes(), MAX) else {
            panic!()
        };
        assert_eq!((l.record.message.as_str(), l.record.trace_id), ("run started", None));
        assert_eq!(&*l.record.service, "dagnats", "the body's serviceName wins over the subject");
    }

    #[test]
    fn engine_metrics_decode_whole_with_every_point() {
        for (file, points) in [
            (include_str!("../../testdata/records/engine-metric-sum.json"), 1),
            (include_str!("../../testdata/records/engine-metric-gauge.json"), 2),
            (include_str!("../../testdata/records/engine-metric-histogram.json"), 2),
        ] {
            let Ok(Decoded::EngineMetric(m)) = decode(METRICS, file.as_bytes(), MAX) else { panic!("{file}") };
            assert_eq!(Decoded::EngineMetric(m).record_count(), points, "{file}");
        }
        let e = decode(METRICS, br#"{"name":"m","data":{"DataPoints":"no"}}"#, MAX).unwrap_err();
        assert!(e.0.contains("not a valid engine metric"), "{e}");
        // A record-format point is still a record.
        assert!(matches!(decode(METRICS, GO_METRIC.as_bytes(), MAX), Ok(Decoded::Metric(_))));
    }

    #[test]
    fn a_record_without_a_service_takes_the_subjects_not_the_fallback() {
        let body = GO_SPAN.replace(r#""service":"py-worker","#, "");
        assert!(!body.contains("\"service\""));
        let Ok(Decoded::Span(s)) = decode("telemetry.spans.node-worker.r-42", body.as_bytes(), MAX) else { panic!() };
        assert_eq!(&*s.record.service, "node-worker");
        let Ok(Decoded::Span(s)) = decode("telemetry.spans.node-worker.r-42", GO_SPAN.as_bytes(), MAX) else {
            panic!()
        };
        assert_eq!(&*s.record.service, "py-worker", "the body's own service wins");
    }

    #[test]
    fn broken_engine_bodies_are_refused_with_the_engine_reason() {
        let bad_id = ENGINE_SPAN.replace("APBnqgupArc=", "APBn");
        let e = decode(SPANS, bad_id.as_bytes(), MAX).unwrap_err();
        assert!(e.0.contains("not a valid engine span") && e.0.contains("spanId"), "{e}");
        let bad_log = ENGINE_LOG.replace(r#""timestamp":"2026-08-07T12:00:00Z","#, "");
        let e = decode(LOGS, bad_log.as_bytes(), MAX).unwrap_err();
        assert!(e.0.contains("not a valid engine log") && e.0.contains("timestamp"), "{e}");
    }

    #[test]
    fn a_records_scope_is_kept_and_an_unexportable_metric_point_is_refused() {
        let Ok(Decoded::Span(plain)) = decode(SPANS, GO_SPAN.as_bytes(), MAX) else { panic!() };
        assert_eq!(plain.scope, None);
        let scoped =
            GO_SPAN.trim_end().trim_end_matches('}').to_owned() + r#","scope":{"name":"billing","version":"1.2"}}"#;
        let Ok(Decoded::Span(s)) = decode(SPANS, scoped.as_bytes(), MAX) else { panic!("{scoped}") };
        assert_eq!(s.scope.as_ref().map(|s| (s.name.as_str(), s.version.as_str())), Some(("billing", "1.2")));

        let negative =
            r#"{"name":"jobs","type":"counter","value":-1,"service":"w","timestamp":"2026-11-24T10:30:00Z"}"#;
        let e = decode(METRICS, negative.as_bytes(), MAX).unwrap_err();
        assert!(e.0.contains("cannot be exported"), "{e}");
    }

    #[test]
    fn otlp_json_decodes_with_hex_ids_and_string_integers() {
        let Ok(Decoded::Traces(rs)) = decode(SPANS, OTLP_TRACES.as_bytes(), MAX) else { panic!() };
        let s = &rs[0].scope_spans[0].spans[0];
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(s.start_time_unix_nano, 1544712660000000000);
        assert_eq!(s.attributes[0].value.as_ref().unwrap().value, Some(Any::IntValue(42)));
        assert_eq!(resource_service(rs[0].resource.as_ref()), Some("node-worker"));
        // Its own signal decides, whatever the subject.
        assert_eq!(decode(OTHER, OTLP_TRACES.as_bytes(), MAX).unwrap().signal(), Signal::Spans);
        assert_eq!(decode(LOGS, OTLP_TRACES.as_bytes(), MAX).unwrap().record_count(), 1);
    }

    #[test]
    fn otlp_logs_and_metrics_decode() {
        let logs = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","severityNumber":9,
          "body":{"stringValue":"hi"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
        assert!(matches!(decode(LOGS, logs.as_bytes(), MAX), Ok(Decoded::Logs(_))));
        let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":
          [{"asInt":"7","timeUnixNano":"2"}],"aggregationTemporality":1,"isMonotonic":true}}]}]}]}"#;
        let decoded = decode(METRICS, metrics.as_bytes(), MAX).unwrap();
        assert!(matches!(decoded, Decoded::Metrics(_)));
        assert_eq!(decoded.record_count(), 1);
    }

    #[test]
    fn poison_is_refused_with_a_reason() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (SPANS, b"".to_vec(), "empty"),
            (SPANS, b"not json at all".to_vec(), "not a JSON object"),
            (SPANS, b"[1,2]".to_vec(), "not a JSON object"),
            (SPANS, b"{\"trace_id\":".to_vec(), "not a valid spans record"),
            (SPANS, GO_SPAN.replace("\"worker.executeTask\"", "\"\"").into_bytes(), "span name is empty"),
            (SPANS, GO_SPAN.replace("4bf92f3577b34da6a3ce929d0e0e4736", "zz").into_bytes(), "invalid"),
            (SPANS, GO_SPAN.replace("00f067aa0ba902b7", "0000000000000000").into_bytes(), "all-zero"),
            (SPANS, GO_SPAN.replace("\"duration_ms\":1234", "\"duration_ms\":\"long\"").into_bytes(), "not a valid"),
            (SPANS, GO_SPAN.replace("\"attempt\":2", "\"attempt\":[2]").into_bytes(), "not a valid"),
            (METRICS, GO_METRIC.replace("\"value\":1", "\"value\":\"one\"").into_bytes(), "not a valid"),
            (METRICS, GO_METRIC.replace("dagnats.tasks.completed", "").into_bytes(), "metric name is empty"),
            (LOGS, GO_LOG.replace("00f067aa0ba902b7", "xyz").into_bytes(), "invalid"),
            (OTHER, GO_SPAN.as_bytes().to_vec(), "not on a spans"),
            (SPANS, OTLP_TRACES.replace("eee19b7ec3c1b174", "00").into_bytes(), "invalid trace, span or parent id"),
            (SPANS, OTLP_TRACES.replace("eee19b7ec3c1b174", "nothex").into_bytes(), "OTLP-JSON"),
            (SPANS, OTLP_TRACES.replace("\"otlp span\"", "\"\"").into_bytes(), "name is empty"),
            (SPANS, br#"{"resourceSpans":[],"resourceLogs":[]}"#.to_vec(), "exactly one"),
            (SPANS, vec![b' '; MAX + 1], "exceeds the limit"),
        ];
        for (subject, body, expected) in cases {
            let e = decode(subject, &body, MAX).unwrap_err();
            assert!(
                e.0.contains(expected),
                "{:?} -> {e} (expected {expected:?})",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        let seeds = [GO_SPAN, GO_LOG, GO_METRIC, OTLP_TRACES, ENGINE_SPAN, ENGINE_LOG];
        for i in 0..3000 {
            let mut body = seeds[i % seeds.len()].as_bytes().to_vec();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(..body.len());
                match rng.u8(..3) {
                    0 => body[at] = rng.u8(..),
                    1 => {
                        body.remove(at);
                    }
                    _ => body.truncate(at),
                }
                if body.is_empty() {
                    break;
                }
            }
            for subject in [SPANS, LOGS, METRICS, OTHER] {
                let _ = decode(subject, &body, MAX);
            }
        }
    }
}
