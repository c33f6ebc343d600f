//! Real Bor (the Polygon PoS client, `github.com/maticnetwork/bor`) processes for tests.
//!
//! - [`Bor::producer`]: `bor server --dev` (clique), whose developer account is a key the test
//!   holds (written to the keystore before start, so the test can sign transactions from it).
//! - [`Bor::validator`]: `bor server --bor.withoutheimdall --mine` on a Bor-consensus genesis
//!   (validator-set contract, sprints, spans, a real seal on every block) with one validator key.
//! - [`Bor::follower`]: a fresh node that knows nobody but the static + trusted peers written
//!   into its `config.toml` (`[p2p.discovery] static-nodes` and `trusted-nodes`), full sync, no
//!   discovery.
//!
//! The binary comes from `HYPASIS_BOR_BIN`, else from `scripts/install-bor` (which builds it from
//! the Go module proxy into `.cache/tools/` on first use). Everything listens on loopback.

use crate::free_port;
use alloy_primitives::{Address, B256, U256, keccak256};
use serde_json::{Value, json};
use std::{
    fmt::Write as _,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// Bor's public test key (go-ethereum's test key, used by Bor's own tests): the one validator of
/// [`test_genesis`].
pub const TEST_VALIDATOR_KEY: B256 = alloy_primitives::b256!("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291");

/// Bor's own test genesis (`tests/bor/testdata/genesis.json` of the Bor module, chain id 15001,
/// whose validator contract names [`TEST_VALIDATOR_KEY`]'s address), read from the Go module
/// cache at test time (downloaded from the Go module proxy when absent): Bor's data, not copied
/// into this repository.
///
/// # Panics
/// When Go or the module is unavailable.
pub fn test_genesis() -> Value {
    let version = std::env::var("BOR_VERSION").unwrap_or_else(|_| "v1.5.5".into());
    let out = Command::new("go")
        .args(["mod", "download", "-json", &format!("github.com/maticnetwork/bor@{version}")])
        .current_dir(std::env::temp_dir())
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("run go mod download (Go is needed for the Bor tests)");
    let info: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("go mod download: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let dir = PathBuf::from(info["Dir"].as_str().expect("module directory"));
    let text = std::fs::read_to_string(dir.join("tests/bor/testdata/genesis.json")).expect("Bor's test genesis");
    serde_json::from_str(&text).expect("genesis JSON")
}

/// Bor's test genesis with a chain config for short tests: Shanghai at 4, Cancun at 12, sprints of
/// 4 (as the genesis contract's first span expects) then 16 from block 16, a producer delay of
/// 2 s. [`Bor::validator`] seals it with [`TEST_VALIDATOR_KEY`].
///
/// # Panics
/// As [`test_genesis`].
pub fn consensus_genesis() -> Value {
    let mut genesis = test_genesis();
    let config = &mut genesis["config"];
    config["shanghaiBlock"] = serde_json::json!(4);
    config["cancunBlock"] = serde_json::json!(12);
    config["bor"]["producerDelay"] = serde_json::json!({ "0": 2 });
    config["bor"]["sprint"] = serde_json::json!({ "0": 4, "16": 16 });
    genesis
}

/// How long a started Bor gets to answer JSON-RPC.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Path of the Bor binary (built once per test process when `HYPASIS_BOR_BIN` is not set).
///
/// # Panics
/// When the binary cannot be found or built (Go missing, no network on the first build).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::installed_tool("HYPASIS_BOR_BIN", "install-bor")).clone()
}

/// A running Bor, killed on drop. Its data directory lives as long as it does.
#[derive(Debug)]
pub struct Bor {
    child: Child,
    /// JSON-RPC over HTTP.
    pub http: SocketAddr,
    /// devp2p (TCP) port.
    pub p2p_port: u16,
    dir: tempfile::TempDir,
}

impl Bor {
    /// `bor server --dev` sealing every `period` seconds (0: a block whenever transactions are
    /// pending), its developer account being `key` (a 32-byte secp256k1 secret).
    ///
    /// # Panics
    /// When Bor does not start.
    pub fn producer(key: &B256, period: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keystore = dir.path().join("data/keystore");
        std::fs::create_dir_all(&keystore).expect("keystore dir");
        std::fs::write(keystore.join("developer.json"), keystore_v3(key).to_string()).expect("keystore file");
        let (http, p2p) = (free_port(), free_port());
        let args = vec![
            "server".to_owned(),
            "--dev".into(),
            "--dev.period".into(),
            period.to_string(),
            "--datadir".into(),
            dir.path().join("data").display().to_string(),
            "--port".into(),
            p2p.to_string(),
            "--nodiscover".into(),
            "--maxpeers".into(),
            "20".into(),
            "--http".into(),
            "--http.addr".into(),
            "127.0.0.1".into(),
            "--http.port".into(),
            http.to_string(),
            "--http.api".into(),
            "eth,net,web3,debug,bor,admin,txpool".into(),
            "--grpc.addr".into(),
            format!("127.0.0.1:{}", free_port()),
            "--authrpc.port".into(),
            free_port().to_string(),
            "--ipcdisable".into(),
        ];
        Self::spawn(dir, &args, http, p2p)
    }

    /// A Bor validator without Heimdall (`--bor.withoutheimdall --mine`) on the chain in
    /// `genesis`, sealing with `key` (which must be in the genesis validator set).
    ///
    /// # Panics
    /// When Bor does not start.
    pub fn validator(genesis: &Path, key: &B256) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keystore = dir.path().join("data/keystore");
        std::fs::create_dir_all(&keystore).expect("keystore dir");
        std::fs::write(keystore.join("validator.json"), keystore_v3(key).to_string()).expect("keystore file");
        let password = dir.path().join("password");
        std::fs::write(&password, "").expect("password file");
        let address = format!("{:#x}", alloy_signer_local::PrivateKeySigner::from_bytes(key).expect("a valid secret").address());
        let (http, p2p) = (free_port(), free_port());
        let args: Vec<String> = [
            "server",
            "--chain",
            &genesis.display().to_string(),
            "--datadir",
            &dir.path().join("data").display().to_string(),
            "--bor.withoutheimdall",
            "--mine",
            "--miner.etherbase",
            &address,
            "--unlock",
            &address,
            "--password",
            &password.display().to_string(),
            "--allow-insecure-unlock",
            "--port",
            &p2p.to_string(),
            "--nodiscover",
            "--maxpeers",
            "20",
            "--http",
            "--http.addr",
            "127.0.0.1",
            "--http.port",
            &http.to_string(),
            "--http.api",
            "eth,net,web3,debug,bor,admin",
            "--grpc.addr",
            &format!("127.0.0.1:{}", free_port()),
            "--authrpc.port",
            &free_port().to_string(),
            "--ipcdisable",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        Self::spawn(dir, &args, http, p2p)
    }

    /// A fresh full-sync Bor for the chain in `genesis` whose only peers are `peers` (static and
    /// trusted), with discovery off.
    ///
    /// # Panics
    /// When Bor does not start.
    pub fn follower(genesis: &Path, peers: &[String]) -> Self {
        Self::follower_with(genesis, peers, "")
    }

    /// [`Bor::follower`] for a Bor-consensus chain run without Heimdall (`bor.without`): it
    /// reads spans from the chain's validator contract, as the validator that made it does.
    ///
    /// # Panics
    /// When Bor does not start.
    pub fn follower_without_heimdall(genesis: &Path, peers: &[String]) -> Self {
        Self::follower_with(genesis, peers, "\n[heimdall]\n  \"bor.without\" = true\n")
    }

    fn follower_with(genesis: &Path, peers: &[String], extra_config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (http, p2p) = (free_port(), free_port());
        let mut config = follower_config(genesis, &dir.path().join("data"), peers, http, p2p, free_port(), free_port());
        config.push_str(extra_config);
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).expect("config.toml");
        Self::spawn(dir, &["server".into(), "--config".into(), config_path.display().to_string()], http, p2p)
    }

    fn spawn(dir: tempfile::TempDir, args: &[String], http: u16, p2p_port: u16) -> Self {
        let log = std::fs::File::create(dir.path().join("bor.log")).expect("log file");
        let child = Command::new(binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn bor");
        let bor = Self { child, http: SocketAddr::from(([127, 0, 0, 1], http)), p2p_port, dir };
        let deadline = Instant::now() + START_DEADLINE;
        while bor.try_rpc("eth_blockNumber", json!([])).is_err() {
            assert!(Instant::now() < deadline, "Bor did not answer JSON-RPC within {START_DEADLINE:?}:\n{}", bor.log_tail(40));
            std::thread::sleep(Duration::from_millis(200));
        }
        bor
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("bor.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bor.log")).unwrap_or_default()
    }

    /// Calls `method`; `Err` carries the JSON-RPC error object or a transport error.
    ///
    /// # Errors
    /// The error object, or a string when the request failed.
    pub fn try_rpc(&self, method: &str, params: Value) -> Result<Value, Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let answer = post_json(self.http, &body).map_err(Value::String)?;
        match answer.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Calls `method`, which must succeed.
    ///
    /// # Panics
    /// On an error answer.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params).unwrap_or_else(|e| panic!("bor {method}: {e}"))
    }

    /// Its head block number.
    pub fn head(&self) -> u64 {
        quantity(&self.rpc("eth_blockNumber", json!([])))
    }

    /// Hashes of blocks `from..=to` (`None` where it lacks the block).
    pub fn hashes(&self, from: u64, to: u64) -> Vec<Option<B256>> {
        (from..=to)
            .map(|n| self.rpc("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))["hash"].as_str().and_then(|h| h.parse().ok()))
            .collect()
    }

    /// The geth-style genesis JSON of a `--dev` chain whose developer account is `faucet`: the
    /// chain config as Bor reports it (`admin_nodeInfo`), the header fields of its block 0, and
    /// the developer allocation (precompiles 1..9 with 1 wei, the faucet with 2^256 - 9 wei).
    pub fn dev_genesis(&self, faucet: Address) -> Value {
        let config = self.rpc("admin_nodeInfo", json!([]))["protocols"]["eth"]["config"].clone();
        let block = self.rpc("eth_getBlockByNumber", json!(["0x0", false]));
        let mut alloc = serde_json::Map::new();
        for i in 1..=9u8 {
            alloc.insert(format!("{:#x}", Address::with_last_byte(i)), json!({ "balance": "0x1" }));
        }
        alloc.insert(format!("{faucet:#x}"), json!({ "balance": format!("{:#x}", U256::MAX - U256::from(8)) }));
        json!({
            "config": config,
            "nonce": block["nonce"],
            "timestamp": block["timestamp"],
            "extraData": block["extraData"],
            "gasLimit": block["gasLimit"],
            "difficulty": block["difficulty"],
            "mixHash": block["mixHash"],
            "coinbase": block["miner"],
            "baseFeePerGas": block["baseFeePerGas"],
            "alloc": alloc,
        })
    }

    /// Blocks `1..=to` as `chain.rlp` (the RLP of each block, one after another), from
    /// `debug_getRawBlock`.
    pub fn export_chain(&self, to: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for n in 1..=to {
            let raw = self.rpc("debug_getRawBlock", json!([format!("{n:#x}")]));
            let raw = raw.as_str().expect("hex").trim_start_matches("0x");
            out.extend(alloy_primitives::hex::decode(raw).expect("hex"));
        }
        out
    }

    /// Stops it with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bor {
    fn drop(&mut self) {
        if std::env::var_os("HYPASIS_KEEP_BOR_LOGS").is_some() {
            let keep = std::env::temp_dir().join(format!("bor-{}.log", self.child.id()));
            let _ = std::fs::copy(self.dir.path().join("bor.log"), &keep);
            eprintln!("bor log kept at {}", keep.display());
        }
        self.kill();
    }
}

/// The follower's `config.toml`.
fn follower_config(genesis: &Path, datadir: &Path, peers: &[String], http: u16, p2p: u16, grpc: u16, auth: u16) -> String {
    let list = |items: &[String]| items.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ");
    let mut config = String::new();
    let _ = writeln!(config, "chain = \"{}\"", genesis.display());
    let _ = writeln!(config, "datadir = \"{}\"", datadir.display());
    let _ = writeln!(config, "syncmode = \"full\"");
    let _ = writeln!(config, "verbosity = 3");
    let _ = writeln!(config, "\n[p2p]\n  port = {p2p}\n  maxpeers = 10\n  nodiscover = true\n  nat = \"none\"");
    let _ = writeln!(config, "  [p2p.discovery]\n    static-nodes = [{}]\n    trusted-nodes = [{}]", list(peers), list(peers));
    let _ = writeln!(config, "\n[jsonrpc]\n  ipcdisable = true");
    let _ = writeln!(
        config,
        "  [jsonrpc.http]\n    enabled = true\n    host = \"127.0.0.1\"\n    port = {http}\n    api = [\"eth\", \"net\", \"web3\", \"admin\", \"debug\"]"
    );
    let _ = writeln!(config, "  [jsonrpc.auth]\n    port = {auth}");
    let _ = writeln!(config, "\n[grpc]\n  addr = \"127.0.0.1:{grpc}\"");
    config
}

/// A Web3 Secret Storage (v3) key file holding `key` under the empty password, with PBKDF2
/// (one iteration: a test key, not a secret) so no scrypt is needed. Bor `--dev` unlocks the
/// first keystore account with the empty password.
fn keystore_v3(key: &B256) -> Value {
    use aes::cipher::{KeyIvInit, StreamCipher};
    use hmac::{Hmac, Mac};
    let salt = keccak256(b"hypasis test keystore salt");
    let iv = [7u8; 16];
    // PBKDF2-HMAC-SHA256 with c = 1 and dkLen = 32 is one block: HMAC(password, salt || 1).
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"").expect("any key length");
    mac.update(salt.as_slice());
    mac.update(&1u32.to_be_bytes());
    let derived = mac.finalize().into_bytes();
    let mut ciphertext = key.0;
    ctr::Ctr128BE::<aes::Aes128>::new(derived[..16].into(), (&iv).into()).apply_keystream(&mut ciphertext);
    let check = keccak256([&derived[16..32], &ciphertext[..]].concat());
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(key).expect("a valid secret");
    json!({
        "address": format!("{:x}", signer.address()),
        "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
        "version": 3,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": alloy_primitives::hex::encode(iv) },
            "ciphertext": alloy_primitives::hex::encode(ciphertext),
            "kdf": "pbkdf2",
            "kdfparams": { "c": 1, "dklen": 32, "prf": "hmac-sha256", "salt": alloy_primitives::hex::encode(salt) },
            "mac": alloy_primitives::hex::encode(check),
        }
    })
}

/// POSTs `body` to `addr` over HTTP/1.0 and parses the JSON answer.
fn post_json(addr: SocketAddr, body: &str) -> Result<Value, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    write!(stream, "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let (_, body) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

/// A hex quantity.
///
/// # Panics
/// When `value` is not one.
pub fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().expect("a hex quantity").trim_start_matches("0x"), 16).expect("hex")
}
