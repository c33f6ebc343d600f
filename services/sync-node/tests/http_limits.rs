//! The HTTP ports cannot eat the node: under an open-files limit of 1,024, 1,100 idle REST API
//! connections are held to the port's share (the rest closed at accept) and a devp2p peer still
//! connects; once they go the API answers again; a client that stalls in its request headers is
//! closed after the idle timeout; one client address gets its share of the connections.

mod support;

use hypasis_rlpx::{NodeId, keys};
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};
use support::Node;

fn metric(node: &Node, line_start: &str) -> Option<f64> {
    let metrics = node.get("/metrics").1;
    metrics.lines().find(|l| l.starts_with(line_start))?.rsplit(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_api_connections_do_not_stop_devp2p_accepts() {
    hypasis_sync::limits::raise_open_files().expect("the test itself needs 1,100 sockets");
    let node = tokio::task::spawn_blocking(|| {
        Node::start_wrapped(&["sh", "-c", "ulimit -Sn 1024 && ulimit -Hn 1024 && exec \"$0\" \"$@\""], &["--max-peers", "500"])
    })
    .await
    .expect("start");
    let (api, p2p) = (node.api, node.p2p);
    let idle = tokio::task::spawn_blocking(move || {
        (0..1_100).filter_map(|_| TcpStream::connect_timeout(&api, Duration::from_secs(2)).ok()).collect::<Vec<_>>()
    })
    .await
    .expect("connect");
    assert!(idle.len() >= 1_000, "connections opened: {}", idle.len());
    // The API port is full; devp2p still accepts and completes a handshake.
    let server_id =
        NodeId::from_slice(&hex::decode(node.enodes[0].trim_start_matches("enode://").split('@').next().expect("id")).expect("hex"));
    let conn = tokio::time::timeout(Duration::from_secs(10), hypasis_p2p::dial(p2p, &keys::random_secret(), server_id, "bor/test", &[69]))
        .await
        .expect("devp2p answers in time");
    assert!(conn.is_ok(), "devp2p handshake beside 1,100 idle API connections: {:?}", conn.err());
    drop(idle);
    let node = tokio::task::spawn_blocking(move || {
        support::eventually(Duration::from_secs(10), "the API answers again", || (node.get("/health/live").0 == 200).then_some(()));
        node
    })
    .await
    .expect("api");
    let budget = metric(&node, "hypasis_http_limit{listener=\"api\",name=\"max_connections\"}").expect("limit exported");
    assert_eq!(budget, 134.0, "(1024 - 500 peers - 256 reserved) / 2 ports");
    let refused = metric(&node, "hypasis_http_refused_total{listener=\"api\",reason=\"max_connections\"}").expect("refusals counted");
    assert!(refused >= 1_000.0 - budget, "{refused} refused");
    tokio::task::spawn_blocking(move || drop(node)).await.expect("stop");
}

#[test]
fn a_client_stalled_in_its_headers_is_closed_after_the_idle_timeout() {
    let node = Node::start(&["--http-idle-timeout", "2"]);
    let mut stalled = TcpStream::connect(node.api).expect("connect");
    stalled.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stalled, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow:").expect("write");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = stalled.read(&mut buf).unwrap_or(0);
    let took = started.elapsed();
    assert_eq!(n, 0, "closed without an answer: {:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(took >= Duration::from_millis(1_500) && took < Duration::from_secs(5), "closed after {took:?}");
    // A keep-alive connection that goes quiet is closed too; a busy one is not.
    assert_eq!(node.get("/health/live").0, 200);
    let closed = metric(&node, "hypasis_http_idle_closed_total{listener=\"api\"}").expect("counted");
    assert!(closed >= 1.0, "{closed}");
}

#[test]
fn one_client_address_gets_its_share_of_the_connections_and_another_is_still_served() {
    let node = Node::start(&["--http-connections-per-ip", "5"]);
    // Eight idle connections from 127.0.0.1: five are kept, three closed at once.
    let mut idle: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(node.api).expect("connect")).collect();
    let mut closed = 0;
    for stream in &mut idle {
        stream.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
        let mut byte = [0u8; 1];
        if matches!(stream.read(&mut byte), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 3, "connections over the address's share closed");
    // Another address is served beside them.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.2:0".parse().expect("addr")).expect("bind 127.0.0.2");
        let stream = socket.connect(node.api).await.expect("connect from 127.0.0.2").into_std().expect("std");
        stream.set_nonblocking(false).expect("blocking");
        stream
    });
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(stream, "GET /health/live HTTP/1.0\r\nHost: x\r\n\r\n").expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "{answer}");
    // 127.0.0.1 is served again once its idle connections go.
    drop(idle);
    // A metrics request sent before the node has seen the idle connections close is itself
    // refused (and counted): count those attempts too.
    let mut refused_attempts = 0.0;
    let refused = support::eventually(Duration::from_secs(5), "127.0.0.1 served again", || {
        match std::panic::catch_unwind(|| metric(&node, "hypasis_http_refused_total{listener=\"api\",reason=\"per_ip\"}")) {
            Ok(value) => value,
            Err(_) => {
                refused_attempts += 1.0;
                None
            }
        }
    });
    assert_eq!(refused, 3.0 + refused_attempts, "refused: the 3 over the share and {refused_attempts} early metrics requests");
}
