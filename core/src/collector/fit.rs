//! Making a record fit the server's max_payload: a record too large to publish is
//! shortened (long strings first, then the oldest events, then the last attributes), and
//! what was cut is counted on the record. A publish never fails for size.

use crate::format::TelemetryFormat;
use crate::record::{Record, SpanRecord};

/// What long string values are cut to first.
const SHORT_STRING: usize = 256;
/// What messages, errors and names are cut to first.
const SHORT_TEXT: usize = 1024;

/// The record's JSON, at most `max` bytes when it can be made so; and whether the
/// record had to be shortened.
pub(crate) fn encode_within(record: &mut Record, max: usize, format: TelemetryFormat) -> (Vec<u8>, bool) {
    let json = format.encode(record);
    if json.len() <= max {
        return (json, false);
    }
    let json = match record {
        Record::Span(span) => shrink_span(span, max, format),
        Record::Log(log) => {
            truncate_string(&mut log.message, SHORT_TEXT);
            truncate_string(&mut log.error, SHORT_TEXT);
            for v in log.fields.values_mut() {
                v.truncate(SHORT_STRING);
            }
            let mut json = format.encode(record);
            while json.len() > max {
                let Record::Log(log) = record else { break };
                if log.fields.is_empty() {
                    break;
                }
                let last = log.fields.len() - 1;
                log.fields.remove(last);
                json = format.encode(record);
            }
            json
        }
        Record::Metric(metric) => {
            metric.tags.clear();
            format.encode(record)
        }
        Record::EngineMetric(metric) => {
            shrink_engine_metric(metric, max);
            format.encode(record)
        }
    };
    (json, true)
}

/// Cuts an aggregated metric down: the description, the exemplars, long string attribute
/// values, then attributes from the last.
fn shrink_engine_metric(m: &mut crate::engine::EngineMetric, max: usize) {
    use crate::engine::{encode_metric, MetricData};
    m.description.clear();
    let mut sets: Vec<&mut crate::Attributes> = Vec::new();
    match &mut m.data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
            for p in points {
                p.exemplars.clear();
                sets.push(&mut p.attributes);
            }
        }
        MetricData::Histogram { points, .. } => {
            for p in points {
                p.exemplars.clear();
                sets.push(&mut p.attributes);
            }
        }
    }
    for set in &mut sets {
        for v in set.values_mut() {
            v.truncate(SHORT_STRING);
        }
    }
    drop(sets);
    while encode_metric(m).len() > max {
        let mut removed = false;
        let mut remove_last = |a: &mut crate::Attributes| {
            if !a.is_empty() {
                a.remove(a.len() - 1);
                removed = true;
            }
        };
        match &mut m.data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                points.iter_mut().for_each(|p| remove_last(&mut p.attributes))
            }
            MetricData::Histogram { points, .. } => points.iter_mut().for_each(|p| remove_last(&mut p.attributes)),
        }
        if !removed {
            break;
        }
    }
}

fn truncate_string(s: &mut String, max_chars: usize) -> bool {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            s.truncate(cut);
            true
        }
        None => false,
    }
}

fn shrink_span(span: &mut SpanRecord, max: usize, format: TelemetryFormat) -> Vec<u8> {
    let json = |s: &SpanRecord| match format {
        TelemetryFormat::Records => serde_json::to_vec(s).unwrap_or_default(),
        TelemetryFormat::Engine => crate::engine::encode_span(s),
    };
    let mut shortened = 0u32;
    for v in span.attributes.values_mut() {
        shortened += u32::from(v.truncate(SHORT_STRING));
    }
    for e in &mut span.events {
        for v in e.attributes.values_mut() {
            shortened += u32::from(v.truncate(SHORT_STRING));
        }
    }
    for s in [&mut span.error, &mut span.status_message] {
        shortened += u32::from(truncate_string(s, SHORT_TEXT));
    }
    if span.name.chars().count() > SHORT_TEXT {
        let mut name = span.name.to_string();
        truncate_string(&mut name, SHORT_TEXT);
        span.name = name.into();
        shortened += 1;
    }
    span.truncated_values_count += shortened;
    let mut out = json(span);
    while out.len() > max && !span.events.is_empty() {
        span.events.remove(0);
        span.dropped_events_count += 1;
        out = json(span);
    }
    while out.len() > max && !span.attributes.is_empty() {
        let last = span.attributes.len() - 1;
        span.attributes.remove(last);
        span.dropped_attributes_count += 1;
        out = json(span);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attribute, Context, SpanOptions, Telemetry};

    #[test]
    fn an_oversized_span_is_cut_to_fit_and_marked() {
        let (tel, memory) = Telemetry::in_memory("svc");
        let (_, mut span) = tel.tracer.start(&Context::new(), "big", SpanOptions::new());
        for i in 0..100 {
            span.set_attribute(Attribute::string(format!("k{i}"), "x".repeat(1000)));
            span.add_event("e", [Attribute::string("v", "y".repeat(1000))]);
        }
        span.end();
        let mut record = memory.take().remove(0);
        let (json, shortened) = encode_within(&mut record, 8 * 1024, TelemetryFormat::Records);
        assert!(shortened && json.len() <= 8 * 1024, "{}", json.len());
        let back: SpanRecord = serde_json::from_slice(&json).unwrap();
        assert!(back.truncated_values_count >= 100);
        assert_eq!(back.dropped_events_count, 100);
        assert_eq!(back.attributes.len() as u32 + back.dropped_attributes_count, 100);
    }

    #[test]
    fn a_record_that_fits_is_untouched() {
        let (tel, memory) = Telemetry::in_memory("svc");
        tel.logger.info(&Context::new(), "small", []);
        let mut record = memory.take().remove(0);
        let before = record.to_json();
        assert_eq!(encode_within(&mut record, 1 << 20, TelemetryFormat::Records), (before, false));
    }
}
