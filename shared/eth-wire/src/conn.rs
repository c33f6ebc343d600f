//! A devp2p connection over RLPx, in two steps (a typestate):
//! [`P2pConn::handshake`] exchanges Hello and negotiates eth, then [`P2pConn::exchange_status`]
//! exchanges Status and yields an [`EthConn`] that sends and receives eth messages, answering
//! pings by itself.

use crate::{
    Capability, DisconnectReason, Hello, WireError,
    eth::{self, status::Status},
    p2p::{self, BASE_PROTOCOL_LENGTH},
    snappy,
};
use alloy_primitives::{B512, Bytes};
use alloy_rlp::{Decodable, Encodable};
use futures::{SinkExt, StreamExt};
use hypasis_rlpx::FrameCodec;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

/// The snap protocol's capability name (`snap/1`, devp2p `caps/snap.md`).
pub const SNAP: &str = "snap";
/// The snap version we speak.
pub const SNAP_VERSION: u64 = 1;
/// Message ids snap/1 occupies (GetAccountRange 0x00 … TrieNodes 0x07).
pub const SNAP_MESSAGE_COUNT: u8 = 8;

/// How long to wait for the peer's Hello and Status.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection after Hello.
#[derive(Debug)]
pub struct P2pConn<S> {
    framed: Framed<S, FrameCodec>,
    snappy: bool,
    /// The peer's Hello.
    pub remote_hello: Hello,
    /// The negotiated eth version.
    pub eth_version: u64,
    /// Whether both sides offered `snap/1` (its messages follow eth's in the id space).
    pub snap: bool,
}

/// A connection after Status: eth messages flow.
#[derive(Debug)]
pub struct EthConn<S> {
    inner: P2pConn<S>,
    /// The peer's Status.
    pub remote_status: Status,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// p2p Ping: answer with [`EthConn::pong`].
    Ping,
    /// p2p Pong (or another p2p message we ignore).
    Pong,
    /// An eth message.
    Eth(EthMessage),
    /// A `snap/1` message (id relative to snap), when both sides offered snap/1.
    Snap(EthMessage),
}

/// An eth (or snap) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthMessage {
    /// Message id relative to its capability (eth: `0x00` = Status; snap: `0x00` =
    /// GetAccountRange).
    pub id: u8,
    /// `msg-data`, decompressed.
    pub data: Bytes,
}

fn frame(id: u8, data: &[u8], compress: bool) -> bytes::Bytes {
    let mut out = Vec::with_capacity(data.len() + 4);
    id.encode(&mut out);
    if compress {
        out.extend_from_slice(&snappy::compress(data));
    } else {
        out.extend_from_slice(data);
    }
    bytes::Bytes::from(out)
}

fn split(frame: &[u8]) -> Result<(u8, &[u8]), WireError> {
    let mut buf = frame;
    let id = u8::decode(&mut buf).map_err(|source| WireError::Rlp { what: "message id", source })?;
    Ok((id, buf))
}

impl<S: AsyncRead + AsyncWrite + Unpin> P2pConn<S> {
    /// Sends our Hello, reads the peer's, checks that its node id is the one the RLPx handshake
    /// authenticated, and picks the highest eth version both speak.
    ///
    /// # Errors
    /// [`WireError`] when the peer disconnects, times out, or shares no eth version (we then
    /// send Disconnect(UselessPeer)).
    pub async fn handshake(mut framed: Framed<S, FrameCodec>, ours: &Hello, remote_id: B512) -> Result<Self, WireError> {
        framed.send(frame(p2p::HELLO, &ours.encode(), false)).await?;
        let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, framed.next())
            .await
            .map_err(|_| WireError::Timeout("Hello"))?
            .ok_or(WireError::Closed)??;
        let (id, data) = split(&first)?;
        let remote_hello = match id {
            p2p::HELLO => Hello::decode(data)?,
            p2p::DISCONNECT => return Err(WireError::Disconnected(DisconnectReason::decode(data))),
            other => return Err(WireError::Breach(format!("expected Hello, got message 0x{other:02x}"))),
        };
        let mut conn = Self { framed, snappy: false, remote_hello, eth_version: 0, snap: false };
        if conn.remote_hello.id != remote_id {
            return Err(conn.refuse(DisconnectReason::UnexpectedIdentity, "Hello node id differs from the handshake key").await);
        }
        conn.snappy = conn.remote_hello.protocol_version >= 5;
        let offered: Vec<u64> = conn.remote_hello.capabilities.iter().filter(|c| c.name == "eth").map(|c| c.version).collect();
        let ours_eth: Vec<u64> = ours.capabilities.iter().filter(|c| c.name == "eth").map(|c| c.version).collect();
        match eth::SUPPORTED_VERSIONS.iter().find(|v| offered.contains(v) && ours_eth.contains(v)) {
            Some(v) => conn.eth_version = *v,
            None => {
                return Err(conn.refuse(DisconnectReason::UselessPeer, &format!("no shared eth version (peer offers {offered:?})")).await);
            }
        }
        let snap = Capability::new(SNAP, SNAP_VERSION);
        conn.snap = ours.capabilities.contains(&snap) && conn.remote_hello.capabilities.contains(&snap);
        Ok(conn)
    }

    /// Sends a p2p or capability message (absolute id).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn send_raw(&mut self, id: u8, data: &[u8]) -> Result<(), WireError> {
        self.framed.send(frame(id, data, self.snappy)).await?;
        Ok(())
    }

    /// Receives the next message (absolute id, decompressed data).
    ///
    /// # Errors
    /// Transport, decoding and size errors.
    pub async fn recv_raw(&mut self) -> Result<(u8, Bytes), WireError> {
        let frame = self.framed.next().await.ok_or(WireError::Closed)??;
        let (id, data) = split(&frame)?;
        let data =
            if self.snappy { Bytes::from(snappy::decompress(data, snappy::MAX_DECOMPRESSED)?) } else { Bytes::copy_from_slice(data) };
        Ok((id, data))
    }

    /// Sends Disconnect with `reason`, best effort, and returns the matching error.
    pub async fn refuse(&mut self, reason: DisconnectReason, detail: &str) -> WireError {
        let _ = self.send_raw(p2p::DISCONNECT, &reason.encode()).await;
        WireError::Refused { reason, detail: detail.to_owned() }
    }

    /// Sends our Status, reads the peer's and lets `check` accept it (returning a reason to
    /// refuse it).
    ///
    /// # Errors
    /// [`WireError`] when the peer sends something else, times out, or `check` refuses.
    pub async fn exchange_status(
        mut self,
        ours: &Status,
        bor: bool,
        check: impl FnOnce(&Status) -> Result<(), (DisconnectReason, String)>,
    ) -> Result<EthConn<S>, WireError> {
        self.send_raw(BASE_PROTOCOL_LENGTH + eth::id::STATUS, &ours.encode(bor)).await?;
        let remote_status = loop {
            let (id, data) = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.recv_raw()).await.map_err(|_| WireError::Timeout("Status"))??;
            match id {
                p2p::PING => self.send_raw(p2p::PONG, &[0xc0]).await?,
                p2p::PONG => {}
                p2p::DISCONNECT => return Err(WireError::Disconnected(DisconnectReason::decode(&data))),
                id if id == BASE_PROTOCOL_LENGTH + eth::id::STATUS => break Status::decode(&data)?,
                other => {
                    let detail = format!("expected Status, got message 0x{other:02x}");
                    return Err(self.refuse(DisconnectReason::ProtocolBreach, &detail).await);
                }
            }
        };
        if remote_status.version != self.eth_version {
            let detail = format!("Status version {} differs from negotiated eth/{}", remote_status.version, self.eth_version);
            return Err(self.refuse(DisconnectReason::ProtocolBreach, &detail).await);
        }
        if let Err((reason, detail)) = check(&remote_status) {
            return Err(self.refuse(reason, &detail).await);
        }
        Ok(EthConn { inner: self, remote_status })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> EthConn<S> {
    /// The negotiated eth version.
    pub fn version(&self) -> u64 {
        self.inner.eth_version
    }

    /// The peer's Hello.
    pub fn remote_hello(&self) -> &Hello {
        &self.inner.remote_hello
    }

    /// Whether snap/1 was negotiated beside eth.
    pub fn snap(&self) -> bool {
        self.inner.snap
    }

    /// Where snap's ids start: after p2p's and the negotiated eth version's (0x21 beside eth/68,
    /// 0x22 beside eth/69), as capabilities are laid out in name order.
    fn snap_offset(&self) -> u8 {
        BASE_PROTOCOL_LENGTH + eth::message_count(self.inner.eth_version)
    }

    /// Sends a snap/1 message (relative id).
    ///
    /// # Errors
    /// Transport errors, or [`WireError::Breach`] when snap/1 was not negotiated.
    pub async fn send_snap(&mut self, id: u8, data: &[u8]) -> Result<(), WireError> {
        if !self.inner.snap || id >= SNAP_MESSAGE_COUNT {
            return Err(WireError::Breach(format!("snap message 0x{id:02x} on a session without snap/1")));
        }
        let offset = self.snap_offset();
        self.inner.send_raw(offset + id, data).await
    }

    /// Sends an eth message (relative id).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn send(&mut self, id: u8, data: &[u8]) -> Result<(), WireError> {
        self.inner.send_raw(BASE_PROTOCOL_LENGTH + id, data).await
    }

    /// Sends a p2p Ping.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn ping(&mut self) -> Result<(), WireError> {
        self.inner.send_raw(p2p::PING, &[0xc0]).await
    }

    /// Sends Disconnect and returns the matching error.
    pub async fn disconnect(&mut self, reason: DisconnectReason, detail: &str) -> WireError {
        self.inner.refuse(reason, detail).await
    }

    /// Receives the next message without sending anything, so it is safe to cancel (use it in
    /// `select!`). The caller answers [`Incoming::Ping`] with [`EthConn::pong`].
    ///
    /// # Errors
    /// [`WireError`] on transport failure, Disconnect, or a message id outside p2p and eth.
    pub async fn next_message(&mut self) -> Result<Incoming, WireError> {
        let (id, data) = self.inner.recv_raw().await?;
        match id {
            p2p::PING => Ok(Incoming::Ping),
            p2p::PONG => Ok(Incoming::Pong),
            p2p::DISCONNECT => Err(WireError::Disconnected(DisconnectReason::decode(&data))),
            p2p::HELLO => Err(WireError::Breach("second Hello".into())),
            id if id < BASE_PROTOCOL_LENGTH => Ok(Incoming::Pong),
            id if id - BASE_PROTOCOL_LENGTH < eth::message_count(self.inner.eth_version) => {
                Ok(Incoming::Eth(EthMessage { id: id - BASE_PROTOCOL_LENGTH, data }))
            }
            id if self.inner.snap && id - self.snap_offset() < SNAP_MESSAGE_COUNT => {
                Ok(Incoming::Snap(EthMessage { id: id - self.snap_offset(), data }))
            }
            other => Err(WireError::Breach(format!("message id 0x{other:02x} is outside every negotiated capability"))),
        }
    }

    /// Answers a Ping.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn pong(&mut self) -> Result<(), WireError> {
        self.inner.send_raw(p2p::PONG, &[0xc0]).await
    }

    /// Receives the next eth message, answering pings along the way and skipping snap messages
    /// (for eth clients; not cancel-safe).
    ///
    /// # Errors
    /// As [`EthConn::next_message`].
    pub async fn recv(&mut self) -> Result<EthMessage, WireError> {
        loop {
            match self.next_message().await? {
                Incoming::Ping => self.pong().await?,
                Incoming::Pong => {}
                Incoming::Eth(m) => return Ok(m),
                // Only sessions that offered snap/1 get these; eth clients read eth.
                Incoming::Snap(_) => {}
            }
        }
    }
}
