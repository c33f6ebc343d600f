//! Running work only while leading: [`while_leader`] runs one term of a task per leadership term
//! and cancels it when leadership is lost; [`alone`] is the leadership of an instance without a
//! cluster (always the leader).

use crate::{
    Leadership,
    supervise::{Backoff, LEADER_RESTART_MAX, restarting},
    wait_for_leadership,
};
use std::{future::Future, time::Instant};
use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Runs `term(token, term_cancel)` for each leadership term until `cancel`. The term's token is
/// cancelled when leadership is lost (or changes token) or `cancel` fires; the term is awaited
/// before the next one starts, so two terms never overlap. A term that returns or panics while
/// still leading is restarted with backoff (at most [`LEADER_RESTART_MAX`]: the lease is held
/// meanwhile) and counted as a restart of `component`
/// ([`crate::supervise`]). When the leadership's sender is gone the current term is stopped and
/// no other starts.
pub async fn while_leader<F, Fut>(component: &'static str, mut leadership: watch::Receiver<Leadership>, cancel: CancellationToken, term: F)
where
    F: Fn(u64, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Backoff::up_to(LEADER_RESTART_MAX);
    loop {
        let Some(token) = wait_for_leadership(&mut leadership, &cancel).await else { return };
        let term_cancel = cancel.child_token();
        let started = Instant::now();
        let mut run = tokio::spawn(term(token, term_cancel.clone()));
        let ended = loop {
            tokio::select! {
                ended = &mut run => break ended,
                () = cancel.cancelled() => {
                    term_cancel.cancel();
                    let _ = run.await;
                    return;
                }
                changed = leadership.changed() => {
                    if changed.is_err() {
                        // The election is gone (shutdown, or a failed start): no term can follow.
                        term_cancel.cancel();
                        let _ = run.await;
                        return;
                    }
                    if *leadership.borrow() != (Leadership::Leader { token }) {
                        term_cancel.cancel();
                        let _ = run.await;
                        break Ok(());
                    }
                }
            }
        };
        if cancel.is_cancelled() {
            return;
        }
        if *leadership.borrow() == (Leadership::Leader { token }) {
            let why = match &ended {
                Err(e) if e.is_panic() => "panicked",
                _ => "returned",
            };
            if !restarting(component, why, started.elapsed(), &mut backoff, &cancel).await {
                return;
            }
        }
    }
}

/// The leadership of an instance without a cluster: always the leader, with token 0. The sender
/// lives until `cancel` (a receiver whose sender is gone reads as a lost leadership).
pub fn alone(tasks: &mut JoinSet<()>, cancel: CancellationToken) -> watch::Receiver<Leadership> {
    let (always, leadership) = watch::channel(Leadership::Leader { token: 0 });
    tasks.spawn(async move {
        cancel.cancelled().await;
        drop(always);
    });
    leadership
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::Duration,
    };

    #[tokio::test]
    async fn a_term_runs_per_leadership_and_stops_when_it_is_lost() {
        let (tx, rx) = watch::channel(Leadership::Follower);
        let cancel = CancellationToken::new();
        let (started, stopped) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (s, t) = (started.clone(), stopped.clone());
        let task = tokio::spawn(while_leader("test", rx, cancel.clone(), move |token, term| {
            let (s, t) = (s.clone(), t.clone());
            async move {
                s.store(token, Ordering::SeqCst);
                term.cancelled().await;
                t.store(token, Ordering::SeqCst);
            }
        }));
        tx.send_replace(Leadership::Leader { token: 7 });
        wait_until(|| started.load(Ordering::SeqCst) == 7).await;
        tx.send_replace(Leadership::Follower);
        wait_until(|| stopped.load(Ordering::SeqCst) == 7).await;
        // A new term with a new token.
        tx.send_replace(Leadership::Leader { token: 8 });
        wait_until(|| started.load(Ordering::SeqCst) == 8).await;
        cancel.cancel();
        task.await.expect("while_leader");
        assert_eq!(stopped.load(Ordering::SeqCst), 8, "the term is awaited on shutdown");
    }

    async fn wait_until(check: impl Fn() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached");
    }
}
