//! Answering block requests from the store: one batched read per request, at most
//! [`MAX_REQUEST_ITEMS`] items, stopping at the soft response size. Unknown blocks are skipped
//! (bodies, receipts) or end the answer (headers, which must be contiguous); an unknown block is
//! never a reason to disconnect.

use hypasis_chain::Receipt;
use hypasis_eth_wire::eth::messages::{self, BlockId, GetBlockHeaders, HashRequest, MAX_REQUEST_ITEMS};
use hypasis_store::{BlockStore, Parts, StoreError};

/// Headers for a GetBlockHeaders request, as BlockHeaders `msg-data`, and how many.
///
/// # Errors
/// [`StoreError`] when the store fails.
pub async fn headers(store: &dyn BlockStore, req: &GetBlockHeaders, soft_limit: usize) -> Result<(Vec<u8>, usize), StoreError> {
    let start = match req.start {
        BlockId::Number(n) => Some(n),
        BlockId::Hash(h) => store.by_hashes(&[h], Parts::HEADER).await?.pop().flatten().map(|b| b.header.number()),
    };
    let count = req.limit.min(MAX_REQUEST_ITEMS as u64);
    let mut found = Vec::new();
    if let Some(start) = start.filter(|_| count > 0) {
        let mut size = 0;
        for block in store.by_range(start, count, req.skip, req.reverse, Parts::HEADER).await? {
            let Some(block) = block else { break };
            size += block.header.rlp_len();
            found.push(block.header);
            if size >= soft_limit {
                break;
            }
        }
    }
    Ok((messages::encode_block_headers(req.request_id, &found), found.len()))
}

/// Bodies for a GetBlockBodies request, as BlockBodies `msg-data`, and how many.
///
/// # Errors
/// [`StoreError`] when the store fails.
pub async fn bodies(store: &dyn BlockStore, req: &HashRequest, soft_limit: usize) -> Result<(Vec<u8>, usize), StoreError> {
    let mut found = Vec::new();
    let mut size = 0;
    for block in store.by_hashes(&req.hashes, Parts::BODY).await?.into_iter().flatten() {
        let Some(body) = block.body else { continue };
        size += alloy_rlp::Encodable::length(&*body);
        found.push(body);
        if size >= soft_limit {
            break;
        }
    }
    Ok((messages::encode_block_bodies(req.request_id, found.iter().map(|b| &**b)), found.len()))
}

/// Receipts for a GetReceipts request, as Receipts `msg-data` (eth/68 or eth/69 form), and how
/// many blocks' worth.
///
/// # Errors
/// [`StoreError`] when the store fails.
pub async fn receipts(store: &dyn BlockStore, req: &HashRequest, eth69: bool, soft_limit: usize) -> Result<(Vec<u8>, usize), StoreError> {
    let mut found = Vec::new();
    let mut size = 0;
    for block in store.by_hashes(&req.hashes, Parts::RECEIPTS).await?.into_iter().flatten() {
        let Some(mut receipts) = block.receipts else { continue };
        // eth/69 to Bor: the state-sync receipt goes last (cumulative gas 0 marks it; it is not
        // part of receiptsRoot). eth/68 answers carry consensus receipts only.
        if eth69 && let Some(state_sync) = block.state_sync_receipt {
            std::sync::Arc::make_mut(&mut receipts).push(Receipt::clone(&state_sync));
        }
        size += receipts.iter().map(alloy_rlp::Encodable::length).sum::<usize>();
        found.push(receipts);
        if size >= soft_limit {
            break;
        }
    }
    Ok((messages::encode_receipts(req.request_id, found.iter().map(|r| r.as_slice()), eth69), found.len()))
}
