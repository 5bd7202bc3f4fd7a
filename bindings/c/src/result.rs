//! The one result enum, its texts, the mapping from the core's errors, and the
//! thread-local last-error message.
//!
//! Codes live in numbered blocks that never move: a retired code keeps its number as a
//! comment, and a new code takes the next free number of its block.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use dagnats_observe::nats::{NatsField, NatsOptionsError};
use dagnats_observe::Error;

use crate::cstr::write_out;

/// What a call did. `DAGNATS_RESULT_OK` is 0; every other value is a failure, and the
/// thread's last-error message (`dagnats_last_error_message`) then says why.
///
/// Numbered in blocks that never change: 1xxx caller errors, 2xxx delivery (NATS),
/// 9xxx faults inside the library.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum dagnats_result {
    /// Success.
    DAGNATS_RESULT_OK = 0,

    // 1000: the caller's arguments.
    /// A required pointer argument was NULL.
    DAGNATS_RESULT_NULL_ARGUMENT = 1000,
    /// A `const char*` argument was not valid UTF-8.
    DAGNATS_RESULT_INVALID_UTF8 = 1001,
    /// An argument was out of range or malformed (an unknown enum value, a bad id, JSON
    /// that is not an object, an in-memory call on a NATS telemetry, ...).
    DAGNATS_RESULT_INVALID_ARGUMENT = 1002,
    /// An output buffer was too small; the size needed (including the NUL) was written
    /// to the `needed` argument. Nothing was written into the buffer.
    DAGNATS_RESULT_BUFFER_TOO_SMALL = 1003,
    /// A telemetry handle that is not live: already freed, or never returned by this
    /// library.
    DAGNATS_RESULT_INVALID_HANDLE = 1004,
    /// A caller callback returned non-zero; the call stopped there.
    DAGNATS_RESULT_CALLBACK_FAILED = 1005,

    // 2000: delivery to NATS.
    /// Could not connect to NATS: bad credentials, TLS failure, bad URL. Also returned
    /// for a telemetry inherited across fork() until the child has called
    /// dagnats_after_fork_child() (till then its collector thread is in the parent).
    DAGNATS_RESULT_NOT_CONNECTED = 2000,
    /// Flush or close ran out of time with records not yet acknowledged.
    DAGNATS_RESULT_TIMEOUT = 2001,
    /// The telemetry was already closed.
    DAGNATS_RESULT_CLOSED = 2002,
    /// The connect options were inconsistent (for example two kinds of credentials, a bad
    /// URL, a zero connect timeout, an unreadable credentials file); the last-error
    /// message starts with the rule's name (see `dagnats_connect_options_validate`).
    DAGNATS_RESULT_INVALID_CONFIG = 2003,

    // 9000: faults inside the library.
    /// An unexpected internal error.
    DAGNATS_RESULT_INTERNAL_ERROR = 9000,
    /// Rust code panicked; the panic was caught at the boundary. The handle involved
    /// may be in an unspecified (but memory-safe) state.
    DAGNATS_RESULT_PANIC = 9001,
}

use dagnats_result::*;

impl dagnats_result {
    /// The fixed text of a code.
    pub(crate) fn text(self) -> &'static CStr {
        match self {
            DAGNATS_RESULT_OK => c"ok",
            DAGNATS_RESULT_NULL_ARGUMENT => c"a required argument was NULL",
            DAGNATS_RESULT_INVALID_UTF8 => c"a string argument was not valid UTF-8",
            DAGNATS_RESULT_INVALID_ARGUMENT => c"an argument was invalid",
            DAGNATS_RESULT_BUFFER_TOO_SMALL => c"the output buffer is too small",
            DAGNATS_RESULT_INVALID_HANDLE => c"the handle is not live (already freed?)",
            DAGNATS_RESULT_CALLBACK_FAILED => c"a callback reported a failure",
            DAGNATS_RESULT_NOT_CONNECTED => c"not connected to NATS",
            DAGNATS_RESULT_TIMEOUT => c"timed out",
            DAGNATS_RESULT_CLOSED => c"the telemetry is closed",
            DAGNATS_RESULT_INVALID_CONFIG => c"invalid telemetry configuration",
            DAGNATS_RESULT_INTERNAL_ERROR => c"internal error",
            DAGNATS_RESULT_PANIC => c"internal error: a panic was caught",
        }
    }

    fn from_u32(code: u32) -> Option<dagnats_result> {
        const ALL: [dagnats_result; 13] = [
            DAGNATS_RESULT_OK,
            DAGNATS_RESULT_NULL_ARGUMENT,
            DAGNATS_RESULT_INVALID_UTF8,
            DAGNATS_RESULT_INVALID_ARGUMENT,
            DAGNATS_RESULT_BUFFER_TOO_SMALL,
            DAGNATS_RESULT_INVALID_HANDLE,
            DAGNATS_RESULT_CALLBACK_FAILED,
            DAGNATS_RESULT_NOT_CONNECTED,
            DAGNATS_RESULT_TIMEOUT,
            DAGNATS_RESULT_CLOSED,
            DAGNATS_RESULT_INVALID_CONFIG,
            DAGNATS_RESULT_INTERNAL_ERROR,
            DAGNATS_RESULT_PANIC,
        ];
        ALL.into_iter().find(|r| *r as u32 == code)
    }
}

/// A failed call: its code and the message stored as the thread's last error.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: dagnats_result,
    pub(crate) message: Cow<'static, str>,
}

impl Failure {
    pub(crate) fn new(code: dagnats_result, message: impl Into<Cow<'static, str>>) -> Failure {
        Failure { code, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(DAGNATS_RESULT_INVALID_ARGUMENT, message)
    }
}

/// What every export's body returns; the boundary turns it into the C return value.
pub(crate) type FfiResult<T> = Result<T, Failure>;

/// The one mapping from the core's error to a code.
impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match &e {
            Error::Options(options) => return options_failure(options.clone()),
            Error::Connect(_) => DAGNATS_RESULT_NOT_CONNECTED,
            Error::Config(_) => DAGNATS_RESULT_INVALID_CONFIG,
            Error::Timeout { .. } => DAGNATS_RESULT_TIMEOUT,
            Error::Closed => DAGNATS_RESULT_CLOSED,
            _ => DAGNATS_RESULT_INTERNAL_ERROR,
        };
        Failure::new(code, e.to_string())
    }
}

/// The core's verdict on connection options: `DAGNATS_RESULT_INVALID_CONFIG`, the message
/// naming each option by its setter (`dagnats_connect_options_set_<name>`).
pub(crate) fn options_failure(e: NatsOptionsError) -> Failure {
    let message = e.message(|f| {
        match f {
            NatsField::NKey => "nkey_seed",
            NatsField::TlsCertFile => "tls_client_cert cert_path",
            NatsField::TlsKeyFile => "tls_client_cert key_path",
            NatsField::Name => "connection_name",
            NatsField::ConnectTimeout => "connect_timeout_ms",
            other => other.name(),
        }
        .to_owned()
    });
    Failure::new(DAGNATS_RESULT_INVALID_CONFIG, message)
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Stores `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    // try_with: during thread teardown the slot may be gone; the code still reaches C.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            s.clear();
            s.push_str(message);
        }
    });
}

/// A static, NUL-terminated English text for a result code (for example
/// `"the output buffer is too small"`). Unknown codes give `"unknown result code"`.
///
/// Ownership: the returned string is static; never free it. Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn dagnats_result_text(result: u32) -> *const c_char {
    match dagnats_result::from_u32(result) {
        Some(r) => r.text().as_ptr(),
        None => c"unknown result code".as_ptr(),
    }
}

/// Copies the message of the last failed call on this thread into `buf` (NUL-terminated).
/// The message names the argument or the cause, for example
/// `"name: invalid UTF-8 at byte 3"`. It is `""` when no call on this thread has failed
/// yet; successful calls leave it unchanged.
///
/// `needed` (may be NULL) receives the size the message needs, including the NUL. Pass
/// `buf = NULL, len = 0` to ask for the size only (the call then returns
/// `DAGNATS_RESULT_BUFFER_TOO_SMALL`). This call does not itself change the last error.
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread; each thread has its own
/// last error.
#[no_mangle]
pub unsafe extern "C" fn dagnats_last_error_message(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    let copy = LAST_ERROR.try_with(|slot| slot.borrow().clone()).unwrap_or_default();
    match std::panic::catch_unwind(|| write_out(copy.as_bytes(), buf, len, needed)) {
        Ok(Ok(())) => DAGNATS_RESULT_OK,
        Ok(Err(f)) => f.code,
        Err(_) => DAGNATS_RESULT_PANIC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_text() {
        for code in [0u32, 1000, 1001, 1002, 1003, 1004, 1005, 2000, 2001, 2002, 2003, 9000, 9001] {
            let r = dagnats_result::from_u32(code).expect("known code");
            assert_eq!(r as u32, code);
            let c = unsafe { std::ffi::CStr::from_ptr(dagnats_result_text(code)) };
            assert_eq!(c, r.text());
        }
        assert!(dagnats_result::from_u32(7).is_none());
    }

    #[test]
    fn core_errors_map_to_their_codes() {
        assert_eq!(Failure::from(Error::Timeout { pending: 3 }).code, DAGNATS_RESULT_TIMEOUT);
        assert_eq!(Failure::from(Error::Closed).code, DAGNATS_RESULT_CLOSED);
        assert_eq!(Failure::from(Error::Connect("x".into())).code, DAGNATS_RESULT_NOT_CONNECTED);
        assert_eq!(Failure::from(Error::Config("x".into())).code, DAGNATS_RESULT_INVALID_CONFIG);
    }
}
