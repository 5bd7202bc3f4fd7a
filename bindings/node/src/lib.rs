//! The Node.js binding of dagnats-observe: the npm package `dagnats-observe`.
//!
//! A thin skin over the Rust core. Parsing, ids, the carrier rules, interning, records and
//! publishing are the core's; this crate converts JavaScript values to the core's types
//! and raises JavaScript's errors (all of them built in [`error`], one set of messages).
//! The package's `index.js` adds what is JavaScript's own: AsyncLocalStorage for the
//! current span, `startActiveSpan`, walking the carriers of `inject`/`extract`, and
//! promise wrappers.
//!
//! Spans are the hot path, so they are not napi classes: a span lives in a per-thread
//! table and JavaScript holds its handle ([`handles`]); see there for why.
//!
//! Every exported function and method is `catch_unwind`: a Rust panic becomes a JS
//! `Error`, never an aborted process. Wrong argument types raise a `TypeError` naming the
//! argument or key; a bigint outside int64 raises a `RangeError` ([`convert`], [`error`]).

#![deny(clippy::all)]

mod convert;
mod error;
mod handles;
mod kind;
mod logger;
mod metrics;
mod propagation;
mod raw;
mod span;
mod span_context;
mod telemetry;
