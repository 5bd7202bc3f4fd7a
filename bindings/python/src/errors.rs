//! Python exception classes, and the one conversion from core errors.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(dagnats_observe, TelemetryError, PyException, "Base class of every dagnats_observe error.");
create_exception!(
    dagnats_observe,
    ConnectError,
    TelemetryError,
    "NATS refused the connection (bad credentials, TLS, URL)."
);
create_exception!(
    dagnats_observe,
    FlushTimeoutError,
    TelemetryError,
    "flush() or close() ran out of time; `pending` records were not yet acknowledged."
);

/// Maps a core error to its Python exception.
pub fn to_py(e: dagnats_observe::Error) -> PyErr {
    use dagnats_observe::Error;
    match e {
        Error::Connect(m) => ConnectError::new_err(m),
        Error::Timeout { pending } => {
            FlushTimeoutError::new_err((format!("{} records not yet acknowledged", pending), pending))
        }
        other => TelemetryError::new_err(other.to_string()),
    }
}
