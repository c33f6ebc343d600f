//! The p2p base protocol: message ids 0x00–0x0f (`rlpx.md`, "p2p" Capability).

use crate::{WireError, error::rlp};
use alloy_primitives::{B512, Bytes};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use std::fmt;

/// Hello.
pub const HELLO: u8 = 0x00;
/// Disconnect.
pub const DISCONNECT: u8 = 0x01;
/// Ping.
pub const PING: u8 = 0x02;
/// Pong.
pub const PONG: u8 = 0x03;
/// First message id of the first capability; 0x00–0x0f belong to p2p.
pub const BASE_PROTOCOL_LENGTH: u8 = 0x10;
/// Our p2p version: 5 (snappy, EIP-706).
pub const P2P_VERSION: u64 = 5;
/// Largest Hello accepted (geth's limit).
pub const MAX_HELLO_SIZE: usize = 2 * 1024;

/// A capability name and version, e.g. `eth/68`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Capability {
    /// Name, at most 8 ASCII characters.
    pub name: String,
    /// Version.
    pub version: u64,
}

impl Capability {
    /// `name/version`.
    pub fn new(name: &str, version: u64) -> Self {
        Self { name: name.to_owned(), version }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

/// The Hello message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// p2p protocol version.
    pub protocol_version: u64,
    /// Client name.
    pub client_id: String,
    /// Capabilities offered.
    pub capabilities: Vec<Capability>,
    /// Legacy listen port (ignored).
    pub listen_port: u64,
    /// The sender's node id.
    pub id: B512,
}

impl Hello {
    /// Encodes `msg-data` (without the message id).
    pub fn encode(&self) -> Vec<u8> {
        let caps: Vec<u8> = {
            let mut inner = Vec::new();
            for c in &self.capabilities {
                let payload = c.name.as_bytes().length() + c.version.length();
                RlpHeader { list: true, payload_length: payload }.encode(&mut inner);
                c.name.as_bytes().encode(&mut inner);
                c.version.encode(&mut inner);
            }
            let mut out = Vec::new();
            RlpHeader { list: true, payload_length: inner.len() }.encode(&mut out);
            out.extend_from_slice(&inner);
            out
        };
        let payload =
            self.protocol_version.length() + self.client_id.as_bytes().length() + caps.len() + self.listen_port.length() + self.id.length();
        let mut out = Vec::with_capacity(payload + 3);
        RlpHeader { list: true, payload_length: payload }.encode(&mut out);
        self.protocol_version.encode(&mut out);
        self.client_id.as_bytes().encode(&mut out);
        out.extend_from_slice(&caps);
        self.listen_port.encode(&mut out);
        self.id.encode(&mut out);
        out
    }

    /// Decodes `msg-data`, ignoring extra list elements (EIP-8).
    ///
    /// # Errors
    /// [`WireError`] when it is oversized or malformed.
    pub fn decode(data: &[u8]) -> Result<Self, WireError> {
        if data.len() > MAX_HELLO_SIZE {
            return Err(WireError::Breach(format!("Hello of {} bytes exceeds {MAX_HELLO_SIZE}", data.len())));
        }
        let mut payload = list_payload(data, "Hello")?;
        let protocol_version = u64::decode(&mut payload).map_err(rlp("Hello"))?;
        let client_id = Bytes::decode(&mut payload).map_err(rlp("Hello"))?;
        let mut caps = list_payload_of(&mut payload, "Hello capabilities")?;
        let mut capabilities = Vec::new();
        while !caps.is_empty() {
            let mut cap = list_payload_of(&mut caps, "Hello capability")?;
            let name = Bytes::decode(&mut cap).map_err(rlp("Hello capability"))?;
            let version = u64::decode(&mut cap).map_err(rlp("Hello capability"))?;
            if name.len() > 8 {
                return Err(WireError::Breach("capability name longer than 8 bytes".into()));
            }
            capabilities.push(Capability { name: printable(&name), version });
        }
        let listen_port = u64::decode(&mut payload).map_err(rlp("Hello"))?;
        let id = Bytes::decode(&mut payload).map_err(rlp("Hello"))?;
        if id.len() != 64 {
            return Err(WireError::Breach(format!("Hello node id of {} bytes, expected 64", id.len())));
        }
        Ok(Self { protocol_version, client_id: printable(&client_id), capabilities, listen_port, id: B512::from_slice(&id) })
    }
}

/// `bytes` as text with every byte that is not printable ASCII shown as `?`: one character per
/// byte, so a re-encoded Hello keeps its size (a lossy UTF-8 conversion could triple it past the
/// limits), and a peer's client id cannot put control characters in logs or the peers API.
fn printable(bytes: &[u8]) -> String {
    bytes.iter().map(|b| if b.is_ascii_graphic() || *b == b' ' { char::from(*b) } else { '?' }).collect()
}

/// The payload of the RLP list that `data` starts with.
pub(crate) fn list_payload<'a>(data: &'a [u8], what: &'static str) -> Result<&'a [u8], WireError> {
    let mut buf = data;
    list_payload_of(&mut buf, what)
}

/// Takes one RLP list off `buf` and returns its payload.
pub(crate) fn list_payload_of<'a>(buf: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], WireError> {
    RlpHeader::decode_bytes(buf, true).map_err(rlp(what))
}

/// Disconnect reasons (`rlpx.md`, "Disconnect").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// 0x00
    Requested,
    /// 0x01
    TcpError,
    /// 0x02: malformed message, bad RLP, …
    ProtocolBreach,
    /// 0x03
    UselessPeer,
    /// 0x04
    TooManyPeers,
    /// 0x05
    AlreadyConnected,
    /// 0x06
    IncompatibleVersion,
    /// 0x07
    NullNodeIdentity,
    /// 0x08
    ClientQuitting,
    /// 0x09
    UnexpectedIdentity,
    /// 0x0a
    ConnectedToSelf,
    /// 0x0b
    PingTimeout,
    /// 0x10: subprotocol-specific (e.g. a Status mismatch).
    SubprotocolError,
    /// Any other code.
    Other(u8),
}

impl DisconnectReason {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Self::Requested => 0x00,
            Self::TcpError => 0x01,
            Self::ProtocolBreach => 0x02,
            Self::UselessPeer => 0x03,
            Self::TooManyPeers => 0x04,
            Self::AlreadyConnected => 0x05,
            Self::IncompatibleVersion => 0x06,
            Self::NullNodeIdentity => 0x07,
            Self::ClientQuitting => 0x08,
            Self::UnexpectedIdentity => 0x09,
            Self::ConnectedToSelf => 0x0a,
            Self::PingTimeout => 0x0b,
            Self::SubprotocolError => 0x10,
            Self::Other(c) => c,
        }
    }

    /// The reason for a wire code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x00 => Self::Requested,
            0x01 => Self::TcpError,
            0x02 => Self::ProtocolBreach,
            0x03 => Self::UselessPeer,
            0x04 => Self::TooManyPeers,
            0x05 => Self::AlreadyConnected,
            0x06 => Self::IncompatibleVersion,
            0x07 => Self::NullNodeIdentity,
            0x08 => Self::ClientQuitting,
            0x09 => Self::UnexpectedIdentity,
            0x0a => Self::ConnectedToSelf,
            0x0b => Self::PingTimeout,
            0x10 => Self::SubprotocolError,
            c => Self::Other(c),
        }
    }

    /// `msg-data` of a Disconnect: `[reason]`.
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3);
        let code = self.code();
        RlpHeader { list: true, payload_length: code.length() }.encode(&mut out);
        code.encode(&mut out);
        out
    }

    /// Decodes a Disconnect body leniently: `[reason]`, a bare reason, or nothing.
    pub fn decode(data: &[u8]) -> Self {
        let mut buf = data;
        if let Ok(payload) = list_payload_of(&mut buf, "Disconnect") {
            let mut p = payload;
            return u8::decode(&mut p).map_or(Self::Requested, Self::from_code);
        }
        let mut buf = data;
        u8::decode(&mut buf).map_or(Self::Requested, Self::from_code)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Requested => "disconnect requested",
            Self::TcpError => "TCP error",
            Self::ProtocolBreach => "breach of protocol",
            Self::UselessPeer => "useless peer",
            Self::TooManyPeers => "too many peers",
            Self::AlreadyConnected => "already connected",
            Self::IncompatibleVersion => "incompatible p2p version",
            Self::NullNodeIdentity => "null node identity",
            Self::ClientQuitting => "client quitting",
            Self::UnexpectedIdentity => "unexpected identity",
            Self::ConnectedToSelf => "connected to self",
            Self::PingTimeout => "ping timeout",
            Self::SubprotocolError => "subprotocol error",
            Self::Other(_) => "other",
        };
        write!(f, "{text} (0x{:02x})", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EIP-8 "devp2p Base Protocol" vector: a Hello advertising version 22 with extra elements.
    /// <https://eips.ethereum.org/EIPS/eip-8#devp2p-base-protocol>
    #[test]
    fn eip8_hello_with_extra_elements() {
        let data = hex::decode(concat!(
            "f87137916b6e6574682f76302e39312f706c616e39cdc5836574683dc6846d6f726b1682270fb840",
            "fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc803e52ab2cd55d5569",
            "bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877c883666f6f836261720304"
        ))
        .unwrap();
        let hello = Hello::decode(&data).unwrap();
        assert_eq!(hello.protocol_version, 55);
        assert_eq!(hello.client_id, "kneth/v0.91/plan9");
        assert_eq!(hello.capabilities, vec![Capability::new("eth", 61), Capability::new("mork", 22)]);
        assert_eq!(hello.listen_port, 9999);
    }

    /// Found by fuzzing (fuzz/regressions/p2p_messages): a capability name of four 0xff bytes
    /// became twelve bytes of replacement characters, so our re-encoded Hello broke the 8-byte
    /// name limit.
    #[test]
    fn names_and_client_ids_keep_their_byte_length_and_show_no_control_characters() {
        let mut raw = Vec::new();
        let fields: Vec<u8> = [
            alloy_rlp::encode(5u64),
            alloy_rlp::encode(&b"bor\x1b[31m\xff"[..]),
            {
                let cap = [alloy_rlp::encode(&[0xffu8, 0xff, 0xff, 0xff][..]), alloy_rlp::encode(1u64)].concat();
                let mut list = Vec::new();
                RlpHeader { list: true, payload_length: cap.len() }.encode(&mut list);
                list.extend(cap);
                let mut outer = Vec::new();
                RlpHeader { list: true, payload_length: list.len() }.encode(&mut outer);
                outer.extend(list);
                outer
            },
            alloy_rlp::encode(0u64),
            alloy_rlp::encode(&[1u8; 64][..]),
        ]
        .concat();
        RlpHeader { list: true, payload_length: fields.len() }.encode(&mut raw);
        raw.extend(fields);
        let decoded = Hello::decode(&raw).expect("decodes");
        assert_eq!(decoded.capabilities[0].name, "????");
        assert_eq!(decoded.client_id, "bor?[31m?");
        assert_eq!(Hello::decode(&decoded.encode()).expect("round trip"), decoded);
    }

    #[test]
    fn hello_round_trip_and_limits() {
        let hello = Hello {
            protocol_version: 5,
            client_id: "hypasis".into(),
            capabilities: vec![Capability::new("eth", 68), Capability::new("eth", 69)],
            listen_port: 0,
            id: B512::repeat_byte(3),
        };
        assert_eq!(Hello::decode(&hello.encode()).unwrap(), hello);
        assert!(Hello::decode(&vec![0xc0; MAX_HELLO_SIZE + 1]).is_err());
        let mut short_id = hello.clone().encode();
        short_id.truncate(short_id.len() - 1);
        assert!(Hello::decode(&short_id).is_err());
    }

    #[test]
    fn disconnect_reasons_decode_leniently() {
        assert_eq!(DisconnectReason::decode(&DisconnectReason::TooManyPeers.encode()), DisconnectReason::TooManyPeers);
        assert_eq!(DisconnectReason::decode(&[0x04]), DisconnectReason::TooManyPeers);
        assert_eq!(DisconnectReason::decode(&[]), DisconnectReason::Requested);
    }
}
