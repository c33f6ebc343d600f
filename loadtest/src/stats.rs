//! What a load run saw, shared by its peers: handshakes, requests by kind with latencies and
//! bytes, disconnect reasons; and what the node processes spent (CPU seconds and peak RSS, read
//! from `/proc`). [`Stats::summary`] is the JSON the run prints as its last line.

use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Counters and latencies of one run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Handshakes (RLPx + Hello + Status) completed.
    pub handshakes_ok: AtomicU64,
    /// Peers that never completed a handshake, redials exhausted.
    pub handshakes_failed: AtomicU64,
    /// Dials repeated after a refused or failed attempt (a peer redialling is not a failure yet).
    pub redials: AtomicU64,
    /// Blocks downloaded and verified.
    pub blocks: AtomicU64,
    /// Sessions open now, and the most open at once.
    connected: AtomicU64,
    peak_connected: AtomicU64,
    kinds: Mutex<BTreeMap<&'static str, Kind>>,
    /// Answer payloads kept for the codec-limit measurement, when asked for.
    sample: Option<Mutex<crate::codec_limit::Sample>>,
    disconnects: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug, Default)]
struct Kind {
    ok: u64,
    failed: u64,
    bytes: u64,
    latencies_us: Vec<u32>,
}

impl Stats {
    /// Stats that also keep answer payloads (up to
    /// [`MAX_SAMPLE_BYTES`](crate::codec_limit::MAX_SAMPLE_BYTES)) to measure the frame codec's
    /// limit on the same bytes.
    pub fn sampling() -> Self {
        Self { sample: Some(Mutex::default()), ..Self::default() }
    }

    /// Keeps `payload` for the codec-limit measurement, when sampling.
    pub fn keep(&self, payload: &bytes::Bytes) {
        if let Some(sample) = &self.sample {
            sample.lock().keep(payload);
        }
    }

    /// Payload bytes per second the frame codec alone moves for the kept answers (one core),
    /// and the bytes measured; `None` when not sampling or nothing was kept.
    pub async fn codec_limit(&self) -> Option<(f64, usize)> {
        let sample = std::mem::take(&mut *self.sample.as_ref()?.lock());
        let rate = crate::codec_limit::codec_rate(&sample).await?;
        Some((rate, sample.bytes()))
    }
    /// A request of `kind` answered with `bytes` of message payload after `took`.
    pub fn answered(&self, kind: &'static str, bytes: usize, took: Duration) {
        let mut kinds = self.kinds.lock();
        let k = kinds.entry(kind).or_default();
        k.ok += 1;
        k.bytes += bytes as u64;
        k.latencies_us.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    /// A session completed its handshake.
    pub fn session_started(&self) {
        let now = self.connected.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_connected.fetch_max(now, Ordering::Relaxed);
    }

    /// A session ended for `reason` (`expected: …` when the run ended it).
    pub fn session_ended(&self, reason: impl Into<String>) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
        self.disconnected(reason);
    }

    /// Sessions open now.
    pub fn connected(&self) -> u64 {
        self.connected.load(Ordering::Relaxed)
    }

    /// A request of `kind` that failed (timeout, disconnect, bad data).
    pub fn failed(&self, kind: &'static str) {
        self.kinds.lock().entry(kind).or_default().failed += 1;
    }

    /// A peer that ended for `reason` without a session, or whose session ended.
    pub fn disconnected(&self, reason: impl Into<String>) {
        *self.disconnects.lock().entry(reason.into()).or_default() += 1;
    }

    /// Requests answered so far, over every kind.
    pub fn requests_ok(&self) -> u64 {
        self.kinds.lock().values().map(|k| k.ok).sum()
    }

    /// Requests failed so far, over every kind.
    pub fn requests_failed(&self) -> u64 {
        self.kinds.lock().values().map(|k| k.failed).sum()
    }

    /// Payload bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.kinds.lock().values().map(|k| k.bytes).sum()
    }

    /// The summary over `elapsed`: handshakes, requests by kind (latency p50/p90/p99/max in
    /// milliseconds), disconnects by reason, blocks/s and bytes/s.
    pub fn summary(&self, elapsed: Duration) -> Value {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut requests = Map::new();
        for (kind, k) in self.kinds.lock().iter_mut() {
            k.latencies_us.sort_unstable();
            let at = |p: f64| {
                let i = ((k.latencies_us.len() as f64 - 1.0) * p).round() as usize;
                k.latencies_us.get(i).map_or(0.0, |us| f64::from(*us) / 1000.0)
            };
            requests.insert(
                (*kind).to_owned(),
                json!({
                    "ok": k.ok, "failed": k.failed, "bytes": k.bytes,
                    "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)},
                }),
            );
        }
        let blocks = self.blocks.load(Ordering::Relaxed);
        json!({
            "elapsed_s": secs,
            "handshakes": {
                "ok": self.handshakes_ok.load(Ordering::Relaxed),
                "failed": self.handshakes_failed.load(Ordering::Relaxed),
                "redials": self.redials.load(Ordering::Relaxed),
            },
            "requests": requests,
            "disconnects": *self.disconnects.lock(),
            "peak_connected": self.peak_connected.load(Ordering::Relaxed),
            "blocks": blocks,
            "blocks_per_s": blocks as f64 / secs,
            "bytes_per_s": self.bytes() as f64 / secs,
        })
    }
}

/// CPU seconds (user + system) and peak resident memory of the processes `pids`, from
/// `/proc/PID/stat` and `/proc/PID/status` (`VmHWM`); `None` for a process that is gone.
pub fn process_usage(pids: &[u32]) -> Value {
    let ticks = clock_ticks();
    let per: Vec<Value> = pids
        .iter()
        .map(|pid| {
            let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|stat| {
                // Fields after the command name (which may hold spaces) in parentheses.
                let rest = &stat[stat.rfind(')')? + 2..];
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let utime: f64 = fields.get(11)?.parse().ok()?;
                let stime: f64 = fields.get(12)?.parse().ok()?;
                Some((utime + stime) / ticks)
            });
            let peak_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse::<u64>().ok());
            json!({"pid": pid, "cpu_s": cpu, "peak_rss_mb": peak_kb.map(|kb| kb as f64 / 1024.0)})
        })
        .collect();
    let cpu: f64 = per.iter().filter_map(|p| p["cpu_s"].as_f64()).sum();
    let rss: f64 = per.iter().filter_map(|p| p["peak_rss_mb"].as_f64()).sum();
    json!({"cpu_s": cpu, "peak_rss_mb": rss, "processes": per})
}

/// Clock ticks per second for `/proc` CPU times (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_ranks_latencies() {
        let stats = Stats::default();
        for ms in 1..=100 {
            stats.answered("headers", 10, Duration::from_millis(ms));
        }
        stats.failed("headers");
        stats.disconnected("TooManyPeers");
        stats.blocks.store(500, Ordering::Relaxed);
        let s = stats.summary(Duration::from_secs(2));
        assert_eq!(s["requests"]["headers"]["ok"], 100);
        assert_eq!(s["requests"]["headers"]["failed"], 1);
        assert_eq!(s["requests"]["headers"]["latency_ms"]["p50"], 51.0);
        assert_eq!(s["requests"]["headers"]["latency_ms"]["p99"], 99.0);
        assert_eq!(s["requests"]["headers"]["latency_ms"]["max"], 100.0);
        assert_eq!(s["disconnects"]["TooManyPeers"], 1);
        assert_eq!(s["blocks_per_s"], 250.0);
        assert_eq!(s["bytes_per_s"], 500.0);
    }

    #[test]
    fn usage_of_this_process_is_read_from_proc() {
        let usage = process_usage(&[std::process::id()]);
        assert!(usage["peak_rss_mb"].as_f64().is_some_and(|mb| mb > 1.0), "{usage}");
        assert!(usage["cpu_s"].as_f64().is_some_and(|s| s >= 0.0), "{usage}");
        assert_eq!(process_usage(&[u32::MAX])["processes"][0]["cpu_s"], Value::Null);
    }
}
