//! The [`Telemetry`] bundle: tracer, logger and metrics sharing one sink, the value that
//! DagNats components receive (the Go seed's `observe.Telemetry`).

use std::sync::Arc;
use std::time::Duration;

use crate::collector::{Collector, CollectorOptions, CollectorStats};
use crate::error::Result;
use crate::format::TelemetryFormat;
use crate::logger::Logger;
use crate::metrics::Metrics;
use crate::sink::{MemorySink, NoopSink, Sink};
use crate::tracer::Tracer;

/// Tracer, logger and metrics for one service, delivering to one sink. Cheap to clone.
///
/// ```
/// use dagnats_observe::{Context, SpanOptions, Telemetry};
///
/// let (tel, memory) = Telemetry::in_memory("docs");
/// let (cx, mut span) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
/// tel.logger.info(&cx, "working", []);
/// span.end();
/// assert_eq!(memory.spans()[0].service.as_ref(), "docs");
/// ```
#[derive(Clone)]
pub struct Telemetry {
    /// Starts spans.
    pub tracer: Tracer,
    /// Writes log records.
    pub logger: Logger,
    /// Creates metric instruments.
    pub metrics: Metrics,
    sink: Arc<dyn Sink>,
    collector: Option<Arc<Collector>>,
}

impl Telemetry {
    /// A bundle for `service` delivering to any sink (your own adapter included). Its
    /// tracer's span limits are [`SpanLimits::from_env`](crate::SpanLimits::from_env).
    pub fn with_sink(service: &str, sink: Arc<dyn Sink>) -> Self {
        let service: Arc<str> = service.into();
        Telemetry {
            tracer: Tracer::new(Arc::clone(&service), Arc::clone(&sink)).with_limits(crate::SpanLimits::from_env()),
            logger: Logger::new(Arc::clone(&service), Arc::clone(&sink)),
            metrics: Metrics::new(service, Arc::clone(&sink)),
            sink,
            collector: None,
        }
    }

    /// A bundle for `service` delivering to any sink in `format`: in the engine format
    /// its metric instruments aggregate and export every `metric_interval` (see
    /// [`crate::metrics`]); in the record format this is [`with_sink`](Self::with_sink).
    pub fn with_sink_format(
        service: &str,
        sink: Arc<dyn Sink>,
        format: TelemetryFormat,
        metric_interval: Duration,
    ) -> Self {
        let mut tel = Telemetry::with_sink(service, Arc::clone(&sink));
        if format == TelemetryFormat::Engine {
            tel.metrics = Metrics::aggregating(service, sink, metric_interval);
        }
        tel
    }

    /// Connects a NATS [`Collector`] and returns a bundle publishing to TELEMETRY, in the
    /// format of [`CollectorOptions::resolved_format`] (metrics aggregated every
    /// [`CollectorOptions::resolved_metric_interval`] in the engine format).
    pub fn connect(options: CollectorOptions) -> Result<Self> {
        let format = options.resolved_format()?;
        let options = CollectorOptions { format: Some(format), ..options };
        let collector = Arc::new(Collector::connect(&options)?);
        crate::fork::register(&collector);
        let interval = options.resolved_metric_interval();
        let mut tel = Telemetry::with_sink_format(&options.service, collector.clone(), format, interval);
        tel.collector = Some(collector);
        Ok(tel)
    }

    /// A bundle that keeps every record in memory, for tests; nothing leaves the process.
    pub fn in_memory(service: &str) -> (Self, Arc<MemorySink>) {
        let memory = Arc::new(MemorySink::new());
        (Telemetry::with_sink(service, memory.clone()), memory)
    }

    /// A bundle that discards everything.
    pub fn noop(service: &str) -> Self {
        Telemetry::with_sink(service, Arc::new(NoopSink))
    }

    /// The sink records go to.
    pub fn sink(&self) -> &Arc<dyn Sink> {
        &self.sink
    }

    /// The collector's counters, when this bundle publishes to NATS.
    pub fn collector_stats(&self) -> Option<CollectorStats> {
        self.collector.as_ref().map(|c| c.stats())
    }

    /// The NATS collector, when this bundle publishes to NATS.
    pub fn collector(&self) -> Option<&Arc<Collector>> {
        self.collector.as_ref()
    }

    /// In a forked child process: gives the collector its own connection and thread
    /// (see [`Collector::after_fork_in_child`]); otherwise only reseeds the id generator.
    pub fn after_fork_in_child(&self) -> Result<()> {
        self.metrics.after_fork_in_child();
        match &self.collector {
            Some(c) => c.after_fork_in_child(),
            None => {
                crate::id::reseed_after_fork();
                Ok(())
            }
        }
    }

    /// Waits until every record so far is delivered, at most `timeout`. Aggregated
    /// metrics (engine format) are exported first.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.metrics.export();
        self.sink.flush(timeout)
    }

    /// Delivers what is pending (at most `timeout`) and stops. Aggregated metrics (engine
    /// format) are exported one last time first, and their periodic export stops.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.metrics.shutdown();
        self.sink.shutdown(timeout)
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.sink.dropped()
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").field("service", &self.tracer.service()).finish()
    }
}
