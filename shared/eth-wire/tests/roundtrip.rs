//! Property tests: every message we encode decodes to itself (requests, Status in both
//! dialects, Hello, Disconnect, BlockRangeUpdate, snappy). Inverted block ranges are refused on
//! decode (a breach), so the strategies make ordered ones.

use alloy_eip2124::{ForkHash, ForkId};
use alloy_primitives::{B256, B512, U256};
use hypasis_eth_wire::{
    DisconnectReason, Hello,
    eth::{
        messages::{self, BlockId, GetBlockHeaders, HashRequest},
        status::Status,
    },
    p2p::Capability,
    snappy,
};
use proptest::prelude::*;

fn b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}

fn block_id() -> impl Strategy<Value = BlockId> {
    prop_oneof![any::<u64>().prop_map(BlockId::Number), b256().prop_map(BlockId::Hash)]
}

fn status() -> impl Strategy<Value = (Status, bool)> {
    (66u64..=69, any::<u64>(), any::<[u64; 4]>(), b256(), any::<[u8; 4]>(), any::<u64>(), b256(), any::<(u64, u64)>(), any::<bool>())
        .prop_map(|(version, network_id, td, genesis, fork_hash, next, head, range, bor)| {
            let eth69 = version >= 69;
            let total_difficulty = (!eth69 || bor).then_some(U256::from_limbs(td));
            let fork_id = ForkId { hash: ForkHash(fork_hash), next };
            let range = (range.0.min(range.1), range.0.max(range.1));
            (Status { version, network_id, total_difficulty, genesis, fork_id, head, range: eth69.then_some(range) }, bor && eth69)
        })
}

fn hello() -> impl Strategy<Value = Hello> {
    (any::<u64>(), "[ -~]{0,64}", proptest::collection::vec(("[a-z]{1,8}", any::<u64>()), 0..6), any::<u64>(), any::<[u8; 64]>()).prop_map(
        |(protocol_version, client_id, caps, listen_port, id)| Hello {
            protocol_version,
            client_id,
            capabilities: caps.iter().map(|(name, version)| Capability::new(name, *version)).collect(),
            listen_port,
            id: B512::from(id),
        },
    )
}

proptest! {
    #[test]
    fn get_block_headers(request_id: u64, start in block_id(), limit: u64, skip: u64, reverse: bool) {
        let req = GetBlockHeaders { request_id, start, limit, skip, reverse };
        prop_assert_eq!(GetBlockHeaders::decode(&req.encode()).expect("decodes"), req);
    }

    #[test]
    fn hash_requests(request_id: u64, hashes in proptest::collection::vec(b256(), 0..64)) {
        let req = HashRequest { request_id, hashes };
        prop_assert_eq!(HashRequest::decode(&req.encode(), "GetBlockBodies").expect("decodes"), req);
    }

    #[test]
    fn status_in_both_dialects((status, bor) in status()) {
        prop_assert_eq!(Status::decode(&status.encode(bor)).expect("decodes"), status);
    }

    #[test]
    fn hello_messages(hello in hello()) {
        prop_assert_eq!(Hello::decode(&hello.encode()).expect("decodes"), hello);
    }

    #[test]
    fn disconnect_reasons(code in 0u8..=0x10) {
        let reason = DisconnectReason::decode(&[0xc1, code]);
        prop_assert_eq!(DisconnectReason::decode(&reason.encode()), reason);
    }

    #[test]
    fn block_range_updates(a: u64, b: u64, hash in b256()) {
        let (earliest, latest) = (a.min(b), a.max(b));
        let encoded = messages::encode_block_range_update(earliest, latest, hash);
        prop_assert_eq!(messages::decode_block_range_update(&encoded).expect("decodes"), (earliest, latest, hash));
    }

    #[test]
    fn snappy_payloads(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert_eq!(snappy::decompress(&snappy::compress(&data), 1 << 20).expect("decompresses"), data);
    }
}
