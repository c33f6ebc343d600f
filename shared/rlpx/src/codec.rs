//! The RLPx frame codec (`rlpx.md`, "Framing").
//!
//! `frame = header-ciphertext (16) ‖ header-mac (16) ‖ frame-ciphertext (padded to 16) ‖
//! frame-mac (16)`; the header is `frame-size (24-bit BE) ‖ rlp([0, 0]) ‖ zero padding`. Both
//! directions use one continuous AES-256-CTR stream (IV 0) keyed with `aes-secret`.

use crate::{RlpxError, handshake::Secrets, mac::MacState};
use aes::cipher::{KeyIvInit, StreamCipher};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Largest frame the wire format can describe (24-bit size).
pub const MAX_FRAME_SIZE: usize = (1 << 24) - 1;
/// Default limit on an incoming frame's payload: 16 MiB, the spec's cap on decompressed
/// messages (EIP-706), which a compressed frame never exceeds.
pub const DEFAULT_MAX_INGRESS_FRAME: usize = MAX_FRAME_SIZE;
/// Header data `rlp([capability-id, context-id])`, both zero.
const HEADER_DATA: [u8; 3] = [0xc2, 0x80, 0x80];
/// Size of header ciphertext and of each MAC.
const BLOCK: usize = 16;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Where the decoder is in the current frame.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for 32 bytes: header ciphertext and header MAC.
    Header,
    /// Header verified; waiting for the padded body of `size` bytes and its MAC.
    Body { size: usize },
}

/// Encrypts and authenticates outgoing frame payloads; verifies and decrypts incoming ones.
/// Items are frame payloads (`msg-id ‖ msg-data`).
pub struct FrameCodec {
    egress_aes: Aes256Ctr,
    ingress_aes: Aes256Ctr,
    egress_mac: MacState,
    ingress_mac: MacState,
    state: State,
    max_ingress_frame: usize,
}

impl std::fmt::Debug for FrameCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCodec").field("state", &self.state).field("max_ingress_frame", &self.max_ingress_frame).finish()
    }
}

fn padded(size: usize) -> usize {
    size.div_ceil(BLOCK) * BLOCK
}

impl FrameCodec {
    /// A codec from handshake secrets, accepting incoming frames up to `max_ingress_frame`.
    pub fn new(secrets: Secrets, max_ingress_frame: usize) -> Self {
        let iv = [0u8; 16];
        Self {
            egress_aes: Aes256Ctr::new(secrets.aes_secret.as_slice().into(), &iv.into()),
            ingress_aes: Aes256Ctr::new(secrets.aes_secret.as_slice().into(), &iv.into()),
            egress_mac: secrets.egress_mac,
            ingress_mac: secrets.ingress_mac,
            state: State::Header,
            max_ingress_frame: max_ingress_frame.min(MAX_FRAME_SIZE),
        }
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = RlpxError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, RlpxError> {
        loop {
            match self.state {
                State::Header => {
                    if src.len() < 2 * BLOCK {
                        src.reserve(2 * BLOCK - src.len());
                        return Ok(None);
                    }
                    let mut header: [u8; 16] = src[..BLOCK].try_into().expect("16 bytes");
                    let expected = self.ingress_mac.update_header(&header);
                    if expected[..] != src[BLOCK..2 * BLOCK] {
                        return Err(RlpxError::BadMac("header"));
                    }
                    self.ingress_aes.apply_keystream(&mut header);
                    let size = (usize::from(header[0]) << 16) | (usize::from(header[1]) << 8) | usize::from(header[2]);
                    if size > self.max_ingress_frame {
                        return Err(RlpxError::FrameTooLarge { size, max: self.max_ingress_frame });
                    }
                    src.advance(2 * BLOCK);
                    self.state = State::Body { size };
                }
                State::Body { size } => {
                    let need = padded(size) + BLOCK;
                    if src.len() < need {
                        src.reserve(need - src.len());
                        return Ok(None);
                    }
                    let mut body = src.split_to(need);
                    let mac = body.split_off(padded(size));
                    let expected = self.ingress_mac.update_body(&body);
                    if expected[..] != mac[..] {
                        return Err(RlpxError::BadMac("body"));
                    }
                    self.ingress_aes.apply_keystream(&mut body);
                    body.truncate(size);
                    self.state = State::Header;
                    return Ok(Some(body));
                }
            }
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = RlpxError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), RlpxError> {
        let size = payload.len();
        if size > MAX_FRAME_SIZE {
            return Err(RlpxError::FrameTooLarge { size, max: MAX_FRAME_SIZE });
        }
        dst.reserve(2 * BLOCK + padded(size) + BLOCK);
        let mut header = [0u8; 16];
        header[..3].copy_from_slice(&(size as u32).to_be_bytes()[1..]);
        header[3..6].copy_from_slice(&HEADER_DATA);
        self.egress_aes.apply_keystream(&mut header);
        let header_mac = self.egress_mac.update_header(&header);
        dst.put_slice(&header);
        dst.put_slice(&header_mac);
        let start = dst.len();
        dst.put_slice(&payload);
        dst.put_bytes(0, padded(size) - size);
        self.egress_aes.apply_keystream(&mut dst[start..]);
        let frame_mac = self.egress_mac.update_body(&dst[start..]);
        dst.put_slice(&frame_mac);
        Ok(())
    }
}
