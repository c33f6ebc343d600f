//! The initiator side: dial a node, authenticate it by its node id, exchange Hello.

use crate::{config::DEFAULT_MAX_INGRESS_FRAME, identity};
use hypasis_eth_wire::{
    Capability, Hello, WireError,
    conn::{P2pConn, SNAP, SNAP_VERSION},
    p2p::P2P_VERSION,
};
use hypasis_rlpx::{FrameCodec, NodeId};
use k256::SecretKey;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Connects to `addr`, completes RLPx with the node `remote` and Hello offering `eth_versions`.
///
/// # Errors
/// [`WireError`] when the connection, the handshake or Hello fails (including a node that is not
/// `remote`, or one sharing no eth version).
pub async fn dial(
    addr: SocketAddr,
    our_key: &SecretKey,
    remote: NodeId,
    client_id: &str,
    eth_versions: &[u64],
) -> Result<P2pConn<TcpStream>, WireError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| WireError::Rlpx(hypasis_rlpx::RlpxError::Io(e)))?;
    handshake(stream, our_key, remote, client_id, eth_versions).await
}

/// [`dial`] over a connection the caller opened (e.g. from a chosen local address).
///
/// # Errors
/// As [`dial`].
pub async fn handshake(
    stream: TcpStream,
    our_key: &SecretKey,
    remote: NodeId,
    client_id: &str,
    eth_versions: &[u64],
) -> Result<P2pConn<TcpStream>, WireError> {
    handshake_with_snap(stream, our_key, remote, client_id, eth_versions, false).await
}

/// [`handshake`], offering `snap/1` beside eth when `snap` is set ([`P2pConn::snap`] says whether
/// the node offered it too).
///
/// # Errors
/// As [`dial`].
pub async fn handshake_with_snap(
    mut stream: TcpStream,
    our_key: &SecretKey,
    remote: NodeId,
    client_id: &str,
    eth_versions: &[u64],
    snap: bool,
) -> Result<P2pConn<TcpStream>, WireError> {
    let _ = stream.set_nodelay(true);
    let secrets = hypasis_rlpx::initiate(&mut stream, our_key, remote).await?;
    let framed = Framed::new(stream, FrameCodec::new(secrets, DEFAULT_MAX_INGRESS_FRAME));
    let mut capabilities: Vec<Capability> = eth_versions.iter().map(|v| Capability::new("eth", *v)).collect();
    if snap {
        capabilities.push(Capability::new(SNAP, SNAP_VERSION));
    }
    let hello = Hello {
        protocol_version: P2P_VERSION,
        client_id: client_id.to_owned(),
        capabilities,
        listen_port: 0,
        id: identity::node_id(our_key),
    };
    P2pConn::handshake(framed, &hello, remote).await
}
