//! Files operators write: the node's config file, the operators file and genesis files.

/// The config file, resolved as the node resolves it at start (errors collected, never a panic).
pub(crate) fn config_file(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("config.yaml");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let args = ["hypasis-sync", "--config", path.to_str().unwrap_or_default()];
    if let Ok(cli) = hypasis_sync::config::Cli::try_parse_from(args) {
        let _ = hypasis_sync::config::Settings::resolve(cli);
    }
}

pub(crate) fn config_file_seeds() -> Vec<Vec<u8>> {
    let cloud = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.cloud.yaml");
    let mut seeds = vec![b"api_port: 8080\nredis:\n  url: redis://127.0.0.1:6379\n  pool_size: 4\nmax_peers: 10\n".to_vec()];
    seeds.extend(std::fs::read(cloud));
    seeds
}

/// The operators file (the same document the admin API and Redis hold).
pub(crate) fn operators_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hypasis_limits::registry::Registry::parse(text, "operators.yaml");
    }
}

pub(crate) fn operators_file_seeds() -> Vec<Vec<u8>> {
    // The example in docs/OPERATORS.md.
    vec![
        b"anonymous: { requests_per_second: 20, burst: 100 }
global: { requests_per_second: 20000 }
tiers:
  standard: { requests_per_second: 200, burst: 1000 }
operators:
  - name: acme
    tier: standard
    api_key_sha256: [9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08]
    node_ids: [a979fb575495b8d6db44f750317d0f4622bf4c2aa3365d6af7c284339968eef29b69ad0dce72a4d8db5ebb4968de0e3bec910127f134779fbcb0cb6d3331163c]
  - name: hypasis-monitoring
    limits: { requests_per_second: 1, bytes_per_second: 1000000, max_peers: 2 }
    trusted: true
"
        .to_vec(),
    ]
}

/// A geth-style genesis file (`--chain genesis.json`).
pub(crate) fn genesis_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(doc) = hypasis_chain::genesis::GenesisDoc::parse(text)
    {
        let _ = doc.header();
    }
}

pub(crate) fn genesis_file_seeds() -> Vec<Vec<u8>> {
    let mainnet = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain/testdata/ethereum-mainnet-genesis.json");
    std::fs::read(mainnet).into_iter().collect()
}
