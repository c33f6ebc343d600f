//! The limit a download is measured against: the same answer bytes pushed through our devp2p
//! framing alone (snappy compress + frame encode with AES-256-CTR and the keccak MAC on one side,
//! frame decode + snappy decompress on the other), in memory on one core, in the same run.

use bytes::{Bytes, BytesMut};
use hypasis_eth_wire::snappy;
use hypasis_rlpx::{FrameCodec, keys};
use std::time::{Duration, Instant};
use tokio_util::codec::{Decoder, Encoder};

/// Most answer bytes kept for the measurement.
pub const MAX_SAMPLE_BYTES: usize = 256 << 20;

/// Answer payloads (eth message data, decompressed) kept from a run, up to [`MAX_SAMPLE_BYTES`].
#[derive(Debug, Default)]
pub struct Sample {
    payloads: Vec<Bytes>,
    bytes: usize,
}

impl Sample {
    /// Keeps `payload` while there is room.
    pub fn keep(&mut self, payload: &Bytes) {
        if self.bytes + payload.len() <= MAX_SAMPLE_BYTES {
            self.bytes += payload.len();
            self.payloads.push(payload.clone());
        }
    }

    /// Payload bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Payload bytes per second the frame codec alone moves for `sample`, both directions, one core;
/// `None` for an empty sample.
///
/// # Panics
/// If our own codec cannot encode or decode its own frames (a bug, not an input problem).
pub async fn codec_rate(sample: &Sample) -> Option<f64> {
    if sample.bytes == 0 {
        return None;
    }
    let (mut tx, mut rx) = codec_pair().await;
    let mut wire = BytesMut::new();
    let mut took = Duration::ZERO;
    for payload in &sample.payloads {
        let started = Instant::now();
        let mut frame = Vec::with_capacity(payload.len() / 2 + 8);
        frame.push(0x14);
        frame.extend_from_slice(&snappy::compress(payload));
        tx.encode(Bytes::from(frame), &mut wire).expect("our codec encodes its own frame");
        let out = rx.decode(&mut wire).expect("our codec decodes its own frame").expect("a whole frame");
        let plain = snappy::decompress(&out[1..], snappy::MAX_DECOMPRESSED).expect("snappy round trip");
        took += started.elapsed();
        assert_eq!(plain.len(), payload.len());
    }
    Some(sample.bytes as f64 / took.as_secs_f64().max(1e-9))
}

/// An encoder and a matching decoder from one real handshake over an in-memory pipe.
async fn codec_pair() -> (FrameCodec, FrameCodec) {
    let (initiator, recipient) = (keys::random_secret(), keys::random_secret());
    let (mut x, mut y) = tokio::io::duplex(1 << 16);
    let recipient_id = keys::node_id(&recipient.public_key());
    let server = tokio::spawn(async move { hypasis_rlpx::accept(&mut y, &[recipient]).await.map(|a| a.0) });
    let client = hypasis_rlpx::initiate(&mut x, &initiator, recipient_id).await.expect("an in-memory handshake");
    let server = server.await.expect("join").expect("an in-memory handshake");
    (FrameCodec::new(client, 16 << 20), FrameCodec::new(server, 16 << 20))
}
