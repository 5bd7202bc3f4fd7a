//! Carriers: header lists, NATS header maps, and DagNats event objects.
//!
//! Header names are matched ASCII case-insensitively (W3C: "Vendors MUST expect the header
//! name in any case"), although NATS compares header names byte for byte. A message must
//! carry exactly one `traceparent` value; `tracestate` may come in several fields, which
//! are joined with `,` into one list. The event fields `trace_parent`/`trace_state` carry
//! the same values and are the fallback when the header is absent or invalid.
//!
//! Nothing here panics, whatever the input.

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::{parse_traceparent, Baggage, SpanContext, TraceState};

/// Header name of the W3C `traceparent` field (sent lowercase).
pub const TRACEPARENT: &str = "traceparent";
/// Header name of the W3C `tracestate` field (sent lowercase).
pub const TRACESTATE: &str = "tracestate";
/// Header name of the W3C `baggage` field (sent lowercase).
pub const BAGGAGE: &str = "baggage";
/// Event field that carries the `traceparent` value.
pub const EVENT_TRACE_PARENT: &str = "trace_parent";
/// Event field that carries the `tracestate` value.
pub const EVENT_TRACE_STATE: &str = "trace_state";

#[inline]
fn is_traceparent(name: &str) -> bool {
    name.eq_ignore_ascii_case(TRACEPARENT)
}

#[inline]
fn is_tracestate(name: &str) -> bool {
    name.eq_ignore_ascii_case(TRACESTATE)
}

#[inline]
fn is_baggage(name: &str) -> bool {
    name.eq_ignore_ascii_case(BAGGAGE)
}

/// Whether a header is one that propagation reads and writes.
#[inline]
fn is_propagation_header(name: &str) -> bool {
    is_traceparent(name) || is_tracestate(name) || is_baggage(name)
}

/// Reads a remote span context from `(name, value)` header pairs.
///
/// Names match case-insensitively and may repeat. Returns `None` unless there is exactly
/// one `traceparent` value and it is valid. Every `tracestate` value is joined, in order,
/// into one list; an invalid list gives an empty [`TraceState`] and does not affect the
/// `traceparent`. Every `baggage` value is read as one [`Baggage`] list, its invalid
/// members dropped. The result has `is_remote = true`.
///
/// ```
/// use dagnats_observe::propagation::extract_from_headers;
///
/// let headers = [
///     ("TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
///     ("tracestate", "rojo=00f067aa0ba902b7"),
///     ("TRACESTATE", "congo=t61rcWkgMzE"),
/// ];
/// let sc = extract_from_headers(headers).unwrap();
/// assert_eq!(sc.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(sc.trace_state.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// assert!(sc.is_remote);
///
/// // Two traceparent fields: ambiguous, so no parent.
/// let twice = [
///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
/// ];
/// assert!(extract_from_headers(twice).is_none());
/// ```
pub fn extract_from_headers<I, K, V>(headers: I) -> Option<SpanContext>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut parent: Option<V> = None;
    let mut parents = 0usize;
    // Allocates only when there is a tracestate or baggage field.
    let mut states: Vec<V> = Vec::new();
    let mut baggage: Vec<V> = Vec::new();
    for (name, value) in headers {
        let name = name.as_ref();
        if is_traceparent(name) {
            parents += 1;
            parent = Some(value);
        } else if is_tracestate(name) {
            states.push(value);
        } else if is_baggage(name) {
            baggage.push(value);
        }
    }
    if parents != 1 {
        return None;
    }
    let (trace_id, span_id, trace_flags) = parse_traceparent(parent?.as_ref()).ok()?;
    // The tracestate is parsed only once the traceparent is known to be valid.
    let trace_state = TraceState::parse_values(&states).unwrap_or_default();
    let baggage = if baggage.is_empty() { Baggage::EMPTY } else { Baggage::parse_values(&baggage) };
    Some(SpanContext { trace_id, span_id, trace_flags, trace_state, is_remote: true, baggage })
}

/// A header (or event field) value as a language's carrier holds it, before any
/// judgement: the language package passes what it finds and the rules below decide.
///
/// Text is read as is; bytes are read when they are UTF-8; anything else (a number, an
/// object, bytes that are not UTF-8) is [`CarrierValue::Other`]. A carrier's list of values
/// under one name is given as several pairs of that name, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CarrierValue<'a> {
    /// A string.
    Text(&'a str),
    /// A byte string (read as UTF-8).
    Bytes(&'a [u8]),
    /// A value of another type.
    Other,
}

impl<'a> CarrierValue<'a> {
    /// The value as text, when it has one.
    pub fn as_text(self) -> Option<&'a str> {
        match self {
            CarrierValue::Text(s) => Some(s),
            CarrierValue::Bytes(b) => std::str::from_utf8(b).ok(),
            CarrierValue::Other => None,
        }
    }
}

/// Reads a remote span context from a language's carrier: `(name, value)` pairs as the
/// carrier holds them, and the DagNats event's `trace_parent` / `trace_state` values when
/// there is an event. This is the one rule every language package follows:
///
/// - names match case-insensitively and may repeat; other names are never looked at, so
///   their values may be of any type;
/// - a `traceparent` or `tracestate` value that is not text counts as a malformed value:
///   a `traceparent` then gives no parent (the event's copy is tried), a `tracestate` an
///   empty trace state. Nothing fails: the next span starts a new trace;
/// - a valid header `traceparent` wins over the event's; the `tracestate` comes from the
///   same place as the `traceparent`.
///
/// ```
/// use dagnats_observe::propagation::{extract_carrier, CarrierValue};
///
/// let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let headers = [("content-type", CarrierValue::Other), ("TraceParent", CarrierValue::Bytes(tp.as_bytes()))];
/// assert!(extract_carrier(headers, None, None).is_some());
/// // A traceparent that is a number: no parent from the header; the event's is used.
/// let headers = [("traceparent", CarrierValue::Other)];
/// assert!(extract_carrier(headers, None, None).is_none());
/// assert!(extract_carrier(headers, Some(CarrierValue::Text(tp)), None).is_some());
/// ```
pub fn extract_carrier<'a, I>(
    headers: I,
    event_trace_parent: Option<CarrierValue<'_>>,
    event_trace_state: Option<CarrierValue<'_>>,
) -> Option<SpanContext>
where
    I: IntoIterator<Item = (&'a str, CarrierValue<'a>)>,
{
    // Not text: a value no trace-context grammar accepts.
    const MALFORMED: &str = "\0";
    let pairs = headers
        .into_iter()
        .filter(|(name, _)| is_propagation_header(name))
        .map(|(name, value)| (name, value.as_text().unwrap_or(MALFORMED)));
    extract_from_headers(pairs).or_else(|| {
        let (trace_id, span_id, trace_flags) = parse_traceparent(event_trace_parent?.as_text()?).ok()?;
        let trace_state = event_trace_state
            .and_then(CarrierValue::as_text)
            .and_then(|s| TraceState::parse(s).ok())
            .unwrap_or_default();
        Some(SpanContext { trace_id, span_id, trace_flags, trace_state, is_remote: true, baggage: Baggage::EMPTY })
    })
}

/// What writing a span context into a carrier does, for every language: the one rule of
/// the dual write.
///
/// Headers: every existing field named `traceparent`, `tracestate` or `baggage` in any
/// letter case is removed ([`CarrierWrite::replaces`]), then `traceparent` is written,
/// `tracestate` when the trace state is not empty and `baggage` when there is baggage, in
/// exactly these lowercase names (the engine reads only those, first value only). Event: `trace_parent` is set, `trace_state` set or removed
/// ([`CarrierWrite::event_fields`]). So a message never carries two `traceparent` values,
/// a stale differently-cased copy, or a previous hop's `tracestate`.
///
/// ```
/// use dagnats_observe::propagation::{extract_from_headers, CarrierWrite};
///
/// let sc = extract_from_headers([("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]).unwrap();
/// let write = CarrierWrite::new(&sc);
/// // The caller's headers, as a language holds them.
/// let mut headers = vec![("TraceParent".to_owned(), "stale".to_owned()), ("run".to_owned(), "7".to_owned())];
/// headers.retain(|(name, _)| !CarrierWrite::replaces(name));
/// headers.extend(write.headers().map(|(n, v)| (n.to_owned(), v.to_owned())));
/// assert_eq!(extract_from_headers(headers.iter().map(|(n, v)| (n, v))).unwrap().span_id, sc.span_id);
/// assert_eq!(write.event_fields()[1], ("trace_state", None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierWrite {
    traceparent: String,
    tracestate: Option<String>,
    baggage: Baggage,
}

impl CarrierWrite {
    /// The write of `sc`.
    pub fn new(sc: &SpanContext) -> CarrierWrite {
        let tracestate = (!sc.trace_state.is_empty()).then(|| sc.trace_state.as_str().to_owned());
        CarrierWrite { traceparent: sc.traceparent(), tracestate, baggage: sc.baggage.clone() }
    }

    /// Whether an existing header of this name is removed before the write: a
    /// trace-context or baggage name, in any letter case.
    #[inline]
    pub fn replaces(name: &str) -> bool {
        is_propagation_header(name)
    }

    /// The headers to write, after removing those [`replaces`](Self::replaces) names:
    /// `traceparent`, `tracestate` when not empty, `baggage` when there is baggage.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        std::iter::once((TRACEPARENT, self.traceparent.as_str()))
            .chain(self.tracestate.as_deref().map(|ts| (TRACESTATE, ts)))
            .chain((!self.baggage.is_empty()).then(|| (BAGGAGE, self.baggage.as_str())))
    }

    /// The event fields: `trace_parent` with its value, and `trace_state` with its value
    /// or `None`, meaning the field is removed.
    pub fn event_fields(&self) -> [(&'static str, Option<&str>); 2] {
        [(EVENT_TRACE_PARENT, Some(self.traceparent.as_str())), (EVENT_TRACE_STATE, self.tracestate.as_deref())]
    }

    /// The `traceparent` value.
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` value, when not empty.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }
}

/// Reads a remote span context from a DagNats event's `trace_parent` and `trace_state`
/// fields. Fields that are not strings are ignored; an invalid `trace_state` gives an empty
/// [`TraceState`].
///
/// ```
/// use dagnats_observe::propagation::extract_from_event;
///
/// let event = serde_json::json!({
///     "trace_parent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
///     "trace_state": "congo=t61rcWkgMzE",
/// });
/// let sc = extract_from_event(event.as_object().unwrap()).unwrap();
/// assert_eq!(sc.span_id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(sc.trace_state.get("congo"), Some("t61rcWkgMzE"));
/// ```
pub fn extract_from_event(event: &Map<String, Value>) -> Option<SpanContext> {
    let value = event.get(EVENT_TRACE_PARENT)?.as_str()?;
    let (trace_id, span_id, trace_flags) = parse_traceparent(value).ok()?;
    let trace_state = event
        .get(EVENT_TRACE_STATE)
        .and_then(Value::as_str)
        .and_then(|s| TraceState::parse(s).ok())
        .unwrap_or_default();
    Some(SpanContext { trace_id, span_id, trace_flags, trace_state, is_remote: true, baggage: Baggage::EMPTY })
}

/// Reads a remote span context from headers, falling back to the event's fields.
///
/// A valid header `traceparent` wins; when the header is absent or invalid (including
/// repeated), the event's `trace_parent` is used. The `tracestate` always comes from the
/// same place as the `traceparent` it goes with.
///
/// ```
/// use dagnats_observe::propagation::extract;
///
/// let event = serde_json::json!({
///     "trace_parent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// });
/// // The header was mangled in transit: the event's copy is used.
/// let headers = [("traceparent", "garbage")];
/// let sc = extract(headers, event.as_object()).unwrap();
/// assert_eq!(sc.span_id.to_string(), "00f067aa0ba902b7");
/// ```
pub fn extract<I, K, V>(headers: I, event: Option<&Map<String, Value>>) -> Option<SpanContext>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    extract_from_headers(headers).or_else(|| event.and_then(extract_from_event))
}

/// [`extract`] for a NATS message: every name and every value of `headers` is read (the
/// map's own `get` returns one value and compares names byte for byte).
///
/// When one `tracestate` is split over names that differ only in case, their values are
/// joined with the lowercase name first, then the others in byte order (the map does not
/// keep the wire order between names).
///
/// ```
/// use async_nats::HeaderMap;
/// use dagnats_observe::propagation::extract_nats;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// let sc = extract_nats(Some(&headers), None).unwrap();
/// assert!(sc.trace_flags.is_sampled());
/// ```
pub fn extract_nats(headers: Option<&HeaderMap>, event: Option<&Map<String, Value>>) -> Option<SpanContext> {
    let mut fields: Vec<(&str, &Vec<HeaderValue>)> = Vec::new();
    if let Some(headers) = headers {
        for (name, values) in headers.iter() {
            let name: &str = name.as_ref();
            if is_propagation_header(name) {
                fields.push((name, values));
            }
        }
    }
    fields.sort_unstable_by_key(|&(name, _)| (name != TRACEPARENT && name != TRACESTATE && name != BAGGAGE, name));
    let pairs = fields.iter().flat_map(|&(name, values)| values.iter().map(move |v| (name, v.as_str())));
    extract(pairs, event)
}

/// The headers to write for `sc`: `traceparent`, `tracestate` when it is not empty,
/// `baggage` when there is baggage.
///
/// ```
/// use dagnats_observe::propagation::{extract_from_headers, header_pairs};
///
/// let sc = extract_from_headers([
///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
/// ])
/// .unwrap();
/// let pairs: Vec<_> = header_pairs(&sc).collect();
/// assert_eq!(pairs.len(), 1);
/// assert_eq!(pairs[0].0, "traceparent");
/// ```
pub fn header_pairs(sc: &SpanContext) -> impl Iterator<Item = (&'static str, String)> {
    let state = (!sc.trace_state.is_empty()).then(|| (TRACESTATE, sc.trace_state.as_str().to_owned()));
    let baggage = (!sc.baggage.is_empty()).then(|| (BAGGAGE, sc.baggage.as_str().to_owned()));
    std::iter::once((TRACEPARENT, sc.traceparent())).chain(state).chain(baggage)
}

/// Writes `sc` into NATS headers as `traceparent` (and `tracestate` and `baggage` when
/// not empty).
///
/// Any existing field with one of these names, in any letter case, is removed first, so
/// the message never carries two `traceparent` values or a stale `tracestate` or
/// `baggage`.
///
/// ```
/// use async_nats::HeaderMap;
/// use dagnats_observe::propagation::{extract_nats, inject_nats, TraceFlags};
/// use dagnats_observe::{SpanId, TraceId};
///
/// let sc = dagnats_observe::propagation::SpanContext {
///     trace_id: TraceId::random(),
///     span_id: SpanId::random(),
///     trace_flags: TraceFlags::SAMPLED,
///     trace_state: Default::default(),
///     is_remote: false,
///     baggage: Default::default(),
/// };
/// let mut headers = HeaderMap::new();
/// headers.insert("TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// inject_nats(&sc, &mut headers);
/// assert_eq!(headers.len(), 1);
/// assert_eq!(extract_nats(Some(&headers), None).unwrap().span_id, sc.span_id);
/// ```
pub fn inject_nats(sc: &SpanContext, headers: &mut HeaderMap) {
    let stale = headers.iter().any(|(name, _)| {
        let name: &str = name.as_ref();
        // The exact lowercase names are replaced by `insert` below; other spellings, and a
        // tracestate we are not going to write, must go.
        (is_traceparent(name) && name != TRACEPARENT)
            || (is_tracestate(name) && (name != TRACESTATE || sc.trace_state.is_empty()))
            || (is_baggage(name) && (name != BAGGAGE || sc.baggage.is_empty()))
    });
    if stale {
        let mut kept = HeaderMap::new();
        for (name, values) in headers.iter() {
            let n: &str = name.as_ref();
            if is_propagation_header(n) {
                continue;
            }
            for value in values {
                kept.append(HeaderName::clone(name), value.clone());
            }
        }
        *headers = kept;
    }
    // Both values are ASCII without CR/LF, which is all the map requires.
    headers.insert(TRACEPARENT, sc.traceparent());
    if !sc.trace_state.is_empty() {
        headers.insert(TRACESTATE, sc.trace_state.as_str());
    }
    if !sc.baggage.is_empty() {
        // Checked by the Baggage grammar: printable ASCII, no CR/LF.
        headers.insert(BAGGAGE, sc.baggage.as_str());
    }
}

/// Writes `sc` into a DagNats event's `trace_parent` and `trace_state` fields; an empty
/// trace state removes `trace_state`.
///
/// ```
/// use dagnats_observe::propagation::{extract_from_headers, inject_event};
///
/// let sc = extract_from_headers([
///     ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
/// ])
/// .unwrap();
/// let mut event = serde_json::Map::new();
/// event.insert("trace_state".into(), "stale=1".into());
/// inject_event(&sc, &mut event);
/// assert_eq!(event["trace_parent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert!(!event.contains_key("trace_state"));
/// ```
pub fn inject_event(sc: &SpanContext, event: &mut Map<String, Value>) {
    for (field, value) in CarrierWrite::new(sc).event_fields() {
        match value {
            Some(value) => event.insert(field.to_owned(), Value::String(value.to_owned())),
            None => event.remove(field),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{SpanId, TraceId};
    use crate::propagation::TraceFlags;
    use serde_json::json;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const TP2: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    fn sc(tp: &str, ts: &str) -> SpanContext {
        let (trace_id, span_id, trace_flags) = parse_traceparent(tp).unwrap();
        SpanContext {
            trace_id,
            span_id,
            trace_flags,
            trace_state: TraceState::parse(ts).unwrap(),
            is_remote: false,
            baggage: Baggage::EMPTY,
        }
    }

    #[test]
    fn headers_case_insensitive_and_joined() {
        let got = extract_from_headers(vec![
            ("content-type".to_string(), "x".to_string()),
            ("TRACEPARENT".to_string(), TP.to_string()),
            ("tracestate".to_string(), "a=1".to_string()),
            ("TraceState".to_string(), "b=2".to_string()),
        ])
        .unwrap();
        assert_eq!(got.traceparent(), TP);
        assert_eq!(got.trace_state.as_str(), "a=1,b=2");
        assert!(got.is_remote);
    }

    #[test]
    fn headers_reject_missing_repeated_invalid() {
        assert!(extract_from_headers(Vec::<(&str, &str)>::new()).is_none());
        assert!(extract_from_headers([("tracestate", "a=1")]).is_none());
        assert!(extract_from_headers([("traceparent", TP), ("TraceParent", TP)]).is_none());
        assert!(extract_from_headers([("traceparent", TP), ("traceparent", TP2)]).is_none());
        assert!(extract_from_headers([("traceparent", "00-xyz")]).is_none());
        assert!(extract_from_headers([("trace-parent", TP)]).is_none());
        // A bad tracestate does not spoil the traceparent.
        let got = extract_from_headers([("traceparent", TP), ("tracestate", "a=1,a=2")]).unwrap();
        assert!(got.trace_state.is_empty());
    }

    #[test]
    fn event_fallback_and_precedence() {
        let event = json!({"trace_parent": TP2, "trace_state": "ev=1"});
        let event = event.as_object();
        // Header wins, with its own (absent) tracestate.
        let got = extract([("traceparent", TP)], event).unwrap();
        assert_eq!(got.traceparent(), TP);
        assert!(got.trace_state.is_empty());
        // Absent or invalid header: the event, with its tracestate.
        for headers in [vec![], vec![("traceparent", "bad")], vec![("traceparent", TP), ("traceparent", TP)]] {
            let got = extract(headers, event).unwrap();
            assert_eq!(got.traceparent(), TP2);
            assert_eq!(got.trace_state.as_str(), "ev=1");
        }
        // A header tracestate never pairs with the event's traceparent.
        let got = extract([("tracestate", "hdr=1")], event).unwrap();
        assert_eq!(got.trace_state.as_str(), "ev=1");
        assert!(extract(Vec::<(&str, &str)>::new(), None).is_none());
    }

    #[test]
    fn event_field_types() {
        for ev in [json!({}), json!({"trace_parent": 5}), json!({"trace_parent": null}), json!({"trace_parent": [TP]})]
        {
            assert!(extract_from_event(ev.as_object().unwrap()).is_none(), "{ev}");
        }
        let ev = json!({"trace_parent": TP, "trace_state": 7});
        assert!(extract_from_event(ev.as_object().unwrap()).unwrap().trace_state.is_empty());
        let ev = json!({"trace_parent": TP, "trace_state": "A=1"});
        assert!(extract_from_event(ev.as_object().unwrap()).unwrap().trace_state.is_empty());
    }

    #[test]
    fn nats_reads_all_names_and_values() {
        let mut h = HeaderMap::new();
        h.insert("Traceparent", TP);
        h.append("tracestate", "a=1");
        h.append("tracestate", "b=2");
        h.insert("TRACESTATE", "c=3");
        h.insert("Other", "x");
        let got = extract_nats(Some(&h), None).unwrap();
        assert_eq!(got.traceparent(), TP);
        assert_eq!(got.trace_state.as_str(), "a=1,b=2,c=3");

        let mut h = HeaderMap::new();
        h.append("traceparent", TP);
        h.append("traceparent", TP);
        assert!(extract_nats(Some(&h), None).is_none());
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP);
        h.insert("TraceParent", TP);
        assert!(extract_nats(Some(&h), None).is_none());
        assert!(extract_nats(None, None).is_none());
        let ev = json!({"trace_parent": TP2});
        assert_eq!(extract_nats(Some(&h), ev.as_object()).unwrap().traceparent(), TP2);
    }

    #[test]
    fn inject_nats_replaces_all_variants() {
        let mut h = HeaderMap::new();
        h.insert("TraceParent", TP2);
        h.append("traceparent", TP2);
        h.insert("TRACESTATE", "old=1");
        h.append("keep", "1");
        h.append("keep", "2");
        let ctx = sc(TP, "new=1");
        inject_nats(&ctx, &mut h);
        assert_eq!(h.get_all("traceparent").count(), 1);
        assert_eq!(h.get("traceparent").map(|v| v.as_str()), Some(TP));
        assert_eq!(h.get("tracestate").map(|v| v.as_str()), Some("new=1"));
        assert!(h.get("TraceParent").is_none());
        assert!(h.get("TRACESTATE").is_none());
        assert_eq!(h.get_all("keep").map(|v| v.as_str()).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(extract_nats(Some(&h), None).unwrap().trace_state.as_str(), "new=1");

        // An empty trace state removes the old one.
        inject_nats(&sc(TP2, ""), &mut h);
        assert!(h.get("tracestate").is_none());
        assert_eq!(h.get("traceparent").map(|v| v.as_str()), Some(TP2));
    }

    #[test]
    fn inject_event_dual_write() {
        let mut ev = Map::new();
        inject_event(&sc(TP, "a=1"), &mut ev);
        assert_eq!(ev[EVENT_TRACE_PARENT], TP);
        assert_eq!(ev[EVENT_TRACE_STATE], "a=1");
        let back = extract_from_event(&ev).unwrap();
        assert_eq!(back.trace_state.as_str(), "a=1");
        inject_event(&sc(TP, ""), &mut ev);
        assert!(!ev.contains_key(EVENT_TRACE_STATE));
    }

    #[test]
    fn baggage_is_carried_through_a_hop_in_the_lowercase_name() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut incoming = HeaderMap::new();
        incoming.insert("traceparent", tp);
        incoming.append("Baggage", "userId=alice, bad value=1");
        incoming.append("Baggage", "isProduction=false;ttl=30");
        let parent = extract_nats(Some(&incoming), None).unwrap();
        assert_eq!(parent.baggage.as_str(), "userId=alice,isProduction=false;ttl=30");

        // A child span of it, in another process: the baggage goes on unchanged.
        let (tel, _memory) = crate::Telemetry::in_memory("svc");
        let span = tel.tracer.start_span("hop", Some(&parent), crate::SpanOptions::new());
        let mut outgoing = HeaderMap::new();
        outgoing.insert("BAGGAGE", "stale=1");
        inject_nats(span.span_context(), &mut outgoing);
        let names: Vec<String> = outgoing.iter().map(|(n, _)| n.to_string()).collect();
        assert!(!names.iter().any(|n| n == "BAGGAGE"), "{names:?}");
        let values: Vec<&str> = outgoing.get_all("baggage").map(|v| v.as_str()).collect();
        assert_eq!(values, ["userId=alice,isProduction=false;ttl=30"], "one lowercase value");
        let write = CarrierWrite::new(span.span_context());
        assert_eq!(write.headers().last(), Some((BAGGAGE, "userId=alice,isProduction=false;ttl=30")));
        assert!(CarrierWrite::replaces("BaGgAgE"));

        // No baggage: none written, a stale one removed.
        let root = tel.tracer.start_span("root", None, crate::SpanOptions::new());
        inject_nats(root.span_context(), &mut outgoing);
        assert_eq!(outgoing.get_all("baggage").count(), 0);
        assert_eq!(header_pairs(root.span_context()).count(), 1);
    }

    #[test]
    fn header_pairs_round_trip() {
        let ctx = SpanContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            trace_flags: TraceFlags(0x03),
            trace_state: TraceState::parse("a=1").unwrap(),
            is_remote: false,
            baggage: Baggage::EMPTY,
        };
        let pairs: Vec<_> = header_pairs(&ctx).collect();
        assert_eq!(pairs.len(), 2);
        let back = extract_from_headers(pairs).unwrap();
        assert_eq!(back, SpanContext { is_remote: true, ..ctx.clone() });
        let no_state = SpanContext { trace_state: TraceState::EMPTY, ..ctx };
        assert_eq!(header_pairs(&no_state).count(), 1);
    }
}
