//! The bounded queue between the threads that end spans and the background publisher.
//!
//! Pushing is a lock-free, non-blocking operation: a full queue hands the record back
//! and the caller counts it as dropped. The consumer is woken only when the queue fills
//! past a threshold or when it has gone to sleep after a quiet spell; otherwise it polls
//! at a short interval. Waking a sleeping thread costs a system call, and paying that on
//! every span end would cost more than the span itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;

use crate::record::Record;

/// How often a busy consumer looks at the queue without being woken.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// How long a quiet consumer sleeps before it looks again on its own.
pub const IDLE_SLEEP: Duration = Duration::from_secs(1);

/// A bounded multi-producer queue of records with a cheap wake-up policy.
pub struct RecordQueue {
    items: ArrayQueue<Record>,
    wake: Notify,
    consumer_asleep: AtomicBool,
    wake_threshold: usize,
}

impl RecordQueue {
    /// A queue of `capacity` records (at least 1) whose consumer is woken once
    /// `wake_threshold` records wait.
    pub fn new(capacity: usize, wake_threshold: usize) -> Self {
        let capacity = capacity.max(1);
        RecordQueue {
            items: ArrayQueue::new(capacity),
            wake: Notify::new(),
            consumer_asleep: AtomicBool::new(false),
            wake_threshold: wake_threshold.clamp(1, capacity),
        }
    }

    /// Adds a record without blocking; gives it back when the queue is full.
    #[inline]
    pub fn push(&self, record: Record) -> Result<(), Record> {
        self.items.push(record)?;
        if self.items.len() >= self.wake_threshold
            || (self.consumer_asleep.load(Ordering::Relaxed) && self.consumer_asleep.swap(false, Ordering::AcqRel))
        {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Takes the oldest record.
    #[inline]
    pub fn pop(&self) -> Option<Record> {
        self.items.pop()
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Capacity in records.
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// Wakes the consumer now (used by flush and shutdown).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Consumer side: waits for a wake-up or the poll interval. After a quiet spell
    /// (`quiet` true) it sleeps longer and asks the next producer to wake it.
    pub async fn wait(&self, quiet: bool) {
        if !quiet {
            let _ = tokio::time::timeout(POLL_INTERVAL, self.wake.notified()).await;
            return;
        }
        // Announce the sleep before the last look, so a record pushed in between
        // either is seen here or finds the flag and wakes us.
        self.consumer_asleep.store(true, Ordering::Release);
        if self.items.is_empty() {
            let _ = tokio::time::timeout(IDLE_SLEEP, self.wake.notified()).await;
        }
        self.consumer_asleep.store(false, Ordering::Release);
    }
}

impl std::fmt::Debug for RecordQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordQueue").field("len", &self.len()).field("capacity", &self.capacity()).finish()
    }
}
