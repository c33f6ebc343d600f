//! discv4 messages. Decoding ignores extra list elements and data after the list (EIP-8).

use crate::PacketError;
use alloy_primitives::{B256, B512, Bytes};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use hypasis_rlpx::NodeId;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Ping.
pub const PING: u8 = 0x01;
/// Pong.
pub const PONG: u8 = 0x02;
/// FindNode.
pub const FIND_NODE: u8 = 0x03;
/// Neighbors.
pub const NEIGHBORS: u8 = 0x04;
/// ENRRequest (EIP-868).
pub const ENR_REQUEST: u8 = 0x05;
/// ENRResponse (EIP-868).
pub const ENR_RESPONSE: u8 = 0x06;

/// A node's address: `[ip, udp-port, tcp-port]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// UDP port.
    pub udp: u16,
    /// TCP port.
    pub tcp: u16,
}

/// A node in a Neighbors packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRecord {
    /// Where it is.
    pub endpoint: Endpoint,
    /// Its id.
    pub id: NodeId,
}

/// A discv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `[version, from, to, expiration, enr-seq?]`
    Ping {
        /// Protocol version (mismatches are ignored).
        version: u64,
        /// Sender endpoint as the sender sees it.
        from: Endpoint,
        /// Recipient endpoint.
        to: Endpoint,
        /// Expiry (UNIX seconds).
        expiration: u64,
        /// Sender's ENR sequence number.
        enr_seq: Option<u64>,
    },
    /// `[to, ping-hash, expiration, enr-seq?]`
    Pong {
        /// The ping's sender endpoint as seen by us.
        to: Endpoint,
        /// Hash of the ping answered.
        ping_hash: B256,
        /// Expiry.
        expiration: u64,
        /// Sender's ENR sequence number.
        enr_seq: Option<u64>,
    },
    /// `[target, expiration]`
    FindNode {
        /// Target id.
        target: NodeId,
        /// Expiry.
        expiration: u64,
    },
    /// `[nodes, expiration]`
    Neighbors {
        /// Nodes.
        nodes: Vec<NodeRecord>,
        /// Expiry.
        expiration: u64,
    },
    /// `[expiration]`
    EnrRequest {
        /// Expiry.
        expiration: u64,
    },
    /// `[request-hash, enr]`
    EnrResponse {
        /// Hash of the ENRRequest answered.
        request_hash: B256,
        /// The record's RLP.
        enr: Bytes,
    },
}

fn rlp_err(e: alloy_rlp::Error) -> PacketError {
    PacketError::Rlp(e.to_string())
}

/// The raw items of the list `data` starts with (trailing bytes ignored).
fn items(data: &[u8]) -> Result<Vec<&[u8]>, PacketError> {
    let mut buf = data;
    let h = RlpHeader::decode(&mut buf).map_err(rlp_err)?;
    if !h.list || buf.len() < h.payload_length {
        return Err(PacketError::Rlp("packet data is not a list".into()));
    }
    let mut payload = &buf[..h.payload_length];
    let mut out = Vec::new();
    while !payload.is_empty() {
        let start = payload;
        let item = RlpHeader::decode(&mut payload).map_err(rlp_err)?;
        if payload.len() < item.payload_length {
            return Err(PacketError::Rlp("truncated list item".into()));
        }
        payload = &payload[item.payload_length..];
        out.push(&start[..start.len() - payload.len()]);
    }
    Ok(out)
}

fn get<'a>(items: &[&'a [u8]], i: usize) -> Result<&'a [u8], PacketError> {
    items.get(i).copied().ok_or_else(|| PacketError::Rlp(format!("missing field {i}")))
}

fn decode_as<T: Decodable>(mut raw: &[u8]) -> Result<T, PacketError> {
    T::decode(&mut raw).map_err(rlp_err)
}

impl Endpoint {
    fn decode(raw: &[u8]) -> Result<Self, PacketError> {
        let fields = items(raw)?;
        let ip: Bytes = decode_as(get(&fields, 0)?)?;
        let ip = match ip.len() {
            4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&ip[..]).expect("4 bytes"))),
            16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[..]).expect("16 bytes"))),
            0 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            n => return Err(PacketError::Rlp(format!("IP address of {n} bytes"))),
        };
        Ok(Self { ip, udp: decode_as(get(&fields, 1)?)?, tcp: decode_as(get(&fields, 2)?)? })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let ip: Vec<u8> = match self.ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        let payload = ip.as_slice().length() + self.udp.length() + self.tcp.length();
        RlpHeader { list: true, payload_length: payload }.encode(out);
        ip.as_slice().encode(out);
        self.udp.encode(out);
        self.tcp.encode(out);
    }
}

fn list(fields: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.len() + 3);
    RlpHeader { list: true, payload_length: fields.len() }.encode(&mut out);
    out.extend_from_slice(fields);
    out
}

impl Message {
    /// Decodes the data of a packet of type `kind`.
    ///
    /// # Errors
    /// [`PacketError::UnknownType`] or [`PacketError::Rlp`].
    pub fn decode(kind: u8, data: &[u8]) -> Result<Self, PacketError> {
        let f = items(data)?;
        let opt_u64 = |i: usize| f.get(i).and_then(|raw| decode_as::<u64>(raw).ok());
        Ok(match kind {
            PING => Self::Ping {
                version: decode_as(get(&f, 0)?).unwrap_or(0),
                from: Endpoint::decode(get(&f, 1)?)?,
                to: Endpoint::decode(get(&f, 2)?)?,
                expiration: decode_as(get(&f, 3)?)?,
                enr_seq: opt_u64(4),
            },
            PONG => Self::Pong {
                to: Endpoint::decode(get(&f, 0)?)?,
                ping_hash: decode_as(get(&f, 1)?)?,
                expiration: decode_as(get(&f, 2)?)?,
                enr_seq: opt_u64(3),
            },
            FIND_NODE => Self::FindNode { target: decode_as::<B512>(get(&f, 0)?)?, expiration: decode_as(get(&f, 1)?)? },
            NEIGHBORS => {
                let mut nodes = Vec::new();
                for raw in items(get(&f, 0)?)? {
                    let n = items(raw)?;
                    let endpoint = Endpoint::decode(&list(&n[..3.min(n.len())].concat()))?;
                    nodes.push(NodeRecord { endpoint, id: decode_as::<B512>(get(&n, 3)?)? });
                }
                Self::Neighbors { nodes, expiration: decode_as(get(&f, 1)?)? }
            }
            ENR_REQUEST => Self::EnrRequest { expiration: decode_as(get(&f, 0)?)? },
            ENR_RESPONSE => Self::EnrResponse { request_hash: decode_as(get(&f, 0)?)?, enr: Bytes::copy_from_slice(get(&f, 1)?) },
            other => return Err(PacketError::UnknownType(other)),
        })
    }

    /// The packet type.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Ping { .. } => PING,
            Self::Pong { .. } => PONG,
            Self::FindNode { .. } => FIND_NODE,
            Self::Neighbors { .. } => NEIGHBORS,
            Self::EnrRequest { .. } => ENR_REQUEST,
            Self::EnrResponse { .. } => ENR_RESPONSE,
        }
    }

    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ping { .. } => "ping",
            Self::Pong { .. } => "pong",
            Self::FindNode { .. } => "findnode",
            Self::Neighbors { .. } => "neighbors",
            Self::EnrRequest { .. } => "enrrequest",
            Self::EnrResponse { .. } => "enrresponse",
        }
    }

    /// The expiration, for messages that carry one.
    pub fn expiration(&self) -> Option<u64> {
        match self {
            Self::Ping { expiration, .. }
            | Self::Pong { expiration, .. }
            | Self::FindNode { expiration, .. }
            | Self::Neighbors { expiration, .. }
            | Self::EnrRequest { expiration } => Some(*expiration),
            Self::EnrResponse { .. } => None,
        }
    }

    /// Encodes the packet data.
    pub fn encode(&self) -> Vec<u8> {
        let mut f = Vec::new();
        match self {
            Self::Ping { version, from, to, expiration, enr_seq } => {
                version.encode(&mut f);
                from.encode(&mut f);
                to.encode(&mut f);
                expiration.encode(&mut f);
                if let Some(seq) = enr_seq {
                    seq.encode(&mut f);
                }
            }
            Self::Pong { to, ping_hash, expiration, enr_seq } => {
                to.encode(&mut f);
                ping_hash.encode(&mut f);
                expiration.encode(&mut f);
                if let Some(seq) = enr_seq {
                    seq.encode(&mut f);
                }
            }
            Self::FindNode { target, expiration } => {
                target.encode(&mut f);
                expiration.encode(&mut f);
            }
            Self::Neighbors { nodes, expiration } => {
                let mut inner = Vec::new();
                for n in nodes {
                    let mut e = Vec::new();
                    n.endpoint.encode(&mut e);
                    // A node is `[ip, udp, tcp, id]`: the endpoint's fields, then the id.
                    let mut fields = items(&e).expect("we just encoded this endpoint").concat();
                    n.id.encode(&mut fields);
                    inner.extend_from_slice(&list(&fields));
                }
                f.extend_from_slice(&list(&inner));
                expiration.encode(&mut f);
            }
            Self::EnrRequest { expiration } => expiration.encode(&mut f),
            Self::EnrResponse { request_hash, enr } => {
                request_hash.encode(&mut f);
                f.extend_from_slice(enr);
            }
        }
        list(&f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let e = Endpoint { ip: "10.0.0.1".parse().unwrap(), udp: 30303, tcp: 30303 };
        let e6 = Endpoint { ip: "2001:db8::1".parse().unwrap(), udp: 1, tcp: 0 };
        let msgs = [
            Message::Ping { version: 4, from: e, to: e6, expiration: 1_900_000_000, enr_seq: Some(3) },
            Message::Pong { to: e, ping_hash: B256::repeat_byte(5), expiration: 1, enr_seq: None },
            Message::FindNode { target: B512::repeat_byte(9), expiration: 7 },
            Message::Neighbors {
                nodes: vec![NodeRecord { endpoint: e, id: B512::repeat_byte(1) }, NodeRecord { endpoint: e6, id: B512::repeat_byte(2) }],
                expiration: 8,
            },
            Message::EnrRequest { expiration: 9 },
            Message::EnrResponse { request_hash: B256::repeat_byte(3), enr: Bytes::from_static(&[0xc1, 0x80]) },
        ];
        for m in msgs {
            assert_eq!(Message::decode(m.kind(), &m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn malformed_data_is_an_error() {
        assert!(Message::decode(PING, &[]).is_err());
        assert!(Message::decode(PING, &[0xc1, 0x04]).is_err());
        assert!(Message::decode(FIND_NODE, &[0xc2, 0x81, 0x01]).is_err());
        assert!(matches!(Message::decode(0x42, &[0xc0]), Err(PacketError::UnknownType(0x42))));
    }
}
