//! Known-answer tests against real Polygon mainnet data (see `testdata/README.md`).

use alloy_primitives::{Address, B256, U256};
use hypasis_chain::{SealedHeader, bor, receipt, rpc_json};
use serde_json::Value;
use std::path::PathBuf;

fn testdata(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

fn b256(v: &Value) -> B256 {
    v.as_str().expect("hex string").parse().expect("32-byte hex")
}

#[test]
fn real_headers_hash_seal_and_signer() {
    let headers = testdata("polygon-mainnet/headers.json");
    let headers = headers.as_array().expect("array");
    assert_eq!(headers.len(), 4);
    for entry in headers {
        let label = entry["label"].as_str().expect("label");
        let rlp = hex::decode(entry["header_rlp"].as_str().expect("rlp")).expect("hex");
        let header = SealedHeader::decode_exact(&rlp).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(header.hash(), b256(&entry["expected_hash"]), "{label}: hash");
        assert_eq!(header.number(), entry["number"].as_u64().expect("number"), "{label}: number");
        assert_eq!(header.rlp(), rlp, "{label}: re-encoding is byte-identical");
        if entry["seal_hash"].is_null() {
            continue; // genesis is not sealed
        }
        assert_eq!(bor::seal_hash(&header).expect("seal hash"), b256(&entry["seal_hash"]), "{label}: seal hash");
        let signer: Address = entry["recovered_signer"].as_str().expect("signer").parse().expect("address");
        assert_eq!(bor::recover_signer(&header).expect("signer"), signer, "{label}: signer");
    }
}

#[test]
fn real_block_38102393_rebuilds_from_rpc_json() {
    let data = testdata("polygon-mainnet/block-38102393.json");
    let expected = &data["expected"];
    let block = rpc_json::block_from_rpc(&data["eth_getBlockByNumber"], &data["eth_getBlockReceipts"], None).expect("block verifies");
    assert_eq!(block.number(), expected["number"].as_u64().expect("number"));
    assert_eq!(block.hash(), b256(&expected["hash"]));
    assert_eq!(block.body.transactions_root(), b256(&expected["transactions_root"]));
    assert_eq!(receipt::receipts_root(block.receipts.as_deref().expect("receipts")), b256(&expected["receipts_root"]));
    assert_eq!(block.header.rlp_len(), expected["header_rlp_len"].as_u64().expect("len") as usize);
    assert_eq!(bor::seal_hash(&block.header).expect("seal"), b256(&expected["seal_hash"]));
    let signer: Address = expected["signer"].as_str().expect("signer").parse().expect("address");
    assert_eq!(bor::recover_signer(&block.header).expect("signer"), signer);
    assert_eq!(block.total_difficulty, U256::from(0x24688f82u64));
    assert_eq!(block.body.transactions.len(), 65);
    // Every transaction re-hashes to the hash the RPC gave.
    let txs = data["eth_getBlockByNumber"]["transactions"].as_array().expect("txs");
    for (raw, json) in block.body.transactions.iter().zip(txs) {
        assert_eq!(raw.hash(), b256(&json["hash"]));
    }
}

#[test]
fn real_block_wire_encodings_round_trip() {
    use alloy_rlp::{Decodable, Encodable};
    let data = testdata("polygon-mainnet/block-38102393.json");
    let block = rpc_json::block_from_rpc(&data["eth_getBlockByNumber"], &data["eth_getBlockReceipts"], None).expect("block");
    let body = alloy_rlp::encode(&block.body);
    assert_eq!(body.len(), block.body.length());
    assert_eq!(hypasis_chain::BlockBody::decode(&mut body.as_slice()).expect("body"), block.body);
    let known = block.receipts.expect("receipts");
    let receipts = alloy_rlp::encode(&known);
    assert_eq!(Vec::<hypasis_chain::Receipt>::decode(&mut receipts.as_slice()).expect("receipts"), known);
}

#[test]
fn tampered_rpc_data_is_rejected() {
    let data = testdata("polygon-mainnet/block-38102393.json");
    let mut block = data["eth_getBlockByNumber"].clone();
    block["transactions"][3]["value"] = Value::String("0x1".into());
    assert!(rpc_json::block_from_rpc(&block, &data["eth_getBlockReceipts"], None).is_err());
    let mut receipts = data["eth_getBlockReceipts"].clone();
    receipts[5]["cumulativeGasUsed"] = Value::String("0x1".into());
    let err = rpc_json::block_from_rpc(&data["eth_getBlockByNumber"], &receipts, None).expect_err("receipts tampered");
    assert!(err.to_string().contains("receipts root mismatch"), "{err}");
    let mut reordered = data["eth_getBlockByNumber"].clone();
    reordered["transactions"].as_array_mut().expect("txs").swap(0, 1);
    let err = rpc_json::block_from_rpc(&reordered, &data["eth_getBlockReceipts"], None).expect_err("reordered");
    assert!(err.to_string().contains("transactions root mismatch"), "{err}");
}

#[test]
fn ethereum_mainnet_genesis_header() {
    let data = testdata("ethereum-mainnet-genesis.json");
    let rlp = hex::decode(data["header_rlp"].as_str().expect("rlp")).expect("hex");
    let header = SealedHeader::decode_exact(&rlp).expect("header");
    assert_eq!(header.hash(), b256(&data["hash"]));
    assert_eq!(header.rlp(), rlp);
}

#[test]
fn a_pseudo_state_sync_transaction_is_stripped_before_madhugiri_and_kept_after() {
    use hypasis_chain::rpc_json::{block_from_rpc_polygon, state_sync_tx_hash};
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/polygon-mainnet/block-38102393.json")).expect("read"),
    )
    .expect("json");
    let (mut block, mut receipts) = (file["eth_getBlockByNumber"].clone(), file["eth_getBlockReceipts"].clone());
    let number = 38_102_393u64;
    let hash: hypasis_chain::B256 = block["hash"].as_str().expect("hash").parse().expect("b256");
    // Append what Bor's RPC appends on a state-sync block: a zero-signature tx from and to the
    // zero address with the derived hash, and its receipt (zero gas used).
    let pseudo = format!("{:#x}", state_sync_tx_hash(number, hash));
    let mut tx = block["transactions"][0].clone();
    tx["hash"] = pseudo.clone().into();
    tx["from"] = "0x0000000000000000000000000000000000000000".into();
    block["transactions"].as_array_mut().expect("txs").push(tx);
    let mut receipt = receipts[0].clone();
    receipt["transactionHash"] = pseudo.into();
    receipt["gasUsed"] = "0x0".into();
    receipts.as_array_mut().expect("receipts").push(receipt);

    let got = block_from_rpc_polygon(&block, &receipts, None, Some(80_084_800)).expect("stripped and verified");
    assert_eq!(got.block.hash(), hash);
    assert_eq!(got.block.body.transactions.len(), file["eth_getBlockByNumber"]["transactions"].as_array().expect("txs").len());
    assert!(got.state_sync_receipt.is_some());
    // From Madhugiri on nothing is stripped, so this fabricated extra transaction fails the root.
    assert!(block_from_rpc_polygon(&block, &receipts, None, Some(number)).is_err());
}
