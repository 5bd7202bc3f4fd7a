//! Python exception classes, and the one conversion from core errors.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::{PyErr, Python};

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
        Error::Options(e) => options_error(e),
        Error::Timeout { pending } => {
            FlushTimeoutError::new_err((format!("{} records not yet acknowledged", pending), pending))
        }
        other => TelemetryError::new_err(other.to_string()),
    }
}

/// The core's verdict on connection options as Python's exception: TypeError when an
/// argument that goes with another is missing (a user without a password, or the
/// reverse), ValueError for every other rule. `.kind` holds the rule's stable name
/// (`conflicting_credentials`, ...), the message names Python's keywords.
pub fn options_error(e: dagnats_observe::nats::NatsOptionsError) -> PyErr {
    use dagnats_observe::nats::{NatsField, NatsOptionsErrorKind as K};
    use pyo3::types::PyAnyMethods;
    let message = e.message(|f| match f {
        NatsField::Url => "nats_url".to_owned(),
        other => other.name().to_owned(),
    });
    let err = match e.kind() {
        K::MissingPassword | K::MissingUser => PyTypeError::new_err(message),
        _ => PyValueError::new_err(message),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("kind", e.kind().name());
    });
    err
}
