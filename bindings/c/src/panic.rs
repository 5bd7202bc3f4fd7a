//! The boundary every export goes through: a panic never unwinds into C, and a failure
//! becomes the function's fallback value with its message stored as the thread's last
//! error.
//!
//! An export's body is a block returning [`FfiResult<T>`](crate::result::FfiResult).
//! [`Fallback`] on the C return type picks what C sees on failure: the code itself for
//! `dagnats_result`, 0, false or NULL for getters.

use std::any::Any;

use crate::result::{dagnats_result, set_last_error, FfiResult};

/// The value a C function returns when its body failed or panicked.
pub(crate) trait Fallback {
    fn fallback(code: dagnats_result) -> Self;
}

impl Fallback for dagnats_result {
    fn fallback(code: dagnats_result) -> Self {
        code
    }
}

impl Fallback for u8 {
    fn fallback(_: dagnats_result) -> Self {
        0
    }
}

impl Fallback for bool {
    fn fallback(_: dagnats_result) -> Self {
        false
    }
}

impl<T> Fallback for *const T {
    fn fallback(_: dagnats_result) -> Self {
        std::ptr::null()
    }
}

/// A body that returns nothing succeeded with `DAGNATS_RESULT_OK`.
impl From<()> for dagnats_result {
    fn from(_: ()) -> Self {
        dagnats_result::DAGNATS_RESULT_OK
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Turns a body's outcome into the C return value, recording failures.
#[inline(always)]
pub(crate) fn finish<T, R>(outcome: std::thread::Result<FfiResult<T>>) -> R
where
    T: Into<R>,
    R: Fallback,
{
    match outcome {
        Ok(Ok(value)) => value.into(),
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            R::fallback(failure.code)
        }
        Err(payload) => {
            set_last_error(&format!("panic: {}", panic_message(payload.as_ref())));
            R::fallback(dagnats_result::DAGNATS_RESULT_PANIC)
        }
    }
}

/// Wraps an export's body: `ffi_boundary!({ ...; Ok(value) })`.
macro_rules! ffi_boundary {
    ($body:block) => {
        $crate::panic::finish(::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::result::FfiResult<_> { $body },
        )))
    };
}
pub(crate) use ffi_boundary;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{dagnats_last_error_message, Failure};

    fn last_error() -> String {
        let mut buf = [0 as std::ffi::c_char; 256];
        let mut needed = 0usize;
        let r = unsafe { dagnats_last_error_message(buf.as_mut_ptr(), buf.len(), &mut needed) };
        assert_eq!(r, dagnats_result::DAGNATS_RESULT_OK);
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_owned()
    }

    fn panics(flag: bool) -> dagnats_result {
        ffi_boundary!({
            if flag {
                panic!("boom {}", 42);
            }
            Ok(())
        })
    }

    fn fails_as_getter() -> u8 {
        ffi_boundary!({ Err::<u8, _>(Failure::invalid("nope")) })
    }

    #[test]
    fn a_panic_becomes_the_panic_code_and_a_message() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = panics(true);
        std::panic::set_hook(hook);
        assert_eq!(r, dagnats_result::DAGNATS_RESULT_PANIC);
        assert_eq!(last_error(), "panic: boom 42");
        assert_eq!(panics(false), dagnats_result::DAGNATS_RESULT_OK);
    }

    #[test]
    fn a_failing_getter_returns_its_fallback() {
        assert_eq!(fails_as_getter(), 0);
        assert_eq!(last_error(), "nope");
    }
}
