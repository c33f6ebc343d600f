//! Helpers for tests that need real services on loopback.
//!
//! - [`bor`]: real Bor processes (a `--dev` producer, fresh followers with static peers).
//! - [`nginx`]: a real nginx passing TCP through to several backends.
//! - [`redis`]: a real `redis-server` on a free port, which a test can kill and restart.
//! - [`redis_cluster`]: a real three-master Redis Cluster.
//! - [`seaweedfs`]: a real S3-compatible object store (SeaweedFS).
//! - [`tls`]: a test CA and server certificate made with `openssl`.

pub mod bor;
pub mod geth;
pub mod nginx;
pub mod redis;
pub mod redis_cluster;
pub mod seaweedfs;
pub mod tls;

/// The path of a tool the tests run (Bor, geth, SeaweedFS): `$env_var` when set, else what
/// `scripts/<script>` prints after building it from the Go module proxy into `.cache/tools`.
///
/// # Panics
/// When the script fails (Go missing, no module proxy on the first build).
pub fn installed_tool(env_var: &str, script: &str) -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os(env_var) {
        return std::path::PathBuf::from(bin);
    }
    run_install_script(script, &[])
}

/// go-ethereum's `devp2p` tool (its conformance suites) at `version`, built by
/// `scripts/install-devp2p` into `.cache/tools` on first use.
///
/// # Panics
/// As [`installed_tool`].
pub fn devp2p_tool(version: &str) -> std::path::PathBuf {
    run_install_script("install-devp2p", &[version])
}

fn run_install_script(script: &str, args: &[&str]) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(script);
    let out = std::process::Command::new(&path)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(out.status.success(), "scripts/{script} failed ({}); it needs Go and the Go module proxy", out.status);
    std::path::PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

/// A TCP port that was free a moment ago.
///
/// # Panics
/// When no port can be bound on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Either deployment, so one test body runs against both.
#[derive(Debug)]
pub enum AnyRedis {
    /// One `redis-server`.
    Single(redis::RedisServer),
    /// A three-master Redis Cluster.
    Cluster(redis_cluster::RedisCluster),
}

impl AnyRedis {
    /// A standalone server.
    pub fn single() -> Self {
        Self::Single(redis::RedisServer::start())
    }

    /// A three-master cluster.
    pub fn cluster() -> Self {
        Self::Cluster(redis_cluster::RedisCluster::start(3))
    }

    /// The URL to connect with.
    pub fn url(&self) -> String {
        match self {
            Self::Single(s) => s.url(),
            Self::Cluster(c) => c.url(),
        }
    }

    /// Kills every process (SIGKILL).
    pub fn kill(&mut self) {
        match self {
            Self::Single(s) => s.kill(),
            Self::Cluster(c) => c.kill(),
        }
    }

    /// Starts everything again with its data.
    pub fn restart(&mut self) {
        match self {
            Self::Single(s) => s.restart(),
            Self::Cluster(c) => c.restart(),
        }
    }
}
