//! What the server serves: the chain, how it grows, and the lies it tells.

use hypasis_devnet::DevnetConfig;
use std::{
    fmt,
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    num::NonZeroU32,
    str::FromStr,
};

/// Bor's `--rpc.batchlimit` default: a batch of more requests is refused as a whole.
pub const BOR_BATCH_LIMIT: usize = 100;

/// How the server limits clients, as a real node or provider does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcLimits {
    /// Most requests in one batch; a larger batch is answered, as Bor answers it, with one error
    /// object (`{"id": null, "error": {"code": -32000, "message": "batch limit 100 exceeded:
    /// 150 requests given"}}`). 0: no limit.
    pub batch_limit: usize,
    /// Most result bytes in one batch's answers (go-ethereum's `--rpc.batch-response-max-size`;
    /// Bor v1.5.5 sets none): once past it, every call not answered yet gets -32003 "response
    /// too large", as go-ethereum does. 0: no limit.
    pub batch_response_max_size: usize,
    /// HTTP requests per second before `429 Too Many Requests` with `Retry-After`, like a
    /// provider's rate limit. `None`: no limit.
    pub requests_per_second: Option<NonZeroU32>,
}

impl RpcLimits {
    /// Bor v1.5.5 at its defaults: batches of at most 100, no response-size cap, no rate limit.
    pub const BOR: Self = Self { batch_limit: BOR_BATCH_LIMIT, batch_response_max_size: 0, requests_per_second: None };
}

impl Default for RpcLimits {
    /// [`RpcLimits::BOR`].
    fn default() -> Self {
        Self::BOR
    }
}

/// Blocks per devnet checkpoint unless configured otherwise (Heimdall's checkpoints on mainnet
/// are of this order).
pub const DEFAULT_CHECKPOINT_INTERVAL: u64 = 256;

/// Blocks per milestone unless configured.
pub const DEFAULT_MILESTONE_INTERVAL: u64 = 16;

/// Address the `hypasis-devnet-rpc` binary listens on unless told otherwise (the usual
/// JSON-RPC port plus one, so it does not collide with a local Bor node).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8546));

/// Configuration of a [`DevnetRpc`](crate::DevnetRpc) server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetRpcConfig {
    /// The chain to serve; `devnet.block_time` is also the production period.
    pub devnet: DevnetConfig,
    /// Blocks generated before the server answers its first request.
    pub prefill: u64,
    /// Whether a new block is appended every `devnet.block_time` seconds.
    pub produce: bool,
    /// Whether the `debug_getRaw*` methods are served; when `false` they answer -32601, like a
    /// node that does not expose the `debug` namespace.
    pub raw_methods: bool,
    /// Whether `eth_getTdByNumber` and `eth_getTdByHash` are served (go-ethereum had them; Bor
    /// has not, and answers -32601). Total difficulty is in block JSON either way.
    pub td_methods: bool,
    /// Batch, response-size and rate limits.
    pub limits: RpcLimits,
    /// The lie told about blocks from `lie_from` on.
    pub lie: Lie,
    /// First block the lie applies to.
    pub lie_from: u64,
    /// Blocks per checkpoint on the fake RootChain contract.
    pub checkpoint_interval: u64,
    /// Blocks per milestone on the fake Heimdall REST API (`GET /milestones/latest`).
    pub milestone_interval: u64,
    /// Whether the fake Heimdall's milestones name a wrong hash (a milestone that conflicts
    /// with the chain served).
    pub wrong_milestone: bool,
    /// Address to listen on; port 0 picks a free one (see [`DevnetRpc::url`](crate::DevnetRpc::url)).
    pub listen: SocketAddr,
}

impl Default for DevnetRpcConfig {
    /// The default devnet, no blocks beyond genesis, no production, raw methods on, Bor's
    /// methods and limits (no `eth_getTdByNumber`, batches of at most 100), honest, listening on
    /// a free loopback port.
    fn default() -> Self {
        Self {
            devnet: DevnetConfig::default(),
            prefill: 0,
            produce: false,
            raw_methods: true,
            td_methods: false,
            limits: RpcLimits::BOR,
            lie: Lie::None,
            lie_from: 0,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            milestone_interval: DEFAULT_MILESTONE_INTERVAL,
            wrong_milestone: false,
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

/// A configuration the server cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Checkpoints must cover at least one block.
    #[error("the checkpoint interval must be at least 1 block; set --checkpoint-interval")]
    ZeroCheckpointInterval,
    /// Producing blocks needs a period.
    #[error("producing blocks needs a block time of at least 1 s; set --block-time or --no-produce")]
    ZeroBlockTime,
}

impl DevnetRpcConfig {
    /// Every problem with this configuration, empty when it can run.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.checkpoint_interval == 0 {
            problems.push(ConfigError::ZeroCheckpointInterval);
        }
        if self.produce && self.devnet.block_time == 0 {
            problems.push(ConfigError::ZeroBlockTime);
        }
        problems
    }
}

/// How a dishonest upstream lies about blocks from `lie_from` on. Total difficulties are never
/// changed, and the fake RootChain keeps publishing the honest chain's checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lie {
    /// Every answer is the devnet's chain.
    #[default]
    None,
    /// Bodies that the header's `transactionsRoot` does not commit to (header unchanged): the last
    /// transaction is replaced by the last transaction of the previous block; an empty block gets
    /// that transaction added; block 1 loses its last transaction.
    WrongTx,
    /// A fabricated chain: the header of block `lie_from` gets a made-up `parentHash` (so its hash
    /// changes and its seal no longer verifies) and each later header points at the fabricated
    /// previous one, so the served chain is linked from `lie_from` on but not to `lie_from - 1`.
    WrongParent,
    /// Receipts 0 and 1 swapped in blocks with at least two receipts.
    ReorderedReceipts,
    /// Headers re-sealed by a key outside the validator set (each later header re-linked to the
    /// one served before it, so the served chain stays linked).
    ForeignSeal,
    /// Headers with a difficulty one below the signer's turn (at least 1), re-sealed by their
    /// true signer and re-linked.
    WrongDifficulty,
    /// Sprint-end headers listing the validator set with one power changed, re-sealed by their
    /// true signer; later headers re-linked and re-sealed by theirs.
    AlteredValidators,
}

impl Lie {
    /// The command-line spelling of each lie.
    pub const NAMES: [&'static str; 7] =
        ["none", "wrong-tx", "wrong-parent", "reordered-receipts", "foreign-seal", "wrong-difficulty", "altered-validators"];

    /// Every lie, in [`Lie::NAMES`] order.
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::WrongTx,
        Self::WrongParent,
        Self::ReorderedReceipts,
        Self::ForeignSeal,
        Self::WrongDifficulty,
        Self::AlteredValidators,
    ];

    /// The command-line spelling of this lie.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => Self::NAMES[0],
            Self::WrongTx => Self::NAMES[1],
            Self::WrongParent => Self::NAMES[2],
            Self::ReorderedReceipts => Self::NAMES[3],
            Self::ForeignSeal => Self::NAMES[4],
            Self::WrongDifficulty => Self::NAMES[5],
            Self::AlteredValidators => Self::NAMES[6],
        }
    }
}

impl fmt::Display for Lie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A lie name that is not one of [`Lie::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown lie {0:?}; choose one of none, wrong-tx, wrong-parent, reordered-receipts, foreign-seal, wrong-difficulty, altered-validators"
)]
pub struct UnknownLie(pub String);

impl FromStr for Lie {
    type Err = UnknownLie;

    fn from_str(s: &str) -> Result<Self, UnknownLie> {
        Self::ALL.into_iter().find(|lie| lie.name() == s).ok_or_else(|| UnknownLie(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lie_names_round_trip() {
        for name in Lie::NAMES {
            assert_eq!(name.parse::<Lie>().unwrap().to_string(), name);
        }
        assert!("honest".parse::<Lie>().is_err());
    }

    #[test]
    fn problems_are_all_reported() {
        assert!(DevnetRpcConfig::default().problems().is_empty());
        let mut config = DevnetRpcConfig { produce: true, checkpoint_interval: 0, ..Default::default() };
        config.devnet.block_time = 0;
        assert_eq!(config.problems(), vec![ConfigError::ZeroCheckpointInterval, ConfigError::ZeroBlockTime]);
    }
}
