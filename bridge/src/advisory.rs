//! Messages the server gave up on: its max-deliveries advisories, kept in a stream and
//! turned into dead letters.
//!
//! When a message of the bridge's consumer reaches `max_deliver` without being settled
//! (the bridge crashed or was killed while holding it on its last delivery, or could not
//! store a dead letter then), the server stops delivering it and publishes an advisory
//! on `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TELEMETRY.{consumer}`. Such a message
//! would otherwise stay in TELEMETRY, exported by no one, until the stream's age limit.
//!
//! The advisories are core NATS messages, lost when no one listens at that moment, so
//! the bridge keeps them in a stream of their own, [`ADVISORY_STREAM`]: the server stores
//! each one even while every bridge is down. A durable consumer per bridge consumer
//! (`{consumer}-advisories`) reads them; for each, the message is read from TELEMETRY by
//! its sequence and dead-lettered with the reason, then the advisory is acknowledged.
//! The dead letter carries the same `Nats-Msg-Id` as any dead-lettering of that sequence,
//! so a message is stored in the dead-letter stream once, whichever path got there first.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream, AckKind};
use dagnats_observe::collector::stream::STREAM_NAME;
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::consume::route;
use crate::settle::{DeadLetter, Settler};
use crate::stats::Stats;

/// The stream keeping the max-deliveries advisories of TELEMETRY's consumers.
pub const ADVISORY_STREAM: &str = "TELEMETRY_ADVISORIES";

/// The advisory subject of `consumer` on TELEMETRY (`*` for every consumer).
pub fn advisory_subject(consumer: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM_NAME}.{consumer}")
}

/// The advisory stream's settings: every TELEMETRY consumer's max-deliveries advisories,
/// kept 7 days (as long as TELEMETRY keeps the messages they name).
pub fn advisory_stream_config() -> stream::Config {
    stream::Config {
        name: ADVISORY_STREAM.into(),
        subjects: vec![advisory_subject("*")],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(7 * 24 * 3600),
        max_bytes: 64 << 20,
        ..Default::default()
    }
}

/// The body of a max-deliveries advisory (the fields the bridge uses).
#[derive(Debug, Deserialize)]
pub struct MaxDeliveriesAdvisory {
    /// The stream of the message.
    pub stream: String,
    /// The consumer that gave up.
    pub consumer: String,
    /// The message's sequence in the stream.
    pub stream_seq: u64,
    /// How often it was delivered.
    pub deliveries: i64,
}

/// Makes sure the advisory stream exists and gets or creates the durable consumer of
/// `consumer`'s advisories.
pub async fn prepare(js: &jetstream::Context, consumer: &str) -> Result<consumer::PullConsumer, String> {
    let stream = dagnats_observe::collector::stream::ensure(js, advisory_stream_config()).await?;
    let name = format!("{consumer}-advisories");
    let config = consumer::pull::Config {
        durable_name: Some(name.clone()),
        description: Some(format!("dagnats otlp-bridge: max-deliveries advisories of {consumer}")),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        filter_subject: advisory_subject(consumer),
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    };
    match stream.get_consumer(&name).await {
        Ok(c) => Ok(c),
        Err(_) => match stream.create_consumer(config).await {
            Ok(c) => Ok(c),
            Err(e) => stream.get_consumer(&name).await.map_err(|_| format!("cannot create consumer {name}: {e}")),
        },
    }
}

/// Reads advisories until `stop`, dead-lettering the message each one names.
pub async fn run(
    js: jetstream::Context,
    advisories: consumer::PullConsumer,
    settler: Settler,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        let batch = tokio::select! {
            b = advisories.fetch().max_messages(100).expires(Duration::from_secs(5)).messages() => b,
            _ = stop.cancelled() => return,
        };
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failures += 1;
                let wait = crate::pipeline::backoff(failures, Duration::from_millis(500), Duration::from_secs(10));
                tracing::debug!(error = %e, retry_in = ?wait, "cannot fetch max-deliveries advisories");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        failures = 0;
        loop {
            let next = tokio::select! {
                n = batch.next() => n,
                _ = stop.cancelled() => return,
            };
            let Some(Ok(advisory)) = next else { break };
            let settle = handle(&js, &settler, &stats, &advisory.payload).await;
            let kind = match settle {
                Handled::Done => AckKind::Ack,
                // The dead-letter stream or TELEMETRY is unavailable: ask again later.
                Handled::Later => AckKind::Nak(Some(Duration::from_secs(5))),
            };
            if let Err(e) = advisory.ack_with(kind).await {
                tracing::debug!(error = %e, "advisory acknowledgement not sent; it will come again");
            }
        }
    }
}

enum Handled {
    Done,
    Later,
}

async fn handle(js: &jetstream::Context, settler: &Settler, stats: &Stats, body: &[u8]) -> Handled {
    let advisory: MaxDeliveriesAdvisory = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "an advisory that is not a max-deliveries advisory; skipped");
            return Handled::Done;
        }
    };
    if advisory.stream != STREAM_NAME {
        return Handled::Done;
    }
    let stream = match js.get_stream_no_info(STREAM_NAME).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open {STREAM_NAME} for a max-deliveries advisory; will retry");
            return Handled::Later;
        }
    };
    let message = match stream.get_raw_message(advisory.stream_seq).await {
        Ok(m) => m,
        Err(e) if e.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound => {
            tracing::warn!(
                sequence = advisory.stream_seq,
                "the server gave up on a message that is no longer in {STREAM_NAME} (removed or aged out)"
            );
            return Handled::Done;
        }
        Err(e) => {
            tracing::warn!(sequence = advisory.stream_seq, error = %e, "cannot read a message the server gave up on; will retry");
            return Handled::Later;
        }
    };
    let reason = format!(
        "the server gave up after {} deliveries to consumer {} (the bridge stopped, crashed or could not settle it on its last delivery)",
        advisory.deliveries, advisory.consumer
    );
    let letter = DeadLetter {
        subject: &message.subject,
        headers: Some(&message.headers),
        payload: message.payload.clone(),
        stream_sequence: message.sequence,
        delivered: advisory.deliveries,
    };
    match settler.store_dead_letter(&letter, &reason).await {
        Ok(newly_stored) => {
            let counters = stats.of(route(&message.subject));
            counters.advisories.fetch_add(1, Ordering::Relaxed);
            if newly_stored {
                counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
            }
            Handled::Done
        }
        Err(e) => {
            tracing::error!(sequence = advisory.stream_seq, error = %e, "cannot dead-letter a message the server gave up on; will retry");
            Handled::Later
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisories_parse_from_the_servers_json() {
        let body = br#"{"type":"io.nats.jetstream.advisory.v1.max_deliver","id":"x","timestamp":"2026-12-04T10:00:00Z","stream":"TELEMETRY","consumer":"otlp-bridge","stream_seq":42,"deliveries":4,"domain":""}"#;
        let a: MaxDeliveriesAdvisory = serde_json::from_slice(body).unwrap();
        assert_eq!(
            (a.stream.as_str(), a.consumer.as_str(), a.stream_seq, a.deliveries),
            ("TELEMETRY", "otlp-bridge", 42, 4)
        );
        assert_eq!(advisory_subject("otlp-bridge"), "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TELEMETRY.otlp-bridge");
    }
}
