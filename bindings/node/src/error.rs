//! Errors crossing into JavaScript: the one place where Rust failures become JS errors.
//!
//! - Wrong argument types become a `TypeError` (code `ERR_INVALID_ARG_TYPE`) whose message
//!   names the argument or attribute key.
//! - Values of the right type but outside what the wire format can carry (a bigint
//!   beyond int64) become a `RangeError` (code `ERR_OUT_OF_RANGE`).
//! - The core's [`dagnats_observe::Error`] becomes, by [`core_error`]: `TypeError` for an
//!   invalid option (connection options by [`options_error`]: `TypeError` or
//!   `RangeError` with code `ERR_DAGNATS_<RULE>`; an unknown `format` by [`format_error`]:
//!   `TypeError` with code `ERR_DAGNATS_UNKNOWN_FORMAT`), an `Error` with a `code` (`ERR_DAGNATS_CONNECT`,
//!   `ERR_DAGNATS_TIMEOUT` with a `pending` count, `ERR_DAGNATS_CLOSED`) otherwise.
//!
//! Each builder returns a [`napi::Error`] that holds the finished JS error object, so it
//! can be thrown from a call or used to reject a promise.

use dagnats_observe::nats::{NatsField, NatsOptionsError, NatsOptionsErrorKind};
use dagnats_observe::Error as CoreError;
use napi::bindgen_prelude::{Object, Unknown};
use napi::{sys, Env, JsError, JsRangeError, JsTypeError, JsValue};

/// Code of the `TypeError`s thrown for arguments of the wrong type.
pub const CODE_INVALID_ARG_TYPE: &str = "ERR_INVALID_ARG_TYPE";
/// Code of the `RangeError`s thrown for values outside what the wire format can carry.
pub const CODE_OUT_OF_RANGE: &str = "ERR_OUT_OF_RANGE";

/// Wraps a finished JS error value so that returning it throws or rejects with it.
fn retained(value: Unknown<'_>) -> napi::Error {
    napi::Error::from(value)
}

/// A `TypeError` with code `ERR_INVALID_ARG_TYPE`.
pub fn type_error(env: sys::napi_env, message: impl Into<String>) -> napi::Error {
    let error = napi::Error::new(CODE_INVALID_ARG_TYPE, message.into());
    retained(JsTypeError::from(error).into_unknown(Env::from_raw(env)))
}

/// A `RangeError` with code `ERR_OUT_OF_RANGE`.
pub fn range_error(env: sys::napi_env, message: impl Into<String>) -> napi::Error {
    let error = napi::Error::new(CODE_OUT_OF_RANGE, message.into());
    retained(JsRangeError::from(error).into_unknown(Env::from_raw(env)))
}

/// The JS error for a failed connect, flush or close.
pub fn core_error(env: sys::napi_env, error: CoreError) -> napi::Error {
    let message = error.to_string();
    match error {
        CoreError::Config(_) => type_error(env, message),
        CoreError::Options(e) => options_error(env, e),
        CoreError::Connect(_) => coded_error(env, "ERR_DAGNATS_CONNECT", message, None),
        CoreError::Timeout { pending } => coded_error(env, "ERR_DAGNATS_TIMEOUT", message, Some(pending)),
        CoreError::Closed => coded_error(env, "ERR_DAGNATS_CLOSED", message, None),
        // The core may add kinds; they still reach JS as an Error with the core's text.
        _ => coded_error(env, "ERR_DAGNATS", message, None),
    }
}

/// The core's verdict on connection options: a `RangeError` for the timeout, a
/// `TypeError` for every other rule, with `code` `ERR_DAGNATS_` and the rule's name in
/// capitals (`ERR_DAGNATS_CONFLICTING_CREDENTIALS`) and a message naming the options as
/// `Telemetry.connect` spells them.
pub fn options_error(env: sys::napi_env, e: NatsOptionsError) -> napi::Error {
    let message = e.message(|f| {
        match f {
            NatsField::Url => "servers",
            NatsField::Password => "pass",
            NatsField::NKey => "nkeySeed",
            NatsField::CredentialsFile => "credentialsFile",
            NatsField::TlsRequired => "tls.required",
            NatsField::TlsCaFile => "tls.caFile",
            NatsField::TlsCertFile => "tls.certFile",
            NatsField::TlsKeyFile => "tls.keyFile",
            NatsField::ConnectTimeout => "timeout",
            NatsField::User | NatsField::Token | NatsField::Name => f.name(),
        }
        .to_owned()
    });
    let code = format!("ERR_DAGNATS_{}", e.kind().name().to_ascii_uppercase());
    let error = napi::Error::new(code, message);
    let value = match e.kind() {
        NatsOptionsErrorKind::InvalidTimeout => JsRangeError::from(error).into_unknown(Env::from_raw(env)),
        _ => JsTypeError::from(error).into_unknown(Env::from_raw(env)),
    };
    retained(value)
}

/// Code of the `TypeError` for a `format` (option or `DAGNATS_TELEMETRY_FORMAT`) that is
/// neither `records` nor `engine`.
pub const CODE_UNKNOWN_FORMAT: &str = "ERR_DAGNATS_UNKNOWN_FORMAT";

/// A `TypeError` with code `ERR_DAGNATS_UNKNOWN_FORMAT`; `message` is the core's, naming
/// the accepted values.
pub fn format_error(env: sys::napi_env, message: impl Into<String>) -> napi::Error {
    let error = napi::Error::new(CODE_UNKNOWN_FORMAT, message.into());
    retained(JsTypeError::from(error).into_unknown(Env::from_raw(env)))
}

/// An `Error` with `code`, and `pending` when given.
fn coded_error(env: sys::napi_env, code: &'static str, message: String, pending: Option<u64>) -> napi::Error {
    let value = JsError::from(napi::Error::new(code, message)).into_unknown(Env::from_raw(env));
    if let Some(pending) = pending {
        let mut object = Object::from_raw(env, value.value().value);
        // Best effort: the error is still thrown without the count.
        let _ = object.set("pending", pending as f64);
    }
    retained(value)
}

/// `typeError(message, got?)`, a bare Node-API callback in the package's function table
/// ([`crate::raw::span_functions`]): returns (does not throw) the package's `TypeError`
/// for a wrong argument, so that the package's own checks (an `fn` that is not a
/// function, a carrier that is not an object) raise the same error as the addon's.
/// With `got`, the message ends with `, got <what it is>`.
pub unsafe extern "C" fn type_error_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    crate::raw::boundary(env, || {
        let args = crate::raw::Arguments::read(env, info);
        let mut message = crate::convert::string(env, args.get(0, env), &|| "message".to_owned())?;
        if !args.rest(1).is_empty() {
            message = format!("{message}, got {}", crate::convert::describe(env, args.get(1, env))?);
        }
        let error = JsTypeError::from(napi::Error::new(CODE_INVALID_ARG_TYPE, message));
        Ok(error.into_unknown(Env::from_raw(env)).value().value)
    })
}

/// The text of a Rust panic caught at the boundary (never shown to users as a crash).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Runs `work`, turning a panic into an ordinary `Err` (for code that runs on libuv's
/// thread pool, where `#[napi(catch_unwind)]` does not reach).
pub fn catch_panic<T>(work: impl FnOnce() -> T) -> napi::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        napi::Error::new(
            napi::Status::GenericFailure,
            format!("dagnats-observe: internal error: {}", panic_message(payload.as_ref())),
        )
    })
}
