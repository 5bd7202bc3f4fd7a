//! The Node.js binding of dagnats-observe: the npm package `dagnats-observe`.
//!
//! A thin skin over the Rust core. Each module holds one class family and its
//! conversions; parsing, ids, records and publishing are the core's. The package's
//! `index.js` adds what is JavaScript's own: AsyncLocalStorage for the current span,
//! `startActiveSpan`, carriers for `inject`/`extract`, and promise wrappers.
//!
//! Every exported function and method is `catch_unwind`: a Rust panic becomes a JS
//! `Error`, never an aborted process. Wrong argument types raise a `TypeError` naming the
//! argument or key; a bigint outside int64 raises a `RangeError` (see [`convert`]).

#![deny(clippy::all)]

mod convert;
mod error;
mod kind;
mod logger;
mod metrics;
mod propagation;
mod span;
mod span_context;
mod telemetry;
mod tracer;
