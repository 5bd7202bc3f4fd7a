//! Engine-dialect metrics: the golden bodies of testdata/records (written from the facts of
//! `engine-dialect.md`, its example included) read as the engine writes them; what our
//! aggregating instruments write reads back as what they aggregated, on the engine's
//! subjects and message ids, in exactly the SDK's shape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dagnats_observe::collector::subject::{msg_id_for, subject_for};
use dagnats_observe::engine::{decode_metric, encode_metric, EngineMetric, HistogramPoint, MetricData, Temporality};
use dagnats_observe::record::{Record, Timestamp};
use dagnats_observe::{MemorySink, Telemetry, TelemetryFormat, Value};
use serde_json::Value as Json;

fn golden(name: &str) -> String {
    let path = format!("{}/../testdata/records/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim_end().to_owned()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn engine_telemetry(service: &str) -> (Telemetry, Arc<MemorySink>) {
    let memory = Arc::new(MemorySink::new());
    let tel = Telemetry::with_sink_format(service, memory.clone(), TelemetryFormat::Engine, Duration::from_secs(3600));
    (tel, memory)
}

#[test]
fn reads_the_spec_example_sum() {
    let m = decode_metric(golden("engine-metric-sum.json").as_bytes(), "from-subject").unwrap();
    assert_eq!((m.name.as_str(), &*m.service), ("workflow.runs.completed", "dagnats"));
    assert_eq!((m.description.as_str(), m.unit.as_str()), ("", ""));
    assert_eq!(m.timestamp, ts("2026-08-07T12:00:10.004Z"));
    let MetricData::Sum { points, temporality, monotonic } = m.data else { panic!("not a sum: {:?}", m.data) };
    assert_eq!((temporality, monotonic), (Temporality::Cumulative, true));
    assert_eq!(points.len(), 1);
    let p = &points[0];
    assert_eq!(p.value, 14.0);
    assert_eq!(p.start_time, Timestamp(ts("2026-08-07T11:58:00Z").0 + 1));
    assert_eq!(p.time, Timestamp(ts("2026-08-07T12:00:10Z").0 + 2));
    assert_eq!(p.attributes.get("workflow"), Some(&Value::String("demo".into())));
}

#[test]
fn reads_every_gauge_point_with_typed_attributes_and_offsets() {
    let m = decode_metric(golden("engine-metric-gauge.json").as_bytes(), "x").unwrap();
    assert_eq!((m.description.as_str(), m.unit.as_str()), ("Tasks waiting in a queue", "{task}"));
    assert_eq!(m.timestamp, ts("2026-08-07T12:00:10.254Z"), "offsets are converted to UTC");
    let MetricData::Gauge { points } = m.data else { panic!("not a gauge: {:?}", m.data) };
    assert_eq!(points.len(), 2, "every data point, not only the first");
    assert_eq!(points[0].value, 12.5);
    assert_eq!(points[0].attributes.get("priority"), Some(&Value::Int(2)));
    assert_eq!(points[0].start_time, ts("2026-08-07T11:58:00.5Z"));
    assert_eq!(points[1].attributes.get("paused"), Some(&Value::Bool(true)));
    assert_eq!(points[1].value, 0.0);
}

#[test]
fn reads_a_histogram_with_its_buckets_extremes_and_exemplars() {
    let m = decode_metric(golden("engine-metric-histogram.json").as_bytes(), "x").unwrap();
    let MetricData::Histogram { points, temporality } = m.data else { panic!("not a histogram: {:?}", m.data) };
    assert_eq!(temporality, Temporality::Cumulative);
    let p = &points[0];
    assert_eq!((p.count, p.sum, p.min, p.max), (4, 12089.5, Some(3.0), Some(12000.5)));
    assert_eq!(p.bounds, dagnats_observe::metrics::DEFAULT_HISTOGRAM_BOUNDS.to_vec());
    assert_eq!(p.bucket_counts.len(), p.bounds.len() + 1);
    assert_eq!(p.bucket_counts[4], 2);
    assert_eq!(p.attributes.get("ratio"), Some(&Value::Float(0.25)));
    let e = &p.exemplars[0];
    assert_eq!(e.trace_id.unwrap().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(e.span_id.unwrap().to_string(), "00f067aa0ba902b7");
    assert_eq!((e.value, e.time), (12000.5, ts("2026-08-07T12:00:09.5Z")));
    assert_eq!(e.filtered_attributes.get("attempt"), Some(&Value::Int(2)));
    let empty = &points[1];
    assert_eq!((empty.count, empty.min, empty.max), (0, None, None), "Min and Max null when empty");
}

#[test]
fn unknown_keys_are_ignored_and_the_subject_names_a_service_the_body_lacks() {
    let mut body: Json = serde_json::from_str(&golden("engine-metric-sum.json")).unwrap();
    body.as_object_mut().unwrap().remove("serviceName");
    body["scope"] = serde_json::json!({"Name": "go.opentelemetry.io/x"});
    body["data"]["Extra"] = Json::Bool(true);
    body["data"]["DataPoints"][0]["Flags"] = Json::from(1);
    let m = decode_metric(body.to_string().as_bytes(), "engine").unwrap();
    assert_eq!(&*m.service, "engine");
    assert_eq!(m.data.len(), 1);
}

/// Aggregates a known set of measurements in the engine format and returns what was
/// exported.
fn aggregated() -> Vec<EngineMetric> {
    let (tel, memory) = engine_telemetry("py-worker");
    let done = tel.metrics.counter("tasks.completed");
    done.add(1.0, &[("queue", "default")]);
    done.add(2.5, &[("queue", "default")]);
    done.add(4.0, &[("queue", "slow"), ("region", "eu")]);
    let depth = tel.metrics.gauge("queue.depth");
    depth.set(12.0, &[]);
    depth.set(7.0, &[]);
    let duration = tel.metrics.histogram("task.duration_ms");
    for v in [3.0, 40.0, 46.0, 12000.5] {
        duration.record(v, &[("step", "build")]);
    }
    tel.flush(Duration::from_secs(1)).unwrap();
    assert!(memory.metrics().is_empty(), "no point per observation in the engine format");
    memory.engine_metrics()
}

#[test]
fn what_we_aggregate_reads_back_through_decode_metric() {
    let written = aggregated();
    assert_eq!(written.len(), 4, "one message per instrument and attribute set: {written:#?}");
    for m in &written {
        assert_eq!(m.data.len(), 1, "one data point per message");
        let back = decode_metric(&encode_metric(m), "other").unwrap();
        assert_eq!(&back, m);
    }
    let by_name = |name: &str| written.iter().filter(|m| m.name == name).collect::<Vec<_>>();
    let sums: BTreeMap<String, f64> = by_name("tasks.completed")
        .iter()
        .map(|m| match &m.data {
            MetricData::Sum { points, temporality: Temporality::Cumulative, monotonic: true } => {
                (points[0].attributes.get("queue").unwrap().to_string(), points[0].value)
            }
            other => panic!("not a cumulative monotonic sum: {other:?}"),
        })
        .collect();
    assert_eq!(sums, BTreeMap::from([("default".to_string(), 3.5), ("slow".to_string(), 4.0)]));
    let MetricData::Gauge { points } = &by_name("queue.depth")[0].data else { panic!() };
    assert_eq!(points[0].value, 7.0, "the last value");
    let MetricData::Histogram { points, temporality: Temporality::Cumulative } = &by_name("task.duration_ms")[0].data
    else {
        panic!()
    };
    let h: &HistogramPoint = &points[0];
    assert_eq!((h.count, h.sum, h.min, h.max), (4, 12089.5, Some(3.0), Some(12000.5)));
    let mut expected = vec![0u64; 16];
    expected[1] = 1;
    expected[4] = 2;
    expected[15] = 1;
    assert_eq!(h.bucket_counts, expected);
    // Cumulative since the telemetry started: every point shares one start, before its time.
    let starts: Vec<Timestamp> = written
        .iter()
        .map(|m| match &m.data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => points[0].start_time,
            MetricData::Histogram { points, .. } => points[0].start_time,
        })
        .collect();
    assert!(starts.windows(2).all(|w| w[0] == w[1]));
    assert!(starts[0] <= written[0].timestamp);
}

#[test]
fn a_second_export_is_cumulative() {
    let (tel, memory) = engine_telemetry("svc");
    let c = tel.metrics.counter("c");
    c.add(1.0, &[]);
    tel.flush(Duration::from_secs(1)).unwrap();
    c.add(2.0, &[]);
    tel.flush(Duration::from_secs(1)).unwrap();
    let values: Vec<f64> = memory
        .engine_metrics()
        .into_iter()
        .map(|m| match m.data {
            MetricData::Sum { points, .. } => points[0].value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, vec![1.0, 3.0]);
}

#[test]
fn the_record_format_still_publishes_one_point_per_observation() {
    let memory = Arc::new(MemorySink::new());
    let tel = Telemetry::with_sink_format("svc", memory.clone(), TelemetryFormat::Records, Duration::from_millis(1));
    tel.metrics.counter("c").add(1.0, &[]);
    tel.metrics.counter("c").add(1.0, &[]);
    tel.flush(Duration::from_secs(1)).unwrap();
    assert_eq!(memory.metrics().len(), 2);
    assert!(memory.engine_metrics().is_empty());
}

#[test]
fn our_engine_metrics_go_on_the_engines_subjects_and_ids() {
    let (tel, memory) = engine_telemetry("py worker");
    tel.metrics.counter("tasks.completed").add(1.0, &[]);
    tel.flush(Duration::from_secs(1)).unwrap();
    let record = memory.take().remove(0);
    let Record::EngineMetric(m) = &record else { panic!("{record:?}") };
    for format in TelemetryFormat::ALL {
        assert_eq!(subject_for(&record, format), "telemetry.metrics.py_worker.tasks.completed");
        let id = msg_id_for(&record, format);
        let prefix = format!("metric.tasks.completed.{}.", m.timestamp.unix_nanos());
        let sequence = id.strip_prefix(&prefix).unwrap_or_else(|| panic!("{id} lacks {prefix}"));
        assert!(sequence.parse::<u64>().is_ok(), "{id}");
        assert_eq!(format.encode(&record), encode_metric(m), "only the engine's shape exists");
    }
    assert_ne!(msg_id_for(&record, TelemetryFormat::Engine), msg_id_for(&record, TelemetryFormat::Engine));
}

/// The JSON type of every value, lists by their first item, objects key by key.
fn shape(v: &Json) -> Json {
    match v {
        Json::Null => "null".into(),
        Json::Bool(_) => "bool".into(),
        Json::Number(_) => "number".into(),
        Json::String(_) => "string".into(),
        Json::Array(items) => Json::Array(items.first().map(shape).into_iter().collect()),
        Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// The golden body's shape without what we never write (description, unit, exemplars),
/// its attributes those we write (strings).
fn golden_shape(name: &str) -> Json {
    let mut v: Json = serde_json::from_str(&golden(name)).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("description");
    o.remove("unit");
    for p in v["data"]["DataPoints"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("Exemplars");
        p["Attributes"] = serde_json::json!([{"Key": "k", "Value": {"Type": "STRING", "Value": "v"}}]);
    }
    shape(&v)
}

#[test]
fn what_we_write_has_the_sdk_shape_key_by_key() {
    let written = aggregated();
    for m in &written {
        let json: Json = serde_json::from_slice(&encode_metric(m)).unwrap();
        let golden = match &m.data {
            MetricData::Sum { .. } => "engine-metric-sum.json",
            MetricData::Gauge { .. } => "engine-metric-gauge.json",
            MetricData::Histogram { .. } => "engine-metric-histogram.json",
        };
        let mut expected = golden_shape(golden);
        if let MetricData::Gauge { .. } = m.data {
            // The golden gauge's attribute values are INT64 first; ours has no attributes.
            expected["data"]["DataPoints"][0]["Attributes"] = Json::Array(vec![]);
        }
        assert_eq!(shape(&json), expected, "{m:#?}");
        // Exactly these keys (the shape says so), in the SDK's order.
        let text = String::from_utf8(encode_metric(m)).unwrap();
        let at: Vec<usize> = [r#"{"name":"#, r#","serviceName":"#, r#","data":{"DataPoints":"#, r#"},"timestamp":"#]
            .iter()
            .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} not in {text}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]) && at[0] == 0, "{text}");
        for p in json["data"]["DataPoints"].as_array().unwrap() {
            for a in p["Attributes"].as_array().unwrap() {
                assert_eq!(a["Value"]["Type"], "STRING");
            }
        }
    }
    // Attributes sorted by key, whatever order they were given in.
    let (tel, memory) = engine_telemetry("svc");
    tel.metrics.counter("c").add(1.0, &[("z", "1"), ("a", "2"), ("m", "3")]);
    tel.flush(Duration::from_secs(1)).unwrap();
    let json: Json = serde_json::from_slice(&encode_metric(&memory.engine_metrics()[0])).unwrap();
    let keys: Vec<&str> = json["data"]["DataPoints"][0]["Attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "m", "z"]);
    let text = String::from_utf8(encode_metric(&memory.engine_metrics()[0])).unwrap();
    assert!(text.contains(r#""Value":1}"#), "a whole float64 is written as Go writes it: {text}");
}

#[test]
fn an_empty_histogram_point_writes_null_extremes() {
    let mut m = decode_metric(golden("engine-metric-histogram.json").as_bytes(), "x").unwrap();
    let MetricData::Histogram { points, .. } = &mut m.data else { panic!() };
    points.remove(0);
    let json: Json = serde_json::from_slice(&encode_metric(&m)).unwrap();
    let p = &json["data"]["DataPoints"][0];
    assert_eq!((&p["Min"], &p["Max"]), (&Json::Null, &Json::Null));
    assert_eq!(decode_metric(&encode_metric(&m), "x").unwrap(), m);
}

#[test]
fn golden_bodies_read_back_byte_for_byte_after_a_round_trip() {
    for name in ["engine-metric-sum.json", "engine-metric-histogram.json"] {
        let text = golden(name);
        let m = decode_metric(text.as_bytes(), "x").unwrap();
        assert_eq!(String::from_utf8(encode_metric(&m)).unwrap(), text, "{name}");
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use super::*;
    use dagnats_observe::otlp::proto::common::v1::any_value::Value as Any;
    use dagnats_observe::otlp::proto::metrics::v1::{metric::Data, number_data_point, AggregationTemporality};
    use dagnats_observe::otlp::Converter;

    fn converter() -> Converter {
        Converter::new("fallback", "dagnats-bridge", "0.1.0")
    }

    fn attribute(kvs: &[dagnats_observe::otlp::proto::common::v1::KeyValue], key: &str) -> Any {
        kvs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone()?.value).unwrap()
    }

    #[test]
    fn a_cumulative_sum_stays_cumulative_with_its_start() {
        let m = decode_metric(golden("engine-metric-sum.json").as_bytes(), "x").unwrap();
        let rm = converter().engine_metric(m);
        assert_eq!(
            attribute(&rm.resource.as_ref().unwrap().attributes, "service.name"),
            Any::StringValue("dagnats".into())
        );
        assert_eq!(rm.scope_metrics[0].scope.as_ref().unwrap().name, "dagnats-bridge");
        let metric = &rm.scope_metrics[0].metrics[0];
        assert_eq!(metric.name, "workflow.runs.completed");
        let Some(Data::Sum(sum)) = &metric.data else { panic!("{metric:?}") };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        let p = &sum.data_points[0];
        assert_eq!(p.start_time_unix_nano, ts("2026-08-07T11:58:00.000000001Z").unix_nanos());
        assert_eq!(p.time_unix_nano, ts("2026-08-07T12:00:10.000000002Z").unix_nanos());
        assert_eq!(p.value, Some(number_data_point::Value::AsDouble(14.0)));
        assert_eq!(attribute(&p.attributes, "workflow"), Any::StringValue("demo".into()));
    }

    #[test]
    fn a_histogram_keeps_buckets_extremes_exemplars_and_typed_attributes() {
        let m = decode_metric(golden("engine-metric-histogram.json").as_bytes(), "x").unwrap();
        let rm = converter().engine_metric(m);
        let metric = &rm.scope_metrics[0].metrics[0];
        assert_eq!((metric.description.as_str(), metric.unit.as_str()), ("How long a task ran", "ms"));
        let Some(Data::Histogram(h)) = &metric.data else { panic!("{metric:?}") };
        assert_eq!(h.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        assert_eq!(h.data_points.len(), 2);
        let p = &h.data_points[0];
        assert_eq!((p.count, p.sum, p.min, p.max), (4, Some(12089.5), Some(3.0), Some(12000.5)));
        assert_eq!(p.explicit_bounds, dagnats_observe::metrics::DEFAULT_HISTOGRAM_BOUNDS.to_vec());
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), 4);
        assert_eq!(attribute(&p.attributes, "ratio"), Any::DoubleValue(0.25));
        let e = &p.exemplars[0];
        assert_eq!(e.trace_id, hex("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(e.span_id, hex("00f067aa0ba902b7"));
        assert_eq!(attribute(&e.filtered_attributes, "attempt"), Any::IntValue(2));
        assert_eq!((h.data_points[1].min, h.data_points[1].max), (None, None));
    }

    #[test]
    fn gauges_keep_int_and_bool_attributes_and_services_group() {
        let gauge = decode_metric(golden("engine-metric-gauge.json").as_bytes(), "x").unwrap();
        let mut nameless: Json = serde_json::from_str(&golden("engine-metric-sum.json")).unwrap();
        nameless.as_object_mut().unwrap().remove("serviceName");
        let from_subject = decode_metric(nameless.to_string().as_bytes(), "engine-2").unwrap();
        let unnamed = decode_metric(nameless.to_string().as_bytes(), "").unwrap();
        let req = converter().engine_metrics([gauge.clone(), from_subject, gauge, unnamed]);
        let services: Vec<Any> = req
            .resource_metrics
            .iter()
            .map(|rm| attribute(&rm.resource.as_ref().unwrap().attributes, "service.name"))
            .collect();
        assert_eq!(
            services,
            [
                Any::StringValue("dagnats".into()),
                Any::StringValue("engine-2".into()),
                Any::StringValue("fallback".into())
            ]
        );
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 2);
        let Some(Data::Gauge(g)) = &metrics[0].data else { panic!() };
        assert_eq!(attribute(&g.data_points[0].attributes, "priority"), Any::IntValue(2));
        assert_eq!(attribute(&g.data_points[1].attributes, "paused"), Any::BoolValue(true));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
