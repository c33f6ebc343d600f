//! What a peer may send us after the handshake, decoded by message id into one typed value, so
//! a server matches on [`Inbound`] instead of raw ids.

use super::{
    id,
    messages::{GetBlockHeaders, HashRequest, decode_block_range_update},
};
use crate::WireError;
use alloy_primitives::B256;

/// A request we answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `GetBlockHeaders`.
    Headers(GetBlockHeaders),
    /// `GetBlockBodies`.
    Bodies(HashRequest),
    /// `GetReceipts`.
    Receipts(HashRequest),
    /// `GetPooledTransactions`.
    PooledTransactions(HashRequest),
}

impl Request {
    /// The request's name (metrics and logs).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Headers(_) => "GetBlockHeaders",
            Self::Bodies(_) => "GetBlockBodies",
            Self::Receipts(_) => "GetReceipts",
            Self::PooledTransactions(_) => "GetPooledTransactions",
        }
    }

    /// The answer's message id and name.
    pub fn reply(&self) -> (u8, &'static str) {
        match self {
            Self::Headers(_) => (id::BLOCK_HEADERS, "BlockHeaders"),
            Self::Bodies(_) => (id::BLOCK_BODIES, "BlockBodies"),
            Self::Receipts(_) => (id::RECEIPTS, "Receipts"),
            Self::PooledTransactions(_) => (id::POOLED_TRANSACTIONS, "PooledTransactions"),
        }
    }

    /// The id the answer must carry.
    pub fn request_id(&self) -> u64 {
        match self {
            Self::Headers(r) => r.request_id,
            Self::Bodies(r) | Self::Receipts(r) | Self::PooledTransactions(r) => r.request_id,
        }
    }
}

/// One message from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A request to answer.
    Request(Request),
    /// eth/69 `BlockRangeUpdate`: the blocks the peer serves.
    BlockRangeUpdate {
        /// Its earliest block.
        earliest: u64,
        /// Its latest block.
        latest: u64,
        /// Its latest block's hash.
        latest_hash: B256,
    },
    /// Announcements, transactions and unsolicited responses: nothing to do (the id is kept).
    Ignored(u8),
}

impl Inbound {
    /// Decodes the message `id` with `data`.
    ///
    /// # Errors
    /// [`WireError::Rlp`] when a message we read is malformed; [`WireError::Breach`] for a second
    /// `Status`.
    pub fn decode(message_id: u8, data: &[u8]) -> Result<Self, WireError> {
        Ok(match message_id {
            id::GET_BLOCK_HEADERS => Self::Request(Request::Headers(GetBlockHeaders::decode(data)?)),
            id::GET_BLOCK_BODIES => Self::Request(Request::Bodies(HashRequest::decode(data, "GetBlockBodies")?)),
            id::GET_RECEIPTS => Self::Request(Request::Receipts(HashRequest::decode(data, "GetReceipts")?)),
            id::GET_POOLED_TRANSACTIONS => Self::Request(Request::PooledTransactions(HashRequest::decode(data, "GetPooledTransactions")?)),
            id::STATUS => return Err(WireError::Breach("second Status".into())),
            id::BLOCK_RANGE_UPDATE => {
                let (earliest, latest, latest_hash) = decode_block_range_update(data)?;
                Self::BlockRangeUpdate { earliest, latest, latest_hash }
            }
            other => Self::Ignored(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_decode_by_id_and_name_their_reply() {
        let req = HashRequest { request_id: 7, hashes: vec![B256::repeat_byte(1)] };
        let Inbound::Request(decoded) = Inbound::decode(id::GET_RECEIPTS, &req.encode()).expect("decode") else { panic!("a request") };
        assert_eq!(decoded, Request::Receipts(req.clone()));
        assert_eq!((decoded.request_id(), decoded.reply()), (7, (id::RECEIPTS, "Receipts")));
        assert_eq!(Inbound::decode(id::TRANSACTIONS, &[0xc0]).expect("ignored"), Inbound::Ignored(id::TRANSACTIONS));
        assert!(matches!(Inbound::decode(id::STATUS, &[0xc0]), Err(WireError::Breach(_))));
        assert!(Inbound::decode(id::GET_BLOCK_BODIES, &[0xc1, 0x01]).is_err(), "malformed is an error");
    }
}
