//! # dagnats-bridge
//!
//! The `dagnats otlp-bridge` service as a library: it reads the TELEMETRY stream with a
//! durable pull consumer, converts the records (as the Go engine and our producers write
//! them, or OTLP-JSON) to OTLP protobuf with the core's [`otlp`](dagnats_observe::otlp)
//! module, and exports them to an OTLP/HTTP receiver, settling every message by the fate
//! of its own export. See the wire contract for the subjects and records.
//!
//! The binary only parses its command line, sets up logging and calls [`run`] with a
//! future that resolves on SIGINT or SIGTERM; tests call it with any future.
//!
//! ```no_run
//! use dagnats_bridge::{Bridge, Config};
//!
//! # async fn example() -> Result<(), dagnats_bridge::Error> {
//! let bridge = Bridge::new(Config::new("nats://127.0.0.1:4222", "http://localhost:4318"));
//! let stats = bridge.stats();
//! bridge.run(tokio::time::sleep(std::time::Duration::from_secs(60))).await?;
//! println!("exported {} spans", stats.snapshot().signal(dagnats_bridge::Signal::Spans).exported_records);
//! # Ok(())
//! # }
//! ```
//!
//! Modules, one stage each: [`consume`] (streams, consumer, batches, routing),
//! [`decode`] (bodies into records), [`export`] (OTLP/HTTP), [`settle`] (ack, delayed
//! nak, dead letter), [`shutdown`], [`stats`]; [`cli`] and [`config`] for settings.
//!
//! The same binary reads TELEMETRY back for people: [`trace`] (`dagnats trace`: the span
//! tree of a trace or a run, and its waterfall page) and [`tail`] (`dagnats tail`: new
//! spans live), connecting with [`nats_args`].

#![warn(missing_docs)]

pub mod advisory;
pub mod check;
pub mod cli;
pub mod config;
pub mod consume;
pub mod decode;
pub mod dlq;
pub mod export;
pub mod health;
pub mod lag;
pub mod nats_args;
mod pipeline;
pub mod settle;
pub mod shutdown;
pub mod stats;
pub mod tail;
pub mod trace;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use dagnats_observe::nats::InitialConnect;
use dagnats_observe::otlp::Converter;
use tokio::task::JoinSet;

pub use config::{Config, ConfigError, Signal};
pub use pipeline::{HOLD_AFTER_FAILURES, MAX_RETRY_AFTER};
pub use stats::{Snapshot, Stats};

use pipeline::{Limits, Pipeline};
use shutdown::Shutdown;

/// How often a receiver that is down is probed while batches are held: held batches go
/// out within about this long of its return.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The instrumentation scope name stamped on everything the bridge converts.
pub const SCOPE_NAME: &str = "dagnats-bridge";

/// Why the bridge could not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A setting cannot be used.
    Config(ConfigError),
    /// NATS refused the connection (credentials, TLS) or the streams and consumer could
    /// not be set up.
    Nats(String),
    /// The metrics endpoint could not be bound.
    Metrics(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::Nats(e) => write!(f, "NATS: {e}"),
            Error::Metrics(e) => write!(f, "cannot serve metrics: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

/// A bridge about to run, with counters that can be read while it runs.
pub struct Bridge {
    config: Config,
    stats: Arc<Stats>,
}

impl Bridge {
    /// A bridge with `config`.
    pub fn new(config: Config) -> Bridge {
        Bridge { config, stats: Stats::new() }
    }

    /// The counters, live.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Runs until `shutdown` resolves, then drains: no more fetches, batches in hand
    /// exported (or, after the shutdown grace period, released for
    /// redelivery), and returns. Errors only when it cannot start.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let Bridge { config, stats } = self;
        config.validate()?;
        let exporter = export::Exporter::new(&config)?;
        tokio::pin!(shutdown);
        let tokens = Shutdown::new();
        let background = tokio_util::sync::CancellationToken::new();

        let mut tasks = JoinSet::new();
        if let Some(addr) = config.metrics_addr {
            let listener = stats::bind_metrics(addr).await.map_err(Error::Metrics)?;
            tracing::info!(%addr, "serving counters in Prometheus format");
            tasks.spawn(stats::serve_metrics(listener, Arc::clone(&stats), background.clone()));
        }
        tasks.spawn(stats::log_periodically(Arc::clone(&stats), config.stats_interval, background.clone()));

        let client = tokio::select! {
            c = config.nats.connect(InitialConnect::RetryInBackground) => c.map_err(|e| Error::Nats(e.to_string()))?,
            _ = &mut shutdown => {
                background.cancel();
                return Ok(());
            }
        };
        stats.health.set_client(client.clone());
        let js = async_nats::jetstream::new(client.clone());
        let mut attempt = 0;
        let (consumer, advisories) = loop {
            let prepared = tokio::select! {
                p = async {
                    let consumer = consume::prepare(&js, &config).await?;
                    let advisories = advisory::prepare(&js, &config.consumer).await?;
                    Ok::<_, String>((consumer, advisories))
                } => p,
                _ = &mut shutdown => {
                    background.cancel();
                    return Ok(());
                }
            };
            match prepared {
                Ok(c) => break c,
                Err(e) => {
                    attempt += 1;
                    let wait = pipeline::backoff(attempt, Duration::from_millis(500), Duration::from_secs(10));
                    tracing::warn!(error = %e, retry_in = ?wait, "cannot set up the streams and consumer yet");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut shutdown => {
                            background.cancel();
                            return Ok(());
                        }
                    }
                }
            }
        };
        stats.health.set_consumer_bound(true);
        stats.health.set_failure_window(health::failure_window(config.flush_interval, config.max_backoff));
        tasks.spawn(lag::poll_consumer_and_dlq(
            js.clone(),
            dagnats_observe::collector::stream::STREAM_NAME,
            config.consumer.clone(),
            Arc::clone(&stats),
            lag::POLL_INTERVAL,
            background.clone(),
        ));
        tracing::info!(
            consumer = %config.consumer,
            subjects = ?config.subjects,
            ack_wait = ?consumer.ack_wait,
            max_deliver = consumer.max_deliver,
            traces = %dagnats_observe::nats::redact_url(&config.endpoints[0].url),
            logs = %dagnats_observe::nats::redact_url(&config.endpoints[1].url),
            metrics = %dagnats_observe::nats::redact_url(&config.endpoints[2].url),
            workers = config.workers,
            "bridge running"
        );

        let settler = settle::Settler::new(js.clone(), &config.consumer, consumer.max_deliver);
        tasks.spawn(advisory::run(js.clone(), advisories, settler.clone(), Arc::clone(&stats), background.clone()));
        let pipeline = Arc::new(Pipeline {
            consumer,
            exporter,
            converter: Converter::new(&config.service_name, SCOPE_NAME, env!("CARGO_PKG_VERSION"))
                .with_resource_attributes(config.resource_attributes.clone()),
            settler,
            stats: Arc::clone(&stats),
            shutdown: tokens.clone(),
            limits: Limits {
                batch_size: config.batch_size,
                flush_interval: config.flush_interval,
                max_message_bytes: config.max_message_bytes,
                max_request_bytes: config.max_request_bytes,
                initial_backoff: config.initial_backoff,
                max_backoff: config.max_backoff,
            },
            streaks: [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)],
            probes: Default::default(),
            fetching: AtomicUsize::new(0),
        });
        tasks.spawn(Arc::clone(&pipeline).probe(PROBE_INTERVAL));
        let mut workers = JoinSet::new();
        for id in 0..config.workers {
            workers.spawn(Arc::clone(&pipeline).worker(id));
        }

        let grace = config.shutdown_grace;
        let abort_timer = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
        tokio::pin!(abort_timer);
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    tokens.stop.cancel();
                    abort_timer.as_mut().reset(tokio::time::Instant::now() + grace);
                }
                _ = &mut abort_timer, if stopping && !tokens.abort.is_cancelled() => tokens.abort.cancel(),
                joined = workers.join_next() => match joined {
                    None => break,
                    Some(Err(e)) if e.is_panic() && !tokens.is_stopping() => {
                        // No message may stop the bridge: a worker that panicked anyway is
                        // replaced; its unsettled messages come back after the ack wait.
                        tracing::error!("a worker panicked; starting a new one");
                        workers.spawn(Arc::clone(&pipeline).worker(config.workers));
                    }
                    Some(_) => {}
                },
            }
        }
        background.cancel();
        while tasks.join_next().await.is_some() {}
        // The acknowledgements and negative acknowledgements of the drain are plain
        // publishes: send them before the connection goes, or the released messages would
        // wait out their ack wait instead of being redelivered at once.
        if tokio::time::timeout(Duration::from_secs(2), client.flush()).await.is_err() {
            tracing::warn!(
                "the last acknowledgements may not have reached NATS; those messages come back after the ack wait"
            );
        }
        stats.health.set_consumer_bound(false);
        stats.log();
        tracing::info!("bridge stopped");
        Ok(())
    }
}

/// Runs a bridge with `config` until `shutdown` resolves (see [`Bridge::run`]).
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    Bridge::new(config).run(shutdown).await
}
