//! The binary's devp2p port, driven by our own initiator: RLPx, Hello, Status, headers.

mod support;

use hypasis_chain::SealedHeader;
use hypasis_eth_wire::eth::{
    id,
    messages::{self, BlockId, GetBlockHeaders},
};
use hypasis_rlpx::{NodeId, keys};
use std::time::Duration;
use support::{Node, eventually};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_downloads_the_chain_from_the_node() {
    let node = Node::start(&["--devnet-prefill", "100", "--devnet-block-time", "3600"]);
    eventually(Duration::from_secs(30), "prefill", || node.get_json("/api/v1/status")["head"]["number"].as_u64().filter(|n| *n == 100));
    let status = node.get_json("/api/v1/status");
    let enode = status["enode"].as_str().expect("status.enode is set").to_owned();
    assert_eq!(node.enodes.first(), Some(&enode));
    let id_hex = enode.trim_start_matches("enode://").split('@').next().expect("id");
    let server_id = NodeId::from_slice(&hex::decode(id_hex).expect("hex"));

    let conn = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "test", &[69]).await.expect("dial");
    // Mirror the server's Status back (same chain), as a peer on the same network would.
    let mut theirs = None;
    let mut eth = conn
        .exchange_status(&support::status_for(&status), true, |s| {
            theirs = Some(s.clone());
            Ok(())
        })
        .await
        .expect("status");
    let theirs = theirs.expect("server status");
    assert_eq!(format!("{:#x}", theirs.genesis), status["genesis_hash"].as_str().expect("genesis"));
    assert_eq!(theirs.range.map(|r| r.1), Some(100));

    let req = GetBlockHeaders { request_id: 9, start: BlockId::Number(0), limit: 1024, skip: 0, reverse: false };
    eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
    let answer = eth.recv().await.expect("headers");
    assert_eq!(answer.id, id::BLOCK_HEADERS);
    let (_, headers) =
        messages::decode_response(&answer.data, "BlockHeaders", <SealedHeader as alloy_rlp::Decodable>::decode).expect("decode");
    assert_eq!(headers.len(), 101);
    assert_eq!(format!("{:#x}", headers[0].hash()), status["genesis_hash"].as_str().expect("genesis"));
    for pair in headers.windows(2) {
        assert_eq!(pair[1].parent_hash(), pair[0].hash());
    }
    let p2p = node.p2p;
    let node = tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(10), "peer count 1", || node.get_json("/api/v1/status")["peers"].as_u64().filter(|p| *p == 1));
        let peers = node.get_json("/api/v1/peers");
        assert_eq!(peers["count"], 1, "{peers}");
        let me = &peers["peers"][0];
        assert_eq!(me["client"], "test");
        assert_eq!(me["eth_version"], 69);
        assert_eq!(me["requests"], 1, "{peers}");
        assert!(me["bytes_out"].as_u64().is_some_and(|b| b > 101 * 500), "{peers}");
        node
    })
    .await
    .expect("join");
    drop(eth);

    // Malformed input on each layer: a garbage auth, an oversized discv4 datagram. Each is
    // dropped and counted.
    let mut garbage = TcpStream::connect(p2p).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut garbage, &[0x01, 0x10, 0xde, 0xad]).await.expect("write");
    tokio::io::AsyncWriteExt::write_all(&mut garbage, &[7u8; 0x10e]).await.expect("write");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    udp.send_to(&[0u8; 1500], p2p).await.expect("send");
    tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(10), "malformed-input metrics", || {
            let (_, metrics) = node.get("/metrics");
            let ecies = metrics.contains(r#"hypasis_p2p_handshakes_total{result="ecies"}"#);
            let udp = metrics.contains(r#"hypasis_discv4_dropped_total{reason="too_large"}"#);
            (ecies && udp).then_some(())
        });
        let (_, metrics) = node.get("/metrics");
        assert!(metrics.contains("hypasis_p2p_serve_seconds"), "serve latency histogram exported");
    })
    .await
    .expect("join");
}

#[test]
fn a_public_host_name_is_resolved_and_the_public_port_is_advertised_in_enode_and_enr() {
    let node = Node::start(&["--devnet-block-time", "3600", "--public-host", "localhost", "--public-port", "40404"]);
    let status = node.get_json("/api/v1/status");
    let enode = status["enode"].as_str().expect("enode");
    assert!(enode.ends_with("@127.0.0.1:40404"), "resolved IP and public port: {enode}");
    let enr: enr::Enr<hypasis_discv4::record::EnrKey> = status["enr"].as_str().expect("enr").parse().expect("a valid ENR");
    assert_eq!(enr.ip4(), Some(std::net::Ipv4Addr::LOCALHOST));
    assert_eq!((enr.tcp4(), enr.udp4()), (Some(40404), Some(40404)), "{enr}");
    // The node still listens where it was told (port 0 → a free one), not on the public port.
    assert_ne!(node.p2p.port(), 40404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_from_one_address_do_not_keep_out_a_peer_from_another() {
    use tokio::io::AsyncReadExt;
    let node =
        tokio::task::spawn_blocking(|| Node::start(&["--devnet-prefill", "10", "--devnet-block-time", "3600"])).await.expect("start");
    let status = node.get_json("/api/v1/status");
    let server_id = server_id(&status);
    // 256 sockets from 127.0.0.1 that never send the RLPx auth message: before the per-address
    // cap they held every pending-handshake slot for the whole handshake timeout.
    let mut idle = Vec::new();
    for _ in 0..256 {
        idle.push(TcpStream::connect(node.p2p).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A real peer from another address (127.0.0.2) gets in at once.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.2:0".parse().expect("addr")).expect("bind 127.0.0.2");
    let stream = socket.connect(node.p2p).await.expect("connect from 127.0.0.2");
    let conn =
        tokio::time::timeout(Duration::from_secs(2), hypasis_p2p::handshake(stream, &keys::random_secret(), server_id, "test", &[69]))
            .await
            .expect("handshake within 2 s")
            .expect("handshake");
    conn.exchange_status(&support::status_for(&status), true, |_| Ok(())).await.expect("status");
    let (_, metrics) = node.get("/metrics");
    let per_ip: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("hypasis_p2p_admission_rejected_total") && l.contains("handshakes_per_ip"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(per_ip >= (256 - 32) as f64, "the rest of the 256 were shed at accept: {per_ip}");
    // The idle sockets that got a slot are closed once the auth deadline (3 s) passes.
    let mut byte = [0u8; 1];
    let read =
        tokio::time::timeout(Duration::from_secs(6), idle[0].read(&mut byte)).await.expect("closed by the server within the auth deadline");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_dropped_after_the_write_timeout() {
    use hypasis_eth_wire::eth::{
        id,
        messages::{BlockId, GetBlockHeaders},
    };
    let node = tokio::task::spawn_blocking(|| {
        Node::start(&["--devnet-prefill", "1000", "--devnet-block-time", "3600", "--p2p-write-timeout", "2"])
    })
    .await
    .expect("start");
    let node = tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(60), "prefill", || {
            node.get_json("/api/v1/status")["head"]["number"].as_u64().filter(|n| *n == 1000)
        });
        node
    })
    .await
    .expect("prefill");
    let status = node.get_json("/api/v1/status");
    let server_id = server_id(&status);
    let conn = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "bor/stalled", &[69]).await.expect("dial");
    let mut eth = conn.exchange_status(&support::status_for(&status), true, |_| Ok(())).await.expect("status");
    // Ask for far more than the socket buffers hold, and never read an answer.
    let mut sent = 0;
    for request_id in 0..400u64 {
        let req = GetBlockHeaders { request_id, start: BlockId::Number(0), limit: 1024, skip: 0, reverse: false };
        if tokio::time::timeout(Duration::from_secs(1), eth.send(id::GET_BLOCK_HEADERS, &req.encode())).await.map_or(true, |r| r.is_err()) {
            break;
        }
        sent += 1;
    }
    eprintln!("sent {sent} requests without reading an answer");

    let node = tokio::task::spawn_blocking(move || {
        support::eventually(Duration::from_secs(15), "the stalled peer dropped", || {
            (node.get_json("/api/v1/peers")["count"] == 0).then_some(())
        });
        node
    })
    .await
    .expect("poll");
    let (_, metrics) = node.get("/metrics");
    let timeouts: f64 = metrics
        .lines()
        .find(|l| l.starts_with("hypasis_p2p_write_timeouts_total "))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("write timeouts counted");
    assert!(timeouts >= 1.0, "{timeouts}");
    drop(eth);
    tokio::task::spawn_blocking(move || drop(node)).await.expect("stop");
}

/// The node id in a REST status's enode URL.
fn server_id(status: &serde_json::Value) -> NodeId {
    let enode = status["enode"].as_str().expect("enode");
    NodeId::from_slice(&hex::decode(enode.trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"))
}

/// The sum of `hypasis_p2p_admission_rejected_total{reason}` in a metrics page.
fn rejected(metrics: &str, reason: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("hypasis_p2p_admission_rejected_total") && l.contains(&format!("reason=\"{reason}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_node_keys_from_one_address_get_its_share_and_others_are_still_served() {
    let node =
        tokio::task::spawn_blocking(|| Node::start(&["--devnet-prefill", "10", "--devnet-block-time", "3600", "--max-peers", "100"]))
            .await
            .expect("start");
    let status = node.get_json("/api/v1/status");
    let server_id = server_id(&status);
    // 1,000 sessions from 127.0.0.1, each with a new node key, 40 dialing at a time; the ones
    // admitted stay connected.
    let ours = support::status_for(&status);
    let admitted = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut dialers = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (admitted, next, ours, p2p) = (admitted.clone(), next.clone(), ours.clone(), node.p2p);
        dialers.spawn(async move {
            let mut refused = 0;
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 1_000 {
                let session = async {
                    let conn = hypasis_p2p::dial(p2p, &keys::random_secret(), server_id, "bor/many-keys", &[69]).await.ok()?;
                    conn.exchange_status(&ours, true, |_| Ok(())).await.ok()
                };
                match tokio::time::timeout(Duration::from_secs(10), session).await {
                    Ok(Some(eth)) => admitted.lock().await.push(eth),
                    _ => refused += 1,
                }
            }
            refused
        });
    }
    let mut refused = 0;
    while let Some(r) = dialers.join_next().await {
        refused += r.expect("dialer");
    }
    let admitted = admitted.lock().await.len();
    assert_eq!(admitted, 16, "one address gets --p2p-peers-per-ip places ({refused} refused)");
    // A peer from another address still gets in and is served.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.2:0".parse().expect("addr")).expect("bind 127.0.0.2");
    let stream = socket.connect(node.p2p).await.expect("connect from 127.0.0.2");
    let conn = hypasis_p2p::handshake(stream, &keys::random_secret(), server_id, "bor/other-host", &[69]).await.expect("handshake");
    let mut eth = conn.exchange_status(&ours, true, |_| Ok(())).await.expect("status from another address");
    let req = GetBlockHeaders { request_id: 1, start: BlockId::Number(0), limit: 5, skip: 0, reverse: false };
    eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.expect("send");
    assert_eq!(eth.recv().await.expect("answer").id, id::BLOCK_HEADERS);
    let node = tokio::task::spawn_blocking(move || {
        assert_eq!(node.get_json("/api/v1/peers")["count"], 17, "16 from one address and the other host");
        node
    })
    .await
    .expect("peers");
    let (_, metrics) = node.get("/metrics");
    // The rest were refused for the address: after their handshake (peer cap), or at accept when
    // more than its 32 handshakes were in flight at once.
    // How they split depends on timing: handshakes are slow, refusals at accept are not.
    let (peers, pending) = (rejected(&metrics, "peers_per_ip"), rejected(&metrics, "handshakes_per_ip"));
    assert!(peers >= 1.0, "the peer cap refused some after their handshake: {peers} (and {pending} at accept)");
    assert!(peers + pending >= 900.0, "refusals for the address: {peers} over its peer cap, {pending} over its handshake cap");
    assert!(metrics.contains(r#"hypasis_p2p_limit{name="max_peers_per_ip"} 16"#), "the limit is exported");
    tokio::task::spawn_blocking(move || drop(node)).await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_keeps_breaking_the_protocol_is_banned_for_a_while() {
    let node = tokio::task::spawn_blocking(|| {
        Node::start(&["--devnet-prefill", "10", "--devnet-block-time", "3600", "--p2p-ban-breaches", "3", "--p2p-ban-seconds", "3"])
    })
    .await
    .expect("start");
    let status = node.get_json("/api/v1/status");
    let server_id = server_id(&status);
    let ours = support::status_for(&status);
    // Three sessions that send an undecodable GetBlockHeaders: each is dropped as a breach.
    for _ in 0..3 {
        let conn = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "bor/broken", &[69]).await.expect("dial");
        let mut eth = conn.exchange_status(&ours, true, |_| Ok(())).await.expect("status");
        eth.send(id::GET_BLOCK_HEADERS, &[0xc2, 0x01, 0xff]).await.expect("send");
        let ended = tokio::time::timeout(Duration::from_secs(5), async { while eth.recv().await.is_ok() {} }).await;
        assert!(ended.is_ok(), "the breaking session is ended");
    }
    // The third breach is counted once its session is over: wait for the ban.
    let node = tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(5), "the ban", || node.get("/metrics").1.contains("hypasis_p2p_bans_total 1").then_some(()));
        node
    })
    .await
    .expect("ban");
    // Now the address is refused before any handshake; another address is not.
    let refused = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "bor/after-ban", &[69]).await;
    assert!(refused.is_err(), "a banned address gets no session");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.3:0".parse().expect("addr")).expect("bind 127.0.0.3");
    let stream = socket.connect(node.p2p).await.expect("connect from 127.0.0.3");
    let conn = hypasis_p2p::handshake(stream, &keys::random_secret(), server_id, "bor/other-host", &[69]).await.expect("handshake");
    conn.exchange_status(&ours, true, |_| Ok(())).await.expect("another address is served");
    let (_, metrics) = node.get("/metrics");
    assert!(metrics.contains("hypasis_p2p_bans_total 1"), "one ban counted");
    assert!(rejected(&metrics, "banned") >= 1.0);
    // The ban expires.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let conn = hypasis_p2p::dial(node.p2p, &keys::random_secret(), server_id, "bor/after-ban", &[69]).await.expect("dial after the ban");
    conn.exchange_status(&ours, true, |_| Ok(())).await.expect("served again after the ban");
    tokio::task::spawn_blocking(move || drop(node)).await.expect("stop");
}
