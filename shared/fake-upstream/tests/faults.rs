//! Faults a real upstream has, played by the devnet server: a tip that reorganises onto another
//! branch, and a provider that hangs.

use alloy_primitives::B256;
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_fake_upstream::{DevnetRpc, DevnetRpcConfig, MAX_REORG_DEPTH, ReorgError};
use serde_json::{Value, json};
use std::time::Duration;

const PREFILL: u64 = 100;

async fn server(milestone_interval: u64) -> DevnetRpc {
    let config = DevnetRpcConfig { prefill: PREFILL, milestone_interval, ..DevnetRpcConfig::default() };
    DevnetRpc::spawn(config).await.expect("spawn")
}

/// `(hash, parentHash)` of block `n` as served, `None` when the server has no such block.
async fn block(client: &reqwest::Client, rpc: &DevnetRpc, n: u64) -> Option<(B256, B256)> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [format!("{n:#x}"), false]});
    let answer: Value = client.post(rpc.url()).json(&body).send().await.expect("send").json().await.expect("json");
    let block = answer["result"].as_object()?;
    let hash = |key: &str| block[key].as_str().expect("a hash").parse().expect("32 bytes");
    Some((hash("hash"), hash("parentHash")))
}

async fn by_hash(client: &reqwest::Client, rpc: &DevnetRpc, hash: B256) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByHash", "params": [hash, false]});
    let answer: Value = client.post(rpc.url()).json(&body).send().await.expect("send").json().await.expect("json");
    answer["result"].clone()
}

/// The hashes of blocks `fork..=head` on devnet branch `branch`.
fn branch_hashes(fork: u64, head: u64, branch: u64) -> Vec<B256> {
    let mut devnet = Devnet::new(DevnetConfig::default());
    devnet.next_blocks(fork as usize - 1);
    devnet.set_branch(branch);
    devnet.next_blocks((head - fork + 1) as usize).iter().map(|b| b.hash()).collect()
}

#[tokio::test]
async fn a_reorg_replaces_the_tip_with_a_valid_branch_and_two_servers_agree() {
    let client = reqwest::Client::new();
    let (a, b) = (server(1_000_000).await, server(1_000_000).await);
    let before = block(&client, &a, 97).await.expect("block 97");
    assert_eq!(a.reorg_from(97, 1), Ok(4));
    assert_eq!(b.reorg_from(97, 1), Ok(4));
    let expected = branch_hashes(97, PREFILL, 1);
    let below = block(&client, &a, 96).await.expect("block 96");
    let mut parent = below.0;
    for (n, want) in (97..=PREFILL).zip(&expected) {
        let (hash, parent_hash) = block(&client, &a, n).await.expect("a branch block");
        assert_eq!((hash, parent_hash), (*want, parent), "block {n}");
        assert_eq!(block(&client, &b, n).await.map(|h| h.0), Some(hash), "the other server serves the same branch at {n}");
        parent = hash;
    }
    assert_eq!(a.head(), PREFILL, "a reorg of the same length");
    assert_eq!(by_hash(&client, &a, before.0).await, Value::Null, "the replaced block is gone by hash");
    assert_ne!(by_hash(&client, &a, expected[0]).await, Value::Null, "the new block is found by hash");
}

#[tokio::test]
async fn reorgs_above_the_head_too_deep_or_below_a_milestone_are_refused() {
    let rpc = server(1_000_000).await;
    assert_eq!(rpc.reorg_from(PREFILL + 1, 1), Err(ReorgError::AboveHead { fork: PREFILL + 1, head: PREFILL }));
    let deep = PREFILL - MAX_REORG_DEPTH;
    assert_eq!(rpc.reorg_from(deep, 1), Err(ReorgError::TooDeep { fork: deep, head: PREFILL }));
    assert_eq!(rpc.reorg_from(deep + 1, 1), Ok(MAX_REORG_DEPTH), "the deepest reorg");
    let with_milestones = server(16).await;
    // Head 100: the latest milestone ends at 96.
    assert_eq!(with_milestones.reorg_from(96, 1), Err(ReorgError::Final { fork: 96, final_block: 96 }));
    assert_eq!(with_milestones.reorg_from(97, 1), Ok(4));
}

#[tokio::test]
async fn a_stalled_server_times_out_a_client_until_it_answers_again() {
    let rpc = server(1_000_000).await;
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().expect("client");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    rpc.set_stall(Some(Duration::from_secs(2)));
    let err = client.post(rpc.url()).json(&body).send().await.expect_err("the call times out");
    assert!(err.is_timeout(), "{err}");
    rpc.set_stall(None);
    let answer: Value = client.post(rpc.url()).json(&body).send().await.expect("answered").json().await.expect("json");
    assert_eq!(answer["result"], format!("{PREFILL:#x}"));
}
