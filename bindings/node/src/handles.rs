//! Per-thread tables that let JavaScript refer to Rust objects by number, and the two
//! buffers a span shares with JavaScript.
//!
//! Creating a JS object that owns native memory (a napi-wrapped class or an external)
//! costs a weak reference and a GC finalizer each; for a span, whose whole life should
//! cost well under a microsecond, that would be most of the budget. So a span lives in a
//! slab here and JavaScript holds a numeric handle (slot and generation): a handle
//! whose span has ended no longer matches its slot's generation, and every call with it
//! does nothing. Tracers and loggers are registered the same way, once per `Telemetry`.
//!
//! The id buffer, the attribute buffer and the write plan, and the protocol over them, are described
//! once, in the package's `span-buffers.js`, which creates and binds them.
//!
//! Each JavaScript thread (main or worker) has its own tables, as it has its own objects.

use std::cell::{Cell, RefCell};
use std::ptr;

use dagnats_observe as core;
use dagnats_observe::propagation::{Baggage, SpanContext as CoreSpanContext, TraceFlags, TraceState};
use dagnats_observe::{SpanId, TraceId};
use napi::sys;

/// Slots are numbered below this; the generation is stored above it.
const SLOT_LIMIT: u32 = 1 << 24;
/// Generations wrap here so that a handle stays an exact JS number (< 2^53).
const GENERATION_LIMIT: u32 = 1 << 28;

struct Slot {
    generation: u32,
    span: Option<core::Span>,
}

/// The live spans of this thread.
#[derive(Default)]
struct SpanSlab {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

fn handle_of(index: u32, generation: u32) -> f64 {
    f64::from(generation) * f64::from(SLOT_LIMIT) + f64::from(index)
}

fn split(handle: f64) -> Option<(usize, u32)> {
    if !(handle >= 0.0 && handle.fract() == 0.0 && handle < f64::from(SLOT_LIMIT) * f64::from(GENERATION_LIMIT)) {
        return None;
    }
    let h = handle as u64;
    Some(((h % u64::from(SLOT_LIMIT)) as usize, (h / u64::from(SLOT_LIMIT)) as u32))
}

/// Attributes one call can carry in the attribute buffer (`ATTRIBUTE_BATCH` in
/// `span-buffers.js`).
pub const ATTRIBUTE_BUFFER_LEN: usize = 64;

thread_local! {
    static SPANS: RefCell<SpanSlab> = RefCell::new(SpanSlab::default());
    static TELEMETRIES: RefCell<Vec<Option<(core::Tracer, core::Logger)>>> = const { RefCell::new(Vec::new()) };
    static ID_BUFFER: Cell<*mut u32> = const { Cell::new(ptr::null_mut()) };
    static ATTRIBUTE_BUFFER: Cell<*mut f64> = const { Cell::new(ptr::null_mut()) };
    static WRITE_PLAN: Cell<*mut i32> = const { Cell::new(ptr::null_mut()) };
}

/// Elements of the write plan (`WRITE_PLAN_LENGTH` in `span-buffers.js`).
pub const WRITE_PLAN_LEN: usize = 16;

/// Stores a started span; returns its handle, or `None` when this thread already holds
/// 16 million live spans (the span is then ended at once).
pub fn insert_span(span: core::Span) -> Option<f64> {
    SPANS.with(|slab| {
        let mut slab = slab.borrow_mut();
        if let Some(index) = slab.free.pop() {
            let slot = &mut slab.slots[index as usize];
            slot.span = Some(span);
            return Some(handle_of(index, slot.generation));
        }
        let index = slab.slots.len() as u32;
        if index >= SLOT_LIMIT {
            return None;
        }
        slab.slots.push(Slot { generation: 0, span: Some(span) });
        Some(handle_of(index, 0))
    })
}

/// Runs `f` on the live span of `handle`; `None` when it has ended (or never existed).
pub fn with_span<T>(handle: f64, f: impl FnOnce(&mut core::Span) -> T) -> Option<T> {
    let (index, generation) = split(handle)?;
    SPANS.with(|slab| {
        let mut slab = slab.borrow_mut();
        let slot = slab.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.span.as_mut().map(f)
    })
}

/// Takes the span of `handle` out of the table (to end it); its slot is reused.
pub fn remove_span(handle: f64) -> Option<core::Span> {
    let (index, generation) = split(handle)?;
    SPANS.with(|slab| {
        let mut slab = slab.borrow_mut();
        let slot = slab.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let span = slot.span.take()?;
        slot.generation = (slot.generation + 1) % GENERATION_LIMIT;
        slab.free.push(index as u32);
        Some(span)
    })
}

/// Registers a telemetry's tracer and logger; returns their handle.
pub fn register_telemetry(tracer: core::Tracer, logger: core::Logger) -> u32 {
    TELEMETRIES.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(i) = t.iter().position(Option::is_none) {
            t[i] = Some((tracer, logger));
            i as u32
        } else {
            t.push(Some((tracer, logger)));
            (t.len() - 1) as u32
        }
    })
}

/// Forgets a telemetry handle (its `NativeTelemetry` was collected). Runs from a GC
/// finalizer: should the table be in use at that moment, the entry is left behind (a
/// few bytes) rather than risking a panic.
pub fn unregister_telemetry(handle: u32) {
    TELEMETRIES.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            if let Some(entry) = t.get_mut(handle as usize) {
                *entry = None;
            }
        }
    })
}

/// Runs `f` with the tracer of a telemetry handle.
pub fn with_tracer<T>(handle: u32, f: impl FnOnce(&core::Tracer) -> T) -> Option<T> {
    TELEMETRIES.with(|t| t.borrow().get(handle as usize)?.as_ref().map(|(tracer, _)| f(tracer)))
}

/// Runs `f` with the logger of a telemetry handle.
pub fn with_logger<T>(handle: u32, f: impl FnOnce(&core::Logger) -> T) -> Option<T> {
    TELEMETRIES.with(|t| t.borrow().get(handle as usize)?.as_ref().map(|(_, logger)| f(logger)))
}

/// The data of a typed array of `kind` with at least `min_len` elements, kept alive by a
/// strong reference for the life of the thread's environment (an ArrayBuffer's memory
/// never moves).
fn typed_array_data(
    env: sys::napi_env,
    array: sys::napi_value,
    kind: sys::napi_typedarray_type,
    min_len: usize,
) -> Option<*mut std::ffi::c_void> {
    let mut is_typed = false;
    unsafe { sys::napi_is_typedarray(env, array, &mut is_typed) };
    if !is_typed {
        return None;
    }
    let (mut actual, mut length, mut data, mut buffer, mut offset) =
        (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
    let status = unsafe {
        sys::napi_get_typedarray_info(env, array, &mut actual, &mut length, &mut data, &mut buffer, &mut offset)
    };
    if status != sys::Status::napi_ok || actual != kind || length < min_len || data.is_null() {
        return None;
    }
    let mut reference = ptr::null_mut();
    if unsafe { sys::napi_create_reference(env, array, 1, &mut reference) } != sys::Status::napi_ok {
        return None;
    }
    Some(data)
}

/// Binds this thread's id buffer (a `Uint32Array(8)`), attribute buffer (a
/// `Float64Array(3 * 64)`) and write plan (an `Int32Array(16)`); layouts in
/// `span-buffers.js`.
pub fn bind_buffers(
    env: sys::napi_env,
    ids: sys::napi_value,
    attributes: sys::napi_value,
    write_plan: sys::napi_value,
) -> Result<(), &'static str> {
    let ids = typed_array_data(env, ids, sys::TypedarrayType::uint32_array, 8)
        .ok_or("the id buffer must be a Uint32Array of 8 elements")?;
    let attributes = typed_array_data(env, attributes, sys::TypedarrayType::float64_array, 3 * ATTRIBUTE_BUFFER_LEN)
        .ok_or("the attribute buffer must be a Float64Array of 192 elements")?;
    let write_plan = typed_array_data(env, write_plan, sys::TypedarrayType::int32_array, WRITE_PLAN_LEN)
        .ok_or("the write plan must be an Int32Array of 16 elements")?;
    ID_BUFFER.with(|b| b.set(ids as *mut u32));
    ATTRIBUTE_BUFFER.with(|b| b.set(attributes as *mut f64));
    WRITE_PLAN.with(|b| b.set(write_plan as *mut i32));
    Ok(())
}

/// The write plan.
pub fn write_plan() -> Option<&'static mut [i32; WRITE_PLAN_LEN]> {
    let p = WRITE_PLAN.with(Cell::get);
    // SAFETY: set by bind_buffers to the data of a live Int32Array of that length, used
    // only on this thread and never across a call back into JavaScript.
    (!p.is_null()).then(|| unsafe { &mut *(p as *mut [i32; WRITE_PLAN_LEN]) })
}

/// The attribute buffer: `ATTRIBUTE_BUFFER_LEN` triples of f64.
pub fn attribute_words() -> Option<&'static [f64; 3 * ATTRIBUTE_BUFFER_LEN]> {
    let p = ATTRIBUTE_BUFFER.with(Cell::get);
    // SAFETY: set by bind_buffers to the data of a live Float64Array of that length,
    // used only on this thread.
    (!p.is_null()).then(|| unsafe { &*(p as *const [f64; 3 * ATTRIBUTE_BUFFER_LEN]) })
}

fn id_words() -> Option<&'static mut [u32; 8]> {
    let p = ID_BUFFER.with(Cell::get);
    // SAFETY: set by bind_buffers to the data of a live Uint32Array of >= 8 elements,
    // used only on this thread and never across a call back into JavaScript.
    (!p.is_null()).then(|| unsafe { &mut *(p as *mut [u32; 8]) })
}

/// Writes a span identity into the id buffer.
pub fn write_ids(context: &CoreSpanContext) {
    let Some(words) = id_words() else { return };
    let trace = context.trace_id.to_bytes();
    let span = context.span_id.to_bytes();
    for i in 0..4 {
        words[i] = u32::from_ne_bytes([trace[4 * i], trace[4 * i + 1], trace[4 * i + 2], trace[4 * i + 3]]);
    }
    for i in 0..2 {
        words[4 + i] = u32::from_ne_bytes([span[4 * i], span[4 * i + 1], span[4 * i + 2], span[4 * i + 3]]);
    }
    words[6] = u32::from(context.trace_flags.0);
    words[7] = u32::from(context.is_remote);
}

/// Reads the span identity in the id buffer, with `trace_state` and `baggage` (already
/// normalized by the core when they were read or created; an invalid trace state gives
/// the empty state, invalid baggage members are dropped). Neither is parsed when absent
/// or empty, the usual case. `None` when the buffer is unbound or holds an all-zero id.
pub fn read_ids(trace_state: Option<&str>, baggage: Option<&str>) -> Option<CoreSpanContext> {
    let words = id_words()?;
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    for i in 0..4 {
        trace[4 * i..4 * i + 4].copy_from_slice(&words[i].to_ne_bytes());
    }
    for i in 0..2 {
        span[4 * i..4 * i + 4].copy_from_slice(&words[4 + i].to_ne_bytes());
    }
    let trace_state = match trace_state {
        Some(s) if !s.is_empty() => TraceState::parse(s).unwrap_or_default(),
        _ => TraceState::EMPTY,
    };
    let baggage = match baggage {
        Some(b) if !b.is_empty() => Baggage::parse_values(&[b]),
        _ => Baggage::EMPTY,
    };
    Some(CoreSpanContext {
        trace_id: TraceId::from_bytes(trace)?,
        span_id: SpanId::from_bytes(span)?,
        trace_flags: TraceFlags(words[6] as u8),
        trace_state,
        is_remote: words[7] != 0,
        baggage,
    })
}
