//! Components that fail are restarted with backoff, and every restart is counted
//! (`hypasis_component_restarts_total{component}`): a task that returns or panics before
//! shutdown is started again after 1 s, then 2, 4 … up to 60 s; a run that lasted a minute
//! resets the delay. Redis connections are restarted by fred's own reconnect policy; their
//! reconnects are counted under the same metric ([`count_reconnects`]).

use std::{
    future::Future,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// First delay before a restart.
pub const RESTART_MIN: Duration = Duration::from_secs(1);
/// Longest delay before a restart.
pub const RESTART_MAX: Duration = Duration::from_secs(60);
/// Longest delay before a leader's term is restarted: the lease is held meanwhile, so the whole
/// cluster waits on it.
pub const LEADER_RESTART_MAX: Duration = Duration::from_secs(5);
/// A run at least this long resets the delay to [`RESTART_MIN`].
pub const RESTART_STABLE: Duration = Duration::from_secs(60);

/// The delay before each restart: doubling, capped, reset by a stable run.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: RESTART_MIN, max: RESTART_MAX }
    }
}

impl Backoff {
    /// Doubling from [`RESTART_MIN`] to at most `max`.
    pub fn up_to(max: Duration) -> Self {
        Self { next: RESTART_MIN.min(max), max }
    }

    /// The delay after a run that lasted `ran`.
    pub fn after(&mut self, ran: Duration) -> Duration {
        if ran >= RESTART_STABLE {
            self.next = RESTART_MIN.min(self.max);
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

/// Counts and logs a restart of `component` and waits out its delay; `false` when `cancel`
/// fired meanwhile (do not restart).
pub async fn restarting(component: &'static str, why: &str, ran: Duration, backoff: &mut Backoff, cancel: &CancellationToken) -> bool {
    let delay = backoff.after(ran);
    metrics::counter!("hypasis_component_restarts_total", "component" => component).increment(1);
    tracing::error!(
        component,
        why,
        ran_ms = ran.as_millis() as u64,
        retry_in_ms = delay.as_millis() as u64,
        "component stopped; restarting"
    );
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

/// Runs `run()` until `cancel`, restarting it with backoff whenever it returns or panics.
/// `run` must itself stop when `cancel` fires.
pub async fn supervise<F, Fut>(component: &'static str, cancel: CancellationToken, run: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        let outcome = tokio::spawn(run()).await;
        if cancel.is_cancelled() {
            return;
        }
        let why = match outcome {
            Ok(()) => "returned",
            Err(e) if e.is_panic() => "panicked",
            Err(_) => "aborted",
        };
        if !restarting(component, why, started.elapsed(), &mut backoff, &cancel).await {
            return;
        }
    }
}

/// Counts the reconnects of a Redis client under `component`.
pub fn count_reconnects(client: &fred::prelude::Client, component: &'static str) {
    use fred::prelude::EventInterface;
    client.on_reconnect(move |server| async move {
        metrics::counter!("hypasis_component_restarts_total", "component" => component).increment(1);
        tracing::warn!(component, %server, "Redis connection restored");
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    #[test]
    fn the_delay_doubles_to_a_cap_and_a_stable_run_resets_it() {
        let mut backoff = Backoff::default();
        let quick = Duration::from_millis(10);
        let delays: Vec<_> = (0..8).map(|_| backoff.after(quick).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.after(RESTART_STABLE), RESTART_MIN);
        assert_eq!(backoff.after(quick), Duration::from_secs(2));
        let mut leader = Backoff::up_to(LEADER_RESTART_MAX);
        let delays: Vec<_> = (0..5).map(|_| leader.after(quick).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5], "a leader's terms are retried within seconds");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_or_returns_is_restarted_until_cancelled() {
        let runs = Arc::new(AtomicU32::new(0));
        let cancel = CancellationToken::new();
        let (counter, stop) = (runs.clone(), cancel.clone());
        let supervisor = tokio::spawn(supervise("test", cancel.clone(), move || {
            let (counter, stop) = (counter.clone(), stop.clone());
            async move {
                match counter.fetch_add(1, Ordering::SeqCst) {
                    0 => panic!("first run fails"),
                    1 => {}
                    _ => stop.cancelled().await,
                }
            }
        }));
        // Run 1 panics (restart after 1 s), run 2 returns (after 2 s), run 3 keeps going.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "restarted after 1 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "the second delay is 2 s");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        cancel.cancel();
        supervisor.await.expect("supervisor stops on cancel");
        assert_eq!(runs.load(Ordering::SeqCst), 3, "not restarted after cancel");
    }
}
