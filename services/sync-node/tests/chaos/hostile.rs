//! Hostile peers against one instance: 1,000 sockets that never finish a handshake, a peer that
//! floods requests, one that sends a 17 MiB message, one that sends garbage after the handshake.

use hypasis_eth_wire::eth::{
    id,
    messages::{BlockId, GetBlockHeaders},
    status::Status,
};
use hypasis_loadtest::Target;
use hypasis_rlpx::keys;
use serde_json::{Value, json};
use std::{net::IpAddr, time::Duration};
use tokio::net::{TcpSocket, TcpStream};

async fn connect_from(source: [u8; 4], target: Target) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((IpAddr::from(source), 0).into())?;
    socket.connect(target.addr).await
}

/// A peer from `source` past the Status exchange.
async fn session(source: [u8; 4], target: Target, ours: &Status) -> Option<hypasis_eth_wire::conn::EthConn<TcpStream>> {
    let stream = connect_from(source, target).await.ok()?;
    let conn = hypasis_p2p::handshake(stream, &keys::random_secret(), target.id, "bor/hostile", &[69]).await.ok()?;
    conn.exchange_status(ours, true, |_| Ok(())).await.ok()
}

/// Whether the node ends the session within 10 s.
async fn dropped(mut eth: hypasis_eth_wire::conn::EthConn<TcpStream>) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async { while eth.recv().await.is_ok() {} }).await.is_ok()
}

/// Runs the attacks for `duration`; returns what each saw.
pub(crate) async fn attack(target: Target, ours: &Status, duration: Duration) -> Value {
    // 1,000 idle sockets from one address, held for the whole phase.
    let mut idle = Vec::new();
    for _ in 0..1_000 {
        if let Ok(stream) = connect_from([127, 0, 0, 60], target).await {
            idle.push(stream);
        }
    }
    // A flooder: as many header requests as it can for the phase, reading the answers.
    let flood = {
        let ours = ours.clone();
        tokio::spawn(async move {
            let Some(mut eth) = session([127, 0, 0, 61], target, &ours).await else { return 0u64 };
            let until = tokio::time::Instant::now() + duration;
            let mut answered = 0;
            while tokio::time::Instant::now() < until {
                let req = GetBlockHeaders { request_id: answered, start: BlockId::Number(1), limit: 1_024, skip: 0, reverse: false };
                if eth.send(id::GET_BLOCK_HEADERS, &req.encode()).await.is_err() || eth.recv().await.is_err() {
                    break;
                }
                answered += 1;
            }
            answered
        })
    };
    // A 17 MiB message (compressed it fits a frame; it decompresses past the 16 MiB cap).
    let big = match session([127, 0, 0, 62], target, ours).await {
        Some(mut eth) => {
            let _ = eth.send(id::TRANSACTIONS, &vec![0xc0; 17 << 20]).await;
            dropped(eth).await
        }
        None => false,
    };
    // Garbage where a request should be.
    let garbage = match session([127, 0, 0, 63], target, ours).await {
        Some(mut eth) => {
            let _ = eth.send(id::GET_BLOCK_HEADERS, &[0xde, 0xad, 0xbe, 0xef]).await;
            dropped(eth).await
        }
        None => false,
    };
    let flood_answered = flood.await.unwrap_or(0);
    let held = idle.len();
    drop(idle);
    json!({
        "idle_sockets_opened": held,
        "flood_requests_answered": flood_answered,
        "oversized_message_dropped": big,
        "garbage_sender_dropped": garbage,
    })
}
