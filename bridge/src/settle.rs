//! Settling messages one by one: acknowledge, negatively acknowledge with a delay, keep
//! in progress, re-queue, or dead-letter.
//!
//! A message is never negatively acknowledged on its last delivery. When the data was
//! never at fault (the receiver is down, the bridge is stopping) it is re-queued: copied
//! back onto TELEMETRY with its subject, headers and body and a fresh delivery count, and
//! the original acknowledged. An outage therefore dead-letters nothing, however long it
//! lasts and however often the bridge restarts; the `max_deliver` limit keeps its purpose,
//! catching messages that make the bridge fail (see [`crate::advisory`]).
//!
//! A dead-lettered message is published to the `TELEMETRY_DLQ` stream (subject
//! `telemetry_dlq.` + the original subject without its `telemetry.` prefix) with its
//! body, its own headers (except the server's `Nats-*` ones) and headers naming the
//! original subject, stream, sequence, delivery count and the reason; only once the
//! stream has stored it is the original acknowledged. The publish carries a
//! `Nats-Msg-Id` of the original stream and sequence, so a message dead-lettered twice
//! (the bridge stopped between the two steps) is stored once. A body too large to fit
//! beside the headers is truncated, and a header says from which size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::header::{HeaderMap, HeaderValue};
use async_nats::jetstream::{self, message::AckKind, stream, Message};
use dagnats_observe::collector::stream::{self as telemetry_stream, STREAM_NAME};
use dagnats_observe::collector::subject::ROOT;

/// The dead-letter stream.
pub const DLQ_STREAM: &str = "TELEMETRY_DLQ";
/// First token of the dead-letter subjects.
pub const DLQ_ROOT: &str = "telemetry_dlq";
/// Subjects of the dead-letter stream.
pub const DLQ_SUBJECTS: &str = "telemetry_dlq.>";
/// Header: the subject the message was published on.
pub const HEADER_SUBJECT: &str = "Dagnats-Original-Subject";
/// Header: the stream it was read from.
pub const HEADER_STREAM: &str = "Dagnats-Original-Stream";
/// Header: its sequence in that stream.
pub const HEADER_SEQUENCE: &str = "Dagnats-Original-Sequence";
/// Header: how often it had been delivered.
pub const HEADER_DELIVERIES: &str = "Dagnats-Deliveries";
/// Header: why it was dead-lettered.
pub const HEADER_REASON: &str = "Dagnats-Dead-Letter-Reason";
/// Header: how often the message was re-queued on TELEMETRY after running out of
/// deliveries while the receiver was down (absent: never).
pub const HEADER_REQUEUED: &str = "Dagnats-Requeued";
/// Header: the original body size, present when the stored body was truncated.
pub const HEADER_TRUNCATED_FROM: &str = "Dagnats-Truncated-From";

/// Longest reason kept in the header.
const MAX_REASON_CHARS: usize = 500;
/// Room left for headers when a body must be truncated to fit the server's limit.
const HEADER_ROOM: usize = 8 * 1024;

/// The dead-letter stream's settings: limits retention, file storage, 30 days, 1 GiB,
/// and a two-minute duplicate window for the `Nats-Msg-Id` of repeated dead-letterings.
pub fn dead_letter_stream_config() -> stream::Config {
    stream::Config {
        name: DLQ_STREAM.into(),
        subjects: vec![DLQ_SUBJECTS.into()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(30 * 24 * 3600),
        max_bytes: 1 << 30,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

/// Creates the dead-letter stream when it is missing; an existing one is left as it is.
pub async fn ensure_dead_letter_stream(js: &jetstream::Context) -> Result<(), String> {
    telemetry_stream::ensure(js, dead_letter_stream_config()).await.map(|_| ())
}

/// The dead-letter subject of an original subject: `telemetry.{rest}` becomes
/// `telemetry_dlq.{rest}`.
pub fn dead_letter_subject(subject: &str) -> String {
    format!("{DLQ_ROOT}.{}", subject.strip_prefix(ROOT).and_then(|r| r.strip_prefix('.')).unwrap_or(subject))
}

/// The original subject of a dead-letter subject (the inverse of
/// [`dead_letter_subject`]); `None` for a subject outside the dead-letter stream's.
pub fn original_subject(dead_letter_subject: &str) -> Option<String> {
    dead_letter_subject.strip_prefix(DLQ_ROOT).and_then(|r| r.strip_prefix('.')).map(|rest| format!("{ROOT}.{rest}"))
}

/// A message the bridge holds, with what settling it needs.
pub struct InHand {
    /// The message.
    pub msg: Message,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// How often it has been delivered, this time included.
    pub delivered: i64,
    settled: AtomicBool,
}

impl InHand {
    /// Wraps a fetched message.
    pub fn new(msg: Message) -> InHand {
        let (stream_sequence, delivered) = msg.info().map(|i| (i.stream_sequence, i.delivered)).unwrap_or((0, 1));
        InHand { msg, stream_sequence, delivered, settled: AtomicBool::new(false) }
    }

    /// True once acknowledged, negatively acknowledged or dead-lettered.
    pub fn is_settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }

    fn mark_settled(&self) {
        self.settled.store(true, Ordering::Release);
    }
}

/// Sends acknowledgements, re-queues and dead-letters.
///
/// No message is ever negatively acknowledged on its last delivery: the server would
/// then give up on it, and it would stay in TELEMETRY, exported by no one. Such a message
/// is re-queued instead ([`requeue`](Self::requeue)) when the data was never at fault
/// (the receiver was down, the bridge was stopping), or dead-lettered when it was.
#[derive(Clone)]
pub struct Settler {
    js: jetstream::Context,
    consumer: String,
    max_deliver: i64,
}

impl Settler {
    /// A settler publishing dead letters through `js`, for `consumer` whose delivery
    /// limit is `max_deliver` (`-1` or `0`: unlimited).
    pub fn new(js: jetstream::Context, consumer: &str, max_deliver: i64) -> Settler {
        Settler { js, consumer: consumer.to_owned(), max_deliver }
    }

    /// True when the server will not deliver `m` again after this delivery.
    pub fn is_last_delivery(&self, m: &InHand) -> bool {
        self.max_deliver > 0 && m.delivered >= self.max_deliver
    }

    /// Acknowledges. A lost acknowledgement means a redelivery, hence a duplicate, not
    /// a loss; it is logged.
    pub async fn ack(&self, m: &InHand) {
        m.mark_settled();
        if let Err(e) = m.msg.ack().await {
            tracing::warn!(sequence = m.stream_sequence, error = %e, "acknowledgement not sent; the message will come again");
        }
    }

    /// Asks for another try after `delay`: a negative acknowledgement, or, on the
    /// message's last delivery, a re-queue (see [`requeue`](Self::requeue)). Returns
    /// what was done.
    pub async fn retry(&self, m: &InHand, delay: Option<Duration>, why: &str) -> Retry {
        if self.is_last_delivery(m) {
            return if self.requeue(m, why).await { Retry::Requeued } else { Retry::LeftToAckWait };
        }
        self.nak(m, delay).await;
        Retry::Nakked
    }

    /// Negatively acknowledges, asking for redelivery after `delay`. Only for a message
    /// that is not on its last delivery (see [`retry`](Self::retry)).
    async fn nak(&self, m: &InHand, delay: Option<Duration>) {
        m.mark_settled();
        if let Err(e) = m.msg.ack_with(AckKind::Nak(delay)).await {
            tracing::warn!(sequence = m.stream_sequence, error = %e, "negative acknowledgement not sent");
        }
    }

    /// Tells the server work is going on, restarting the message's ack-wait clock.
    pub async fn progress(&self, m: &InHand) {
        if let Err(e) = m.msg.ack_with(AckKind::Progress).await {
            tracing::debug!(sequence = m.stream_sequence, error = %e, "in-progress acknowledgement not sent");
        }
    }

    /// Publishes a copy of `m` to TELEMETRY on its own subject, with its own headers and
    /// a fresh delivery count, then acknowledges the original. Used for a message on its
    /// last delivery whose data was never at fault: a receiver outage or a shutdown
    /// must not cost data, however long it lasts and however often the bridge restarts.
    ///
    /// The copy's `Nats-Msg-Id` is derived from the original's sequence, so a re-queue
    /// repeated after a crash between the two steps is stored once. When the copy cannot
    /// be stored, the original is left to the ack wait (never negatively acknowledged):
    /// the server then gives up on it and its max-deliveries advisory dead-letters it
    /// (see [`crate::advisory`]). Returns whether it was re-queued.
    pub async fn requeue(&self, m: &InHand, why: &str) -> bool {
        let requeued: u64 = m
            .msg
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .find(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case(HEADER_REQUEUED))
            .and_then(|(_, values)| values.first()?.as_str().parse().ok())
            .unwrap_or(0);
        let mut headers = carried_headers(m.msg.headers.as_ref(), |name| name.eq_ignore_ascii_case(HEADER_REQUEUED));
        headers.insert(HEADER_REQUEUED, HeaderValue::from(requeued + 1));
        headers.insert("Nats-Msg-Id", header_value(&format!("{STREAM_NAME}:{}:requeued", m.stream_sequence)));
        let stored = match self.js.publish_with_headers(m.msg.subject.clone(), headers, m.msg.payload.clone()).await {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(()) => {
                tracing::info!(
                    subject = %m.msg.subject,
                    sequence = m.stream_sequence,
                    deliveries = m.delivered,
                    why,
                    "re-queued on its last delivery"
                );
                self.ack(m).await;
                true
            }
            Err(e) => {
                self.abandon(m);
                tracing::error!(
                    consumer = %self.consumer,
                    sequence = m.stream_sequence,
                    error = %e,
                    "cannot re-queue a message on its last delivery; the server's max-deliveries advisory will dead-letter it"
                );
                false
            }
        }
    }

    /// Stops keeping `m` in progress without settling it: the server takes it back after
    /// the ack wait.
    fn abandon(&self, m: &InHand) {
        m.mark_settled();
    }

    /// Publishes the message to the dead-letter stream, then acknowledges it. When the
    /// dead-letter stream cannot store it after a few tries, the message is negatively
    /// acknowledged with a delay, to be dead-lettered on a later delivery; on its last
    /// delivery it is left to the ack wait instead, and the max-deliveries advisory that
    /// follows dead-letters it. Returns whether this call stored it (a copy already
    /// stored by an earlier attempt is not counted again).
    pub async fn dead_letter(&self, m: &InHand, reason: &str) -> bool {
        let letter = DeadLetter {
            subject: &m.msg.subject,
            headers: m.msg.headers.as_ref(),
            payload: m.msg.payload.clone(),
            stream_sequence: m.stream_sequence,
            delivered: m.delivered,
        };
        match self.store_dead_letter(&letter, reason).await {
            Ok(newly_stored) => {
                self.ack(m).await;
                newly_stored
            }
            Err(e) if self.is_last_delivery(m) => {
                self.abandon(m);
                tracing::error!(
                    consumer = %self.consumer,
                    sequence = m.stream_sequence,
                    error = %e,
                    reason,
                    "cannot store a dead letter on the last delivery; the server's max-deliveries advisory will bring it back"
                );
                false
            }
            Err(e) => {
                tracing::error!(
                    consumer = %self.consumer,
                    sequence = m.stream_sequence,
                    error = %e,
                    reason,
                    "cannot store a dead letter; the message will come again"
                );
                self.nak(m, Some(Duration::from_secs(5))).await;
                false
            }
        }
    }

    /// Stores `letter` in the dead-letter stream with `reason`, trying a few times.
    /// `Ok(false)` when the stream already held it (same original sequence).
    pub async fn store_dead_letter(&self, letter: &DeadLetter<'_>, reason: &str) -> Result<bool, String> {
        let subject = dead_letter_subject(letter.subject);
        let mut headers = carried_headers(letter.headers, |_| false);
        headers.insert(HEADER_SUBJECT, header_value(letter.subject));
        headers.insert(HEADER_STREAM, STREAM_NAME);
        headers.insert(HEADER_SEQUENCE, HeaderValue::from(letter.stream_sequence));
        headers.insert(HEADER_DELIVERIES, HeaderValue::from(letter.delivered));
        headers.insert(HEADER_REASON, header_value(reason));
        headers.insert("Nats-Msg-Id", header_value(&format!("{STREAM_NAME}:{}", letter.stream_sequence)));

        let max_payload = self.js.client().max_payload();
        let mut body = letter.payload.clone();
        if body.len() + HEADER_ROOM > max_payload {
            headers.insert(HEADER_TRUNCATED_FROM, HeaderValue::from(body.len()));
            body.truncate(max_payload.saturating_sub(HEADER_ROOM));
        }

        let mut last_error = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            match self.js.publish_with_headers(subject.clone(), headers.clone(), body.clone()).await {
                Ok(ack) => match ack.await {
                    Ok(ack) => {
                        tracing::warn!(
                            subject = %letter.subject,
                            sequence = letter.stream_sequence,
                            deliveries = letter.delivered,
                            reason,
                            duplicate = ack.duplicate,
                            "dead-lettered"
                        );
                        return Ok(!ack.duplicate);
                    }
                    Err(e) => last_error = e.to_string(),
                },
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(last_error)
    }
}

/// What [`Settler::retry`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Negatively acknowledged: the server redelivers it after the delay.
    Nakked,
    /// On its last delivery: copied back onto TELEMETRY with a fresh delivery count.
    Requeued,
    /// On its last delivery and the copy failed: the server gives up after the ack
    /// wait, and the max-deliveries advisory dead-letters it.
    LeftToAckWait,
}

/// A message to dead-letter: what the dead-letter headers are made from.
pub struct DeadLetter<'a> {
    /// The subject it was published on.
    pub subject: &'a str,
    /// Its headers.
    pub headers: Option<&'a HeaderMap>,
    /// Its body.
    pub payload: bytes::Bytes,
    /// Its sequence in TELEMETRY.
    pub stream_sequence: u64,
    /// How often it was delivered.
    pub delivered: i64,
}

/// The headers of a message to publish again (re-queued, dead-lettered, republished):
/// its own, in order, without the server's `Nats-*` ones (a copied `Nats-Msg-Id` would
/// make the server drop the copy) and without those `drop` names.
pub fn carried_headers(original: Option<&HeaderMap>, drop: impl Fn(&str) -> bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in original.into_iter().flat_map(|h| h.iter()) {
        let name_str: &str = name.as_ref();
        let is_server_header = name_str.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("nats-"));
        if is_server_header || drop(name_str) {
            continue;
        }
        for v in values {
            headers.append(name.clone(), v.clone());
        }
    }
    headers
}

/// A header value without line breaks or other control characters, and not too long.
fn header_value(text: &str) -> HeaderValue {
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_CHARS).collect();
    HeaderValue::from(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_subjects_mirror_the_original() {
        assert_eq!(dead_letter_subject("telemetry.spans.svc.r-1"), "telemetry_dlq.spans.svc.r-1");
        assert_eq!(dead_letter_subject("telemetry.x"), "telemetry_dlq.x");
        for subject in ["telemetry.spans.svc.r-1", "telemetry.metrics.svc.a.b", "telemetry.x"] {
            assert_eq!(original_subject(&dead_letter_subject(subject)).as_deref(), Some(subject));
        }
        assert_eq!(original_subject("telemetry.spans.svc.r-1"), None, "not a dead-letter subject");
        assert_eq!(original_subject("telemetry_dlqx.spans"), None);
    }

    #[test]
    fn reasons_become_safe_header_values() {
        let v = header_value("line one\r\nline two");
        assert_eq!(v.as_str(), "line one  line two");
        assert_eq!(header_value(&"x".repeat(2000)).as_str().len(), MAX_REASON_CHARS);
    }
}
