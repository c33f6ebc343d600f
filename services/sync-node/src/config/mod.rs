//! Settings: flags, environment and YAML file merged, checked up front, every problem reported
//! at once.

mod cli;
mod file;

pub use cli::Cli;

use file::FileValue;
use hypasis_chain::{ChainSpec, genesis::GenesisDoc};
use hypasis_devnet::DevnetConfig;
use hypasis_store::MemoryStoreLimits;
use std::{collections::BTreeMap, fmt, net::IpAddr, path::PathBuf, str::FromStr, time::Duration};
use url::Url;

/// Setting names accepted in the YAML file.
pub const KEYS: &[&str] = &[
    "instance_id",
    "chain",
    "bind",
    "api_port",
    "rpc_port",
    "p2p_port",
    "redis_url",
    "redis_password",
    "redis_pool_size",
    "redis_tls_ca_file",
    "upstreams",
    "eth_l1_rpc_url",
    "jwt_secret",
    "devnet_block_time",
    "devnet_seed",
    "devnet_prefill",
    "cache_max_blocks",
    "cache_max_mb",
    "log_format",
    "shutdown_grace",
    "node_key_file",
    "cluster_key_file",
    "public_host",
    "public_port",
    "bootnodes",
    "max_peers",
    "import",
    "trusted_peers",
    "region",
    "retention_floor",
    "backfill_workers",
    "backfill_rate",
    "upstream_rps",
    "upstream_max_batch",
    "heimdall_url",
];

/// Connections in the Redis store's pool unless configured.
const DEFAULT_REDIS_POOL_SIZE: u64 = 8;
/// Most upstreams read from `POLYGON_RPC_1` … `POLYGON_RPC_9`.
const MAX_ENV_UPSTREAMS: usize = 9;
/// Shortest accepted JWT secret.
const MIN_JWT_SECRET_LEN: usize = 32;

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Setting name.
    pub key: String,
    /// Where the value came from.
    pub origin: String,
    /// What is wrong and what to change.
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, origin: &str, message: String) -> Self {
        Self { key: key.to_owned(), origin: origin.to_owned(), message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {}): {}", self.key, self.origin, self.message)
    }
}

/// All configuration problems found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem{}):", self.0.len(), if self.0.len() == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

/// Which chain to serve.
#[derive(Debug, Clone)]
pub enum ChainChoice {
    /// The built-in devnet.
    Devnet(DevnetConfig),
    /// A built-in network or a genesis file, with its spec.
    Spec(Box<ChainSpec>),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Devnet-only settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevnetSettings {
    /// Blocks generated at start-up.
    pub prefill: u64,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Instance name.
    pub instance_id: String,
    /// Chain to serve.
    pub chain: ChainChoice,
    /// Listen address of the HTTP endpoints.
    pub bind: IpAddr,
    /// REST API port (0 = any free port).
    pub api_port: u16,
    /// JSON-RPC port.
    pub rpc_port: u16,
    /// devp2p port.
    pub p2p_port: u16,
    /// Redis URL, when clustered.
    pub redis_url: Option<Url>,
    /// Redis password.
    pub redis_password: Option<String>,
    /// Connections in the Redis store's pool.
    pub redis_pool_size: usize,
    /// CA certificates (PEM) to trust for Redis TLS instead of the system store.
    pub redis_tls_ca_file: Option<PathBuf>,
    /// Upstream JSON-RPC endpoints in priority order.
    pub upstreams: Vec<Url>,
    /// Ethereum L1 endpoint.
    pub eth_l1_rpc_url: Option<Url>,
    /// Admin token secret.
    pub jwt_secret: Option<String>,
    /// Devnet settings (used when the chain is the devnet).
    pub devnet: DevnetSettings,
    /// In-memory cache limits.
    pub cache: MemoryStoreLimits,
    /// Log format.
    pub log_format: LogFormat,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// This instance's node key file (created when absent).
    pub node_key_file: PathBuf,
    /// The cluster's shared node key file, when behind a load balancer.
    pub cluster_key_file: Option<PathBuf>,
    /// Host name or IP written into enode URLs.
    pub public_host: String,
    /// Most devp2p peers.
    pub max_peers: usize,
    /// A `chain.rlp` file of blocks to load at start (genesis-file chains).
    pub import: Option<PathBuf>,
    /// Node ids always admitted, even when the peer cap is reached.
    pub trusted_peers: Vec<hypasis_rlpx::NodeId>,
    /// Port advertised in enode URLs and the ENR (`None`: the listened port).
    pub public_port: Option<u16>,
    /// discv4 bootnodes: node id and address (UDP port from `?discport=`, else the TCP port).
    pub bootnodes: Vec<Bootnode>,
    /// Region label in cluster heartbeats.
    pub region: String,
    /// Lowest block backward sync fills down to.
    pub retention_floor: u64,
    /// Backward sync workers per instance.
    pub backfill_workers: usize,
    /// Most blocks per second backward sync fetches on this instance.
    pub backfill_rate: u32,
    /// Budget of each upstream endpoint, in calls per second.
    pub upstream_rps: u32,
    /// Most calls in one batch request to an upstream.
    pub upstream_max_batch: usize,
    /// Heimdall REST API (milestones, checkpoints).
    pub heimdall_url: Option<Url>,
}

/// The merged raw values, with where each came from.
struct Raw {
    values: BTreeMap<&'static str, (String, String)>,
    upstreams: (Vec<String>, String),
    errors: Vec<ConfigError>,
}

impl Raw {
    fn get(&self, key: &str) -> Option<(&str, &str)> {
        self.values.get(key).map(|(v, o)| (v.as_str(), o.as_str()))
    }

    /// Parses `key` with `parse`, falling back to `default`; a failure is recorded.
    fn parse<T>(&mut self, key: &'static str, default: T, parse: impl FnOnce(&str) -> Result<T, String>) -> T {
        match self.values.get(key) {
            None => default,
            Some((value, origin)) => match parse(value) {
                Ok(v) => v,
                Err(message) => {
                    let origin = origin.clone();
                    self.errors.push(ConfigError::new(key, &origin, message));
                    default
                }
            },
        }
    }
}

impl Settings {
    /// Resolves settings from the parsed command line, the process environment and the config
    /// file it names.
    ///
    /// # Errors
    /// [`ConfigErrors`] listing every problem found.
    pub fn resolve(cli: Cli) -> Result<Self, ConfigErrors> {
        Self::resolve_with_env(cli, |name| std::env::var(name).ok())
    }

    fn resolve_with_env(cli: Cli, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let file = cli.config.as_ref().map(|p| (file::read(p, &mut errors), p.display().to_string())).unwrap_or_default();
        let mut raw = Raw { values: BTreeMap::new(), upstreams: (Vec::new(), String::new()), errors };
        let (file_values, file_name) = file;
        for (key, value) in &file_values {
            let Some(key) = KEYS.iter().find(|k| **k == key) else { continue };
            match value {
                FileValue::Scalar(s) if *key != "upstreams" => {
                    raw.values.insert(key, (s.clone(), format!("{key} in {file_name}")));
                }
                FileValue::List(l) if *key == "upstreams" => raw.upstreams = (l.clone(), format!("upstreams in {file_name}")),
                FileValue::List(l) if *key == "trusted_peers" || *key == "bootnodes" => {
                    raw.values.insert(key, (l.join(","), format!("{key} in {file_name}")));
                }
                FileValue::Scalar(s) => raw.upstreams = (vec![s.clone()], format!("upstreams in {file_name}")),
                FileValue::List(_) => raw.errors.push(ConfigError::new(key, &file_name, "expected a single value, found a list".into())),
            }
        }
        let flags: [(&'static str, &'static str, Option<String>); 34] = [
            ("instance_id", "--instance-id / INSTANCE_ID", cli.instance_id),
            ("chain", "--chain / CHAIN", cli.chain),
            ("bind", "--bind / BIND_ADDR", cli.bind),
            ("api_port", "--api-port / API_PORT", cli.api_port),
            ("rpc_port", "--rpc-port / RPC_PORT", cli.rpc_port),
            ("p2p_port", "--p2p-port / P2P_PORT", cli.p2p_port),
            ("redis_url", "--redis-url / REDIS_URL", cli.redis_url),
            ("redis_password", "--redis-password / REDIS_PASSWORD", cli.redis_password),
            ("redis_pool_size", "--redis-pool-size / REDIS_POOL_SIZE", cli.redis_pool_size),
            ("redis_tls_ca_file", "--redis-tls-ca-file / REDIS_TLS_CA_FILE", cli.redis_tls_ca_file),
            ("eth_l1_rpc_url", "--eth-l1-rpc-url / ETH_L1_RPC_URL", cli.eth_l1_rpc_url),
            ("jwt_secret", "--jwt-secret / JWT_SECRET", cli.jwt_secret),
            ("devnet_block_time", "--devnet-block-time / DEVNET_BLOCK_TIME", cli.devnet_block_time),
            ("devnet_seed", "--devnet-seed / DEVNET_SEED", cli.devnet_seed),
            ("devnet_prefill", "--devnet-prefill / DEVNET_PREFILL", cli.devnet_prefill),
            ("cache_max_blocks", "--cache-max-blocks / CACHE_MAX_BLOCKS", cli.cache_max_blocks),
            ("cache_max_mb", "--cache-max-mb / CACHE_MAX_MB", cli.cache_max_mb),
            ("log_format", "--log-format / LOG_FORMAT", cli.log_format),
            ("shutdown_grace", "--shutdown-grace / SHUTDOWN_GRACE", cli.shutdown_grace),
            ("node_key_file", "--node-key-file / NODE_KEY_FILE", cli.node_key_file),
            ("cluster_key_file", "--cluster-key-file / CLUSTER_KEY_FILE", cli.cluster_key_file),
            ("public_host", "--public-host / PUBLIC_HOST", cli.public_host),
            ("max_peers", "--max-peers / MAX_PEERS", cli.max_peers),
            ("import", "--import / IMPORT", cli.import),
            ("trusted_peers", "--trusted-peers / TRUSTED_PEERS", cli.trusted_peers),
            ("public_port", "--public-port / PUBLIC_PORT", cli.public_port),
            ("bootnodes", "--bootnodes / BOOTNODES", cli.bootnodes),
            ("region", "--region / REGION", cli.region),
            ("retention_floor", "--retention-floor / RETENTION_FLOOR", cli.retention_floor),
            ("backfill_workers", "--backfill-workers / BACKFILL_WORKERS", cli.backfill_workers),
            ("backfill_rate", "--backfill-rate / BACKFILL_RATE", cli.backfill_rate),
            ("upstream_rps", "--upstream-rps / UPSTREAM_RPS", cli.upstream_rps),
            ("upstream_max_batch", "--upstream-max-batch / UPSTREAM_MAX_BATCH", cli.upstream_max_batch),
            ("heimdall_url", "--heimdall-url / HEIMDALL_URL", cli.heimdall_url),
        ];
        for (key, origin, value) in flags {
            // An empty environment variable (common in compose files) means "not set".
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                raw.values.insert(key, (v, origin.to_owned()));
            }
        }
        if !cli.upstreams.is_empty() {
            raw.upstreams = (cli.upstreams, "--upstream".into());
        } else {
            let from_env: Vec<String> =
                (1..=MAX_ENV_UPSTREAMS).filter_map(|i| env(&format!("POLYGON_RPC_{i}"))).filter(|v| !v.is_empty()).collect();
            if !from_env.is_empty() {
                raw.upstreams = (from_env, "POLYGON_RPC_n".into());
            }
        }
        Self::check(raw)
    }

    fn check(mut raw: Raw) -> Result<Self, ConfigErrors> {
        let instance_id = raw.parse("instance_id", default_instance_id(), |v| {
            if v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not a valid instance id; use up to 64 letters, digits, '-', '_' or '.'"))
            }
        });
        let bind = raw.parse("bind", IpAddr::from([127, 0, 0, 1]), |v| {
            v.parse().map_err(|_| format!("{v:?} is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0"))
        });
        let api_port = raw.parse("api_port", 8080, |v| port(v, true));
        let rpc_port = raw.parse("rpc_port", 8545, |v| port(v, false));
        let p2p_port = raw.parse("p2p_port", 30303, |v| port(v, true));
        let redis_url = raw.parse("redis_url", None, |v| url(v, &["redis", "rediss", "redis-cluster", "redis-sentinel"]).map(Some));
        let redis_password = raw.get("redis_password").map(|(v, _)| v.to_owned());
        let redis_pool_size = raw.parse("redis_pool_size", DEFAULT_REDIS_POOL_SIZE, |v| number(v, 1, 256));
        let redis_tls_ca_file = raw.parse("redis_tls_ca_file", None, |v| {
            let path = PathBuf::from(v);
            if path.is_file() { Ok(Some(path)) } else { Err(format!("{v} is not a readable file; give a PEM file of CA certificates")) }
        });
        let eth_l1_rpc_url = raw.parse("eth_l1_rpc_url", None, |v| url(v, &["http", "https", "ws", "wss"]).map(Some));
        let jwt_secret = raw.parse("jwt_secret", None, |v| {
            if v.len() >= MIN_JWT_SECRET_LEN {
                Ok(Some(v.to_owned()))
            } else {
                Err(format!("is {} characters; use at least {MIN_JWT_SECRET_LEN} (e.g. `openssl rand -hex 32`)", v.len()))
            }
        });
        let block_time = raw.parse("devnet_block_time", 2, |v| number(v, 1, 3600));
        let seed = raw.parse("devnet_seed", 0, |v| number(v, 0, u64::MAX));
        let prefill = raw.parse("devnet_prefill", 0, |v| number(v, 0, 10_000_000));
        let max_blocks = raw.parse("cache_max_blocks", MemoryStoreLimits::default().max_blocks as u64, |v| number(v, 16, 100_000_000));
        let max_mb = raw.parse("cache_max_mb", (MemoryStoreLimits::default().max_bytes >> 20) as u64, |v| number(v, 16, 1 << 24));
        let log_format = raw.parse("log_format", LogFormat::Text, |v| match v {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{v:?} is not a log format; use text or json")),
        });
        let grace = raw.parse("shutdown_grace", 10, |v| number(v, 0, 600));
        let node_key_file = raw.parse("node_key_file", PathBuf::from(DEFAULT_NODE_KEY_FILE), key_file);
        let cluster_key_file = raw.parse("cluster_key_file", None, |v| key_file(v).map(Some));
        let public_host = raw.parse("public_host", bind.to_string(), |v| {
            if !v.is_empty() && v.len() <= 253 && !v.contains(['/', '@', ' ']) {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not a host name or IP address"))
            }
        });
        let public_port = raw.parse("public_port", None, |v| number(v, 1, 65_535).map(|p| Some(p as u16)));
        let bootnodes = raw.parse("bootnodes", Vec::new(), |v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(enode).collect());
        let max_peers = raw.parse("max_peers", 500, |v| number(v, 1, 100_000));
        let import = raw.parse("import", None, |v| {
            let path = PathBuf::from(v);
            if path.is_file() { Ok(Some(path)) } else { Err(format!("{v} is not a readable file; give the path of a chain.rlp file")) }
        });
        let (upstream_texts, upstream_origin) = std::mem::take(&mut raw.upstreams);
        let mut upstreams = Vec::new();
        for text in &upstream_texts {
            match url(text, &["http", "https", "ws", "wss"]) {
                Ok(u) => upstreams.push(u),
                Err(message) => raw.errors.push(ConfigError::new("upstreams", &upstream_origin, message)),
            }
        }
        let devnet = DevnetConfig { seed, block_time, ..DevnetConfig::default() };
        let chain = raw.parse("chain", ChainChoice::Devnet(devnet.clone()), |v| chain(v, devnet.clone()));
        let region = raw.parse("region", "local".to_owned(), |v| {
            let ok = !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if ok { Ok(v.to_owned()) } else { Err(format!("{v:?} is not a region label; use up to 64 letters, digits, '-', '_' or '.'")) }
        });
        let retention_floor = raw.parse("retention_floor", 0, |v| number(v, 0, u64::MAX));
        let backfill_workers = raw.parse("backfill_workers", hypasis_syncer::backward::DEFAULT_WORKERS as u64, |v| number(v, 1, 64));
        let backfill_rate =
            raw.parse("backfill_rate", u64::from(hypasis_syncer::backward::DEFAULT_BLOCKS_PER_SECOND), |v| number(v, 1, 1_000_000));
        let upstream_rps = raw.parse("upstream_rps", u64::from(hypasis_upstream::DEFAULT_REQUESTS_PER_SECOND), |v| number(v, 1, 1_000_000));
        let upstream_max_batch = raw.parse("upstream_max_batch", hypasis_upstream::DEFAULT_MAX_BATCH as u64, |v| number(v, 1, 10_000));
        let heimdall_url = raw.parse("heimdall_url", None, |v| url(v, &["http", "https"]).map(Some));
        let trusted_peers =
            raw.parse("trusted_peers", Vec::new(), |v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(node_id).collect());
        if import.is_some() && !matches!(&chain, ChainChoice::Spec(spec) if spec.genesis_header.is_some()) {
            let origin = raw.get("import").map_or("", |(_, o)| o).to_owned();
            raw.errors.push(ConfigError::new(
                "import",
                &origin,
                "needs --chain <genesis.json> (the devnet makes its own blocks; built-in networks have no bundled genesis)".into(),
            ));
        }
        if !raw.errors.is_empty() {
            return Err(ConfigErrors(raw.errors));
        }
        Ok(Self {
            instance_id,
            chain,
            bind,
            api_port,
            rpc_port,
            p2p_port,
            redis_url,
            redis_password,
            redis_pool_size: redis_pool_size as usize,
            redis_tls_ca_file,
            upstreams,
            eth_l1_rpc_url,
            jwt_secret,
            devnet: DevnetSettings { prefill },
            cache: MemoryStoreLimits { max_blocks: max_blocks as usize, max_bytes: (max_mb as usize) << 20 },
            log_format,
            shutdown_grace: Duration::from_secs(grace),
            node_key_file,
            cluster_key_file,
            public_host,
            max_peers: max_peers as usize,
            import,
            trusted_peers,
            public_port,
            bootnodes,
            region,
            retention_floor,
            backfill_workers: backfill_workers as usize,
            backfill_rate: backfill_rate as u32,
            upstream_rps: upstream_rps as u32,
            upstream_max_batch: upstream_max_batch as usize,
            heimdall_url,
        })
    }
}

/// Where the instance key lives unless told otherwise.
const DEFAULT_NODE_KEY_FILE: &str = "data/node.key";

/// A key file path: an existing file, or one whose directory can be created.
fn key_file(v: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(v);
    if path.is_dir() {
        return Err(format!("{v} is a directory; give a file path (it is created with mode 0600 when absent)"));
    }
    Ok(path)
}

/// A node id from an enode URL or 128 hex characters.
fn node_id(v: &str) -> Result<hypasis_rlpx::NodeId, String> {
    let hex_id = v.strip_prefix("enode://").map_or(v, |rest| rest.split('@').next().unwrap_or_default());
    let hex_id = hex_id.strip_prefix("0x").unwrap_or(hex_id);
    let bytes = hex::decode(hex_id).map_err(|_| format!("{v:?} is not an enode URL or a 128-hex-character node id"))?;
    if bytes.len() != 64 {
        return Err(format!("{v:?} has a {}-byte node id; node ids are 64 bytes (128 hex characters)", bytes.len()));
    }
    Ok(hypasis_rlpx::NodeId::from_slice(&bytes))
}

/// A discv4 node to bond with at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootnode {
    /// Its node id.
    pub id: hypasis_rlpx::NodeId,
    /// Its IP address.
    pub ip: std::net::IpAddr,
    /// RLPx TCP port.
    pub tcp: u16,
    /// discv4 UDP port.
    pub udp: u16,
}

/// `enode://<id>@<ip>:<port>[?discport=<udp>]`.
fn enode(v: &str) -> Result<Bootnode, String> {
    let rest = v.strip_prefix("enode://").ok_or_else(|| format!("{v:?} is not an enode URL (enode://<id>@<ip>:<port>)"))?;
    let (_, address) = rest.split_once('@').ok_or_else(|| format!("{v:?} has no @<ip>:<port>"))?;
    let id = node_id(v)?;
    let (address, query) = address.split_once('?').map_or((address, None), |(a, q)| (a, Some(q)));
    let socket: std::net::SocketAddr =
        address.parse().map_err(|_| format!("{v:?}: {address:?} is not <ip>:<port> (bootnodes need an IP address, not a name)"))?;
    let udp = match query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("discport="))) {
        Some(port) => port.parse().map_err(|_| format!("{v:?}: discport {port:?} is not a port"))?,
        None => socket.port(),
    };
    Ok(Bootnode { id, ip: socket.ip(), tcp: socket.port(), udp })
}

fn default_instance_id() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty() && h.len() <= 64).unwrap_or_else(|| "hypasis-local".into())
}

fn port(v: &str, zero_ok: bool) -> Result<u16, String> {
    let min = u16::from(!zero_ok);
    match v.parse::<u64>() {
        Ok(p) if p >= u64::from(min) && p <= 65_535 => Ok(p as u16),
        Ok(p) => Err(format!("{p} is out of range; use a port from {min} to 65535")),
        Err(_) => Err(format!("{v:?} is not a port number; use a port from {min} to 65535")),
    }
}

fn number(v: &str, min: u64, max: u64) -> Result<u64, String> {
    match u64::from_str(v) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is out of range; use a value from {min} to {max}")),
        Err(_) => Err(format!("{v:?} is not a whole number; use a value from {min} to {max}")),
    }
}

fn url(v: &str, schemes: &[&str]) -> Result<Url, String> {
    let parsed = Url::parse(v).map_err(|e| format!("{v:?} is not a valid URL ({e}); use e.g. {}://host:port", schemes[0]))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(format!("URL scheme {:?} is not supported here; use one of {}", parsed.scheme(), schemes.join(", ")));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{v:?} has no host"));
    }
    Ok(parsed)
}

fn chain(v: &str, devnet: DevnetConfig) -> Result<ChainChoice, String> {
    if v == "devnet" {
        return Ok(ChainChoice::Devnet(devnet));
    }
    if let Some(spec) = ChainSpec::builtin(v) {
        return Ok(ChainChoice::Spec(Box::new(spec)));
    }
    let path = PathBuf::from(v);
    if !path.exists() {
        return Err(format!("{v:?} is neither a known chain (devnet, polygon-mainnet, polygon-amoy) nor an existing genesis file"));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read genesis file {v}: {e}"))?;
    let doc = GenesisDoc::parse(&text).map_err(|e| format!("genesis file {v}: {e}"))?;
    let name = path.file_stem().map_or_else(|| v.to_owned(), |s| s.to_string_lossy().into_owned());
    let spec = ChainSpec::from_genesis(name, doc).map_err(|e| format!("genesis file {v}: {e}"))?;
    Ok(ChainChoice::Spec(Box::new(spec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<Settings, ConfigErrors> {
        let cli = Cli::try_parse_from(std::iter::once("hypasis-sync").chain(args.iter().copied())).unwrap();
        Settings::resolve_with_env(cli, |_| None)
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = resolve(&[]).unwrap();
        assert!(matches!(s.chain, ChainChoice::Devnet(_)));
        assert_eq!((s.api_port, s.rpc_port, s.p2p_port), (8080, 8545, 30303));
        assert_eq!(s.bind.to_string(), "127.0.0.1");
        assert!(s.redis_url.is_none() && s.upstreams.is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = resolve(&[
            "--api-port",
            "99999",
            "--eth-l1-rpc-url",
            "not a url",
            "--upstream",
            "ftp://x",
            "--log-format",
            "xml",
            "--chain",
            "/nope.json",
        ])
        .unwrap_err();
        let keys: Vec<_> = err.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["api_port", "eth_l1_rpc_url", "log_format", "upstreams", "chain"], "{err}");
        let text = err.to_string();
        assert!(text.contains("99999 is out of range; use a port from 0 to 65535"), "{text}");
        assert!(text.contains("--api-port"), "{text}");
    }

    #[test]
    fn env_upstreams_are_collected_in_order() {
        let cli = Cli::try_parse_from(["hypasis-sync"]).unwrap();
        let s = Settings::resolve_with_env(cli, |k| match k {
            "POLYGON_RPC_1" => Some("https://a.example".into()),
            "POLYGON_RPC_2" => Some("https://b.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.upstreams.iter().map(Url::as_str).collect::<Vec<_>>(), vec!["https://a.example/", "https://b.example/"]);
    }

    #[test]
    fn file_values_apply_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "api_port: 9000\nrpc_port: 9001\nupstreams:\n  - https://a.example\n").unwrap();
        let s = resolve(&["--config", path.to_str().unwrap(), "--rpc-port", "9999"]).unwrap();
        assert_eq!((s.api_port, s.rpc_port, s.upstreams.len()), (9000, 9999, 1));
    }

    #[test]
    fn unknown_file_keys_name_the_nearest_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "api_prot: 9000\np2p_port: [1]\n").unwrap();
        let err = resolve(&["--config", path.to_str().unwrap()]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown setting `api_prot`; did you mean `api_port`?"), "{text}");
        assert!(text.contains("p2p_port"), "{text}");
    }

    #[test]
    fn trusted_peers_take_enodes_or_ids() {
        let id = "ab".repeat(64);
        let list = format!("enode://{id}@10.0.0.1:30303, 0x{id}");
        let s = resolve(&["--trusted-peers", &list]).unwrap();
        assert_eq!(s.trusted_peers.len(), 2);
        assert_eq!(s.trusted_peers[0], s.trusted_peers[1]);
        let err = resolve(&["--trusted-peers", "enode://abcd@1.2.3.4:1"]).unwrap_err();
        assert!(err.to_string().contains("2-byte node id"), "{err}");
    }

    #[test]
    fn bootnodes_take_enodes_with_an_ip_and_an_optional_discport() {
        let id = "cd".repeat(64);
        let list = format!("enode://{id}@10.0.0.1:30303, enode://{id}@10.0.0.2:30304?discport=30305");
        let s = resolve(&["--bootnodes", &list, "--public-port", "30303"]).unwrap();
        assert_eq!(s.bootnodes.len(), 2);
        assert_eq!((s.bootnodes[0].tcp, s.bootnodes[0].udp), (30303, 30303));
        assert_eq!((s.bootnodes[1].tcp, s.bootnodes[1].udp), (30304, 30305));
        assert_eq!(s.bootnodes[1].ip, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(s.public_port, Some(30303));
        let err = resolve(&["--bootnodes", &format!("enode://{id}@boot.example.org:30303")]).unwrap_err();
        assert!(err.to_string().contains("need an IP address"), "{err}");
        let err = resolve(&["--public-port", "0"]).unwrap_err();
        assert!(err.to_string().contains("public_port"), "{err}");
    }

    #[test]
    fn a_genesis_file_is_a_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mychain.json");
        std::fs::write(&path, r#"{"config":{"chainId":99,"londonBlock":5},"gasLimit":"0x1388","difficulty":"0x1","alloc":{}}"#).unwrap();
        let s = resolve(&["--chain", path.to_str().unwrap()]).unwrap();
        let ChainChoice::Spec(spec) = s.chain else { panic!("expected a spec") };
        assert_eq!((spec.name.as_str(), spec.chain_id, spec.forks.blocks.clone()), ("mychain", 99, vec![5]));
    }
}
