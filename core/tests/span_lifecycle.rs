//! The span API of the seed: options, attributes, status rules, errors, events, and
//! ending exactly once.

use dagnats_observe::{Attribute, Context, SpanKind, SpanOptions, StatusCode, Telemetry, Value, FALLBACK_SPAN_NAME};

#[test]
fn ends_exactly_once_and_ignores_calls_after_end() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let (_, mut span) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
    assert!(span.is_recording());
    span.end();
    assert!(!span.is_recording());
    span.end();
    span.set_attribute(Attribute::int("late", 1));
    span.record_error("late");
    drop(span);
    let spans = memory.spans();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].attributes.is_empty());
    assert_eq!(spans[0].status, StatusCode::Unset);
}

#[test]
fn dropping_an_unended_span_ends_it() {
    let (tel, memory) = Telemetry::in_memory("svc");
    {
        let _span = tel.tracer.start(&Context::new(), "scoped", SpanOptions::new());
    }
    assert_eq!(memory.spans()[0].name, "scoped");
}

#[test]
fn options_set_kind_and_initial_attributes() {
    let (tel, memory) = Telemetry::in_memory("svc");
    for kind in [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer] {
        let (_, mut s) = tel.tracer.start(
            &Context::new(),
            "k",
            SpanOptions::new().kind(kind).attributes([Attribute::string("a", "1"), Attribute::float("f", 0.5)]),
        );
        s.set_attribute(Attribute::bool("a", true));
        s.end();
    }
    let spans = memory.spans();
    assert_eq!(
        spans.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>(),
        ["internal", "server", "client", "producer", "consumer"]
    );
    assert_eq!(spans[0].attributes.get("a"), Some(&Value::Bool(true)), "a later set replaces the value");
    assert_eq!(spans[0].attributes.len(), 2);
}

#[test]
fn status_follows_opentelemetry_rules() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let (_, mut a) = tel.tracer.start(&Context::new(), "a", SpanOptions::new());
    a.set_status(StatusCode::Error, "bad input");
    a.set_status(StatusCode::Unset, "ignored");
    a.end();
    let (_, mut b) = tel.tracer.start(&Context::new(), "b", SpanOptions::new());
    b.set_status(StatusCode::Ok, "fine");
    b.set_status(StatusCode::Error, "too late: ok is final");
    b.end();
    let spans = memory.spans();
    assert_eq!((spans[0].status, spans[0].status_message.as_str()), (StatusCode::Error, "bad input"));
    assert_eq!((spans[1].status, spans[1].status_message.as_str()), (StatusCode::Ok, "fine"));
}

#[test]
fn record_error_sets_status_error_and_an_exception_event() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let (_, mut s) = tel.tracer.start(&Context::new(), "a", SpanOptions::new());
    s.add_event("started", [Attribute::int("n", 1)]);
    s.record_error(std::io::Error::other("disk full"));
    s.end();
    let r = &memory.spans()[0];
    assert_eq!(r.status, StatusCode::Error);
    assert_eq!(r.error, "disk full");
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].name, "started");
    assert_eq!(r.events[1].name, "exception");
    assert_eq!(r.events[1].attributes.get("exception.message"), Some(&Value::from("disk full")));
    assert!(r.events[0].time >= r.start_time && r.events[1].time <= r.end_time);
}

#[test]
fn an_exception_without_a_message_is_named_by_its_type() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let (_, mut s) = tel.tracer.start(&Context::new(), "a", SpanOptions::new());
    s.record_exception(String::new(), Some("KeyError".into()));
    s.end();
    let (_, mut t) = tel.tracer.start(&Context::new(), "b", SpanOptions::new());
    t.record_exception(String::new(), None);
    t.end();
    let spans = memory.spans();
    let event = &spans[0].events[0];
    assert_eq!((spans[0].error.as_str(), spans[0].status_message.as_str()), ("KeyError", "KeyError"));
    assert_eq!(event.attributes.get("exception.message"), Some(&Value::from("KeyError")));
    assert_eq!(event.attributes.get("exception.type"), Some(&Value::from("KeyError")));
    assert_eq!((spans[1].status, spans[1].error.as_str()), (StatusCode::Error, ""), "no type: nothing to name it by");
}

#[test]
fn children_inherit_trace_flags_and_state_and_expose_ids() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let (cx, root) = tel.tracer.start(&Context::new(), "root", SpanOptions::new());
    assert_eq!(root.traceparent(), format!("00-{}-{}-01", root.trace_id(), root.span_id()));
    assert_eq!(cx.traceparent().unwrap(), root.traceparent());
    let (_, child) = tel.tracer.start(&cx, "child", SpanOptions::new());
    assert_eq!(child.trace_id(), root.trace_id());
    assert_ne!(child.span_id(), root.span_id());
    drop(child);
    drop(root);
    let spans = memory.spans();
    assert_eq!(spans[0].parent_id, Some(spans[1].span_id));
    assert!(!spans[0].parent_is_remote);
    assert!(spans[1].end_time >= spans[0].end_time);
    assert_eq!(spans[1].duration_ms, (spans[1].end_time.unix_nanos() - spans[1].start_time.unix_nanos()) / 1_000_000);
}

#[test]
fn a_blank_name_becomes_the_fallback_name_so_no_bridge_refuses_the_span() {
    let (tel, memory) = Telemetry::in_memory("svc");
    let (_, first) = tel.tracer.start(&Context::new(), "", SpanOptions::new());
    drop(first);
    let (_, mut renamed) = tel.tracer.start(&Context::new(), "named", SpanOptions::new());
    renamed.update_name(" \t");
    drop(renamed);
    let (_, kept) = tel.tracer.start(&Context::new(), " padded ", SpanOptions::new());
    drop(kept);
    let names: Vec<String> = memory.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, [FALLBACK_SPAN_NAME, FALLBACK_SPAN_NAME, " padded "]);
}
