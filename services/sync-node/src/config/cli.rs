//! Command-line flags. Every value is taken as text here and checked in one place
//! ([`super::Settings::resolve`]) so that all problems are reported together.

use clap::Parser;
use std::path::PathBuf;

/// Hypasis Sync node: serves verified Polygon blocks to Bor nodes over devp2p, with a REST API
/// and Prometheus metrics.
///
/// Run with no arguments to start in embedded mode: a built-in devnet chain, an in-memory
/// cache, the REST API on 127.0.0.1:8080. Precedence: flags, then environment, then the config
/// file, then defaults.
#[derive(Debug, Parser)]
#[command(name = "hypasis-sync", version, about, long_about = None)]
pub struct Cli {
    /// YAML config file (keys are the flag names with `_` for `-`).
    #[arg(long, env = "HYPASIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Name of this instance in the cluster [default: host name].
    #[arg(long, env = "INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Chain: devnet, polygon-mainnet, polygon-amoy, or a path to a geth-style genesis JSON
    /// [default: devnet].
    #[arg(long, env = "CHAIN")]
    pub chain: Option<String>,
    /// Address the REST API and JSON-RPC listen on [default: 127.0.0.1].
    #[arg(long, env = "BIND_ADDR", value_name = "IP")]
    pub bind: Option<String>,
    /// REST API port; 0 picks a free port [default: 8080].
    #[arg(long, env = "API_PORT", value_name = "PORT")]
    pub api_port: Option<String>,
    /// JSON-RPC port [default: 8545].
    #[arg(long, env = "RPC_PORT", value_name = "PORT")]
    pub rpc_port: Option<String>,
    /// devp2p port, TCP (RLPx) and UDP (discv4) [default: 30303].
    #[arg(long, env = "P2P_PORT", value_name = "PORT")]
    pub p2p_port: Option<String>,
    /// Redis URL for the shared cluster cache: redis://, rediss:// (TLS), redis-cluster://host:port?node=host:port,
    /// redis-sentinel://; absent = in-memory cache.
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// Redis password (overrides one in the URL).
    #[arg(long, env = "REDIS_PASSWORD", hide_env_values = true)]
    pub redis_password: Option<String>,
    /// Connections in the Redis store's pool [default: 8].
    #[arg(long, env = "REDIS_POOL_SIZE")]
    pub redis_pool_size: Option<String>,
    /// PEM file of CA certificates to trust for Redis TLS (rediss://) instead of the system store.
    #[arg(long, env = "REDIS_TLS_CA_FILE", value_name = "FILE")]
    pub redis_tls_ca_file: Option<String>,
    /// Upstream Polygon JSON-RPC endpoint; repeat for failover. Also POLYGON_RPC_1..9.
    #[arg(long = "upstream", value_name = "URL")]
    pub upstreams: Vec<String>,
    /// Ethereum L1 JSON-RPC endpoint, for checkpoints from the RootChain contract.
    #[arg(long, env = "ETH_L1_RPC_URL", value_name = "URL")]
    pub eth_l1_rpc_url: Option<String>,
    /// Secret for admin API tokens (at least 32 characters).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Seconds between devnet blocks [default: 2].
    #[arg(long, env = "DEVNET_BLOCK_TIME", value_name = "SECONDS")]
    pub devnet_block_time: Option<String>,
    /// Devnet seed; same seed, same chain [default: 0].
    #[arg(long, env = "DEVNET_SEED")]
    pub devnet_seed: Option<String>,
    /// Devnet blocks generated at start-up, before the clock-driven ones [default: 0].
    #[arg(long, env = "DEVNET_PREFILL", value_name = "BLOCKS")]
    pub devnet_prefill: Option<String>,
    /// Most blocks the in-memory cache holds [default: 100000].
    #[arg(long, env = "CACHE_MAX_BLOCKS")]
    pub cache_max_blocks: Option<String>,
    /// Most megabytes the in-memory cache holds [default: 2048].
    #[arg(long, env = "CACHE_MAX_MB")]
    pub cache_max_mb: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Seconds to wait for in-flight work on shutdown [default: 10].
    #[arg(long, env = "SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<String>,
    /// This instance's devp2p key file; created (mode 0600) when absent [default: data/node.key].
    #[arg(long, env = "NODE_KEY_FILE", value_name = "FILE")]
    pub node_key_file: Option<String>,
    /// The cluster's shared devp2p key file (same on every instance behind the load balancer).
    #[arg(long, env = "CLUSTER_KEY_FILE", value_name = "FILE")]
    pub cluster_key_file: Option<String>,
    /// Host name or IP advertised in enode URLs and the ENR; a name is resolved at start
    /// [default: the --bind address].
    #[arg(long, env = "PUBLIC_HOST")]
    pub public_host: Option<String>,
    /// TCP and UDP port advertised in enode URLs and the ENR, when a load balancer's differs
    /// from the --p2p-port listened on [default: the listened port].
    #[arg(long, env = "PUBLIC_PORT")]
    pub public_port: Option<String>,
    /// discv4 nodes to bond with at start (comma-separated enode URLs with IP addresses).
    #[arg(long, env = "BOOTNODES", value_name = "ENODES")]
    pub bootnodes: Option<String>,
    /// Most devp2p peers at once [default: 500].
    #[arg(long, env = "MAX_PEERS")]
    pub max_peers: Option<String>,
    /// Peers always admitted (comma-separated enode URLs or node ids), e.g. your own Bor nodes.
    #[arg(long, env = "TRUSTED_PEERS", value_name = "ENODES")]
    pub trusted_peers: Option<String>,
    /// Region label announced in cluster heartbeats [default: local].
    #[arg(long, env = "REGION")]
    pub region: Option<String>,
    /// Lowest block backward sync fills down to [default: 0, genesis].
    #[arg(long, env = "RETENTION_FLOOR", value_name = "BLOCK")]
    pub retention_floor: Option<String>,
    /// Backward sync workers per instance [default: 4].
    #[arg(long, env = "BACKFILL_WORKERS")]
    pub backfill_workers: Option<String>,
    /// Most blocks per second backward sync fetches on this instance [default: 1000].
    #[arg(long, env = "BACKFILL_RATE", value_name = "BLOCKS")]
    pub backfill_rate: Option<String>,
    /// Budget of each upstream endpoint in calls per second (a block costs 2-3 calls) [default: 200].
    #[arg(long, env = "UPSTREAM_RPS")]
    pub upstream_rps: Option<String>,
    /// Most calls in one JSON-RPC batch to an upstream; lowered per upstream when it refuses
    /// batches that large (Bor's --rpc.batchlimit) [default: 100].
    #[arg(long, env = "UPSTREAM_MAX_BATCH")]
    pub upstream_max_batch: Option<String>,
    /// Heimdall REST API, for milestones and checkpoints (e.g. https://heimdall-api.polygon.technology).
    #[arg(long, env = "HEIMDALL_URL", value_name = "URL")]
    pub heimdall_url: Option<String>,
    /// chain.rlp file of blocks to serve (with --chain <genesis.json>), as `geth import` reads.
    #[arg(long, env = "IMPORT", value_name = "FILE")]
    pub import: Option<String>,
}
