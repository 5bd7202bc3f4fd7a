//! The NATS collector: the [`Sink`] that publishes records to the TELEMETRY stream.
//!
//! Ending a span never waits for the network. The record goes into a bounded queue
//! (capacity [`CollectorOptions::buffer_capacity`]); a background thread serializes it
//! and publishes it to `telemetry.spans.{service}.{run_id}` (logs and metrics to their
//! own subjects) with `Nats-Msg-Id`, keeping up to [`CollectorOptions::max_in_flight`]
//! acknowledged JetStream publishes in flight. When NATS is down, records wait in the
//! queue and go out after the reconnect; what does not fit is dropped and counted
//! ([`Collector::stats`]). [`flush`](Sink::flush) and [`shutdown`](Sink::shutdown) are
//! explicit and bounded in time.
//!
//! ```no_run
//! use std::time::Duration;
//! use dagnats_observe::{CollectorOptions, Context, SpanOptions, Telemetry};
//!
//! let tel = Telemetry::connect(CollectorOptions::from_env().service("py-worker"))?;
//! let (_cx, mut span) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
//! span.end();
//! tel.shutdown(Duration::from_secs(5))?;
//! # Ok::<(), dagnats_observe::Error>(())
//! ```

mod fit;
mod publisher;
mod queue;
pub mod stream;
pub mod subject;

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::format::TelemetryFormat;
use crate::nats::{InitialConnect, NatsOptions};
use crate::record::Record;
use crate::sink::Sink;
use publisher::Shared;
pub use queue::RecordQueue;

/// Default queue capacity, in records.
pub const DEFAULT_BUFFER_CAPACITY: usize = 16_384;
/// Default number of publishes awaiting their acknowledgement.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;

/// Settings of the collector.
#[derive(Clone, Debug)]
pub struct CollectorOptions {
    /// Where and how to connect.
    pub nats: NatsOptions,
    /// Service name stamped on every record.
    pub service: String,
    /// Records that may wait for NATS; more are dropped and counted.
    pub buffer_capacity: usize,
    /// Publishes awaiting acknowledgement at once.
    pub max_in_flight: usize,
    /// What to write: the record format or the engine's dialect. `None` reads
    /// `DAGNATS_TELEMETRY_FORMAT` when the collector connects (records when unset).
    pub format: Option<TelemetryFormat>,
    /// How often aggregated metrics are published in the engine format. `None` reads
    /// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds) when the telemetry connects, else
    /// [`DEFAULT_METRIC_INTERVAL`](crate::metrics::DEFAULT_METRIC_INTERVAL) (10 s).
    pub metric_interval: Option<Duration>,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            nats: NatsOptions::default(),
            service: "unknown_service".to_owned(),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            format: None,
            metric_interval: None,
        }
    }
}

impl CollectorOptions {
    /// The NATS options of [`NatsOptions::from_env`] (every `NATS_*` variable of the
    /// table in the crate's README) and `OTEL_SERVICE_NAME`, defaults otherwise.
    pub fn from_env() -> Self {
        let mut o = CollectorOptions { nats: NatsOptions::from_env(), ..Default::default() };
        if let Some(s) = std::env::var("OTEL_SERVICE_NAME").ok().filter(|s| !s.is_empty()) {
            o.service = s;
        }
        o
    }

    /// Sets the service name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Sets the dialect written on TELEMETRY (see [`TelemetryFormat`]).
    pub fn format(mut self, format: TelemetryFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// The format this collector writes: the option, else `DAGNATS_TELEMETRY_FORMAT`,
    /// else records. An unknown value in the variable is a configuration error.
    pub fn resolved_format(&self) -> Result<TelemetryFormat> {
        self.format.map_or_else(TelemetryFormat::from_env, Ok)
    }

    /// Sets how often aggregated metrics are published (engine format); zero is ignored.
    pub fn metric_interval(mut self, interval: Duration) -> Self {
        self.metric_interval = Some(interval);
        self
    }

    /// The interval of aggregated metrics: the option when above zero, else
    /// `OTEL_METRIC_EXPORT_INTERVAL` when usable (an unusable value is warned about and
    /// ignored), else 10 s.
    pub fn resolved_metric_interval(&self) -> Duration {
        self.metric_interval
            .filter(|d| !d.is_zero())
            .or_else(crate::metrics::metric_interval_from_env)
            .unwrap_or(crate::metrics::DEFAULT_METRIC_INTERVAL)
    }

    /// Sets the NATS URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.nats.url = url.into();
        self
    }
}

/// Delivery counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Records acknowledged by the stream.
    pub published: u64,
    /// Records accepted and not yet acknowledged.
    pub pending: u64,
    /// Records dropped because the queue was full.
    pub dropped_overflow: u64,
    /// Records given up: rejected by the server, or still pending at shutdown.
    pub dropped_failed: u64,
    /// Publishes of a record sent again: after a failure, or because its
    /// acknowledgement was late (includes the two counters below).
    pub retried: u64,
    /// Resends of a record whose acknowledgement was late, made inside the stream's
    /// duplicate window: the server stores such a record once, whichever send it answers.
    pub resent_in_window: u64,
    /// Records published again after the duplicate window because no send of theirs was
    /// answered (the connection was lost, the server restarted or stalled for long): each
    /// may be stored twice. Counted, never silent.
    pub retried_after_window: u64,
    /// Records shortened to fit the server's max_payload (what was cut is counted on
    /// the record itself).
    pub shortened: u64,
}

/// Publishes records to TELEMETRY from a background thread. See the module docs.
pub struct Collector {
    options: CollectorOptions,
    /// The running engine. Replaced only by [`Collector::after_fork_in_child`], in a
    /// child process where no other thread exists; an engine is never freed while the
    /// collector lives, so a reference to it stays valid.
    engine: AtomicPtr<Engine>,
}

/// The queue and the publisher thread behind a collector.
struct Engine {
    queue: Arc<RecordQueue>,
    shared: Arc<Shared>,
    stop: Mutex<Option<oneshot::Sender<Instant>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Collector {
    /// Connects and starts the publisher thread. Blocks for at most the connect timeout.
    ///
    /// A server that cannot be reached yet is not an error: records wait in the queue
    /// until it is. Bad credentials, a TLS failure or a bad URL are errors.
    pub fn connect(options: &CollectorOptions) -> Result<Collector> {
        let engine = Engine::start(options)?;
        Ok(Collector { options: options.clone(), engine: AtomicPtr::new(Box::into_raw(Box::new(engine))) })
    }

    fn engine(&self) -> &Engine {
        // SAFETY: the pointer always comes from Box::into_raw, and no engine is freed
        // before the collector itself (see the field's comment and Drop).
        unsafe { &*self.engine.load(Ordering::Acquire) }
    }

    /// Gives a forked child process its own publisher: a new connection and thread,
    /// with fresh counters and an empty queue, and reseeds the id generator.
    ///
    /// Call it in the child right after `fork()` (the Python package does so from
    /// `os.register_at_fork`), before any other thread starts. The parent's engine is
    /// left untouched, on purpose: its thread does not exist in the child, and its locks
    /// may have been held at the moment of the fork. Records queued but not yet published
    /// at the fork are published by the parent, not again by the child.
    pub fn after_fork_in_child(&self) -> Result<()> {
        crate::id::reseed_after_fork();
        let engine = Engine::start(&self.options)?;
        let _parents_engine = self.engine.swap(Box::into_raw(Box::new(engine)), Ordering::AcqRel);
        Ok(())
    }
}

impl Engine {
    fn start(options: &CollectorOptions) -> Result<Engine> {
        if options.buffer_capacity == 0 || options.max_in_flight == 0 {
            return Err(Error::Config("buffer_capacity and max_in_flight must be at least 1".into()));
        }
        // Judged here, before a thread starts; connect judges again (cheap, no I/O).
        options.nats.validate().map_err(Error::Options)?;
        let queue = Arc::new(RecordQueue::new(options.buffer_capacity, options.max_in_flight));
        let receiver = Arc::clone(&queue);
        let shared = Arc::new(Shared::new(options.resolved_format()?));
        let (stop, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let nats = options.nats.clone();
        let window = options.max_in_flight;
        let thread_shared = Arc::clone(&shared);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the collector runtime: {e}")))?;
        // The runtime lives on its own thread so that connecting and publishing work the
        // same whether or not the caller is itself inside a Tokio runtime.
        let thread = std::thread::Builder::new()
            .name("dagnats-collector".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match nats.connect(InitialConnect::RetryInBackground).await {
                        Ok(client) => {
                            let _ = ready_tx.send(Ok(()));
                            publisher::run(client, receiver, thread_shared, stop_rx, window).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                })
            })
            .map_err(|e| Error::Config(format!("cannot start the collector thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(Error::Connect("the collector thread stopped while connecting".into())),
        }
        Ok(Engine { queue, shared, stop: Mutex::new(Some(stop)), thread: Mutex::new(Some(thread)) })
    }

    fn stop_publisher(&self, deadline: Instant) {
        let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stop) = stop {
            let _ = stop.send(deadline);
        }
    }
}

impl Collector {
    /// Delivery counters.
    pub fn stats(&self) -> CollectorStats {
        let s = &self.engine().shared;
        CollectorStats {
            published: s.published.load(Ordering::Relaxed),
            pending: s.pending.load(Ordering::Relaxed),
            dropped_overflow: s.dropped_overflow.load(Ordering::Relaxed),
            dropped_failed: s.dropped_failed.load(Ordering::Relaxed),
            retried: s.retried.load(Ordering::Relaxed),
            resent_in_window: s.resent_in_window.load(Ordering::Relaxed),
            retried_after_window: s.retried_after_window.load(Ordering::Relaxed),
            shortened: s.shortened.load(Ordering::Relaxed),
        }
    }
}

impl Sink for Collector {
    fn export(&self, record: Record) {
        let engine = self.engine();
        let s = &engine.shared;
        if s.closed.load(Ordering::Relaxed) {
            s.dropped_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        s.pending.fetch_add(1, Ordering::AcqRel);
        if engine.queue.push(record).is_err() {
            s.pending.fetch_sub(1, Ordering::AcqRel);
            s.dropped_overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self, timeout: Duration) -> Result<()> {
        let engine = self.engine();
        engine.queue.wake();
        match engine.shared.wait_idle(Instant::now() + timeout) {
            0 => Ok(()),
            pending => Err(Error::Timeout { pending }),
        }
    }

    /// Stops accepting records, delivers what is pending within `timeout`, and stops the
    /// publisher thread. What could not be delivered in time is counted as dropped.
    fn shutdown(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let engine = self.engine();
        if engine.shared.closed.swap(true, Ordering::AcqRel) {
            return Err(Error::Closed);
        }
        engine.queue.wake();
        let pending = engine.shared.wait_idle(deadline);
        engine.stop_publisher(deadline);
        // The publisher gives up at the deadline; a little grace lets it count what it
        // abandoned and close the connection.
        let thread = engine.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let grace = Instant::now() + Duration::from_secs(1);
            while !t.is_finished() && Instant::now() < deadline.max(grace) {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        match pending {
            0 => Ok(()),
            pending => Err(Error::Timeout { pending }),
        }
    }

    fn dropped(&self) -> u64 {
        let s = &self.engine().shared;
        s.dropped_overflow.load(Ordering::Relaxed) + s.dropped_failed.load(Ordering::Relaxed)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        // Not shut down explicitly: give the publisher a short, bounded chance to drain
        // without blocking the dropping thread.
        self.engine().stop_publisher(Instant::now() + Duration::from_secs(2));
        // SAFETY: the pointer came from Box::into_raw and nothing else frees it; the
        // engines of a parent process replaced after a fork are leaked on purpose.
        drop(unsafe { Box::from_raw(self.engine.load(Ordering::Acquire)) });
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").field("stats", &self.stats()).finish()
    }
}
