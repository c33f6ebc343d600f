//! Wire-level errors.

use crate::DisconnectReason;
use hypasis_rlpx::RlpxError;

/// Why a devp2p connection failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The transport failed.
    #[error(transparent)]
    Rlpx(#[from] RlpxError),
    /// A message could not be decoded.
    #[error("malformed {what}: {source}")]
    Rlp {
        /// Which message.
        what: &'static str,
        /// Decoder error.
        source: alloy_rlp::Error,
    },
    /// The peer broke the protocol in a way that ends the connection.
    #[error("protocol breach: {0}")]
    Breach(String),
    /// A compressed message would inflate past the cap.
    #[error("message inflates to {size} bytes, over the {max} byte cap")]
    TooLarge {
        /// Declared decompressed size.
        size: usize,
        /// Cap.
        max: usize,
    },
    /// The peer sent Disconnect.
    #[error("peer disconnected: {0}")]
    Disconnected(DisconnectReason),
    /// We refused the peer (and told it why).
    #[error("refused peer: {reason}: {detail}")]
    Refused {
        /// Reason sent.
        reason: DisconnectReason,
        /// Why.
        detail: String,
    },
    /// The connection closed.
    #[error("connection closed")]
    Closed,
    /// The peer did not answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl WireError {
    /// The Disconnect reason to send for this error, if one should be sent.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Rlp { .. } | Self::Breach(_) | Self::TooLarge { .. } => Some(DisconnectReason::ProtocolBreach),
            Self::Refused { reason, .. } => Some(*reason),
            Self::Timeout(_) => Some(DisconnectReason::PingTimeout),
            _ => None,
        }
    }

    /// A short fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rlpx(e) => e.kind(),
            Self::Rlp { .. } => "bad_rlp",
            Self::Breach(_) => "breach",
            Self::TooLarge { .. } => "too_large",
            Self::Disconnected(_) => "remote_disconnect",
            Self::Refused { .. } => "refused",
            Self::Closed => "closed",
            Self::Timeout(_) => "timeout",
        }
    }
}

/// Maps a decode error for `what`.
pub(crate) fn rlp(what: &'static str) -> impl FnOnce(alloy_rlp::Error) -> WireError {
    move |source| WireError::Rlp { what, source }
}
