//! The UDP service against a raw socket on loopback: ping/pong, bonding, ENR and FindNode.

use alloy_eip2124::{ForkHash, ForkId};
use hypasis_discv4::{
    Discv4Config,
    message::{Endpoint, Message},
    packet, record, spawn,
};
use hypasis_rlpx::keys;
use std::{net::SocketAddr, time::Duration};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

fn expiry() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 20
}

async fn recv(socket: &UdpSocket) -> Option<(Message, alloy_primitives::B256)> {
    let mut buf = vec![0u8; 2048];
    let (len, _) = tokio::time::timeout(Duration::from_millis(1500), socket.recv_from(&mut buf)).await.ok()?.ok()?;
    let p = packet::decode(&buf[..len]).expect("server packets are valid");
    Some((Message::decode(p.kind, p.data).expect("valid"), p.hash))
}

#[tokio::test]
async fn ping_bond_enr_and_findnode() {
    let server_key = keys::random_secret();
    let fork = ForkId { hash: ForkHash([1, 2, 3, 4]), next: 0 };
    let config = Discv4Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        public_ip: [127, 0, 0, 1].into(),
        tcp_port: 30303,
        udp_port: None,
        bootnodes: vec![],
        fork_id: fork,
        unlimited: vec![],
    };
    let cancel = CancellationToken::new();
    let (handle, _task) = spawn(config, server_key.clone(), cancel.clone()).await.expect("spawn");
    let server: SocketAddr = handle.local_addr;
    let me = keys::random_secret();
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let my_port = socket.local_addr().expect("addr").port();
    let ep = |port| Endpoint { ip: [127, 0, 0, 1].into(), udp: port, tcp: port };

    // Unbonded: ENRRequest gets no answer.
    let (bytes, _) = packet::encode(&me, 5, &Message::EnrRequest { expiration: expiry() }.encode());
    socket.send_to(&bytes, server).await.expect("send");
    assert!(recv(&socket).await.is_none(), "no ENR for an unproven endpoint");

    // Ping → Pong with our hash, and a Ping back to prove our endpoint.
    let ping = Message::Ping { version: 4, from: ep(my_port), to: ep(server.port()), expiration: expiry(), enr_seq: None };
    let (bytes, ping_hash) = packet::encode(&me, 1, &ping.encode());
    socket.send_to(&bytes, server).await.expect("send");
    let (mut got_pong, mut their_ping) = (false, None);
    while let Some((msg, hash)) = recv(&socket).await {
        match msg {
            Message::Pong { ping_hash: h, .. } => {
                assert_eq!(h, ping_hash);
                got_pong = true;
            }
            Message::Ping { .. } => their_ping = Some(hash),
            other => panic!("unexpected {other:?}"),
        }
        if got_pong && their_ping.is_some() {
            break;
        }
    }
    assert!(got_pong, "pong received");
    let their_ping = their_ping.expect("the server pinged back");
    let pong = Message::Pong { to: ep(server.port()), ping_hash: their_ping, expiration: expiry(), enr_seq: None };
    socket.send_to(&packet::encode(&me, 2, &pong.encode()).0, server).await.expect("send");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(handle.table_len(), 1);

    // Bonded: ENRRequest → ENRResponse with our fork id, signed by the server key.
    let (bytes, request_hash) = packet::encode(&me, 5, &Message::EnrRequest { expiration: expiry() }.encode());
    socket.send_to(&bytes, server).await.expect("send");
    let (msg, _) = recv(&socket).await.expect("ENR response");
    let Message::EnrResponse { request_hash: h, enr } = msg else { panic!("expected ENRResponse") };
    assert_eq!(h, request_hash);
    let parsed: enr::Enr<record::EnrKey> = alloy_rlp::Decodable::decode(&mut enr.as_ref()).expect("valid ENR");
    assert_eq!(record::fork_id(&parsed), Some(fork));
    assert_eq!(parsed.to_base64(), handle.enr);

    // FindNode → Neighbors containing us.
    let find = Message::FindNode { target: keys::node_id(&me.public_key()), expiration: expiry() };
    socket.send_to(&packet::encode(&me, 3, &find.encode()).0, server).await.expect("send");
    let (msg, _) = recv(&socket).await.expect("neighbors");
    let Message::Neighbors { nodes, .. } = msg else { panic!("expected Neighbors") };
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].id, keys::node_id(&me.public_key()));

    // Expired and oversized packets are dropped silently.
    let stale = Message::Ping { version: 4, from: ep(my_port), to: ep(server.port()), expiration: 1, enr_seq: None };
    socket.send_to(&packet::encode(&me, 1, &stale.encode()).0, server).await.expect("send");
    socket.send_to(&vec![0u8; 1400], server).await.expect("send");
    assert!(recv(&socket).await.is_none());
    cancel.cancel();
}

#[tokio::test]
async fn a_ping_flood_from_one_unproven_address_gets_a_bounded_answer() {
    let config = Discv4Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        public_ip: [127, 0, 0, 1].into(),
        tcp_port: 30303,
        udp_port: None,
        bootnodes: vec![],
        fork_id: ForkId { hash: ForkHash([1, 2, 3, 4]), next: 0 },
        unlimited: vec![],
    };
    let cancel = CancellationToken::new();
    let (handle, _task) = spawn(config, keys::random_secret(), cancel.clone()).await.expect("spawn");
    let server = handle.local_addr;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let ep = |port| Endpoint { ip: [127, 0, 0, 1].into(), udp: port, tcp: port };
    // 300 pings, each from a fresh key (as a spoofer would), all from one address.
    let started = std::time::Instant::now();
    let mut sent_bytes = 0;
    for _ in 0..300 {
        let ping = Message::Ping { version: 4, from: ep(port), to: ep(server.port()), expiration: expiry(), enr_seq: None };
        let (bytes, _) = packet::encode(&keys::random_secret(), 1, &ping.encode());
        sent_bytes += bytes.len();
        socket.send_to(&bytes, server).await.expect("send");
    }
    let (mut packets, mut bytes) = (0usize, 0usize);
    let mut buf = vec![0u8; 2048];
    while let Ok(Ok((len, _))) = tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await {
        packets += 1;
        bytes += len;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("300 pings ({sent_bytes} bytes) → {packets} packets ({bytes} bytes) in {seconds:.2} s");
    let bound = 32.0 + 8.0 * seconds;
    assert!(packets >= 2 && (packets as f64) <= bound, "{packets} answers; at most {bound:.0} (burst 32, 8/s)");
    assert!(bytes * 5 < sent_bytes, "the answers are a small fraction of the flood: {bytes} of {sent_bytes} bytes");
    // Another address is answered at once.
    let other = UdpSocket::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
    let ping = Message::Ping {
        version: 4,
        from: ep(other.local_addr().expect("addr").port()),
        to: ep(server.port()),
        expiration: expiry(),
        enr_seq: None,
    };
    other.send_to(&packet::encode(&keys::random_secret(), 1, &ping.encode()).0, server).await.expect("send");
    assert!(matches!(recv(&other).await, Some((Message::Pong { .. } | Message::Ping { .. }, _))), "another address is answered");
    cancel.cancel();
}
