//! Devnet parameters.

/// Parameters of a devnet. Equal configs give identical chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetConfig {
    /// Seed every key and value is derived from.
    pub seed: u64,
    /// EIP-155 chain id (and network id).
    pub chain_id: u64,
    /// Seconds between block timestamps.
    pub block_time: u64,
    /// Genesis timestamp; block `n` has timestamp `genesis_timestamp + n * block_time`.
    pub genesis_timestamp: u64,
    /// Number of validators (block producers).
    pub validators: usize,
    /// Number of funded accounts sending transactions.
    pub accounts: usize,
    /// Bor sprint length.
    pub sprint: u64,
    /// First block with the post-Cancun extra-data layout.
    pub cancun_block: u64,
    /// Transactions per block shaped like Polygon mainnet's (contract calls with ABI calldata
    /// and logs, see [`crate::mainnet_shape`]); 0 keeps the devnet's small blocks of 2–5 plain
    /// transfers.
    pub txs_per_block: usize,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            chain_id: 1337,
            block_time: 2,
            genesis_timestamp: 1_700_000_000,
            validators: 3,
            accounts: 8,
            sprint: 16,
            cancun_block: 64,
            txs_per_block: 0,
        }
    }
}
