//! Verified snap/1 answers shared between instances through Redis, so a popular pivot is read
//! from the backends once per cluster, not once per instance: the first instance to miss an
//! answer claims its fetch (`SET NX` with a 5 s expiry); the others wait for the answer to
//! appear instead of asking the backends too. Keys expire after
//! [`SNAP_ANSWER_TTL`]: by then the root has left every backend's recent states, and Redis's
//! memory for answers is bounded by what the cluster fetches in that time.

use alloy_primitives::{B256, Bytes};
use fred::prelude::{Client, KeysInterface};
use hypasis_snap::SharedAnswers;
use std::{future::Future, pin::Pin, time::Duration};

/// How long a shared answer lives: 128 states of 2-second Polygon blocks is about 4.3 minutes;
/// twice that covers a pivot's whole life.
pub(super) const SNAP_ANSWER_TTL: Duration = Duration::from_secs(600);

/// Answers in Redis under `hs:v1:c{chain}:snap:{key}`.
#[derive(Debug)]
pub(super) struct RedisAnswers {
    client: Client,
    chain: u64,
}

impl RedisAnswers {
    pub(super) fn new(client: Client, chain: u64) -> Self {
        metrics::gauge!("hypasis_snap_limit", "name" => "shared_answer_ttl_seconds").set(SNAP_ANSWER_TTL.as_secs_f64());
        Self { client, chain }
    }

    fn key(&self, key: B256) -> String {
        format!("hs:v1:c{}:snap:{key:x}", self.chain)
    }
}

impl SharedAnswers for RedisAnswers {
    fn get(&self, key: B256) -> Pin<Box<dyn Future<Output = Option<Bytes>> + Send + '_>> {
        Box::pin(async move {
            match self.client.get::<Option<bytes::Bytes>, _>(self.key(key)).await {
                Ok(found) => found.map(Bytes::from),
                Err(e) => {
                    metrics::counter!("hypasis_snap_shared_errors_total", "op" => "get").increment(1);
                    tracing::debug!(target: "snap", error = %e, "reading a shared snap answer failed");
                    None
                }
            }
        })
    }

    fn claim(&self, key: B256, ttl: Duration) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let expiry = fred::types::Expiration::PX(ttl.as_millis() as i64);
            let claim = format!("{}:claim", self.key(key));
            match self.client.set::<Option<String>, _, _>(claim, 1, Some(expiry), Some(fred::types::SetOptions::NX), false).await {
                Ok(set) => set.is_some(),
                Err(e) => {
                    metrics::counter!("hypasis_snap_shared_errors_total", "op" => "claim").increment(1);
                    tracing::debug!(target: "snap", error = %e, "claiming a snap fetch failed; fetching anyway");
                    true
                }
            }
        })
    }

    fn put(&self, key: B256, answer: Bytes) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let ttl = fred::types::Expiration::EX(SNAP_ANSWER_TTL.as_secs() as i64);
            if let Err(e) = self.client.set::<(), _, _>(self.key(key), answer.0, Some(ttl), None, false).await {
                metrics::counter!("hypasis_snap_shared_errors_total", "op" => "put").increment(1);
                tracing::debug!(target: "snap", error = %e, "storing a shared snap answer failed");
            }
        })
    }
}
