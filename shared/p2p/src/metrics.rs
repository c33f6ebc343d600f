//! `hypasis_p2p_*` metrics. Label values come from small fixed sets, never peer ids.

use metrics::{counter, gauge, histogram};
use std::time::Duration;

/// Current peer count and its peak.
pub(crate) fn peers(count: usize, peak: usize) {
    gauge!("hypasis_p2p_peers").set(count as f64);
    gauge!("hypasis_p2p_peers_peak").set(peak as f64);
}

/// The configured limits, as `hypasis_p2p_limit{name}` (so alerts compare usage with them).
pub(crate) fn limits(config: &crate::NetworkConfig, pending_handshakes: usize) {
    for (name, value) in [
        ("max_peers", config.max_peers),
        ("admission_queue", config.admission_queue),
        ("pending_handshakes", pending_handshakes),
        ("pending_handshakes_per_ip", config.pending_handshakes_per_ip),
        ("max_peers_per_ip", config.max_peers_per_ip),
        ("ban_breaches", config.bans.breaches as usize),
        ("ban_seconds", config.bans.period.as_secs() as usize),
        ("soft_response_bytes", config.soft_response_limit),
        ("max_ingress_frame_bytes", config.max_ingress_frame),
        ("write_timeout_seconds", config.write_timeout.as_secs() as usize),
        ("snap_in_flight_per_peer", crate::snap_hook::MAX_SNAP_IN_FLIGHT_PER_PEER),
    ] {
        gauge!("hypasis_p2p_limit", "name" => name).set(value as f64);
    }
}

/// A handshake finished with `result` (`ok` or an error kind).
pub(crate) fn handshake(result: &'static str) {
    counter!("hypasis_p2p_handshakes_total", "result" => result).increment(1);
}

/// A connection was turned away (`handshakes_full`, `handshakes_per_ip`, `banned`, `peers_per_ip`,
/// `queue_full`, `full`, `operator_peers`).
pub(crate) fn rejected(reason: &'static str) {
    counter!("hypasis_p2p_admission_rejected_total", "reason" => reason).increment(1);
}

/// A message went in or out.
pub(crate) fn message(kind: &'static str, direction: &'static str, bytes: usize) {
    counter!("hypasis_p2p_messages_total", "kind" => kind, "direction" => direction).increment(1);
    counter!("hypasis_p2p_bytes_total", "kind" => kind, "direction" => direction).increment(bytes as u64);
}

/// Time to answer a request.
pub(crate) fn serve_latency(kind: &'static str, took: Duration) {
    histogram!("hypasis_p2p_serve_seconds", "kind" => kind).record(took.as_secs_f64());
}

/// A session ended for `reason`.
pub(crate) fn session_end(reason: &'static str) {
    counter!("hypasis_p2p_sessions_ended_total", "reason" => reason).increment(1);
}

/// A store read failed while serving a request (answered empty).
pub(crate) fn store_error() {
    metrics::counter!("hypasis_p2p_store_errors_total").increment(1);
}
