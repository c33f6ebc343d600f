//! Our own initiator against our server, over real TCP on loopback, serving a devnet chain.

use alloy_primitives::B256;
use hypasis_chain::{BlockBody, ChainSpec, Receipt, SealedHeader, receipt::receipts_root};
use hypasis_devnet::{Devnet, DevnetConfig};
use hypasis_eth_wire::{
    Capability, DisconnectReason, Hello, WireError,
    conn::{EthConn, P2pConn},
    eth::{
        id,
        messages::{self, BlockId, GetBlockHeaders, HashRequest},
        status::Status,
    },
};
use hypasis_p2p::{NetworkConfig, NetworkHandle, identity, spawn};
use hypasis_rlpx::{FrameCodec, keys};
use hypasis_store::{BlockStore, ChainHead, MemoryStore, MemoryStoreLimits};
use k256::SecretKey;
use std::{sync::Arc, time::Duration};
use tokio::{net::TcpStream, sync::watch};
use tokio_util::{codec::Framed, sync::CancellationToken};

const BLOCKS: usize = 300;

struct Fixture {
    handle: NetworkHandle,
    cluster: SecretKey,
    spec: Arc<ChainSpec>,
    blocks: Vec<hypasis_chain::Block>,
    _cancel: tokio_util::sync::DropGuard,
}

async fn fixture(config: impl FnOnce(&mut NetworkConfig)) -> Fixture {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let spec = Arc::new(devnet.spec().clone());
    let mut blocks = vec![devnet.tip().clone()];
    blocks.extend(devnet.next_blocks(BLOCKS));
    let store = Arc::new(MemoryStore::new(MemoryStoreLimits::default()));
    store.insert(blocks.clone()).await.expect("insert");
    let head = ChainHead::of(blocks.last().expect("blocks"));
    store.advance_head(head).await.expect("head");
    let (_tx, heads) = watch::channel(Some(head));
    std::mem::forget(_tx);
    let mut cfg = NetworkConfig::new("127.0.0.1:0".parse().expect("addr"));
    config(&mut cfg);
    let cluster = keys::random_secret();
    let instance = keys::random_secret();
    let cancel = CancellationToken::new();
    let (handle, _task) = spawn(cfg, vec![cluster.clone(), instance], spec.clone(), store, heads, cancel.clone()).await.expect("spawn");
    Fixture { handle, cluster, spec, blocks, _cancel: cancel.drop_guard() }
}

async fn p2p(f: &Fixture, version: u64) -> P2pConn<TcpStream> {
    hypasis_p2p::dial(f.handle.local_addr, &keys::random_secret(), identity::node_id(&f.cluster), "test-client", &[version])
        .await
        .expect("dial")
}

fn status_for(f: &Fixture, version: u64) -> Status {
    let genesis = &f.blocks[0];
    Status {
        version,
        network_id: f.spec.network_id,
        total_difficulty: Some(genesis.total_difficulty),
        genesis: f.spec.genesis_hash,
        fork_id: f.spec.fork_id(0, genesis.header.timestamp),
        head: genesis.hash(),
        range: Some((0, 0)),
    }
}

async fn connect(f: &Fixture, version: u64) -> EthConn<TcpStream> {
    let conn = p2p(f, version).await;
    assert_eq!(conn.eth_version, version);
    conn.exchange_status(&status_for(f, version), true, |_| Ok(())).await.expect("status")
}

async fn request(eth: &mut EthConn<TcpStream>, id: u8, data: &[u8]) -> Vec<u8> {
    eth.send(id, data).await.expect("send");
    tokio::time::timeout(Duration::from_secs(10), eth.recv()).await.expect("answer in time").expect("answer").data.to_vec()
}

async fn headers(eth: &mut EthConn<TcpStream>, req: GetBlockHeaders) -> Vec<SealedHeader> {
    let data = request(eth, id::GET_BLOCK_HEADERS, &req.encode()).await;
    let (rid, headers) = messages::decode_response(&data, "BlockHeaders", <SealedHeader as alloy_rlp::Decodable>::decode).expect("headers");
    assert_eq!(rid, req.request_id);
    headers
}

#[tokio::test]
async fn serves_headers_bodies_and_receipts_over_eth68_and_eth69() {
    let f = fixture(|_| {}).await;
    for version in [68, 69] {
        let mut eth = connect(&f, version).await;
        assert_eq!(eth.remote_status.head, f.blocks[BLOCKS].hash(), "status advertises the head");
        assert_eq!(eth.remote_status.total_difficulty, Some(f.blocks[BLOCKS].total_difficulty));
        if version == 69 {
            assert_eq!(eth.remote_status.range, Some((0, BLOCKS as u64)));
        }

        // Genesis to head, hash-linked.
        let all =
            headers(&mut eth, GetBlockHeaders { request_id: 1, start: BlockId::Number(0), limit: 5000, skip: 0, reverse: false }).await;
        assert_eq!(all.len(), BLOCKS + 1);
        assert_eq!(all[0].hash(), f.spec.genesis_hash);
        for pair in all.windows(2) {
            assert_eq!(pair[1].parent_hash(), pair[0].hash());
        }
        // By hash, reverse, with skip.
        let start = f.blocks[100].hash();
        let some =
            headers(&mut eth, GetBlockHeaders { request_id: 2, start: BlockId::Hash(start), limit: 4, skip: 9, reverse: true }).await;
        assert_eq!(some.iter().map(SealedHeader::number).collect::<Vec<_>>(), vec![100, 90, 80, 70]);
        // Unknown origin: empty, and the session stays up.
        let none = headers(
            &mut eth,
            GetBlockHeaders { request_id: 3, start: BlockId::Hash(B256::repeat_byte(0xee)), limit: 4, skip: 0, reverse: false },
        )
        .await;
        assert!(none.is_empty());

        // Bodies: unknown hash skipped, the rest match their headers.
        let mut hashes: Vec<B256> = f.blocks[1..=10].iter().map(|b| b.hash()).collect();
        hashes.insert(3, B256::repeat_byte(0xab));
        let data = request(&mut eth, id::GET_BLOCK_BODIES, &HashRequest { request_id: 4, hashes }.encode()).await;
        let (_, bodies) = messages::decode_response(&data, "BlockBodies", <BlockBody as alloy_rlp::Decodable>::decode).expect("bodies");
        assert_eq!(bodies.len(), 10);
        for (body, block) in bodies.iter().zip(&f.blocks[1..=10]) {
            body.verify(&block.header).expect("body matches its header");
        }

        // Receipts in the version's encoding, matching receiptsRoot.
        let hashes: Vec<B256> = f.blocks[1..=5].iter().map(|b| b.hash()).collect();
        let data = request(&mut eth, id::GET_RECEIPTS, &HashRequest { request_id: 5, hashes }.encode()).await;
        let receipts: Vec<Vec<Receipt>> = if version >= 69 {
            messages::decode_response(&data, "Receipts", messages::decode_receipts69).expect("receipts").1
        } else {
            messages::decode_response(&data, "Receipts", <Vec<Receipt> as alloy_rlp::Decodable>::decode).expect("receipts").1
        };
        assert_eq!(receipts.len(), 5);
        for (list, block) in receipts.iter().zip(&f.blocks[1..=5]) {
            assert_eq!(receipts_root(list), block.header.receipts_root);
        }

        // A sprint-start block (16, 32, …) has a state-sync receipt: appended last over eth/69
        // only (type 0, cumulative gas 0, the StateReceiver's log); the consensus receipts before
        // it still match receiptsRoot. eth/68 answers carry the consensus receipts only.
        let sprint_starts: Vec<&hypasis_chain::Block> = f.blocks.iter().filter(|b| b.state_sync_receipt.is_some()).take(3).collect();
        assert_eq!(sprint_starts.iter().map(|b| b.number()).collect::<Vec<_>>(), vec![16, 32, 48]);
        let hashes: Vec<B256> = sprint_starts.iter().map(|b| b.hash()).chain([f.blocks[17].hash()]).collect();
        let data = request(&mut eth, id::GET_RECEIPTS, &HashRequest { request_id: 6, hashes }.encode()).await;
        let receipts: Vec<Vec<Receipt>> = if version >= 69 {
            messages::decode_response(&data, "Receipts", messages::decode_receipts69).expect("receipts").1
        } else {
            messages::decode_response(&data, "Receipts", <Vec<Receipt> as alloy_rlp::Decodable>::decode).expect("receipts").1
        };
        for (list, block) in receipts.iter().zip(&sprint_starts) {
            let consensus = block.receipts.as_ref().expect("receipts");
            if version >= 69 {
                assert_eq!(list.len(), consensus.len() + 1, "block {}", block.number());
                let last = list.last().expect("state-sync receipt");
                assert!(hypasis_chain::receipt::is_state_sync_receipt(last));
                assert_eq!(last.logs[0].address, hypasis_chain::receipt::STATE_RECEIVER);
                assert_eq!(receipts_root(&list[..list.len() - 1]), block.header.receipts_root);
            } else {
                assert_eq!(list, consensus, "block {}", block.number());
            }
        }
        assert_eq!(receipts[3].len(), f.blocks[17].receipts.as_ref().expect("receipts").len(), "not a sprint start: nothing appended");
    }
    assert_eq!(f.handle.peak_peers(), 1);
}

#[tokio::test]
async fn both_identities_are_answered() {
    let f = fixture(|_| {}).await;
    assert_eq!(f.handle.enodes.len(), 2);
    for enode in &f.handle.enodes {
        let id_hex = enode.trim_start_matches("enode://").split('@').next().expect("id");
        let id = hypasis_rlpx::NodeId::from_slice(&hex_decode(id_hex));
        let mut stream = TcpStream::connect(f.handle.local_addr).await.expect("connect");
        let me = keys::random_secret();
        let secrets = hypasis_rlpx::initiate(&mut stream, &me, id).await.expect("handshake to this identity");
        let framed = Framed::new(stream, FrameCodec::new(secrets, 16 << 20));
        let hello = Hello {
            protocol_version: 5,
            client_id: "t".into(),
            capabilities: vec![Capability::new("eth", 68)],
            listen_port: 0,
            id: identity::node_id(&me),
        };
        // P2pConn::handshake checks that the server's Hello names the key we dialed.
        P2pConn::handshake(framed, &hello, id).await.expect("Hello names the dialed identity");
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

async fn expect_disconnect(eth: &mut EthConn<TcpStream>) -> DisconnectReason {
    match tokio::time::timeout(Duration::from_secs(10), eth.recv()).await.expect("in time") {
        Err(WireError::Disconnected(reason)) => reason,
        other => panic!("expected a Disconnect, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_genesis_and_network_are_refused() {
    let f = fixture(|_| {}).await;
    let conn = p2p(&f, 68).await;
    let wrong = Status { genesis: B256::repeat_byte(1), ..status_for(&f, 68) };
    let mut eth = conn.exchange_status(&wrong, true, |_| Ok(())).await.expect("our side accepts theirs");
    assert_eq!(expect_disconnect(&mut eth).await, DisconnectReason::SubprotocolError);

    let conn = p2p(&f, 69).await;
    let wrong = Status { network_id: 1, ..status_for(&f, 69) };
    let mut eth = conn.exchange_status(&wrong, true, |_| Ok(())).await.expect("our side accepts theirs");
    assert_eq!(expect_disconnect(&mut eth).await, DisconnectReason::SubprotocolError);
}

#[tokio::test]
async fn malformed_requests_and_unknown_ids_get_a_breach_disconnect() {
    let f = fixture(|_| {}).await;
    let mut eth = connect(&f, 68).await;
    eth.send(id::GET_BLOCK_HEADERS, &[0xc3, 0x01, 0xc1, 0x80]).await.expect("send");
    assert_eq!(expect_disconnect(&mut eth).await, DisconnectReason::ProtocolBreach);

    let mut eth = connect(&f, 68).await;
    eth.send(0x30, &[0xc0]).await.expect("send");
    assert_eq!(expect_disconnect(&mut eth).await, DisconnectReason::ProtocolBreach);
}

#[tokio::test]
async fn a_full_server_says_too_many_peers_after_the_wait() {
    let f = fixture(|c| {
        c.max_peers = 1;
        c.admission_queue = 1;
        c.admission_wait = Duration::from_millis(300);
    })
    .await;
    let _first = connect(&f, 68).await;
    let second = p2p(&f, 68).await;
    match second.exchange_status(&status_for(&f, 68), true, |_| Ok(())).await {
        Err(WireError::Disconnected(reason)) => assert_eq!(reason, DisconnectReason::TooManyPeers),
        other => panic!("expected TooManyPeers, got {other:?}"),
    }
    drop(_first);
    // The slot frees once the first peer leaves.
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let conn = p2p(&f, 68).await;
            if conn.exchange_status(&status_for(&f, 68), true, |_| Ok(())).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "a slot freed up after the first peer left");
}
