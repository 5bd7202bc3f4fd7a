//! Strings across the boundary: NUL-terminated UTF-8 in, sized buffers out.
//!
//! Every `const char*` argument goes through [`str_arg`] (required) or [`opt_str_arg`]
//! (NULL allowed), which check for NULL and for UTF-8 and name the argument in the
//! failure message. Every string result goes through [`write_out`]: the caller's buffer
//! receives the text and a NUL only when both fit; the size needed, NUL included, is
//! reported either way.

use std::ffi::{c_char, CStr};

use crate::result::dagnats_result::*;
use crate::result::{Failure, FfiResult};

/// A required NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
#[inline]
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &'static str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    // Most arguments are short ASCII (attribute values, ids): for those one pass both
    // finds the NUL and proves the text UTF-8, where strlen and a UTF-8 check would be
    // two calls and two passes. Longer or non-ASCII text takes the general path.
    for n in 0..SHORT {
        match *p.add(n) as u8 {
            0 => return Ok(std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast::<u8>(), n))),
            b if b >= 0x80 => break,
            _ => {}
        }
    }
    utf8(CStr::from_ptr(p), name)
}

/// How many leading bytes [`str_arg`] reads one by one before it hands over to strlen.
const SHORT: usize = 32;

/// An optional NUL-terminated UTF-8 argument: NULL gives `None`.
///
/// # Safety
/// As for [`str_arg`].
#[inline]
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &'static str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    utf8(CStr::from_ptr(p), name).map(Some)
}

#[inline]
fn utf8<'a>(c: &'a CStr, name: &'static str) -> FfiResult<&'a str> {
    c.to_str().map_err(|e| {
        Failure::new(DAGNATS_RESULT_INVALID_UTF8, format!("{name}: invalid UTF-8 at byte {}", e.valid_up_to()))
    })
}

/// The failure for a NULL required argument.
#[cold]
pub(crate) fn null(name: &'static str) -> Failure {
    Failure::new(DAGNATS_RESULT_NULL_ARGUMENT, format!("{name} is NULL"))
}

/// Writes `text` and a NUL into `buf` of `len` bytes, and the size that needs into
/// `needed` (when not NULL).
///
/// `buf` may be NULL only with `len == 0` (a size query). When the text does not fit,
/// nothing is written into `buf` and the result is `DAGNATS_RESULT_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes of writes; `needed` is NULL or valid for one
/// write.
pub(crate) unsafe fn write_out(text: &[u8], buf: *mut c_char, len: usize, needed: *mut usize) -> FfiResult<()> {
    let need = text.len() + 1;
    if !needed.is_null() {
        *needed = need;
    }
    if buf.is_null() && len != 0 {
        return Err(null("buf"));
    }
    if len < need {
        return Err(Failure::new(
            DAGNATS_RESULT_BUFFER_TOO_SMALL,
            format!("buffer of {len} bytes is too small: {need} needed, NUL included"),
        ));
    }
    std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
    *buf.add(text.len()) = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_in() {
        unsafe {
            assert_eq!(str_arg(c"héllo".as_ptr(), "s").unwrap(), "héllo");
            let f = str_arg(std::ptr::null(), "name").unwrap_err();
            assert_eq!((f.code, f.message.as_ref()), (DAGNATS_RESULT_NULL_ARGUMENT, "name is NULL"));
            let bad = b"ab\xffc\0";
            let f = str_arg(bad.as_ptr().cast(), "key").unwrap_err();
            assert_eq!((f.code, f.message.as_ref()), (DAGNATS_RESULT_INVALID_UTF8, "key: invalid UTF-8 at byte 2"));
            assert_eq!(opt_str_arg(std::ptr::null(), "x").unwrap(), None);
            // Either side of the one-pass length: short and long, ASCII and not.
            for text in ["", "r-42", &"a".repeat(SHORT - 1), &"a".repeat(SHORT), &"b".repeat(SHORT + 7), "é", "aé"] {
                let c = std::ffi::CString::new(text).unwrap();
                assert_eq!(str_arg(c.as_ptr(), "s").unwrap(), text);
            }
            let mut bytes = "a".repeat(SHORT + 3).into_bytes();
            bytes.extend([0xff, 0]);
            let f = str_arg(bytes.as_ptr().cast(), "v").unwrap_err();
            assert_eq!(f.code, DAGNATS_RESULT_INVALID_UTF8);
        }
    }

    #[test]
    fn sized_buffers_out() {
        let mut buf = [b'x' as c_char; 4];
        let mut needed = 0;
        unsafe {
            assert_eq!(
                write_out(b"abcd", buf.as_mut_ptr(), 4, &mut needed).unwrap_err().code,
                DAGNATS_RESULT_BUFFER_TOO_SMALL
            );
            assert_eq!(needed, 5);
            assert_eq!(buf, [b'x' as c_char; 4], "nothing written on failure");
            write_out(b"abc", buf.as_mut_ptr(), 4, &mut needed).unwrap();
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_bytes(), b"abc");
            assert_eq!(
                write_out(b"", std::ptr::null_mut(), 0, &mut needed).unwrap_err().code,
                DAGNATS_RESULT_BUFFER_TOO_SMALL
            );
            assert_eq!(needed, 1);
            assert_eq!(
                write_out(b"", std::ptr::null_mut(), 3, std::ptr::null_mut()).unwrap_err().code,
                DAGNATS_RESULT_NULL_ARGUMENT
            );
        }
    }
}
