//! The background publisher: takes records from the bounded queue, serializes them off
//! the worker's thread, and keeps a window of acknowledged JetStream publishes in flight.
//!
//! Records are retried (with the same `Nats-Msg-Id`, so the server stores them once)
//! while NATS is unreachable or the stream is missing; the bounded queue in front is what
//! limits memory, and what does not fit there is dropped and counted by the caller.
//!
//! Why resends are timed as they are: the server drops a copy by its `Nats-Msg-Id` only
//! within the stream's duplicate window (5 s), counted from the first stored copy. A
//! record whose ack is late may already be stored, so it is sent again only while that
//! window is surely open (until [`RESEND_SHARE`] of it has passed since the record's
//! first send, every [`RESEND_AFTER`]). The acks of earlier sends stay awaited meanwhile:
//! the first ack of any send settles the record, however late it comes (an ack marked
//! duplicate also means stored). Only when no send is answered at all (within
//! [`ACK_WAIT_LIMIT`], or soon after a reconnect, since answers meant for a lost
//! connection are lost) is the record published again past the window; that may store it
//! twice, and is counted as such (`retried_after_window`), never silent.

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage};
use futures::stream::{FuturesUnordered, StreamExt};

use super::fit::encode_within;
use super::queue::{RecordQueue, IDLE_SLEEP};
use super::stream::{ensure, stream_config};
use super::subject::{msg_id_for, subject_for};
use crate::format::TelemetryFormat;
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
    /// Resends inside the duplicate window (see `CollectorStats::resent_in_window`).
    pub resent_in_window: AtomicU64,
    /// Republishes after the duplicate window (see `CollectorStats::retried_after_window`).
    pub retried_after_window: AtomicU64,
    /// Records shortened to fit the server's max_payload.
    pub shortened: AtomicU64,
    pub closed: AtomicBool,
    /// The dialect records are written in.
    pub format: TelemetryFormat,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

impl Shared {
    /// Fresh counters for a publisher writing `format`.
    pub fn new(format: TelemetryFormat) -> Shared {
        Shared { format, ..Shared::default() }
    }

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
    /// Sends so far (a send after the first is a retry).
    sends: u32,
    /// Since when a copy of this record may be stored: the duplicate window that lets a
    /// resend be dropped by the server runs from about then. `None` while no send of it
    /// can have been stored (none yet, or every one was refused).
    window_from: Option<Instant>,
    /// A send of the current window had no answer (timed out, or its connection was lost):
    /// a copy may be stored, so sending again after the window may store a second one.
    maybe_stored: bool,
}

impl Outgoing {
    fn encode(mut record: Record, max_payload: usize, shared: &Shared) -> Outgoing {
        let (payload, shortened) = encode_within(&mut record, max_payload, shared.format);
        if shortened {
            shared.shortened.fetch_add(1, Ordering::Relaxed);
        }
        let out = Outgoing {
            subject: subject_for(&record, shared.format),
            msg_id: msg_id_for(&record, shared.format),
            payload: payload.into(),
            failures: 0,
            sends: 0,
            window_from: None,
            maybe_stored: false,
        };
        if let Record::Span(span) = record {
            crate::record::recycle(span);
        }
        out
    }

    /// Notes a send that went out at `now` and counts what kind of send it was.
    fn sent(&mut self, now: Instant, horizon: Duration, shared: &Shared) {
        if self.sends > 0 {
            shared.retried.fetch_add(1, Ordering::Relaxed);
        }
        self.sends = self.sends.saturating_add(1);
        match self.window_from {
            None => self.window_from = Some(now),
            Some(from) if now < from + horizon => {
                shared.resent_in_window.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) if self.maybe_stored => {
                // The copy that may be stored is past its duplicate window: this one may
                // be stored beside it. Counted so that it is visible.
                let n = shared.retried_after_window.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        count = n,
                        "records republished after the duplicate window (no answer to earlier sends); each may be stored twice"
                    );
                }
                self.window_from = Some(now);
                self.maybe_stored = false;
            }
            // Nothing sent in that window can be stored: a fresh start.
            Some(_) => self.window_from = Some(now),
        }
    }
}

/// Errors that no retry can fix: give the record up after this many.
const MAX_PERMANENT_FAILURES: u32 = 3;

/// How long a send's ack is awaited before the record is sent again, inside the
/// duplicate window. Well above a healthy ack's round trip (milliseconds).
const RESEND_AFTER: Duration = Duration::from_millis(1500);
/// Share of the stream's duplicate window, from a record's first send, within which it
/// may be resent (3.5 s of 5 s): the rest is margin for the resend's way to the server
/// and for timers firing late.
const RESEND_SHARE: f64 = 0.7;
/// Sends of one record awaited at once: the first and up to two resends. Fixed slots, so
/// a record in flight allocates nothing for them, and the ack permits it holds are bounded.
const MAX_SENDS: usize = 3;
/// How long any one send's ack is awaited at all (the JetStream context's timeout). A
/// late ack within it still settles the record; only after it is a record whose sends
/// were never answered published again past the window.
const ACK_WAIT_LIMIT: Duration = Duration::from_secs(30);
/// After a reconnect, how long answers to sends made on the lost connection may still
/// come (through the reply subscription, which the client renews) before they are given
/// up for lost.
const RECONNECT_GRACE: Duration = Duration::from_secs(2);
/// How often a record with no send left to make looks whether its connection was lost.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The duplicate window of a stream we create, used until the server tells its own.
fn default_duplicate_window() -> Duration {
    stream_config().duplicate_window
}

/// An awaited ack (async-nats boxes it already, as it did before these resends).
type AckFuture = <PublishAckFuture as IntoFuture>::IntoFuture;

/// A record whose sends await their acks.
struct InFlight {
    msg: Outgoing,
    /// Acks awaited, of the first send and of the resends.
    acks: [Option<AckFuture>; MAX_SENDS],
    last_sent: Instant,
    /// The client's connection count at the latest send: a higher count means that send's
    /// connection is gone.
    epoch: u64,
    /// The refusal of the latest send the server answered with one.
    last_error: Option<PublishErrorKind>,
    /// A send of this round had no answer at all (timed out, or its pipe broke).
    unanswered: bool,
}

/// What became of a record in flight.
enum Event {
    /// A send was acknowledged: the record is stored.
    Acked,
    /// No send is awaited any more: each was refused or had no answer.
    Unanswered,
    /// Time to resend, or to look whether the connection was lost.
    Due,
}

impl InFlight {
    fn new(msg: Outgoing, ack: PublishAckFuture, now: Instant, epoch: u64) -> InFlight {
        InFlight {
            msg,
            acks: [Some(ack.into_future()), None, None],
            last_sent: now,
            epoch,
            last_error: None,
            unanswered: false,
        }
    }

    fn free_slot(&mut self) -> Option<&mut Option<AckFuture>> {
        self.acks.iter_mut().find(|a| a.is_none())
    }

    /// When to wake up next (without an ack): the next resend while it would still fall
    /// inside the window, else the next look at the connection.
    fn next_due(&self, now: Instant, horizon: Duration) -> Instant {
        let resend_at = self.last_sent + RESEND_AFTER;
        let in_window = self.msg.window_from.is_some_and(|from| resend_at < from + horizon);
        if in_window && resend_at > now && self.acks.iter().any(Option::is_none) {
            resend_at
        } else {
            now + CHECK_EVERY
        }
    }

    fn poll_acks(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Event> {
        for slot in self.acks.iter_mut() {
            let Some(ack) = slot else { continue };
            let Poll::Ready(result) = ack.as_mut().poll(cx) else { continue };
            *slot = None;
            match result {
                Ok(_) => return Poll::Ready(Event::Acked),
                Err(e) => match e.kind() {
                    // No answer: the server may have stored it all the same.
                    PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => self.unanswered = true,
                    // The server's (or no responder's) answer: this send was not stored.
                    kind => self.last_error = Some(kind),
                },
            }
        }
        if self.acks.iter().all(Option::is_none) {
            Poll::Ready(Event::Unanswered)
        } else {
            Poll::Pending
        }
    }
}

/// Waits for the first ack of any send of the record, or for `due`.
async fn watch(mut f: InFlight, due: Instant) -> (InFlight, Event) {
    let sleep = tokio::time::sleep_until(due.into());
    tokio::pin!(sleep);
    let event = std::future::poll_fn(|cx| match f.poll_acks(cx) {
        Poll::Ready(event) => Poll::Ready(event),
        Poll::Pending => sleep.as_mut().poll(cx).map(|()| Event::Due),
    })
    .await;
    (f, event)
}

/// Runs until `stop` yields a deadline and everything is drained, or the deadline passes.
pub(crate) async fn run(
    client: async_nats::Client,
    queue: Arc<RecordQueue>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<Instant>,
    window: usize,
) {
    // Each record in flight holds up to MAX_SENDS ack permits; the extra share covers
    // acks of settled records still owed to the client's acker. Waiting for a permit
    // therefore never waits on records that only this loop can settle.
    let js = jetstream::context::ContextBuilder::new()
        .timeout(ACK_WAIT_LIMIT)
        .max_ack_inflight(window.saturating_mul(MAX_SENDS + 1))
        .backpressure_on_inflight(true)
        .build(client.clone());
    let connection_stats = client.statistics();
    let epoch_now = || connection_stats.connects.load(Ordering::Relaxed);
    let mut epoch_seen = epoch_now();
    let mut reconnected_at = Instant::now();
    let mut horizon = default_duplicate_window().mul_f64(RESEND_SHARE);
    let mut in_flight = FuturesUnordered::new();
    let mut staged: VecDeque<Outgoing> = VecDeque::new();
    let mut stream_checked = false;
    let mut pause_until: Option<Instant> = None;
    let mut deadline: Option<Instant> = None;
    let mut last_activity = Instant::now();
    let mut max_payload = payload_room(&client);

    loop {
        let connected = client.connection_state() == State::Connected;
        let epoch = epoch_now();
        if epoch != epoch_seen {
            epoch_seen = epoch;
            reconnected_at = Instant::now();
        }
        if connected && !stream_checked {
            max_payload = payload_room(&client);
            match ensure(&js, stream_config()).await {
                // The stream's own window, which may not be ours if someone else created it.
                Ok(stream) => horizon = stream.cached_info().config.duplicate_window.mul_f64(RESEND_SHARE),
                Err(e) => tracing::warn!(error = %e, "cannot ensure the TELEMETRY stream; publishing anyway"),
            }
            stream_checked = true;
        }
        let paused = pause_until.is_some_and(|t| Instant::now() < t);
        let can_send = connected && !paused;

        // Fill the window: retries first, then new records.
        while can_send && in_flight.len() < window {
            let mut next = match staged.pop_front() {
                Some(m) => m,
                None => match queue.pop() {
                    Some(r) => Outgoing::encode(r, max_payload, &shared),
                    None => break,
                },
            };
            let publish = PublishMessage::build().payload(next.payload.clone()).message_id(&next.msg_id);
            match js.send_publish(next.subject.clone(), publish).await {
                Ok(ack) => {
                    let now = Instant::now();
                    last_activity = now;
                    next.sent(now, horizon, &shared);
                    let f = InFlight::new(next, ack, now, epoch_now());
                    let due = f.next_due(now, horizon);
                    in_flight.push(watch(f, due));
                }
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
            Some((mut f, event)) = in_flight.next(), if !in_flight.is_empty() => match event {
                Event::Acked => shared.settle(true),
                Event::Due => {
                    let now = Instant::now();
                    let in_window = f.msg.window_from.is_some_and(|from| now < from + horizon);
                    let resend = in_window && now >= f.last_sent + RESEND_AFTER;
                    let sendable = client.connection_state() == State::Connected
                        && pause_until.is_none_or(|t| now >= t);
                    if resend && sendable && f.free_slot().is_some() {
                        // Inside the window: the server drops this copy if an earlier one
                        // was stored. The earlier sends' acks stay awaited.
                        let publish = PublishMessage::build().payload(f.msg.payload.clone()).message_id(&f.msg.msg_id);
                        if let Ok(ack) = js.send_publish(f.msg.subject.clone(), publish).await {
                            let now = Instant::now();
                            f.msg.sent(now, horizon, &shared);
                            f.last_sent = now;
                            f.epoch = epoch_now();
                            if let Some(slot) = f.free_slot() {
                                *slot = Some(ack.into_future());
                            }
                        }
                        let due = f.next_due(Instant::now(), horizon);
                        in_flight.push(watch(f, due));
                    } else if f.epoch < epoch_seen && now >= reconnected_at + RECONNECT_GRACE && (!in_window || f.free_slot().is_none()) {
                        // Every send went out on a connection since lost, and the answers
                        // have had time to come over the new one: they are lost. Send it
                        // again (counted as after the window when it is).
                        f.msg.maybe_stored = true;
                        staged.push_back(f.msg);
                    } else {
                        let due = f.next_due(now, horizon);
                        in_flight.push(watch(f, due));
                    }
                }
                Event::Unanswered => {
                    let mut msg = f.msg;
                    if f.unanswered {
                        msg.maybe_stored = true;
                    }
                    if f.last_error == Some(PublishErrorKind::StreamNotFound) {
                        stream_checked = false;
                    }
                    let permanent = !f.unanswered
                        && matches!(f.last_error, Some(PublishErrorKind::MaxPayloadExceeded | PublishErrorKind::Other));
                    if permanent {
                        msg.failures += 1;
                    }
                    if permanent && msg.failures >= MAX_PERMANENT_FAILURES {
                        tracing::warn!(subject = %msg.subject, error = ?f.last_error, "record rejected by the server; dropped");
                        shared.settle(false);
                    } else {
                        if !msg.maybe_stored {
                            // Every send was refused: nothing of it is stored.
                            msg.window_from = None;
                        }
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
