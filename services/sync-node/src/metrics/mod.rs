//! The Prometheus recorder and the node-level metrics; [`catalog`] lists every metric.

pub mod catalog;

use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds (every histogram but the batch size is a latency): 0.5 ms to 30 s. Exported as
/// Prometheus histograms (`_bucket` series), so `histogram_quantile` works across instances.
pub const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Buckets of `hypasis_rpc_batch_size`, in calls.
pub const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 10_000.0];

/// Why the metrics recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The exporter refused the bucket list.
    #[error("metrics buckets: {0}")]
    Buckets(#[from] metrics_exporter_prometheus::BuildError),
    /// A recorder is installed already.
    #[error("cannot install the metrics recorder: {0}")]
    Install(String),
}

/// Installs the global Prometheus recorder, describes and registers every metric of the
/// [`catalog`] at zero, and returns the handle that renders `/metrics`.
///
/// # Errors
/// [`MetricsError`] when a recorder is already installed.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full("hypasis_rpc_batch_size".into()), BATCH_SIZE_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| MetricsError::Install(e.to_string()))?;
    catalog::register();
    Ok(handle)
}

/// Publishes `hypasis_build_info` (always 1; the labels carry the information).
pub fn build_info(chain: &str) {
    gauge!("hypasis_build_info", "version" => env!("CARGO_PKG_VERSION"), "chain" => chain.to_owned()).set(1.0);
}

/// A devnet block was produced.
pub fn devnet_block() {
    counter!("hypasis_devnet_blocks_produced_total").increment(1);
}

/// A block failed verification and was not stored.
pub fn rejected_block(source: &'static str, reason: &'static str) {
    counter!("hypasis_blocks_rejected_total", "source" => source, "reason" => reason).increment(1);
}

/// An HTTP request was answered.
pub fn api_request(route: String, status: u16) {
    counter!("hypasis_api_requests_total", "route" => route, "status" => status.to_string()).increment(1);
}

/// An admin request was let through (`ok`) or refused (the reason).
pub fn admin_auth(result: &'static str) {
    counter!("hypasis_api_admin_auth_total", "result" => result).increment(1);
}
