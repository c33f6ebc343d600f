//! One Bor-like peer. See the crate docs for what it checks.

use alloy_primitives::{B256, U256};
use hypasis_chain::{BlockBody, SealedHeader};
use hypasis_eth_wire::{
    WireError,
    conn::EthConn,
    eth::{
        id,
        messages::{self, BlockId, GetBlockHeaders, HashRequest},
        status::Status,
    },
};
use hypasis_rlpx::{NodeId, keys};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::net::TcpStream;

mod sync;

/// Headers per request (Bor's `MaxHeaderFetch`).
pub const MAX_HEADER_FETCH: u64 = 192;
/// Bodies per request (Bor's `MaxBlockFetch`).
pub const MAX_BLOCK_FETCH: usize = 128;
/// How far ahead a peer may be and still be synced from without the milestone header (Bor's
/// `maxValidationThreshold`).
pub const MAX_VALIDATION_THRESHOLD: u64 = 1024;
/// Deadline of one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Most answers kept for requests in flight while another is awaited.
const MAX_IN_FLIGHT: usize = 16;

fn io(e: std::io::Error) -> PeerError {
    PeerError::from(hypasis_eth_wire::WireError::Rlpx(hypasis_rlpx::RlpxError::Io(e)))
}

/// The `i`-th of many loopback source addresses (127.0.1.1, 127.0.1.2, …), so a load test from
/// one machine looks like many hosts to the node's per-address caps.
pub fn loopback_source(i: usize) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8))
}

/// A node to connect to.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// TCP address.
    pub addr: SocketAddr,
    /// Its node id.
    pub id: NodeId,
}

impl Target {
    /// Parses `enode://<id>@<ip>:<port>`.
    ///
    /// # Errors
    /// A message when it is not an enode URL with an IP address.
    pub fn from_enode(enode: &str) -> Result<Self, String> {
        let rest = enode.strip_prefix("enode://").ok_or_else(|| format!("{enode}: not an enode URL"))?;
        let (id, addr) = rest.split_once('@').ok_or_else(|| format!("{enode}: missing @"))?;
        let addr = addr.split('?').next().unwrap_or(addr);
        let id = hex::decode(id).map_err(|e| format!("{enode}: node id: {e}"))?;
        if id.len() != 64 {
            return Err(format!("{enode}: node id is {} bytes, expected 64", id.len()));
        }
        Ok(Self { addr: addr.parse().map_err(|e| format!("{enode}: address: {e}"))?, id: NodeId::from_slice(&id) })
    }
}

/// Why a sync from a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The wire failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// No answer in time.
    #[error("no answer to {0} within {REQUEST_TIMEOUT:?}")]
    Timeout(&'static str),
    /// The peer does not have the milestone's block (Bor: `ErrNoRemote`).
    #[error("the peer does not have milestone block {0}")]
    NoRemote(u64),
    /// The peer's block at the milestone differs (Bor: `ErrMismatch`).
    #[error("milestone block {number}: the peer has {theirs}, the milestone says {expected}")]
    Mismatch {
        /// Block number.
        number: u64,
        /// Peer's hash.
        theirs: B256,
        /// Milestone hash.
        expected: B256,
    },
    /// The peer sent something that does not verify.
    #[error("bad data from the peer: {0}")]
    BadData(String),
}

/// What a sync achieved.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// Blocks downloaded and verified (headers and bodies).
    pub blocks: u64,
    /// Hash of the last block.
    pub head: B256,
    /// Time taken.
    pub elapsed: Duration,
    /// Requests sent.
    pub requests: u64,
}

/// A connected Bor-like peer.
#[derive(Debug)]
pub struct BorPeer {
    conn: EthConn<TcpStream>,
    /// The node's address.
    pub addr: SocketAddr,
    next_request: u64,
    stats: Option<std::sync::Arc<crate::Stats>>,
    /// Answers that arrived while another was awaited (requests in flight together), by id.
    early: std::collections::HashMap<u64, hypasis_eth_wire::conn::EthMessage>,
}

impl BorPeer {
    /// Connects to `target` as a Bor node (`bor/…` client id, eth `version`) on the chain
    /// described by `ours` (network id, genesis, fork id; head and TD are ours), and completes
    /// the Status exchange.
    ///
    /// # Errors
    /// When the connection or the handshake fails.
    pub async fn connect(target: Target, ours: &Status) -> Result<Self, PeerError> {
        Self::connect_from(target, ours, None).await
    }

    /// As [`BorPeer::connect`], from the local address `source` (many loopback addresses stand
    /// for many hosts: the node caps peers per address).
    ///
    /// # Errors
    /// When the connection or the handshake fails.
    pub async fn connect_from(target: Target, ours: &Status, source: Option<std::net::IpAddr>) -> Result<Self, PeerError> {
        let versions = [ours.version];
        let stream = match source {
            Some(ip) => {
                let socket = if ip.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }.map_err(io)?;
                socket.bind(SocketAddr::new(ip, 0)).map_err(io)?;
                socket.connect(target.addr).await.map_err(io)?
            }
            None => TcpStream::connect(target.addr).await.map_err(io)?,
        };
        let p2p = hypasis_p2p::handshake(stream, &keys::random_secret(), target.id, "bor/v2.2.9/hypasis-loadtest", &versions).await?;
        let conn = p2p.exchange_status(ours, true, |_| Ok(())).await?;
        Ok(Self { conn, addr: target.addr, next_request: 1, stats: None, early: std::collections::HashMap::new() })
    }

    /// Records every request's latency and answer size, and the blocks [`BorPeer::sync`]
    /// verifies, in `stats`.
    #[must_use]
    pub fn with_stats(mut self, stats: std::sync::Arc<crate::Stats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Sends request `payload` as message `send` and waits for its answer `want`, recording it.
    async fn request(
        &mut self,
        send: u8,
        payload: &[u8],
        request_id: u64,
        want: u8,
        what: &'static str,
    ) -> Result<hypasis_eth_wire::conn::EthMessage, PeerError> {
        let sent = self.send_request(send, payload, what).await?;
        self.await_answer(sent, request_id, want, what).await
    }

    /// Sends a request without waiting for its answer (requests of different kinds in flight at
    /// once, as Bor's header, body and receipt fetchers have them); returns when it was sent.
    async fn send_request(&mut self, send: u8, payload: &[u8], what: &'static str) -> Result<Instant, PeerError> {
        let started = Instant::now();
        if let Err(e) = self.conn.send(send, payload).await {
            if let Some(stats) = &self.stats {
                stats.failed(what);
            }
            return Err(e.into());
        }
        Ok(started)
    }

    /// The answer to request `request_id` sent at `sent`, recorded.
    async fn await_answer(
        &mut self,
        sent: Instant,
        request_id: u64,
        want: u8,
        what: &'static str,
    ) -> Result<hypasis_eth_wire::conn::EthMessage, PeerError> {
        let result = self.answer(request_id, want, what).await;
        if let Some(stats) = &self.stats {
            match &result {
                Ok(msg) => {
                    stats.answered(what, msg.data.len(), sent.elapsed());
                    stats.keep(&msg.data);
                }
                Err(_) => stats.failed(what),
            }
        }
        result
    }

    /// The peer's Status.
    pub fn status(&self) -> &Status {
        &self.conn.remote_status
    }

    /// The peer's total difficulty (0 when its Status carries none).
    pub fn total_difficulty(&self) -> U256 {
        self.conn.remote_status.total_difficulty.unwrap_or_default()
    }

    /// The peer with the strictly highest total difficulty (Bor's `peerWithHighestTD`); ties go
    /// to the first.
    pub fn highest_td(peers: Vec<Self>) -> Option<Self> {
        let mut best: Option<Self> = None;
        for peer in peers {
            if best.as_ref().is_none_or(|b| peer.total_difficulty() > b.total_difficulty()) {
                best = Some(peer);
            }
        }
        best
    }

    /// Waits for the answer to a request, skipping announcements; answers to other requests in
    /// flight are kept for them.
    async fn answer(&mut self, request_id: u64, want: u8, what: &'static str) -> Result<hypasis_eth_wire::conn::EthMessage, PeerError> {
        if let Some(msg) = self.early.remove(&request_id) {
            return Ok(msg);
        }
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.conn.recv()).await.map_err(|_| PeerError::Timeout(what))??;
            if ![id::BLOCK_HEADERS, id::BLOCK_BODIES, id::RECEIPTS].contains(&msg.id) {
                continue;
            }
            let mut p = msg.data.as_ref();
            let got = alloy_rlp::Header::decode(&mut p).ok().and_then(|_| <u64 as alloy_rlp::Decodable>::decode(&mut p).ok());
            match got {
                Some(got) if got == request_id && msg.id == want => return Ok(msg),
                Some(got) if got < self.next_request + 1 && self.early.len() < MAX_IN_FLIGHT => {
                    self.early.insert(got, msg);
                }
                _ => {}
            }
        }
    }

    /// `GetBlockHeaders` by number.
    ///
    /// # Errors
    /// When the request fails or the answer is malformed.
    pub async fn headers(&mut self, start: u64, limit: u64) -> Result<Vec<SealedHeader>, PeerError> {
        let request_id = self.take_id();
        let req = GetBlockHeaders { request_id, start: BlockId::Number(start), limit, skip: 0, reverse: false };
        let msg = self.request(id::GET_BLOCK_HEADERS, &req.encode(), request_id, id::BLOCK_HEADERS, "GetBlockHeaders").await?;
        let (_, headers) = messages::decode_response(&msg.data, "BlockHeaders", <SealedHeader as alloy_rlp::Decodable>::decode)?;
        Ok(headers)
    }

    /// `GetBlockBodies`.
    ///
    /// # Errors
    /// When the request fails or the answer is malformed.
    pub async fn bodies(&mut self, hashes: Vec<B256>) -> Result<Vec<BlockBody>, PeerError> {
        let request_id = self.take_id();
        let payload = HashRequest { request_id, hashes }.encode();
        let msg = self.request(id::GET_BLOCK_BODIES, &payload, request_id, id::BLOCK_BODIES, "GetBlockBodies").await?;
        let (_, bodies) = messages::decode_response(&msg.data, "BlockBodies", <BlockBody as alloy_rlp::Decodable>::decode)?;
        Ok(bodies)
    }

    /// `GetReceipts`: one list per block, in the negotiated version's encoding (eth/69 lists
    /// may end with a Bor state-sync receipt).
    ///
    /// # Errors
    /// When the request fails or the answer is malformed.
    pub async fn receipts(&mut self, hashes: Vec<B256>) -> Result<Vec<Vec<hypasis_chain::Receipt>>, PeerError> {
        let request_id = self.take_id();
        let payload = HashRequest { request_id, hashes }.encode();
        let msg = self.request(id::GET_RECEIPTS, &payload, request_id, id::RECEIPTS, "GetReceipts").await?;
        decode_receipts(&msg.data, self.conn.version() >= 69)
    }

    /// The next eth message the node sends on its own (announcements such as NewBlock).
    ///
    /// # Errors
    /// When the connection fails or nothing arrives within `within`.
    pub async fn next_message(&mut self, within: Duration) -> Result<hypasis_eth_wire::conn::EthMessage, PeerError> {
        Ok(tokio::time::timeout(within, self.conn.recv()).await.map_err(|_| PeerError::Timeout("an announcement"))??)
    }

    fn take_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// Bor's whitelist check: the header at `number` must have `hash`. A missing header is
    /// tolerated when the peer is more than [`MAX_VALIDATION_THRESHOLD`] blocks ahead of
    /// `local_height`.
    ///
    /// # Errors
    /// [`PeerError::NoRemote`] or [`PeerError::Mismatch`].
    pub async fn check_milestone(&mut self, number: u64, hash: B256, local_height: u64, remote_height: u64) -> Result<(), PeerError> {
        let headers = self.headers(number, 1).await?;
        match headers.first() {
            Some(h) if h.number() == number && h.hash() == hash => Ok(()),
            Some(h) => Err(PeerError::Mismatch { number, theirs: h.hash(), expected: hash }),
            None if local_height + MAX_VALIDATION_THRESHOLD < remote_height => Ok(()),
            None => Err(PeerError::NoRemote(number)),
        }
    }
}

/// A `Receipts` answer, eth/69's encoding or eth/68's.
fn decode_receipts(data: &[u8], eth69: bool) -> Result<Vec<Vec<hypasis_chain::Receipt>>, PeerError> {
    let (_, receipts) = if eth69 {
        messages::decode_response(data, "Receipts", messages::decode_receipts69)?
    } else {
        messages::decode_response(data, "Receipts", <Vec<hypasis_chain::Receipt> as alloy_rlp::Decodable>::decode)?
    };
    Ok(receipts)
}

/// A Status for the chain a node reports in its REST `/api/v1/status` (network id, genesis,
/// fork id), with genesis as our head, as a fresh Bor node would send.
///
/// # Errors
/// A message naming the missing field.
pub fn status_for(status: &serde_json::Value, version: u64) -> Result<Status, String> {
    let hash = |key: &str| status[key].as_str().and_then(|s| s.parse::<B256>().ok()).ok_or_else(|| format!("status has no {key}"));
    let genesis = hash("genesis_hash")?;
    let fork_hash = status["fork_id"]["hash"]
        .as_str()
        .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .ok_or("status has no fork_id.hash")?;
    Ok(Status {
        version,
        network_id: status["network_id"].as_u64().ok_or("status has no network_id")?,
        total_difficulty: Some(U256::from(1)),
        genesis,
        fork_id: alloy_eip2124::ForkId {
            hash: alloy_eip2124::ForkHash(fork_hash.to_be_bytes()),
            next: status["fork_id"]["next"].as_u64().unwrap_or(0),
        },
        head: genesis,
        range: Some((0, 0)),
    })
}
