//! # dagnats-observe-c
//!
//! The C ABI of dagnats-observe, installed as `libdagnats_observe` (shared and static)
//! with the generated header `include/dagnats_observe.h`. Only language glue lives here;
//! every behaviour is the core's.
//!
//! Conventions (rustls-ffi's):
//!
//! - Each C type is an opaque struct the header only declares (`handle`); every
//!   constructor has its free function, and each function's doc comment, copied into the
//!   header, says who owns what and which handles may be shared between threads.
//! - One result enum in numbered blocks and a thread-local last-error message
//!   (`result`); every export runs inside the panic boundary (`panic`).
//! - `const char*` inputs are NUL-terminated and checked for UTF-8; string outputs go to
//!   caller buffers that report the size they need (`cstr`).
//! - One C type family per module: `telemetry`, `tracer`, `span`, `propagation`, `log`,
//!   `metrics` (and `attribute`, shared by spans and logs).

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract of each export is in its C docs

mod attribute;
mod cstr;
mod handle;
mod intern;
mod log;
mod metrics;
mod panic;
mod propagation;
mod result;
mod span;
mod telemetry;
mod tracer;

// The kind and status constants are C's names for the core's numbers (span_kind and
// status_code convert through SpanKind/StatusCode::from_number); exported for Rust callers
// of the rlib too, so they are part of the crate's API rather than dead code.
pub use span::{DAGNATS_STATUS_ERROR, DAGNATS_STATUS_OK, DAGNATS_STATUS_UNSET};
pub use tracer::{
    DAGNATS_SPAN_KIND_CLIENT, DAGNATS_SPAN_KIND_CONSUMER, DAGNATS_SPAN_KIND_INTERNAL, DAGNATS_SPAN_KIND_PRODUCER,
    DAGNATS_SPAN_KIND_SERVER,
};
