//! The native module `dagnats_observe._native`: registration only. The Python package
//! (python/dagnats_observe) re-exports it with the Python-only glue.

mod context;
mod convert;
mod errors;
mod propagation;
mod span;
mod telemetry;
mod tracer;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<span::SpanKind>()?;
    m.add_class::<span::StatusCode>()?;
    m.add_class::<span::SpanContext>()?;
    m.add_class::<span::Span>()?;
    m.add_class::<tracer::Tracer>()?;
    m.add_class::<telemetry::TelemetryFormat>()?;
    m.add_class::<telemetry::Telemetry>()?;
    m.add_class::<telemetry::Logger>()?;
    m.add_class::<telemetry::Metrics>()?;
    m.add_class::<telemetry::Counter>()?;
    m.add_class::<telemetry::Gauge>()?;
    m.add_class::<telemetry::Histogram>()?;
    m.add("TelemetryError", py.get_type::<errors::TelemetryError>())?;
    m.add("ConnectError", py.get_type::<errors::ConnectError>())?;
    m.add("FlushTimeoutError", py.get_type::<errors::FlushTimeoutError>())?;
    m.add_function(wrap_pyfunction!(propagation::extract, m)?)?;
    m.add_function(wrap_pyfunction!(propagation::inject, m)?)?;
    m.add_function(wrap_pyfunction!(propagation::after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(telemetry::validate_connect_options, m)?)?;
    m.add("current_span_var", context::current_span_var(py))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
