//! Upstream Polygon JSON-RPC endpoints, and verified blocks fetched from them.
//!
//! Upstreams can be slow, down or wrong, so nothing they say is trusted:
//!
//! - [`endpoint`]: one endpoint: latency and error statistics, circuit breaker, rate budget
//!   (governor), ban, the methods it has and the batch size it takes.
//! - [`calls`]: requests and batches on one endpoint, cut to the sizes it takes and slowed down
//!   when it says so (HTTP 429, `Retry-After`, -32005), never failed for either.
//! - [`transport`]: JSON-RPC over HTTP (reqwest), answers parsed with alloy's packet types.
//! - [`pool`]: several endpoints ordered by score (latency, errors, wrong data); calls fail over,
//!   retry with backoff and are hedged to the next endpoint when the first is slow.
//! - [`fetch`]: blocks by number, preferring the raw consensus encodings (`debug_getRawBlock`,
//!   `debug_getRawReceipts`) and falling back to `eth_getBlockByNumber` + `eth_getBlockReceipts`
//!   JSON; total difficulty from the block JSON's `totalDifficulty` (Bor), else
//!   `eth_getTdByNumber`, added up along the batch; every block is checked against its roots
//!   and the batch's hash links before it is returned, and an endpoint caught lying is banned.
//! - [`heimdall`]: Heimdall REST (latest milestone and checkpoint, v1 and v2 shapes).
//! - [`error`]: what can go wrong, and whose fault it is.

pub mod calls;
pub mod endpoint;
pub mod error;
pub mod fetch;
pub mod heimdall;
pub mod pool;
pub mod transport;

pub use endpoint::{Capability, Endpoint, EndpointStatus};
pub use error::{ClientError, UpstreamError};
pub use fetch::{BlockFetcher, Fetched};
pub use heimdall::{Heimdall, HeimdallCheckpoint, Milestone, Span};
pub use pool::{DEFAULT_MAX_BATCH, DEFAULT_REQUESTS_PER_SECOND, PoolConfig, UpstreamPool};
