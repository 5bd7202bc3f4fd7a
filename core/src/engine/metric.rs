//! Metrics as the engine writes them: the OpenTelemetry Go SDK's aggregation of one
//! instrument, `{"name", "description"?, "unit"?, "serviceName", "data", "timestamp"}`,
//! `data` in Go's default JSON (PascalCase keys, no kind tag: the kind is read from the
//! shape).
//!
//! Written by our aggregating instruments ([`crate::metrics`]) with one data point per
//! message, as the engine's readers take only the first; read with every data point.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value as Json};

use super::EngineError;
use crate::attribute::{Attribute, Attributes, Str, Value};
use crate::id::{SpanId, TraceId};
use crate::record::Timestamp;

/// One message of the engine's metrics: one instrument, its aggregated data points.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineMetric {
    /// Instrument name; may contain dots.
    pub name: String,
    /// Instrument description (omitted from the body when empty).
    pub description: String,
    /// Instrument unit (omitted from the body when empty).
    pub unit: String,
    /// The producing service: the body's `serviceName`.
    pub service: Arc<str>,
    /// The aggregation.
    pub data: MetricData,
    /// When it was exported.
    pub timestamp: Timestamp,
}

/// The aggregation of one instrument, the Go SDK's `metricdata.Sum`, `Gauge` or
/// `Histogram`.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// A counter's or up-down counter's sum.
    Sum {
        /// One point per attribute set.
        points: Vec<NumberPoint>,
        /// Cumulative (what the engine writes) or delta.
        temporality: Temporality,
        /// Whether the sum only grows (a counter).
        monotonic: bool,
    },
    /// A gauge's last values.
    Gauge {
        /// One point per attribute set.
        points: Vec<NumberPoint>,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// One point per attribute set.
        points: Vec<HistogramPoint>,
        /// Cumulative (what the engine writes) or delta.
        temporality: Temporality,
    },
}

impl MetricData {
    /// How many data points it holds.
    pub fn len(&self) -> usize {
        match self {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => points.len(),
            MetricData::Histogram { points, .. } => points.len(),
        }
    }

    /// Whether it holds no data point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The Go SDK's `metricdata.Temporality`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// Values since a fixed start (`CumulativeTemporality`).
    Cumulative,
    /// Values since the previous export (`DeltaTemporality`).
    Delta,
}

impl Temporality {
    fn as_str(self) -> &'static str {
        match self {
            Temporality::Cumulative => "CumulativeTemporality",
            Temporality::Delta => "DeltaTemporality",
        }
    }
}

/// A sum or gauge data point.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberPoint {
    /// The attribute set, sorted by key.
    pub attributes: Attributes,
    /// Start of the aggregation (the process's start for a cumulative point).
    pub start_time: Timestamp,
    /// When the value was taken.
    pub time: Timestamp,
    /// The value (the SDK's int64 values are read as floats).
    pub value: f64,
    /// Sampled measurements.
    pub exemplars: Vec<Exemplar>,
}

/// An explicit-bucket histogram data point.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    /// The attribute set, sorted by key.
    pub attributes: Attributes,
    /// Start of the aggregation.
    pub start_time: Timestamp,
    /// When the values were taken.
    pub time: Timestamp,
    /// Observations.
    pub count: u64,
    /// Upper bounds of the buckets but the last.
    pub bounds: Vec<f64>,
    /// Observations per bucket (not cumulative), one more than `bounds`.
    pub bucket_counts: Vec<u64>,
    /// Smallest observation (`None` when there was none).
    pub min: Option<f64>,
    /// Largest observation (`None` when there was none).
    pub max: Option<f64>,
    /// Sum of the observations.
    pub sum: f64,
    /// Sampled measurements.
    pub exemplars: Vec<Exemplar>,
}

/// A sampled measurement, with the span that was current.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// Attributes of the measurement not in its point's set.
    pub filtered_attributes: Attributes,
    /// When it was measured.
    pub time: Timestamp,
    /// The measured value.
    pub value: f64,
    /// The span current at the measurement.
    pub span_id: Option<SpanId>,
    /// Its trace.
    pub trace_id: Option<TraceId>,
}

// ---------------------------------------------------------------------------------------
// Writing

/// The message body of `m` exactly as the Go SDK writes it: keys in its order, times in
/// RFC 3339 with the fraction's trailing zeros cut, numbers as Go's `encoding/json`
/// formats a float64, `Min`/`Max` `null` when empty, `Exemplars` only when there are some.
pub fn encode_metric(m: &EngineMetric) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("{\"name\":");
    string(&mut out, &m.name);
    if !m.description.is_empty() {
        out.push_str(",\"description\":");
        string(&mut out, &m.description);
    }
    if !m.unit.is_empty() {
        out.push_str(",\"unit\":");
        string(&mut out, &m.unit);
    }
    out.push_str(",\"serviceName\":");
    string(&mut out, &m.service);
    out.push_str(",\"data\":{\"DataPoints\":[");
    match &m.data {
        MetricData::Sum { points, temporality, monotonic } => {
            number_points(&mut out, points);
            out.push_str("],\"Temporality\":\"");
            out.push_str(temporality.as_str());
            out.push_str("\",\"IsMonotonic\":");
            out.push_str(if *monotonic { "true" } else { "false" });
        }
        MetricData::Gauge { points } => {
            number_points(&mut out, points);
            out.push(']');
        }
        MetricData::Histogram { points, temporality } => {
            list(&mut out, points, histogram_point);
            out.push_str("],\"Temporality\":\"");
            out.push_str(temporality.as_str());
            out.push('"');
        }
    }
    out.push_str("},\"timestamp\":");
    time(&mut out, m.timestamp);
    out.push('}');
    out.into_bytes()
}

/// `items` written by `item`, separated by commas.
fn list<T>(out: &mut String, items: &[T], mut item: impl FnMut(&mut String, &T)) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, x);
    }
}

/// What every point starts with: `{"Attributes":…,"StartTime":…,"Time":…`.
fn point_head(out: &mut String, attributes_: &Attributes, start: Timestamp, at: Timestamp) {
    out.push_str("{\"Attributes\":");
    attributes(out, attributes_);
    out.push_str(",\"StartTime\":");
    time(out, start);
    out.push_str(",\"Time\":");
    time(out, at);
}

fn number_points(out: &mut String, points: &[NumberPoint]) {
    list(out, points, |out, p| {
        point_head(out, &p.attributes, p.start_time, p.time);
        out.push_str(",\"Value\":");
        go_float(out, p.value);
        exemplars(out, &p.exemplars);
        out.push('}');
    });
}

fn histogram_point(out: &mut String, p: &HistogramPoint) {
    point_head(out, &p.attributes, p.start_time, p.time);
    let _ = write!(out, ",\"Count\":{},\"Bounds\":[", p.count);
    list(out, &p.bounds, |out, b| go_float(out, *b));
    out.push_str("],\"BucketCounts\":[");
    list(out, &p.bucket_counts, |out, c| {
        let _ = write!(out, "{c}");
    });
    out.push_str("],\"Min\":");
    optional_float(out, p.min);
    out.push_str(",\"Max\":");
    optional_float(out, p.max);
    out.push_str(",\"Sum\":");
    go_float(out, p.sum);
    exemplars(out, &p.exemplars);
    out.push('}');
}

fn optional_float(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) => go_float(out, v),
        None => out.push_str("null"),
    }
}

fn exemplars(out: &mut String, exemplars: &[Exemplar]) {
    if exemplars.is_empty() {
        return;
    }
    out.push_str(",\"Exemplars\":[");
    list(out, exemplars, |out, e| {
        out.push_str("{\"FilteredAttributes\":");
        attributes(out, &e.filtered_attributes);
        out.push_str(",\"Time\":");
        time(out, e.time);
        out.push_str(",\"Value\":");
        go_float(out, e.value);
        out.push_str(",\"SpanID\":");
        base64_id(out, e.span_id.map(|id| id.to_bytes().to_vec()));
        out.push_str(",\"TraceID\":");
        base64_id(out, e.trace_id.map(|id| id.to_bytes().to_vec()));
        out.push('}');
    });
    out.push(']');
}

fn base64_id(out: &mut String, bytes: Option<Vec<u8>>) {
    match bytes {
        // Go writes a nil []byte as null.
        None => out.push_str("null"),
        Some(b) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
    }
}

/// Go's `attribute.Set` in JSON: `[{"Key": k, "Value": {"Type": T, "Value": v}}]`, sorted
/// by key (the set is written in the order given; ours are sorted when they are built).
fn attributes(out: &mut String, attributes: &Attributes) {
    out.push('[');
    for (i, a) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Key\":");
        string(out, &a.key);
        out.push_str(",\"Value\":{\"Type\":\"");
        match &a.value {
            Value::String(s) => {
                out.push_str("STRING\",\"Value\":");
                string(out, s);
            }
            Value::Int(v) => {
                let _ = write!(out, "INT64\",\"Value\":{v}");
            }
            Value::Float(v) if v.is_finite() => {
                out.push_str("FLOAT64\",\"Value\":");
                go_float(out, *v);
            }
            // JSON has no literal for it (Go's encoder would fail the whole message):
            // its text, as a string.
            Value::Float(v) => {
                out.push_str("STRING\",\"Value\":");
                string(out, &v.to_string());
            }
            Value::Bool(b) => {
                let _ = write!(out, "BOOL\",\"Value\":{b}");
            }
        }
        out.push_str("}}");
    }
    out.push(']');
}

fn string(out: &mut String, s: &str) {
    // Writing a str to a String cannot fail.
    let json = serde_json::to_string(s).unwrap_or_default();
    out.push_str(&json);
}

/// Go's `time.Time` in JSON: RFC 3339 with up to nine fraction digits, trailing zeros cut
/// (none when the fraction is zero); ours in UTC.
fn time(out: &mut String, t: Timestamp) {
    let bytes = t.to_rfc3339_bytes();
    let text = std::str::from_utf8(&bytes).unwrap_or("1970-01-01T00:00:00.000000000Z");
    let (seconds, fraction) = text[..29].split_at(19);
    let fraction = fraction.trim_end_matches('0');
    out.push('"');
    out.push_str(seconds);
    if fraction != "." {
        out.push_str(fraction);
    }
    out.push_str("Z\"");
}

/// A float64 as Go's `encoding/json` writes it: the shortest text that reads back the
/// same, in plain notation between 1e-6 and 1e21 and in exponent notation (`1e+21`,
/// `1e-7`) outside; integers without a fraction (`14`). Non-finite values, which Go
/// cannot write at all, are written as 0 (the aggregations never hold one).
fn go_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push('0');
        return;
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{v:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        out.push_str(mantissa);
        if exponent < 0 {
            let _ = write!(out, "e-{}", -exponent);
        } else {
            let _ = write!(out, "e+{exponent:02}");
        }
    } else {
        let _ = write!(out, "{v}");
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Reads one engine metric message with all its data points. The kind is read from the
/// shape of `data`: `IsMonotonic` makes a sum, `Temporality` or histogram points
/// (`BucketCounts`, `Bounds`) a histogram, neither a gauge; exponential histograms and
/// summaries are errors. Keys match ignoring case (as Go's decoder matches them),
/// unknown keys are ignored, times may carry any offset, attribute types are `STRING`,
/// `INT64`, `FLOAT64` and `BOOL` (the slice types are kept as their JSON text). The
/// service is `serviceName`, else `service_from_subject`.
pub fn decode_metric(body: &[u8], service_from_subject: &str) -> Result<EngineMetric, EngineError> {
    let object: Map<String, Json> =
        serde_json::from_slice(body).map_err(|e| EngineError(format!("not an engine metric: {e}")))?;
    let name = match field(&object, "name") {
        Some(Json::String(s)) if !s.is_empty() => s.clone(),
        Some(Json::String(_)) => return Err(EngineError("the metric's name is empty".into())),
        Some(other) => return Err(EngineError(format!("name is {other}, not a string"))),
        None => return Err(EngineError("not an engine metric: no name".into())),
    };
    let data = match field(&object, "data") {
        Some(Json::Object(data)) => data,
        Some(other) => return Err(EngineError(format!("metric {name}: data is {}, not an object", kind_of(other)))),
        None => return Err(EngineError(format!("not an engine metric: {name} has no data"))),
    };
    let context = |e: String| EngineError(format!("metric {name}: {e}"));
    let timestamp = match field(&object, "timestamp") {
        None | Some(Json::Null) => Timestamp::UNIX_EPOCH,
        Some(t) => timestamp(t, "timestamp").map_err(context)?,
    };
    let service = match optional_text(field(&object, "serviceName"), "serviceName").map_err(context)? {
        s if s.is_empty() => service_from_subject.into(),
        s => s.into(),
    };
    Ok(EngineMetric {
        description: optional_text(field(&object, "description"), "description").map_err(context)?,
        unit: optional_text(field(&object, "unit"), "unit").map_err(context)?,
        service,
        data: metric_data(data).map_err(context)?,
        timestamp,
        name,
    })
}

/// The value of `key`, matched ignoring ASCII case (an exact match first).
fn field<'a>(object: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    object.get(key).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn optional_text(v: Option<&Json>, what: &str) -> Result<String, String> {
    match v {
        None | Some(Json::Null) => Ok(String::new()),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{what} is {}, not a string", kind_of(other))),
    }
}

fn metric_data(data: &Map<String, Json>) -> Result<MetricData, String> {
    let points: &[Json] = match field(data, "DataPoints") {
        None | Some(Json::Null) => &[],
        Some(Json::Array(points)) => points,
        Some(other) => return Err(format!("DataPoints is {}, not a list", kind_of(other))),
    };
    let has = |key: &str| points.iter().any(|p| p.as_object().is_some_and(|p| field(p, key).is_some()));
    if has("Scale") || has("PositiveBucket") || has("ZeroCount") {
        return Err("exponential histograms are not read".into());
    }
    if has("QuantileValues") {
        return Err("summaries are not read".into());
    }
    let temporality = field(data, "Temporality");
    if let Some(monotonic) = field(data, "IsMonotonic") {
        let Json::Bool(monotonic) = monotonic else {
            return Err(format!("IsMonotonic is {}, not a bool", kind_of(monotonic)));
        };
        return Ok(MetricData::Sum {
            points: each(points, number_point)?,
            temporality: read_temporality(temporality)?,
            monotonic: *monotonic,
        });
    }
    if temporality.is_some() || has("BucketCounts") || has("Bounds") {
        return Ok(MetricData::Histogram {
            points: each(points, histogram_point_of)?,
            temporality: read_temporality(temporality)?,
        });
    }
    Ok(MetricData::Gauge { points: each(points, number_point)? })
}

fn each<T>(points: &[Json], read: fn(&Map<String, Json>) -> Result<T, String>) -> Result<Vec<T>, String> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Json::Object(p) => read(p).map_err(|e| format!("data point {i}: {e}")),
            other => Err(format!("data point {i} is {}, not an object", kind_of(other))),
        })
        .collect()
}

/// `CumulativeTemporality` or `DeltaTemporality` (Go's names), or their numbers 1 and 2;
/// cumulative when absent.
fn read_temporality(v: Option<&Json>) -> Result<Temporality, String> {
    match v {
        None | Some(Json::Null) => Ok(Temporality::Cumulative),
        Some(Json::String(s)) if s.to_ascii_lowercase().starts_with("cumulative") => Ok(Temporality::Cumulative),
        Some(Json::String(s)) if s.to_ascii_lowercase().starts_with("delta") => Ok(Temporality::Delta),
        Some(Json::Number(n)) if n.as_u64() == Some(1) => Ok(Temporality::Cumulative),
        Some(Json::Number(n)) if n.as_u64() == Some(2) => Ok(Temporality::Delta),
        Some(other) => Err(format!("unknown Temporality {other}")),
    }
}

fn number(v: Option<&Json>, what: &str) -> Result<f64, String> {
    match v {
        Some(Json::Number(n)) => n.as_f64().ok_or_else(|| format!("{what} {n} is not a number")),
        // Lenient: a number written as a string.
        Some(Json::String(s)) => s.trim().parse().map_err(|_| format!("{what} {s:?} is not a number")),
        Some(other) => Err(format!("{what} is {}, not a number", kind_of(other))),
        None => Err(format!("no {what}")),
    }
}

fn optional_number(v: Option<&Json>, what: &str) -> Result<Option<f64>, String> {
    match v {
        None | Some(Json::Null) => Ok(None),
        v => number(v, what).map(Some),
    }
}

fn count(v: &Json, what: &str) -> Result<u64, String> {
    match v {
        Json::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(c), _) => Ok(c),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => Ok(f as u64),
            _ => Err(format!("{what} {n} is not a count")),
        },
        other => Err(format!("{what} is {}, not a count", kind_of(other))),
    }
}

fn timestamp(v: &Json, what: &str) -> Result<Timestamp, String> {
    match v {
        Json::String(s) => Timestamp::parse(s).map_err(|e| format!("{what}: {e}")),
        other => Err(format!("{what} is {}, not a time", kind_of(other))),
    }
}

fn time_of(p: &Map<String, Json>, key: &str) -> Result<Timestamp, String> {
    match field(p, key) {
        None | Some(Json::Null) => Ok(Timestamp::UNIX_EPOCH),
        Some(v) => timestamp(v, key),
    }
}

fn number_point(p: &Map<String, Json>) -> Result<NumberPoint, String> {
    Ok(NumberPoint {
        attributes: read_attributes(field(p, "Attributes"), "Attributes")?,
        start_time: time_of(p, "StartTime")?,
        time: time_of(p, "Time")?,
        value: number(field(p, "Value"), "Value")?,
        exemplars: read_exemplars(field(p, "Exemplars"))?,
    })
}

fn histogram_point_of(p: &Map<String, Json>) -> Result<HistogramPoint, String> {
    let list = |key: &str| -> Result<&[Json], String> {
        match field(p, key) {
            None | Some(Json::Null) => Ok(&[]),
            Some(Json::Array(items)) => Ok(items),
            Some(other) => Err(format!("{key} is {}, not a list", kind_of(other))),
        }
    };
    let bounds = list("Bounds")?.iter().map(|b| number(Some(b), "a bound")).collect::<Result<Vec<_>, _>>()?;
    let bucket_counts =
        list("BucketCounts")?.iter().map(|c| count(c, "a bucket count")).collect::<Result<Vec<_>, _>>()?;
    if !bucket_counts.is_empty() && bucket_counts.len() != bounds.len() + 1 {
        return Err(format!("{} bucket counts for {} bounds (expected one more)", bucket_counts.len(), bounds.len()));
    }
    Ok(HistogramPoint {
        attributes: read_attributes(field(p, "Attributes"), "Attributes")?,
        start_time: time_of(p, "StartTime")?,
        time: time_of(p, "Time")?,
        count: match field(p, "Count") {
            None | Some(Json::Null) => bucket_counts.iter().sum(),
            Some(c) => count(c, "Count")?,
        },
        bounds,
        bucket_counts,
        min: optional_number(field(p, "Min"), "Min")?,
        max: optional_number(field(p, "Max"), "Max")?,
        sum: optional_number(field(p, "Sum"), "Sum")?.unwrap_or(0.0),
        exemplars: read_exemplars(field(p, "Exemplars"))?,
    })
}

/// Go's `attribute.Set`: a list of `{"Key", "Value": {"Type", "Value"}}`.
fn read_attributes(v: Option<&Json>, what: &str) -> Result<Attributes, String> {
    let items = match v {
        None | Some(Json::Null) => return Ok(Attributes::new()),
        Some(Json::Array(items)) => items,
        Some(other) => return Err(format!("{what} is {}, not a list", kind_of(other))),
    };
    let mut out = Attributes::with_capacity(items.len());
    for item in items {
        let Json::Object(kv) = item else {
            return Err(format!("an attribute is {}, not an object", kind_of(item)));
        };
        let key = match field(kv, "Key") {
            Some(Json::String(k)) => k.clone(),
            _ => return Err(format!("an attribute has no Key: {item}")),
        };
        let Some(Json::Object(value)) = field(kv, "Value") else {
            return Err(format!("attribute {key:?} has no Value object"));
        };
        let kind = match field(value, "Type") {
            Some(Json::String(t)) => t.to_ascii_uppercase(),
            _ => return Err(format!("attribute {key:?} has no Type")),
        };
        let raw = field(value, "Value").unwrap_or(&Json::Null);
        let bad = || format!("attribute {key:?} of Type {kind} has the value {raw}");
        let value = match kind.as_str() {
            "STRING" => Value::String(Str::Owned(raw.as_str().ok_or_else(bad)?.to_owned())),
            "INT64" => Value::Int(raw.as_i64().ok_or_else(bad)?),
            "FLOAT64" => Value::Float(number(Some(raw), "FLOAT64").map_err(|_| bad())?),
            "BOOL" => Value::Bool(raw.as_bool().ok_or_else(bad)?),
            // The slice types: kept as their JSON text rather than lost.
            "BOOLSLICE" | "INT64SLICE" | "FLOAT64SLICE" | "STRINGSLICE" => Value::String(Str::Owned(raw.to_string())),
            _ => return Err(format!("attribute {key:?} has the unknown Type {kind:?}")),
        };
        out.set(Attribute::new(key, value));
    }
    Ok(out)
}

fn read_exemplars(v: Option<&Json>) -> Result<Vec<Exemplar>, String> {
    let items = match v {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(items)) => items,
        Some(other) => return Err(format!("Exemplars is {}, not a list", kind_of(other))),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let Json::Object(e) = e else {
                return Err(format!("exemplar {i} is {}, not an object", kind_of(e)));
            };
            let context = |m: String| format!("exemplar {i}: {m}");
            Ok(Exemplar {
                filtered_attributes: read_attributes(field(e, "FilteredAttributes"), "FilteredAttributes")
                    .map_err(context)?,
                time: time_of(e, "Time").map_err(context)?,
                value: number(field(e, "Value"), "Value").map_err(context)?,
                span_id: id_bytes(field(e, "SpanID"), "SpanID")
                    .and_then(|b| b.map(|b| id_of::<8, SpanId>(&b, "SpanID", SpanId::from_bytes)).transpose())
                    .map_err(context)?,
                trace_id: id_bytes(field(e, "TraceID"), "TraceID")
                    .and_then(|b| b.map(|b| id_of::<16, TraceId>(&b, "TraceID", TraceId::from_bytes)).transpose())
                    .map_err(context)?,
            })
        })
        .collect()
}

/// A Go `[]byte`: standard base64 (URL-safe or unpadded accepted); `null` or empty is none.
fn id_bytes(v: Option<&Json>, what: &str) -> Result<Option<Vec<u8>>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(s).ok())
            .map(Some)
            .ok_or_else(|| format!("{what} {s:?} is not base64")),
        Some(other) => Err(format!("{what} is {}, not a base64 string", kind_of(other))),
    }
}

fn id_of<const N: usize, T>(bytes: &[u8], what: &str, make: fn([u8; N]) -> Option<T>) -> Result<T, String> {
    let array: [u8; N] = bytes.try_into().map_err(|_| format!("{what} has {} bytes, expected {N}", bytes.len()))?;
    make(array).ok_or_else(|| format!("{what} is all zero"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut s = String::new();
        go_float(&mut s, v);
        s
    }

    #[test]
    fn floats_are_written_as_go_writes_them() {
        for (v, go) in [
            (14.0, "14"),
            (0.0, "0"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (35.5, "35.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (-2.5e-10, "-2.5e-10"),
            (123456789.125, "123456789.125"),
        ] {
            assert_eq!(float(v), go, "{v}");
            assert_eq!(go.parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn times_cut_trailing_zeros_as_go_does() {
        let mut s = String::new();
        for t in ["2026-08-07T12:00:10.004Z", "2026-08-07T11:58:00.000000001Z", "2026-08-07T12:00:00Z"] {
            s.clear();
            time(&mut s, Timestamp::parse(t).unwrap());
            assert_eq!(s, format!("\"{t}\""));
        }
    }

    #[test]
    fn unreadable_messages_say_why() {
        for (body, reason) in [
            (&br#"[]"#[..], "not an engine metric"),
            (br#"{"name":"m","type":"counter","value":1}"#, "has no data"),
            (br#"{"data":{}}"#, "no name"),
            (br#"{"name":"","data":{}}"#, "name is empty"),
            (br#"{"name":"m","data":[]}"#, "data is a list"),
            (br#"{"name":"m","data":{"DataPoints":{}}}"#, "DataPoints is an object"),
            (br#"{"name":"m","data":{"DataPoints":[{"Value":"x"}]}}"#, "Value \"x\" is not a number"),
            (br#"{"name":"m","data":{"DataPoints":[{"Scale":2}],"Temporality":"CumulativeTemporality"}}"#, "exponential"),
            (br#"{"name":"m","data":{"DataPoints":[],"IsMonotonic":"yes"}}"#, "IsMonotonic is a string"),
            (br#"{"name":"m","data":{"DataPoints":[],"Temporality":"Sometimes"}}"#, "unknown Temporality"),
            (
                br#"{"name":"m","data":{"DataPoints":[{"Attributes":[{"Key":"k","Value":{"Type":"INT64","Value":"x"}}],"Value":1}]}}"#,
                "Type INT64",
            ),
            (
                br#"{"name":"m","data":{"DataPoints":[{"Attributes":[{"Key":"k","Value":{"Type":"MAP","Value":1}}],"Value":1}]}}"#,
                "unknown Type",
            ),
            (
                br#"{"name":"m","data":{"DataPoints":[{"Count":1,"Bounds":[1],"BucketCounts":[1]}],"Temporality":"CumulativeTemporality"}}"#,
                "expected one more",
            ),
            (
                br#"{"name":"m","data":{"DataPoints":[{"Value":1,"Exemplars":[{"Value":1,"SpanID":"AAEC"}]}]}}"#,
                "SpanID has 3 bytes",
            ),
            (br#"{"name":"m","data":{"DataPoints":[{"Value":1,"Time":"yesterday"}]}}"#, "Time: invalid timestamp"),
        ] {
            let e = decode_metric(body, "s").unwrap_err();
            assert!(e.0.contains(reason), "{e} lacks {reason:?}");
        }
    }
}
