//! After `fork()`: what a child process must do before it records anything, once for
//! every language package.
//!
//! A forked child has only the thread that forked. It inherits the id generator's state
//! (it would repeat its parent's ids) and every connected collector, whose connection and
//! publisher thread stayed in the parent. [`after_fork_in_child`] reseeds the ids and
//! gives each collector connected through [`Telemetry::connect`](crate::Telemetry::connect)
//! its own connection and thread, so the handles the child inherited keep working.
//! Python calls it from `os.register_at_fork`, C from `dagnats_after_fork_child` (for
//! `pthread_atfork`); Node has no `fork()` without `exec`.

use std::sync::{Arc, Mutex, Weak};

use crate::collector::Collector;
use crate::error::Result;

/// Collectors of this process, so that a forked child can give each its own publisher.
static CONNECTED: Mutex<Vec<Weak<Collector>>> = Mutex::new(Vec::new());

/// Aggregating metrics of this process, whose periodic export a forked child restarts.
static AGGREGATING: Mutex<Vec<Weak<crate::metrics::Aggregator>>> = Mutex::new(Vec::new());

/// Remembers aggregating metrics (dropped ones are forgotten on the way).
pub(crate) fn register_metrics(aggregator: &Arc<crate::metrics::Aggregator>) {
    let mut list = AGGREGATING.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(aggregator));
}

/// Remembers a connected collector (dropped ones are forgotten on the way).
pub(crate) fn register(collector: &Arc<Collector>) {
    let mut list = CONNECTED.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(collector));
}

/// In a forked child, first thing (before any other thread starts): reseeds the id
/// generator, reconnects every collector of the process and restarts the periodic export
/// of aggregating metrics. Records queued but not yet
/// published at the fork are published by the parent, not again by the child.
///
/// Every collector is tried; the error of the last one that could not reconnect is
/// returned (it keeps buffering, bounded, as while NATS is down). If another thread held
/// the list's lock at the fork, it is never released in the child: then only the ids are
/// reseeded, rather than deadlocking.
pub fn after_fork_in_child() -> Result<()> {
    crate::id::reseed_after_fork();
    if let Ok(list) = AGGREGATING.try_lock() {
        for aggregator in list.iter().filter_map(Weak::upgrade) {
            aggregator.after_fork_in_child();
        }
    }
    let Ok(list) = CONNECTED.try_lock() else { return Ok(()) };
    let mut outcome = Ok(());
    for collector in list.iter().filter_map(Weak::upgrade) {
        if let Err(e) = collector.after_fork_in_child() {
            outcome = Err(e);
        }
    }
    outcome
}
