//! Block lookups for the methods: tags to numbers, the cache first, the read-through on a miss;
//! and the cache of rendered answers (a block's JSON is built once, then copied).

use crate::{
    error::RpcError,
    params::{BlockRef, BlockTag},
    render::{self, BlockJson, Decoded},
};
use alloy_primitives::B256;
use hypasis_chain::{ChainSpec, SealedHeader};
use hypasis_store::{BlockStore, Parts, StoredBlock};
use hypasis_syncer::ReadThrough;
use std::sync::Arc;

/// Bytes of rendered answers kept unless configured (`--rpc-cache-bytes`).
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// What the node knows beyond the store: finality and sync state. Implemented by the node over
/// its sync service.
pub trait ChainView: Send + Sync + std::fmt::Debug + 'static {
    /// The latest Heimdall milestone's end block (`safe`).
    fn safe(&self) -> Option<u64>;
    /// The highest block covered by a checkpoint verified against L1 (`finalized`).
    fn finalized(&self) -> Option<u64>;
    /// `(starting, current, highest)` while the cache is catching up with the upstream tip;
    /// `None` when it is caught up (or has no upstream).
    fn syncing(&self) -> Option<(u64, u64, u64)>;
}

/// Which rendering of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// `eth_getBlockBy*` with transaction hashes.
    BlockHashes,
    /// `eth_getBlockBy*` with full transactions.
    BlockFull,
    /// `eth_getBlockReceipts`.
    Receipts,
    /// `eth_getHeaderBy*`.
    Header,
}

#[derive(Clone)]
struct Weigh;

impl quick_cache::Weighter<(B256, View), Arc<str>> for Weigh {
    fn weight(&self, _key: &(B256, View), value: &Arc<str>) -> u64 {
        value.len() as u64 + 64
    }
}

/// Rendered answers by block hash (a block's content never changes under its hash), bounded by
/// bytes.
pub struct RenderCache(quick_cache::sync::Cache<(B256, View), Arc<str>, Weigh>);

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCache").field("entries", &self.0.len()).field("bytes", &self.0.weight()).finish()
    }
}

impl RenderCache {
    /// A cache of at most `bytes` of answers.
    pub fn new(bytes: u64) -> Self {
        // quick_cache wants an estimate of the entry count; a full block is tens of kilobytes.
        let estimate = usize::try_from((bytes / 16_384).max(16)).unwrap_or(usize::MAX);
        Self(quick_cache::sync::Cache::with_weighter(estimate, bytes.max(1), Weigh))
    }

    fn get(&self, hash: B256, view: View) -> Option<Arc<str>> {
        let found = self.0.get(&(hash, view));
        metrics::counter!("hypasis_rpc_render_cache_total", "result" => if found.is_some() { "hit" } else { "miss" }).increment(1);
        found
    }

    fn put(&self, hash: B256, view: View, json: Arc<str>) {
        self.0.insert((hash, view), json);
    }
}

/// Looks blocks up for the methods.
#[derive(Debug)]
pub struct Blocks {
    /// The chain served.
    pub spec: ChainSpec,
    /// The verified cache.
    pub store: Arc<dyn BlockStore>,
    /// Fills misses, when upstreams are configured.
    pub read_through: Option<Arc<ReadThrough>>,
    /// Finality and sync state.
    pub view: Arc<dyn ChainView>,
    /// Rendered answers.
    pub cache: RenderCache,
}

fn store_error(e: hypasis_store::StoreError) -> RpcError {
    RpcError::server(format!("block cache unavailable: {e}"))
}

impl Blocks {
    /// The served head's number.
    ///
    /// # Errors
    /// `-32000` when the store fails or holds nothing yet.
    pub async fn head(&self) -> Result<u64, RpcError> {
        let head = self.store.head().await.map_err(store_error)?;
        head.map(|h| h.number).ok_or_else(|| RpcError::server("no blocks served yet"))
    }

    /// The number a tag names.
    ///
    /// # Errors
    /// `-32000` when `safe` or `finalized` is not known, or the store fails.
    pub async fn number(&self, tag: BlockTag) -> Result<u64, RpcError> {
        match tag {
            BlockTag::Number(n) => Ok(n),
            BlockTag::Earliest => Ok(0),
            BlockTag::Latest => self.head().await,
            BlockTag::Safe => self.view.safe().ok_or_else(|| RpcError::server("safe block not found")),
            BlockTag::Finalized => self.view.finalized().ok_or_else(|| RpcError::server("finalized block not found")),
        }
    }

    /// The block `block` names, with `parts`; `None` when there is no such block (yet).
    ///
    /// # Errors
    /// `-32000` when the store fails, or the block cannot be fetched or verified.
    pub async fn find(&self, block: BlockRef, parts: Parts) -> Result<Option<StoredBlock>, RpcError> {
        match block {
            BlockRef::Hash(hash) => Ok(self.store.by_hashes(&[hash], parts).await.map_err(store_error)?.into_iter().next().flatten()),
            BlockRef::Number(tag) => {
                let number = self.number(tag).await?;
                self.by_number(number, parts).await
            }
        }
    }

    /// Block `number`, read through to the upstreams on a miss.
    ///
    /// # Errors
    /// As [`Blocks::find`].
    pub async fn by_number(&self, number: u64, parts: Parts) -> Result<Option<StoredBlock>, RpcError> {
        if let Some(found) = self.store.by_numbers(&[number], parts).await.map_err(store_error)?.into_iter().next().flatten() {
            return Ok(Some(found));
        }
        let Some(read_through) = &self.read_through else { return Ok(None) };
        if !read_through.fill(number).await.map_err(|e| RpcError::server(e.to_string()))? {
            return Ok(None);
        }
        Ok(self.store.by_numbers(&[number], parts).await.map_err(store_error)?.into_iter().next().flatten())
    }

    /// The header of `block` (cheap: to find the hash under which answers are cached).
    ///
    /// # Errors
    /// As [`Blocks::find`].
    pub async fn header(&self, block: BlockRef) -> Result<Option<SealedHeader>, RpcError> {
        Ok(self.find(block, Parts::HEADER).await?.map(|b| b.header))
    }

    /// The rendered `view` of `block`: from the cache, else built from the store and cached.
    ///
    /// # Errors
    /// As [`Blocks::find`]; `-32000` when a stored block is corrupt.
    pub async fn rendered(&self, block: BlockRef, view: View) -> Result<Option<Arc<str>>, RpcError> {
        let hash = match block {
            BlockRef::Hash(hash) => hash,
            BlockRef::Number(_) => match self.header(block).await? {
                Some(header) => header.hash(),
                None => return Ok(None),
            },
        };
        if let Some(json) = self.cache.get(hash, view) {
            return Ok(Some(json));
        }
        let parts = if view == View::Header { Parts::HEADER } else { Parts::ALL };
        let Some(stored) = self.find(BlockRef::Hash(hash), parts).await? else { return Ok(None) };
        let json = self.render(&stored, view)?;
        let json: Arc<str> = Arc::from(json.to_string());
        // A block stored without receipts may get them (and its state-sync receipt) later: its
        // answer is not kept.
        if view == View::Header || stored.receipts.is_some() {
            self.cache.put(hash, view, json.clone());
        }
        Ok(Some(json))
    }

    /// Builds the JSON of `view` of `stored` (read with [`Parts::ALL`] unless a header).
    ///
    /// # Errors
    /// `-32000` when the block is corrupt or its receipts are not known.
    pub fn render(&self, stored: &StoredBlock, view: View) -> Result<serde_json::Value, RpcError> {
        if view == View::Header {
            return Ok(serde_json::Value::Object(render::header_json(&stored.header, Some(stored.total_difficulty))));
        }
        let body = stored.body.as_deref().ok_or_else(|| RpcError::server("block body missing from the cache"))?;
        let txs = if view == View::BlockHashes {
            // Hashes only: nothing to decode.
            body.transactions.iter().map(|raw| Decoded { tx: None, hash: raw.hash(), from: alloy_primitives::Address::ZERO }).collect()
        } else {
            render::decode_transactions(&body.transactions).map_err(|e| RpcError::server(format!("corrupt cached block: {e}")))?
        };
        let block = self.block_json(stored, body, &txs);
        Ok(match view {
            View::BlockHashes => render::block_json(&block, false),
            View::BlockFull => render::block_json(&block, true),
            View::Receipts | View::Header => {
                let receipts = stored
                    .receipts
                    .as_deref()
                    .ok_or_else(|| RpcError::server(format!("receipts of block {} are not known", stored.header.number())))?;
                let pseudo = block.state_sync_hash().zip(block.state_sync);
                let list = render::receipts_json(receipts, &txs, &block.in_block(), pseudo)
                    .map_err(|e| RpcError::server(format!("corrupt cached block {}: {e}", stored.header.number())))?;
                serde_json::Value::Array(list)
            }
        })
    }

    /// The parts of a block's JSON, with the state-sync pseudo transaction shown only before
    /// Madhugiri (from then on it is a real transaction of the body).
    pub fn block_json<'a>(&self, stored: &'a StoredBlock, body: &'a hypasis_chain::BlockBody, txs: &'a [Decoded]) -> BlockJson<'a> {
        let number = stored.header.number();
        let before_madhugiri = self.spec.bor.as_ref().is_some_and(|bor| bor.madhugiri_block.is_none_or(|m| number < m));
        BlockJson {
            header: &stored.header,
            total_difficulty: stored.total_difficulty,
            body,
            txs,
            state_sync: stored.state_sync_receipt.as_deref().filter(|_| before_madhugiri),
        }
    }
}
