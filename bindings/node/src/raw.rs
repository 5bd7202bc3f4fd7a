//! Plain Node-API callbacks for the per-span hot path.
//!
//! A `#[napi]` function with arguments sets up napi-rs's borrow-tracking scope on every
//! call (an allocation and thread-local bookkeeping), which costs more than a span's
//! whole recording. The functions a span calls are therefore registered here as bare
//! Node-API callbacks, and handed to JavaScript as one object by the `#[napi]` function
//! [`span_functions`] (declared in `native-header.d.ts` as `SpanFunctions`).
//!
//! [`boundary`] gives each callback the same guarantees as `#[napi(catch_unwind)]`: a
//! panic becomes a JS `Error`, an `Err` is thrown, and nothing unwinds into Node.

use std::ffi::c_void;
use std::ptr;

use napi::bindgen_prelude::{Object, Unknown};
use napi::{sys, Env, JsError};
use napi_derive::napi;

use crate::error::panic_message;

/// A bare Node-API callback.
pub type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// The first `N` arguments of a call; missing ones are `undefined`.
pub fn args<const N: usize>(env: sys::napi_env, info: sys::napi_callback_info) -> [sys::napi_value; N] {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
    if argc < N {
        let mut undefined = ptr::null_mut();
        unsafe { sys::napi_get_undefined(env, &mut undefined) };
        for slot in argv.iter_mut().skip(argc) {
            *slot = undefined;
        }
    }
    argv
}

/// Arguments held on the stack up to this count (a span's fixed arguments and about six
/// pending attributes); more go to the heap.
const STACK_ARGS: usize = 16;

/// All arguments of a call: fixed leading ones and a variable tail (for example the
/// pending attributes of a span, passed as `key, value, ...`).
pub struct Arguments {
    stack: [sys::napi_value; STACK_ARGS],
    heap: Vec<sys::napi_value>,
    len: usize,
}

impl Arguments {
    /// Reads every argument of the call.
    pub fn read(env: sys::napi_env, info: sys::napi_callback_info) -> Arguments {
        // Zeroing the buffer is cheap at this size; Node-API fills the first `len` slots.
        let mut args = Arguments { stack: [ptr::null_mut(); STACK_ARGS], heap: Vec::new(), len: STACK_ARGS };
        unsafe {
            sys::napi_get_cb_info(env, info, &mut args.len, args.stack.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
        };
        if args.len > STACK_ARGS {
            args.heap = vec![ptr::null_mut(); args.len];
            let mut len = args.len;
            unsafe {
                sys::napi_get_cb_info(env, info, &mut len, args.heap.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
            };
        }
        args
    }

    fn all(&self) -> &[sys::napi_value] {
        if self.heap.is_empty() {
            &self.stack[..self.len.min(STACK_ARGS)]
        } else {
            &self.heap
        }
    }

    /// Argument `i`; `undefined` when absent.
    pub fn get(&self, i: usize, env: sys::napi_env) -> sys::napi_value {
        self.all().get(i).copied().unwrap_or_else(|| undefined(env))
    }

    /// The arguments from `i` on.
    pub fn rest(&self, i: usize) -> &[sys::napi_value] {
        self.all().get(i..).unwrap_or(&[])
    }
}

/// `undefined`.
pub fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut value = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut value) };
    value
}

/// Runs a callback body: returns its value, throws its error, and turns a panic into a
/// thrown `Error` (never unwinding into Node).
pub fn boundary(env: sys::napi_env, body: impl FnOnce() -> napi::Result<sys::napi_value>) -> sys::napi_value {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(napi::Error::new(
            napi::Status::GenericFailure,
            format!("dagnats-observe: internal error: {}", panic_message(payload.as_ref())),
        ))
    });
    match result {
        Ok(value) => value,
        Err(error) => {
            unsafe { JsError::from(error).throw_into(env) };
            ptr::null_mut()
        }
    }
}

/// The span hot-path functions, as one object (see the module docs). Called once by the
/// package.
#[napi(catch_unwind, ts_return_type = "SpanFunctions")]
pub fn span_functions(env: &Env) -> napi::Result<Object<'_>> {
    let mut table = Object::new(env)?;
    let error: &[(&str, Callback)] = &[("typeError", crate::error::type_error_callback)];
    for (name, callback) in crate::span::CALLBACKS.iter().chain(crate::propagation::CALLBACKS).chain(error) {
        let mut function = ptr::null_mut();
        let status = unsafe {
            sys::napi_create_function(
                env.raw(),
                name.as_ptr().cast(),
                name.len() as isize,
                Some(*callback),
                ptr::null_mut::<c_void>(),
                &mut function,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::from_reason(format!("cannot create the function {name}")));
        }
        table.set(*name, unsafe { Unknown::from_raw_unchecked(env.raw(), function) })?;
    }
    Ok(table)
}
