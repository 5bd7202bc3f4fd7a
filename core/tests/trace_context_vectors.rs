//! Runs every case of the shared `testdata/trace-context-vectors.json` through the public
//! propagation API (header lists, NATS header maps, event objects, tracestate, format).

use std::collections::HashSet;
use std::str::FromStr;

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use dagnats_observe::propagation::{
    extract, extract_from_headers, extract_nats, format_traceparent, header_pairs, inject_event, inject_nats,
    parse_traceparent, SpanContext, TraceFlags, TraceState,
};
use dagnats_observe::{SpanId, TraceId};
use serde_json::{Map, Value};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/trace-context-vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vectors file is valid JSON")
}

fn group<'a>(v: &'a Value, name: &str) -> &'a Vec<Value> {
    let cases = v[name].as_array().unwrap_or_else(|| panic!("group {name} is missing"));
    assert!(!cases.is_empty(), "group {name} is empty");
    let names: HashSet<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    if name != "format" {
        assert_eq!(names.len(), cases.len(), "case names in {name} must be present and unique");
    }
    cases
}

fn headers(case: &Value) -> Vec<(String, String)> {
    case["headers"]
        .as_array()
        .expect("headers is an array")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("header is a [name, value] pair");
            assert_eq!(pair.len(), 2);
            (pair[0].as_str().unwrap().to_owned(), pair[1].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The same headers as a NATS map, or `None` when NATS could not carry them (CR/LF).
fn nats_map(headers: &[(String, String)]) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_str(name).ok()?;
        let value = HeaderValue::from_str(value).ok()?;
        map.append(name, value);
    }
    Some(map)
}

/// True when all tracestate fields use one spelling, so a map keeps their order.
fn one_tracestate_spelling(headers: &[(String, String)]) -> bool {
    let spellings: HashSet<&str> =
        headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("tracestate")).map(|(n, _)| n.as_str()).collect();
    spellings.len() <= 1
}

fn check_expected(name: &str, case: &Value, got: Option<&SpanContext>, check_state: bool) {
    let valid = case["valid"].as_bool().expect("valid is a bool");
    match (valid, got) {
        (false, None) => {}
        (false, Some(sc)) => panic!("{name}: expected invalid, got {sc:?}"),
        (true, None) => panic!("{name}: expected a span context, got none"),
        (true, Some(sc)) => {
            assert_eq!(sc.trace_id.to_string(), case["trace_id"].as_str().unwrap(), "{name}: trace_id");
            assert_eq!(sc.span_id.to_string(), case["span_id"].as_str().unwrap(), "{name}: span_id");
            if let Some(flags) = case.get("flags").and_then(Value::as_u64) {
                assert_eq!(u64::from(sc.trace_flags.0), flags, "{name}: flags");
            }
            if check_state {
                let want = case["tracestate"].as_str().unwrap_or("");
                assert_eq!(sc.trace_state.as_str(), want, "{name}: tracestate");
            }
            assert!(sc.is_remote, "{name}: is_remote");
        }
    }
}

/// Writing a context and reading it back gives the same context.
fn check_round_trip(name: &str, sc: &SpanContext) {
    let back = extract_from_headers(header_pairs(sc)).expect("own headers parse");
    assert_eq!(&back, sc, "{name}: header_pairs round trip");

    let mut map = HeaderMap::new();
    inject_nats(sc, &mut map);
    assert_eq!(extract_nats(Some(&map), None).as_ref(), Some(sc), "{name}: NATS round trip");

    let mut event = Map::new();
    inject_event(sc, &mut event);
    let no_headers: [(&str, &str); 0] = [];
    assert_eq!(extract(no_headers, Some(&event)).as_ref(), Some(sc), "{name}: event round trip");
}

#[test]
fn traceparent_vectors() {
    let v = vectors();
    for case in group(&v, "traceparent") {
        let name = case["name"].as_str().unwrap();
        let headers = headers(case);
        let got = extract_from_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        check_expected(name, case, got.as_ref(), true);

        // Owned pairs work too.
        assert_eq!(extract_from_headers(headers.clone()), got, "{name}: owned pairs");

        // The same case as a NATS message.
        if let Some(map) = nats_map(&headers) {
            let nats = extract_nats(Some(&map), None);
            check_expected(name, case, nats.as_ref(), one_tracestate_spelling(&headers));
        }

        // A single traceparent header value parses the same way on its own.
        let values: Vec<&str> =
            headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("traceparent")).map(|(_, v)| v.as_str()).collect();
        if let [value] = values[..] {
            let parsed = parse_traceparent(value).ok();
            let from_headers = got.as_ref().map(|sc| (sc.trace_id, sc.span_id, sc.trace_flags));
            assert_eq!(parsed, from_headers, "{name}: parse_traceparent agrees");
        }

        if let Some(sc) = &got {
            check_round_trip(name, sc);
        }
    }
}

#[test]
fn event_vectors() {
    let v = vectors();
    for case in group(&v, "event") {
        let name = case["name"].as_str().unwrap();
        let headers = headers(case);
        let event = case["event"].as_object().expect("event is an object");
        let got = extract(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), Some(event));
        check_expected(name, case, got.as_ref(), true);

        if let Some(map) = nats_map(&headers) {
            let nats = extract_nats(Some(&map), Some(event));
            check_expected(name, case, nats.as_ref(), one_tracestate_spelling(&headers));
        }
        if let Some(sc) = &got {
            check_round_trip(name, sc);
        }
    }
}

#[test]
fn tracestate_vectors() {
    let v = vectors();
    for case in group(&v, "tracestate") {
        let name = case["name"].as_str().unwrap();
        let values: Vec<&str> = case["values"]
            .as_array()
            .expect("values is an array")
            .iter()
            .map(|s| s.as_str().expect("values are strings"))
            .collect();
        let valid = case["valid"].as_bool().unwrap();
        let joined = values.join(",");
        let parsed = TraceState::parse(&joined);
        assert_eq!(parsed.is_ok(), valid, "{name}: parse({joined:?}) = {parsed:?}");
        let from_values = TraceState::from_header_values(&values);
        if valid {
            let want = case["normalized"].as_str().expect("normalized for a valid case");
            let ts = parsed.unwrap();
            assert_eq!(ts.as_str(), want, "{name}: normalized");
            assert_eq!(from_values, ts, "{name}: from_header_values");
            assert_eq!(ts.is_empty(), want.is_empty(), "{name}: is_empty");
            // The normalized form is its own normal form.
            assert_eq!(TraceState::parse(want).as_ref(), Ok(&ts), "{name}: normalized re-parses");
            // Members rebuild the header value.
            let rebuilt: Vec<String> = ts.members().map(|(k, v)| format!("{k}={v}")).collect();
            assert_eq!(rebuilt.join(","), want, "{name}: members");
            for (k, val) in ts.members() {
                assert_eq!(ts.get(k), Some(val), "{name}: get({k})");
            }
        } else {
            assert!(from_values.is_empty(), "{name}: invalid gives empty");
        }
    }
}

#[test]
fn format_vectors() {
    let v = vectors();
    for case in group(&v, "format") {
        let trace = TraceId::from_hex(case["trace_id"].as_str().unwrap()).unwrap();
        let span = SpanId::from_hex(case["span_id"].as_str().unwrap()).unwrap();
        let flags = TraceFlags(u8::try_from(case["flags"].as_u64().unwrap()).unwrap());
        let want = case["traceparent"].as_str().unwrap();
        assert_eq!(format_traceparent(trace, span, flags), want);
        assert_eq!(parse_traceparent(want), Ok((trace, span, flags)));
    }
}
