//! The TELEMETRY record readers: `SpanRecord`, `LogRecord` and `MetricPoint` from JSON.
//!
//! Input: a message body, read as each of the three record types.
//!
//! Checks: nothing panics; a body that reads as a record serializes (as the wire
//! writes it, `Record::to_json`) to JSON that reads back as an equal record, and
//! serializing that gives the same bytes again (the wire form is a fixed point).

#![no_main]

use std::fmt::Debug;

use dagnats_observe::record::{LogRecord, MetricPoint, Record, SpanRecord};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn round_trip<T>(data: &[u8], wrap: fn(Box<T>) -> Record)
where
    T: DeserializeOwned + PartialEq + Debug + Clone,
{
    let Ok(record) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let json = wrap(Box::new(record.clone())).to_json();
    assert!(!json.is_empty(), "serializing {record:?} failed");
    let again: T = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("re-reading {:?} failed: {e}\nrecord: {record:?}", String::from_utf8_lossy(&json)));
    assert_eq!(again, record, "round trip through {:?} changed the record", String::from_utf8_lossy(&json));
    assert_eq!(wrap(Box::new(again)).to_json(), json, "wire JSON is not a fixed point");
}

fuzz_target!(|data: &[u8]| {
    round_trip::<SpanRecord>(data, Record::Span);
    round_trip::<LogRecord>(data, Record::Log);
    round_trip::<MetricPoint>(data, Record::Metric);
});
