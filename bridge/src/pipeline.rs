//! One batch from fetch to settlement, and the workers that repeat it.
//!
//! A worker fetches a batch, decodes every message, groups the decoded ones by signal
//! (split into requests of at most `max_request_bytes` of message bodies), exports the
//! groups concurrently and settles each message by the fate of its own request:
//!
//! - exported (2xx, partial success included): acknowledged;
//! - content refused (400, 413): the request is split in halves, each exported on its
//!   own, until the messages at fault are alone; only those are dead-lettered;
//! - refused for good (other statuses but 429/502/503/504), or undecodable: dead-lettered;
//! - retryable, while the receiver still answers and the failures are not piling up:
//!   negatively acknowledged with a delay that grows with the delivery count (or the
//!   receiver's `Retry-After`); a message on its last delivery is re-queued instead
//!   (see [`crate::settle`]), since the data is not at fault;
//! - retryable while the receiver is down altogether (no answer at all, or
//!   [`HOLD_AFTER_FAILURES`] failures in a row without a success), or refusing the
//!   bridge's configuration (401, 403, 404...): **held**. The bridge keeps the messages,
//!   retries with exponential backoff and jitter, and sends in-progress acknowledgements
//!   so that the server neither redelivers them nor counts deliveries. Meanwhile a probe
//!   (an empty export request each second) notices the receiver's return, and the held
//!   batches go out at once instead of after their backoff. The bridge reports itself
//!   not ready while a signal fails. An outage of minutes therefore neither loses nor
//!   dead-letters anything, nor does a wrong token.
//! - at shutdown, held and in-flight batches are released for redelivery; those on their
//!   last delivery are re-queued, so restarts during an outage cost no data either.
//!
//! While a batch is in hand, every message not yet settled gets an in-progress
//! acknowledgement each third of the consumer's ack wait, however long the export takes.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::Message;
use bytes::Bytes;
use dagnats_observe::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use dagnats_observe::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use dagnats_observe::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use dagnats_observe::otlp::Converter;

use crate::config::Signal;
use crate::consume::{self, route, Consumer};
use crate::decode::{decode, Decoded};
use crate::export::{Exporter, Outcome};
use crate::settle::{InHand, Retry, Settler};
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
    /// Held batches and their wake-up, per signal.
    pub probes: [Probe; 3],
    /// Workers waiting in a fetch now.
    pub fetching: AtomicUsize,
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
            self.fetching.fetch_add(1, Ordering::AcqRel);
            let fetched = consume::fetch(
                &self.consumer.consumer,
                self.limits.batch_size,
                self.limits.flush_interval,
                &self.shutdown.stop,
            )
            .await;
            // The pull request's subscription is gone (its unsubscribe queued) from here.
            self.fetching.fetch_sub(1, Ordering::AcqRel);
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
            let decoded = decode(&s.msg.subject, &s.msg.payload, self.limits.max_message_bytes);
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
                    chunks.push(std::mem::replace(
                        &mut current,
                        Chunk { signal, members: Vec::new(), items: Vec::new() },
                    ));
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
                        // Already aggregated by the writer (cumulative, with its start):
                        // converted as it is, never re-aggregated with the points.
                        Decoded::EngineMetric(m) => bodies.push(c.engine_metric(*m)),
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
    /// acknowledged, re-queued, or released at shutdown.
    async fn deliver(&self, chunk: Chunk, slots: &[InHand]) {
        let Chunk { signal, members, items } = chunk;
        match self.request(signal, items) {
            Some((records, body)) => self.export(signal, members, records, body, slots).await,
            None => {
                let counters = self.stats.of(Some(signal));
                self.dead_letter_all(&members, slots, counters, "internal error: converting the batch panicked").await;
            }
        }
    }

    /// The records in `items` and the request body made of them; `None` when converting
    /// panicked (a panic must not stop a worker).
    fn request(&self, signal: Signal, items: Vec<Decoded>) -> Option<(u64, Bytes)> {
        let records = items.iter().map(|d| d.record_count() as u64).sum();
        catch_unwind(AssertUnwindSafe(|| self.build(signal, items))).ok().map(|body| (records, body))
    }

    /// Sends `body` (the request of `members`) until its messages are settled. A request
    /// whose content the receiver refuses is split in halves, each exported on its own,
    /// until the messages at fault are alone: only those are dead-lettered.
    fn export<'a>(
        &'a self,
        signal: Signal,
        members: Vec<usize>,
        records: u64,
        body: Bytes,
        slots: &'a [InHand],
    ) -> futures::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            let counters = self.stats.of(Some(signal));
            let streak = &self.streaks[signal.index()];
            let mut attempt = 0u32;
            let mut held = false;
            loop {
                let started = Instant::now();
                let outcome = tokio::select! {
                    o = self.exporter.send(signal, body.clone()) => o,
                    _ = self.shutdown.abort.cancelled() => {
                        self.release(&members, slots, signal).await;
                        return;
                    }
                };
                let exported = matches!(outcome, Outcome::Exported { .. });
                self.stats.observe_export(signal, body.len(), started.elapsed(), exported);
                let hold_reason = match outcome {
                    Outcome::Exported { rejected, message } => {
                        self.recovered(signal);
                        if rejected > 0 {
                            counters.rejected_records.fetch_add(rejected, Ordering::Relaxed);
                            tracing::warn!(
                                signal = signal.as_str(),
                                rejected,
                                message,
                                "the receiver rejected part of an export"
                            );
                        }
                        for &i in &members {
                            self.settler.ack(&slots[i]).await;
                        }
                        counters.exported.fetch_add(members.len() as u64, Ordering::Relaxed);
                        counters.exported_records.fetch_add(records, Ordering::Relaxed);
                        return;
                    }
                    Outcome::Refused { reason } => {
                        self.recovered(signal);
                        if members.len() == 1 {
                            tracing::warn!(signal = signal.as_str(), %reason, "export refused; dead-lettering the message");
                            self.dead_letter_all(&members, slots, counters, &format!("export refused: {reason}")).await;
                            return;
                        }
                        counters.split_requests.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(signal = signal.as_str(), messages = members.len(), %reason, "export refused; splitting the request");
                        let (left, right) = members.split_at(members.len() / 2);
                        let (left, right) = (self.rebuild(signal, left, slots), self.rebuild(signal, right, slots));
                        let halves = [left, right].into_iter().map(|half| async move {
                            match half {
                                Ok((members, records, body)) => {
                                    self.export(signal, members, records, body, slots).await
                                }
                                Err(members) => {
                                    self.dead_letter_all(
                                        &members,
                                        slots,
                                        counters,
                                        "internal error: converting the batch panicked",
                                    )
                                    .await
                                }
                            }
                        });
                        futures::future::join_all(halves).await;
                        return;
                    }
                    Outcome::Permanent { reason } => {
                        self.recovered(signal);
                        tracing::warn!(signal = signal.as_str(), messages = members.len(), %reason, "export refused; dead-lettering");
                        self.dead_letter_all(&members, slots, counters, &format!("export refused: {reason}")).await;
                        return;
                    }
                    Outcome::Misconfigured { reason } => {
                        // A wrong token or path: no data is at fault and none is dead-lettered.
                        // The bridge is not ready until the receiver accepts it again.
                        self.stats.health.export_failed(signal, &reason);
                        tracing::error!(
                            signal = signal.as_str(),
                            messages = members.len(),
                            %reason,
                            "the receiver refuses the bridge's configuration (credentials, endpoint path or protocol); holding the messages until it accepts them"
                        );
                        Hold { reason, retry_after: None, slow: true }
                    }
                    Outcome::Retryable { retry_after, unreachable, reason } => {
                        counters.retried.fetch_add(members.len() as u64, Ordering::Relaxed);
                        self.stats.health.export_failed_retrying_in(signal, &reason, retry_after.unwrap_or_default());
                        let failures = streak.fetch_add(1, Ordering::Relaxed) + 1;
                        let retry_after = retry_after.map(|d| d.min(MAX_RETRY_AFTER));
                        if !unreachable && failures < HOLD_AFTER_FAILURES && !held && !self.shutdown.is_stopping() {
                            self.retry_later(&members, slots, counters, retry_after, &reason).await;
                            return;
                        }
                        Hold { reason, retry_after, slow: false }
                    }
                };
                if self.shutdown.is_stopping() {
                    self.release(&members, slots, signal).await;
                    return;
                }
                if !held {
                    held = true;
                    counters.held.fetch_add(1, Ordering::Relaxed);
                }
                attempt += 1;
                let initial =
                    if hold_reason.slow { self.limits.initial_backoff * 4 } else { self.limits.initial_backoff };
                let wait =
                    hold_reason.retry_after.unwrap_or_else(|| backoff(attempt, initial, self.limits.max_backoff));
                if let Some(after) = hold_reason.retry_after {
                    self.probes[signal.index()].not_before(after);
                }
                tracing::warn!(
                    signal = signal.as_str(),
                    messages = members.len(),
                    attempt,
                    retry_in = ?wait,
                    reason = %hold_reason.reason,
                    "receiver unavailable; holding the batch"
                );
                let probe = &self.probes[signal.index()];
                let woken = probe.recovered.notified();
                probe.held.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = woken => {}
                    _ = self.shutdown.stop.cancelled() => {}
                }
                probe.held.fetch_sub(1, Ordering::Relaxed);
                if self.shutdown.is_stopping() {
                    self.release(&members, slots, signal).await;
                    return;
                }
            }
        })
    }

    /// The request of `members` made again from their messages (to split a refused one):
    /// the members, their record count and the body; the members alone when converting
    /// panicked.
    fn rebuild(
        &self,
        signal: Signal,
        members: &[usize],
        slots: &[InHand],
    ) -> Result<(Vec<usize>, u64, Bytes), Vec<usize>> {
        let mut items = Vec::with_capacity(members.len());
        for &i in members {
            let m = &slots[i].msg;
            // The same bytes decoded the same way a moment ago; should that ever differ,
            // the message is left out of both halves' bodies and dead-lettered alone.
            match decode(&m.subject, &m.payload, self.limits.max_message_bytes) {
                Ok(d) => items.push(d),
                Err(_) => return Err(members.to_vec()),
            }
        }
        self.request(signal, items)
            .map(|(records, body)| (members.to_vec(), records, body))
            .ok_or_else(|| members.to_vec())
    }

    /// An export of `signal` succeeded: the receiver is back; wake the held batches.
    fn recovered(&self, signal: Signal) {
        self.streaks[signal.index()].store(0, Ordering::Relaxed);
        self.stats.health.export_succeeded(signal);
        let probe = &self.probes[signal.index()];
        if probe.held.load(Ordering::Relaxed) > 0 {
            probe.recovered.notify_waiters();
        }
    }

    /// While batches of a signal are held, sends an empty export request every `every`
    /// (after any `Retry-After`), so that held batches go out within about `every` of the
    /// receiver coming back instead of after their backoff, which grows to
    /// `--max-backoff`. An empty request is a valid OTLP export that every receiver
    /// answers like a real one.
    pub async fn probe(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.shutdown.stop.cancelled() => return,
            }
            for signal in Signal::ALL {
                let probe = &self.probes[signal.index()];
                if probe.held.load(Ordering::Relaxed) == 0 || !probe.due() {
                    continue;
                }
                let body = match signal {
                    Signal::Spans => self.exporter.encode(signal, &ExportTraceServiceRequest::default()),
                    Signal::Logs => self.exporter.encode(signal, &ExportLogsServiceRequest::default()),
                    Signal::Metrics => self.exporter.encode(signal, &ExportMetricsServiceRequest::default()),
                };
                let outcome = tokio::select! {
                    o = self.exporter.send(signal, body) => o,
                    _ = self.shutdown.stop.cancelled() => return,
                };
                match outcome {
                    Outcome::Exported { .. } => {
                        tracing::info!(
                            signal = signal.as_str(),
                            "the receiver answers again; sending the held batches"
                        );
                        self.recovered(signal);
                    }
                    Outcome::Retryable { retry_after: Some(after), .. } => probe.not_before(after.min(MAX_RETRY_AFTER)),
                    _ => {}
                }
            }
        }
    }

    /// Negative acknowledgements with growing delays; the messages on their last
    /// delivery are re-queued (the data is not at fault).
    async fn retry_later(
        &self,
        members: &[usize],
        slots: &[InHand],
        counters: &SignalCounters,
        retry_after: Option<Duration>,
        reason: &str,
    ) {
        for &i in members {
            let m = &slots[i];
            let attempt = u32::try_from(m.delivered).unwrap_or(1);
            let delay = retry_after
                .unwrap_or_else(|| backoff(attempt, self.limits.initial_backoff * 2, self.limits.max_backoff));
            if self.settler.retry(m, Some(delay), reason).await == Retry::Requeued {
                counters.requeued.fetch_add(1, Ordering::Relaxed);
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

    /// At shutdown: hands the messages back for immediate redelivery (re-queued when on
    /// their last delivery, so that restarts during an outage cost no data).
    async fn release(&self, members: &[usize], slots: &[InHand], signal: Signal) {
        // A pull request still open at the server would take the released messages and
        // lose them to a worker that no longer reads (each costing a delivery, possibly
        // the last). Workers drop their requests as the shutdown begins; release only
        // once they have, so the unsubscribes reach the server before the naks.
        let until = Instant::now() + Duration::from_secs(1);
        while self.fetching.load(Ordering::Acquire) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let counters = self.stats.of(Some(signal));
        for &i in members {
            if self.settler.retry(&slots[i], None, "the bridge stopped while holding it").await == Retry::Requeued {
                counters.requeued.fetch_add(1, Ordering::Relaxed);
            }
        }
        tracing::info!(signal = signal.as_str(), messages = members.len(), "released at shutdown for redelivery");
    }
}

/// Why a batch is held, and for how long at least.
struct Hold {
    reason: String,
    retry_after: Option<Duration>,
    /// A configuration fault: retried more slowly than an outage.
    slow: bool,
}

/// The receiver's recovery, per signal: held batches wait on it.
#[derive(Default)]
pub(crate) struct Probe {
    /// Woken when an export (or a probe) succeeds after failures.
    pub recovered: tokio::sync::Notify,
    /// Batches held now.
    pub held: AtomicUsize,
    /// No probe before this instant (the receiver's `Retry-After`).
    not_before: std::sync::Mutex<Option<Instant>>,
}

impl Probe {
    fn not_before(&self, after: Duration) {
        *self.not_before.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + after);
    }

    fn due(&self) -> bool {
        self.not_before.lock().unwrap_or_else(|p| p.into_inner()).is_none_or(|t| Instant::now() >= t)
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
