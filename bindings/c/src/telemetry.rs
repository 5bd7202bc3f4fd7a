//! `dagnats_connect_options` and `dagnats_telemetry`: connecting, flushing, closing, the
//! in-memory and no-op modes, and what a forked child must do.

use std::ffi::c_char;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dagnats_observe::format::UnknownFormat;
use dagnats_observe::record::Record;
use dagnats_observe::{CollectorOptions, MemorySink, Telemetry, TelemetryFormat};

use crate::cstr::{str_arg, write_out};
use crate::handle::{free_boxed, out_arg, to_boxed, try_mut, try_ref, Castable, Registry};
use crate::panic::ffi_boundary;
use crate::result::dagnats_result::{self, *};
use crate::result::{options_failure, Failure, FfiResult};

/// Settings for `dagnats_telemetry_connect`: NATS URL, service name, credentials, TLS
/// and buffering. Created by `dagnats_connect_options_new`, changed by the
/// `dagnats_connect_options_set_*` calls, freed by `dagnats_connect_options_free`.
///
/// Thread-safety: not thread-safe; use one options value from one thread at a time.
pub struct dagnats_connect_options {
    _private: [u8; 0],
}

impl Castable for dagnats_connect_options {
    type RustType = CollectorOptions;
}

/// Tracer, logger and metrics of one service, delivering to NATS (the TELEMETRY stream),
/// to memory, or nowhere.
///
/// Created by `dagnats_telemetry_connect`, `dagnats_telemetry_in_memory` or
/// `dagnats_telemetry_noop`; released by `dagnats_telemetry_free`.
///
/// Thread-safety: every function taking a `dagnats_telemetry` may be called from any
/// thread at the same time, `dagnats_telemetry_free` included: a call that is running
/// when another thread frees the handle completes normally, and later calls fail with
/// `DAGNATS_RESULT_INVALID_HANDLE`. Freeing twice is caught the same way (unless a new
/// telemetry has since been created at the same address).
pub struct dagnats_telemetry {
    _private: [u8; 0],
}

/// What a telemetry handle stands for.
pub(crate) struct TelemetryInner {
    pub(crate) tel: Telemetry,
    memory: Option<Arc<MemorySink>>,
    /// The process that connected; a forked child has another.
    pid: u32,
}

pub(crate) static TELEMETRY: Registry<TelemetryInner> = Registry::new();

/// The process in which `dagnats_after_fork_child` last ran (0: never): there, telemetries
/// connected by a parent have their own publisher again.
static FORK_HANDLED_IN: AtomicU32 = AtomicU32::new(0);

/// The value behind a live telemetry handle.
pub(crate) fn live(tel: *const dagnats_telemetry) -> FfiResult<Arc<TelemetryInner>> {
    TELEMETRY.get(tel, "telemetry")
}

impl TelemetryInner {
    fn new(tel: Telemetry, memory: Option<Arc<MemorySink>>) -> Arc<TelemetryInner> {
        Arc::new(TelemetryInner { tel, memory, pid: std::process::id() })
    }

    /// Fails for a NATS telemetry inherited across fork() while the child has not called
    /// `dagnats_after_fork_child`: until then its publisher thread exists only in the
    /// parent, and a flush or close would wait for nothing.
    fn check_process(&self) -> FfiResult<()> {
        if self.tel.collector().is_some() {
            let here = std::process::id();
            if self.pid != here && FORK_HANDLED_IN.load(Ordering::Acquire) != here {
                return Err(Failure::new(
                    DAGNATS_RESULT_NOT_CONNECTED,
                    "this telemetry was connected in the parent process; call dagnats_after_fork_child() first in the child",
                ));
            }
        }
        Ok(())
    }

    fn memory(&self) -> FfiResult<&MemorySink> {
        self.memory
            .as_deref()
            .ok_or_else(|| Failure::invalid("telemetry was not created by dagnats_telemetry_in_memory"))
    }
}

fn register(inner: Arc<TelemetryInner>) -> *mut dagnats_telemetry {
    TELEMETRY.insert(inner)
}

// ---------------------------------------------------------------------------------------
// Connect options

/// Creates connect options with the defaults: the NATS options from the `NATS_*`
/// environment variables (`NATS_URL`, else `nats://127.0.0.1:4222`; `NATS_CREDS`,
/// `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_NKEY`, `NATS_TLS_REQUIRED`,
/// `NATS_CA`, `NATS_CERT`, `NATS_KEY`: the table in core/README.md, read by the core),
/// the service from `OTEL_SERVICE_NAME` (else `unknown_service`), a 5 s connect timeout,
/// a 16384-record buffer and 512 publishes in flight. The setters record values over
/// these; `dagnats_connect_options_validate` and `dagnats_telemetry_connect` judge them.
///
/// Ownership: on success `*out` is a new options value that the caller frees with
/// `dagnats_connect_options_free`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_new(out: *mut *mut dagnats_connect_options) -> dagnats_result {
    ffi_boundary!({
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_connect_options>(CollectorOptions::from_env());
        Ok(())
    })
}

/// Frees connect options. NULL does nothing. The options may be freed right after
/// `dagnats_telemetry_connect` returns.
///
/// Ownership: takes `options`, which must not be used afterwards.
/// Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_free(options: *mut dagnats_connect_options) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(options);
        Ok(())
    });
}

/// Runs `f` on the options behind `options`.
unsafe fn with_options(
    options: *mut dagnats_connect_options,
    f: impl FnOnce(&mut CollectorOptions) -> FfiResult<()>,
) -> FfiResult<()> {
    f(try_mut(options, "options")?)
}

/// Sets the NATS server URL, or several separated by commas (`nats://host:4222`,
/// `tls://host:4222`). Credentials inside the URL are accepted and never logged.
///
/// Ownership: `url` is copied. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_url(
    options: *mut dagnats_connect_options,
    url: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let url = str_arg(url, "url")?;
        with_options(options, |o| {
            o.nats.url = url.to_owned();
            Ok(())
        })
    })
}

/// Sets the service name stamped on every record (the `service` field and the subject
/// token).
///
/// Ownership: `service` is copied. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_service(
    options: *mut dagnats_connect_options,
    service: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let service = str_arg(service, "service")?;
        with_options(options, |o| {
            o.service = service.to_owned();
            Ok(())
        })
    })
}

/// Authenticates with a user name and password. Another kind of credentials set too
/// (here or by the environment) is an error at validate and connect, never replaced.
///
/// Ownership: both strings are copied; the password never appears in error messages.
/// Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_user_password(
    options: *mut dagnats_connect_options,
    user: *const c_char,
    password: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let user = str_arg(user, "user")?;
        let password = str_arg(password, "password")?;
        with_options(options, |o| {
            o.nats.user = Some(user.to_owned());
            o.nats.password = Some(password.to_owned());
            Ok(())
        })
    })
}

/// Authenticates with a token (one kind of credentials: see
/// `dagnats_connect_options_set_user_password`).
///
/// Ownership: `token` is copied; it never appears in error messages.
/// Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_token(
    options: *mut dagnats_connect_options,
    token: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let token = str_arg(token, "token")?;
        with_options(options, |o| {
            o.nats.token = Some(token.to_owned());
            Ok(())
        })
    })
}

/// Authenticates with an NKey seed (`SU...`); one kind of credentials, see
/// `dagnats_connect_options_set_user_password`.
///
/// Ownership: `seed` is copied; it never appears in error messages.
/// Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_nkey_seed(
    options: *mut dagnats_connect_options,
    seed: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let seed = str_arg(seed, "seed")?;
        with_options(options, |o| {
            o.nats.nkey = Some(seed.to_owned());
            Ok(())
        })
    })
}

/// Authenticates with a `.creds` file (user JWT and NKey seed); one kind of credentials,
/// see `dagnats_connect_options_set_user_password`. The file is read by
/// `dagnats_telemetry_connect`.
///
/// Ownership: `path` is copied. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_credentials_file(
    options: *mut dagnats_connect_options,
    path: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let path = str_arg(path, "path")?;
        with_options(options, |o| {
            o.nats.credentials_file = Some(path.into());
            Ok(())
        })
    })
}

/// Requires TLS even for a `nats://` URL.
///
/// Ownership: `options` stays the caller's. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_tls_required(
    options: *mut dagnats_connect_options,
    required: bool,
) -> dagnats_result {
    ffi_boundary!({
        with_options(options, |o| {
            o.nats.tls.required = required;
            Ok(())
        })
    })
}

/// Trusts the CA certificates of a PEM file for the server's certificate.
///
/// Ownership: `path` is copied; the file is read by `dagnats_telemetry_connect`.
/// Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_tls_ca_file(
    options: *mut dagnats_connect_options,
    path: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let path = str_arg(path, "path")?;
        with_options(options, |o| {
            o.nats.tls.ca_file = Some(path.into());
            Ok(())
        })
    })
}

/// Presents a client certificate (mutual TLS): PEM certificate and PEM private key files.
///
/// Ownership: both paths are copied; the files are read by `dagnats_telemetry_connect`.
/// Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_tls_client_cert(
    options: *mut dagnats_connect_options,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let cert = str_arg(cert_path, "cert_path")?;
        let key = str_arg(key_path, "key_path")?;
        with_options(options, |o| {
            o.nats.tls.cert_file = Some(cert.into());
            o.nats.tls.key_file = Some(key.into());
            Ok(())
        })
    })
}

/// Sets the connection name shown by the server's monitoring.
///
/// Ownership: `name` is copied. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_connection_name(
    options: *mut dagnats_connect_options,
    name: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let name = str_arg(name, "name")?;
        with_options(options, |o| {
            o.nats.name = Some(name.to_owned());
            Ok(())
        })
    })
}

/// Sets how long one connection attempt may take, in milliseconds: at least 1, at most
/// 600000 (10 minutes), judged by `dagnats_connect_options_validate` and connect.
///
/// Ownership: `options` stays the caller's. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_connect_timeout_ms(
    options: *mut dagnats_connect_options,
    timeout_ms: u32,
) -> dagnats_result {
    ffi_boundary!({
        with_options(options, |o| {
            o.nats.connect_timeout = Duration::from_millis(timeout_ms.into());
            Ok(())
        })
    })
}

/// Sets how many records may wait for NATS (at least 1); more are dropped and counted.
///
/// Ownership: `options` stays the caller's. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_buffer_capacity(
    options: *mut dagnats_connect_options,
    records: usize,
) -> dagnats_result {
    ffi_boundary!({
        if records == 0 {
            return Err(Failure::invalid("records must be at least 1"));
        }
        with_options(options, |o| {
            o.buffer_capacity = records;
            Ok(())
        })
    })
}

/// Sets how many publishes may await their acknowledgement at once (at least 1).
///
/// Ownership: `options` stays the caller's. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_max_in_flight(
    options: *mut dagnats_connect_options,
    publishes: usize,
) -> dagnats_result {
    ffi_boundary!({
        if publishes == 0 {
            return Err(Failure::invalid("publishes must be at least 1"));
        }
        with_options(options, |o| {
            o.max_in_flight = publishes;
            Ok(())
        })
    })
}

/// Chooses what the telemetry writes on TELEMETRY: `"records"` (the record format, the
/// default) or `"engine"` (the DagNats engine's OpenTelemetry dialect, which its
/// `dagnats trace`, `dagnats logs` and web console read). ASCII case and surrounding
/// spaces are ignored. Without this call, `dagnats_telemetry_connect` reads
/// `DAGNATS_TELEMETRY_FORMAT` (unset or empty: records; an unknown value there gives
/// `DAGNATS_RESULT_INVALID_CONFIG`). In-memory telemetries keep records whatever the
/// format.
///
/// Returns `DAGNATS_RESULT_INVALID_ARGUMENT` for any other name, with a last-error
/// message naming the accepted values (`expected one of records, engine`); the options
/// are then unchanged.
///
/// Ownership: `format` is copied. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_set_format(
    options: *mut dagnats_connect_options,
    format: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let format = str_arg(format, "format")?;
        let format: TelemetryFormat = format.parse().map_err(|e: UnknownFormat| Failure::invalid(e.to_string()))?;
        with_options(options, |o| {
            o.format = Some(format);
            Ok(())
        })
    })
}

/// Checks the NATS options as `dagnats_telemetry_connect` does, without connecting (no
/// server needed): `DAGNATS_RESULT_OK`, or `DAGNATS_RESULT_INVALID_CONFIG` with a
/// last-error message that starts with the rule's name (`conflicting_credentials: `,
/// `missing_password: `, `invalid_url: `, `incomplete_tls: `, `invalid_timeout: `,
/// `empty_value: `, `invalid_boolean: `) and names the setters' options, never a secret.
/// Two kinds of credentials (user/password, token, NKey seed, credentials file), from
/// setters or the environment, are such an error.
///
/// Ownership: `options` is only read. Thread-safety: see `dagnats_connect_options`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_connect_options_validate(options: *const dagnats_connect_options) -> dagnats_result {
    ffi_boundary!({
        let options = try_ref(options, "options")?;
        options.nats.validate().map_err(options_failure)?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Telemetry

/// Connects to NATS and starts the background publisher. Blocks for at most the connect
/// timeout.
///
/// A server that cannot be reached yet is not an error: records wait in the buffer and go
/// out once it is. Bad credentials or a TLS failure give `DAGNATS_RESULT_NOT_CONNECTED`;
/// options that `dagnats_connect_options_validate` refuses (checked first, before any
/// connection), an unreadable credentials file or an unknown `DAGNATS_TELEMETRY_FORMAT`
/// (when `dagnats_connect_options_set_format` was not called)
/// `DAGNATS_RESULT_INVALID_CONFIG`.
/// Creates the TELEMETRY stream when it is missing.
///
/// Ownership: `options` is only read (free it whenever you like). On success `*out` is a
/// new telemetry that the caller releases with `dagnats_telemetry_close` and then
/// `dagnats_telemetry_free`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_connect(
    options: *const dagnats_connect_options,
    out: *mut *mut dagnats_telemetry,
) -> dagnats_result {
    ffi_boundary!({
        let options = try_ref(options, "options")?;
        let out = out_arg(out, "out")?;
        let tel = Telemetry::connect(options.clone())?;
        *out = register(TelemetryInner::new(tel, None));
        Ok(())
    })
}

/// Creates a telemetry that keeps every record in memory, for tests: nothing leaves the
/// process. Read the records back with `dagnats_telemetry_memory_count` and
/// `dagnats_telemetry_memory_json`.
///
/// Ownership: `service` is copied. On success `*out` is a new telemetry that the caller
/// frees with `dagnats_telemetry_free`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_in_memory(
    service: *const c_char,
    out: *mut *mut dagnats_telemetry,
) -> dagnats_result {
    ffi_boundary!({
        let service = str_arg(service, "service")?;
        let out = out_arg(out, "out")?;
        let (tel, memory) = Telemetry::in_memory(service);
        *out = register(TelemetryInner::new(tel, Some(memory)));
        Ok(())
    })
}

/// Creates a telemetry that discards every record (instrumentation switched off).
///
/// Ownership: `service` is copied. On success `*out` is a new telemetry that the caller
/// frees with `dagnats_telemetry_free`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_noop(
    service: *const c_char,
    out: *mut *mut dagnats_telemetry,
) -> dagnats_result {
    ffi_boundary!({
        let service = str_arg(service, "service")?;
        let out = out_arg(out, "out")?;
        *out = register(TelemetryInner::new(Telemetry::noop(service), None));
        Ok(())
    })
}

/// Waits until every record so far is acknowledged by NATS, at most `timeout_ms`
/// milliseconds. Returns `DAGNATS_RESULT_TIMEOUT` when records are still pending then.
/// Immediate for the in-memory and no-op modes, and after `dagnats_telemetry_close`
/// (nothing is pending any more).
///
/// Thread-safety: any thread, concurrently with everything else.
/// Ownership: `telemetry` stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_flush(
    telemetry: *const dagnats_telemetry,
    timeout_ms: u32,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        inner.check_process()?;
        inner.tel.flush(Duration::from_millis(timeout_ms.into()))?;
        Ok(())
    })
}

/// Stops accepting records, delivers what is pending (at most `timeout_ms`
/// milliseconds) and stops the publisher thread. Records that could not be delivered in
/// time are counted as dropped and the result is `DAGNATS_RESULT_TIMEOUT`. A second close
/// returns `DAGNATS_RESULT_CLOSED`. The handle stays valid until `dagnats_telemetry_free`;
/// spans ended after close are dropped and counted.
///
/// Thread-safety: any thread.
/// Ownership: `telemetry` stays the caller's (free it with `dagnats_telemetry_free`).
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_close(
    telemetry: *const dagnats_telemetry,
    timeout_ms: u32,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        inner.check_process()?;
        inner.tel.shutdown(Duration::from_millis(timeout_ms.into()))?;
        Ok(())
    })
}

/// Releases a telemetry. Call `dagnats_telemetry_close` first to deliver what is
/// pending; without it, the publisher gets a short bounded chance to drain in the
/// background. NULL does nothing (and returns `DAGNATS_RESULT_OK`); a handle that was
/// already freed gives `DAGNATS_RESULT_INVALID_HANDLE` and is not touched.
///
/// Tracers, loggers and instruments obtained from the telemetry stay valid and must be
/// freed on their own; what they record after this is dropped once the telemetry closed.
///
/// Ownership: takes `telemetry`.
/// Thread-safety: any thread, even while others use the telemetry (see
/// `dagnats_telemetry`).
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_free(telemetry: *mut dagnats_telemetry) -> dagnats_result {
    ffi_boundary!({
        if telemetry.is_null() {
            return Ok(());
        }
        drop(TELEMETRY.remove(telemetry, "telemetry")?);
        Ok(())
    })
}

/// Writes the number of records dropped so far (buffer overflow, rejected by the server,
/// undeliverable at close, recorded after close) into `*out`.
///
/// Thread-safety: any thread. Ownership: `telemetry` stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_dropped(
    telemetry: *const dagnats_telemetry,
    out: *mut u64,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let out = out_arg(out, "out")?;
        *out = inner.tel.dropped();
        Ok(())
    })
}

/// Kinds of records, for the in-memory readers: one of the `DAGNATS_RECORD_*` constants.
pub type dagnats_record_type = u32;
/// Finished spans, in end order.
pub const DAGNATS_RECORD_SPAN: dagnats_record_type = 0;
/// Log records.
pub const DAGNATS_RECORD_LOG: dagnats_record_type = 1;
/// Metric points.
pub const DAGNATS_RECORD_METRIC: dagnats_record_type = 2;

fn records_json(memory: &MemorySink, kind: dagnats_record_type) -> FfiResult<Vec<Vec<u8>>> {
    if kind > DAGNATS_RECORD_METRIC {
        return Err(Failure::invalid(format!("unknown record type {kind}")));
    }
    let pick = |r: &&Record| match kind {
        DAGNATS_RECORD_SPAN => r.as_span().is_some(),
        DAGNATS_RECORD_LOG => r.as_log().is_some(),
        _ => r.as_metric().is_some(),
    };
    Ok(memory.records().iter().filter(pick).map(Record::to_json).collect())
}

/// Writes how many records of `record_type` (a `DAGNATS_RECORD_*` constant) an
/// in-memory telemetry holds into `*out_count`. `DAGNATS_RESULT_INVALID_ARGUMENT` for a
/// telemetry that is not in-memory.
///
/// Thread-safety: any thread. Ownership: `telemetry` stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_memory_count(
    telemetry: *const dagnats_telemetry,
    record_type: dagnats_record_type,
    out_count: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let out = out_arg(out_count, "out_count")?;
        *out = records_json(inner.memory()?, record_type)?.len();
        Ok(())
    })
}

/// Copies record `index` (0-based, in the order records finished) of `record_type` as
/// its TELEMETRY wire JSON, NUL-terminated, into `buf` of `len` bytes. `needed` (may be
/// NULL) receives the size needed including the NUL; when that exceeds `len` the result
/// is `DAGNATS_RESULT_BUFFER_TOO_SMALL` and `buf` is untouched (`buf = NULL, len = 0`
/// asks for the size). An index past the end gives `DAGNATS_RESULT_INVALID_ARGUMENT`.
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_memory_json(
    telemetry: *const dagnats_telemetry,
    record_type: dagnats_record_type,
    index: usize,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let records = records_json(inner.memory()?, record_type)?;
        let json = records
            .get(index)
            .ok_or_else(|| Failure::invalid(format!("index {index} is past the {} records held", records.len())))?;
        write_out(json, buf, len, needed)
    })
}

/// Forgets every record an in-memory telemetry holds.
///
/// Thread-safety: any thread. Ownership: `telemetry` stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_memory_clear(telemetry: *const dagnats_telemetry) -> dagnats_result {
    ffi_boundary!({
        live(telemetry)?.memory()?.clear();
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Process-wide

/// Call first thing in the child after `fork()` (it is safe to register as the child
/// handler of `pthread_atfork`). It reseeds the trace and span id generator, which the
/// child otherwise shares with the parent (duplicate ids), and gives every NATS telemetry
/// the child inherited its own connection and publisher thread (theirs stayed in the
/// parent), through the core's `fork::after_fork_in_child`. After it the inherited
/// handles, and the tracers, loggers and instruments obtained from them, keep working in
/// the child: what it records there is published by the child. Records queued but not
/// yet published at the fork are published by the parent, not again by the child.
///
/// Without this call, flush and close on an inherited NATS telemetry return
/// `DAGNATS_RESULT_NOT_CONNECTED` and nothing the child records through it is delivered.
/// A telemetry that cannot reconnect (for example its credentials file is gone) keeps
/// buffering, bounded, as while NATS is down; this function returns nothing, so that it
/// fits `pthread_atfork`, and `dagnats_last_error_message` then says why. In-memory and
/// no-op telemetries need nothing.
///
/// Thread-safety: call it on the thread that forked (the only thread of the child),
/// before starting others. Ownership: nothing to free.
#[no_mangle]
pub extern "C" fn dagnats_after_fork_child() {
    let _: dagnats_result = ffi_boundary!({
        let outcome = dagnats_observe::fork::after_fork_in_child();
        FORK_HANDLED_IN.store(std::process::id(), Ordering::Release);
        outcome?;
        Ok(())
    });
}

/// The library's version, for example `"0.1.0"` (the same as `DAGNATS_OBSERVE_VERSION`
/// in the header the program was compiled with).
///
/// Ownership: static; never free it. Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn dagnats_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}
