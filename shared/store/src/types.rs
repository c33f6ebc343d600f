//! The store trait and the values it deals in.

use crate::RangeSet;
use alloy_primitives::{B256, U256};
use hypasis_chain::{Block, BlockBody, Receipt, SealedHeader};
use std::{fmt, sync::Arc};

/// Which parts of a block a read wants. Headers and total difficulty always come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts {
    /// Return the body.
    pub body: bool,
    /// Return the receipts.
    pub receipts: bool,
}

impl Parts {
    /// Header and total difficulty only.
    pub const HEADER: Self = Self { body: false, receipts: false };
    /// Header and body.
    pub const BODY: Self = Self { body: true, receipts: false };
    /// Header and receipts.
    pub const RECEIPTS: Self = Self { body: false, receipts: true };
    /// Everything.
    pub const ALL: Self = Self { body: true, receipts: true };
}

/// A block as read from the store, with the parts that were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// The header.
    pub header: SealedHeader,
    /// Total difficulty through this block.
    pub total_difficulty: U256,
    /// The body, when [`Parts::body`] was asked for.
    pub body: Option<Arc<BlockBody>>,
    /// The receipts, when [`Parts::receipts`] was asked for and they are known.
    pub receipts: Option<Arc<Vec<Receipt>>>,
    /// The state-sync receipt (Polygon, before Madhugiri), with the receipts.
    pub state_sync_receipt: Option<Arc<Receipt>>,
}

/// The head the node serves: the newest block it offers to peers and RPC clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Total difficulty.
    pub total_difficulty: U256,
    /// Block timestamp (for time-based fork ids).
    pub timestamp: u64,
}

impl ChainHead {
    /// The head describing `block`.
    pub fn of(block: &Block) -> Self {
        Self { number: block.number(), hash: block.hash(), total_difficulty: block.total_difficulty, timestamp: block.header.timestamp }
    }
}

/// What [`BlockStore::advance_head`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadUpdate {
    /// The head moved to the given one.
    Advanced,
    /// The given head was not ahead of the current one, which stays.
    Stale(ChainHead),
    /// The writer's fencing token is older than the cluster's: a newer leader exists.
    Fenced,
}

/// The span of block numbers the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRange {
    /// Lowest block number held.
    pub lowest: u64,
    /// Highest block number held.
    pub highest: u64,
    /// Number of blocks held (at most `highest - lowest + 1`; less when there are gaps).
    pub count: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing service could not be reached; the caller may retry.
    #[error("block store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded (corruption or a schema mismatch).
    #[error("corrupt entry {key}: {reason}")]
    Corrupt {
        /// Key of the bad entry.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// Whether retrying later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// The block cache. Implementations are cheap to share (`Arc<dyn BlockStore>`).
#[async_trait::async_trait]
pub trait BlockStore: Send + Sync + fmt::Debug + 'static {
    /// Stores verified blocks. A block at a number already held replaces it (a reorg), and the
    /// replaced block can no longer be found by its hash.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails; no block of the batch is then guaranteed stored.
    async fn insert(&self, blocks: Vec<Block>) -> Result<(), StoreError>;

    /// Reads blocks by number, one answer per number (`None` when not held), in one round trip.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn by_numbers(&self, numbers: &[u64], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError>;

    /// Reads blocks by hash, one answer per hash, in one round trip.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn by_hashes(&self, hashes: &[B256], parts: Parts) -> Result<Vec<Option<StoredBlock>>, StoreError>;

    /// The served head, if one was set.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn head(&self) -> Result<Option<ChainHead>, StoreError>;

    /// Moves the served head forward. A head with a lower number than the current one, or the
    /// same number and no more total difficulty, is refused: the head never goes backwards.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn advance_head(&self, head: ChainHead) -> Result<HeadUpdate, StoreError>;

    /// Like [`BlockStore::advance_head`], for a leader holding fencing `token`: the store refuses
    /// the write when a newer leader has been elected since ([`HeadUpdate::Fenced`]). Stores not
    /// shared between instances have no other leader and ignore the token.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn advance_head_fenced(&self, head: ChainHead, token: u64) -> Result<HeadUpdate, StoreError> {
        let _ = token;
        self.advance_head(head).await
    }

    /// The ranges of block numbers held (the gap tracker): every number in them has its header,
    /// body and total difficulty stored. Updated atomically with each insert, so concurrent
    /// writers never lose a range.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn held(&self) -> Result<RangeSet, StoreError>;

    /// Drops the blocks `start..=end` (a range that failed verification) and their range.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn remove_range(&self, start: u64, end: u64) -> Result<(), StoreError>;

    /// The span of blocks held, or `None` when empty.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn range(&self) -> Result<Option<StoredRange>, StoreError> {
        let held = self.held().await?;
        Ok(held.lowest().zip(held.highest()).map(|(lowest, highest)| StoredRange { lowest, highest, count: held.count() }))
    }

    /// Reads `count` blocks starting at `start`, stepping `skip + 1` numbers at a time, downwards
    /// when `reverse` (the shape of eth `GetBlockHeaders`). Numbers below 0 are not read. One
    /// round trip.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    async fn by_range(
        &self,
        start: u64,
        count: u64,
        skip: u64,
        reverse: bool,
        parts: Parts,
    ) -> Result<Vec<Option<StoredBlock>>, StoreError> {
        let numbers = range_numbers(start, count, skip, reverse);
        self.by_numbers(&numbers, parts).await
    }
}

/// The block numbers of a `GetBlockHeaders`-shaped request, stopping at 0 and at `u64::MAX`.
pub(crate) fn range_numbers(start: u64, count: u64, skip: u64, reverse: bool) -> Vec<u64> {
    let step = skip.saturating_add(1);
    let mut numbers = Vec::with_capacity(count.min(4096) as usize);
    let mut n = Some(start);
    while let Some(current) = n {
        if numbers.len() as u64 >= count {
            break;
        }
        numbers.push(current);
        n = if reverse { current.checked_sub(step) } else { current.checked_add(step) };
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::range_numbers;

    #[test]
    fn range_shapes() {
        assert_eq!(range_numbers(5, 3, 0, false), vec![5, 6, 7]);
        assert_eq!(range_numbers(5, 3, 1, true), vec![5, 3, 1]);
        assert_eq!(range_numbers(2, 10, 0, true), vec![2, 1, 0]);
        assert_eq!(range_numbers(u64::MAX - 1, 5, 0, false), vec![u64::MAX - 1, u64::MAX]);
        assert_eq!(range_numbers(1, 0, 0, false), Vec::<u64>::new());
        assert_eq!(range_numbers(0, u64::MAX, u64::MAX, false), vec![0, u64::MAX]);
    }
}
