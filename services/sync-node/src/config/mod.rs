//! Settings: flags, environment and YAML file merged, checked up front, every problem reported
//! at once. Every setting is declared once, in [`keys::KEYS`].

mod cli;
mod file;
pub mod keys;
mod parse;
mod rpc;

pub use cli::{Cli, command};
pub use parse::Bootnode;
pub use rpc::RpcSettings;

use file::FileValue;
use hypasis_devnet::DevnetConfig;
use hypasis_store::MemoryStoreLimits;
use keys::Default;
use parse::{
    Check, Refused, chain, default_instance_id, enode, history_url, key_file, local_dir_url, node_id, number, port, url, validator,
};
use std::{
    collections::BTreeMap,
    fmt,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    time::Duration,
};
use url::Url;

/// Where history segments go when alone and `--history-url` is not given.
pub const DEFAULT_HISTORY_DIR: &str = "data/history";

/// Shortest accepted `--jwt-secret` (HS256 wants a key of at least its 256-bit output).
pub const MIN_JWT_SECRET: usize = 32;

/// Most upstreams read from `POLYGON_RPC_1` … `POLYGON_RPC_9`.
const MAX_ENV_UPSTREAMS: usize = 9;

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
    Spec(Box<hypasis_chain::ChainSpec>),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, core::default::Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The history tier: sealed segments in object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    /// The object store (`file://` or `s3://`).
    pub url: Url,
    /// Local segment cache folder.
    pub cache_dir: PathBuf,
    /// Local segment cache limit in bytes.
    pub cache_bytes: u64,
    /// Blocks per segment.
    pub segment_blocks: u64,
    /// Blocks below the head kept in the inner store once sealed.
    pub hot_window: u64,
}

/// Devnet-only settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevnetSettings {
    /// Blocks generated at start-up.
    pub prefill: u64,
}

/// The HTTPS certificate chain and its key (`--tls-cert`, `--tls-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The checked configuration (see [`keys::KEYS`] for what each setting means).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Instance name.
    pub instance_id: String,
    /// Chain to serve.
    pub chain: ChainChoice,
    /// Listen address of the HTTP endpoints and devp2p.
    pub bind: IpAddr,
    /// REST API port (0 = any free port).
    pub api_port: u16,
    /// The JSON-RPC edge.
    pub rpc: RpcSettings,
    /// devp2p port.
    pub p2p_port: u16,
    /// Redis URL, when clustered.
    pub redis_url: Option<Url>,
    /// Redis password.
    pub redis_password: Option<String>,
    /// Connections in the Redis store's pool.
    pub redis_pool_size: usize,
    /// How long Redis is retried at start.
    pub redis_start_timeout: Duration,
    /// CA certificates (PEM) to trust for Redis TLS instead of the system store.
    pub redis_tls_ca_file: Option<PathBuf>,
    /// Upstream JSON-RPC endpoints in priority order.
    pub upstreams: Vec<Url>,
    /// Ethereum L1 endpoint.
    pub eth_l1_rpc_url: Option<Url>,
    /// Heimdall REST API (milestones, checkpoints, spans).
    pub heimdall_url: Option<Url>,
    /// The first validator set of a genesis-file Bor chain (`--bor-validators`).
    pub bor_validators: Vec<hypasis_chain::bor::Validator>,
    /// Budget of each upstream endpoint, in calls per second.
    pub upstream_rps: u32,
    /// Most calls in one batch request to an upstream.
    pub upstream_max_batch: usize,
    /// Lowest block backward sync fills down to.
    pub retention_floor: u64,
    /// Backward sync workers per instance.
    pub backfill_workers: usize,
    /// Most blocks per second backward sync fetches on this instance.
    pub backfill_rate: u32,
    /// A `chain.rlp` file of blocks to load at start (genesis-file chains).
    pub import: Option<PathBuf>,
    /// Devnet settings (used when the chain is the devnet).
    pub devnet: DevnetSettings,
    /// In-memory cache limits.
    pub cache: MemoryStoreLimits,
    /// The history tier, when on.
    pub history: Option<HistorySettings>,
    /// This instance's node key file (created when absent).
    pub node_key_file: PathBuf,
    /// The cluster's shared node key file, when behind a load balancer.
    pub cluster_key_file: Option<PathBuf>,
    /// Host name or IP written into enode URLs.
    pub public_host: String,
    /// Port advertised in enode URLs and the ENR (`None`: the listened port).
    pub public_port: Option<u16>,
    /// discv4 bootnodes.
    pub bootnodes: Vec<Bootnode>,
    /// Most devp2p peers.
    pub max_peers: usize,
    /// Most devp2p handshakes in flight from one IP address.
    pub p2p_handshakes_per_ip: usize,
    /// A peer that reads nothing of our writes for this long is dropped.
    pub p2p_write_timeout: Duration,
    /// Most devp2p peers from one IP address.
    pub p2p_peers_per_ip: usize,
    /// Temporary bans of addresses that keep breaking the protocol.
    pub p2p_bans: hypasis_p2p::per_ip::BanPolicy,
    /// The operators file (fair use), when given.
    pub operators_file: Option<PathBuf>,
    /// Longest a devp2p request over budget is delayed before the peer counts as flooding.
    pub p2p_flood_wait: Duration,
    /// Load balancers whose PROXY protocol headers are believed (none: the protocol is off).
    pub proxy_protocol_from: hypasis_p2p::proxy::TrustedProxies,
    /// Node ids always admitted, even when the peer cap is reached.
    pub trusted_peers: Vec<hypasis_rlpx::NodeId>,
    /// State backends (snap/1 served through them); empty: snap/1 is off.
    pub state_backends: Vec<Bootnode>,
    /// Sessions per state backend.
    pub snap_sessions_per_backend: usize,
    /// Bytes of verified snap/1 answers cached.
    pub snap_cache_bytes: u64,
    /// Most connections open at once on each HTTP port.
    pub http_max_connections: usize,
    /// Idle HTTP connections are closed after this long.
    pub http_idle_timeout: Duration,
    /// Most HTTP connections from one client address, per port.
    pub http_connections_per_ip: usize,
    /// HTTPS certificate chain and key for the REST API and JSON-RPC, when they speak TLS.
    pub tls: Option<TlsFiles>,
    /// Key of admin tokens (HS256), when the admin endpoints are on.
    pub jwt_secret: Option<String>,
    /// Region label in cluster heartbeats.
    pub region: String,
    /// Leader lease length.
    pub leader_lease: Duration,
    /// A member is live this long after its last heartbeat.
    pub member_ttl: Duration,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// How long readiness fails before the listeners close on shutdown.
    pub shutdown_drain: Duration,
    /// Most blocks of lag while ready.
    pub ready_max_lag: u64,
}

/// The merged raw values: setting name → (texts, where they came from).
struct Raw {
    values: BTreeMap<&'static str, (Vec<String>, String)>,
    errors: Vec<ConfigError>,
}

impl Raw {
    fn origin(&self, key: &str) -> String {
        self.values.get(key).map_or_else(|| "defaults".to_owned(), |(_, o)| o.clone())
    }

    fn refuse(&mut self, key: &str, message: String) {
        let origin = self.origin(key);
        self.errors.push(ConfigError::new(key, &origin, message));
    }

    /// The single value of `key`, else its default from [`keys::KEYS`], checked by `parse`; a
    /// refused value is recorded and `T::default()` stands in (resolve then fails).
    fn one<T: core::default::Default>(&mut self, key: &'static str, parse: impl FnOnce(&str) -> Check<T>) -> T {
        let text = match self.values.get(key) {
            Some((texts, _)) if texts.len() > 1 => {
                self.refuse(key, "expected a single value, found a list".into());
                return T::default();
            }
            Some((texts, _)) => texts[0].clone(),
            None => match keys::find(key).map(|k| k.default) {
                Some(Default::Text(text)) => text(),
                _ => return T::default(),
            },
        };
        parse(&text).unwrap_or_else(|refused| {
            self.refuse(key, refused.0);
            T::default()
        })
    }

    /// Every item of `key` (repeated flags, YAML list items and, when `commas`, comma-separated
    /// items), checked by `parse`.
    fn list<T>(&mut self, key: &'static str, commas: bool, parse: impl Fn(&str) -> Check<T>) -> Vec<T> {
        let texts = self.values.get(key).map(|(t, _)| t.clone()).unwrap_or_default();
        let items: Vec<&str> = texts
            .iter()
            .flat_map(|t| if commas { t.split(',').collect() } else { vec![t.as_str()] })
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match parse(item) {
                Ok(v) => out.push(v),
                Err(refused) => self.refuse(key, refused.0),
            }
        }
        out
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
        let mut raw = Raw { values: BTreeMap::new(), errors: Vec::new() };
        if let Some(path) = &cli.config {
            let values = file::read(path, &mut raw.errors);
            for (name, value) in values {
                let Some(key) = keys::find(&name) else { continue };
                let texts = match value {
                    FileValue::Scalar(s) => vec![s],
                    FileValue::List(l) => l,
                };
                raw.values.insert(key.name, (texts, format!("{} in {}", key.name, path.display())));
            }
        }
        // Flags and environment override the file.
        raw.values.extend(cli.values);
        if !raw.values.contains_key("upstreams") {
            let from_env: Vec<String> =
                (1..=MAX_ENV_UPSTREAMS).filter_map(|i| env(&format!("POLYGON_RPC_{i}"))).filter(|v| !v.is_empty()).collect();
            if !from_env.is_empty() {
                raw.values.insert("upstreams", (from_env, "POLYGON_RPC_n".into()));
            }
        }
        Self::check(raw)
    }

    fn check(mut raw: Raw) -> Result<Self, ConfigErrors> {
        let label = |what: &'static str| {
            move |v: &str| {
                if !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                    Ok(Some(v.to_owned()))
                } else {
                    Err(Refused(format!("{v:?} is not a valid {what}; use up to 64 letters, digits, '-', '_' or '.'")))
                }
            }
        };
        let instance_id = raw.one("instance_id", label("instance id")).unwrap_or_else(default_instance_id);
        let region = raw.one("region", label("region label")).unwrap_or_default();
        // A refused --bind stands in as 0.0.0.0 only until the errors are reported.
        let bind = raw
            .one("bind", |v| v.parse().map(Some).map_err(|_| Refused(format!("{v:?} is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0"))))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let api_port = raw.one("api_port", |v| port(v, true));
        let rpc = rpc::settings(&mut raw);
        let p2p_port = raw.one("p2p_port", |v| port(v, true));
        let redis_url = raw.one("redis_url", |v| url(v, &["redis", "rediss", "redis-cluster", "redis-sentinel"]).map(Some));
        let redis_password = raw.one("redis_password", |v| Ok(Some(v.to_owned())));
        let redis_pool_size = raw.one("redis_pool_size", |v| number(v, 1, 256));
        let redis_start_timeout = raw.one("redis_start_timeout", |v| number(v, 0, 3_600));
        let redis_tls_ca_file = raw.one("redis_tls_ca_file", |v| readable(v, "a PEM file of CA certificates"));
        let upstreams = raw.list("upstreams", false, |v| url(v, &["http", "https", "ws", "wss"]));
        let eth_l1_rpc_url = raw.one("eth_l1_rpc_url", |v| url(v, &["http", "https", "ws", "wss"]).map(Some));
        let heimdall_url = raw.one("heimdall_url", |v| url(v, &["http", "https"]).map(Some));
        let bor_validators = raw.list("bor_validators", true, validator);
        let upstream_rps = raw.one("upstream_rps", |v| number(v, 1, 1_000_000));
        let upstream_max_batch = raw.one("upstream_max_batch", |v| number(v, 1, 10_000));
        let retention_floor = raw.one("retention_floor", |v| number(v, 0, u64::MAX));
        let backfill_workers = raw.one("backfill_workers", |v| number(v, 1, 64));
        let backfill_rate = raw.one("backfill_rate", |v| number(v, 1, 1_000_000));
        let import = raw.one("import", |v| {
            if std::path::Path::new(v).is_dir() {
                Ok(Some(PathBuf::from(v)))
            } else {
                readable(v, "a chain.rlp file, a .e2s segment file or a folder of them")
            }
        });
        let block_time = raw.one("devnet_block_time", |v| number(v, 1, 3600));
        let seed = raw.one("devnet_seed", |v| number(v, 0, u64::MAX));
        let txs_per_block = raw.one("devnet_txs_per_block", |v| number(v, 0, hypasis_devnet::mainnet_shape::MAX_TXS_PER_BLOCK as u64));
        let prefill = raw.one("devnet_prefill", |v| number(v, 0, 10_000_000));
        let max_blocks = raw.one("cache_max_blocks", |v| number(v, 16, 100_000_000));
        let max_mb = raw.one("cache_max_mb", |v| number(v, 16, 1 << 24));
        // Alone, history goes to a local folder by default; with Redis (several instances), only
        // to the object store the operator names.
        let history_url = match raw.one("history_url", history_url) {
            Some(given) => given,
            None if redis_url.is_none() => local_dir_url(DEFAULT_HISTORY_DIR).ok(),
            None => None,
        };
        let history_cache_dir = raw.one("history_cache_dir", |v| Ok(PathBuf::from(v)));
        let history_cache_mb = raw.one("history_cache_mb", |v| number(v, 0, 1 << 40));
        let segment_blocks = raw.one("history_segment_blocks", |v| number(v, 64, hypasis_history::format::MAX_SEGMENT_BLOCKS));
        let hot_window = raw.one("history_hot_window", |v| number(v, 0, u64::MAX));
        let node_key_file = raw.one("node_key_file", key_file);
        let cluster_key_file = raw.one("cluster_key_file", |v| key_file(v).map(Some));
        let public_host = raw.one("public_host", |v| {
            if !v.is_empty() && v.len() <= 253 && !v.contains(['/', '@', ' ']) {
                Ok(Some(v.to_owned()))
            } else {
                Err(Refused(format!("{v:?} is not a host name or IP address")))
            }
        });
        let public_port = raw.one("public_port", |v| number(v, 1, 65_535).map(|p| Some(p as u16)));
        let bootnodes = raw.list("bootnodes", true, enode);
        let max_peers = raw.one("max_peers", |v| number(v, 1, 100_000));
        let p2p_handshakes_per_ip = raw.one("p2p_handshakes_per_ip", |v| number(v, 1, 100_000));
        let p2p_write_timeout = raw.one("p2p_write_timeout", |v| number(v, 1, 600));
        let p2p_peers_per_ip = raw.one("p2p_peers_per_ip", |v| number(v, 1, 100_000));
        let p2p_ban_breaches = raw.one("p2p_ban_breaches", |v| number(v, 0, 1_000_000));
        let p2p_ban_seconds = raw.one("p2p_ban_seconds", |v| number(v, 1, 7 * 86_400));
        let operators_file = raw.one("operators_file", |v| readable(v, "an operators YAML file"));
        let p2p_flood_wait = raw.one("p2p_flood_wait", |v| number(v, 1, 600));
        let proxy_protocol_from = hypasis_p2p::proxy::TrustedProxies::new(raw.list("proxy_protocol_from", true, |v| {
            v.parse::<ipnet::IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| Refused(format!("{v:?} is not an IP address or CIDR; use e.g. 10.0.0.0/8 or 172.17.0.1")))
        }));
        let trusted_peers = raw.list("trusted_peers", true, node_id);
        let state_backends = raw.list("state_backends", true, enode);
        let snap_sessions_per_backend = raw.one("snap_sessions_per_backend", |v| number(v, 1, 64));
        let snap_cache_mb = raw.one("snap_cache_mb", |v| number(v, 0, 1 << 20));
        let http_max_connections = raw.one("http_max_connections", |v| number(v, 1, 1_000_000));
        let http_idle_timeout = raw.one("http_idle_timeout", |v| number(v, 1, 3_600));
        let http_connections_per_ip = raw.one("http_connections_per_ip", |v| number(v, 1, 1_000_000));
        let tls_cert = raw.one("tls_cert", |v| readable(v, "a PEM certificate file"));
        let tls_key = raw.one("tls_key", |v| readable(v, "a PEM private key file"));
        let jwt_secret = raw.one("jwt_secret", |v| {
            if v.len() >= MIN_JWT_SECRET {
                Ok(Some(v.to_owned()))
            } else {
                Err(Refused(format!("{} characters is too short; use at least {MIN_JWT_SECRET} (e.g. `openssl rand -hex 32`)", v.len())))
            }
        });
        let leader_lease = raw.one("leader_lease_ms", |v| number(v, 300, 600_000));
        let member_ttl = raw.one("member_ttl_ms", |v| number(v, 100, 600_000));
        let heartbeat = raw.one("heartbeat_ms", |v| number(v, 50, 600_000));
        let log_format = raw.one("log_format", |v| match v {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(Refused(format!("{v:?} is not a log format; use text or json"))),
        });
        let grace = raw.one("shutdown_grace", |v| number(v, 0, 600));
        let drain = raw.one("shutdown_drain", |v| number(v, 0, 60));
        let ready_max_lag = raw.one("ready_max_lag", |v| number(v, 1, 1_000_000));
        let devnet = DevnetConfig { seed, block_time, txs_per_block: txs_per_block as usize, ..DevnetConfig::default() };
        let chain = raw.one("chain", |v| chain(v, devnet.clone()).map(Some)).unwrap_or(ChainChoice::Devnet(devnet));

        if member_ttl > 0 && heartbeat >= member_ttl {
            raw.refuse(
                "heartbeat_ms",
                format!("{heartbeat} ms is not shorter than member_ttl_ms ({member_ttl} ms): members would expire between heartbeats"),
            );
        }
        if import.is_some() && !matches!(&chain, ChainChoice::Spec(spec) if spec.genesis_header.is_some()) {
            raw.refuse(
                "import",
                "needs --chain <genesis.json> (the devnet makes its own blocks; built-in networks have no bundled genesis)".into(),
            );
        }
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => {
                raw.refuse("tls_key", "is needed with tls_cert (the certificate's private key)".into());
                None
            }
            (None, Some(_)) => {
                raw.refuse("tls_cert", "is needed with tls_key (the certificate chain)".into());
                None
            }
        };
        if !raw.errors.is_empty() {
            return Err(ConfigErrors(raw.errors));
        }
        Ok(Self {
            instance_id,
            chain,
            bind,
            api_port,
            rpc,
            p2p_port,
            redis_url,
            redis_password,
            redis_pool_size: redis_pool_size as usize,
            redis_start_timeout: Duration::from_secs(redis_start_timeout),
            redis_tls_ca_file,
            upstreams,
            eth_l1_rpc_url,
            heimdall_url,
            bor_validators,
            upstream_rps: upstream_rps as u32,
            upstream_max_batch: upstream_max_batch as usize,
            retention_floor,
            backfill_workers: backfill_workers as usize,
            backfill_rate: backfill_rate as u32,
            import,
            devnet: DevnetSettings { prefill },
            cache: MemoryStoreLimits { max_blocks: max_blocks as usize, max_bytes: (max_mb as usize) << 20 },
            history: history_url.map(|url| HistorySettings {
                url,
                cache_dir: history_cache_dir,
                cache_bytes: history_cache_mb << 20,
                segment_blocks,
                hot_window,
            }),
            node_key_file,
            cluster_key_file,
            public_host: public_host.unwrap_or_else(|| bind.to_string()),
            public_port,
            bootnodes,
            max_peers: max_peers as usize,
            p2p_handshakes_per_ip: p2p_handshakes_per_ip as usize,
            p2p_write_timeout: Duration::from_secs(p2p_write_timeout),
            p2p_peers_per_ip: p2p_peers_per_ip as usize,
            p2p_bans: hypasis_p2p::per_ip::BanPolicy {
                breaches: u32::try_from(p2p_ban_breaches).unwrap_or(u32::MAX),
                period: Duration::from_secs(p2p_ban_seconds),
            },
            trusted_peers,
            state_backends,
            snap_sessions_per_backend: snap_sessions_per_backend as usize,
            snap_cache_bytes: snap_cache_mb << 20,
            operators_file,
            p2p_flood_wait: Duration::from_secs(p2p_flood_wait),
            proxy_protocol_from,
            http_max_connections: http_max_connections as usize,
            http_idle_timeout: Duration::from_secs(http_idle_timeout),
            http_connections_per_ip: http_connections_per_ip as usize,
            tls,
            jwt_secret,
            region,
            leader_lease: Duration::from_millis(leader_lease),
            member_ttl: Duration::from_millis(member_ttl),
            heartbeat_interval: Duration::from_millis(heartbeat),
            log_format,
            shutdown_grace: Duration::from_secs(grace),
            shutdown_drain: Duration::from_secs(drain),
            ready_max_lag,
        })
    }
}

/// An existing file.
fn readable(v: &str, what: &str) -> Check<Option<PathBuf>> {
    let path = PathBuf::from(v);
    if path.is_file() { Ok(Some(path)) } else { Err(Refused(format!("{v} is not a readable file; give {what}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: &[&str]) -> Result<Settings, ConfigErrors> {
        let cli = Cli::try_parse_from(std::iter::once("hypasis-sync").chain(args.iter().copied())).unwrap();
        Settings::resolve_with_env(cli, |_| None)
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = resolve(&[]).unwrap();
        assert!(matches!(s.chain, ChainChoice::Devnet(_)));
        assert_eq!((s.api_port, s.p2p_port), (8080, 30303));
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
        assert_eq!(keys, vec!["api_port", "upstreams", "eth_l1_rpc_url", "log_format", "chain"], "{err}");
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
        std::fs::write(&path, "api_port: 9000\np2p_port: 9001\nupstreams:\n  - https://a.example\n").unwrap();
        let s = resolve(&["--config", path.to_str().unwrap(), "--p2p-port", "9999"]).unwrap();
        assert_eq!((s.api_port, s.p2p_port, s.upstreams.len()), (9000, 9999, 1));
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
    fn state_backends_are_enodes_repeated_or_comma_separated() {
        let (a, b) = (format!("enode://{}@10.0.0.5:30303", "ab".repeat(64)), format!("enode://{}@10.0.0.6:30304", "cd".repeat(64)));
        let s = resolve(&["--state-backend", &a, "--state-backend", &b]).unwrap();
        assert_eq!(s.state_backends.iter().map(|b| b.tcp).collect::<Vec<_>>(), [30303, 30304]);
        assert_eq!(resolve(&["--state-backend", &format!("{a},{b}")]).unwrap().state_backends.len(), 2);
        assert_eq!(s.snap_sessions_per_backend, hypasis_snap::pool::DEFAULT_SESSIONS_PER_BACKEND);
        assert_eq!(s.snap_cache_bytes, hypasis_snap::service::DEFAULT_ANSWER_CACHE_BYTES);
        let err = resolve(&["--state-backend", "geth.internal:30303"]).unwrap_err();
        assert!(err.to_string().contains("state_backends") && err.to_string().contains("not an enode URL"), "{err}");
        assert!(resolve(&["--snap-sessions-per-backend", "0"]).is_err());
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
    fn cluster_timings_are_settings_and_checked_together() {
        let s = resolve(&["--leader-lease-ms", "3000", "--member-ttl-ms", "4000", "--heartbeat-ms", "500"]).unwrap();
        assert_eq!(
            (s.leader_lease, s.member_ttl, s.heartbeat_interval),
            (Duration::from_secs(3), Duration::from_secs(4), Duration::from_millis(500))
        );
        let d = resolve(&[]).unwrap();
        assert_eq!(d.leader_lease, hypasis_cluster::service::DEFAULT_LEADER_LEASE);
        let err = resolve(&["--heartbeat-ms", "5000"]).unwrap_err();
        assert!(err.to_string().contains("not shorter than member_ttl_ms"), "{err}");
    }

    #[test]
    fn defaults_come_from_the_libraries_that_use_them() {
        let s = resolve(&[]).unwrap();
        assert_eq!(s.upstream_rps, hypasis_upstream::DEFAULT_REQUESTS_PER_SECOND);
        assert_eq!(s.backfill_rate, hypasis_syncer::backward::DEFAULT_BLOCKS_PER_SECOND);
        assert_eq!(s.backfill_workers, hypasis_syncer::backward::DEFAULT_WORKERS);
        assert_eq!(s.max_peers, hypasis_p2p::config::DEFAULT_MAX_PEERS);
        assert_eq!(s.cache, MemoryStoreLimits::default());
        assert_eq!((s.rpc.port, s.rpc.batch_limit, s.rpc.body_max_bytes), (8545, 1_000, 5 * 1024 * 1024));
        assert_eq!(s.rpc.read_through_max_blocks, hypasis_syncer::read_through::DEFAULT_MAX_BLOCKS);
        assert!(s.rpc.cors_origins.is_empty());
    }

    #[test]
    fn rpc_origins_are_checked() {
        let cli = Cli::try_parse_from(["hypasis-sync", "--rpc-cors-origins", "https://a.example,*"]).unwrap();
        let s = Settings::resolve_with_env(cli, |_| None).unwrap();
        assert_eq!(s.rpc.cors_origins, vec!["https://a.example".to_owned(), "*".to_owned()]);
        let cli = Cli::try_parse_from(["hypasis-sync", "--rpc-cors-origins", "a.example/path"]).unwrap();
        let err = Settings::resolve_with_env(cli, |_| None).unwrap_err().to_string();
        assert!(err.contains("rpc_cors_origins") && err.contains("is not an origin"), "{err}");
    }

    #[test]
    fn a_setting_that_does_nothing_is_refused() {
        // Flags of features not built are not accepted silently.
        assert!(Cli::try_parse_from(["hypasis-sync", "--snap-sync", "x"]).is_err());
        let cli = Cli::try_parse_from(["hypasis-sync", "--jwt-secret", "short"]).unwrap();
        let err = Settings::resolve_with_env(cli, |_| None).unwrap_err().to_string();
        assert!(err.contains("jwt_secret") && err.contains("too short") && !err.contains("short\""), "{err}");
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
