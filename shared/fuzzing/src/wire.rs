//! RLPx handshake and frames, snappy, p2p and eth messages.

use alloy_primitives::{B256, B512, U256};
use alloy_rlp::Decodable;
use bytes::{Bytes, BytesMut};
use hypasis_chain::{BlockBody, Receipt, SealedHeader};
use hypasis_eth_wire::{
    DisconnectReason, Hello,
    eth::{
        inbound::{Inbound, Request},
        messages::{self, BlockId, GetBlockHeaders, HashRequest},
        status::Status,
    },
    p2p::Capability,
    snappy,
};
use hypasis_rlpx::{
    FrameCodec,
    handshake::{self, Secrets},
    mac::MacState,
};
use k256::SecretKey;
use tokio_util::codec::{Decoder, Encoder};

/// Size of the ECIES envelope around a handshake body (public key, IV, tag).
const ECIES_OVERHEAD: usize = 65 + 16 + 32;
/// Largest frame the fuzzed receiver accepts (small, so the limit is reached).
const FRAME_LIMIT: usize = 4_096;

/// The key our side of the handshake holds.
fn our_key() -> SecretKey {
    SecretKey::from_slice(&[0x42; 32]).expect("a valid secret")
}

/// `data[0]` picks the shape: the raw bytes as a whole message; or `data[1..]` as the body of an
/// EIP-8 message (size prefix, ECIES to our key) or of a legacy one (fixed size, ECIES). Both
/// readers (auth and ack) run on it.
pub(crate) fn rlpx_handshake(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let key = our_key();
    let ours = key.public_key();
    let packet = match mode % 3 {
        0 => body.to_vec(),
        1 => {
            let size = u16::try_from(body.len() + ECIES_OVERHEAD).unwrap_or(u16::MAX).to_be_bytes();
            let mut packet = size.to_vec();
            packet.extend(hypasis_rlpx::ecies::encrypt(&ours, body, &size));
            packet
        }
        _ => {
            let mut plain = body.to_vec();
            plain.resize(if mode % 2 == 0 { 194 } else { 97 }, 0);
            hypasis_rlpx::ecies::encrypt(&ours, &plain, &[])
        }
    };
    let _ = handshake::read_auth(&packet, &key);
    let _ = handshake::read_ack(&packet, &key);
}

pub(crate) fn rlpx_handshake_seeds() -> Vec<Vec<u8>> {
    // Real messages built by our initiator and recipient, raw; and their shapes' bodies.
    let key = our_key();
    let them = SecretKey::from_slice(&[0x17; 32]).expect("secret");
    let ephemeral = SecretKey::from_slice(&[0x23; 32]).expect("secret");
    let nonce = B256::repeat_byte(9);
    let auth = handshake::build_auth(&them, &ephemeral, &nonce, &key.public_key());
    let ack_eip8 = handshake::build_ack(&ephemeral, &nonce, &key.public_key(), true);
    let ack_legacy = handshake::build_ack(&ephemeral, &nonce, &key.public_key(), false);
    let mut seeds = Vec::new();
    for packet in [auth, ack_eip8, ack_legacy] {
        let mut seed = vec![0];
        seed.extend(packet);
        seeds.push(seed);
    }
    seeds.push([&[1u8][..], &[0xf8, 0x40][..], &[0x80; 64][..]].concat());
    seeds.push(vec![2; 195]);
    seeds
}

/// A pair of frame codecs that talk to each other (the same secrets, mirrored MAC states).
fn codec_pair() -> (FrameCodec, FrameCodec) {
    let (aes, mac) = (B256::repeat_byte(1), B256::repeat_byte(2));
    let (n1, n2) = (B256::repeat_byte(3), B256::repeat_byte(4));
    let side = |egress: (&B256, &[u8]), ingress: (&B256, &[u8])| Secrets {
        aes_secret: aes,
        mac_secret: mac,
        egress_mac: MacState::new(&mac, egress.0, egress.1),
        ingress_mac: MacState::new(&mac, ingress.0, ingress.1),
        remote_id: B512::ZERO,
    };
    let sender = FrameCodec::new(side((&n1, b"a"), (&n2, b"b")), FRAME_LIMIT);
    let receiver = FrameCodec::new(side((&n2, b"b"), (&n1, b"a")), FRAME_LIMIT);
    (sender, receiver)
}

/// Decodes every frame in `bytes`; `None` at the first error.
fn decode_all(receiver: &mut FrameCodec, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    loop {
        match receiver.decode(&mut buf) {
            Ok(Some(frame)) => frames.push(frame.to_vec()),
            Ok(None) => return Some(frames),
            Err(_) => return None,
        }
    }
}

/// `data[0]`: 0 feeds the rest to the receiver as it is; otherwise the rest is cut into frames
/// (at 0xff bytes), framed by the sender, optionally corrupted at one byte (`data[0]` odd) and
/// decoded: uncorrupted frames must come back as sent.
pub(crate) fn rlpx_frames(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (mut sender, mut receiver) = codec_pair();
    if mode == 0 {
        let _ = decode_all(&mut receiver, rest);
        return;
    }
    let payloads: Vec<&[u8]> = rest.split(|b| *b == 0xff).collect();
    let mut wire = BytesMut::new();
    for payload in &payloads {
        if sender.encode(Bytes::copy_from_slice(payload), &mut wire).is_err() {
            return;
        }
    }
    if mode % 2 == 1 && !wire.is_empty() {
        let at = usize::from(mode) * 7 % wire.len();
        wire[at] ^= 0x5a;
        let _ = decode_all(&mut receiver, &wire);
        return;
    }
    let frames = decode_all(&mut receiver, &wire);
    if payloads.iter().all(|p| p.len() <= FRAME_LIMIT) {
        let frames = frames.expect("frames we framed decode");
        assert_eq!(frames.len(), payloads.len(), "one frame per payload");
        for (frame, payload) in frames.iter().zip(&payloads) {
            assert_eq!(&frame[..], *payload, "a frame comes back as sent");
        }
    }
}

pub(crate) fn rlpx_frames_seeds() -> Vec<Vec<u8>> {
    vec![vec![0; 64], [&[2u8][..], b"hello", &[0xff], &[0x10; 300]].concat(), [&[3u8][..], &[0x80; 40][..]].concat()]
}

/// Decompression (bounded), and compress/decompress of the input.
pub(crate) fn snappy(data: &[u8]) {
    let _ = snappy::decompress(data, 1 << 20);
    let round = snappy::decompress(&snappy::compress(data), 1 << 20).expect("our compression decompresses");
    assert_eq!(round, data, "snappy round trip");
}

pub(crate) fn snappy_seeds() -> Vec<Vec<u8>> {
    vec![snappy::compress(&[7; 1_000]), snappy::compress(b"eth/69 status"), vec![0xff, 0xff, 0xff, 0x7f, 0]]
}

/// Hello (with round trip) and Disconnect bodies.
pub(crate) fn p2p_messages(data: &[u8]) {
    if let Ok(hello) = Hello::decode(data) {
        assert_eq!(Hello::decode(&hello.encode()).expect("our Hello decodes"), hello, "Hello round trip");
    }
    let _ = DisconnectReason::decode(data);
}

pub(crate) fn p2p_messages_seeds() -> Vec<Vec<u8>> {
    let hello = Hello {
        protocol_version: 5,
        client_id: "bor/v1.5.5-stable/linux-amd64/go1.23".into(),
        capabilities: vec![Capability::new("eth", 68), Capability::new("eth", 69), Capability::new("snap", 1)],
        listen_port: 30303,
        id: B512::repeat_byte(0xab),
    };
    vec![hello.encode(), DisconnectReason::TooManyPeers.encode(), vec![0x04], vec![]]
}

/// Every eth message: `data[0]` is the message id, the rest its body. Requests round-trip.
pub(crate) fn eth_messages(data: &[u8]) {
    let Some((&id, body)) = data.split_first() else { return };
    match Inbound::decode(id % 0x20, body) {
        Ok(Inbound::Request(Request::Headers(req))) => {
            assert_eq!(GetBlockHeaders::decode(&req.encode()).expect("decodes"), req, "GetBlockHeaders round trip");
        }
        Ok(Inbound::Request(Request::Bodies(req) | Request::Receipts(req) | Request::PooledTransactions(req))) => {
            assert_eq!(HashRequest::decode(&req.encode(), "hashes").expect("decodes"), req, "hash request round trip");
        }
        _ => {}
    }
    if let Ok(status) = Status::decode(body) {
        let bor = status.version >= 69 && status.total_difficulty.is_some();
        assert_eq!(Status::decode(&status.encode(bor)).expect("our Status decodes"), status, "Status round trip");
    }
    let _ = messages::decode_new_block(body);
    let _ = messages::decode_block_range_update(body);
    let _ = messages::decode_response(body, "BlockHeaders", <SealedHeader as Decodable>::decode);
    let _ = messages::decode_response(body, "BlockBodies", <BlockBody as Decodable>::decode);
    let _ = messages::decode_response(body, "Receipts", <Vec<Receipt> as Decodable>::decode);
    let _ = messages::decode_response(body, "Receipts", messages::decode_receipts69);
}

pub(crate) fn eth_messages_seeds() -> Vec<Vec<u8>> {
    use hypasis_eth_wire::eth::id;
    let with_id = |id: u8, body: Vec<u8>| [vec![id], body].concat();
    let status = Status {
        version: 69,
        network_id: 137,
        total_difficulty: Some(U256::from(1_000_000u64)),
        genesis: B256::repeat_byte(1),
        fork_id: alloy_eip2124_fork_id(),
        head: B256::repeat_byte(2),
        range: Some((0, 80_000_000)),
    };
    let headers = crate::upstream::mainnet_headers();
    let mut seeds = vec![
        with_id(
            id::GET_BLOCK_HEADERS,
            GetBlockHeaders { request_id: 1, start: BlockId::Number(5), limit: 192, skip: 0, reverse: false }.encode(),
        ),
        with_id(id::GET_BLOCK_BODIES, HashRequest { request_id: 2, hashes: vec![B256::repeat_byte(3); 4] }.encode()),
        with_id(id::STATUS, status.encode(true)),
        with_id(id::STATUS, Status { version: 68, range: None, ..status.clone() }.encode(false)),
        with_id(id::BLOCK_RANGE_UPDATE, messages::encode_block_range_update(1, 100, B256::repeat_byte(7))),
    ];
    if !headers.is_empty() {
        seeds.push(with_id(id::BLOCK_HEADERS, messages::encode_block_headers(9, headers.iter())));
    }
    seeds
}

fn alloy_eip2124_fork_id() -> alloy_eip2124::ForkId {
    alloy_eip2124::ForkId { hash: alloy_eip2124::ForkHash([0xde, 0xad, 0xbe, 0xef]), next: 0 }
}
