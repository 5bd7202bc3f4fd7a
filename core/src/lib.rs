//! # dagnats-observe
//!
//! Distributed tracing over NATS for DagNats workers: one implementation of W3C trace
//! context propagation and of the TELEMETRY wire format, shared by the Rust, Python,
//! Node and C packages.
//!
//! - [`Telemetry`] bundles a [`Tracer`], a [`Logger`] and [`Metrics`] over one [`Sink`].
//! - [`propagation`] reads and writes `traceparent`/`tracestate` on NATS headers and the
//!   engine's event fields.
//! - [`Collector`] publishes finished records to the `TELEMETRY` JetStream stream without
//!   blocking the worker.
//! - [`record`] holds the wire records, exactly as the Go engine reads and writes them.
//!
//! ## Quickstart
//!
//! A worker receives a task whose headers carry the engine's trace context, and does its
//! work in a child span:
//!
//! ```
//! use dagnats_observe::{propagation, Attribute, Context, SpanKind, SpanOptions, StatusCode, Telemetry};
//!
//! // In production: Telemetry::connect(CollectorOptions::from_env().service("rust-worker"))
//! let (tel, memory) = Telemetry::in_memory("rust-worker");
//!
//! let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
//! let cx = Context::from_remote(propagation::extract_from_headers(headers));
//! let (cx, mut span) = tel.tracer.start(
//!     &cx,
//!     "worker.executeTask",
//!     SpanOptions::new().kind(SpanKind::Server).attribute(Attribute::string("run_id", "r-42")),
//! );
//! tel.logger.info(&cx, "task started", []);
//! span.set_status(StatusCode::Ok, "");
//! span.end();
//!
//! let spans = memory.spans();
//! assert_eq!(spans[0].trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert_eq!(spans[0].parent_id.unwrap().to_string(), "00f067aa0ba902b7");
//! ```

#![warn(missing_docs)]

pub mod attribute;
mod clock;
pub mod collector;
mod context;
pub mod engine;
mod error;
pub mod fork;
pub mod format;
pub mod id;
pub mod intern;
mod limits;
mod logger;
pub mod metrics;
pub mod nats;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod propagation;
pub mod record;
pub mod resource;
pub mod sink;
mod span;
mod telemetry;
mod tracer;

pub use attribute::{Attribute, Attributes, Value};
pub use collector::{Collector, CollectorOptions, CollectorStats};
pub use context::Context;
pub use error::{Error, Result};
pub use format::TelemetryFormat;
pub use id::{SpanId, TraceId};
pub use limits::SpanLimits;
pub use logger::{LogEntry, Logger};
pub use metrics::{Counter, Gauge, Histogram, Metrics};
pub use propagation::SpanContext;
pub use record::{Level, SpanKind, StatusCode};
pub use sink::{MemorySink, NoopSink, Sink};
pub use span::Span;
pub use telemetry::Telemetry;
pub use tracer::{SpanOptions, Tracer, FALLBACK_SPAN_NAME};

/// The README's `rust` blocks, compiled (and run, unless marked `no_run`) as doc tests:
/// what the README shows builds against this crate as written.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
