//! How C holds Rust values, in one place: the NULL checks and pointer casts every export
//! uses.
//!
//! Each C type is an opaque struct that the header only declares. [`Castable`] names the
//! Rust value behind it. Owned handles are `Box`es created by [`to_boxed`] and released
//! by [`free_boxed`]; [`try_ref`] and [`try_mut`] borrow them. Telemetry handles are
//! kept in a registry of live handles instead ([`Registry`]): they are created rarely,
//! shared between threads, and a double free or a use after free of one must be caught
//! without reading freed memory.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::cstr::null;
use crate::result::dagnats_result::DAGNATS_RESULT_INVALID_HANDLE;
use crate::result::{Failure, FfiResult};

/// Ties an opaque C type to the Rust value its pointers point at.
pub(crate) trait Castable {
    /// The Rust value.
    type RustType;
}

/// Moves `value` to the heap and hands C an owning pointer to it.
#[inline]
pub(crate) fn to_boxed<C: Castable>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Takes back and drops what [`to_boxed`] handed out; NULL does nothing.
///
/// # Safety
/// `p` is NULL or came from [`to_boxed`] for the same `C` and was not freed yet.
#[inline]
pub(crate) unsafe fn free_boxed<C: Castable>(p: *mut C) {
    if !p.is_null() {
        drop(Box::from_raw(p.cast::<C::RustType>()));
    }
}

/// Takes back ownership of what [`to_boxed`] handed out.
///
/// # Safety
/// As for [`free_boxed`], and `p` is not NULL.
#[inline]
pub(crate) unsafe fn take_boxed<C: Castable>(p: *mut C) -> Box<C::RustType> {
    Box::from_raw(p.cast::<C::RustType>())
}

/// Borrows the value behind a handle, failing with `NULL_ARGUMENT` for NULL.
///
/// # Safety
/// `p` is NULL or points to a live `C::RustType` (from [`to_boxed`], or a borrowed
/// pointer this library handed out that is still valid).
#[inline]
pub(crate) unsafe fn try_ref<'a, C: Castable>(p: *const C, name: &'static str) -> FfiResult<&'a C::RustType> {
    p.cast::<C::RustType>().as_ref().ok_or_else(|| null(name))
}

/// Borrows the value behind a handle mutably, failing with `NULL_ARGUMENT` for NULL.
///
/// # Safety
/// As for [`try_ref`], and nothing else uses the value meanwhile.
#[inline]
pub(crate) unsafe fn try_mut<'a, C: Castable>(p: *mut C, name: &'static str) -> FfiResult<&'a mut C::RustType> {
    p.cast::<C::RustType>().as_mut().ok_or_else(|| null(name))
}

/// Checks an output argument before any work is done; it is written only on success.
///
/// # Safety
/// `out` is NULL or valid for one write.
#[inline]
pub(crate) unsafe fn out_arg<'a, T>(out: *mut T, name: &'static str) -> FfiResult<&'a mut T> {
    out.as_mut().ok_or_else(|| null(name))
}

/// Live handles of one kind, by address. A handle is valid exactly while its address is
/// in the registry, so a freed handle is recognised without touching its memory. Calls
/// take a clone of the value's `Arc`, so one thread freeing a handle while another is
/// still flushing through it is safe.
///
/// A list, not a map: a process holds a handful of telemetries, and when the last one is
/// freed the list's memory goes too (nothing is left for a leak checker to puzzle over).
pub(crate) struct Registry<T> {
    live: Mutex<Vec<(usize, Arc<T>)>>,
}

impl<T> Registry<T> {
    pub(crate) const fn new() -> Self {
        Registry { live: Mutex::new(Vec::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(usize, Arc<T>)>> {
        // The list stays consistent even if a holder panicked.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `value` and returns its handle (the value's own address).
    pub(crate) fn insert<C>(&self, value: Arc<T>) -> *mut C {
        let p = Arc::as_ptr(&value) as *mut C;
        self.lock().push((p as usize, value));
        p
    }

    /// The value behind a live handle.
    pub(crate) fn get<C>(&self, p: *const C, name: &'static str) -> FfiResult<Arc<T>> {
        if p.is_null() {
            return Err(null(name));
        }
        let live = self.lock();
        live.iter().find(|(a, _)| *a == p as usize).map(|(_, v)| Arc::clone(v)).ok_or_else(|| not_live(name))
    }

    /// Unregisters a live handle and returns its value.
    pub(crate) fn remove<C>(&self, p: *const C, name: &'static str) -> FfiResult<Arc<T>> {
        if p.is_null() {
            return Err(null(name));
        }
        let mut live = self.lock();
        let at = live.iter().position(|(a, _)| *a == p as usize).ok_or_else(|| not_live(name))?;
        let (_, value) = live.swap_remove(at);
        if live.is_empty() {
            *live = Vec::new();
        }
        Ok(value)
    }
}

#[cold]
fn not_live(name: &'static str) -> Failure {
    Failure::new(DAGNATS_RESULT_INVALID_HANDLE, format!("{name} is not a live handle (freed twice, or never created)"))
}
