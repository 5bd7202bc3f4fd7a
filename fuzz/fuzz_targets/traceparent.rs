//! `traceparent` parsing and header extraction.
//!
//! Input: the whole input is tried as one `traceparent` value; then it is read as header
//! fields, one per line, `name:value` (split at the first `:`; a line without one is a
//! name with an empty value), and given to `extract_from_headers`; a JSON object input
//! is also given to `extract_from_event`. Invalid UTF-8 is read lossily (header values
//! reach the library as `&str`).
//!
//! Checks: nothing panics; a parsed traceparent formats back to a value that parses to
//! the same ids and flags; an extracted context, injected with `header_pairs` and
//! extracted again, is the same context.

#![no_main]

use std::borrow::Cow;

use dagnats_observe::propagation::{
    extract, extract_from_event, extract_from_headers, format_traceparent, header_pairs, parse_traceparent, SpanContext,
};
use libfuzzer_sys::fuzz_target;

/// At most this many header lines are read (real messages carry a handful).
const MAX_HEADERS: usize = 64;

fn check_round_trip(sc: &SpanContext) {
    let pairs: Vec<(&'static str, String)> = header_pairs(sc).collect();
    let again = extract_from_headers(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .unwrap_or_else(|| panic!("re-extracting injected headers failed: {pairs:?}"));
    assert_eq!(&again, sc, "inject/extract round trip changed the context");
}

fuzz_target!(|data: &[u8]| {
    let text: Cow<'_, str> = String::from_utf8_lossy(data);

    // The whole input as one traceparent value.
    if let Ok((trace_id, span_id, flags)) = parse_traceparent(&text) {
        let formatted = format_traceparent(trace_id, span_id, flags);
        let again = parse_traceparent(&formatted)
            .unwrap_or_else(|e| panic!("formatted traceparent {formatted:?} does not parse: {e:?}"));
        assert_eq!(again, (trace_id, span_id, flags));
    }

    // Header fields, one per line.
    let headers: Vec<(&str, &str)> =
        text.split('\n').take(MAX_HEADERS).map(|line| line.split_once(':').unwrap_or((line, ""))).collect();
    if let Some(sc) = extract_from_headers(headers.iter().copied()) {
        assert!(sc.is_remote);
        check_round_trip(&sc);
    }

    // The same input as a DagNats event body.
    if let Ok(serde_json::Value::Object(event)) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(sc) = extract_from_event(&event) {
            check_round_trip(&sc);
        }
        let _ = extract(headers.iter().copied(), Some(&event));
    }
});
