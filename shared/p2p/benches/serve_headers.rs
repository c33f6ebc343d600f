//! Serving throughput: 1,000 GetBlockHeaders requests of 1,024 headers each from a warm
//! in-memory store, over real TCP on loopback, against the cost of pushing the same response
//! bytes through our frame codec (snappy + AES-CTR + keccak MAC, both directions) alone.
//!
//! Run: `cargo bench -p hypasis-p2p --bench serve_headers`. The ratio of the two figures is
//! the point: how much of serving is protocol framing and how much everything else.

use bytes::{Bytes, BytesMut};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_eth_wire::{
    eth::{
        id,
        messages::{BlockId, GetBlockHeaders},
        status::Status,
    },
    snappy,
};
use hypasis_p2p::{NetworkConfig, identity, spawn};
use hypasis_rlpx::{FrameCodec, keys};
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits};
use std::{sync::Arc, time::Instant};
use tokio::sync::watch;
use tokio_util::{
    codec::{Decoder, Encoder},
    sync::CancellationToken,
};

const REQUESTS: usize = 1_000;
const HEADERS_PER_REQUEST: u64 = 1_024;
const CHAIN: usize = 2_048;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let spec = Arc::new(devnet.spec().clone());
    let mut blocks = vec![devnet.tip().clone()];
    blocks.extend(devnet.next_blocks(CHAIN));
    let head = ChainHead::of(blocks.last().expect("blocks"));
    let genesis = blocks[0].clone();
    let store = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    store.insert(blocks).await.expect("insert");
    store.advance_head(head).await.expect("head");
    let (_heads_tx, heads) = watch::channel(Some(head));
    let cancel = CancellationToken::new();
    let server_key = keys::random_secret();
    let (handle, _task) = spawn(
        NetworkConfig::new("127.0.0.1:0".parse().expect("addr")),
        vec![server_key.clone()],
        spec.clone(),
        store,
        heads,
        cancel.clone(),
    )
    .await
    .expect("spawn");

    let conn =
        hypasis_p2p::dial(handle.local_addr, &keys::random_secret(), identity::node_id(&server_key), "bench", &[68]).await.expect("dial");
    let status = Status {
        version: 68,
        network_id: spec.network_id,
        total_difficulty: Some(genesis.total_difficulty),
        genesis: spec.genesis_hash,
        fork_id: spec.fork_id(0, genesis.header.timestamp),
        head: genesis.hash(),
        range: None,
    };
    let mut eth = conn.exchange_status(&status, true, |_| Ok(())).await.expect("status");

    // Warm-up, and one response kept for the codec-only measurement.
    let mut sample = Bytes::new();
    for i in 0..10u64 {
        let req = GetBlockHeaders { request_id: i, start: BlockId::Number(i * 100), limit: HEADERS_PER_REQUEST, skip: 0, reverse: false };
        eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
        sample = Bytes::from(eth.recv().await.expect("answer").data.to_vec());
    }

    let started = Instant::now();
    let mut headers = 0u64;
    let mut bytes = 0usize;
    for i in 0..REQUESTS {
        let start = (i as u64 * 997) % (CHAIN as u64 - HEADERS_PER_REQUEST);
        let req =
            GetBlockHeaders { request_id: i as u64, start: BlockId::Number(start), limit: HEADERS_PER_REQUEST, skip: 0, reverse: false };
        eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
        let answer = eth.recv().await.expect("answer");
        bytes += answer.data.len();
        headers += HEADERS_PER_REQUEST;
    }
    let served = started.elapsed();
    cancel.cancel();

    // The same bytes through the codec alone: snappy + frame encode on one side, frame decode +
    // snappy decompress on the other, in memory.
    let a = keys::random_secret();
    let b = keys::random_secret();
    let (mut tx, mut rx) = codec_pair(&a, &b).await;
    let started = Instant::now();
    let mut wire = BytesMut::new();
    for _ in 0..REQUESTS {
        let mut frame = vec![0x14];
        frame.extend_from_slice(&snappy::compress(&sample));
        tx.encode(Bytes::from(frame), &mut wire).expect("encode");
        let out = rx.decode(&mut wire).expect("decode").expect("whole frame");
        let plain = snappy::decompress(&out[1..], snappy::MAX_DECOMPRESSED).expect("snappy");
        assert_eq!(plain.len(), sample.len());
    }
    let codec = started.elapsed();

    let served_rate = headers as f64 / served.as_secs_f64();
    let codec_rate = (REQUESTS as u64 * HEADERS_PER_REQUEST) as f64 / codec.as_secs_f64();
    println!("requests: {REQUESTS} x {HEADERS_PER_REQUEST} headers, {:.1} MiB of responses", bytes as f64 / (1 << 20) as f64);
    println!(
        "served over TCP:  {:>8.2} s  {:>12.0} headers/s  {:>8.1} MiB/s",
        served.as_secs_f64(),
        served_rate,
        bytes as f64 / (1 << 20) as f64 / served.as_secs_f64()
    );
    println!(
        "frame codec only: {:>8.2} s  {:>12.0} headers/s  {:>8.1} MiB/s",
        codec.as_secs_f64(),
        codec_rate,
        (sample.len() * REQUESTS) as f64 / (1 << 20) as f64 / codec.as_secs_f64()
    );
    println!("ratio served / codec-only: {:.2}", served_rate / codec_rate);
}

/// An encoder and a matching decoder from one real handshake over an in-memory pipe.
async fn codec_pair(initiator: &k256::SecretKey, recipient: &k256::SecretKey) -> (FrameCodec, FrameCodec) {
    let (mut x, mut y) = tokio::io::duplex(1 << 16);
    let rkeys = vec![recipient.clone()];
    let server = tokio::spawn(async move { hypasis_rlpx::accept(&mut y, &rkeys).await.expect("accept").0 });
    let client = hypasis_rlpx::initiate(&mut x, initiator, keys::node_id(&recipient.public_key())).await.expect("initiate");
    let server = server.await.expect("join");
    (FrameCodec::new(client, 16 << 20), FrameCodec::new(server, 16 << 20))
}
