//! RLPx errors.

/// Why the RLPx layer failed. Every variant ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum RlpxError {
    /// Socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An ECIES message failed to authenticate or decrypt (wrong key, tampering, garbage).
    #[error("ECIES: {0}")]
    Ecies(&'static str),
    /// A handshake message is malformed.
    #[error("malformed handshake message: {0}")]
    Handshake(String),
    /// A handshake message is larger than we accept.
    #[error("handshake message of {0} bytes exceeds the limit")]
    HandshakeTooLarge(usize),
    /// A public key or signature is not valid on secp256k1.
    #[error("invalid key or signature: {0}")]
    Crypto(String),
    /// A frame header or body MAC did not match.
    #[error("frame {0} MAC mismatch")]
    BadMac(&'static str),
    /// A frame is larger than the configured maximum.
    #[error("frame of {size} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Declared frame size.
        size: usize,
        /// Limit in force.
        max: usize,
    },
    /// The peer did not complete the handshake in time.
    #[error("handshake timed out")]
    Timeout,
}

impl RlpxError {
    /// A short, fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io(_) => "io",
            Self::Ecies(_) => "ecies",
            Self::Handshake(_) => "malformed",
            Self::HandshakeTooLarge(_) => "too_large",
            Self::Crypto(_) => "crypto",
            Self::BadMac(_) => "bad_mac",
            Self::FrameTooLarge { .. } => "frame_too_large",
            Self::Timeout => "timeout",
        }
    }
}
