//! Go writes its zero `time.Time` (`0001-01-01T00:00:00Z`) for a time it never set. Such
//! a record reads, with the time at the Unix epoch, instead of failing (which would make
//! the bridge dead-letter it), and converts to OTLP with its end not before its start.

use dagnats_observe::record::{LogRecord, SpanRecord, Timestamp};

fn golden(name: &str) -> String {
    let path = format!("{}/../testdata/records/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_go_span_with_an_unset_end_reads_with_the_end_at_the_epoch() {
    let s: SpanRecord = serde_json::from_str(&golden("go-span-zero-time.json")).expect("a zero time is not an error");
    assert_eq!(s.start_time, Timestamp::parse("2026-11-24T10:30:00Z").unwrap());
    assert_eq!(s.end_time, Timestamp::UNIX_EPOCH);
    assert_eq!(s.events[0].time, Timestamp::UNIX_EPOCH);
    assert_eq!(s.duration_ms, 0, "Go's saturated negative duration reads as zero");
}

#[test]
fn a_go_log_with_an_unset_time_reads() {
    let l: LogRecord = serde_json::from_str(&golden("go-log-zero-time.json")).expect("a zero time is not an error");
    assert_eq!(l.timestamp, Timestamp::UNIX_EPOCH);
    assert_eq!(l.message, "time never set");
}

#[cfg(feature = "otlp")]
#[test]
fn the_unset_end_exports_as_the_start() {
    use dagnats_observe::otlp::Converter;
    let s: SpanRecord = serde_json::from_str(&golden("go-span-zero-time.json")).unwrap();
    let start = s.start_time.unix_nanos();
    let otlp = Converter::new("dagnats", "b", "1").span(s);
    assert_eq!((otlp.start_time_unix_nano, otlp.end_time_unix_nano), (start, start));
}
