//! Every metric the node exports, with its type and help text (docs/ARCHITECTURE.md "Metrics"
//! lists the same names with their labels). [`register`] describes each to the recorder and
//! registers it at zero at start, so dashboards and alerts see every series before the first
//! event. Series with labels appear once their label values are known (per upstream at pool
//! creation, per reason on the first event); the unlabeled zero series keeps the name visible.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic count (`_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution, exported with `_bucket` series.
    Histogram,
}

use Kind::{Counter, Gauge, Histogram};

/// Name, type and help of every metric.
pub const METRICS: &[(&str, Kind, &str)] = &[
    ("hypasis_build_info", Gauge, "Always 1; the labels carry the version and chain"),
    ("hypasis_chain_head_block", Gauge, "Number of the head block served"),
    ("hypasis_process_open_files_limit", Gauge, "Open files this process may hold (RLIMIT_NOFILE, raised to the hard limit at start)"),
    ("hypasis_devnet_blocks_produced_total", Counter, "Blocks produced by the embedded devnet"),
    ("hypasis_blocks_rejected_total", Counter, "Blocks that failed verification and were not stored, by source and reason"),
    (
        "hypasis_blocks_seal_checked_total",
        Counter,
        "Blocks whose Bor seal passed the snapshot rules (signer, difficulty, timing, validator list)",
    ),
    ("hypasis_store_blocks", Gauge, "Blocks held by the store"),
    ("hypasis_store_bytes", Gauge, "Bytes held by the store (RLP of headers, bodies, receipts)"),
    ("hypasis_store_reads_total", Counter, "Store reads by result (hit or miss)"),
    ("hypasis_store_evictions_total", Counter, "Blocks evicted from a bounded store"),
    ("hypasis_store_stale_head_updates_total", Counter, "Head updates refused because the stored head was higher"),
    ("hypasis_store_fenced_writes_total", Counter, "Head writes refused for a stale fencing token"),
    ("hypasis_store_tier_fallbacks_total", Counter, "Operations answered by the hot tier while Redis failed, by op"),
    ("hypasis_store_tier_backlog_blocks", Gauge, "Blocks waiting to be written to Redis after an outage"),
    ("hypasis_store_tier_backlog_dropped_total", Counter, "Backlog blocks dropped because the backlog was full"),
    ("hypasis_store_blocks_added_total", Counter, "Block numbers newly covered by the gap tracker"),
    ("hypasis_store_tier_reads_total", Counter, "Blocks answered from each tier (memory, redis, segment_cache, object_store)"),
    ("hypasis_history_segments", Gauge, "Sealed history segments in the manifest"),
    ("hypasis_history_sealed_through", Gauge, "Last block of the highest sealed segment"),
    ("hypasis_history_segments_sealed_total", Counter, "History segments this instance sealed"),
    ("hypasis_history_sealed_bytes_total", Counter, "Bytes of history segments this instance sealed"),
    ("hypasis_history_trimmed_blocks_total", Counter, "Sealed blocks dropped from Redis or memory below the hot window"),
    ("hypasis_history_seal_errors_total", Counter, "Failed manifest reloads and sealing passes, by stage"),
    ("hypasis_history_downloads_total", Counter, "Whole-segment downloads into the local cache, by result (ok, corrupt, error)"),
    ("hypasis_history_download_bytes_total", Counter, "Bytes of segments downloaded into the local cache"),
    ("hypasis_history_bucket_read_bytes_total", Counter, "Bytes of ranged segment reads from the bucket"),
    ("hypasis_history_bucket_errors_total", Counter, "Failed reads of the history bucket"),
    ("hypasis_history_corrupt_total", Counter, "Segment data that failed verification and was not served, by where (local, bucket)"),
    ("hypasis_history_cache_bytes", Gauge, "Bytes of segments in the local cache"),
    ("hypasis_history_cache_segments", Gauge, "Segments in the local cache"),
    ("hypasis_history_cache_evictions_total", Counter, "Segments deleted from the local cache to stay under its limit"),
    ("hypasis_api_requests_total", Counter, "REST API requests by route and status"),
    ("hypasis_api_admin_auth_total", Counter, "Admin endpoint requests by result (ok, missing, invalid, expired, wrong_role, off)"),
    ("hypasis_rpc_requests_total", Counter, "JSON-RPC calls by method (unserved methods as other) and result"),
    ("hypasis_rpc_request_seconds", Histogram, "Time to answer a JSON-RPC call, by method"),
    ("hypasis_rpc_batch_size", Histogram, "Calls per JSON-RPC batch"),
    ("hypasis_rpc_batches_refused_total", Counter, "JSON-RPC batches refused for having more calls than the batch limit"),
    ("hypasis_rpc_response_bytes_total", Counter, "Bytes of JSON-RPC answers (before gzip)"),
    ("hypasis_rpc_limit", Gauge, "Configured JSON-RPC limits, by name (batch_limit, response_max_bytes, body_max_bytes)"),
    ("hypasis_rpc_render_cache_total", Counter, "Rendered-answer cache lookups by result (hit or miss)"),
    ("hypasis_rpc_read_through_total", Counter, "Cache misses fetched from upstream, by result"),
    ("hypasis_rpc_read_through_joined_total", Counter, "Cache misses answered by a fetch already in flight (upstream calls saved)"),
    ("hypasis_rpc_read_through_blocks_total", Counter, "Verified blocks stored by read-through"),
    (
        "hypasis_limits_requests_total",
        Counter,
        "Requests checked against fair-use budgets, by operator (registered names, else anonymous), protocol and result",
    ),
    ("hypasis_limits_p2p_disconnects_total", Counter, "devp2p peers disconnected for flooding past their budget"),
    ("hypasis_limits_reloads_total", Counter, "Operators files loaded on SIGHUP"),
    ("hypasis_limits_reload_errors_total", Counter, "Operators files refused on SIGHUP (the previous one stays)"),
    ("hypasis_limits_share_members", Gauge, "Live instances each quota is split among"),
    ("hypasis_limits_bytes_delayed_total", Counter, "devp2p answers delayed for the operator's bytes budget, by operator"),
    ("hypasis_limits_peers_refused_total", Counter, "devp2p peers refused (TooManyPeers) for the operator's max_peers, by operator"),
    ("hypasis_limits_registry_version", Gauge, "Version of the shared operators registry in force"),
    ("hypasis_limits_anonymous_clients", Gauge, "Anonymous client addresses with a partly used bucket"),
    (
        "hypasis_component_restarts_total",
        Counter,
        "Components restarted after they stopped or panicked, and Redis reconnects, by component",
    ),
    ("hypasis_p2p_bans_total", Counter, "Addresses banned for repeated devp2p protocol breaches"),
    ("hypasis_p2p_bans_untracked_total", Counter, "Protocol breaches not counted because the offender list was full"),
    ("hypasis_cluster_lease_released_heard_total", Counter, "Lease releases by another instance heard (an election round at once)"),
    (
        "hypasis_p2p_write_timeouts_total",
        Counter,
        "devp2p sessions ended because the peer read nothing of our writes for the write timeout",
    ),
    ("hypasis_http_connections", Gauge, "Open connections on the REST API and JSON-RPC ports, by listener"),
    (
        "hypasis_http_limit",
        Gauge,
        "HTTP listener limits, by listener and name (max_connections, max_connections_per_ip, idle_timeout_seconds)",
    ),
    ("hypasis_http_refused_total", Counter, "HTTP connections closed at accept, by listener and reason (max_connections, per_ip)"),
    ("hypasis_http_idle_closed_total", Counter, "HTTP connections closed for sitting idle past the idle timeout, by listener"),
    ("hypasis_http_accept_errors_total", Counter, "HTTP accept errors (out of file descriptors, most likely), by listener"),
    ("hypasis_tls_reloads_total", Counter, "TLS certificate reloads on SIGHUP, by result (ok, error: the old one stays)"),
    ("hypasis_tls_handshake_failures_total", Counter, "HTTPS handshakes that failed, by listener (api, rpc) and reason (error, timeout)"),
    ("hypasis_p2p_peers", Gauge, "Connected devp2p peers"),
    ("hypasis_p2p_peers_peak", Gauge, "Most devp2p peers connected at once since start"),
    (
        "hypasis_p2p_limit",
        Gauge,
        "Configured devp2p limits, by name (max_peers, admission_queue, pending_handshakes, soft_response_bytes, max_ingress_frame_bytes)",
    ),
    ("hypasis_p2p_handshakes_total", Counter, "devp2p handshakes by result"),
    (
        "hypasis_snap_requests_total",
        Counter,
        "snap/1 requests answered, by kind and result (served, unserved: no backend had a verified answer, unknown_root: not a recent verified state root)",
    ),
    (
        "hypasis_snap_backend_requests_total",
        Counter,
        "Requests to state backends, by backend, kind and result (ok, no_data, bad_answer, failed)",
    ),
    (
        "hypasis_snap_cache_total",
        Counter,
        "snap/1 answer cache lookups, by tier (memory, shared, in_flight) and result (hit: a backend call saved, miss)",
    ),
    ("hypasis_snap_bytes_served_total", Counter, "Bytes of snap/1 answers sent to peers"),
    (
        "hypasis_snap_backends_healthy",
        Gauge,
        "State backends with a working session and not benched (snap/1 is offered while this is above 0)",
    ),
    ("hypasis_snap_backends_configured", Gauge, "State backends configured (`--state-backend`); 0: snap/1 is off"),
    ("hypasis_snap_backend_up", Gauge, "Whether a state backend's last health check got a working session (1) or not (0), by backend"),
    (
        "hypasis_snap_shared_errors_total",
        Counter,
        "Failed reads and writes of shared snap/1 answers in Redis, by op (get, put, claim, malformed: an entry that is not an answer, not served)",
    ),
    (
        "hypasis_snap_limit",
        Gauge,
        "snap/1 limits, by name (answer_cache_bytes, node_cache_bytes, soft_response_bytes, recent_states, max_code_lookups, max_trie_node_paths, max_storage_accounts, bad_backend_penalty_seconds, health_interval_seconds, attempt_deadline_seconds, shared_answer_ttl_seconds)",
    ),
    (
        "hypasis_proxy_protocol_accepted_total",
        Counter,
        "Connections whose PROXY header from a trusted load balancer named the client, by listener",
    ),
    (
        "hypasis_proxy_protocol_rejected_total",
        Counter,
        "Connections closed over their PROXY header (untrusted sender, malformed, timeout), by listener and reason",
    ),
    ("hypasis_p2p_admission_rejected_total", Counter, "Connections refused by admission control, by reason"),
    ("hypasis_p2p_messages_total", Counter, "devp2p messages by kind and direction"),
    ("hypasis_p2p_bytes_total", Counter, "devp2p payload bytes by kind and direction"),
    ("hypasis_p2p_serve_seconds", Histogram, "Time to answer a devp2p request, by kind"),
    ("hypasis_p2p_sessions_ended_total", Counter, "devp2p sessions ended, by reason"),
    ("hypasis_p2p_store_errors_total", Counter, "Store reads that failed while serving a peer (answered empty)"),
    ("hypasis_discv4_packets_total", Counter, "discv4 packets by direction and type"),
    ("hypasis_discv4_dropped_total", Counter, "discv4 packets dropped, by reason"),
    ("hypasis_discv4_rate_limited_total", Counter, "discv4 packets left unanswered for their address's answer budget, by type"),
    ("hypasis_cluster_is_leader", Gauge, "1 while this instance holds the leader lease"),
    ("hypasis_cluster_leadership_changes_total", Counter, "Times this instance gained or lost the lease"),
    ("hypasis_cluster_members", Gauge, "Live cluster members seen by this instance"),
    ("hypasis_cluster_events_published_total", Counter, "Cluster events published"),
    ("hypasis_cluster_events_received_total", Counter, "Cluster events received"),
    ("hypasis_cluster_events_malformed_total", Counter, "Cluster events that could not be decoded"),
    ("hypasis_cluster_events_lagged_total", Counter, "Cluster events missed by a slow subscriber"),
    ("hypasis_upstream_request_seconds", Histogram, "Upstream call latency, by upstream"),
    ("hypasis_upstream_errors_total", Counter, "Upstream calls that failed, by upstream"),
    ("hypasis_upstream_bans_total", Counter, "Upstreams banned for wrong data, by upstream"),
    ("hypasis_upstream_breaker_opened_total", Counter, "Times an upstream's circuit breaker opened"),
    ("hypasis_upstream_budget_exhausted_total", Counter, "Calls that found an upstream's rate budget used up"),
    ("hypasis_upstream_blocks_fetched_total", Counter, "Verified blocks fetched, by upstream"),
    ("hypasis_upstream_banned", Gauge, "1 while an upstream is banned"),
    ("hypasis_upstream_budget_wait_seconds", Histogram, "Time waited for an upstream's rate budget"),
    ("hypasis_upstream_hedged_total", Counter, "Calls also sent to a second upstream because the first was slow"),
    ("hypasis_upstream_batch_limit", Gauge, "Calls per JSON-RPC batch request sent to an upstream now"),
    ("hypasis_upstream_batch_shrunk_total", Counter, "Times an upstream's batch limit was lowered, by reason"),
    ("hypasis_upstream_throttled_total", Counter, "Rate-limit answers (HTTP 429, JSON-RPC -32005) from an upstream"),
    ("hypasis_upstream_capability", Gauge, "1 when an upstream offers a method group, 0 when it lacks it"),
    ("hypasis_sync_upstream_head_block", Gauge, "The best upstream's head block"),
    ("hypasis_sync_blocks_stored_total", Counter, "Blocks stored by forward sync"),
    ("hypasis_sync_backfilled_blocks_total", Counter, "Blocks stored by backward sync"),
    ("hypasis_sync_reorgs_total", Counter, "Reorgs followed by forward sync"),
    ("hypasis_sync_forward_errors_total", Counter, "Forward sync steps that failed"),
    ("hypasis_sync_backward_errors_total", Counter, "Backward sync batches that failed"),
    ("hypasis_checkpoint_latest", Gauge, "Number of the latest checkpoint read from L1"),
    ("hypasis_checkpoint_verified_total", Counter, "Checkpoints whose range verified against its root"),
    ("hypasis_checkpoint_mismatches_total", Counter, "Checkpoints whose range did not verify (range evicted)"),
    ("hypasis_milestone_latest_block", Gauge, "End block of the latest Heimdall milestone"),
    ("hypasis_milestone_conflict", Gauge, "1 while the latest milestone contradicts the stored chain"),
    ("hypasis_milestone_conflicts_total", Counter, "Milestones that contradicted the stored chain"),
    ("hypasis_milestone_blocks_fetched_total", Counter, "Milestone and checkpoint end blocks fetched out of order"),
];

/// Labelled counter series registered at zero too, because an alert or a dashboard query selects
/// them by label value (a selector matching nothing would read as "no data", not as zero).
const SELECTED_SERIES: &[(&str, &str, &str)] = &[
    ("hypasis_history_seal_errors_total", "stage", "seal"),
    ("hypasis_history_seal_errors_total", "stage", "refresh"),
    ("hypasis_rpc_render_cache_total", "result", "hit"),
    ("hypasis_rpc_render_cache_total", "result", "miss"),
    ("hypasis_snap_backend_requests_total", "result", "bad_answer"),
    ("hypasis_snap_cache_total", "result", "hit"),
    ("hypasis_snap_requests_total", "result", "served"),
    ("hypasis_snap_requests_total", "result", "unserved"),
];

/// Describes every metric and registers it at zero (`hypasis_build_info` is set by the node).
pub fn register() {
    for &(name, label, value) in SELECTED_SERIES {
        counter!(name, label => value).absolute(0);
    }
    for &(name, kind, help) in METRICS {
        match kind {
            Counter => {
                describe_counter!(name, help);
                counter!(name).absolute(0);
            }
            Gauge => {
                describe_gauge!(name, help);
                if name != "hypasis_build_info" {
                    gauge!(name).set(0.0);
                }
            }
            Histogram => {
                let unit = if name.ends_with("_seconds") { metrics::Unit::Seconds } else { metrics::Unit::Count };
                describe_histogram!(name, unit, help);
                let _ = histogram!(name);
            }
        }
    }
}
