//! Recycling of span records between the thread that ends a span and the thread that
//! publishes it.
//!
//! With the system allocator, memory freed on another thread than the one that
//! allocated it is expensive (glibc takes the owning arena's lock), and a span record
//! otherwise makes that trip for its box and both of its lists. A sink that is done with
//! a record hands it back with [`recycle`]; the tracer reuses it, keeping the lists'
//! capacity, so a steady stream of spans allocates nothing for its records.

use std::sync::OnceLock;

use crossbeam_queue::ArrayQueue;

use super::SpanRecord;

/// Records kept for reuse, at most.
const POOL_SIZE: usize = 4096;
/// Records whose lists grew beyond these are freed instead of kept.
const MAX_KEPT_ATTRIBUTES: usize = 64;
const MAX_KEPT_EVENTS: usize = 16;

fn pool() -> &'static ArrayQueue<Box<SpanRecord>> {
    static POOL: OnceLock<ArrayQueue<Box<SpanRecord>>> = OnceLock::new();
    POOL.get_or_init(|| ArrayQueue::new(POOL_SIZE))
}

/// A cleared record to fill, when one is available.
#[inline]
pub(crate) fn take() -> Option<Box<SpanRecord>> {
    pool().pop()
}

/// Gives a record that is no longer needed back for reuse.
pub fn recycle(mut record: Box<SpanRecord>) {
    if record.attributes.capacity() > MAX_KEPT_ATTRIBUTES || record.events.capacity() > MAX_KEPT_EVENTS {
        return;
    }
    record.attributes.clear();
    record.events.clear();
    record.links = Vec::new();
    record.status_message.clear();
    record.error.clear();
    record.trace_state.clear();
    record.dropped_attributes_count = 0;
    record.dropped_events_count = 0;
    record.truncated_values_count = 0;
    let _ = pool().push(record);
}
