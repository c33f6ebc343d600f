//! Property tests: every discv4 message we encode decodes to itself, and every packet we sign
//! verifies and names its sender.

use alloy_primitives::{B256, B512, Bytes};
use hypasis_discv4::{
    message::{Endpoint, Message, NodeRecord},
    packet,
};
use proptest::prelude::*;
use std::net::IpAddr;

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let ip = prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u8; 16]>().prop_map(IpAddr::from)];
    (ip, any::<u16>(), any::<u16>()).prop_map(|(ip, udp, tcp)| Endpoint { ip, udp, tcp })
}

fn message() -> impl Strategy<Value = Message> {
    let b256 = any::<[u8; 32]>().prop_map(B256::from);
    let id = any::<[u8; 64]>().prop_map(B512::from);
    prop_oneof![
        (any::<u64>(), endpoint(), endpoint(), any::<u64>(), any::<Option<u64>>())
            .prop_map(|(version, from, to, expiration, enr_seq)| Message::Ping { version, from, to, expiration, enr_seq }),
        (endpoint(), b256.clone(), any::<u64>(), any::<Option<u64>>()).prop_map(|(to, ping_hash, expiration, enr_seq)| Message::Pong {
            to,
            ping_hash,
            expiration,
            enr_seq
        }),
        (id.clone(), any::<u64>()).prop_map(|(target, expiration)| Message::FindNode { target, expiration }),
        (proptest::collection::vec((endpoint(), id).prop_map(|(endpoint, id)| NodeRecord { endpoint, id }), 0..12), any::<u64>())
            .prop_map(|(nodes, expiration)| Message::Neighbors { nodes, expiration }),
        any::<u64>().prop_map(|expiration| Message::EnrRequest { expiration }),
        (b256, proptest::collection::vec(any::<u8>(), 1..40)).prop_map(|(request_hash, body)| {
            // The record is an RLP item kept as received: a byte string here.
            let enr = Bytes::from(alloy_rlp::encode(body.as_slice()));
            Message::EnrResponse { request_hash, enr }
        }),
    ]
}

proptest! {
    #[test]
    fn messages(message in message()) {
        prop_assert_eq!(Message::decode(message.kind(), &message.encode()).expect("decodes"), message);
    }

    #[test]
    fn signed_packets(secret in any::<[u8; 32]>(), message in message()) {
        let Ok(key) = k256::SecretKey::from_slice(&secret) else { return Ok(()) };
        let data = message.encode();
        let (datagram, hash) = packet::encode(&key, message.kind(), &data);
        prop_assume!(datagram.len() <= 1_280);
        let p = packet::decode(&datagram).expect("verifies");
        prop_assert_eq!((p.hash, p.kind, p.data), (hash, message.kind(), &data[..]));
        prop_assert_eq!(p.sender, hypasis_rlpx::keys::node_id(&key.public_key()));
    }
}
