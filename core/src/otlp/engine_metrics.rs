//! The engine's metrics ([`EngineMetric`], read with [`crate::engine::decode_metric`]) as
//! OTLP: the Go SDK's aggregation maps onto OTLP one to one, so nothing is aggregated
//! again here.
//!
//! - a cumulative sum or histogram stays cumulative, with its start time; a delta one
//!   stays delta; a sum keeps its monotonic flag;
//! - histogram points keep their bounds, bucket counts, count, sum, min and max;
//! - exemplars keep their time, value, filtered attributes and trace and span ids;
//! - attributes keep their types (`INT64` an int, `FLOAT64` a double, `BOOL` a bool);
//! - the resource is the metric's service (its `serviceName`, else the subject's token;
//!   the converter's fallback when both are empty), the scope the converter's.
//!
//! ```
//! use dagnats_observe::engine::decode_metric;
//! use dagnats_observe::otlp::Converter;
//! use dagnats_observe::otlp::proto::metrics::v1::metric::Data;
//!
//! let body = br#"{"name":"workflow.runs.completed","serviceName":"dagnats",
//!  "data":{"DataPoints":[{"Attributes":[{"Key":"workflow","Value":{"Type":"STRING","Value":"demo"}}],
//!    "StartTime":"2026-08-07T11:58:00.000000001Z","Time":"2026-08-07T12:00:10.000000002Z","Value":14}],
//!    "Temporality":"CumulativeTemporality","IsMonotonic":true},
//!  "timestamp":"2026-08-07T12:00:10.004Z"}"#;
//! let metric = decode_metric(body, "dagnats").unwrap();
//! let rm = Converter::new("dagnats", "dagnats-bridge", "0.1.0").engine_metric(metric);
//! let Some(Data::Sum(sum)) = &rm.scope_metrics[0].metrics[0].data else { panic!() };
//! assert!(sum.is_monotonic);
//! assert_eq!(sum.aggregation_temporality, 2); // cumulative
//! ```

use std::sync::Arc;

use super::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar as OtlpExemplar, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use super::{key_values, ByService, Converter};
use crate::engine::{EngineMetric, Exemplar, HistogramPoint, MetricData, NumberPoint, Temporality};

impl Converter {
    /// One engine metric message as the OTLP resource of its service, with the
    /// converter's scope and every data point.
    pub fn engine_metric(&self, m: EngineMetric) -> ResourceMetrics {
        let service = self.service_of(&m.service);
        ResourceMetrics {
            resource: Some(self.resource(&service)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(self.scope().clone()),
                metrics: vec![metric_of(m)],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    /// Engine metric messages as one metrics request: one resource per service, the
    /// metrics in the order given.
    pub fn engine_metrics(&self, metrics: impl IntoIterator<Item = EngineMetric>) -> ExportMetricsServiceRequest {
        let mut groups: ByService<Vec<Metric>> = ByService::new();
        for m in metrics {
            let service: Arc<str> = self.service_of(&m.service);
            groups.entry(service, None, Vec::new).push(metric_of(m));
        }
        ExportMetricsServiceRequest {
            resource_metrics: groups
                .into_groups()
                .map(|(service, scopes)| ResourceMetrics {
                    resource: Some(self.resource(&service)),
                    scope_metrics: scopes
                        .into_iter()
                        .map(|(scope, metrics)| ScopeMetrics {
                            scope: Some(self.otlp_scope(scope)),
                            metrics,
                            schema_url: String::new(),
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
        }
    }
}

fn temporality(t: Temporality) -> i32 {
    match t {
        Temporality::Cumulative => AggregationTemporality::Cumulative as i32,
        Temporality::Delta => AggregationTemporality::Delta as i32,
    }
}

fn metric_of(m: EngineMetric) -> Metric {
    let data = match m.data {
        MetricData::Sum { points, temporality: t, monotonic } => metric::Data::Sum(Sum {
            data_points: points.into_iter().map(number_point).collect(),
            aggregation_temporality: temporality(t),
            is_monotonic: monotonic,
        }),
        MetricData::Gauge { points } => {
            metric::Data::Gauge(Gauge { data_points: points.into_iter().map(number_point).collect() })
        }
        MetricData::Histogram { points, temporality: t } => metric::Data::Histogram(Histogram {
            data_points: points.into_iter().map(histogram_point).collect(),
            aggregation_temporality: temporality(t),
        }),
    };
    Metric { name: m.name, description: m.description, unit: m.unit, data: Some(data), ..Default::default() }
}

fn number_point(p: NumberPoint) -> NumberDataPoint {
    NumberDataPoint {
        attributes: key_values(p.attributes),
        start_time_unix_nano: p.start_time.unix_nanos(),
        time_unix_nano: p.time.unix_nanos(),
        exemplars: p.exemplars.into_iter().map(exemplar_of).collect(),
        value: Some(number_data_point::Value::AsDouble(p.value)),
        ..Default::default()
    }
}

fn histogram_point(p: HistogramPoint) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: key_values(p.attributes),
        start_time_unix_nano: p.start_time.unix_nanos(),
        time_unix_nano: p.time.unix_nanos(),
        count: p.count,
        sum: Some(p.sum),
        bucket_counts: p.bucket_counts,
        explicit_bounds: p.bounds,
        exemplars: p.exemplars.into_iter().map(exemplar_of).collect(),
        min: p.min,
        max: p.max,
        ..Default::default()
    }
}

fn exemplar_of(e: Exemplar) -> OtlpExemplar {
    OtlpExemplar {
        filtered_attributes: key_values(e.filtered_attributes),
        time_unix_nano: e.time.unix_nanos(),
        span_id: e.span_id.map(|id| id.to_bytes().to_vec()).unwrap_or_default(),
        trace_id: e.trace_id.map(|id| id.to_bytes().to_vec()).unwrap_or_default(),
        value: Some(exemplar::Value::AsDouble(e.value)),
    }
}
