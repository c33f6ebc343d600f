//! `hypasis-rpc-load` against a small JSON-RPC server on a real socket: what it counts as
//! answered and what as refused, and its exit status.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

/// Serves keep-alive HTTP/1.1 on a free port; each request body goes through `answer`.
fn serve(answer: fn(&str) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || connection(stream, answer));
        }
    });
    url
}

fn connection(stream: TcpStream, answer: fn(&str) -> String) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let reply = answer(&String::from_utf8_lossy(&body));
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", reply.len());
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(reply.as_bytes())).is_err() {
            return;
        }
    }
}

/// A block for every number, whose data happens to hold the text `"error":` (inside a string).
fn every_block(request: &str) -> String {
    let number = request.split("\"params\":[\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("?");
    format!(r#"{{"jsonrpc":"2.0","id":1,"result":{{"number":"{number}","extraData":"{{\"error\":1}}"}}}}"#)
}

/// Blocks up to 3; after that `null` (not known yet), and block 5 a JSON-RPC error.
fn up_to_three(request: &str) -> String {
    match request.split("\"params\":[\"").nth(1).and_then(|rest| rest.split('"').next()) {
        Some("0x1" | "0x2" | "0x3") => every_block(request),
        Some("0x5") => r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"busy"}}"#.to_owned(),
        _ => r#"{"jsonrpc":"2.0","id":1,"result":null}"#.to_owned(),
    }
}

/// Block 2 is refused three times (not there yet), then served.
fn late_block_two(request: &str) -> String {
    static REFUSED: AtomicU32 = AtomicU32::new(0);
    if request.contains("\"0x2\"") && REFUSED.fetch_add(1, Ordering::SeqCst) < 3 {
        return r#"{"jsonrpc":"2.0","id":1,"result":null}"#.to_owned();
    }
    every_block(request)
}

fn walk(url: &str, blocks: u64) -> (bool, String) {
    walk_with(url, blocks, &["--connections", "2"])
}

fn walk_with(url: &str, blocks: u64, extra: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hypasis-rpc-load"))
        .args(["--url", url, "--walk", &blocks.to_string()])
        .args(extra)
        .args(["--body", r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["BLOCK",false]}"#])
        .output()
        .expect("run hypasis-rpc-load");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_walk_counts_every_block_answered() {
    let (ok, summary) = walk(&serve(every_block), 20);
    assert!(ok, "{summary}");
    assert!(summary.contains("requests=40 errors=0 retries=0"), "two connections, 20 blocks each, none refused: {summary}");
}

#[test]
fn a_walk_counts_null_results_and_errors_as_refused() {
    let (ok, summary) = walk(&serve(up_to_three), 6);
    assert!(!ok, "refusals make the run fail: {summary}");
    assert!(summary.contains("requests=12 errors=6 retries=0"), "blocks 4 (null), 5 (error) and 6 (null) on each connection: {summary}");
}

#[test]
fn a_syncing_walk_asks_again_for_a_block_not_there_yet() {
    let (ok, summary) = walk_with(&serve(late_block_two), 3, &["--connections", "1", "--retry-ms", "10", "--seconds", "30"]);
    assert!(ok, "{summary}");
    assert!(summary.contains("requests=6 errors=0 retries=3"), "block 2 asked four times: {summary}");
}

#[test]
fn an_unreachable_url_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let output = Command::new(env!("CARGO_BIN_EXE_hypasis-rpc-load"))
        .args(["--url", &format!("http://127.0.0.1:{port}/"), "--body", "{}", "--seconds", "1"])
        .output()
        .expect("run hypasis-rpc-load");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("hypasis-rpc-load:") && stderr.contains("connect"), "{stderr}");
}
