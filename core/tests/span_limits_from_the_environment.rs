//! OpenTelemetry's span-limit variables configure every Telemetry (and so every
//! language's package, which all start one through the core). The variables are set on
//! a child run of this very test binary, so no other test sees them.

use std::process::Command;

use dagnats_observe::{Attribute, Context, SpanLimits, SpanOptions, Telemetry};

const CHILD: &str = "DAGNATS_SPAN_LIMITS_CHILD";

/// Runs in the child only: prints what the limits did, as `key=value` words.
#[test]
fn child_reports_the_limits_it_runs_with() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (tel, memory) = Telemetry::in_memory("svc");
    let (_, mut span) = tel.tracer.start(&Context::new(), "s", SpanOptions::new());
    span.set_attributes((0..10).map(|i| Attribute::string(format!("k{i}"), "abcdefghij")));
    for i in 0..10 {
        span.add_event(format!("e{i}"), (0..10).map(|j| Attribute::int(format!("a{j}"), j)));
    }
    span.end();
    let r = &memory.spans()[0];
    let k0 = match r.attributes.get("k0") {
        Some(dagnats_observe::Value::String(s)) => s.chars().count(),
        other => panic!("k0 is {other:?}"),
    };
    // One line: the test harness prints its own words around the output.
    println!(
        "\nLIMITS attributes={} events={} event_attributes={} k0_length={k0}",
        r.attributes.len(),
        r.events.len(),
        r.events[0].attributes.len()
    );
}

fn child(vars: &[(&str, &str)]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_reports_the_limits_it_runs_with", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for name in [
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ] {
        command.env_remove(name);
    }
    let out = command.envs(vars.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("LIMITS "))
        .unwrap_or_else(|| panic!("no report in:\n{stdout}"))
        .to_owned()
}

#[test]
fn the_variables_set_the_limits() {
    let report = child(&[
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "7"), // the span-specific variable wins
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "4"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5"),
    ]);
    assert_eq!(report, "attributes=3 events=4 event_attributes=2 k0_length=5");
}

#[test]
fn without_variables_or_with_bad_ones_the_defaults_apply() {
    for vars in [&[][..], &[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1"), ("OTEL_SPAN_EVENT_COUNT_LIMIT", "lots")][..]] {
        let report = child(vars);
        assert_eq!(report, "attributes=10 events=10 event_attributes=10 k0_length=10");
    }
}

#[test]
fn the_general_variables_apply_when_the_span_ones_are_absent() {
    let limits = SpanLimits::from_vars(|name| match name {
        "OTEL_ATTRIBUTE_COUNT_LIMIT" => Some("7".into()),
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT" => Some(" 64 ".into()),
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT" => Some("".into()),
        _ => None,
    });
    assert_eq!(limits, SpanLimits { max_attributes: 7, max_string_length: Some(64), ..SpanLimits::default() });
}
