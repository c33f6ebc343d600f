//! Every setting, declared once: its name (the YAML key), flag, environment variable, help and
//! default. The command line ([`super::cli`]), the config file ([`super::file`]), `--help`, the
//! error messages and the docs table (checked by a test) all come from [`KEYS`]; the default is
//! the constant of the library that uses the value.

use hypasis_cluster::service::{DEFAULT_HEARTBEAT, DEFAULT_LEADER_LEASE, DEFAULT_MEMBER_TTL};
use hypasis_store::MemoryStoreLimits;

/// Where a setting's default comes from.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    /// No value unless given.
    None,
    /// This text, checked like a given value.
    Text(fn() -> String),
    /// Worked out at start (described here).
    Derived(&'static str),
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Setting name: the YAML key (a nested YAML section `a: {b: …}` is the key `a_b`).
    pub name: &'static str,
    /// Long flag without the dashes.
    pub flag: &'static str,
    /// Environment variable, if any.
    pub env: Option<&'static str>,
    /// Placeholder in `--help`.
    pub value_name: &'static str,
    /// One-line help.
    pub help: &'static str,
    /// Default.
    pub default: Default,
    /// A list (the flag repeats; YAML takes a list).
    pub list: bool,
    /// Hidden in `--help` output and logs.
    pub secret: bool,
}

impl Key {
    /// Where a value for this key given on the command line or in the environment came from.
    pub fn origin(&self) -> String {
        match self.env {
            Some(env) => format!("--{} / {env}", self.flag),
            None => format!("--{}", self.flag),
        }
    }

    /// The default as `--help` shows it.
    pub fn default_text(&self) -> Option<String> {
        match self.default {
            Default::None => None,
            Default::Text(text) => Some(text()),
            Default::Derived(what) => Some(what.to_owned()),
        }
    }
}

const fn key(
    name: &'static str,
    flag: &'static str,
    env: &'static str,
    value_name: &'static str,
    help: &'static str,
    default: Default,
) -> Key {
    Key { name, flag, env: Some(env), value_name, help, default, list: false, secret: false }
}

const fn secret(mut key: Key) -> Key {
    key.secret = true;
    key
}

/// Every setting, in `--help` order.
pub const KEYS: &[Key] = &[
    key(
        "instance_id",
        "instance-id",
        "INSTANCE_ID",
        "ID",
        "Name of this instance in the cluster",
        Default::Derived("$HOSTNAME, else hypasis-local"),
    ),
    key(
        "chain",
        "chain",
        "CHAIN",
        "CHAIN",
        "Chain: devnet, polygon-mainnet, polygon-amoy, or a path to a geth-style genesis JSON",
        Default::Text(|| "devnet".into()),
    ),
    key(
        "bind",
        "bind",
        "BIND_ADDR",
        "IP",
        "Address the HTTP endpoints (REST API, JSON-RPC) and devp2p listen on",
        Default::Text(|| "127.0.0.1".into()),
    ),
    key("api_port", "api-port", "API_PORT", "PORT", "REST API port; 0 picks a free port", Default::Text(|| "8080".into())),
    key(
        "rpc_port",
        "rpc-port",
        "RPC_PORT",
        "PORT",
        "JSON-RPC port (Bor-compatible answers from the verified cache); 0 picks a free port",
        Default::Text(|| "8545".into()),
    ),
    key(
        "rpc_batch_limit",
        "rpc-batch-limit",
        "RPC_BATCH_LIMIT",
        "N",
        "Most requests in one JSON-RPC batch (as geth's --rpc.batch-request-limit)",
        Default::Text(|| hypasis_rpc::server::DEFAULT_BATCH_LIMIT.to_string()),
    ),
    key(
        "rpc_response_max_bytes",
        "rpc-response-max-bytes",
        "RPC_RESPONSE_MAX_BYTES",
        "BYTES",
        "Most bytes answered to one JSON-RPC body; later answers of a batch get -32003 (as geth's --rpc.batch-response-max-size)",
        Default::Text(|| hypasis_rpc::server::DEFAULT_RESPONSE_MAX_BYTES.to_string()),
    ),
    key(
        "rpc_body_max_bytes",
        "rpc-body-max-bytes",
        "RPC_BODY_MAX_BYTES",
        "BYTES",
        "Largest JSON-RPC request body; larger ones get HTTP 413",
        Default::Text(|| hypasis_rpc::server::DEFAULT_BODY_MAX_BYTES.to_string()),
    ),
    key(
        "rpc_cors_origins",
        "rpc-cors-origins",
        "RPC_CORS_ORIGINS",
        "ORIGINS",
        "Origins browsers may call the JSON-RPC from (comma-separated, * for any); none = no CORS headers",
        Default::None,
    ),
    key(
        "rpc_cache_mb",
        "rpc-cache-mb",
        "RPC_CACHE_MB",
        "MB",
        "Megabytes of rendered JSON-RPC answers kept in memory",
        Default::Text(|| (hypasis_rpc::blocks::DEFAULT_CACHE_BYTES >> 20).to_string()),
    ),
    key(
        "rpc_read_through_max_blocks",
        "rpc-read-through-max-blocks",
        "RPC_READ_THROUGH_MAX_BLOCKS",
        "BLOCKS",
        "Most blocks fetched from upstream to answer one JSON-RPC cache miss (0-8192; 0 = misses answer null)",
        Default::Text(|| hypasis_syncer::read_through::DEFAULT_MAX_BLOCKS.to_string()),
    ),
    key(
        "p2p_port",
        "p2p-port",
        "P2P_PORT",
        "PORT",
        "devp2p port, TCP (RLPx) and UDP (discv4); 0 picks a free port",
        Default::Text(|| "30303".into()),
    ),
    key(
        "redis_url",
        "redis-url",
        "REDIS_URL",
        "URL",
        "Redis for the shared cluster cache: redis://, rediss:// (TLS), redis-cluster://host:port?node=host:port, redis-sentinel://; absent = in-memory cache, alone",
        Default::None,
    ),
    secret(key(
        "redis_password",
        "redis-password",
        "REDIS_PASSWORD",
        "PASSWORD",
        "Redis password (overrides one in the URL)",
        Default::None,
    )),
    key(
        "redis_pool_size",
        "redis-pool-size",
        "REDIS_POOL_SIZE",
        "N",
        "Connections in the Redis store's pool (1-256)",
        Default::Text(|| "8".into()),
    ),
    key(
        "redis_start_timeout",
        "redis-start-timeout",
        "REDIS_START_TIMEOUT",
        "SECONDS",
        "How long to keep trying Redis at start (it may start after us) before exiting",
        Default::Text(|| "30".into()),
    ),
    key(
        "redis_tls_ca_file",
        "redis-tls-ca-file",
        "REDIS_TLS_CA_FILE",
        "FILE",
        "PEM file of CA certificates to trust for Redis TLS (rediss://) instead of the system store",
        Default::None,
    ),
    Key {
        name: "upstreams",
        flag: "upstream",
        env: None,
        value_name: "URL",
        help: "Upstream Polygon JSON-RPC endpoint; repeat for failover (also POLYGON_RPC_1 … POLYGON_RPC_9)",
        default: Default::None,
        list: true,
        secret: false,
    },
    key(
        "eth_l1_rpc_url",
        "eth-l1-rpc-url",
        "ETH_L1_RPC_URL",
        "URL",
        "Ethereum L1 JSON-RPC endpoint, for checkpoints from the RootChain contract",
        Default::None,
    ),
    key(
        "heimdall_url",
        "heimdall-url",
        "HEIMDALL_URL",
        "URL",
        "Heimdall REST API, for milestones, checkpoints and spans (e.g. https://heimdall-api.polygon.technology)",
        Default::None,
    ),
    Key {
        name: "bor_validators",
        flag: "bor-validators",
        env: Some("BOR_VALIDATORS"),
        value_name: "ADDRESS:POWER",
        help: "First validator set of a genesis-file Bor chain (comma-separated or repeated), instead of calling its genesis validator contract; the anchor of the seal checks",
        default: Default::None,
        list: true,
        secret: false,
    },
    key(
        "upstream_rps",
        "upstream-rps",
        "UPSTREAM_RPS",
        "CALLS",
        "Budget of each upstream endpoint in calls per second (a block costs 2-3 calls)",
        Default::Text(|| hypasis_upstream::DEFAULT_REQUESTS_PER_SECOND.to_string()),
    ),
    key(
        "upstream_max_batch",
        "upstream-max-batch",
        "UPSTREAM_MAX_BATCH",
        "CALLS",
        "Most calls in one JSON-RPC batch to an upstream; lowered per upstream when it refuses batches that large (Bor's --rpc.batchlimit)",
        Default::Text(|| hypasis_upstream::DEFAULT_MAX_BATCH.to_string()),
    ),
    key(
        "retention_floor",
        "retention-floor",
        "RETENTION_FLOOR",
        "BLOCK",
        "Lowest block backward sync fills down to (0 = genesis)",
        Default::Text(|| "0".into()),
    ),
    key(
        "backfill_workers",
        "backfill-workers",
        "BACKFILL_WORKERS",
        "N",
        "Backward sync workers per instance (1-64)",
        Default::Text(|| hypasis_syncer::backward::DEFAULT_WORKERS.to_string()),
    ),
    key(
        "backfill_rate",
        "backfill-rate",
        "BACKFILL_RATE",
        "BLOCKS",
        "Most blocks per second backward sync fetches on this instance",
        Default::Text(|| hypasis_syncer::backward::DEFAULT_BLOCKS_PER_SECOND.to_string()),
    ),
    key(
        "import",
        "import",
        "IMPORT",
        "PATH",
        "Blocks to serve (with --chain <genesis.json>): a chain.rlp file as `geth import` reads, or sealed history segments (a .e2s file or a folder of them, receipts included)",
        Default::None,
    ),
    key(
        "devnet_block_time",
        "devnet-block-time",
        "DEVNET_BLOCK_TIME",
        "SECONDS",
        "Seconds between devnet blocks (1-3600)",
        Default::Text(|| hypasis_devnet::DevnetConfig::default().block_time.to_string()),
    ),
    key(
        "devnet_seed",
        "devnet-seed",
        "DEVNET_SEED",
        "N",
        "Devnet seed; same seed, same chain",
        Default::Text(|| hypasis_devnet::DevnetConfig::default().seed.to_string()),
    ),
    key(
        "devnet_txs_per_block",
        "devnet-txs-per-block",
        "DEVNET_TXS_PER_BLOCK",
        "N",
        "Devnet transactions per block shaped like Polygon mainnet's (0-300; 150 makes ~115 KB bodies); 0: small blocks of 2-5 transfers",
        Default::Text(|| "0".into()),
    ),
    key(
        "devnet_prefill",
        "devnet-prefill",
        "DEVNET_PREFILL",
        "BLOCKS",
        "Devnet blocks generated at start-up, before the clock-driven ones",
        Default::Text(|| "0".into()),
    ),
    key(
        "cache_max_blocks",
        "cache-max-blocks",
        "CACHE_MAX_BLOCKS",
        "BLOCKS",
        "Most blocks the in-memory cache holds",
        Default::Text(|| MemoryStoreLimits::default().max_blocks.to_string()),
    ),
    key(
        "cache_max_mb",
        "cache-max-mb",
        "CACHE_MAX_MB",
        "MB",
        "Most megabytes the in-memory cache holds",
        Default::Text(|| (MemoryStoreLimits::default().max_bytes >> 20).to_string()),
    ),
    key(
        "history_url",
        "history-url",
        "HISTORY_URL",
        "URL",
        "Object store of sealed history segments: s3://bucket/prefix (credentials and endpoint from AWS_* or the instance role), file:///dir or a local path, or off",
        Default::Derived("data/history when alone; off with Redis"),
    ),
    key(
        "history_cache_dir",
        "history-cache-dir",
        "HISTORY_CACHE_DIR",
        "DIR",
        "Folder of this instance's local cache of history segments",
        Default::Text(|| "data/history-cache".into()),
    ),
    key(
        "history_cache_mb",
        "history-cache-mb",
        "HISTORY_CACHE_MB",
        "MB",
        "Most megabytes of history segments cached on local disk (0: read every block from the bucket)",
        Default::Text(|| (hypasis_history::cache::DEFAULT_CACHE_BYTES >> 20).to_string()),
    ),
    key(
        "history_segment_blocks",
        "history-segment-blocks",
        "HISTORY_SEGMENT_BLOCKS",
        "BLOCKS",
        "Blocks per sealed history segment (must match the segments already in the bucket)",
        Default::Text(|| hypasis_history::sealer::DEFAULT_SEGMENT_BLOCKS.to_string()),
    ),
    key(
        "history_hot_window",
        "history-hot-window",
        "HISTORY_HOT_WINDOW",
        "BLOCKS",
        "Blocks below the head kept in Redis (or memory) once sealed; older sealed blocks are read from the segments",
        Default::Text(|| hypasis_history::sealer::DEFAULT_HOT_WINDOW.to_string()),
    ),
    key(
        "node_key_file",
        "node-key-file",
        "NODE_KEY_FILE",
        "FILE",
        "This instance's devp2p key file; created (mode 0600) when absent",
        Default::Text(|| "data/node.key".into()),
    ),
    key(
        "cluster_key_file",
        "cluster-key-file",
        "CLUSTER_KEY_FILE",
        "FILE",
        "The cluster's shared devp2p key file (the same on every instance behind the load balancer)",
        Default::None,
    ),
    key(
        "public_host",
        "public-host",
        "PUBLIC_HOST",
        "HOST",
        "Host name or IP advertised in enode URLs and the ENR; a name is resolved at start to its first IPv4 address",
        Default::Derived("the --bind address"),
    ),
    key(
        "public_port",
        "public-port",
        "PUBLIC_PORT",
        "PORT",
        "TCP and UDP port advertised in enode URLs and the ENR, when a load balancer's differs from the --p2p-port listened on",
        Default::Derived("the listened port"),
    ),
    key(
        "bootnodes",
        "bootnodes",
        "BOOTNODES",
        "ENODES",
        "discv4 nodes to bond with at start (comma-separated enode URLs with IP addresses; ?discport= for another UDP port)",
        Default::None,
    ),
    key(
        "max_peers",
        "max-peers",
        "MAX_PEERS",
        "N",
        "Most devp2p peers at once",
        Default::Text(|| hypasis_p2p::config::DEFAULT_MAX_PEERS.to_string()),
    ),
    key(
        "p2p_handshakes_per_ip",
        "p2p-handshakes-per-ip",
        "P2P_HANDSHAKES_PER_IP",
        "N",
        "Most devp2p handshakes in flight from one IP address (raise it for load tests from one host)",
        Default::Text(|| hypasis_p2p::config::DEFAULT_PENDING_HANDSHAKES_PER_IP.to_string()),
    ),
    key(
        "p2p_peers_per_ip",
        "p2p-peers-per-ip",
        "P2P_PEERS_PER_IP",
        "N",
        "Most devp2p peers connected from one IP address, whatever their node keys (trusted peers not counted; behind a load balancer, the address its PROXY header names)",
        Default::Text(|| hypasis_p2p::config::DEFAULT_MAX_PEERS_PER_IP.to_string()),
    ),
    key(
        "p2p_ban_breaches",
        "p2p-ban-breaches",
        "P2P_BAN_BREACHES",
        "N",
        "Protocol breaches (malformed or oversized messages, bad MACs) from one IP address within --p2p-ban-seconds that ban it for that long; 0: never ban",
        Default::Text(|| hypasis_p2p::config::DEFAULT_BAN_BREACHES.to_string()),
    ),
    key(
        "p2p_ban_seconds",
        "p2p-ban-seconds",
        "P2P_BAN_SECONDS",
        "SECONDS",
        "How long a ban lasts, and the window its breaches are counted in",
        Default::Text(|| hypasis_p2p::config::DEFAULT_BAN_PERIOD.as_secs().to_string()),
    ),
    key(
        "p2p_write_timeout",
        "p2p-write-timeout",
        "P2P_WRITE_TIMEOUT",
        "SECONDS",
        "A devp2p peer that reads nothing of our answers for this long is dropped",
        Default::Text(|| hypasis_p2p::config::DEFAULT_WRITE_TIMEOUT.as_secs().to_string()),
    ),
    key(
        "operators_file",
        "operators-file",
        "OPERATORS_FILE",
        "FILE",
        "Operators and their request budgets (YAML, see docs/OPERATORS.md); reloaded on SIGHUP. Without it no per-client limits apply",
        Default::None,
    ),
    key(
        "p2p_flood_wait",
        "p2p-flood-wait",
        "P2P_FLOOD_WAIT",
        "SECONDS",
        "Longest a devp2p peer over its operator's budget is delayed without a break; a peer still asking after that is flooding and is disconnected (UselessPeer)",
        Default::Text(|| "5".into()),
    ),
    key(
        "proxy_protocol_from",
        "proxy-protocol-from",
        "PROXY_PROTOCOL_FROM",
        "CIDRS",
        "Load balancers (comma-separated addresses or CIDRs) whose PROXY protocol v1/v2 headers name the real client on the devp2p, REST API and JSON-RPC listeners; a PROXY header from anyone else is refused",
        Default::None,
    ),
    Key {
        name: "state_backends",
        flag: "state-backend",
        env: Some("STATE_BACKENDS"),
        value_name: "ENODES",
        help: "Full nodes (geth or Bor, serving snap/1) whose state is served to snap-syncing peers, every answer proof-checked (repeat, or comma-separated enode URLs). snap/1 is offered only while one is healthy",
        default: Default::None,
        list: true,
        secret: false,
    },
    key(
        "snap_sessions_per_backend",
        "snap-sessions-per-backend",
        "SNAP_SESSIONS_PER_BACKEND",
        "N",
        "Sessions kept open to each state backend (requests are multiplexed on them)",
        Default::Text(|| hypasis_snap::pool::DEFAULT_SESSIONS_PER_BACKEND.to_string()),
    ),
    key(
        "snap_cache_mb",
        "snap-cache-mb",
        "SNAP_CACHE_MB",
        "MIB",
        "Memory for verified snap/1 answers (state under a root never changes, so a popular pivot is read from the backends once)",
        Default::Text(|| (hypasis_snap::service::DEFAULT_ANSWER_CACHE_BYTES >> 20).to_string()),
    ),
    key(
        "trusted_peers",
        "trusted-peers",
        "TRUSTED_PEERS",
        "ENODES",
        "Peers always admitted (comma-separated enode URLs or node ids), e.g. your own Bor nodes",
        Default::None,
    ),
    key(
        "http_max_connections",
        "http-max-connections",
        "HTTP_MAX_CONNECTIONS",
        "N",
        "Most connections open at once on each of the REST API and JSON-RPC ports; more are closed at accept. Lowered at start to fit the open-files limit beside the devp2p peers",
        Default::Text(|| hypasis_rpc::listener::DEFAULT_MAX_CONNECTIONS.to_string()),
    ),
    key(
        "http_connections_per_ip",
        "http-connections-per-ip",
        "HTTP_CONNECTIONS_PER_IP",
        "N",
        "Most REST API or JSON-RPC connections open from one client address, per port (the PROXY header's address behind a load balancer; the balancers' own connections are not counted)",
        Default::Text(|| hypasis_rpc::listener::DEFAULT_MAX_CONNECTIONS_PER_IP.to_string()),
    ),
    key(
        "http_idle_timeout",
        "http-idle-timeout",
        "HTTP_IDLE_TIMEOUT",
        "SECONDS",
        "A REST API or JSON-RPC connection with nothing read or written for this long is closed (unfinished request headers, idle keep-alive, a client that stopped reading)",
        Default::Text(|| hypasis_rpc::listener::DEFAULT_IDLE_TIMEOUT.as_secs().to_string()),
    ),
    key(
        "tls_cert",
        "tls-cert",
        "TLS_CERT",
        "FILE",
        "PEM certificate chain (leaf first) served on the REST API and JSON-RPC ports, which then speak HTTPS only (TLS 1.2 and 1.3); re-read on SIGHUP. Needs --tls-key",
        Default::None,
    ),
    key(
        "tls_key",
        "tls-key",
        "TLS_KEY",
        "FILE",
        "PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert; re-read on SIGHUP",
        Default::None,
    ),
    secret(key(
        "jwt_secret",
        "jwt-secret",
        "JWT_SECRET",
        "SECRET",
        "Key (at least 32 characters) that signs admin tokens (HS256); without it the admin endpoints are off. Mint a token with `hypasis-sync token`",
        Default::None,
    )),
    key("region", "region", "REGION", "LABEL", "Region label announced in cluster heartbeats", Default::Text(|| "local".into())),
    key(
        "leader_lease_ms",
        "leader-lease-ms",
        "LEADER_LEASE_MS",
        "MS",
        "Leader lease length in milliseconds (renewed every third of it)",
        Default::Text(|| DEFAULT_LEADER_LEASE.as_millis().to_string()),
    ),
    key(
        "member_ttl_ms",
        "member-ttl-ms",
        "MEMBER_TTL_MS",
        "MS",
        "A cluster member is live this long after its last heartbeat",
        Default::Text(|| DEFAULT_MEMBER_TTL.as_millis().to_string()),
    ),
    key(
        "heartbeat_ms",
        "heartbeat-ms",
        "HEARTBEAT_MS",
        "MS",
        "Interval of cluster membership heartbeats (shorter than the member TTL)",
        Default::Text(|| DEFAULT_HEARTBEAT.as_millis().to_string()),
    ),
    key("log_format", "log-format", "LOG_FORMAT", "FORMAT", "Log format: text or json", Default::Text(|| "text".into())),
    key(
        "shutdown_drain",
        "shutdown-drain",
        "SHUTDOWN_DRAIN",
        "SECONDS",
        "Seconds after SIGTERM during which /health/ready answers 503 while everything still serves, so load balancers move traffic away (0-60)",
        Default::Text(|| "5".into()),
    ),
    key(
        "ready_max_lag",
        "ready-max-lag",
        "READY_MAX_LAG",
        "BLOCKS",
        "Most blocks the advertised head may be behind the cluster head or the upstream tip while /health/ready answers 200",
        Default::Text(|| "64".into()),
    ),
    key(
        "shutdown_grace",
        "shutdown-grace",
        "SHUTDOWN_GRACE",
        "SECONDS",
        "Seconds to wait for in-flight work on shutdown (0-600)",
        Default::Text(|| "10".into()),
    ),
];

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of docs/ARCHITECTURE.md's configuration table: (key, flag, env, default).
    fn documented() -> Vec<[String; 4]> {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ARCHITECTURE.md")).expect("docs");
        let table = docs.split("\n## Configuration").nth(1).expect("a Configuration section").split("\n## ").next().unwrap_or_default();
        let code = |cell: &str| cell.split('`').nth(1).unwrap_or_default().to_owned();
        table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|row| {
                let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
                [code(cells[0]), code(cells[1]), code(cells[2]), cells.get(3).copied().unwrap_or_default().replace(',', "")]
            })
            .collect()
    }

    #[test]
    fn the_docs_table_lists_every_setting_with_its_flag_env_and_default() {
        let rows = documented();
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(names, keys, "docs table rows and KEYS differ (same order)");
        for (row, key) in rows.iter().zip(KEYS) {
            assert_eq!(row[1], format!("--{}", key.flag), "{}", key.name);
            let env = match key.env {
                Some(env) => env.to_owned(),
                None => "POLYGON_RPC_1".to_owned(),
            };
            assert_eq!(row[2], env, "{}", key.name);
            if let Default::Text(text) = key.default {
                assert!(row[3].contains(&text()), "{}: the docs default {:?} does not show {:?}", key.name, row[3], text());
            }
        }
    }

    #[test]
    fn names_and_flags_are_unique() {
        for (i, key) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|k| k.name != key.name && k.flag != key.flag && (k.env.is_none() || k.env != key.env)),
                "{}",
                key.name
            );
        }
    }
}
