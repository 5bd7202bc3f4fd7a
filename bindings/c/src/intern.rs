//! Interned text for span names and attribute keys.
//!
//! The core borrows `'static` text without allocating (`Cow::Borrowed`), which Rust code
//! gets for free from literals. Text from C arrives as a borrowed `const char*` and would
//! otherwise be measured, checked for UTF-8 and copied into a new `String` on every call.
//! Span names, event names and attribute keys are few and repeat (`"run_id"`,
//! `"worker.executeTask"`), so each distinct one is checked and copied once into a
//! process-wide table and borrowed from there afterwards.
//!
//! [`interned_arg`] looks first in a small cache indexed by the argument's address (string
//! literals keep theirs), shared by all threads without a lock: a hit compares the bytes
//! against the cached text, NUL included, which also proves them UTF-8, so a repeat costs
//! one short comparison and no allocation. A miss goes through [`str_arg`] and the table. The table
//! is bounded ([`MAX_ENTRIES`] texts of at most [`MAX_LEN`] bytes); past that, text is
//! copied per call. Attribute values are never interned: they are usually unique (run
//! ids, messages).
//!
//! The table lives as long as the process (its texts stay reachable from a static, so a
//! leak checker counts them as reachable, not lost).

use std::borrow::Cow;
use std::ffi::c_char;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

use crate::cstr::{null, str_arg};
use crate::result::FfiResult;

/// Most distinct texts the table holds.
pub(crate) const MAX_ENTRIES: usize = 4096;
/// Longest text that is interned, in bytes.
pub(crate) const MAX_LEN: usize = 128;
/// Slots of the per-thread cache (a power of two).
const SLOTS: usize = 256;

/// Every interned text, sorted, each in the cell that cache slots point at. (A sorted list
/// rather than a hash map: its one allocation is referenced from its start, so leak
/// checkers see everything here as reachable.)
static TABLE: Mutex<Vec<&'static &'static str>> = Mutex::new(Vec::new());

/// The cache: interned texts by the address they last came from, shared by all threads.
/// A slot points at a cell holding an interned text; cells are never freed, so a slot read
/// at any time points at a valid text (NULL: empty).
static RECENT: [AtomicPtr<&'static str>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

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
/// attribute key), as the core's `Str`: borrowed from the table when interned.
///
/// # Safety
/// As for [`str_arg`].
#[inline]
pub(crate) unsafe fn interned_arg(p: *const c_char, name: &'static str) -> FfiResult<Cow<'static, str>> {
    if p.is_null() {
        return Err(null(name));
    }
    let slot = &RECENT[slot(p)];
    // SAFETY: slots hold NULL or a cell leaked by `intern`, valid for the whole process.
    if let Some(cell) = slot.load(Ordering::Acquire).as_ref() {
        if same(p, cell) {
            return Ok(Cow::Borrowed(*cell));
        }
    }
    match intern(str_arg(p, name)?) {
        Interned::Text(cell) => {
            slot.store((cell as *const &'static str).cast_mut(), Ordering::Release);
            Ok(Cow::Borrowed(*cell))
        }
        Interned::Full(s) => Ok(Cow::Owned(s.to_owned())),
    }
}

enum Interned<'a> {
    Text(&'static &'static str),
    Full(&'a str),
}

#[cold]
fn intern(s: &str) -> Interned<'_> {
    if s.len() > MAX_LEN {
        return Interned::Full(s);
    }
    let mut table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let at = match table.binary_search_by(|cell| (**cell).cmp(s)) {
        Ok(found) => return Interned::Text(table[found]),
        Err(at) => at,
    };
    if table.len() >= MAX_ENTRIES {
        return Interned::Full(s);
    }
    let text: &'static str = Box::leak(s.to_owned().into_boxed_str());
    let cell: &'static &'static str = Box::leak(Box::new(text));
    table.insert(at, cell);
    Interned::Text(cell)
}

/// `s` as the core's `Str`: borrowed from the table when it is (or can be) interned, else
/// an owned copy.
#[cfg(test)]
pub(crate) fn text(s: &str) -> Cow<'static, str> {
    match intern(s) {
        Interned::Text(cell) => Cow::Borrowed(*cell),
        Interned::Full(s) => Cow::Owned(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_borrow_one_copy() {
        let (a, b) = (text("run_id"), text(&String::from("run_id")));
        match (a, b) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(x, y)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arguments_hit_the_cache_and_still_check() {
        unsafe {
            let a = interned_arg(c"worker.executeTask".as_ptr(), "name").unwrap();
            let b = interned_arg(c"worker.executeTask".as_ptr(), "name").unwrap();
            assert!(matches!((&a, &b), (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(*x, *y)));
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
    fn long_text_is_copied() {
        let long = "k".repeat(MAX_LEN + 1);
        assert!(matches!(text(&long), Cow::Owned(s) if s == long));
    }

    #[test]
    fn another_thread_finds_the_same_copy() {
        let here = text("step_id");
        let there = std::thread::spawn(|| match text("step_id") {
            Cow::Borrowed(t) => t.as_ptr() as usize,
            Cow::Owned(_) => 0,
        })
        .join()
        .unwrap();
        assert_eq!(here.as_ptr() as usize, there);
    }
}
