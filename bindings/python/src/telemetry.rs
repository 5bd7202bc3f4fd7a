//! The Telemetry bundle, the logger and the metric instruments.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dagnats_observe::nats::{connect_timeout_secs, NatsOptions};
use dagnats_observe::{CollectorOptions, Level, MemorySink, TelemetryFormat as CoreFormat};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::context::resolve_parent;
use crate::convert;
use crate::errors::{options_error, to_py};
use crate::tracer::Tracer;

/// Runs in a forked child (from `os.register_at_fork`): the core reseeds the ids and
/// reconnects every collector of the process.
pub fn after_fork_in_child() {
    if let Err(e) = dagnats_observe::fork::after_fork_in_child() {
        eprintln!("dagnats_observe: the forked child could not reconnect its telemetry: {e}");
    }
}

fn timeout(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| PyValueError::new_err(format!("timeout must be a non-negative number of seconds, got {seconds}")))
}

/// The NATS keywords of `Telemetry.connect` and `validate_connect_options` (typed in
/// the stub): `nats_url` and these, each falling back to its `NATS_*` variable.
const NATS_KEYWORDS: [&str; 11] = [
    "user",
    "password",
    "token",
    "nkey",
    "credentials_file",
    "tls_required",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "connect_timeout",
    "name",
];

/// The core's options: the environment's (read by the core), the keywords given over
/// them, judged by the core's validation (its error becomes TypeError or ValueError).
/// Only types are checked here.
fn nats_options(nats_url: Option<String>, keywords: Option<&Bound<'_, PyDict>>) -> PyResult<NatsOptions> {
    let mut o = NatsOptions::from_env();
    if let Some(url) = nats_url {
        o.url = url;
    }
    if let Some(keywords) = keywords {
        for key in keywords.keys() {
            let key: String = key.extract()?;
            if !NATS_KEYWORDS.contains(&key.as_str()) {
                return Err(PyTypeError::new_err(format!("unexpected keyword argument '{key}'")));
            }
        }
        let get =
            |key: &str| -> PyResult<Option<Bound<'_, PyAny>>> { Ok(keywords.get_item(key)?.filter(|v| !v.is_none())) };
        let text = |key: &str, from_env: Option<String>| -> PyResult<Option<String>> {
            Ok(get(key)?.map(|v| v.extract::<String>()).transpose()?.or(from_env))
        };
        let path = |key: &str, from_env: Option<PathBuf>| -> PyResult<Option<PathBuf>> {
            Ok(get(key)?.map(|v| v.extract::<PathBuf>()).transpose()?.or(from_env))
        };
        o.user = text("user", o.user.take())?;
        o.password = text("password", o.password.take())?;
        o.token = text("token", o.token.take())?;
        o.nkey = text("nkey", o.nkey.take())?;
        o.credentials_file = path("credentials_file", o.credentials_file.take())?;
        if let Some(required) = get("tls_required")? {
            o.tls.required = required.extract()?;
        }
        o.tls.ca_file = path("tls_ca_file", o.tls.ca_file.take())?;
        o.tls.cert_file = path("tls_cert_file", o.tls.cert_file.take())?;
        o.tls.key_file = path("tls_key_file", o.tls.key_file.take())?;
        o.name = text("name", None)?;
        if let Some(seconds) = get("connect_timeout")? {
            o.connect_timeout = connect_timeout_secs(seconds.extract()?).map_err(options_error)?;
        }
    }
    o.validate().map_err(options_error)?;
    Ok(o)
}

/// Checks connection options as Telemetry.connect does, without connecting: returns the
/// server list, or raises what connect would raise (TypeError for a user without a
/// password or the reverse, ValueError for the rest; `.kind` names the rule).
#[pyfunction]
#[pyo3(signature = (nats_url = None, **nats))]
pub fn validate_connect_options(nats_url: Option<String>, nats: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<String>> {
    let options = nats_options(nats_url, nats)?;
    Ok(options.validate().map_err(options_error)?.servers)
}

/// What a connected Telemetry writes on TELEMETRY: the record format (the default) or
/// the DagNats engine's OpenTelemetry dialect. `Telemetry.connect(format=...)` takes a
/// member or its value, the string `"records"` or `"engine"`.
#[pyclass(eq, frozen, module = "dagnats_observe", name = "TelemetryFormat", from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum TelemetryFormat {
    RECORDS,
    ENGINE,
}

impl From<TelemetryFormat> for CoreFormat {
    fn from(f: TelemetryFormat) -> Self {
        match f {
            TelemetryFormat::RECORDS => CoreFormat::Records,
            TelemetryFormat::ENGINE => CoreFormat::Engine,
        }
    }
}

#[pymethods]
impl TelemetryFormat {
    /// The option's string: `"records"` or `"engine"`.
    #[getter]
    fn value(&self) -> &'static str {
        CoreFormat::from(*self).as_str()
    }

    fn __str__(&self) -> &'static str {
        self.value()
    }

    fn __hash__(&self) -> isize {
        *self as isize
    }
}

/// The `format` keyword: a TelemetryFormat member or its string, parsed by the core (an
/// unknown name is a ValueError naming the accepted ones), anything else a TypeError.
fn format_option(format: Option<&Bound<'_, PyAny>>) -> PyResult<Option<CoreFormat>> {
    let Some(format) = format.filter(|f| !f.is_none()) else { return Ok(None) };
    if let Ok(member) = format.extract::<TelemetryFormat>() {
        return Ok(Some(member.into()));
    }
    if let Ok(name) = format.cast::<PyString>() {
        return name
            .to_cow()?
            .parse()
            .map(Some)
            .map_err(|e: dagnats_observe::format::UnknownFormat| PyValueError::new_err(e.to_string()));
    }
    Err(PyTypeError::new_err(format!(
        "format must be a str (\"records\" or \"engine\") or a TelemetryFormat, not {}",
        format.get_type().name()?
    )))
}

/// Tracer, logger and metrics for one service, publishing to TELEMETRY (or kept in
/// memory for tests).
#[pyclass(frozen, module = "dagnats_observe", name = "Telemetry")]
pub struct Telemetry {
    inner: dagnats_observe::Telemetry,
    memory: Option<Arc<MemorySink>>,
    tracer: Py<Tracer>,
    logger: Py<Logger>,
    metrics: Py<Metrics>,
}

impl Telemetry {
    fn build(py: Python<'_>, inner: dagnats_observe::Telemetry, memory: Option<Arc<MemorySink>>) -> PyResult<Self> {
        Ok(Telemetry {
            tracer: Py::new(py, Tracer(inner.tracer.clone()))?,
            logger: Py::new(py, Logger(inner.logger.clone()))?,
            metrics: Py::new(py, Metrics(inner.metrics.clone()))?,
            inner,
            memory,
        })
    }

    fn memory(&self) -> PyResult<&MemorySink> {
        self.memory.as_deref().ok_or_else(|| PyTypeError::new_err("only Telemetry.in_memory() keeps finished records"))
    }
}

fn records_to_py<'py>(py: Python<'py>, records: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyList>> {
    let loads = py.import("json")?.getattr("loads")?;
    let items = records
        .into_iter()
        .map(|json| loads.call1((String::from_utf8_lossy(&json).into_owned(),)))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

#[pymethods]
impl Telemetry {
    /// Connects to NATS and returns a bundle publishing to TELEMETRY. `service` defaults
    /// to `OTEL_SERVICE_NAME`; each NATS keyword to its `NATS_*` variable (`nats_url` to
    /// `NATS_URL`, `user` to `NATS_USER`, ...: the table in the core's README). Options
    /// that break a rule raise before connecting (see validate_connect_options). An
    /// unreachable server is not an error (records wait until it is up); bad credentials
    /// or TLS failures raise ConnectError. `format` ("records", the default, or "engine",
    /// or a TelemetryFormat) chooses what is written; without it the core reads
    /// `DAGNATS_TELEMETRY_FORMAT`. An unknown format, given or in the variable, raises
    /// ValueError naming the accepted values.
    #[staticmethod]
    #[pyo3(signature = (nats_url = None, service = None, *, buffer_capacity = None, max_in_flight = None, format = None, **nats))]
    fn connect(
        py: Python<'_>,
        nats_url: Option<String>,
        service: Option<String>,
        buffer_capacity: Option<usize>,
        max_in_flight: Option<usize>,
        format: Option<&Bound<'_, PyAny>>,
        nats: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let format = format_option(format)?;
        let mut options = CollectorOptions { nats: nats_options(nats_url, nats)?, ..CollectorOptions::from_env() };
        // The core's choice (the option, else DAGNATS_TELEMETRY_FORMAT), made before
        // connecting so that an unknown value in the variable is a ValueError too.
        options.format = Some(match format {
            Some(f) => f,
            None => options.resolved_format().map_err(|e| match e {
                dagnats_observe::Error::Config(_) => PyValueError::new_err(e.to_string()),
                other => to_py(other),
            })?,
        });
        if let Some(service) = service {
            options.service = service;
        }
        if let Some(n) = buffer_capacity {
            options.buffer_capacity = n;
        }
        if let Some(n) = max_in_flight {
            options.max_in_flight = n;
        }
        let inner = py.detach(move || dagnats_observe::Telemetry::connect(options)).map_err(to_py)?;
        Telemetry::build(py, inner, None)
    }

    /// A bundle that keeps every record in memory, for your unit tests. Nothing leaves
    /// the process; read records back with finished_spans(), finished_logs(),
    /// finished_metrics().
    #[staticmethod]
    fn in_memory(py: Python<'_>, service: &str) -> PyResult<Self> {
        let (inner, memory) = dagnats_observe::Telemetry::in_memory(service);
        Telemetry::build(py, inner, Some(memory))
    }

    /// A bundle that discards every record: the instrumentation runs (ids, context,
    /// attributes) but nothing is kept or sent. For libraries and tests that need a
    /// Telemetry and have no NATS; recycles span records, so it costs no allocation.
    #[staticmethod]
    fn noop(py: Python<'_>, service: &str) -> PyResult<Self> {
        Telemetry::build(py, dagnats_observe::Telemetry::noop(service), None)
    }

    /// Starts spans.
    #[getter]
    fn tracer(&self, py: Python<'_>) -> Py<Tracer> {
        self.tracer.clone_ref(py)
    }
    /// Writes log records.
    #[getter]
    fn logger(&self, py: Python<'_>) -> Py<Logger> {
        self.logger.clone_ref(py)
    }
    /// Creates metric instruments.
    #[getter]
    fn metrics(&self, py: Python<'_>) -> Py<Metrics> {
        self.metrics.clone_ref(py)
    }

    /// Waits until every record so far is acknowledged, at most `timeout` seconds.
    /// Raises FlushTimeoutError when time runs out.
    #[pyo3(signature = (timeout = 5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        let sink = Arc::clone(self.inner.sink());
        py.detach(move || sink.flush(t)).map_err(to_py)
    }

    /// Delivers what is pending (at most `timeout` seconds) and disconnects. Closing
    /// twice does nothing.
    #[pyo3(signature = (timeout = 5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        let sink = Arc::clone(self.inner.sink());
        match py.detach(move || sink.shutdown(t)) {
            Ok(()) | Err(dagnats_observe::Error::Closed) => Ok(()),
            Err(e) => Err(to_py(e)),
        }
    }

    /// Records dropped so far (buffer full, or undeliverable).
    #[getter]
    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }

    /// Delivery counters of the NATS collector (None in memory).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(s) = self.inner.collector_stats() else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("published", s.published)?;
        d.set_item("pending", s.pending)?;
        d.set_item("dropped_overflow", s.dropped_overflow)?;
        d.set_item("dropped_failed", s.dropped_failed)?;
        d.set_item("retried", s.retried)?;
        d.set_item("shortened", s.shortened)?;
        Ok(Some(d))
    }

    /// Finished spans as dicts with the wire record's fields (in-memory mode only).
    fn finished_spans<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let records = self.memory()?.records().iter().filter(|r| r.as_span().is_some()).map(|r| r.to_json()).collect();
        records_to_py(py, records)
    }
    /// Log records as dicts (in-memory mode only).
    fn finished_logs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let records = self.memory()?.records().iter().filter(|r| r.as_log().is_some()).map(|r| r.to_json()).collect();
        records_to_py(py, records)
    }
    /// Metric points as dicts (in-memory mode only).
    fn finished_metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let records =
            self.memory()?.records().iter().filter(|r| r.as_metric().is_some()).map(|r| r.to_json()).collect();
        records_to_py(py, records)
    }
    /// Forgets every finished record (in-memory mode only).
    fn clear(&self) -> PyResult<()> {
        self.memory()?.clear();
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        // Raising here would hide the exception that may be leaving the block; records
        // that could not be delivered are counted in `dropped`, and the log says so.
        let sink = Arc::clone(self.inner.sink());
        if let Err(e) = py.detach(move || sink.shutdown(Duration::from_secs(5))) {
            if e != dagnats_observe::Error::Closed {
                py.import("logging")?
                    .call_method1("getLogger", ("dagnats_observe",))?
                    .call_method1("warning", (format!("closing telemetry: {e}"),))?;
            }
        }
        Ok(false)
    }
}

/// Writes log records linked to the current span.
#[pyclass(frozen, module = "dagnats_observe", name = "Logger")]
pub struct Logger(pub dagnats_observe::Logger);

impl Logger {
    fn emit(
        &self,
        py: Python<'_>,
        level: Level,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let fields = convert::attributes(fields.map(|f| f.as_any()))?;
        let parent = resolve_parent(py, span)?;
        let mut entry = self.0.entry(level, message).span(parent.as_ref()).fields(fields);
        if let Some(e) = error {
            entry = entry.error(e);
        }
        entry.emit();
        Ok(())
    }
}

#[pymethods]
impl Logger {
    /// Writes a record at `level` ("trace", "debug", "info", "warn", "error"). Fields
    /// come from the `fields` mapping and from keyword arguments.
    #[pyo3(signature = (level, message, *, error = None, span = None, fields = None, **kwargs))]
    #[allow(clippy::too_many_arguments)]
    fn log(
        &self,
        py: Python<'_>,
        level: &str,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let level = Level::parse(level).ok_or_else(|| PyValueError::new_err(format!("unknown log level {level:?}")))?;
        let merged = match (fields, kwargs) {
            (Some(f), Some(k)) => {
                let d = f.copy()?;
                d.update(k.as_mapping())?;
                Some(d)
            }
            (f, k) => f.or(k).cloned(),
        };
        self.emit(py, level, message, error, span, merged.as_ref())
    }
    /// A trace record; keyword arguments become fields.
    #[pyo3(signature = (message, *, error = None, span = None, **fields))]
    fn trace(
        &self,
        py: Python<'_>,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.emit(py, Level::Trace, message, error, span, fields)
    }
    /// A debug record.
    #[pyo3(signature = (message, *, error = None, span = None, **fields))]
    fn debug(
        &self,
        py: Python<'_>,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.emit(py, Level::Debug, message, error, span, fields)
    }
    /// An info record.
    #[pyo3(signature = (message, *, error = None, span = None, **fields))]
    fn info(
        &self,
        py: Python<'_>,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.emit(py, Level::Info, message, error, span, fields)
    }
    /// A warn record.
    #[pyo3(signature = (message, *, error = None, span = None, **fields))]
    fn warning(
        &self,
        py: Python<'_>,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.emit(py, Level::Warn, message, error, span, fields)
    }
    /// An error record.
    #[pyo3(signature = (message, *, error = None, span = None, **fields))]
    fn error(
        &self,
        py: Python<'_>,
        message: String,
        error: Option<String>,
        span: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.emit(py, Level::Error, message, error, span, fields)
    }
}

/// Creates metric instruments.
#[pyclass(frozen, module = "dagnats_observe", name = "Metrics")]
pub struct Metrics(pub dagnats_observe::Metrics);

#[pymethods]
impl Metrics {
    /// A monotonic counter.
    fn counter(&self, name: &str) -> Counter {
        Counter(self.0.counter(name))
    }
    /// A gauge.
    fn gauge(&self, name: &str) -> Gauge {
        Gauge(self.0.gauge(name))
    }
    /// A histogram.
    fn histogram(&self, name: &str) -> Histogram {
        Histogram(self.0.histogram(name))
    }
}

fn with_tags(tags: Option<&Bound<'_, PyAny>>, f: impl FnOnce(&[(&str, &str)])) -> PyResult<()> {
    let owned = convert::tags(tags)?;
    let borrowed: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    f(&borrowed);
    Ok(())
}

/// A monotonic counter.
#[pyclass(frozen, module = "dagnats_observe", name = "Counter")]
pub struct Counter(dagnats_observe::Counter);

#[pymethods]
impl Counter {
    /// Adds a non-negative increment.
    #[pyo3(signature = (value = 1.0, tags = None))]
    fn add(&self, value: f64, tags: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        if !(value >= 0.0 && value.is_finite()) {
            return Err(PyValueError::new_err(format!("a counter only grows; got increment {value}")));
        }
        with_tags(tags, |t| self.0.add(value, t))
    }
}

/// A gauge.
#[pyclass(frozen, module = "dagnats_observe", name = "Gauge")]
pub struct Gauge(dagnats_observe::Gauge);

#[pymethods]
impl Gauge {
    /// Sets the current level.
    #[pyo3(signature = (value, tags = None))]
    fn set(&self, value: f64, tags: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        with_tags(tags, |t| self.0.set(value, t))
    }
}

/// A histogram.
#[pyclass(frozen, module = "dagnats_observe", name = "Histogram")]
pub struct Histogram(dagnats_observe::Histogram);

#[pymethods]
impl Histogram {
    /// Records one observation.
    #[pyo3(signature = (value, tags = None))]
    fn record(&self, value: f64, tags: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        with_tags(tags, |t| self.0.record(value, t))
    }
}
