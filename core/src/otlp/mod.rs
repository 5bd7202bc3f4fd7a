//! TELEMETRY records as OTLP protobuf messages (behind the `otlp` feature).
//!
//! A [`Converter`] turns a batch of [`SpanRecord`]s, [`LogRecord`]s or [`MetricPoint`]s
//! into the request message of the matching OTLP/HTTP endpoint, as the wire contract
//! says the bridge must:
//!
//! - one OTLP `Resource` per record `service` (`service.name` = that service; the
//!   configured fallback only when a record names none), and within it one
//!   instrumentation scope per scope the records name (the extension field `scope`, read
//!   with [`Scoped`]), the converting program and its version for records naming none;
//! - ids from hex to bytes; kinds, statuses and severities mapped as the contract says;
//!   integer attributes stay integers; events, links and trace state are kept; the error
//!   text becomes the status message unless a `status_message` was set; a remote parent
//!   sets the OTLP span flags that say so;
//! - counter increments become monotonic delta sums, gauges stay gauges, and histogram
//!   observations become real histograms; points of one series (same service, name and
//!   tags) in one batch are aggregated into one data point, whose time window follows the
//!   previous window of that series, across batches and threads (see [`metrics`]).
//!
//! Records are taken by value so that their strings move into the protobuf messages
//! without being copied.
//!
//! ```
//! use dagnats_observe::otlp::Converter;
//! use dagnats_observe::record::SpanRecord;
//!
//! let span: SpanRecord = serde_json::from_str(r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",
//!   "span_id":"00f067aa0ba902b7","name":"work","service":"py-worker","kind":"server",
//!   "start_time":"2026-11-24T10:30:00Z","end_time":"2026-11-24T10:30:01Z","duration_ms":1000,
//!   "status":"ok","attributes":{"attempt":2}}"#).unwrap();
//! let request = Converter::new("dagnats", "dagnats-bridge", "0.1.0").traces([span]);
//! let rs = &request.resource_spans[0];
//! let otlp_span = &rs.scope_spans[0].spans[0];
//! assert_eq!(otlp_span.kind, 2); // SPAN_KIND_SERVER
//! assert_eq!(otlp_span.span_id, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
//! ```

pub mod engine_metrics;
pub mod logs;
pub mod metrics;
pub mod traces;

use std::sync::Arc;

pub use opentelemetry_proto::tonic as proto;
use proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use proto::resource::v1::Resource;

use crate::attribute::{Attribute, Attributes, Value};
use crate::record::{LogRecord, MetricPoint, Scope, Scoped, SpanRecord};

pub use logs::severity_number;
pub use metrics::{DEFAULT_HISTOGRAM_BOUNDS, DEFAULT_MAX_SERIES, DEFAULT_SERIES_IDLE};
pub use traces::{span_kind, status_code};

/// The resource attribute that names the producing service.
pub const SERVICE_NAME: &str = "service.name";

/// Converts records into OTLP export requests. Cheap to clone; holds the fallback
/// service name, the instrumentation scope and the extra resource attributes, and the
/// metric series' time windows, which every clone shares (use one converter, or clones
/// of one, for all the batches of a stream; `&self` methods may run on many threads).
#[derive(Clone, Debug)]
pub struct Converter {
    fallback_service: Arc<str>,
    scope: InstrumentationScope,
    /// Added to every resource after `service.name` (never holds `service.name`).
    extra_resource: Arc<[KeyValue]>,
    /// Where each delta series' last window ended: shared by every clone, so that the
    /// bridge's workers converting at once give each series consecutive windows.
    windows: Arc<metrics::SeriesWindows>,
}

impl Converter {
    /// A converter that names `fallback_service` on records without a service, and stamps
    /// the scope `scope_name`/`scope_version` (the converting program) on records that name no scope of their own.
    pub fn new(fallback_service: &str, scope_name: &str, scope_version: &str) -> Self {
        Converter {
            fallback_service: Arc::from(fallback_service),
            scope: InstrumentationScope {
                name: scope_name.to_owned(),
                version: scope_version.to_owned(),
                ..Default::default()
            },
            extra_resource: Arc::from([]),
            windows: Arc::default(),
        }
    }

    /// This converter, remembering the last delta window of at most `max_series` metric
    /// series (at least 1), and forgetting first those not converted for `idle` when room
    /// is needed (see [`metrics`] for what forgetting means). The defaults are
    /// [`DEFAULT_MAX_SERIES`] and [`metrics::DEFAULT_SERIES_IDLE`]. The memory starts
    /// empty and is shared by the clones made from the result.
    pub fn with_series_limits(mut self, max_series: usize, idle: std::time::Duration) -> Self {
        self.windows = Arc::new(metrics::SeriesWindows::new(max_series, idle));
        self
    }

    /// How many metric series' windows this converter (and its clones) remembers now.
    pub fn tracked_series(&self) -> usize {
        self.windows.len()
    }

    /// This converter, adding `attributes` to every resource it builds (for instance
    /// those of [`crate::resource::resource_attributes_from_env`]), after `service.name`
    /// and in the order given (a repeated key keeps its last value).
    ///
    /// The record's own service always names the resource: a `service.name` among
    /// `attributes` is not added to resources of records that name a service, and
    /// replaces the fallback service for records that name none (it is more specific
    /// than the built-in default). Entries with an empty key are ignored.
    pub fn with_resource_attributes(mut self, attributes: Vec<(String, String)>) -> Self {
        let mut extra: Vec<KeyValue> = Vec::with_capacity(attributes.len());
        for (key, value) in attributes {
            if key.is_empty() {
                continue;
            }
            if key == SERVICE_NAME {
                if !value.is_empty() {
                    self.fallback_service = Arc::from(value);
                }
                continue;
            }
            match extra.iter_mut().find(|kv| kv.key == key) {
                Some(kv) => *kv = string_key_value(&key, value),
                None => extra.push(string_key_value(&key, value)),
            }
        }
        self.extra_resource = Arc::from(extra);
        self
    }

    /// The extra resource attributes added to every resource (without `service.name`).
    pub fn resource_attributes(&self) -> &[KeyValue] {
        &self.extra_resource
    }

    /// The service name used for records that name none.
    pub fn fallback_service(&self) -> &str {
        &self.fallback_service
    }

    /// The instrumentation scope stamped on converted records that name none.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// Spans as one traces request, one resource per service and within it one scope
    /// per instrumentation scope the records name (records naming none get the
    /// converter's). Takes [`SpanRecord`]s or [`Scoped`] ones.
    pub fn traces<S: Into<Scoped<SpanRecord>>>(
        &self,
        spans: impl IntoIterator<Item = S>,
    ) -> proto::collector::trace::v1::ExportTraceServiceRequest {
        traces::convert(self, spans.into_iter().map(Into::into))
    }

    /// Log records as one logs request, grouped as [`traces`](Self::traces) groups
    /// spans. Takes [`LogRecord`]s or [`Scoped`] ones.
    pub fn logs<L: Into<Scoped<LogRecord>>>(
        &self,
        logs: impl IntoIterator<Item = L>,
    ) -> proto::collector::logs::v1::ExportLogsServiceRequest {
        logs::convert(self, logs.into_iter().map(Into::into))
    }

    /// Metric points as one metrics request, grouped as [`traces`](Self::traces) groups
    /// spans, with the points of each counter and histogram series aggregated (a series
    /// is also told apart by its scope). Takes [`MetricPoint`]s or [`Scoped`] ones.
    pub fn metrics<M: Into<Scoped<MetricPoint>>>(
        &self,
        points: impl IntoIterator<Item = M>,
    ) -> proto::collector::metrics::v1::ExportMetricsServiceRequest {
        metrics::convert(self, points.into_iter().map(Into::into))
    }

    /// The service a record belongs to: its own, or the fallback when it names none.
    pub(crate) fn service_of(&self, service: &Arc<str>) -> Arc<str> {
        if service.is_empty() {
            Arc::clone(&self.fallback_service)
        } else {
            Arc::clone(service)
        }
    }

    /// A resource naming `service`, with the extra resource attributes after it.
    pub fn resource(&self, service: &str) -> Resource {
        let mut attributes = Vec::with_capacity(1 + self.extra_resource.len());
        attributes.push(string_key_value(SERVICE_NAME, service.to_owned()));
        attributes.extend(self.extra_resource.iter().cloned());
        Resource { attributes, ..Default::default() }
    }

    /// Makes sure `resource` names a service, adding the fallback `service.name` when it
    /// has none (used for OTLP-JSON bodies, which carry their own resources). The extra
    /// resource attributes are added only where the body's resource lacks that key: what
    /// its producer said about itself wins.
    pub fn ensure_service_name(&self, resource: &mut Option<Resource>) {
        let resource = resource.get_or_insert_with(Resource::default);
        let named = resource.attributes.iter().any(|kv| {
            kv.key == SERVICE_NAME
                && matches!(&kv.value, Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) if !s.is_empty())
        });
        if !named {
            resource.attributes.retain(|kv| kv.key != SERVICE_NAME);
            resource.attributes.push(string_key_value(SERVICE_NAME, self.fallback_service.to_string()));
        }
        for extra in self.extra_resource.iter() {
            if !resource.attributes.iter().any(|kv| kv.key == extra.key) {
                resource.attributes.push(extra.clone());
            }
        }
    }
}

/// Groups items under one entry per service, and within it one per instrumentation
/// scope, in first-seen order. A batch rarely holds more than a handful of services and
/// scopes, so a linear scan beats hashing here.
pub(crate) struct ByService<T> {
    groups: Vec<(Arc<str>, ScopeGroups<T>)>,
}

/// The items of one service, one entry per scope (`None`: the converter's own).
pub(crate) type ScopeGroups<T> = Vec<(Option<Scope>, T)>;

impl<T> ByService<T> {
    pub(crate) fn new() -> Self {
        ByService { groups: Vec::new() }
    }

    /// The entry for `service` and `scope`, created with `make` when it is new.
    pub(crate) fn entry(&mut self, service: Arc<str>, scope: Option<Scope>, make: impl FnOnce() -> T) -> &mut T {
        let found = self.groups.iter().position(|(s, _)| Arc::ptr_eq(s, &service) || **s == *service);
        let scopes = match found {
            Some(i) => &mut self.groups[i].1,
            None => {
                self.groups.push((service, Vec::new()));
                &mut self.groups.last_mut().expect("just pushed").1
            }
        };
        let index = match scopes.iter().position(|(s, _)| *s == scope) {
            Some(i) => i,
            None => {
                scopes.push((scope, make()));
                scopes.len() - 1
            }
        };
        &mut scopes[index].1
    }

    pub(crate) fn into_groups(self) -> impl Iterator<Item = (Arc<str>, ScopeGroups<T>)> {
        self.groups.into_iter()
    }
}

impl Converter {
    /// The OTLP scope of records naming `scope`: theirs, or the converter's own.
    pub(crate) fn otlp_scope(&self, scope: Option<Scope>) -> InstrumentationScope {
        match scope {
            Some(s) => InstrumentationScope { name: s.name, version: s.version, ..Default::default() },
            None => self.scope.clone(),
        }
    }
}

/// One attribute value as an OTLP `AnyValue`; integers stay integers.
pub fn any_value(value: Value) -> AnyValue {
    let v = match value {
        Value::String(s) => any_value::Value::StringValue(s.into_owned()),
        Value::Int(i) => any_value::Value::IntValue(i),
        Value::Float(f) => any_value::Value::DoubleValue(f),
        Value::Bool(b) => any_value::Value::BoolValue(b),
    };
    AnyValue { value: Some(v) }
}

/// One attribute as an OTLP `KeyValue`.
pub fn key_value(attribute: Attribute) -> KeyValue {
    KeyValue { key: attribute.key.into_owned(), value: Some(any_value(attribute.value)), ..Default::default() }
}

/// Attributes as OTLP `KeyValue`s, in order.
pub fn key_values(attributes: Attributes) -> Vec<KeyValue> {
    attributes.into_iter().map(key_value).collect()
}

pub(crate) fn string_key_value(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value)) }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_kind() {
        let kvs = key_values(
            [
                Attribute::int("attempt", 2),
                Attribute::float("ratio", 0.5),
                Attribute::bool("cached", false),
                Attribute::string("s", "x"),
            ]
            .into_iter()
            .collect(),
        );
        let kinds: Vec<_> = kvs.iter().map(|kv| kv.value.as_ref().unwrap().value.clone().unwrap()).collect();
        assert_eq!(
            kinds,
            vec![
                any_value::Value::IntValue(2),
                any_value::Value::DoubleValue(0.5),
                any_value::Value::BoolValue(false),
                any_value::Value::StringValue("x".into())
            ]
        );
    }

    #[test]
    fn a_resource_without_a_service_gets_the_fallback() {
        let c = Converter::new("dagnats", "t", "1");
        let mut none = None;
        c.ensure_service_name(&mut none);
        assert_eq!(none.unwrap().attributes, vec![string_key_value(SERVICE_NAME, "dagnats".into())]);

        let mut empty =
            Some(Resource { attributes: vec![string_key_value(SERVICE_NAME, String::new())], ..Default::default() });
        c.ensure_service_name(&mut empty);
        assert_eq!(empty.unwrap().attributes, vec![string_key_value(SERVICE_NAME, "dagnats".into())]);

        let mut named = Some(c.resource("engine"));
        c.ensure_service_name(&mut named);
        assert_eq!(named.unwrap().attributes, vec![string_key_value(SERVICE_NAME, "engine".into())]);
    }

    #[test]
    fn extra_resource_attributes_go_on_every_resource_and_the_record_service_wins() {
        let c = Converter::new("dagnats", "t", "1").with_resource_attributes(vec![
            ("deployment.environment".into(), "prod".into()),
            ("service.name".into(), "from-env".into()),
            ("team".into(), "a".into()),
            ("team".into(), "b".into()),
            ("".into(), "ignored".into()),
        ]);
        let expected = |service: &str| {
            vec![
                string_key_value(SERVICE_NAME, service.into()),
                string_key_value("deployment.environment", "prod".into()),
                string_key_value("team", "b".into()),
            ]
        };
        assert_eq!(c.resource("engine").attributes, expected("engine"));
        assert_eq!(c.fallback_service(), "from-env", "an extra service.name replaces the fallback");

        let span: SpanRecord = serde_json::from_str(include_str!("../../../testdata/records/go-span.json")).unwrap();
        let mut nameless = span.clone();
        nameless.service = "".into();
        let req = c.traces([span, nameless]);
        let resources: Vec<_> = req.resource_spans.iter().map(|rs| rs.resource.clone().unwrap().attributes).collect();
        assert_eq!(resources, vec![expected("py-worker"), expected("from-env")]);

        let log: LogRecord = serde_json::from_str(include_str!("../../../testdata/records/go-log.json")).unwrap();
        assert_eq!(c.logs([log]).resource_logs[0].resource.as_ref().unwrap().attributes, expected("engine"));
        let point: MetricPoint =
            serde_json::from_str(include_str!("../../../testdata/records/go-metric.json")).unwrap();
        assert_eq!(c.metrics([point]).resource_metrics[0].resource.as_ref().unwrap().attributes, expected("engine"));
    }

    #[test]
    fn extra_attributes_fill_only_what_an_otlp_body_lacks() {
        let c = Converter::new("dagnats", "t", "1")
            .with_resource_attributes(vec![("team".into(), "ops".into()), ("region".into(), "eu".into())]);
        let mut body = Some(Resource {
            attributes: vec![string_key_value(SERVICE_NAME, "own".into()), string_key_value("team", "theirs".into())],
            ..Default::default()
        });
        c.ensure_service_name(&mut body);
        assert_eq!(
            body.unwrap().attributes,
            vec![
                string_key_value(SERVICE_NAME, "own".into()),
                string_key_value("team", "theirs".into()),
                string_key_value("region", "eu".into())
            ]
        );
    }

    #[test]
    fn without_extra_attributes_a_resource_is_only_its_service() {
        let c = Converter::new("dagnats", "t", "1");
        assert_eq!(c.resource("x").attributes, vec![string_key_value(SERVICE_NAME, "x".into())]);
        assert!(c.resource_attributes().is_empty());
    }

    fn scope_names<'a>(scopes: impl Iterator<Item = &'a Option<InstrumentationScope>>) -> Vec<(String, String)> {
        scopes.map(|s| s.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default()).collect()
    }

    #[test]
    fn records_naming_a_scope_are_exported_under_it_grouped_by_service_and_scope() {
        let c = Converter::new("dagnats", "dagnats-bridge", "9");
        let span: SpanRecord = serde_json::from_str(include_str!("../../../testdata/records/go-span.json")).unwrap();
        let lib = Some(Scope::new("my.lib", "2.0"));
        let req = c.traces([
            Scoped::new(span.clone(), lib.clone()),
            Scoped::from(span.clone()),
            Scoped::new(span.clone(), lib.clone()),
            Scoped::new(span.clone(), Some(Scope::new("my.lib", "3.0"))),
        ]);
        assert_eq!(req.resource_spans.len(), 1, "one service, one resource");
        let scopes = &req.resource_spans[0].scope_spans;
        assert_eq!(
            scope_names(scopes.iter().map(|s| &s.scope)),
            vec![
                ("my.lib".into(), "2.0".into()),
                ("dagnats-bridge".into(), "9".into()),
                ("my.lib".into(), "3.0".into())
            ]
        );
        assert_eq!(scopes.iter().map(|s| s.spans.len()).collect::<Vec<_>>(), vec![2, 1, 1]);

        let log: LogRecord = serde_json::from_str(include_str!("../../../testdata/records/go-log.json")).unwrap();
        let req = c.logs([Scoped::new(log.clone(), lib.clone()), Scoped::from(log)]);
        let scopes = &req.resource_logs[0].scope_logs;
        assert_eq!(
            scope_names(scopes.iter().map(|s| &s.scope)),
            vec![("my.lib".into(), "2.0".into()), ("dagnats-bridge".into(), "9".into())]
        );
    }

    #[test]
    fn a_metric_series_is_told_apart_by_its_scope() {
        let c = Converter::new("dagnats", "dagnats-bridge", "9");
        let point = |t: u64| -> MetricPoint {
            serde_json::from_str(&format!(
                r#"{{"name":"jobs","type":"counter","value":1,"service":"w","timestamp":"{}"}}"#,
                crate::record::Timestamp(t)
            ))
            .unwrap()
        };
        let lib = Some(Scope::new("my.lib", ""));
        c.metrics([Scoped::new(point(10), lib.clone()), Scoped::from(point(20))]);
        assert_eq!(c.tracked_series(), 2);
        let req = c.metrics([Scoped::new(point(100), lib.clone()), Scoped::from(point(100))]);
        let windows: Vec<_> = req.resource_metrics[0]
            .scope_metrics
            .iter()
            .map(|sm| {
                let Some(proto::metrics::v1::metric::Data::Sum(sum)) = &sm.metrics[0].data else { panic!() };
                (sm.scope.as_ref().unwrap().name.clone(), sum.data_points[0].start_time_unix_nano)
            })
            .collect();
        assert_eq!(windows, vec![("my.lib".into(), 11), ("dagnats-bridge".into(), 21)]);
    }
}
