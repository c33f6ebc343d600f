//! The UDP discovery service.
//!
//! It answers every valid Ping with a Pong and, when the sender has not proven its endpoint
//! recently, pings back; a matching Pong is the endpoint proof ("bond"). FindNode and ENRRequest
//! are answered only for bonded senders (amplification guard, `discv4.md`). Packets that are
//! oversized, badly signed, expired or malformed are dropped and counted, never answered.

use crate::{
    PacketError,
    message::{Endpoint, Message, NodeRecord},
    packet::{self, MAX_PACKET_SIZE},
    record::{self, EnrKey},
    table::{Added, BUCKET_SIZE, Table},
};
use alloy_eip2124::ForkId;
use alloy_primitives::{B256, Bytes};
use alloy_rlp::Encodable;
use enr::Enr;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hypasis_rlpx::{NodeId, keys};
use k256::SecretKey;
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// How far in the future our packets expire.
pub const EXPIRATION: Duration = Duration::from_secs(20);
/// How long an endpoint proof lasts (`discv4.md`, "Endpoint Proof").
pub const BOND_EXPIRY: Duration = Duration::from_secs(12 * 3600);
/// Most nodes per Neighbors packet (keeps each under 1280 bytes, as geth does).
pub const NEIGHBORS_PER_PACKET: usize = 12;
/// Most endpoint proofs and pending pings remembered.
pub const MAX_TRACKED: usize = 10_000;
/// Pings we wait on for at most this long.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers per second to one IP address that has not proven its endpoint (a Pong and a Ping
/// back each count; four seconds' worth may go at once): a spoofed source gets at most this
/// many packets, whatever is sent in its name (reflection amplification guard).
pub const UNPROVEN_ANSWERS_PER_SECOND: u32 = 8;
/// FindNode and ENRRequest answers per second to one proven IP address (four seconds' worth at
/// once).
pub const QUERIES_PER_SECOND: u32 = 10;
/// Seconds' worth of answers a quiet address may get at once.
const BURST_SECONDS: u32 = 4;
/// Packets handled between sweeps of the rate limiters' idle addresses.
const SWEEP_EVERY: u64 = 4_096;

/// Service configuration.
#[derive(Debug, Clone)]
pub struct Discv4Config {
    /// UDP listen address.
    pub listen: SocketAddr,
    /// The IPv4 address put in our record.
    pub public_ip: Ipv4Addr,
    /// Our RLPx TCP port, as advertised.
    pub tcp_port: u16,
    /// Our UDP port as advertised in the record (`None`: the bound one).
    pub udp_port: Option<u16>,
    /// Nodes to bond with at start.
    pub bootnodes: Vec<NodeRecord>,
    /// Fork id for the record's `eth` entry.
    pub fork_id: ForkId,
    /// Addresses exempt from the per-address answer limits (a load balancer relaying UDP, from
    /// whose address every packet arrives).
    pub unlimited: Vec<ipnet::IpNet>,
}

/// A handle to the running service.
#[derive(Debug, Clone)]
pub struct Discv4Handle {
    /// Bound UDP address.
    pub local_addr: SocketAddr,
    /// Our record, `enr:…`.
    pub enr: String,
    table_len: Arc<AtomicUsize>,
}

impl Discv4Handle {
    /// Nodes in the table.
    pub fn table_len(&self) -> usize {
        self.table_len.load(Ordering::Relaxed)
    }
}

struct Service {
    socket: UdpSocket,
    key: SecretKey,
    local_id: NodeId,
    record: Enr<EnrKey>,
    record_rlp: Bytes,
    table: Table,
    bonds: HashMap<(NodeId, IpAddr), Instant>,
    pending: HashMap<B256, (NodeId, SocketAddr, u16, Instant)>,
    table_len: Arc<AtomicUsize>,
    unproven: DefaultKeyedRateLimiter<IpAddr>,
    queries: DefaultKeyedRateLimiter<IpAddr>,
    unlimited: Vec<ipnet::IpNet>,
    handled: u64,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn expiry() -> u64 {
    now_secs() + EXPIRATION.as_secs()
}

fn counted(direction: &'static str, label: &'static str) {
    metrics::counter!("hypasis_discv4_packets_total", "direction" => direction, "type" => label).increment(1);
}

fn dropped(reason: &'static str) {
    metrics::counter!("hypasis_discv4_dropped_total", "reason" => reason).increment(1);
}

fn per_ip(per_second: u32) -> DefaultKeyedRateLimiter<IpAddr> {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_second(rate).allow_burst(rate.saturating_mul(NonZeroU32::new(BURST_SECONDS).unwrap_or(NonZeroU32::MIN))))
}

/// Binds the UDP socket and starts the service.
///
/// # Errors
/// When the socket cannot be bound or the record cannot be built.
pub async fn spawn(
    config: Discv4Config,
    key: SecretKey,
    cancel: CancellationToken,
) -> std::io::Result<(Discv4Handle, tokio::task::JoinHandle<()>)> {
    let socket = UdpSocket::bind(config.listen).await?;
    let local_addr = socket.local_addr()?;
    let record = record::build(&key, config.public_ip, config.udp_port.unwrap_or(local_addr.port()), config.tcp_port, config.fork_id, 1)
        .map_err(std::io::Error::other)?;
    let mut record_rlp = Vec::new();
    record.encode(&mut record_rlp);
    let local_id = keys::node_id(&key.public_key());
    let table_len = Arc::new(AtomicUsize::new(0));
    let handle = Discv4Handle { local_addr, enr: record.to_base64(), table_len: table_len.clone() };
    let mut service = Service {
        socket,
        key,
        local_id,
        record,
        record_rlp: Bytes::from(record_rlp),
        table: Table::new(&local_id),
        bonds: HashMap::new(),
        pending: HashMap::new(),
        table_len,
        unproven: per_ip(UNPROVEN_ANSWERS_PER_SECOND),
        queries: per_ip(QUERIES_PER_SECOND),
        unlimited: config.unlimited,
        handled: 0,
    };
    let bootnodes = config.bootnodes;
    let task = tokio::spawn(async move {
        for node in bootnodes {
            service.ping(node.id, SocketAddr::new(node.endpoint.ip, node.endpoint.udp), node.endpoint.tcp).await;
        }
        service.run(cancel).await;
    });
    Ok((handle, task))
}

impl Service {
    async fn run(&mut self, cancel: CancellationToken) {
        // One byte more than the limit, to notice oversized datagrams.
        let mut buf = vec![0u8; MAX_PACKET_SIZE + 1];
        loop {
            let received = tokio::select! {
                () = cancel.cancelled() => return,
                r = self.socket.recv_from(&mut buf) => r,
            };
            let (len, from) = match received {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(target: "discv4", error = %e, "recv failed");
                    continue;
                }
            };
            let datagram = buf[..len].to_vec();
            if let Err(e) = self.handle(&datagram, from).await {
                dropped(e.kind());
                tracing::trace!(target: "discv4", %from, error = %e, "dropped packet");
            }
        }
    }

    async fn send(&self, to: SocketAddr, message: &Message) -> B256 {
        let (bytes, hash) = packet::encode(&self.key, message.kind(), &message.encode());
        if let Err(e) = self.socket.send_to(&bytes, to).await {
            tracing::debug!(target: "discv4", %to, error = %e, "send failed");
        }
        counted("out", message.label());
        hash
    }

    fn endpoint(&self) -> Endpoint {
        let ip = self.record.ip4().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V4);
        Endpoint { ip, udp: self.record.udp4().unwrap_or(0), tcp: self.record.tcp4().unwrap_or(0) }
    }

    async fn ping(&mut self, id: NodeId, to: SocketAddr, tcp: u16) {
        let message = Message::Ping {
            version: 4,
            from: self.endpoint(),
            to: Endpoint { ip: to.ip(), udp: to.port(), tcp },
            expiration: expiry(),
            enr_seq: Some(self.record.seq()),
        };
        let hash = self.send(to, &message).await;
        prune(&mut self.pending, |(_, _, _, at)| at.elapsed() > PING_TIMEOUT);
        self.pending.insert(hash, (id, to, tcp, Instant::now()));
    }

    /// Whether an answer of `cost` packets to `ip` fits its budget (`limiter`); counts refusals.
    fn may_answer(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr, cost: u32, kind: &'static str) -> bool {
        if self.unlimited.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        let fits = limiter.check_key_n(&ip, NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN)).is_ok_and(|r| r.is_ok());
        if !fits {
            metrics::counter!("hypasis_discv4_rate_limited_total", "type" => kind).increment(1);
        }
        fits
    }

    /// Whether `id` proved, from this IP, that it receives packets there.
    fn bonded(&self, id: &NodeId, ip: IpAddr) -> bool {
        self.bonds.get(&(*id, ip)).is_some_and(|at| at.elapsed() < BOND_EXPIRY)
    }

    async fn handle(&mut self, datagram: &[u8], from: SocketAddr) -> Result<(), PacketError> {
        self.handled += 1;
        if self.handled.is_multiple_of(SWEEP_EVERY) {
            self.unproven.retain_recent();
            self.queries.retain_recent();
        }
        let packet = packet::decode(datagram)?;
        if packet.sender == self.local_id {
            return Ok(());
        }
        let message = Message::decode(packet.kind, packet.data)?;
        // Expirations are compared as signed seconds, as geth does: a value past i64::MAX is a
        // negative time, long expired.
        if message.expiration().is_some_and(|e| i64::try_from(e).map_or(true, |e| e < now_secs() as i64)) {
            return Err(PacketError::Expired);
        }
        counted("in", message.label());
        match message {
            Message::Ping { from: their, .. } => {
                let bonded = self.bonded(&packet.sender, from.ip());
                // Unproven senders may be spoofed: what they can make us send is capped per address.
                if !bonded && !self.may_answer(&self.unproven, from.ip(), 2, "ping") {
                    return Ok(());
                }
                let pong = Message::Pong {
                    to: Endpoint { ip: from.ip(), udp: from.port(), tcp: their.tcp },
                    ping_hash: packet.hash,
                    expiration: expiry(),
                    enr_seq: Some(self.record.seq()),
                };
                self.send(from, &pong).await;
                if !bonded {
                    self.ping(packet.sender, from, their.tcp).await;
                }
            }
            Message::Pong { ping_hash, .. } => {
                let Some((id, addr, tcp, _)) = self.pending.remove(&ping_hash) else { return Ok(()) };
                if id != packet.sender || addr.ip() != from.ip() {
                    return Ok(());
                }
                prune(&mut self.bonds, |at| at.elapsed() > BOND_EXPIRY);
                self.bonds.insert((id, from.ip()), Instant::now());
                let node = NodeRecord { endpoint: Endpoint { ip: addr.ip(), udp: addr.port(), tcp }, id };
                if let Added::Full(oldest) = self.table.add(node) {
                    // Simplified revalidation: the least recently seen node makes room.
                    self.table.remove(&oldest.id);
                    self.table.add(node);
                }
                self.table_len.store(self.table.len(), Ordering::Relaxed);
            }
            Message::FindNode { target, .. } => {
                if !self.bonded(&packet.sender, from.ip()) || !self.may_answer(&self.queries, from.ip(), 1, "findnode") {
                    return Ok(());
                }
                let nodes = self.table.closest(&target, BUCKET_SIZE);
                for chunk in nodes.chunks(NEIGHBORS_PER_PACKET) {
                    self.send(from, &Message::Neighbors { nodes: chunk.to_vec(), expiration: expiry() }).await;
                }
                if nodes.is_empty() {
                    self.send(from, &Message::Neighbors { nodes: Vec::new(), expiration: expiry() }).await;
                }
            }
            Message::EnrRequest { .. } => {
                if self.bonded(&packet.sender, from.ip()) && self.may_answer(&self.queries, from.ip(), 1, "enrrequest") {
                    self.send(from, &Message::EnrResponse { request_hash: packet.hash, enr: self.record_rlp.clone() }).await;
                }
            }
            Message::Neighbors { .. } | Message::EnrResponse { .. } => {}
        }
        Ok(())
    }
}

/// Keeps a map bounded: drops stale entries, and everything when still over the cap.
fn prune<K, V>(map: &mut HashMap<K, V>, stale: impl Fn(&V) -> bool) {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, v| !stale(v));
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
}
