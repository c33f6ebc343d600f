//! What upstreams send: block and receipt JSON, Heimdall JSON, L1 `eth_call` answers, and chain
//! RLP (`--import` files, headers).

use alloy_rlp::Decodable;
use hypasis_chain::{BlockBody, Receipt, SealedHeader, import, rpc_json};
use serde_json::Value;

fn testdata(name: &str) -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain/testdata/polygon-mainnet").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The real Polygon mainnet headers in the repository's test data.
pub(crate) fn mainnet_headers() -> Vec<SealedHeader> {
    let Some(Value::Array(entries)) = testdata("headers.json") else { return Vec::new() };
    entries.iter().filter_map(|e| SealedHeader::decode_exact(&hex::decode(e["header_rlp"].as_str()?).ok()?).ok()).collect()
}

/// `[block, receipts]` JSON, as `eth_getBlockByNumber` and `eth_getBlockReceipts` answer: the
/// block is rebuilt and verified (roots, hashes) or refused, never a panic.
pub(crate) fn block_json(data: &[u8]) {
    let Ok(Value::Array(pair)) = serde_json::from_slice::<Value>(data) else { return };
    let (Some(block), Some(receipts)) = (pair.first(), pair.get(1)) else { return };
    let _ = rpc_json::block_from_rpc_polygon(block, receipts, None, None);
    let _ = rpc_json::block_from_rpc_polygon(block, receipts, None, Some(0));
}

pub(crate) fn block_json_seeds() -> Vec<Vec<u8>> {
    let Some(data) = testdata("block-38102393.json") else { return Vec::new() };
    let pair = Value::Array(vec![data["eth_getBlockByNumber"].clone(), data["eth_getBlockReceipts"].clone()]);
    vec![serde_json::to_vec(&pair).expect("json")]
}

/// Heimdall's milestone, span and checkpoint JSON.
pub(crate) fn heimdall_json(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let _ = hypasis_upstream::heimdall::parse_milestone(&value);
    let _ = hypasis_upstream::heimdall::parse_span(&value);
    let _ = hypasis_upstream::heimdall::parse_checkpoint(&value);
}

pub(crate) fn heimdall_json_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"start_block":"100","end_block":"120","hash":"0x0101010101010101010101010101010101010101010101010101010101010101"}"#.to_vec(),
        br#"{"id":7,"start_block":256,"end_block":6655,"selected_producers":[{"signer":"0x0000000000000000000000000000000000000001"}]}"#
            .to_vec(),
        br#"{"id":"9","start_block":"1","end_block":"2","root_hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}"#.to_vec(),
    ]
}

/// The RootChain contract's `currentHeaderBlock()` and `headerBlocks(uint256)` answers.
pub(crate) fn l1_answers(data: &[u8]) {
    let _ = hypasis_syncer::checkpoints::current_from_answer(data);
    let _ = hypasis_syncer::checkpoints::header_block_from_answer(data);
}

pub(crate) fn l1_answers_seeds() -> Vec<Vec<u8>> {
    let mut answer = vec![0x11; 32];
    answer.extend([0; 31]);
    answer.push(5);
    answer.extend([0; 31]);
    answer.push(9);
    vec![answer, vec![0; 32]]
}

/// Chain RLP: `--import` files, single headers, bodies and receipts.
pub(crate) fn chain_rlp(data: &[u8]) {
    let _ = import::read_blocks(data);
    if let Ok(header) = SealedHeader::decode_exact(data) {
        assert_eq!(SealedHeader::decode_exact(&header.rlp()).expect("our encoding decodes").hash(), header.hash(), "header round trip");
    }
    let _ = BlockBody::decode(&mut &data[..]);
    let _ = Receipt::decode_2718(data);
    let _ = Receipt::decode_eth69(&mut &data[..]);
}

pub(crate) fn chain_rlp_seeds() -> Vec<Vec<u8>> {
    mainnet_headers().iter().map(SealedHeader::rlp).collect()
}
