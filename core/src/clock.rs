//! Wall-clock stamps derived from the monotonic clock.
//!
//! Spans need both clocks: the wall clock for their start stamp and the monotonic clock
//! for their duration. Reading both on every span start costs more than the rest of the
//! start, so the wall time is derived from one monotonic reading plus an offset that is
//! re-read from the system clock at most once a second (following clock steps within
//! that second).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::record::Timestamp;

const REFRESH_NANOS: u64 = 1_000_000_000;

struct Anchor {
    base: Instant,
    /// Unix nanoseconds minus nanoseconds since `base`.
    offset: AtomicI64,
    /// Nanoseconds since `base` at the last refresh.
    refreshed: AtomicU64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let base = Instant::now();
        let anchor = Anchor { base, offset: AtomicI64::new(0), refreshed: AtomicU64::new(0) };
        refresh(&anchor, 0);
        anchor
    })
}

fn refresh(a: &Anchor, mono: u64) {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
    let mono_now = a.base.elapsed().as_nanos() as i64;
    a.offset.store(wall - mono_now, Ordering::Relaxed);
    a.refreshed.store(mono, Ordering::Relaxed);
}

/// The wall-clock time of the monotonic instant `at`.
#[inline]
pub(crate) fn wall_time(at: Instant) -> Timestamp {
    let a = anchor();
    let mono = at.saturating_duration_since(a.base).as_nanos() as u64;
    if mono.saturating_sub(a.refreshed.load(Ordering::Relaxed)) > REFRESH_NANOS {
        refresh(a, mono);
    }
    let nanos = mono as i64 + a.offset.load(Ordering::Relaxed);
    Timestamp(nanos.max(0) as u64)
}

/// The current monotonic instant and its wall-clock time.
#[inline]
pub(crate) fn now() -> (Instant, Timestamp) {
    let at = Instant::now();
    (at, wall_time(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn derived_wall_time_tracks_the_system_clock() {
        let (_, derived) = now();
        let system = Timestamp::now();
        let diff = derived.unix_nanos().abs_diff(system.unix_nanos());
        assert!(diff < Duration::from_millis(50).as_nanos() as u64, "{diff} ns apart");
    }

    #[test]
    fn later_instants_give_later_times() {
        let (a, ta) = now();
        let tb = wall_time(a + Duration::from_millis(3));
        // A refresh of the offset in between may move it by the clocks' drift (microseconds).
        let gap = tb.unix_nanos() as i64 - ta.unix_nanos() as i64;
        assert!((gap - 3_000_000).abs() < 1_000_000, "{gap}");
    }
}
