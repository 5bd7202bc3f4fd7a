//! Span names, event names and attribute keys from C, borrowed from the core's intern
//! table ([`dagnats_observe::intern`]) instead of copied.
//!
//! The core borrows `'static` text without allocating (`Cow::Borrowed`), which Rust code
//! gets for free from literals. Text from C arrives as a borrowed `const char*` and would
//! otherwise be measured, checked for UTF-8 and copied into a new `String` on every call.
//! Names repeat (`"run_id"`, `"worker.executeTask"`), so each distinct one is interned
//! once, in the core's one table with the core's limits (shared with Node and Python).
//!
//! What is C's own is the way back from an argument to its number: C passes the same
//! address again and again (string literals keep theirs), so [`interned_arg`] first looks
//! in a small cache of numbers indexed by the argument's address, shared by all threads
//! without a lock. A hit compares the bytes at the address against the number's text,
//! NUL included, which also proves them UTF-8: a repeat costs one short comparison, no
//! `strlen`, no UTF-8 pass and no allocation. A miss goes through [`str_arg`] and the
//! core's table. A name the table does not take (too long, or the table is full) is
//! copied per call. Attribute values are never interned: they are usually unique (run
//! ids, messages).

use std::borrow::Cow;
use std::ffi::c_char;
use std::sync::atomic::{AtomicU32, Ordering};

use dagnats_observe::intern;

use crate::cstr::{null, str_arg};
use crate::result::FfiResult;

/// Slots of the address cache (a power of two).
const SLOTS: usize = 256;

/// The cache: the number of the name last seen at an address, plus one (0: empty). A
/// stale slot is harmless: a hit is only taken when the bytes match the number's text.
static RECENT: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];

#[inline]
fn slot(p: *const c_char) -> usize {
    let a = p as usize;
    ((a >> 2) ^ (a >> 11)) & (SLOTS - 1)
}

/// Whether the NUL-terminated string at `p` is exactly `text`. Reads stop at the first
/// difference, so never past `p`'s NUL (`text` holds no NUL).
///
/// # Safety
/// `p` points to a NUL-terminated string.
#[inline]
unsafe fn same(p: *const c_char, text: &str) -> bool {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if *p.add(i) as u8 != b {
            return false;
        }
    }
    *p.add(bytes.len()) == 0
}

/// A required NUL-terminated UTF-8 argument that names something (a span, an event, an
/// attribute key), as the core's `Str`: borrowed from the intern table when interned.
///
/// # Safety
/// As for [`str_arg`].
#[inline]
pub(crate) unsafe fn interned_arg(p: *const c_char, name: &'static str) -> FfiResult<Cow<'static, str>> {
    if p.is_null() {
        return Err(null(name));
    }
    let slot = &RECENT[slot(p)];
    let cached = slot.load(Ordering::Relaxed);
    if cached != 0 {
        if let Some(text) = intern::text(cached - 1) {
            if same(p, text) {
                return Ok(Cow::Borrowed(text));
            }
        }
    }
    interned_miss(p, name, slot)
}

#[cold]
#[inline(never)]
unsafe fn interned_miss(p: *const c_char, name: &'static str, slot: &AtomicU32) -> FfiResult<Cow<'static, str>> {
    let s = str_arg(p, name)?;
    match intern::intern(s).and_then(|id| Some((id, intern::text(id)?))) {
        Some((id, text)) => {
            slot.store(id + 1, Ordering::Relaxed);
            Ok(Cow::Borrowed(text))
        }
        None => Ok(Cow::Owned(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_hit_the_cache_and_still_check() {
        unsafe {
            let a = interned_arg(c"worker.executeTask".as_ptr(), "name").unwrap();
            let b = interned_arg(c"worker.executeTask".as_ptr(), "name").unwrap();
            assert!(matches!((&a, &b), (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(*x, *y)));
            // The core's table holds it: Node and Python find the same copy.
            assert_eq!(intern::str("worker.executeTask").as_ptr(), a.as_ptr());
            // Same address, other text: a miss, never a wrong hit.
            let mut buf = *b"abc\0";
            assert_eq!(interned_arg(buf.as_ptr().cast(), "k").unwrap(), "abc");
            buf[1] = b'x';
            assert_eq!(interned_arg(buf.as_ptr().cast(), "k").unwrap(), "axc");
            buf[2] = 0;
            assert_eq!(interned_arg(buf.as_ptr().cast(), "k").unwrap(), "ax");
            let bad = *b"a\xffc\0";
            assert!(interned_arg(bad.as_ptr().cast(), "k").is_err());
            assert_eq!(interned_arg(c"".as_ptr(), "k").unwrap(), "");
        }
    }

    #[test]
    fn names_past_the_cores_limit_are_copied() {
        let at_limit = format!("{}\0", "k".repeat(intern::MAX_LEN));
        let past = format!("{}\0", "k".repeat(intern::MAX_LEN + 1));
        unsafe {
            assert!(matches!(interned_arg(at_limit.as_ptr().cast(), "k").unwrap(), Cow::Borrowed(_)));
            let copied = interned_arg(past.as_ptr().cast(), "k").unwrap();
            assert!(matches!(&copied, Cow::Owned(s) if s.len() == intern::MAX_LEN + 1));
        }
    }
}
