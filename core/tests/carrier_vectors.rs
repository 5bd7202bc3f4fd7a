//! Runs every case of the shared `testdata/carrier-vectors.json`: a language's header
//! object read as it comes (`extract_carrier`, values of any type) and written by the one
//! rule (`CarrierWrite`, applied here to a list of pairs and a JSON event, as a language
//! package applies it to its own objects), and the same writes through `inject_nats` and
//! `inject_event`.

use std::collections::HashSet;

use async_nats::HeaderMap;
use dagnats_observe::propagation::{
    extract_carrier, extract_from_headers, extract_nats, inject_event, inject_nats, CarrierValue, CarrierWrite,
};
use serde_json::{Map, Value};

fn group(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/carrier-vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let v: Value = serde_json::from_str(&text).expect("vectors file is valid JSON");
    let cases = v[name].as_array().unwrap_or_else(|| panic!("group {name} is missing")).clone();
    let names: HashSet<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(!cases.is_empty() && names.len() == cases.len(), "{name}: cases present, names unique");
    cases
}

/// A JSON value as a carrier holds it: text is text, anything else another type.
fn carrier_value(v: &Value) -> CarrierValue<'_> {
    v.as_str().map_or(CarrierValue::Other, CarrierValue::Text)
}

/// The `(name, value)` pairs of a case's headers, a list value giving one per item.
fn pairs(case: &Value) -> Vec<(&str, &Value)> {
    let mut out = Vec::new();
    for pair in case["headers"].as_array().expect("headers is a list") {
        let name = pair[0].as_str().expect("a header name is text");
        match &pair[1] {
            Value::Array(items) => out.extend(items.iter().map(|v| (name, v))),
            v => out.push((name, v)),
        }
    }
    out
}

#[test]
fn extract_cases() {
    for case in group("extract") {
        let name = case["name"].as_str().unwrap();
        let event = case.get("event");
        let field = |f: &str| event.and_then(|e| e.get(f)).map(carrier_value);
        let got = extract_carrier(
            pairs(&case).into_iter().map(|(n, v)| (n, carrier_value(v))),
            field("trace_parent"),
            field("trace_state"),
        );
        if case["valid"].as_bool().unwrap() {
            let sc = got.unwrap_or_else(|| panic!("{name}: a parent"));
            assert_eq!(sc.span_id.to_string(), case["span_id"].as_str().unwrap(), "{name}");
            assert_eq!(sc.trace_state.as_str(), case["tracestate"].as_str().unwrap(), "{name}");
            assert_eq!(sc.baggage.as_str(), case["baggage"].as_str().unwrap_or(""), "{name}: baggage");
            assert!(sc.is_remote, "{name}");
        } else {
            assert!(got.is_none(), "{name}: no parent");
        }
    }
}

#[test]
fn inject_cases() {
    for case in group("inject") {
        let name = case["name"].as_str().unwrap();
        let mut header_list: Vec<(String, String)> = pairs(&case)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.as_str().expect("inject headers are text").to_owned()))
            .collect();
        let mut source = vec![("traceparent", case["traceparent"].as_str().unwrap())];
        if let Some(ts) = case["tracestate"].as_str().filter(|s| !s.is_empty()) {
            source.push(("tracestate", ts));
        }
        let baggage = case["baggage"].as_str().unwrap_or("");
        if !baggage.is_empty() {
            source.push(("baggage", baggage));
        }
        let sc = extract_from_headers(source).unwrap_or_else(|| panic!("{name}: a valid context"));
        assert_eq!(sc.baggage.as_str(), baggage, "{name}: the case's baggage is normalized");
        let write = CarrierWrite::new(&sc);

        // As a language package does it: drop what the write replaces, append the write.
        header_list.retain(|(n, _)| !CarrierWrite::replaces(n));
        header_list.extend(write.headers().map(|(n, v)| (n.to_owned(), v.to_owned())));
        let want: Vec<(String, String)> = case["headers_after"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(header_list, want, "{name}: headers");

        let mut event: Map<String, Value> = case["event"].as_object().unwrap().clone();
        let mut by_fields = event.clone();
        for (field, value) in write.event_fields() {
            match value {
                Some(v) => by_fields.insert(field.to_owned(), v.into()),
                None => by_fields.remove(field),
            };
        }
        inject_event(&sc, &mut event);
        assert_eq!(Value::Object(event), case["event_after"], "{name}: inject_event");
        assert_eq!(Value::Object(by_fields), case["event_after"], "{name}: event_fields");

        // The NATS map (which does not keep order between names) ends with the same fields.
        let mut map = HeaderMap::new();
        for (n, v) in pairs(&case) {
            map.append(n, v.as_str().unwrap());
        }
        inject_nats(&sc, &mut map);
        let mut got: Vec<(String, String)> =
            map.iter().flat_map(|(n, vs)| vs.iter().map(move |v| (n.to_string(), v.as_str().to_owned()))).collect();
        let mut want_sorted = want.clone();
        got.sort();
        want_sorted.sort();
        assert_eq!(got, want_sorted, "{name}: inject_nats");
        assert_eq!(extract_nats(Some(&map), None).map(|c| c.span_id), Some(sc.span_id), "{name}");
    }
}
