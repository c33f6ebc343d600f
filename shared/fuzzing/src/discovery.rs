//! discv4 packets and ENRs.

use hypasis_discv4::{
    message::{Endpoint, Message},
    packet,
    record::{self, EnrKey},
};
use k256::SecretKey;
use std::net::{IpAddr, Ipv4Addr};

fn signer() -> SecretKey {
    SecretKey::from_slice(&[0x31; 32]).expect("a valid secret")
}

/// The datagram as received; its body as the data of packet type `data[0]` (decoded messages
/// round-trip); and the body signed and framed by us, which must come back whole.
pub(crate) fn discv4_packets(data: &[u8]) {
    if let Ok(p) = packet::decode(data) {
        let _ = Message::decode(p.kind, p.data);
    }
    let Some((&kind, body)) = data.split_first() else { return };
    if let Ok(message) = Message::decode(kind, body) {
        let again = Message::decode(message.kind(), &message.encode()).expect("our encoding decodes");
        assert_eq!(again, message, "discv4 message round trip");
    }
    // A packet needs at least one byte of data after its 98-byte header, and fits 1,280 bytes.
    if !body.is_empty() && body.len() + 98 <= 1_280 {
        let (datagram, hash) = packet::encode(&signer(), kind, body);
        let p = packet::decode(&datagram).expect("our packet decodes");
        assert_eq!((p.hash, p.kind, p.data), (hash, kind, body), "discv4 packet round trip");
    }
}

pub(crate) fn discv4_packets_seeds() -> Vec<Vec<u8>> {
    let at = |last: u8| Endpoint { ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)), udp: 30303, tcp: 30303 };
    let ping = Message::Ping { version: 4, from: at(1), to: at(2), expiration: 1_900_000_000, enr_seq: Some(3) };
    let find = Message::FindNode { target: alloy_primitives::B512::repeat_byte(5), expiration: 1_900_000_000 };
    let mut seeds = Vec::new();
    for m in [ping, find] {
        seeds.push([vec![m.kind()], m.encode()].concat());
        seeds.push(packet::encode(&signer(), m.kind(), &m.encode()).0);
    }
    seeds
}

/// An ENR as RLP and as its `enr:` text form; a record that decodes re-encodes to itself.
pub(crate) fn enr(data: &[u8]) {
    if let Ok(record) = <enr::Enr<EnrKey> as alloy_rlp::Decodable>::decode(&mut &data[..]) {
        let bytes = alloy_rlp::encode(&record);
        let again = <enr::Enr<EnrKey> as alloy_rlp::Decodable>::decode(&mut &bytes[..]).expect("our encoding decodes");
        assert_eq!(again, record, "ENR round trip");
        let _ = record::fork_id(&record);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<enr::Enr<EnrKey>>();
    }
}

pub(crate) fn enr_seeds() -> Vec<Vec<u8>> {
    let fork = alloy_eip2124::ForkId { hash: alloy_eip2124::ForkHash([1, 2, 3, 4]), next: 0 };
    let record = record::build(&signer(), Ipv4Addr::new(203, 0, 113, 9), 30303, 30303, fork, 1).expect("record");
    // The example record of the ENR spec (EIP-778), in text form.
    let example = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
    vec![alloy_rlp::encode(&record), record.to_base64().into_bytes(), example.as_bytes().to_vec()]
}
