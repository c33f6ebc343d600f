//! Headers with their hash.
//!
//! The block hash is `keccak256(rlp(header))`. When a header is decoded from the wire we hash the
//! exact bytes we received, so a header is never re-encoded just to learn its hash.

use alloy_consensus::Header;
use alloy_primitives::{B256, keccak256};
use alloy_rlp::{Decodable, Encodable};

/// Why a header could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The bytes are not a valid RLP header.
    #[error("malformed header RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// The RLP item was followed by more bytes.
    #[error("{0} trailing bytes after the header RLP")]
    TrailingBytes(usize),
}

/// A header and its hash, computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    header: Header,
    hash: B256,
}

impl SealedHeader {
    /// Seals a header by hashing its RLP encoding.
    pub fn seal(header: Header) -> Self {
        let hash = header.hash_slow();
        Self { header, hash }
    }

    /// Decodes one header from exactly `bytes` and hashes those bytes.
    ///
    /// # Errors
    /// [`HeaderError`] when the bytes are not one complete header.
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, HeaderError> {
        let mut buf = bytes;
        let header = Header::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(HeaderError::TrailingBytes(buf.len()));
        }
        Ok(Self { header, hash: keccak256(bytes) })
    }

    /// The block hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The parent block hash.
    pub fn parent_hash(&self) -> B256 {
        self.header.parent_hash
    }

    /// The header itself.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The header's RLP encoding.
    pub fn rlp(&self) -> Vec<u8> {
        alloy_rlp::encode(&self.header)
    }

    /// Length of the header's RLP encoding, without encoding it.
    pub fn rlp_len(&self) -> usize {
        self.header.length()
    }
}

impl std::ops::Deref for SealedHeader {
    type Target = Header;

    fn deref(&self) -> &Header {
        &self.header
    }
}

impl Encodable for SealedHeader {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.header.encode(out);
    }

    fn length(&self) -> usize {
        self.header.length()
    }
}

impl Decodable for SealedHeader {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let start = *buf;
        let header = Header::decode(buf)?;
        let used = start.len() - buf.len();
        Ok(Self { header, hash: keccak256(&start[..used]) })
    }
}
