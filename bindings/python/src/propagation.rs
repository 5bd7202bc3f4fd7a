//! Propagation entry points: the Python package flattens any carrier into (name, value)
//! pairs; parsing and matching happen here, in the core.

use dagnats_observe::propagation;
use pyo3::prelude::*;

use crate::span::SpanContext;

/// The remote parent carried by header pairs, else by the event fields; None when
/// neither holds a valid traceparent.
#[pyfunction]
#[pyo3(signature = (pairs, trace_parent = None, trace_state = None))]
pub fn extract_pairs(
    pairs: Vec<(String, String)>,
    trace_parent: Option<String>,
    trace_state: Option<String>,
) -> Option<SpanContext> {
    let mut event = serde_json::Map::new();
    if let Some(tp) = trace_parent {
        event.insert(propagation::EVENT_TRACE_PARENT.into(), tp.into());
    }
    if let Some(ts) = trace_state {
        event.insert(propagation::EVENT_TRACE_STATE.into(), ts.into());
    }
    propagation::extract(pairs, Some(&event)).map(SpanContext)
}

/// The header pairs (traceparent, and tracestate when non-empty) for a span context.
#[pyfunction]
pub fn header_pairs(context: &SpanContext) -> Vec<(&'static str, String)> {
    propagation::header_pairs(&context.0).collect()
}

/// In a forked child (called from `os.register_at_fork`): reseeds the id generator and
/// gives every connected Telemetry its own connection and publisher thread.
#[pyfunction]
pub fn after_fork_in_child() {
    crate::telemetry::after_fork_in_child();
}
