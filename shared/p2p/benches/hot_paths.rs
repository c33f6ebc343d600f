//! Micro-benchmarks of each hot path of serving a Bor node, one at a time, with criterion:
//!
//! ```sh
//! cargo bench -p hypasis-p2p --bench hot_paths            # all
//! cargo bench -p hypasis-p2p --bench hot_paths -- frame   # one group
//! ```
//!
//! - `store`: a warm in-memory store's range read of 192 headers and hash reads of 128 bodies;
//! - `answer`: the whole answer to a request (store read + RLP encoding), as a session builds it;
//! - `rlp`: RLP encoding alone of the same answers;
//! - `snappy`: compressing and decompressing them (every eth message is snappy-compressed);
//! - `frame`: one frame through our RLPx codec, encode (AES-256-CTR + keccak MAC) and decode;
//! - `mac`: the keccak MAC of a 64 KiB frame body alone, and keccak256 of it in assembly
//!   (keccak-asm, the MAC's) beside pure Rust (sha3);
//! - `handshake`: a whole ECIES handshake, both sides, over an in-memory pipe.
//!
//! Bodies and receipts are mainnet-shaped (`DevnetConfig::txs_per_block` 150, ~115 KB bodies), so
//! their throughput figures are in the bytes a real Bor node pulls. Results and the figures they
//! are compared with are in docs/BENCHMARKS.md.

use alloy_primitives::B256;
use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_eth_wire::{
    eth::messages::{self, BlockId, GetBlockHeaders, HashRequest},
    snappy,
};
use hypasis_p2p::serve;
use hypasis_rlpx::{FrameCodec, keys, mac::MacState};
use hypasis_store::{BlockStore, MemoryStore, MemoryStoreLimits, Parts};
use std::{hint::black_box, sync::Arc};
use tokio::runtime::Runtime;
use tokio_util::codec::{Decoder, Encoder};

/// Headers per GetBlockHeaders, as Bor's skeleton-less header fetcher asks.
const HEADERS: u64 = 192;
/// Bodies and receipts per request, as Bor's body and receipt fetchers ask.
const BODIES: usize = 128;
/// The soft answer size a session uses (2 MiB).
const SOFT_LIMIT: usize = 2 << 20;

struct Fixture {
    runtime: Runtime,
    store: Arc<MemoryStore>,
    hashes: Vec<B256>,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut devnet = Devnet::new(DevnetConfig { txs_per_block: 150, ..DevnetConfig::default() });
    let blocks = devnet.next_blocks(BODIES.max(HEADERS as usize));
    let hashes = blocks.iter().take(BODIES).map(|b| b.hash()).collect();
    let store = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    runtime.block_on(store.insert(blocks)).expect("insert");
    Fixture { runtime, store, hashes }
}

fn headers_request() -> GetBlockHeaders {
    GetBlockHeaders { request_id: 7, start: BlockId::Number(1), limit: HEADERS, skip: 0, reverse: false }
}

fn bodies_request(f: &Fixture) -> HashRequest {
    HashRequest { request_id: 7, hashes: f.hashes.clone() }
}

fn store_and_answers(c: &mut Criterion) {
    let f = fixture();
    let (headers_answer, _) = f.runtime.block_on(serve::headers(&*f.store, &headers_request(), SOFT_LIMIT)).expect("headers");
    let (bodies_answer, _) = f.runtime.block_on(serve::bodies(&*f.store, &bodies_request(&f), SOFT_LIMIT)).expect("bodies");
    let (receipts_answer, _) = f.runtime.block_on(serve::receipts(&*f.store, &bodies_request(&f), true, SOFT_LIMIT)).expect("receipts");

    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(HEADERS));
    group.bench_function("range_192_headers", |b| {
        b.iter(|| f.runtime.block_on(f.store.by_range(1, HEADERS, 0, false, Parts::HEADER)).expect("range"));
    });
    group.throughput(Throughput::Elements(BODIES as u64));
    group.bench_function("hashes_128_bodies", |b| {
        b.iter(|| f.runtime.block_on(f.store.by_hashes(&f.hashes, Parts::BODY)).expect("bodies"));
    });
    group.finish();

    let mut group = c.benchmark_group("answer");
    group.throughput(Throughput::Bytes(headers_answer.len() as u64));
    group.bench_function("headers_192", |b| {
        b.iter(|| f.runtime.block_on(serve::headers(&*f.store, &headers_request(), SOFT_LIMIT)).expect("headers"));
    });
    group.throughput(Throughput::Bytes(bodies_answer.len() as u64));
    group.bench_function("bodies_128_mainnet_shaped", |b| {
        let req = bodies_request(&f);
        b.iter(|| f.runtime.block_on(serve::bodies(&*f.store, &req, SOFT_LIMIT)).expect("bodies"));
    });
    group.throughput(Throughput::Bytes(receipts_answer.len() as u64));
    group.bench_function("receipts_128_eth69", |b| {
        let req = bodies_request(&f);
        b.iter(|| f.runtime.block_on(serve::receipts(&*f.store, &req, true, SOFT_LIMIT)).expect("receipts"));
    });
    group.finish();

    // RLP encoding alone, from blocks already read.
    let stored = f.runtime.block_on(f.store.by_hashes(&f.hashes, Parts::ALL)).expect("blocks");
    let blocks: Vec<_> = stored.into_iter().flatten().collect();
    let headers: Vec<_> = blocks.iter().map(|b| b.header.clone()).collect();
    let bodies: Vec<_> = blocks.iter().filter_map(|b| b.body.clone()).collect();
    let mut group = c.benchmark_group("rlp");
    group.throughput(Throughput::Elements(headers.len() as u64));
    group.bench_function("encode_128_headers", |b| b.iter(|| messages::encode_block_headers(7, black_box(&headers))));
    let all_bodies = messages::encode_block_bodies(7, bodies.iter().map(|b| &**b)).len();
    group.throughput(Throughput::Bytes(all_bodies as u64));
    group.bench_function("encode_128_bodies_mainnet_shaped", |b| {
        b.iter(|| messages::encode_block_bodies(7, black_box(&bodies).iter().map(|b| &**b)));
    });
    group.finish();

    let mut group = c.benchmark_group("snappy");
    for (name, answer) in [("headers", &headers_answer), ("bodies", &bodies_answer), ("receipts", &receipts_answer)] {
        let compressed = snappy::compress(answer);
        group.throughput(Throughput::Bytes(answer.len() as u64));
        group.bench_function(format!("compress_{name}"), |b| b.iter(|| snappy::compress(black_box(answer))));
        group.bench_function(format!("decompress_{name}"), |b| {
            b.iter(|| snappy::decompress(black_box(&compressed), snappy::MAX_DECOMPRESSED).expect("round trip"));
        });
    }
    group.finish();

    frames(c, &f.runtime, &[("headers", &headers_answer), ("bodies", &bodies_answer)]);
}

/// One frame of each answer (compressed as sent) through an encoder and the matching decoder.
fn frames(c: &mut Criterion, runtime: &Runtime, answers: &[(&str, &Vec<u8>)]) {
    let (mut tx, mut rx) = runtime.block_on(codec_pair());
    let mut group = c.benchmark_group("frame");
    for (name, answer) in answers {
        let mut payload = vec![0x14];
        payload.extend_from_slice(&snappy::compress(answer));
        let payload = Bytes::from(payload);
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_function(format!("encode_decode_{name}"), |b| {
            let mut wire = BytesMut::with_capacity(payload.len() + 64);
            b.iter(|| {
                tx.encode(payload.clone(), &mut wire).expect("encode");
                rx.decode(&mut wire).expect("decode").expect("a whole frame")
            });
        });
    }
    group.finish();

    let body = vec![0x5a; 64 << 10];
    let mut mac = MacState::new(&B256::repeat_byte(1), &B256::repeat_byte(2), b"auth packet");
    let mut group = c.benchmark_group("mac");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("keccak_mac_64k_body", |b| b.iter(|| mac.update_body(black_box(&body))));
    // The MAC's keccak, assembly (keccak-asm, what the MAC uses) beside pure Rust (sha3, what it
    // used before), on the same bytes in the same run.
    group.bench_function("keccak256_64k_asm", |b| b.iter(|| <keccak_asm::Keccak256 as keccak_asm::Digest>::digest(black_box(&body))));
    group.bench_function("keccak256_64k_pure_rust", |b| b.iter(|| <sha3::Keccak256 as sha3::Digest>::digest(black_box(&body))));
    group.finish();
}

fn handshake(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let recipient = keys::random_secret();
    let initiator = keys::random_secret();
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ecies_both_sides", |b| {
        b.iter(|| runtime.block_on(handshake_once(&initiator, &recipient)));
    });
    group.finish();
}

async fn handshake_once(initiator: &k256::SecretKey, recipient: &k256::SecretKey) -> (hypasis_rlpx::Secrets, hypasis_rlpx::Secrets) {
    let (mut x, mut y) = tokio::io::duplex(1 << 16);
    let recipient_id = keys::node_id(&recipient.public_key());
    let recipients = [recipient.clone()];
    let (client, server) = tokio::join!(hypasis_rlpx::initiate(&mut x, initiator, recipient_id), hypasis_rlpx::accept(&mut y, &recipients));
    (client.expect("initiate"), server.expect("accept").0)
}

async fn codec_pair() -> (FrameCodec, FrameCodec) {
    let (client, server) = handshake_once(&keys::random_secret(), &keys::random_secret()).await;
    (FrameCodec::new(client, 16 << 20), FrameCodec::new(server, 16 << 20))
}

criterion_group!(benches, store_and_answers, handshake);
criterion_main!(benches);
