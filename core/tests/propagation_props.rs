//! Property tests for W3C trace context propagation: round trips, and no panics on any
//! input.

use async_nats::HeaderMap;
use dagnats_observe::propagation::{
    extract, extract_from_event, extract_from_headers, extract_nats, format_traceparent, header_pairs, inject_event,
    inject_nats, parse_traceparent, SpanContext, TraceFlags, TraceState,
};
use dagnats_observe::{SpanId, TraceId};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn trace_id() -> impl Strategy<Value = TraceId> {
    any::<[u8; 16]>().prop_filter_map("all-zero", TraceId::from_bytes)
}

fn span_id() -> impl Strategy<Value = SpanId> {
    any::<[u8; 8]>().prop_filter_map("all-zero", SpanId::from_bytes)
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9_*/@-]{0,20}",
        "[a-z0-9][a-z0-9_*/-]{0,10}@[a-z][a-z0-9_*/-]{0,10}",
        "[a-z0-9][a-z0-9_*/@-]{250,255}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\x20-\\x2B\\x2D-\\x3C\\x3E-\\x7E]{0,30}[\\x21-\\x2B\\x2D-\\x3C\\x3E-\\x7E]",
        "[\\x21-\\x2B\\x2D-\\x3C\\x3E-\\x7E]{256}",
    ]
}

fn ows() -> impl Strategy<Value = String> {
    "[ \\t]{0,3}"
}

/// 0 to 32 members with distinct keys.
fn members() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((key(), value()), 0..=32).prop_map(|ms| {
        let mut seen = std::collections::HashSet::new();
        ms.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect()
    })
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("traceparent".to_string()),
        Just("TraceParent".to_string()),
        Just("tracestate".to_string()),
        Just("TRACESTATE".to_string()),
        "[!-9;-~]{1,12}",
        ".{0,12}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(TP.to_string()),
        "[0-9a-f-]{50,60}",
        "[ \\t]{0,2}(0[0-9a-f]|[a-f][0-9a-f])-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.{0,5})?[ \\t]{0,2}",
        "([a-z0-9@=,_ \\t-]{0,12},?){0,5}",
        ".{0,80}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        Just(Value::String(TP.to_string())),
        ".{0,60}".prop_map(Value::String),
        vec(".{0,8}".prop_map(Value::String), 0..3).prop_map(Value::Array),
    ]
}

fn event() -> impl Strategy<Value = Map<String, Value>> {
    vec((prop_oneof![Just("trace_parent".to_string()), Just("trace_state".to_string()), ".{0,8}"], json_value()), 0..4)
        .prop_map(|fields| fields.into_iter().collect())
}

proptest! {
    #[test]
    fn format_then_parse(t in trace_id(), s in span_id(), f in any::<u8>()) {
        let text = format_traceparent(t, s, TraceFlags(f));
        prop_assert_eq!(text.len(), 55);
        prop_assert_eq!(parse_traceparent(&text), Ok((t, s, TraceFlags(f))));
        // OWS around the value is ignored.
        prop_assert_eq!(parse_traceparent(&format!(" \t{text}\t ")), Ok((t, s, TraceFlags(f))));
        // Upper-case hex anywhere is rejected.
        let upper = text.to_uppercase();
        if upper != text {
            prop_assert!(parse_traceparent(&upper).is_err());
        }
    }

    #[test]
    fn future_versions_use_first_four_fields(
        t in trace_id(), s in span_id(), f in any::<u8>(), v in 1u8..0xff, rest in ".{0,20}",
    ) {
        let body = format_traceparent(t, s, TraceFlags(f));
        let text = format!("{v:02x}{}-{rest}", &body[2..]);
        prop_assert_eq!(parse_traceparent(&text), Ok((t, s, TraceFlags(f & 1))));
    }

    #[test]
    fn parse_never_panics_and_is_canonical(s in ".{0,80}") {
        if let Ok((t, sp, f)) = parse_traceparent(&s) {
            let again = format_traceparent(t, sp, f);
            let reparsed = parse_traceparent(&again);
            prop_assert_eq!(reparsed, Ok((t, sp, f)));
        }
    }

    #[test]
    fn parse_never_panics_near_valid(prefix in ".{0,3}", suffix in ".{0,3}", cut in 0usize..56) {
        let mut s = String::from(&TP[..cut]);
        s.insert_str(0, &prefix);
        s.push_str(&suffix);
        let _ = parse_traceparent(&s);
    }

    #[test]
    fn tracestate_normalize_parse_round_trip(
        ms in members(),
        pads in vec((ows(), ows(), 0usize..3), 33),
        split in 0usize..33,
    ) {
        // Render with random OWS and empty members, split over two header values.
        let mut rendered: Vec<String> = Vec::new();
        for (i, (k, v)) in ms.iter().enumerate() {
            let (before, after, empties) = &pads[i];
            rendered.push(format!("{before}{k}={v}{after}"));
            for _ in 0..*empties {
                rendered.push(before.clone());
            }
        }
        let at = split.min(rendered.len());
        let first = rendered[..at].join(",");
        let second = rendered[at..].join(",");
        let normalized: Vec<String> = ms.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let normalized = normalized.join(",");

        let ts = TraceState::from_header_values(&[&first, &second]);
        prop_assert_eq!(ts.as_str(), normalized.as_str());
        prop_assert_eq!(ts.len(), ms.len());
        prop_assert_eq!(TraceState::parse(&format!("{first},{second}")), Ok(ts.clone()));
        prop_assert_eq!(TraceState::parse(ts.as_str()), Ok(ts.clone()));
        let got: Vec<(String, String)> = ts.members().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&got, &ms);
        for (k, v) in &ms {
            prop_assert_eq!(ts.get(k), Some(v.as_str()));
        }
    }

    #[test]
    fn tracestate_never_panics_and_is_idempotent(s in ".{0,120}", t in "([a-zA-Z0-9@=,_ \\t*/-]{0,10},?){0,6}") {
        for input in [&s, &t] {
            if let Ok(ts) = TraceState::parse(input) {
                prop_assert_eq!(TraceState::parse(ts.as_str()), Ok(ts.clone()));
                prop_assert!(ts.len() <= 32);
            }
            let _ = TraceState::from_header_values(&[input, input]);
        }
    }

    #[test]
    fn insert_and_remove_keep_a_valid_list(ms in members(), k in key(), v in value()) {
        let joined: Vec<String> = ms.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ts = TraceState::parse(&joined.join(",")).unwrap();
        let ins = ts.insert(&k, &v).unwrap();
        prop_assert_eq!(ins.members().next(), Some((k.as_str(), v.as_str())));
        prop_assert!(ins.len() <= 32);
        prop_assert_eq!(TraceState::parse(ins.as_str()), Ok(ins.clone()));
        let rem = ins.remove(&k);
        prop_assert_eq!(rem.get(&k), None);
        prop_assert_eq!(TraceState::parse(rem.as_str()), Ok(rem.clone()));
    }

    #[test]
    fn extract_never_panics(
        headers in vec((header_name(), header_value()), 0..8),
        ev in event(),
    ) {
        let got = extract(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), Some(&ev));
        let from_headers = extract_from_headers(headers.clone());
        if from_headers.is_some() {
            prop_assert_eq!(&got, &from_headers);
        } else {
            prop_assert_eq!(&got, &extract_from_event(&ev));
        }
        if let Some(sc) = &got {
            prop_assert!(sc.is_remote);
        }

        // As a NATS message, with whatever names and values NATS accepts.
        let mut map = HeaderMap::new();
        for (n, v) in &headers {
            if let (Ok(n), Ok(v)) = (n.parse::<async_nats::HeaderName>(), v.parse::<async_nats::HeaderValue>()) {
                map.append(n, v);
            }
        }
        let nats = extract_nats(Some(&map), Some(&ev));
        if let Some(sc) = &nats {
            // Whatever was read can be written back and read again.
            let mut out = map.clone();
            inject_nats(sc, &mut out);
            prop_assert_eq!(extract_nats(Some(&out), None), Some(sc.clone()));
            let mut ev2 = ev.clone();
            inject_event(sc, &mut ev2);
            prop_assert_eq!(extract_from_event(&ev2), Some(sc.clone()));
            prop_assert_eq!(extract_from_headers(header_pairs(sc)), Some(sc.clone()));
        }
    }

    #[test]
    fn inject_then_extract(t in trace_id(), s in span_id(), f in any::<u8>(), ms in members()) {
        let joined: Vec<String> = ms.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sc = SpanContext {
            trace_id: t,
            span_id: s,
            trace_flags: TraceFlags(f),
            trace_state: TraceState::parse(&joined.join(",")).unwrap(),
            is_remote: true,
            baggage: Default::default(),
        };
        let mut map = HeaderMap::new();
        map.insert("TRACEPARENT", "junk");
        map.insert("TraceState", "junk=1");
        inject_nats(&sc, &mut map);
        prop_assert_eq!(extract_nats(Some(&map), None), Some(sc.clone()));
        let mut ev = Map::new();
        inject_event(&sc, &mut ev);
        prop_assert_eq!(extract_from_event(&ev), Some(sc.clone()));
    }
}
