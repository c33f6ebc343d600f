//! `hypasis-devnet-rpc` as a process: it prints its URL, answers JSON-RPC over a real socket,
//! stops on SIGTERM, and refuses a bad command line with exit 64 before binding anything.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
};

fn post(url: &str, body: &str) -> String {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).expect("connect");
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn serves_its_prefilled_chain_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hypasis-devnet-rpc"))
        .args(["--listen", "127.0.0.1:0", "--prefill", "10", "--no-produce"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hypasis-devnet-rpc");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut url).expect("the URL line");
    let url = url.trim();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let answer = post(url, r#"{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}"#);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""result":"0xa""#), "ten prefilled blocks, none produced: {answer}");
    let answer = post(url, r#"{"jsonrpc":"2.0","id":8,"method":"eth_getBlockByNumber","params":["0xb",false]}"#);
    assert!(answer.contains(r#""result":null"#), "block 11 does not exist: {answer}");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "a clean stop on SIGTERM: {status}");
}

#[test]
fn a_bad_command_line_exits_64_with_the_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_hypasis-devnet-rpc"))
        .args(["--listen", "127.0.0.1:0", "--txs-per-block", "100000"])
        .output()
        .expect("run hypasis-devnet-rpc");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--txs-per-block"), "{stderr}");
    assert!(output.stdout.is_empty(), "no URL printed: nothing was served");
}
