//! The PROXY protocol on the devp2p and HTTP listeners: v1 and v2 headers from a trusted load
//! balancer (127.0.0.1 here) set the client address seen in `/api/v1/peers`; the same header
//! from an untrusted address (127.0.0.2) closes the connection and is counted.

mod support;

use hypasis_rlpx::{NodeId, keys};
use std::time::Duration;
use support::{Node, eventually};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn v2_header(client: [u8; 4], port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([0x21, 0x11, 0, 12]);
    header.extend(client);
    header.extend([127, 0, 0, 1]);
    header.extend(port.to_be_bytes());
    header.extend(30303u16.to_be_bytes());
    header
}

async fn peer_through_proxy(
    node: &Node,
    server_id: NodeId,
    header: &[u8],
    status: &serde_json::Value,
) -> hypasis_eth_wire::conn::EthConn<TcpStream> {
    let mut stream = TcpStream::connect(node.p2p).await.expect("connect");
    stream.write_all(header).await.expect("header");
    let conn =
        tokio::time::timeout(Duration::from_secs(5), hypasis_p2p::handshake(stream, &keys::random_secret(), server_id, "proxied", &[69]))
            .await
            .expect("handshake in time")
            .expect("handshake");
    conn.exchange_status(&support::status_for(status), true, |_| Ok(())).await.expect("status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_headers_name_the_client_and_untrusted_ones_are_refused() {
    let node = tokio::task::spawn_blocking(|| {
        Node::start(&["--devnet-prefill", "10", "--devnet-block-time", "3600", "--proxy-protocol-from", "127.0.0.1/32"])
    })
    .await
    .expect("start");
    let status = node.get_json("/api/v1/status");
    let enode = status["enode"].as_str().expect("enode").to_owned();
    let server_id = NodeId::from_slice(&hex::decode(enode.trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"));

    let v1 = peer_through_proxy(&node, server_id, b"PROXY TCP4 203.0.113.7 127.0.0.1 41000 30303\r\n", &status).await;
    let v2 = peer_through_proxy(&node, server_id, &v2_header([198, 51, 100, 9], 40000), &status).await;

    // An untrusted address sending a PROXY header: closed before any handshake.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.2:0".parse().expect("addr")).expect("bind 127.0.0.2");
    let mut liar = socket.connect(node.p2p).await.expect("connect from 127.0.0.2");
    liar.write_all(b"PROXY TCP4 192.0.2.1 127.0.0.1 1 30303\r\n").await.expect("write");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), liar.read(&mut byte)).await.expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "the connection is closed: {read:?}");
    // A malformed header from the trusted proxy: closed.
    let mut garbled = TcpStream::connect(node.p2p).await.expect("connect");
    garbled.write_all(b"PROXY TCP4 not-an-address\r\n").await.expect("write");
    let read = tokio::time::timeout(Duration::from_secs(5), garbled.read(&mut byte)).await.expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");

    // The HTTP listeners take the header from the trusted proxy too, and refuse it from others.
    let (status_code, body) = http_via_proxy(node.api, "127.0.0.1", b"PROXY TCP4 203.0.113.8 127.0.0.1 5000 8080\r\n").await;
    assert_eq!(status_code, Some(200), "{body}");
    let (status_code, _) = http_via_proxy(node.rpc, "127.0.0.2", b"PROXY TCP4 203.0.113.8 127.0.0.1 5000 8545\r\n").await;
    assert_eq!(status_code, None, "refused from an untrusted address");

    let node = tokio::task::spawn_blocking(move || {
        let peers = eventually(Duration::from_secs(10), "two peers", || {
            let peers = node.get_json("/api/v1/peers");
            (peers["count"] == 2).then_some(peers)
        });
        let addresses: Vec<&str> = peers["peers"].as_array().expect("list").iter().filter_map(|p| p["address"].as_str()).collect();
        assert!(addresses.contains(&"203.0.113.7:41000") && addresses.contains(&"198.51.100.9:40000"), "{peers}");
        let metrics = node.get("/metrics").1;
        let count = |name: &str, labels: &str| {
            metrics
                .lines()
                .filter(|l| l.starts_with(name) && l.contains(labels))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        assert_eq!(count("hypasis_proxy_protocol_accepted_total", "listener=\"p2p\""), 2.0, "{metrics}");
        assert!(count("hypasis_proxy_protocol_rejected_total", "reason=\"untrusted\"") >= 2.0);
        assert!(count("hypasis_proxy_protocol_rejected_total", "reason=\"malformed\"") >= 1.0);
        assert!(count("hypasis_proxy_protocol_accepted_total", "listener=\"api\"") >= 1.0);
        node
    })
    .await
    .expect("checks");
    drop((v1, v2, node));
}

/// An HTTP/1.0 GET of `/health/live` after `header`, from `source` → (status, response).
async fn http_via_proxy(addr: std::net::SocketAddr, source: &str, header: &[u8]) -> (Option<u16>, String) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{source}:0").parse().expect("addr")).expect("bind");
    let mut stream = socket.connect(addr).await.expect("connect");
    let _ = stream.write_all(header).await;
    let _ = stream.write_all(b"GET /health/live HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    (status, response)
}
