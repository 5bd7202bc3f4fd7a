//! The background publisher: takes records from the bounded queue, serializes them off
//! the worker's thread, and keeps a window of acknowledged JetStream publishes in flight.
//!
//! Records are retried (with the same `Nats-Msg-Id`, so the server stores them once)
//! while NATS is unreachable or the stream is missing; the bounded queue in front is what
//! limits memory, and what does not fit there is dropped and counted by the caller.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage};
use futures::stream::{FuturesUnordered, StreamExt};

use super::fit::encode_within;
use super::queue::{RecordQueue, IDLE_SLEEP};
use super::stream::ensure_stream;
use super::subject::{msg_id_for, subject_for};
use crate::record::Record;

/// Counters and the idle signal shared by the collector handle and its publisher.
#[derive(Default)]
pub(crate) struct Shared {
    /// Records accepted and neither acknowledged nor given up.
    pub pending: AtomicU64,
    pub published: AtomicU64,
    pub dropped_overflow: AtomicU64,
    pub dropped_failed: AtomicU64,
    pub retried: AtomicU64,
    /// Records shortened to fit the server's max_payload.
    pub shortened: AtomicU64,
    pub closed: AtomicBool,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

impl Shared {
    /// One record is settled (acknowledged or given up); wakes flushers when none remain.
    fn settle(&self, published: bool) {
        if published {
            self.published.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped_failed.fetch_add(1, Ordering::Relaxed);
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _guard = self.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
            self.idle.notify_all();
        }
    }

    /// Waits until nothing is pending or `deadline` passes; returns what is still pending.
    pub fn wait_idle(&self, deadline: Instant) -> u64 {
        let mut guard = self.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let pending = self.pending.load(Ordering::Acquire);
            let now = Instant::now();
            if pending == 0 || now >= deadline {
                return pending;
            }
            // Bounded waits guard against a wake-up that raced the check above.
            let wait = (deadline - now).min(Duration::from_millis(20));
            guard = self.idle.wait_timeout(guard, wait).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// A serialized record ready to publish.
struct Outgoing {
    subject: String,
    msg_id: String,
    payload: bytes::Bytes,
    failures: u32,
}

impl Outgoing {
    fn encode(mut record: Record, max_payload: usize, shared: &Shared) -> Outgoing {
        let (payload, shortened) = encode_within(&mut record, max_payload);
        if shortened {
            shared.shortened.fetch_add(1, Ordering::Relaxed);
        }
        let out = Outgoing { subject: subject_for(&record), msg_id: msg_id_for(&record), payload: payload.into(), failures: 0 };
        if let Record::Span(span) = record {
            crate::record::recycle(span);
        }
        out
    }
}

/// Errors that no retry can fix: give the record up after this many.
const MAX_PERMANENT_FAILURES: u32 = 3;

/// Runs until `stop` yields a deadline and everything is drained, or the deadline passes.
pub(crate) async fn run(
    client: async_nats::Client,
    queue: Arc<RecordQueue>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<Instant>,
    window: usize,
) {
    let js = jetstream::context::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .max_ack_inflight(window * 2)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let mut in_flight = FuturesUnordered::new();
    let mut staged: VecDeque<Outgoing> = VecDeque::new();
    let mut stream_checked = false;
    let mut pause_until: Option<Instant> = None;
    let mut deadline: Option<Instant> = None;
    let mut last_activity = Instant::now();
    let mut max_payload = payload_room(&client);

    loop {
        let connected = client.connection_state() == State::Connected;
        if connected && !stream_checked {
            max_payload = payload_room(&client);
            if let Err(e) = ensure_stream(&js).await {
                tracing::warn!(error = %e, "cannot ensure the TELEMETRY stream; publishing anyway");
            }
            stream_checked = true;
        }
        let paused = pause_until.is_some_and(|t| Instant::now() < t);
        let can_send = connected && !paused;

        // Fill the window: retries first, then new records.
        while can_send && in_flight.len() < window {
            let next = match staged.pop_front() {
                Some(m) => m,
                None => match queue.pop() {
                    Some(r) => Outgoing::encode(r, max_payload, &shared),
                    None => break,
                },
            };
            last_activity = Instant::now();
            let publish = PublishMessage::build().payload(next.payload.clone()).message_id(&next.msg_id);
            match js.send_publish(next.subject.clone(), publish).await {
                Ok(ack) => in_flight.push(await_ack(next, ack)),
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    tracing::warn!(subject = %next.subject, "record larger than the server's max_payload; dropped");
                    shared.settle(false);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "publish failed; will retry");
                    staged.push_front(next);
                    pause_until = Some(Instant::now() + Duration::from_millis(100));
                    break;
                }
            }
        }

        let drained = in_flight.is_empty() && staged.is_empty() && queue.is_empty();
        if let Some(d) = deadline {
            if drained || Instant::now() >= d {
                break;
            }
        }

        let room = can_send && in_flight.len() < window && staged.is_empty();
        let quiet = in_flight.is_empty() && last_activity.elapsed() > IDLE_SLEEP;
        tokio::select! {
            Some((mut msg, result)) = in_flight.next(), if !in_flight.is_empty() => match result {
                Ok(()) => shared.settle(true),
                Err(kind) => {
                    shared.retried.fetch_add(1, Ordering::Relaxed);
                    let permanent = matches!(kind, PublishErrorKind::MaxPayloadExceeded | PublishErrorKind::Other);
                    if kind == PublishErrorKind::StreamNotFound {
                        stream_checked = false;
                    }
                    if permanent {
                        msg.failures += 1;
                    }
                    if permanent && msg.failures >= MAX_PERMANENT_FAILURES {
                        tracing::warn!(subject = %msg.subject, error = %kind, "record rejected by the server; dropped");
                        shared.settle(false);
                    } else {
                        staged.push_back(msg);
                        pause_until = Some(Instant::now() + Duration::from_millis(50));
                    }
                }
            },
            _ = queue.wait(quiet), if room => {},
            when = &mut stop, if deadline.is_none() => {
                deadline = Some(when.unwrap_or_else(|_| Instant::now()));
            },
            _ = tokio::time::sleep(Duration::from_millis(50)), if !room => {},
        }
    }

    // Whatever is left could not be delivered in time.
    let mut left = staged.len() as u64 + in_flight.len() as u64;
    while queue.pop().is_some() {
        left += 1;
    }
    for _ in 0..left {
        shared.settle(false);
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), client.flush()).await;
}

/// Room for a record's JSON: the server's max_payload less what the headers take.
fn payload_room(client: &async_nats::Client) -> usize {
    match client.server_info().max_payload {
        0 => 1024 * 1024 - HEADER_ROOM, // not connected yet: the server default
        max => max.saturating_sub(HEADER_ROOM).max(1024),
    }
}

/// Bytes kept for the message headers (`Nats-Msg-Id` and the framing).
const HEADER_ROOM: usize = 512;

async fn await_ack(msg: Outgoing, ack: PublishAckFuture) -> (Outgoing, Result<(), PublishErrorKind>) {
    let result = ack.await.map(|_| ()).map_err(|e| e.kind());
    (msg, result)
}
