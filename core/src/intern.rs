//! Interned names: span names, event names and attribute keys held once per process.
//!
//! The core borrows `'static` text without allocating ([`Str`](crate::Str) is a `Cow`),
//! which Rust code gets for free from literals. Text from another language arrives as a
//! borrowed foreign string and would otherwise be checked and copied into a new `String`
//! on every call. Names are few and repeat (`"run_id"`, `"worker.executeTask"`), so a
//! language package interns each distinct one here once and passes its number (Node) or
//! keeps it in a cache of its own (C) afterwards.
//!
//! This is the one table and the one set of limits for every package: at most
//! [`MAX_ENTRIES`] names of at most [`MAX_LEN`] bytes (UTF-8, as Rust counts them).
//! Past either limit a name is simply not interned and the caller copies it per call.
//! Attribute values are never interned: they are usually unique (run ids, messages).
//!
//! Lookups by number ([`text`]) take no lock: numbers index an array of cells that are
//! written once and never freed. Lookups by name (only on a binding's cache miss) search
//! a sorted list under a lock. The table lives as long as the process; its texts stay
//! reachable from a static through pointers to their starts (a list, not a hash map, whose
//! allocation is held through a pointer into its middle), so a leak checker such as
//! valgrind counts them as reachable, not lost.
//!
//! ```
//! use dagnats_observe::intern;
//!
//! let id = intern::intern("worker.executeTask").unwrap();
//! assert_eq!(intern::intern(&String::from("worker.executeTask")), Some(id));
//! assert_eq!(intern::text(id), Some("worker.executeTask"));
//! assert_eq!(intern::intern(&"x".repeat(intern::MAX_LEN + 1)), None);
//! ```

use std::borrow::Cow;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

/// Most distinct names the table holds.
pub const MAX_ENTRIES: usize = 4096;
/// Longest name that is interned, in bytes.
pub const MAX_LEN: usize = 256;

/// The names by number: each slot is NULL or a cell leaked by [`intern`], written once.
static CELLS: [AtomicPtr<&'static str>; MAX_ENTRIES] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_ENTRIES];

/// The names with their numbers, sorted by name; also serializes writers.
static NUMBERS: Mutex<Vec<(&'static str, u32)>> = Mutex::new(Vec::new());

/// The number of `name`, interning it on first sight; `None` when it is longer than
/// [`MAX_LEN`] bytes or the table is full.
#[cold]
pub fn intern(name: &str) -> Option<u32> {
    if name.len() > MAX_LEN {
        return None;
    }
    let mut numbers = NUMBERS.lock().unwrap_or_else(|p| p.into_inner());
    let at = match numbers.binary_search_by(|(text, _)| (*text).cmp(name)) {
        Ok(found) => return Some(numbers[found].1),
        Err(at) => at,
    };
    let id = numbers.len();
    if id >= MAX_ENTRIES {
        return None;
    }
    let text: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let cell: &'static &'static str = Box::leak(Box::new(text));
    CELLS[id].store((cell as *const &'static str).cast_mut(), Ordering::Release);
    numbers.insert(at, (text, id as u32));
    Some(id as u32)
}

/// The name numbered `id`, or `None` when no name has that number.
#[inline]
pub fn text(id: u32) -> Option<&'static str> {
    let cell = CELLS.get(id as usize)?.load(Ordering::Acquire);
    // SAFETY: a non-null slot points at a cell leaked by `intern`, never freed or changed.
    unsafe { cell.as_ref() }.copied()
}

/// `name` as the core's `Str`: borrowed from the table when it is (or can be) interned,
/// else an owned copy.
pub fn str(name: &str) -> Cow<'static, str> {
    match intern(name).and_then(text) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_held_once_and_found_by_its_number() {
        let a = intern("run_id").unwrap();
        let b = intern(&String::from("run_id")).unwrap();
        assert_eq!(a, b);
        assert_eq!(text(a), Some("run_id"));
        // A second copy of the text, at another address, finds the same interned name.
        let copy = String::from("run_id");
        match (str("run_id"), str(copy.as_str())) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(x, y)),
            other => panic!("not borrowed: {other:?}"),
        }
    }

    #[test]
    fn limits_are_in_bytes() {
        // 128 two-byte characters: 128 characters but 256 bytes, the longest interned.
        let wide = "é".repeat(MAX_LEN / 2);
        assert!(intern(&wide).is_some());
        assert_eq!(intern(&format!("{wide}x")), None);
        assert!(matches!(str(&format!("{wide}x")), Cow::Owned(_)));
    }

    #[test]
    fn unknown_numbers_have_no_text() {
        assert_eq!(text(MAX_ENTRIES as u32), None);
        assert_eq!(text(u32::MAX), None);
    }
}
