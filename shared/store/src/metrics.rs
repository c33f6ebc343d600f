//! Store metrics, registered under `hypasis_store_`.

use metrics::{Counter, Gauge, counter, gauge};

/// Handles to the store's metrics.
#[derive(Debug, Clone)]
pub(crate) struct StoreMetrics {
    pub(crate) blocks: Gauge,
    pub(crate) bytes: Gauge,
    pub(crate) evictions: Counter,
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
    pub(crate) stale_heads: Counter,
    /// Block numbers newly covered by the held ranges (a re-insert does not count).
    pub(crate) blocks_added: Counter,
}

impl StoreMetrics {
    pub(crate) fn new(backend: &'static str) -> Self {
        Self {
            blocks: gauge!("hypasis_store_blocks", "backend" => backend),
            bytes: gauge!("hypasis_store_bytes", "backend" => backend),
            evictions: counter!("hypasis_store_evictions_total", "backend" => backend),
            hits: counter!("hypasis_store_reads_total", "backend" => backend, "result" => "hit"),
            misses: counter!("hypasis_store_reads_total", "backend" => backend, "result" => "miss"),
            stale_heads: counter!("hypasis_store_stale_head_updates_total", "backend" => backend),
            blocks_added: counter!("hypasis_store_blocks_added_total", "backend" => backend),
        }
    }
}
