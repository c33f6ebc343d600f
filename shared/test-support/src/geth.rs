//! Real geth (go-ethereum) processes for the state tests: a full node that imported
//! go-ethereum's own devp2p test chain (`cmd/devp2p/internal/ethtest/testdata`, the chain its
//! `devp2p rlpx snap-test` suite runs against), serving eth and snap/1 on loopback.
//!
//! The binary comes from `HYPASIS_GETH_BIN`, else from `scripts/install-geth` (built from the Go
//! module proxy into `.cache/tools/` on first use). The test chain is read from the Go module
//! cache (go-ethereum's data, not copied into this repository).

use crate::free_port;
use std::{
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The go-ethereum version whose binary and test chain are used.
pub const VERSION: &str = "v1.15.11";
/// The test chain's network id (its genesis chain id).
pub const ETHTEST_NETWORK_ID: u64 = 3_503_995_874_084_926;

/// Path of the geth binary (built once per test process when `HYPASIS_GETH_BIN` is not set).
///
/// # Panics
/// When the binary cannot be found or built (Go missing, no module proxy on the first build).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::installed_tool("HYPASIS_GETH_BIN", "install-geth")).clone()
}

/// The folder of go-ethereum's devp2p test chain (`genesis.json`, `chain.rlp`, `headstate.json`,
/// …) in the Go module cache, downloaded from the module proxy when absent.
///
/// # Panics
/// When Go or the module is unavailable.
pub fn ethtest_data() -> PathBuf {
    ethtest_data_at(VERSION)
}

/// [`ethtest_data`] of go-ethereum `version` (each release's suite has its own chain).
///
/// # Panics
/// As [`ethtest_data`].
pub fn ethtest_data_at(version: &str) -> PathBuf {
    let out = Command::new("go")
        .args(["mod", "download", "-json", &format!("github.com/ethereum/go-ethereum@{version}")])
        .current_dir(std::env::temp_dir())
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("run go mod download (Go is needed for the geth tests)");
    let info: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("go mod download: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    PathBuf::from(info["Dir"].as_str().expect("module directory")).join("cmd/devp2p/internal/ethtest/testdata")
}

/// A running geth, killed on drop; its data directory lives as long as it does.
#[derive(Debug)]
pub struct Geth {
    child: Child,
    /// devp2p (TCP) address.
    pub p2p: SocketAddr,
    /// Its node key (32 bytes), so the test knows its node id.
    pub node_key: [u8; 32],
    dir: tempfile::TempDir,
}

impl Geth {
    /// geth with the devp2p test chain imported (`geth init` + `geth import`, as go-ethereum's
    /// own suite is run), no discovery, listening on a free loopback port with `node_key`.
    ///
    /// # Panics
    /// When geth cannot import the chain or does not start listening within a minute.
    pub fn with_ethtest_chain(node_key: [u8; 32]) -> Self {
        Self::with_chain(&ethtest_data(), node_key)
    }

    /// As [`Geth::with_ethtest_chain`], with the test chain in `data` (e.g. another release's,
    /// from [`ethtest_data_at`]).
    ///
    /// # Panics
    /// As [`Geth::with_ethtest_chain`].
    pub fn with_chain(data: &std::path::Path, node_key: [u8; 32]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let datadir = dir.path().join("geth");
        let run = |args: &[&str]| {
            let out = Command::new(binary()).arg("--datadir").arg(&datadir).args(args).output().expect("run geth");
            assert!(out.status.success(), "geth {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&["init", data.join("genesis.json").to_str().expect("utf-8 path")]);
        run(&["import", data.join("chain.rlp").to_str().expect("utf-8 path")]);
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("geth.log")).expect("log file");
        let child = Command::new(binary())
            .arg("--datadir")
            .arg(&datadir)
            .args(["--nodiscover", "--nat", "none", "--ipcdisable", "--maxpeers", "50"])
            .args(["--networkid", &ETHTEST_NETWORK_ID.to_string()])
            .args(["--port", &port.to_string(), "--authrpc.port", &free_port().to_string()])
            .args(["--nodekeyhex", &hex(&node_key), "--verbosity", "3"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start geth");
        let geth = Self { child, p2p: SocketAddr::from(([127, 0, 0, 1], port)), node_key, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&geth.p2p, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "geth did not listen on {}; log:\n{}", geth.p2p, geth.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        geth
    }

    /// geth's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("geth.log")).unwrap_or_default()
    }
}

impl Drop for Geth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
