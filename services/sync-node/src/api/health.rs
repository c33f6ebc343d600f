//! Liveness, readiness and the health report.
//!
//! Ready (`/health/ready` 200) means this instance can serve current data: it has a head, the
//! head it advertises is within `--ready-max-lag` blocks of the cluster's head (Redis) and of
//! the upstreams' tip, and it is not draining for shutdown. A Redis outage alone does not make
//! it unready: it serves from its hot tier (degraded, reported by `/api/v1/health`).

use super::{ApiState, error};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// How long the Redis check waits.
const REDIS_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// One check of the health report.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Check {
    /// What is checked.
    pub(super) name: &'static str,
    /// Whether failing it makes the instance unready.
    pub critical: bool,
    /// Whether it passes.
    pub ok: bool,
    /// Since when (UNIX seconds) it has had this state, as seen by this instance.
    pub since: u64,
    /// What was found.
    pub detail: String,
}

/// The process is up and answering.
pub(super) async fn live() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// 200 while every critical check passes, else 503 naming the failed ones.
pub(super) async fn ready(State(state): State<Arc<ApiState>>) -> Response {
    let checks = checks(&state, false).await;
    let failed: Vec<&Check> = checks.iter().filter(|c| c.critical && !c.ok).collect();
    if failed.is_empty() {
        let head = state.heads.borrow().map(|h| h.number);
        return Json(serde_json::json!({ "status": "ready", "head": head })).into_response();
    }
    let reasons: Vec<String> = failed.iter().map(|c| format!("{}: {}", c.name, c.detail)).collect();
    error(StatusCode::SERVICE_UNAVAILABLE, reasons.join("; "))
}

/// `GET /api/v1/health`: every check, critical or not, with its state and since when.
pub(super) async fn report(State(state): State<Arc<ApiState>>) -> Response {
    let checks = checks(&state, true).await;
    let ready = checks.iter().all(|c| !c.critical || c.ok);
    let degraded = checks.iter().any(|c| !c.ok);
    let status = if !ready {
        "unready"
    } else if degraded {
        "degraded"
    } else {
        "ok"
    };
    Json(serde_json::json!({ "status": status, "ready": ready, "checks": checks })).into_response()
}

async fn checks(state: &ApiState, all: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let local = *state.heads.borrow();
    let draining = state.draining.load(Ordering::SeqCst);
    out.push(check(state, "draining", true, !draining, if draining { "shutting down".into() } else { "serving".into() }));
    let head = match local {
        Some(h) => (true, format!("block {}", h.number)),
        None => (false, "no head yet: the cache holds no blocks".into()),
    };
    out.push(check(state, "head", true, head.0, head.1));
    let max_lag = state.ready_max_lag;
    if let (Some(local), Ok(Some(stored))) = (local, state.store.head().await) {
        let behind = stored.number.saturating_sub(local.number);
        let detail = format!("{behind} blocks behind the cluster head {} (at most {max_lag})", stored.number);
        out.push(check(state, "cluster_lag", true, behind <= max_lag, detail));
    }
    if let (Some(local), Some(sync)) = (local, &state.sync) {
        let tip = sync.upstreams().iter().map(|u| u.head).max().unwrap_or(0);
        let behind = tip.saturating_sub(local.number);
        let detail = format!("{behind} blocks behind the upstream tip {tip} (at most {max_lag})");
        out.push(check(state, "upstream_lag", true, tip == 0 || behind <= max_lag, detail));
    }
    if all {
        if let Some(cluster) = &state.cluster {
            let reached = tokio::time::timeout(REDIS_CHECK_TIMEOUT, cluster.leader()).await;
            let (ok, detail) = match reached {
                Ok(Ok(_)) => (true, "reachable".to_owned()),
                Ok(Err(e)) => (false, format!("unreachable ({e}): serving from the hot tier")),
                Err(_) => (false, format!("no answer within {REDIS_CHECK_TIMEOUT:?}: serving from the hot tier")),
            };
            out.push(check(state, "redis", false, ok, detail));
        }
        if let Some(sync) = &state.sync {
            let upstreams = sync.upstreams();
            let usable = upstreams.iter().filter(|u| u.state == "ok").count();
            let detail = format!("{usable} of {} upstreams usable (the others cooling down or banned)", upstreams.len());
            out.push(check(state, "upstreams", false, usable > 0, detail));
        }
        let peers = state.network.peer_count();
        let limit = state.network.max_peers();
        out.push(check(state, "peers", false, peers < limit, format!("{peers} of {limit} peer slots used")));
        if let Some((rss, limit, of)) = memory() {
            let detail = format!("{} MiB resident of {} MiB ({of}; at most {MEMORY_HIGH_PERCENT}%)", rss >> 20, limit >> 20);
            out.push(check(state, "memory", false, rss.saturating_mul(100) < limit.saturating_mul(MEMORY_HIGH_PERCENT), detail));
        }
    }
    out
}

/// The memory check fails above this share of the container's (or machine's) memory.
const MEMORY_HIGH_PERCENT: u64 = 90;

/// Resident bytes, the limit they count against, and which limit it is (Linux).
fn memory() -> Option<(u64, u64, &'static str)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let rss = pages * 4096;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(limit) = cgroup {
        return Some((rss, limit, "the container's limit"));
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((rss, kib * 1024, "the machine's memory"))
}

/// A check result, with the time it last changed state.
fn check(state: &ApiState, name: &'static str, critical: bool, ok: bool, detail: String) -> Check {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut since = state.check_since.lock();
    let entry = since.entry(name).or_insert((ok, now));
    if entry.0 != ok {
        *entry = (ok, now);
    }
    Check { name, critical, ok, since: entry.1, detail }
}
