//! eth request/response messages.
//!
//! Requests come from untrusted peers and are decoded strictly with limits; responses are
//! encoded straight from stored data without re-decoding it.

use crate::{
    WireError,
    error::rlp,
    p2p::{list_payload, list_payload_of},
};
use alloy_primitives::{B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use hypasis_chain::{BlockBody, Receipt, SealedHeader};

/// Most hashes or headers a single request may name (geth's and Bor's serving limit).
pub const MAX_REQUEST_ITEMS: usize = 1024;

/// The origin of a header request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By hash.
    Hash(B256),
    /// By number.
    Number(u64),
}

/// GetBlockHeaders: `[request-id, [start, limit, skip, reverse]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetBlockHeaders {
    /// Request id.
    pub request_id: u64,
    /// First block.
    pub start: BlockId,
    /// Most headers wanted.
    pub limit: u64,
    /// Blocks skipped between consecutive headers.
    pub skip: u64,
    /// Descending when true.
    pub reverse: bool,
}

impl GetBlockHeaders {
    /// Decodes `msg-data`.
    ///
    /// # Errors
    /// [`WireError::Rlp`] when malformed.
    pub fn decode(data: &[u8]) -> Result<Self, WireError> {
        let what = "GetBlockHeaders";
        let mut p = list_payload(data, what)?;
        let request_id = u64::decode(&mut p).map_err(rlp(what))?;
        let mut q = list_payload_of(&mut p, what)?;
        let start_bytes = Bytes::decode(&mut q).map_err(rlp(what))?;
        let start = match start_bytes.len() {
            32 => BlockId::Hash(B256::from_slice(&start_bytes)),
            0..=8 => {
                if start_bytes.first() == Some(&0) {
                    return Err(WireError::Rlp { what, source: alloy_rlp::Error::LeadingZero });
                }
                let mut n = [0u8; 8];
                n[8 - start_bytes.len()..].copy_from_slice(&start_bytes);
                BlockId::Number(u64::from_be_bytes(n))
            }
            len => return Err(WireError::Breach(format!("GetBlockHeaders origin of {len} bytes is neither a number nor a hash"))),
        };
        let limit = u64::decode(&mut q).map_err(rlp(what))?;
        let skip = u64::decode(&mut q).map_err(rlp(what))?;
        let reverse = u8::decode(&mut q).map_err(rlp(what))? != 0;
        Ok(Self { request_id, start, limit, skip, reverse })
    }

    /// Encodes `msg-data`.
    pub fn encode(&self) -> Vec<u8> {
        let mut inner = Vec::new();
        match self.start {
            BlockId::Hash(h) => h.encode(&mut inner),
            BlockId::Number(n) => n.encode(&mut inner),
        }
        self.limit.encode(&mut inner);
        self.skip.encode(&mut inner);
        u8::from(self.reverse).encode(&mut inner);
        let mut query = Vec::with_capacity(inner.len() + 3);
        RlpHeader { list: true, payload_length: inner.len() }.encode(&mut query);
        query.extend_from_slice(&inner);
        with_request_id(self.request_id, &query)
    }
}

/// A request naming blocks by hash: GetBlockBodies, GetReceipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRequest {
    /// Request id.
    pub request_id: u64,
    /// Block hashes, at most [`MAX_REQUEST_ITEMS`] (extra ones are dropped).
    pub hashes: Vec<B256>,
}

impl HashRequest {
    /// Decodes `[request-id, [hash, …]]`, keeping the first [`MAX_REQUEST_ITEMS`] hashes.
    ///
    /// # Errors
    /// [`WireError::Rlp`] when malformed.
    pub fn decode(data: &[u8], what: &'static str) -> Result<Self, WireError> {
        let mut p = list_payload(data, what)?;
        let request_id = u64::decode(&mut p).map_err(rlp(what))?;
        let mut list = list_payload_of(&mut p, what)?;
        let mut hashes = Vec::with_capacity((list.len() / 33).min(MAX_REQUEST_ITEMS));
        while !list.is_empty() {
            let hash = B256::decode(&mut list).map_err(rlp(what))?;
            if hashes.len() < MAX_REQUEST_ITEMS {
                hashes.push(hash);
            }
        }
        Ok(Self { request_id, hashes })
    }

    /// Encodes `msg-data`.
    pub fn encode(&self) -> Vec<u8> {
        let mut list = Vec::new();
        alloy_rlp::encode_list::<B256, B256>(&self.hashes, &mut list);
        with_request_id(self.request_id, &list)
    }
}

/// Wraps an encoded list as `[request-id, list]`.
pub fn with_request_id(request_id: u64, encoded_list: &[u8]) -> Vec<u8> {
    let payload = request_id.length() + encoded_list.len();
    let mut out = Vec::with_capacity(payload + 5);
    RlpHeader { list: true, payload_length: payload }.encode(&mut out);
    request_id.encode(&mut out);
    out.extend_from_slice(encoded_list);
    out
}

fn list_of<T: Encodable>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list(items, &mut out);
    out
}

/// BlockHeaders `msg-data`.
pub fn encode_block_headers<'a>(request_id: u64, headers: impl IntoIterator<Item = &'a SealedHeader>) -> Vec<u8> {
    let headers: Vec<&SealedHeader> = headers.into_iter().collect();
    with_request_id(request_id, &list_of(&headers))
}

/// BlockBodies `msg-data`.
pub fn encode_block_bodies<'a>(request_id: u64, bodies: impl IntoIterator<Item = &'a BlockBody>) -> Vec<u8> {
    let bodies: Vec<&BlockBody> = bodies.into_iter().collect();
    with_request_id(request_id, &list_of(&bodies))
}

/// Receipts `msg-data`: eth/68 form (typed receipts as strings, with bloom) or eth/69 form.
pub fn encode_receipts<'a>(request_id: u64, blocks: impl IntoIterator<Item = &'a [Receipt]>, eth69: bool) -> Vec<u8> {
    let mut outer = Vec::new();
    for receipts in blocks {
        if eth69 {
            let payload: usize = receipts.iter().map(Receipt::eth69_length).sum();
            RlpHeader { list: true, payload_length: payload }.encode(&mut outer);
            receipts.iter().for_each(|r| r.encode_eth69(&mut outer));
        } else {
            alloy_rlp::encode_list(receipts, &mut outer);
        }
    }
    let mut list = Vec::with_capacity(outer.len() + 5);
    RlpHeader { list: true, payload_length: outer.len() }.encode(&mut list);
    list.extend_from_slice(&outer);
    with_request_id(request_id, &list)
}

/// Decodes a response `[request-id, [item, …]]` with `decode_item`.
///
/// # Errors
/// [`WireError::Rlp`] when malformed.
pub fn decode_response<T>(
    data: &[u8],
    what: &'static str,
    mut decode_item: impl FnMut(&mut &[u8]) -> alloy_rlp::Result<T>,
) -> Result<(u64, Vec<T>), WireError> {
    let mut p = list_payload(data, what)?;
    let request_id = u64::decode(&mut p).map_err(rlp(what))?;
    let mut list = list_payload_of(&mut p, what)?;
    let mut items = Vec::new();
    while !list.is_empty() {
        items.push(decode_item(&mut list).map_err(rlp(what))?);
    }
    Ok((request_id, items))
}

/// Decodes one block's receipt list in eth/69 form.
///
/// # Errors
/// Malformed RLP.
pub fn decode_receipts69(buf: &mut &[u8]) -> alloy_rlp::Result<Vec<Receipt>> {
    let mut payload = RlpHeader::decode_bytes(buf, true)?;
    let mut out = Vec::new();
    while !payload.is_empty() {
        out.push(Receipt::decode_eth69(&mut payload)?);
    }
    Ok(out)
}

/// NewBlockHashes `msg-data`: `[[hash, number], …]`.
pub fn encode_new_block_hashes(entries: &[(B256, u64)]) -> Vec<u8> {
    let mut inner = Vec::new();
    for (hash, number) in entries {
        RlpHeader { list: true, payload_length: hash.length() + number.length() }.encode(&mut inner);
        hash.encode(&mut inner);
        number.encode(&mut inner);
    }
    let mut out = Vec::with_capacity(inner.len() + 3);
    RlpHeader { list: true, payload_length: inner.len() }.encode(&mut out);
    out.extend_from_slice(&inner);
    out
}

/// NewBlock `msg-data`: `[[header, txs, ommers(, withdrawals)], td]`.
pub fn encode_new_block(header: &SealedHeader, body: &BlockBody, td: U256) -> Vec<u8> {
    let mut block = Vec::new();
    hypasis_chain::block::encode_block(header, body, &mut block);
    let payload = block.len() + td.length();
    let mut out = Vec::with_capacity(payload + 5);
    RlpHeader { list: true, payload_length: payload }.encode(&mut out);
    out.extend_from_slice(&block);
    td.encode(&mut out);
    out
}

/// Decodes NewBlock `msg-data` into the header, body and total difficulty.
///
/// # Errors
/// [`WireError::Rlp`] when malformed.
pub fn decode_new_block(data: &[u8]) -> Result<(SealedHeader, BlockBody, U256), WireError> {
    let what = "NewBlock";
    let mut p = list_payload(data, what)?;
    let mut block = RlpHeader::decode_bytes(&mut p, true).map_err(rlp(what))?;
    let header = SealedHeader::decode(&mut block).map_err(rlp(what))?;
    let body = BlockBody::decode_fields(block).map_err(rlp(what))?;
    let td = U256::decode(&mut p).map_err(rlp(what))?;
    Ok((header, body, td))
}

/// BlockRangeUpdate `msg-data` (eth/69): `[earliest, latest, latestHash]`.
pub fn encode_block_range_update(earliest: u64, latest: u64, latest_hash: B256) -> Vec<u8> {
    let payload = earliest.length() + latest.length() + latest_hash.length();
    let mut out = Vec::with_capacity(payload + 2);
    RlpHeader { list: true, payload_length: payload }.encode(&mut out);
    earliest.encode(&mut out);
    latest.encode(&mut out);
    latest_hash.encode(&mut out);
    out
}

/// Decodes BlockRangeUpdate.
///
/// # Errors
/// Malformed RLP or an inverted range.
pub fn decode_block_range_update(data: &[u8]) -> Result<(u64, u64, B256), WireError> {
    let what = "BlockRangeUpdate";
    let mut p = list_payload(data, what)?;
    let earliest = u64::decode(&mut p).map_err(rlp(what))?;
    let latest = u64::decode(&mut p).map_err(rlp(what))?;
    let hash = B256::decode(&mut p).map_err(rlp(what))?;
    if earliest > latest {
        return Err(WireError::Breach(format!("BlockRangeUpdate range {earliest}..{latest} is inverted")));
    }
    Ok((earliest, latest, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_requests_by_number_and_hash_round_trip() {
        for start in [BlockId::Number(0), BlockId::Number(1_000_000), BlockId::Hash(B256::repeat_byte(9))] {
            let req = GetBlockHeaders { request_id: 7, start, limit: 1024, skip: 3, reverse: true };
            assert_eq!(GetBlockHeaders::decode(&req.encode()).unwrap(), req);
        }
    }

    #[test]
    fn malformed_requests_are_errors() {
        assert!(GetBlockHeaders::decode(&[0xc0]).is_err());
        assert!(GetBlockHeaders::decode(&[0xc3, 0x01, 0xc1, 0x80]).is_err());
        // a 20-byte origin is neither a number nor a hash
        let mut bad = vec![0xd7, 0x01, 0xd5, 0x94];
        bad.extend_from_slice(&[1; 20]);
        assert!(GetBlockHeaders::decode(&bad).is_err());
        assert!(HashRequest::decode(&[0xc2, 0x01, 0x80], "GetBlockBodies").is_err());
    }

    #[test]
    fn hash_requests_are_capped() {
        let req = HashRequest { request_id: 1, hashes: vec![B256::ZERO; MAX_REQUEST_ITEMS + 10] };
        assert_eq!(HashRequest::decode(&req.encode(), "GetBlockBodies").unwrap().hashes.len(), MAX_REQUEST_ITEMS);
    }
}
