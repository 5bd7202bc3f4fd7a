//! Sinks: where finished records go.
//!
//! The [`Sink`] trait is the seam between instrumented code and delivery, the Go seed's
//! adapter pattern: the NATS [`Collector`](crate::collector::Collector), the
//! [`MemorySink`] for tests, the [`NoopSink`], or your own. Swapping one for another
//! changes nothing in instrumented code.
//!
//! ```
//! use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//! use dagnats_observe::{record::Record, Context, Sink, SpanOptions, Telemetry};
//!
//! /// Counts spans; a real adapter would forward them to another backend.
//! #[derive(Default)]
//! struct Counting(AtomicUsize);
//! impl Sink for Counting {
//!     fn export(&self, record: Record) {
//!         if record.as_span().is_some() { self.0.fetch_add(1, Ordering::Relaxed); }
//!     }
//! }
//!
//! let sink = Arc::new(Counting::default());
//! let tel = Telemetry::with_sink("docs", sink.clone());
//! let (_, mut span) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
//! span.end();
//! assert_eq!(sink.0.load(Ordering::Relaxed), 1);
//! ```

mod memory;

use std::time::Duration;

pub use memory::MemorySink;

use crate::error::Result;
use crate::record::Record;

/// Receives finished spans, log records and metric points.
pub trait Sink: Send + Sync + 'static {
    /// Takes one finished record. Must return quickly and never block on I/O: it runs on
    /// the thread that ended the span.
    fn export(&self, record: Record);

    /// Waits until every record exported so far is delivered, at most `timeout`.
    fn flush(&self, timeout: Duration) -> Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Delivers what is pending (at most `timeout`) and stops.
    fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.flush(timeout)
    }

    /// Records dropped so far (buffer overflow or undeliverable).
    fn dropped(&self) -> u64 {
        0
    }
}

/// Discards everything, handing span records back to the record pool for the next span
/// (as the NATS collector does once it has published one), so that switched-off
/// telemetry allocates nothing per span, in every language.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSink;

impl Sink for NoopSink {
    fn export(&self, record: Record) {
        if let Record::Span(span) = record {
            crate::record::recycle(span);
        }
    }
}
