//! `NativeTelemetry`: the core's tracer, logger and metrics over one sink, with connect,
//! flush and close running on libuv's thread pool so they never block the event loop.
//! The package's `Telemetry` wraps it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dagnats_observe as core;
use dagnats_observe::nats::{connect_timeout_millis, NatsOptions, TlsOptions};
use dagnats_observe::record::Record;
use dagnats_observe::{CollectorOptions, MemorySink};
use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::{sys, Env, Task};
use napi_derive::napi;

use crate::convert::{self, raw};
use crate::error::{catch_panic, core_error, format_error, options_error, range_error, type_error};
use crate::handles;
use crate::metrics::Metrics;

/// How long flush and close wait by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The core's bundle, plus the in-memory sink when there is one. Its tracer and logger
/// are registered under [`handle`](NativeTelemetry::handle) for the span and log
/// functions.
#[napi]
pub struct NativeTelemetry {
    inner: core::Telemetry,
    memory: Option<Arc<MemorySink>>,
    handle: u32,
}

impl NativeTelemetry {
    fn new(inner: core::Telemetry, memory: Option<Arc<MemorySink>>) -> Self {
        let handle = handles::register_telemetry(inner.tracer.clone(), inner.logger.clone());
        NativeTelemetry { inner, memory, handle }
    }
}

impl Drop for NativeTelemetry {
    fn drop(&mut self) {
        handles::unregister_telemetry(self.handle);
    }
}

/// Delivery counters of a NATS-connected telemetry.
#[napi(object)]
pub struct CollectorStats {
    /// Records acknowledged by the stream.
    pub published: f64,
    /// Records accepted and not yet acknowledged.
    pub pending: f64,
    /// Records dropped because the queue was full.
    pub dropped_overflow: f64,
    /// Records given up: rejected by the server, or still pending at shutdown.
    pub dropped_failed: f64,
    /// Publish attempts that failed and were retried.
    pub retried: f64,
}

/// Connects on the thread pool; resolves to a `NativeTelemetry`.
pub struct ConnectTask {
    options: Option<CollectorOptions>,
}

impl Task for ConnectTask {
    type Output = Result<core::Telemetry, core::Error>;
    type JsValue = NativeTelemetry;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let options = self.options.take().expect("compute runs once");
        catch_panic(move || core::Telemetry::connect(options))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<NativeTelemetry> {
        match output {
            Ok(inner) => Ok(NativeTelemetry::new(inner, None)),
            Err(e) => Err(core_error(env.raw(), e)),
        }
    }
}

/// What a [`SettleTask`] does.
#[derive(Clone, Copy)]
enum Settle {
    Flush,
    Close,
}

/// Flushes or closes on the thread pool; resolves to `undefined`.
pub struct SettleTask {
    telemetry: core::Telemetry,
    timeout: Duration,
    settle: Settle,
}

impl Task for SettleTask {
    type Output = Result<(), core::Error>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (telemetry, timeout) = (&self.telemetry, self.timeout);
        match self.settle {
            Settle::Flush => catch_panic(|| telemetry.flush(timeout)),
            Settle::Close => catch_panic(|| telemetry.shutdown(timeout)),
        }
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<()> {
        output.map_err(|e| core_error(env.raw(), e))
    }
}

#[napi]
impl NativeTelemetry {
    /// Connects to NATS and publishes to TELEMETRY. Options (all optional): `servers`
    /// (a URL or a list; else `NATS_URL`, else `nats://127.0.0.1:4222`), `service` (else
    /// `OTEL_SERVICE_NAME`), `name` (connection name), `user`/`pass`, `token`,
    /// `nkeySeed`, `credentialsFile`, `tls` (`{ required?, caFile?, certFile?, keyFile? }`),
    /// `timeout` (connect timeout in ms), `bufferCapacity`, `maxInFlight`, `format`
    /// (`'records'`, the default, or `'engine'`; else `DAGNATS_TELEMETRY_FORMAT`, read by
    /// the core; an unknown value is a `TypeError` with code `ERR_DAGNATS_UNKNOWN_FORMAT`).
    ///
    /// An unreachable server is not an error (records wait in the queue); bad
    /// credentials, TLS failures and bad URLs reject.
    #[napi(catch_unwind, ts_args_type = "options?: ConnectOptions | null", ts_return_type = "Promise<NativeTelemetry>")]
    pub fn connect(env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<ConnectTask>> {
        let options = match options {
            Some(o) => collector_options(env.raw(), raw(&o).1)?,
            None => collector_options(env.raw(), std::ptr::null_mut())?,
        };
        Ok(AsyncTask::new(ConnectTask { options: Some(options) }))
    }

    /// A telemetry that keeps every record in memory, for tests: nothing leaves the
    /// process. Read the records with `finishedSpansJson` and friends.
    #[napi(factory, catch_unwind, ts_args_type = "service: string")]
    pub fn in_memory(service: Unknown) -> napi::Result<Self> {
        let (env, service) = raw(&service);
        let service = convert::string(env, service, &|| "service".to_owned())?;
        let (inner, memory) = core::Telemetry::in_memory(&service);
        Ok(NativeTelemetry::new(inner, Some(memory)))
    }

    /// A telemetry that discards every record (telemetry switched off).
    #[napi(factory, catch_unwind, ts_args_type = "service: string")]
    pub fn noop(service: Unknown) -> napi::Result<Self> {
        let (env, service) = raw(&service);
        let service = convert::string(env, service, &|| "service".to_owned())?;
        Ok(NativeTelemetry::new(core::Telemetry::noop(&service), None))
    }

    /// The service name stamped on every record.
    #[napi(getter, catch_unwind)]
    pub fn service(&self) -> String {
        self.inner.tracer.service().to_owned()
    }

    /// The number under which this telemetry's tracer and logger are registered, for
    /// `spanStart` and `logEmit`.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Metric instruments sharing this telemetry's sink.
    #[napi(catch_unwind)]
    pub fn metrics(&self) -> Metrics {
        Metrics { inner: self.inner.metrics.clone() }
    }

    /// Waits until every record so far is delivered, at most `timeoutMs` (default 5000).
    /// Rejects with code `ERR_DAGNATS_TIMEOUT` (and `pending`) when time runs out.
    #[napi(catch_unwind, ts_args_type = "timeoutMs?: number | null", ts_return_type = "Promise<void>")]
    pub fn flush(&self, env: Env, timeout_ms: Option<Unknown>) -> napi::Result<AsyncTask<SettleTask>> {
        let timeout = timeout(env.raw(), timeout_ms)?;
        Ok(AsyncTask::new(SettleTask { telemetry: self.inner.clone(), timeout, settle: Settle::Flush }))
    }

    /// Delivers what is pending (at most `timeoutMs`, default 5000) and stops; records
    /// after this are dropped. Rejects with `ERR_DAGNATS_TIMEOUT` when records were left,
    /// `ERR_DAGNATS_CLOSED` when already closed.
    #[napi(catch_unwind, ts_args_type = "timeoutMs?: number | null", ts_return_type = "Promise<void>")]
    pub fn close(&self, env: Env, timeout_ms: Option<Unknown>) -> napi::Result<AsyncTask<SettleTask>> {
        let timeout = timeout(env.raw(), timeout_ms)?;
        Ok(AsyncTask::new(SettleTask { telemetry: self.inner.clone(), timeout, settle: Settle::Close }))
    }

    /// Records dropped so far (queue overflow, failed publishes, after close).
    #[napi(getter, catch_unwind)]
    pub fn dropped(&self) -> f64 {
        self.inner.dropped() as f64
    }

    /// The collector's counters; `null` unless connected to NATS.
    #[napi(getter, catch_unwind)]
    pub fn stats(&self) -> Option<CollectorStats> {
        self.inner.collector_stats().map(|s| CollectorStats {
            published: s.published as f64,
            pending: s.pending as f64,
            dropped_overflow: s.dropped_overflow as f64,
            dropped_failed: s.dropped_failed as f64,
            retried: s.retried as f64,
        })
    }

    /// True for a telemetry made by `inMemory`.
    #[napi(getter, catch_unwind)]
    pub fn is_in_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// The finished spans as a JSON array of wire records, in end order.
    #[napi(catch_unwind)]
    pub fn finished_spans_json(&self, env: Env) -> napi::Result<String> {
        self.records_json(env, |r| r.as_span().is_some())
    }

    /// The log records as a JSON array of wire records.
    #[napi(catch_unwind)]
    pub fn finished_logs_json(&self, env: Env) -> napi::Result<String> {
        self.records_json(env, |r| r.as_log().is_some())
    }

    /// The metric points as a JSON array of wire records.
    #[napi(catch_unwind)]
    pub fn finished_metrics_json(&self, env: Env) -> napi::Result<String> {
        self.records_json(env, |r| r.as_metric().is_some())
    }

    /// Forgets every record kept in memory.
    #[napi(catch_unwind)]
    pub fn clear_finished(&self, env: Env) -> napi::Result<()> {
        self.memory(env)?.clear();
        Ok(())
    }
}

impl NativeTelemetry {
    fn memory(&self, env: Env) -> napi::Result<&MemorySink> {
        self.memory
            .as_deref()
            .ok_or_else(|| type_error(env.raw(), "finished records are kept only by Telemetry.inMemory()"))
    }

    fn records_json(&self, env: Env, keep: impl Fn(&Record) -> bool) -> napi::Result<String> {
        let mut out = Vec::from(&b"["[..]);
        for record in self.memory(env)?.records().iter().filter(|r| keep(r)) {
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(&record.to_json());
        }
        out.push(b']');
        // Records serialize to UTF-8 JSON.
        String::from_utf8(out).map_err(|e| napi::Error::from_reason(e.to_string()))
    }
}

/// Reads a `timeoutMs` argument: a non-negative finite number of milliseconds.
fn timeout(env: sys::napi_env, value: Option<Unknown>) -> napi::Result<Duration> {
    let Some(value) = value else { return Ok(DEFAULT_TIMEOUT) };
    let value = raw(&value).1;
    if convert::is_nullish(env, value)? {
        return Ok(DEFAULT_TIMEOUT);
    }
    let ms = convert::number(env, value, &|| "timeoutMs".to_owned())?;
    if !ms.is_finite() || ms < 0.0 {
        return Err(range_error(env, format!("timeoutMs must be a finite number of milliseconds >= 0, got {ms}")));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// A named option: the value, or `None` when absent, `undefined` or `null`.
fn option(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> napi::Result<Option<sys::napi_value>> {
    let value = convert::property(env, object, name)?;
    Ok((!convert::is_nullish(env, value)?).then_some(value))
}

fn string_option(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> napi::Result<Option<String>> {
    match option(env, object, name)? {
        Some(v) => convert::string(env, v, &|| format!("option {}", name.to_string_lossy())).map(Some),
        None => Ok(None),
    }
}

fn count_option(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> napi::Result<Option<usize>> {
    let Some(v) = option(env, object, name)? else { return Ok(None) };
    let what = || format!("option {}", name.to_string_lossy());
    let n = convert::number(env, v, &what)?;
    if n.fract() != 0.0 || !(1.0..=4_294_967_295.0).contains(&n) {
        return Err(range_error(env, format!("{} must be a whole number >= 1, got {n}", what())));
    }
    Ok(Some(n as usize))
}

/// Checks `Telemetry.connect` options as connect does, without connecting: returns the
/// server list, or throws what connect would reject with (`TypeError`, or `RangeError`
/// for the timeout, with `code` `ERR_DAGNATS_` and the rule's name in capitals).
#[napi(catch_unwind, ts_args_type = "options?: ConnectOptions | null")]
pub fn validate_connect_options(env: Env, options: Option<Unknown>) -> napi::Result<Vec<String>> {
    let object = match &options {
        Some(o) => raw(o).1,
        None => std::ptr::null_mut(),
    };
    let nats = nats_options(env.raw(), object)?;
    nats.validate().map(|v| v.servers).map_err(|e| options_error(env.raw(), e))
}

/// The core's NATS options: the environment's (`NATS_*`, read by the core), the given
/// options over them, judged by the core's validation. Only types are checked here.
fn nats_options(env: sys::napi_env, object: sys::napi_value) -> napi::Result<NatsOptions> {
    let mut nats = NatsOptions::from_env();
    if !object.is_null() && !convert::is_nullish(env, object)? {
        if convert::type_of(env, object)? != sys::ValueType::napi_object {
            return Err(type_error(env, "options must be an object"));
        }
        if let Some(servers) = option(env, object, c"servers")? {
            let mut is_array = false;
            unsafe { sys::napi_is_array(env, servers, &mut is_array) };
            nats.url = if is_array {
                convert::string_array(env, servers, "option servers")?.join(",")
            } else {
                convert::string(env, servers, &|| "option servers".to_owned())?
            };
        }
        nats.name = string_option(env, object, c"name")?;
        let given = |value: Option<String>, from_env: Option<String>| value.or(from_env);
        nats.user = given(string_option(env, object, c"user")?, nats.user.take());
        nats.password = given(string_option(env, object, c"pass")?, nats.password.take());
        nats.token = given(string_option(env, object, c"token")?, nats.token.take());
        nats.nkey = given(string_option(env, object, c"nkeySeed")?, nats.nkey.take());
        if let Some(path) = string_option(env, object, c"credentialsFile")? {
            nats.credentials_file = Some(PathBuf::from(path));
        }
        if let Some(tls) = option(env, object, c"tls")? {
            tls_options(env, tls, &mut nats.tls)?;
        }
        if let Some(ms) = option(env, object, c"timeout")? {
            let ms = convert::number(env, ms, &|| "option timeout".to_owned())?;
            nats.connect_timeout = connect_timeout_millis(ms).map_err(|e| options_error(env, e))?;
        }
    }
    nats.validate().map_err(|e| options_error(env, e))?;
    Ok(nats)
}

/// Reads `Telemetry.connect` options over the environment's defaults. The format is
/// the core's choice (the option, else `DAGNATS_TELEMETRY_FORMAT`), made here so that an
/// unknown value rejects as the option's does, before any connection.
fn collector_options(env: sys::napi_env, object: sys::napi_value) -> napi::Result<CollectorOptions> {
    let mut options = CollectorOptions { nats: nats_options(env, object)?, ..CollectorOptions::from_env() };
    if object.is_null() || convert::is_nullish(env, object)? {
        options.format = Some(options.resolved_format().map_err(|e| format_error(env, e.to_string()))?);
        return Ok(options);
    }
    if let Some(format) = string_option(env, object, c"format")? {
        let format =
            format.parse().map_err(|e: core::format::UnknownFormat| format_error(env, format!("option {e}")))?;
        options.format = Some(format);
    }
    options.format = Some(options.resolved_format().map_err(|e| format_error(env, e.to_string()))?);
    if let Some(service) = string_option(env, object, c"service")?.filter(|s| !s.is_empty()) {
        options.service = service;
    }
    if let Some(n) = count_option(env, object, c"bufferCapacity")? {
        options.buffer_capacity = n;
    }
    if let Some(n) = count_option(env, object, c"maxInFlight")? {
        options.max_in_flight = n;
    }
    Ok(options)
}

/// Reads the `tls` option over the environment's TLS settings: `true`/`false` (require
/// TLS) or `{ required?, caFile?, certFile?, keyFile? }`; what is given wins.
fn tls_options(env: sys::napi_env, value: sys::napi_value, tls: &mut TlsOptions) -> napi::Result<()> {
    if convert::type_of(env, value)? == sys::ValueType::napi_boolean {
        tls.required = convert::boolean(env, value, &|| "option tls".to_owned())?;
        return Ok(());
    }
    if convert::type_of(env, value)? != sys::ValueType::napi_object {
        return Err(type_error(env, "option tls must be a boolean or an object"));
    }
    if let Some(v) = option(env, value, c"required")? {
        tls.required = convert::boolean(env, v, &|| "option tls.required".to_owned())?;
    }
    let path = |name: &std::ffi::CStr, slot: &mut Option<PathBuf>| -> napi::Result<()> {
        if let Some(v) = option(env, value, name)? {
            *slot = Some(PathBuf::from(convert::string(env, v, &|| format!("option tls.{}", name.to_string_lossy()))?));
        }
        Ok(())
    };
    path(c"caFile", &mut tls.ca_file)?;
    path(c"certFile", &mut tls.cert_file)?;
    path(c"keyFile", &mut tls.key_file)
}
