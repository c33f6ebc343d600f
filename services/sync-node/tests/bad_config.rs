//! Bad configuration: exit 64 with a message naming the key and what to change; never a panic.

mod support;

use support::run_to_exit;

const EXIT_CONFIG: i32 = 64;

fn assert_config_error(args: &[&str], needles: &[&str]) {
    let (code, stderr) = run_to_exit(args);
    assert_eq!(code, EXIT_CONFIG, "args {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "args {args:?}: expected {n:?} in:\n{stderr}");
    }
}

#[test]
fn port_out_of_range() {
    assert_config_error(&["--p2p-port", "70000"], &["p2p_port", "--p2p-port", "70000 is out of range", "use a port from 0 to 65535"]);
}

#[test]
fn bad_urls() {
    assert_config_error(&["--eth-l1-rpc-url", "localhost:8545"], &["eth_l1_rpc_url", "use one of http, https"]);
    assert_config_error(&["--upstream", "not a url"], &["upstreams", "is not a valid URL"]);
}

#[test]
fn missing_files() {
    assert_config_error(&["--config", "/definitely/missing.yaml"], &["config", "cannot read /definitely/missing.yaml", "--config"]);
    assert_config_error(&["--chain", "/definitely/missing-genesis.json"], &["chain", "neither a known chain"]);
}

#[test]
fn unknown_keys_and_every_error_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hypasis.yaml");
    std::fs::write(&path, "api_prot: 8080\nrpc_batch_limit: 0\nlog_format: xml\n").expect("write");
    let (code, stderr) = run_to_exit(&["--config", path.to_str().expect("utf-8"), "--devnet-block-time", "0"]);
    assert_eq!(code, EXIT_CONFIG, "{stderr}");
    for needle in
        ["4 problems", "unknown setting `api_prot`; did you mean `api_port`?", "rpc_batch_limit", "log_format", "devnet_block_time"]
    {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}

#[test]
fn malformed_yaml_and_genesis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = dir.path().join("bad.yaml");
    std::fs::write(&yaml, "api_port: [unclosed\n").expect("write");
    assert_config_error(&["--config", yaml.to_str().expect("utf-8")], &["not valid YAML"]);
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, "{\"config\": 5}").expect("write");
    assert_config_error(&["--chain", genesis.to_str().expect("utf-8")], &["chain", "genesis"]);
}

#[test]
fn unknown_flags_are_usage_errors() {
    assert_config_error(&["--no-such-flag"], &["--no-such-flag"]);
}

#[test]
fn a_port_in_use_names_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    let key = key.to_str().expect("utf-8");
    let (code, stderr) = run_to_exit(&["--api-port", &port, "--rpc-port", "0", "--node-key-file", key]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("choose another address with --api-port"), "{stderr}");
    let (code, stderr) = run_to_exit(&["--api-port", "0", "--rpc-port", &port, "--node-key-file", key]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("choose another address with --rpc-port"), "{stderr}");
}

#[test]
fn a_p2p_port_in_use_exits_at_once_without_a_log_spin() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    let (code, stderr) =
        run_to_exit(&["--p2p-port", &port, "--api-port", "0", "--rpc-port", "0", "--node-key-file", key.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("choose another address with --p2p-port"), "{stderr}");
    // The devnet source started before the network: it must stop once, not spin.
    let terms = stderr.lines().filter(|l| l.contains("leading") || l.contains("leadership lost")).count();
    assert!(terms <= 2, "{terms} leadership lines:\n{stderr}");
}

#[test]
fn a_bad_key_file_exits_64_before_any_port_is_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    std::fs::write(&key, "not a key").expect("write");
    // The API port is taken: a node that bound ports before reading its key would fail on the
    // port (exit 1) instead of naming the key file.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (code, stderr) = run_to_exit(&["--api-port", &port, "--node-key-file", key.to_str().expect("utf-8")]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("node.key") && stderr.contains("64 hex characters"), "{stderr}");
    assert!(!stderr.contains("--api-port"), "no port was tried: {stderr}");
}

#[test]
fn a_public_host_that_does_not_resolve_exits_64_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    let (code, stderr) = run_to_exit(&["--public-host", "no-such-host.invalid", "--node-key-file", key.to_str().expect("utf-8")]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("cannot resolve --public-host \"no-such-host.invalid\""), "{stderr}");
}

#[test]
fn a_bad_validator_set_names_the_flag() {
    assert_config_error(&["--bor-validators", "0x71562b71999873DB5b286dF957af199Ec94617F7"], &["bor_validators", "is not ADDRESS:POWER"]);
    assert_config_error(
        &["--bor-validators", "0x71562b71999873DB5b286dF957af199Ec94617F7:0"],
        &["bor_validators", "is not a voting power"],
    );
    // Polygon networks have no genesis file here to anchor a set at: Heimdall's spans are the way.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    let args = [
        "--chain",
        "polygon-amoy",
        "--bor-validators",
        "0x71562b71999873DB5b286dF957af199Ec94617F7:10",
        "--node-key-file",
        key.to_str().expect("utf-8"),
    ];
    assert_config_error(&args, &["--bor-validators", "polygon-amoy has no genesis file here", "--heimdall-url"]);
}

#[test]
fn a_key_file_others_can_read_or_of_the_wrong_length_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("node.key");
    let path = key.to_str().expect("utf-8");
    // Written with the default umask: 0644, readable by everyone.
    std::fs::write(&key, "11".repeat(32)).expect("write");
    assert_config_error(&["--node-key-file", path], &["node.key", "readable by group or others", "chmod 600"]);
    std::fs::write(&key, "11".repeat(31)).expect("write");
    assert_config_error(&["--node-key-file", path], &["found 62 characters", "64 hex characters"]);
}
