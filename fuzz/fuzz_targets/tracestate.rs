//! `tracestate` parsing, joining of repeated header values, insert and remove.
//!
//! Input (read lossily as UTF-8): lines. Every line is a `tracestate` header value: the
//! whole input is parsed with `TraceState::parse`, the lines with `from_header_values`.
//! Each line is also split at its first `=` into a key and a value that are inserted into
//! the parsed list, and its key removed again.
//!
//! Checks: nothing panics; a parsed list is in normal form (parsing its text gives it
//! back) and holds at most 32 valid members with distinct keys; `from_header_values` is
//! the parse of the values joined with commas; `insert` puts the member first, keeps at
//! most 32 members and stays parseable; `remove` takes the key out and stays parseable.

#![no_main]

use dagnats_observe::propagation::TraceState;
use libfuzzer_sys::fuzz_target;

/// At most this many lines are used as header values and as insert/remove operations.
const MAX_LINES: usize = 40;

fn check_normal(ts: &TraceState) {
    let reparsed = TraceState::parse(ts.as_str())
        .unwrap_or_else(|e| panic!("normalized tracestate {:?} does not parse: {e:?}", ts.as_str()));
    assert_eq!(&reparsed, ts, "tracestate is not in normal form");
    let members: Vec<(&str, &str)> = ts.members().collect();
    assert_eq!(members.len(), ts.len());
    assert!(members.len() <= TraceState::MAX_MEMBERS);
    assert_eq!(ts.is_empty(), members.is_empty());
    for (i, (k, v)) in members.iter().enumerate() {
        assert!(TraceState::is_valid_key(k), "invalid key {k:?} kept");
        assert!(TraceState::is_valid_value(v), "invalid value {v:?} kept");
        assert!(!members[..i].iter().any(|(k2, _)| k2 == k), "duplicate key {k:?} kept");
        assert_eq!(ts.get(k), Some(*v));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let parsed = TraceState::parse(&text);
    if let Ok(ts) = &parsed {
        check_normal(ts);
    }

    let lines: Vec<&str> = text.split('\n').take(MAX_LINES).collect();
    let joined = TraceState::from_header_values(&lines);
    check_normal(&joined);
    assert_eq!(
        joined,
        TraceState::parse(&lines.join(",")).unwrap_or_default(),
        "from_header_values differs from parsing the joined values"
    );

    let mut ts = parsed.unwrap_or_default();
    for line in &lines {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        match ts.insert(key, value) {
            Ok(next) => {
                assert!(TraceState::is_valid_key(key) && TraceState::is_valid_value(value));
                assert_eq!(next.members().next(), Some((key, value)));
                assert_eq!(next.get(key), Some(value));
                check_normal(&next);
                let removed = next.remove(key);
                assert_eq!(removed.get(key), None);
                check_normal(&removed);
                ts = next;
            }
            Err(_) => {
                assert!(!TraceState::is_valid_key(key) || !TraceState::is_valid_value(value));
                let removed = ts.remove(key);
                assert_eq!(removed.get(key), None);
                check_normal(&removed);
            }
        }
    }
});
