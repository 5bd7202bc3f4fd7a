//! The consumer's lag and the dead-letter stream's depth, read from NATS in the
//! background for the metrics ([`crate::stats::LagGauges`]).
//!
//! Each round asks for the durable consumer's info (pending, ack pending, redelivered,
//! waiting pulls) and the dead-letter stream's info (messages, bytes), one request each.
//! A round that fails (NATS down, the stream or consumer gone, a slow server) leaves the
//! gauges as they were: they go stale, and their `*_info_timestamp_seconds` gauges say
//! since when. The first failure after a success is logged as a warning, the recovery as
//! information, and the failures between at debug level only.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use tokio_util::sync::CancellationToken;

use crate::settle::DLQ_STREAM;
use crate::stats::Stats;

/// How often the bridge refreshes the gauges.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Longest wait for one answer; a slower server leaves the gauges stale for the round.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Remembers whether the last round of one source failed, to log only the changes.
struct Source {
    what: &'static str,
    failing: bool,
}

impl Source {
    fn report(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(source = self.what, "reading the lag gauges again");
            }
            Ok(()) => {}
            Err(error) if !self.failing => {
                self.failing = true;
                tracing::warn!(source = self.what, %error, "cannot read the lag gauges; they go stale until NATS answers");
            }
            Err(error) => tracing::debug!(source = self.what, %error, "cannot read the lag gauges"),
        }
    }
}

async fn bounded<T, E: std::fmt::Display>(f: impl std::future::Future<Output = Result<T, E>>) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// Reads `consumer` of `stream` once into `stats.lag`.
pub async fn poll_consumer(js: &jetstream::Context, stream: &str, consumer: &str, stats: &Stats) -> Result<(), String> {
    let stream = js.get_stream_no_info(stream).await.map_err(|e| e.to_string())?;
    let info = bounded(stream.consumer_info(consumer)).await?;
    stats.lag.set_consumer(
        info.num_pending,
        info.num_ack_pending as u64,
        info.num_redelivered as u64,
        info.num_waiting as u64,
    );
    Ok(())
}

/// Reads the dead-letter stream's depth once into `stats.lag`.
pub async fn poll_dlq(js: &jetstream::Context, stats: &Stats) -> Result<(), String> {
    let stream = bounded(js.get_stream(DLQ_STREAM)).await?;
    let state = &stream.cached_info().state;
    stats.lag.set_dlq(state.messages, state.bytes);
    Ok(())
}

/// Refreshes the consumer lag and dead-letter gauges of `stats` now and then every
/// `every`, until `stop` is cancelled. Never fails: NATS being down only makes the
/// values stale. Spawn it once the consumer is bound.
pub async fn poll_consumer_and_dlq(
    js: jetstream::Context,
    stream: &str,
    consumer: String,
    stats: Arc<Stats>,
    every: Duration,
    stop: CancellationToken,
) {
    let every = every.max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut consumer_source = Source { what: "consumer info", failing: false };
    let mut dlq_source = Source { what: "dead-letter stream info", failing: false };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let round = async { tokio::join!(poll_consumer(&js, stream, &consumer, &stats), poll_dlq(&js, &stats)) };
        let (c, d) = tokio::select! {
            r = round => r,
            _ = stop.cancelled() => return,
        };
        consumer_source.report(c);
        dlq_source.report(d);
    }
}
