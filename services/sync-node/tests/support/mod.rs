//! Helpers for tests that run the real `hypasis-sync` binary.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A running node, killed on drop.
pub struct Node {
    pub child: Child,
    pub api: SocketAddr,
    pub rpc: SocketAddr,
    pub p2p: SocketAddr,
    pub enodes: Vec<String>,
    _data: tempfile::TempDir,
}

impl Node {
    /// Starts the binary with `args` plus `--api-port 0` and waits for its listen line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_wrapped(&[], args)
    }

    /// As [`Node::start`], run through `wrapper` (a program and its arguments, given the binary
    /// and its arguments after them), e.g. a shell that lowers a limit first.
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let key = data.path().join("node.key");
        let binary = env!("CARGO_BIN_EXE_hypasis-sync");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        // History segments cached in this node's own folder, not the working directory's; alone,
        // the segments themselves too.
        command.env("HISTORY_CACHE_DIR", data.path().join("history-cache"));
        if !args.contains(&"--redis-url") {
            command.env("HISTORY_URL", data.path().join("history"));
        }
        let mut child = command
            .args(args)
            .args(["--api-port", "0", "--rpc-port", "0", "--p2p-port", "0", "--node-key-file", key.to_str().expect("utf-8")])
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn hypasis-sync");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut api, mut rpc, mut p2p, mut enodes) = (None, None, None, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(30);
        while api.is_none() || rpc.is_none() || p2p.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("node printed its listen addresses");
            let unscheme = |rest: &str| rest.strip_prefix("https://").or_else(|| rest.strip_prefix("http://")).map(str::to_owned);
            if let Some(rest) = line.strip_prefix("REST API listening on ").and_then(unscheme) {
                api = rest.split_whitespace().next().map(|a| a.parse().expect("socket address"));
            } else if let Some(rest) = line.strip_prefix("JSON-RPC listening on ").and_then(unscheme) {
                rpc = Some(rest.trim().parse().expect("socket address"));
            } else if let Some(rest) = line.split_once(" listening on ").filter(|(l, _)| l.starts_with("devp2p")) {
                p2p = Some(rest.1.trim().parse().expect("socket address"));
            }
        }
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(enode) = line.strip_prefix("enode: ") {
                enodes.push(enode.to_owned());
            }
        }
        Self { child, api: api.expect("api"), rpc: rpc.expect("rpc"), p2p: p2p.expect("p2p"), enodes, _data: data }
    }

    /// `GET path` → (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.api, "GET", path)
    }

    /// Parsed JSON of `GET path`, asserting 200.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// The sum of every series of metric `name` whose labels contain each of `labels` (e.g.
    /// `tier="redis"`); 0 when none is exported.
    pub fn metric_sum(&self, name: &str, labels: &[&str]) -> f64 {
        let body = self.get("/metrics").1;
        body.lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
            .filter(|l| labels.iter().all(|label| l.contains(label)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        self.wait_exit(within)
    }

    /// Waits for the process to exit (after a signal sent elsewhere) → its status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "node did not stop within {within:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 request.
pub fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, body.to_owned())
}

/// A JSON-RPC call over HTTP/1.0 → the whole response object; `None` when the node cannot be
/// reached or answers something that is not JSON.
pub fn rpc(addr: SocketAddr, method: &str, params: serde_json::Value) -> Option<serde_json::Value> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

/// Polls `check` until it returns `Some`, or panics after `within`.
pub fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the binary to completion → (exit code, stderr).
pub fn run_to_exit(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hypasis-sync"))
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("CHAIN")
        .output()
        .expect("run hypasis-sync");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A Status for the node's chain built from its REST status.
pub fn status_for(status: &serde_json::Value) -> hypasis_eth_wire::eth::status::Status {
    let hash = |v: &serde_json::Value| v.as_str().expect("hash").parse().expect("b256");
    let fork_hash = u32::from_str_radix(status["fork_id"]["hash"].as_str().expect("fork hash").trim_start_matches("0x"), 16).expect("hex");
    hypasis_eth_wire::eth::status::Status {
        version: 69,
        network_id: status["network_id"].as_u64().expect("network id"),
        total_difficulty: Some(alloy_primitives::U256::from(1)),
        genesis: hash(&status["genesis_hash"]),
        fork_id: alloy_eip2124::ForkId {
            hash: alloy_eip2124::ForkHash(fork_hash.to_be_bytes()),
            next: status["fork_id"]["next"].as_u64().expect("next"),
        },
        head: hash(&status["genesis_hash"]),
        range: Some((0, 0)),
    }
}

/// An admin token for `secret`, minted by `hypasis-sync token`.
pub fn admin_token(secret: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hypasis-sync"))
        .args(["token", "--ttl", "1h", "--subject", "test"])
        .env("JWT_SECRET", secret)
        .output()
        .expect("run hypasis-sync token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// `method url` with a bearer token and an optional JSON body → (status, JSON body).
pub async fn admin_call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}")))
}

/// Polls the async `check` until it returns `Some`, or panics after `within`.
pub async fn eventually_async<T, F: std::future::Future<Output = Option<T>>>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
