//! Reading TELEMETRY: the streams made sure of, the durable pull consumer, batches, and
//! routing by subject.
//!
//! The consumer is the contract's: durable, explicit acknowledgement, `max_deliver`,
//! `ack_wait`, filter `telemetry.>` (or the `--subject` filters). A consumer that already
//! exists keeps its settings (another bridge may rely on them); the bridge then works
//! with the consumer's own `ack_wait` and `max_deliver` and warns when they differ from
//! its flags. Its filter subjects are the exception: they are updated to the flags (see
//! [`prepare`]).
//!
//! Batches are explicit pull requests ("no wait" with an expiry): the server answers at
//! once with the messages available, up to the batch size, and only when none are does
//! it wait, at most the flush interval, for the first. So a backlog moves in full
//! batches, the end of a burst is exported without waiting, and only messages the bridge
//! is ready to process are delivered to it: none sits in a client-side buffer while its
//! ack-wait clock runs. The server ends each request itself, so no message can be sent
//! to a request the bridge has already given up on.

use std::time::Duration;

use async_nats::jetstream::consumer::FromConsumer;
use async_nats::jetstream::{self, consumer, Message};
use dagnats_observe::collector::stream::{ensure, stream_config, STREAM_SUBJECTS};
use dagnats_observe::collector::subject::SubjectKind;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Signal};
use crate::settle::ensure_dead_letter_stream;

/// The durable pull consumer and the settings it really has.
pub struct Consumer {
    /// The consumer handle.
    pub consumer: consumer::PullConsumer,
    /// The consumer's acknowledgement wait.
    pub ack_wait: Duration,
    /// The consumer's delivery limit (`-1`: unlimited).
    pub max_deliver: i64,
}

/// The signal carried on `subject` (see [`SubjectKind::of`]); `None` for a subject
/// outside the TELEMETRY grammar.
pub fn route(subject: &str) -> Option<Signal> {
    SubjectKind::of(subject).map(|kind| match kind {
        SubjectKind::Spans => Signal::Spans,
        SubjectKind::Logs => Signal::Logs,
        SubjectKind::Metrics => Signal::Metrics,
    })
}

/// The consumer configuration the bridge creates.
pub fn consumer_config(config: &Config) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(config.consumer.clone()),
        description: Some("dagnats otlp-bridge".into()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        deliver_policy: consumer::DeliverPolicy::All,
        max_ack_pending: max_ack_pending(config),
        ..with_filters(Default::default(), &config.subjects)
    }
}

/// `c` filtering on `subjects`: one goes in `filter_subject` (what servers before 2.10
/// understand, and what bridges wrote before `--subject` existed), several in
/// `filter_subjects` (nats-server 2.10 and later); the server refuses both at once.
fn with_filters(mut c: consumer::pull::Config, subjects: &[String]) -> consumer::pull::Config {
    match subjects {
        [one] => (c.filter_subject, c.filter_subjects) = (one.clone(), Vec::new()),
        several => (c.filter_subject, c.filter_subjects) = (String::new(), several.to_vec()),
    }
    c
}

/// The subjects a consumer's configuration filters on, sorted: `filter_subjects`, else
/// `filter_subject`, else (no filter: the whole stream) `telemetry.>`.
pub fn consumer_filters(c: &consumer::Config) -> Vec<String> {
    let mut filters = if !c.filter_subjects.is_empty() {
        c.filter_subjects.clone()
    } else if !c.filter_subject.is_empty() {
        vec![c.filter_subject.clone()]
    } else {
        vec![STREAM_SUBJECTS.to_owned()]
    };
    filters.sort();
    filters
}

/// Whether a consumer configured as `c` filters on `subjects` (in any order).
pub fn filters_match(c: &consumer::Config, subjects: &[String]) -> bool {
    let mut wanted = subjects.to_vec();
    wanted.sort();
    consumer_filters(c) == wanted
}

/// Messages one bridge holds unacknowledged at most: every worker's full batch.
fn in_hand(config: &Config) -> usize {
    config.workers.saturating_mul(config.batch_size)
}

/// The consumer's limit of messages delivered and not yet acknowledged: room for
/// [`in_hand`] twice over, and never below the server's default of 1000. Below
/// [`in_hand`] the server holds pull requests back while every worker keeps a partial
/// batch (measured: 8 workers x 250 against the default exported nothing for a minute).
pub fn max_ack_pending(config: &Config) -> i64 {
    i64::try_from(in_hand(config).saturating_mul(2)).unwrap_or(i64::MAX).max(1000)
}

/// Whether a consumer's `max_ack_pending` (0 or less: the server's default, no limit of
/// its own) is below what this bridge holds unacknowledged at once.
pub fn lacks_room(max_ack_pending: i64, config: &Config) -> bool {
    usize::try_from(max_ack_pending).is_ok_and(|pending| pending > 0 && pending < in_hand(config))
}

/// Makes sure TELEMETRY and the dead-letter stream exist, and gets or creates the
/// durable consumer.
pub async fn prepare(js: &jetstream::Context, config: &Config) -> Result<Consumer, String> {
    let stream = ensure(js, stream_config()).await?;
    ensure_dead_letter_stream(js).await?;
    let mut pull = match stream.get_consumer::<consumer::pull::Config>(&config.consumer).await {
        Ok(c) => c,
        Err(_) => match stream.create_consumer(consumer_config(config)).await {
            Ok(c) => c,
            // Another bridge may have created it between the two calls.
            Err(create) => stream
                .get_consumer(&config.consumer)
                .await
                .map_err(|_| format!("cannot create consumer {}: {create}", config.consumer))?,
        },
    };
    let mut info = pull.info().await.map_err(|e| format!("cannot read consumer {}: {e}", config.consumer))?.clone();
    if !filters_match(&info.config, &config.subjects) {
        // The consumer exists with other filters: updated to the flags rather than kept
        // (like its other settings) or refused. An operator who changes --subject expects
        // the bridge to export what the flag says from now on; keeping the old filters
        // would go on exporting what they meant to stop (the engine's own spans, sent
        // twice), and the only other remedy, deleting the consumer, restarts it at the
        // beginning of the stream, re-exporting everything: the doubles again. An update
        // keeps the consumer's position and its other settings, and the change applies
        // from that position on: messages of an added subject stored before it are not
        // delivered (the server moves the position past messages its filters did not
        // match, measured with nats-server 2.14). Bridges sharing a consumer must be
        // given the same --subject: one with other filters switches them back, so the
        // change is logged as a warning naming both sets.
        let from = consumer_filters(&info.config);
        tracing::warn!(
            consumer = %config.consumer,
            from = ?from,
            to = ?config.subjects,
            "the consumer's filter subjects differ from --subject; updating them, from the consumer's position on (every bridge sharing the consumer needs the same --subject)"
        );
        let cannot = |e: &dyn std::fmt::Display| {
            format!(
                "cannot update the filter subjects of consumer {} from {from:?} to {:?}: {e}",
                config.consumer, config.subjects
            )
        };
        let current = consumer::pull::Config::try_from_consumer_config(info.config.clone()).map_err(|e| cannot(&e))?;
        pull = stream.update_consumer(with_filters(current, &config.subjects)).await.map_err(|e| cannot(&e))?;
        info = pull.info().await.map_err(|e| format!("cannot read consumer {}: {e}", config.consumer))?.clone();
    }
    let c = &info.config;
    if lacks_room(c.max_ack_pending, config) {
        tracing::warn!(
            consumer = %config.consumer,
            max_ack_pending = c.max_ack_pending,
            workers = config.workers,
            batch_size = config.batch_size,
            "the consumer allows fewer unacknowledged messages than --workers x --batch-size; the server will hold pull requests back (lower the flags or recreate the consumer)"
        );
    }
    if c.ack_wait != config.ack_wait || c.max_deliver != config.max_deliver {
        tracing::warn!(
            consumer = %config.consumer,
            ack_wait = ?c.ack_wait,
            max_deliver = c.max_deliver,
            "the consumer exists with other settings than the flags; keeping its settings (delete the consumer to change them)"
        );
    }
    if c.ack_policy != consumer::AckPolicy::Explicit {
        return Err(format!("consumer {} exists without explicit acknowledgement; it cannot be used", config.consumer));
    }
    Ok(Consumer { ack_wait: c.ack_wait, max_deliver: c.max_deliver, consumer: pull })
}

/// Fetches the messages available, up to `max`; when there are none, waits at most
/// `wait` for the first. When `stop` is cancelled the messages that already arrived are
/// returned.
pub async fn fetch(
    consumer: &consumer::PullConsumer,
    max: usize,
    wait: Duration,
    stop: &CancellationToken,
) -> Result<Vec<Message>, String> {
    let mut batch = tokio::select! {
        b = consumer.fetch().max_messages(max).expires(wait).messages() => b.map_err(|e| e.to_string())?,
        _ = stop.cancelled() => return Ok(Vec::new()),
    };
    let mut out = Vec::with_capacity(max);
    loop {
        tokio::select! {
            next = batch.next() => match next {
                Some(Ok(m)) => out.push(m),
                Some(Err(e)) if out.is_empty() => return Err(e.to_string()),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "batch ended early");
                    return Ok(out);
                }
                None => return Ok(out),
            },
            _ = stop.cancelled() => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_has_room_for_every_workers_batch() {
        // Created with the server's default (1000), 8 workers fetching 250 each stalled
        // the bridge: pull requests waited while every worker held a partial batch.
        let mut config = Config::new("nats://127.0.0.1:4222", "http://127.0.0.1:4318");
        for (workers, batch_size) in [(8, 250), (8, 512), (64, 10_000), (1, 1)] {
            config.workers = workers;
            config.batch_size = batch_size;
            let limit = consumer_config(&config).max_ack_pending;
            assert!(limit >= (workers * batch_size) as i64, "{workers} x {batch_size}: {limit}");
            assert!(limit >= 1000, "never below the server's default: {limit}");
        }
    }

    #[test]
    fn one_subject_is_the_filter_subject_several_the_filter_subjects() {
        let mut config = Config::new("nats://127.0.0.1:4222", "http://127.0.0.1:4318");
        let c = consumer_config(&config);
        assert_eq!((c.filter_subject.as_str(), c.filter_subjects.len()), ("telemetry.>", 0));
        config.subjects = vec!["telemetry.spans.py-worker.>".into(), "telemetry.logs.>".into()];
        let c = consumer_config(&config);
        assert_eq!((c.filter_subject.as_str(), &c.filter_subjects[..]), ("", &config.subjects[..]));

        let existing = |filter_subject: &str, filter_subjects: &[&str]| consumer::Config {
            filter_subject: filter_subject.into(),
            filter_subjects: filter_subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let everything = vec!["telemetry.>".to_owned()];
        // No filter at all is the whole stream: the default matches it.
        assert!(filters_match(&existing("", &[]), &everything));
        assert!(filters_match(&existing("telemetry.>", &[]), &everything));
        assert!(!filters_match(&existing("telemetry.>", &[]), &config.subjects));
        // Order does not matter.
        assert!(filters_match(&existing("", &["telemetry.logs.>", "telemetry.spans.py-worker.>"]), &config.subjects));
        assert!(!filters_match(&existing("", &["telemetry.logs.>"]), &config.subjects));
        assert_eq!(
            consumer_filters(&existing("", &["telemetry.spans.py-worker.>", "telemetry.logs.>"])),
            ["telemetry.logs.>", "telemetry.spans.py-worker.>"]
        );
    }

    #[test]
    fn subjects_route_by_their_second_token() {
        assert_eq!(route("telemetry.spans.py-worker.r-42"), Some(Signal::Spans));
        assert_eq!(route("telemetry.logs.engine.warn"), Some(Signal::Logs));
        assert_eq!(route("telemetry.metrics.engine.dagnats.tasks.completed"), Some(Signal::Metrics));
        assert_eq!(route("telemetry.events.x"), None);
        assert_eq!(route("telemetry.spans"), None);
        assert_eq!(route("other.spans.x"), None);
    }
}
