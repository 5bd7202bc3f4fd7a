//! Shutdown in two halves: the signal out, then the drain.
//!
//! [`signal`] resolves on SIGINT or SIGTERM; the binary passes it to
//! [`run`](crate::run), tests pass any future. When it resolves the bridge stops
//! fetching ([`Shutdown::stop`]); batches in hand are exported, and after a grace period
//! ([`Shutdown::abort`]) whatever is still waiting on the receiver is released
//! (negatively acknowledged for immediate redelivery) instead of waited for.

use tokio_util::sync::CancellationToken;

/// The two cancellation points of a shutdown.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// Cancelled when the shutdown begins: fetch no more, release held batches.
    pub stop: CancellationToken,
    /// Cancelled when the grace period is over: stop waiting for exports in flight.
    pub abort: CancellationToken,
}

impl Shutdown {
    /// Not shut down.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// True once the shutdown began.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; shutting down"),
                    _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the bridge");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received; shutting down");
    }
}
