//! One batch from fetch to settlement, and the workers that repeat it.
//!
//! A worker fetches a batch, decodes every message, groups the decoded ones by signal
//! (split into requests of at most `max_request_bytes` of message bodies), exports the
//! groups concurrently and settles each message by the fate of its own request:
//!
//! - exported (2xx, partial success included): acknowledged;
//! - refused for good (any status but 429/502/503/504), or undecodable: dead-lettered;
//! - retryable, while the receiver still answers and the failures are not piling up:
//!   negatively acknowledged with a delay that grows with the delivery count (or the
//!   receiver's `Retry-After`); a message on its last delivery is dead-lettered instead;
//! - retryable while the receiver is down altogether (no answer at all, or
//!   [`HOLD_AFTER_FAILURES`] failures in a row without a success): **held**. The bridge
//!   keeps the messages, retries with exponential backoff and jitter, and sends in-progress
//!   acknowledgements so that the server neither redelivers them nor counts deliveries. An
//!   outage of minutes therefore neither loses nor dead-letters anything.
//!
//! While a batch is in hand, every message not yet settled gets an in-progress
//! acknowledgement each third of the consumer's ack wait, however long the export takes.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Message;
use bytes::Bytes;
use dagnats_observe::otlp::Converter;

use crate::config::Signal;
use crate::consume::{self, route, Consumer};
use crate::decode::{decode, Decoded};
use crate::export::{Exporter, Outcome};
use crate::settle::{InHand, Settler};
use crate::shutdown::Shutdown;
use crate::stats::{SignalCounters, Stats};

/// Retryable failures of one signal in a row, with no success between, after which the
/// receiver counts as down and batches are held rather than negatively acknowledged.
pub const HOLD_AFTER_FAILURES: u32 = 2;
/// Longest `Retry-After` honoured; a receiver asking for more is asked again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Limits of the pipeline, from the configuration.
pub(crate) struct Limits {
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub max_message_bytes: usize,
    pub max_request_bytes: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

/// What every worker shares.
pub(crate) struct Pipeline {
    pub consumer: Consumer,
    pub exporter: Exporter,
    pub converter: Converter,
    pub settler: Settler,
    pub stats: Arc<Stats>,
    pub shutdown: Shutdown,
    pub limits: Limits,
    /// Retryable failures in a row, per signal.
    pub streaks: [AtomicU32; 3],
}

/// The messages of one export request.
struct Chunk {
    signal: Signal,
    members: Vec<usize>,
    items: Vec<Decoded>,
}

/// Exponential backoff with jitter: `initial * 2^(attempt-1)`, at most `max`, then a
/// random half to all of it so that bridges do not retry in step.
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(max);
    exp.mul_f64(0.5 + fastrand::f64() * 0.5)
}

impl Pipeline {
    /// Fetches and processes batches until the shutdown begins.
    pub async fn worker(self: Arc<Self>, id: usize) {
        let mut failures = 0u32;
        while !self.shutdown.is_stopping() {
            let fetched = consume::fetch(
                &self.consumer.consumer,
                self.limits.batch_size,
                self.limits.flush_interval,
                &self.shutdown.stop,
            )
            .await;
            match fetched {
                Ok(batch) => {
                    failures = 0;
                    if !batch.is_empty() {
                        self.process(batch).await;
                    }
                }
                Err(e) => {
                    failures += 1;
                    let wait = backoff(failures, Duration::from_millis(200), Duration::from_secs(5));
                    tracing::warn!(worker = id, error = %e, retry_in = ?wait, "fetch failed");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.shutdown.stop.cancelled() => {}
                    }
                }
            }
        }
    }

    /// Decodes, exports and settles one batch.
    async fn process(&self, batch: Vec<Message>) {
        let slots: Vec<InHand> = batch.into_iter().map(InHand::new).collect();
        let every = (self.consumer.ack_wait / 3).max(Duration::from_millis(100));
        keep_in_progress(&self.settler, &slots, every, self.settle_batch(&slots)).await;
    }

    async fn settle_batch(&self, slots: &[InHand]) {
        let mut dead: Vec<(usize, Option<Signal>, String)> = Vec::new();
        let mut by_signal: [Vec<(usize, Decoded)>; 3] = Default::default();
        for (i, s) in slots.iter().enumerate() {
            let subject_signal = route(&s.msg.subject);
            let decoded = decode(subject_signal, &s.msg.payload, self.limits.max_message_bytes);
            let signal = decoded.as_ref().map(Decoded::signal).ok().or(subject_signal);
            let counters = self.stats.of(signal);
            counters.received.fetch_add(1, Ordering::Relaxed);
            if s.delivered > 1 {
                counters.redelivered.fetch_add(1, Ordering::Relaxed);
            }
            match decoded {
                Ok(d) => by_signal[d.signal().index()].push((i, d)),
                Err(e) => dead.push((i, signal, e.0)),
            }
        }

        let mut chunks = Vec::new();
        for signal in Signal::ALL {
            let mut current = Chunk { signal, members: Vec::new(), items: Vec::new() };
            let mut bytes = 0usize;
            for (i, d) in std::mem::take(&mut by_signal[signal.index()]) {
                let len = slots[i].msg.payload.len();
                if !current.members.is_empty() && bytes + len > self.limits.max_request_bytes {
                    chunks.push(std::mem::replace(&mut current, Chunk { signal, members: Vec::new(), items: Vec::new() }));
                    bytes = 0;
                }
                current.members.push(i);
                current.items.push(d);
                bytes += len;
            }
            if !current.members.is_empty() {
                chunks.push(current);
            }
        }

        let dead_letters = async {
            for (i, signal, reason) in dead {
                if self.settler.dead_letter(&slots[i], &format!("undecodable: {reason}")).await {
                    self.stats.of(signal).dead_lettered.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        let exports = futures::future::join_all(chunks.into_iter().map(|c| self.deliver(c, slots)));
        tokio::join!(dead_letters, exports);
    }

    /// The request body of a chunk: its records converted, its OTLP-JSON resources added.
    fn build(&self, signal: Signal, items: Vec<Decoded>) -> Bytes {
        let c = &self.converter;
        match signal {
            Signal::Spans => {
                let mut records = Vec::with_capacity(items.len());
                let mut bodies = Vec::new();
                for d in items {
                    match d {
                        Decoded::Span(s) => records.push(*s),
                        Decoded::Traces(rs) => bodies.extend(rs),
                        _ => {}
                    }
                }
                let mut request = c.traces(records);
                for mut rs in bodies {
                    c.ensure_service_name(&mut rs.resource);
                    request.resource_spans.push(rs);
                }
                self.exporter.encode(signal, &request)
            }
            Signal::Logs => {
                let mut records = Vec::with_capacity(items.len());
                let mut bodies = Vec::new();
                for d in items {
                    match d {
                        Decoded::Log(l) => records.push(*l),
                        Decoded::Logs(rl) => bodies.extend(rl),
                        _ => {}
                    }
                }
                let mut request = c.logs(records);
                for mut rl in bodies {
                    c.ensure_service_name(&mut rl.resource);
                    request.resource_logs.push(rl);
                }
                self.exporter.encode(signal, &request)
            }
            Signal::Metrics => {
                let mut records = Vec::with_capacity(items.len());
                let mut bodies = Vec::new();
                for d in items {
                    match d {
                        Decoded::Metric(m) => records.push(*m),
                        Decoded::Metrics(rm) => bodies.extend(rm),
                        _ => {}
                    }
                }
                let mut request = c.metrics(records);
                for mut rm in bodies {
                    c.ensure_service_name(&mut rm.resource);
                    request.resource_metrics.push(rm);
                }
                self.exporter.encode(signal, &request)
            }
        }
    }

    /// Exports one chunk until it is settled: acknowledged, dead-lettered, negatively
    /// acknowledged, or released at shutdown.
    async fn deliver(&self, chunk: Chunk, slots: &[InHand]) {
        let Chunk { signal, members, items } = chunk;
        let counters = self.stats.of(Some(signal));
        let records: u64 = items.iter().map(|d| d.record_count() as u64).sum();
        let body = match catch_unwind(AssertUnwindSafe(|| self.build(signal, items))) {
            Ok(body) => body,
            Err(_) => {
                self.dead_letter_all(&members, slots, counters, "internal error: converting the batch panicked").await;
                return;
            }
        };
        let streak = &self.streaks[signal.index()];
        let mut attempt = 0u32;
        loop {
            let outcome = tokio::select! {
                o = self.exporter.send(signal, body.clone()) => o,
                _ = self.shutdown.abort.cancelled() => {
                    self.release(&members, slots, signal).await;
                    return;
                }
            };
            match outcome {
                Outcome::Exported { rejected, message } => {
                    streak.store(0, Ordering::Relaxed);
                    if rejected > 0 {
                        counters.rejected_records.fetch_add(rejected, Ordering::Relaxed);
                        tracing::warn!(signal = signal.as_str(), rejected, message, "the receiver rejected part of an export");
                    }
                    for &i in &members {
                        self.settler.ack(&slots[i]).await;
                    }
                    counters.exported.fetch_add(members.len() as u64, Ordering::Relaxed);
                    counters.exported_records.fetch_add(records, Ordering::Relaxed);
                    return;
                }
                Outcome::Permanent { reason } | Outcome::Refused { reason } | Outcome::Misconfigured { reason } => {
                    streak.store(0, Ordering::Relaxed);
                    tracing::warn!(signal = signal.as_str(), messages = members.len(), %reason, "export refused; dead-lettering");
                    self.dead_letter_all(&members, slots, counters, &format!("export refused: {reason}")).await;
                    return;
                }
                Outcome::Retryable { retry_after, unreachable, reason } => {
                    counters.retried.fetch_add(members.len() as u64, Ordering::Relaxed);
                    let failures = streak.fetch_add(1, Ordering::Relaxed) + 1;
                    if self.shutdown.is_stopping() {
                        self.release(&members, slots, signal).await;
                        return;
                    }
                    let retry_after = retry_after.map(|d| d.min(MAX_RETRY_AFTER));
                    if !unreachable && failures < HOLD_AFTER_FAILURES {
                        self.retry_later(&members, slots, counters, retry_after, &reason).await;
                        return;
                    }
                    attempt += 1;
                    let wait = retry_after
                        .unwrap_or_else(|| backoff(attempt, self.limits.initial_backoff, self.limits.max_backoff));
                    tracing::warn!(
                        signal = signal.as_str(),
                        messages = members.len(),
                        attempt,
                        retry_in = ?wait,
                        %reason,
                        "receiver unavailable; holding the batch"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.shutdown.stop.cancelled() => {
                            self.release(&members, slots, signal).await;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Negative acknowledgements with growing delays; the messages on their last
    /// delivery are dead-lettered.
    async fn retry_later(
        &self,
        members: &[usize],
        slots: &[InHand],
        counters: &SignalCounters,
        retry_after: Option<Duration>,
        reason: &str,
    ) {
        let max_deliver = self.consumer.max_deliver;
        for &i in members {
            let m = &slots[i];
            if max_deliver > 0 && m.delivered >= max_deliver {
                let why = format!("out of deliveries ({} of {max_deliver}); last attempt: {reason}", m.delivered);
                if self.settler.dead_letter(m, &why).await {
                    counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
                }
            } else {
                let attempt = u32::try_from(m.delivered).unwrap_or(1);
                let delay = retry_after
                    .unwrap_or_else(|| backoff(attempt, self.limits.initial_backoff * 2, self.limits.max_backoff));
                self.settler.nak(m, Some(delay)).await;
            }
        }
        tracing::info!(messages = members.len(), %reason, "export failed; the messages will be retried");
    }

    async fn dead_letter_all(&self, members: &[usize], slots: &[InHand], counters: &SignalCounters, reason: &str) {
        for &i in members {
            if self.settler.dead_letter(&slots[i], reason).await {
                counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// At shutdown: hands the messages back for immediate redelivery.
    async fn release(&self, members: &[usize], slots: &[InHand], signal: Signal) {
        for &i in members {
            self.settler.nak(&slots[i], None).await;
        }
        tracing::info!(signal = signal.as_str(), messages = members.len(), "released at shutdown for redelivery");
    }
}

/// Runs `work`, sending an in-progress acknowledgement for every unsettled message of
/// `slots` each `every`, so that slow exports and held batches are not redelivered.
async fn keep_in_progress<F: Future>(settler: &Settler, slots: &[InHand], every: Duration, work: F) -> F::Output {
    tokio::pin!(work);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                for s in slots.iter().filter(|s| !s.is_settled()) {
                    settler.progress(s).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let (initial, max) = (Duration::from_millis(500), Duration::from_secs(30));
        for attempt in 1..40 {
            let full = initial.saturating_mul(1 << (attempt - 1).min(20)).min(max);
            let d = backoff(attempt, initial, max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} outside [{:?}, {full:?}]", full / 2);
        }
        assert!(backoff(100, initial, max) <= max);
    }
}
