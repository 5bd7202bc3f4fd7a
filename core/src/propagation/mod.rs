//! W3C Trace Context: the span context that crosses process boundaries, and how it is
//! written into and read from NATS message headers and the engine's event fields.
//!
//! - [`traceparent`](parse_traceparent): `00-{trace_id}-{span_id}-{flags}`, parsed exactly
//!   as the W3C Recommendation says (future versions by their first four fields).
//! - [`TraceState`]: vendor key/value list, validated with the Level 2 key grammar and
//!   passed on unchanged.
//! - [`Baggage`]: the W3C `baggage` header, validated and carried through unchanged.
//! - carriers: header maps whose names match case-insensitively and may repeat, and
//!   DagNats event objects with `trace_parent`/`trace_state` (dual write).
//!
//! A malformed header never fails the caller: extraction returns `None` and the next span
//! starts a new trace.
//!
//! # Example
//!
//! ```
//! use async_nats::HeaderMap;
//! use dagnats_observe::propagation::{extract_nats, inject_event, inject_nats, TraceState};
//!
//! // Incoming message: the header name's case does not matter.
//! let mut incoming = HeaderMap::new();
//! incoming.insert("TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! incoming.insert("tracestate", "congo=t61rcWkgMzE");
//! let parent = extract_nats(Some(&incoming), None).expect("valid trace context");
//! assert!(parent.is_remote && parent.trace_flags.is_sampled());
//!
//! // Outgoing message and event: same trace, this hop's span id, our tracestate entry first.
//! let mut next = parent.clone();
//! next.span_id = dagnats_observe::SpanId::random();
//! next.trace_state = next.trace_state.insert("rojo", "00f067aa0ba902b7").unwrap();
//! let mut headers = HeaderMap::new();
//! inject_nats(&next, &mut headers);
//! let mut event = serde_json::Map::new();
//! inject_event(&next, &mut event);
//! assert_eq!(event["trace_state"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
//! assert_eq!(extract_nats(Some(&headers), None).unwrap().trace_id, parent.trace_id);
//! # let _ = TraceState::EMPTY;
//! ```

pub mod baggage;
mod carrier;
mod traceparent;
mod tracestate;

pub use baggage::Baggage;
pub use carrier::*;
pub use traceparent::*;
pub use tracestate::*;

use crate::id::{SpanId, TraceId};

/// The 8-bit W3C trace-flags field. Bits we do not interpret are carried unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceFlags(pub u8);

impl TraceFlags {
    /// The `sampled` bit (0x01).
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// The Level 2 `random-trace-id` bit (0x02).
    pub const RANDOM: TraceFlags = TraceFlags(0x02);

    /// Whether the `sampled` bit is set.
    pub fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }
}

/// The identity of a span as it travels: ids, flags, vendor trace state, and whether it
/// came from another process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// Trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's own id (the next hop's parent id).
    pub span_id: SpanId,
    /// Trace flags, carried unchanged from the parent.
    pub trace_flags: TraceFlags,
    /// Vendor trace state, carried unchanged from the parent.
    pub trace_state: TraceState,
    /// True when this context was extracted from a message rather than created here.
    pub is_remote: bool,
    /// W3C baggage that came with the parent, carried unchanged to the next hop.
    pub baggage: Baggage,
}

impl SpanContext {
    /// The `traceparent` header value for the next hop (always version `00`).
    pub fn traceparent(&self) -> String {
        format_traceparent(self.trace_id, self.span_id, self.trace_flags)
    }
}
