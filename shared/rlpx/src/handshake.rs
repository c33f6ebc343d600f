//! The RLPx handshake (`rlpx.md`, "Initial Handshake"; [EIP-8]).
//!
//! The initiator sends `auth`, the recipient answers `ack`; both then derive the frame secrets
//! from the ephemeral ECDH key and the two nonces. We send EIP-8 messages and accept both EIP-8
//! and legacy (pre-EIP-8, fixed 307/210 bytes) ones, answering in the format we received.
//!
//! A recipient may own several static keys (a shared cluster key behind a load balancer plus its
//! own instance key); [`accept`] takes the auth message encrypted to any of them.
//!
//! [EIP-8]: https://eips.ethereum.org/EIPS/eip-8

use crate::{
    RlpxError, ecies,
    keys::{self, NodeId},
    mac::MacState,
};
use alloy_primitives::{B256, keccak256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use k256::{PublicKey, SecretKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of a legacy (pre-EIP-8) auth message.
pub const LEGACY_AUTH_SIZE: usize = 307;
/// Size of a legacy ack message.
pub const LEGACY_ACK_SIZE: usize = 210;
/// Largest EIP-8 handshake message we accept (geth pads by at most 300 bytes; ~600 in practice).
pub const MAX_HANDSHAKE_SIZE: usize = 2048;
/// Handshake version we send (`auth-vsn`, `ack-vsn`).
const VERSION: u8 = 4;

/// The secrets a completed handshake yields.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// Frame encryption key.
    pub aes_secret: B256,
    /// Frame MAC key.
    pub mac_secret: B256,
    /// MAC state for frames we send.
    pub egress_mac: MacState,
    /// MAC state for frames we receive.
    pub ingress_mac: MacState,
    /// The peer's node id.
    pub remote_id: NodeId,
}

/// A decrypted auth message.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Initiator's static public key.
    pub remote_static: PublicKey,
    /// Initiator's ephemeral public key (recovered from the signature).
    pub remote_ephemeral: PublicKey,
    /// Initiator's nonce.
    pub nonce: B256,
    /// Whether it came in EIP-8 form.
    pub eip8: bool,
}

/// A decrypted ack message.
#[derive(Debug, Clone)]
pub struct Ack {
    /// Recipient's ephemeral public key.
    pub remote_ephemeral: PublicKey,
    /// Recipient's nonce.
    pub nonce: B256,
}

fn padding() -> Vec<u8> {
    let random = B256::random();
    let len = 100 + usize::from(u16::from_be_bytes([random[0], random[1]]) % 201);
    vec![0u8; len]
}

fn seal_eip8(remote: &PublicKey, mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&padding());
    let size = (body.len() + ecies::OVERHEAD) as u16;
    let prefix = size.to_be_bytes();
    let mut packet = prefix.to_vec();
    packet.extend_from_slice(&ecies::encrypt(remote, &body, &prefix));
    packet
}

/// Builds an EIP-8 auth message.
pub fn build_auth(our_static: &SecretKey, our_ephemeral: &SecretKey, nonce: &B256, remote: &PublicKey) -> Vec<u8> {
    let static_shared = keys::ecdh(our_static, remote);
    let signature = keys::sign_recoverable(our_ephemeral, &(static_shared ^ *nonce));
    let id = keys::node_id_of(our_static);
    let fields = [&signature[..], id.as_slice(), nonce.as_slice()];
    let payload: usize = fields.iter().map(|f| f.length()).sum::<usize>() + VERSION.length();
    let mut body = Vec::with_capacity(payload + 3);
    RlpHeader { list: true, payload_length: payload }.encode(&mut body);
    fields.iter().for_each(|f| f.encode(&mut body));
    VERSION.encode(&mut body);
    seal_eip8(remote, body)
}

/// Builds an ack message, EIP-8 or legacy.
pub fn build_ack(our_ephemeral: &SecretKey, nonce: &B256, remote: &PublicKey, eip8: bool) -> Vec<u8> {
    let id = keys::node_id_of(our_ephemeral);
    if !eip8 {
        let mut body = Vec::with_capacity(97);
        body.extend_from_slice(id.as_slice());
        body.extend_from_slice(nonce.as_slice());
        body.push(0);
        return ecies::encrypt(remote, &body, &[]);
    }
    let payload = id.as_slice().length() + nonce.as_slice().length() + VERSION.length();
    let mut body = Vec::with_capacity(payload + 3);
    RlpHeader { list: true, payload_length: payload }.encode(&mut body);
    id.as_slice().encode(&mut body);
    nonce.as_slice().encode(&mut body);
    VERSION.encode(&mut body);
    seal_eip8(remote, body)
}

/// Reads the leading fixed-size byte strings of an RLP list, ignoring later elements and any
/// trailing data (EIP-8).
fn rlp_fields<const N: usize>(plain: &[u8], sizes: [usize; N]) -> Result<[Vec<u8>; N], RlpxError> {
    let mut buf = plain;
    let list = RlpHeader::decode(&mut buf).map_err(|e| RlpxError::Handshake(e.to_string()))?;
    if !list.list || buf.len() < list.payload_length {
        return Err(RlpxError::Handshake("body is not an RLP list".into()));
    }
    let mut payload = &buf[..list.payload_length];
    let mut out: [Vec<u8>; N] = std::array::from_fn(|_| Vec::new());
    for (slot, size) in out.iter_mut().zip(sizes) {
        let item = alloy_primitives::Bytes::decode(&mut payload).map_err(|e| RlpxError::Handshake(e.to_string()))?;
        if item.len() != size {
            return Err(RlpxError::Handshake(format!("field of {} bytes, expected {size}", item.len())));
        }
        *slot = item.to_vec();
    }
    Ok(out)
}

fn public_from_id(bytes: &[u8]) -> Result<PublicKey, RlpxError> {
    keys::public_key(&NodeId::from_slice(bytes))
}

fn finish_auth(our_static: &SecretKey, signature: &[u8], id: &[u8], nonce: &[u8], eip8: bool) -> Result<Auth, RlpxError> {
    let remote_static = public_from_id(id)?;
    let nonce = B256::from_slice(nonce);
    let static_shared = keys::ecdh(our_static, &remote_static);
    let remote_ephemeral = keys::recover(signature, &(static_shared ^ nonce))?;
    Ok(Auth { remote_static, remote_ephemeral, nonce, eip8 })
}

/// Decrypts an auth message (`packet` is the whole message, with the size prefix for EIP-8).
///
/// # Errors
/// [`RlpxError`] when it is not an auth message for `our_static`.
pub fn read_auth(packet: &[u8], our_static: &SecretKey) -> Result<Auth, RlpxError> {
    if packet.len() == LEGACY_AUTH_SIZE
        && let Ok(plain) = ecies::decrypt(our_static, packet, &[])
    {
        if plain.len() != 194 {
            return Err(RlpxError::Handshake("legacy auth body has the wrong length".into()));
        }
        return finish_auth(our_static, &plain[..65], &plain[97..161], &plain[161..193], false);
    }
    if packet.len() < 2 {
        return Err(RlpxError::Handshake("auth message too short".into()));
    }
    let plain = ecies::decrypt(our_static, &packet[2..], &packet[..2])?;
    let [signature, id, nonce] = rlp_fields(&plain, [65, 64, 32])?;
    finish_auth(our_static, &signature, &id, &nonce, true)
}

/// Decrypts an ack message.
///
/// # Errors
/// [`RlpxError`] when it is not an ack message for `our_static`.
pub fn read_ack(packet: &[u8], our_static: &SecretKey) -> Result<Ack, RlpxError> {
    let (ephemeral, nonce) = if packet.len() == LEGACY_ACK_SIZE
        && let Ok(plain) = ecies::decrypt(our_static, packet, &[])
    {
        if plain.len() != 97 {
            return Err(RlpxError::Handshake("legacy ack body has the wrong length".into()));
        }
        (plain[..64].to_vec(), plain[64..96].to_vec())
    } else {
        if packet.len() < 2 {
            return Err(RlpxError::Handshake("ack message too short".into()));
        }
        let plain = ecies::decrypt(our_static, &packet[2..], &packet[..2])?;
        let [ephemeral, nonce] = rlp_fields(&plain, [64, 32])?;
        (ephemeral, nonce)
    };
    Ok(Ack { remote_ephemeral: public_from_id(&ephemeral)?, nonce: B256::from_slice(&nonce) })
}

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We opened the connection and sent auth.
    Initiator,
    /// We accepted the connection and sent ack.
    Recipient,
}

/// Inputs to [`derive_secrets`].
#[derive(Debug)]
pub struct Exchange<'a> {
    /// Our side.
    pub role: Role,
    /// Our ephemeral key.
    pub our_ephemeral: &'a SecretKey,
    /// The peer's ephemeral public key.
    pub remote_ephemeral: &'a PublicKey,
    /// Initiator nonce.
    pub initiator_nonce: &'a B256,
    /// Recipient nonce.
    pub recipient_nonce: &'a B256,
    /// The auth message as sent (with prefix).
    pub auth: &'a [u8],
    /// The ack message as sent (with prefix).
    pub ack: &'a [u8],
    /// The peer's node id.
    pub remote_id: NodeId,
}

/// Derives the frame secrets and MAC states from a completed exchange.
pub fn derive_secrets(x: Exchange<'_>) -> Secrets {
    let ephemeral_key = keys::ecdh(x.our_ephemeral, x.remote_ephemeral);
    let nonce_hash = keccak256([x.recipient_nonce.as_slice(), x.initiator_nonce.as_slice()].concat());
    let shared_secret = keccak256([ephemeral_key.as_slice(), nonce_hash.as_slice()].concat());
    let aes_secret = keccak256([ephemeral_key.as_slice(), shared_secret.as_slice()].concat());
    let mac_secret = keccak256([ephemeral_key.as_slice(), aes_secret.as_slice()].concat());
    let to_recipient = MacState::new(&mac_secret, x.recipient_nonce, x.auth);
    let to_initiator = MacState::new(&mac_secret, x.initiator_nonce, x.ack);
    let (egress_mac, ingress_mac) = match x.role {
        Role::Initiator => (to_recipient, to_initiator),
        Role::Recipient => (to_initiator, to_recipient),
    };
    Secrets { aes_secret, mac_secret, egress_mac, ingress_mac, remote_id: x.remote_id }
}

/// Runs the initiator side over `stream` to the node `remote`.
///
/// # Errors
/// [`RlpxError`] on I/O failure or a bad ack.
pub async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    our_static: &SecretKey,
    remote: NodeId,
) -> Result<Secrets, RlpxError> {
    let remote_key = keys::public_key(&remote)?;
    let ephemeral = keys::random_secret();
    let nonce = B256::random();
    let auth = build_auth(our_static, &ephemeral, &nonce, &remote_key);
    stream.write_all(&auth).await?;
    stream.flush().await?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await?;
    let size = usize::from(u16::from_be_bytes(prefix));
    if size > MAX_HANDSHAKE_SIZE {
        return Err(RlpxError::HandshakeTooLarge(size));
    }
    let mut ack = prefix.to_vec();
    ack.resize(2 + size, 0);
    stream.read_exact(&mut ack[2..]).await?;
    let received = read_ack(&ack, our_static)?;
    Ok(derive_secrets(Exchange {
        role: Role::Initiator,
        our_ephemeral: &ephemeral,
        remote_ephemeral: &received.remote_ephemeral,
        initiator_nonce: &nonce,
        recipient_nonce: &received.nonce,
        auth: &auth,
        ack: &ack,
        remote_id: remote,
    }))
}

/// Runs the recipient side over `stream`, accepting an auth message encrypted to any of
/// `our_keys`. Returns the secrets and the index of the key the peer addressed.
///
/// # Errors
/// [`RlpxError`] on I/O failure, an oversized message, or an auth no key can open.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, our_keys: &[SecretKey]) -> Result<(Secrets, usize), RlpxError> {
    let mut packet = vec![0u8; 2];
    stream.read_exact(&mut packet).await?;
    let size = usize::from(u16::from_be_bytes([packet[0], packet[1]]));
    // A legacy auth starts with the 0x04 of an uncompressed key and is exactly 307 bytes. Try that
    // reading first, then the EIP-8 one (EIP-8, "Changes to the RLPx TCP Handshake").
    let mut opened = None;
    if packet[0] == 0x04 {
        packet.resize(LEGACY_AUTH_SIZE, 0);
        stream.read_exact(&mut packet[2..]).await?;
        opened = open_auth(&packet, our_keys);
    }
    if opened.is_none() {
        if size > MAX_HANDSHAKE_SIZE {
            return Err(RlpxError::HandshakeTooLarge(size));
        }
        let have = packet.len();
        if have < size + 2 {
            packet.resize(size + 2, 0);
            stream.read_exact(&mut packet[have..]).await?;
        } else if have > size + 2 {
            return Err(RlpxError::Handshake("auth message shorter than its own size prefix".into()));
        }
        opened = open_auth(&packet, our_keys);
    }
    let Some((index, received)) = opened else { return Err(RlpxError::Ecies("auth message is not encrypted to any of our keys")) };
    let ephemeral = keys::random_secret();
    let nonce = B256::random();
    let ack = build_ack(&ephemeral, &nonce, &received.remote_static, received.eip8);
    stream.write_all(&ack).await?;
    stream.flush().await?;
    let secrets = derive_secrets(Exchange {
        role: Role::Recipient,
        our_ephemeral: &ephemeral,
        remote_ephemeral: &received.remote_ephemeral,
        initiator_nonce: &received.nonce,
        recipient_nonce: &nonce,
        auth: &packet,
        ack: &ack,
        remote_id: keys::node_id(&received.remote_static),
    });
    Ok((secrets, index))
}

fn open_auth(packet: &[u8], our_keys: &[SecretKey]) -> Option<(usize, Auth)> {
    our_keys.iter().enumerate().find_map(|(i, key)| read_auth(packet, key).ok().map(|a| (i, a)))
}
