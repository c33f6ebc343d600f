//! Test tooling: the devnet as a JSON-RPC upstream, an HTTP [JSON-RPC 2.0] server over an
//! in-memory devnet chain, for sync tests over a real socket (and the `hypasis-devnet-rpc`
//! binary). It behaves like Bor, limits included, and can also play Ethereum L1 (a fake
//! RootChain contract) and Heimdall. The node never links this crate.
//!
//! [`DevnetRpc::spawn`] generates `prefill` blocks, binds the listen address and serves; with
//! `produce` a new block is appended every `block_time` seconds. The handle counts calls per
//! method and fetches per block, so tests can check what a client asked for, and the server can
//! be told to lie ([`Lie`]) about blocks from some number on, to test clients against a
//! dishonest upstream, to hang ([`DevnetRpc::set_stall`]) or to replace its tip by another
//! branch ([`DevnetRpc::reorg_from`]), as real upstreams sometimes do.
//!
//! Methods (a block parameter is a hex number or `earliest`/`latest`/`pending`/`safe`/
//! `finalized`; a block the chain lacks answers `null`):
//!
//! | method | answer |
//! | --- | --- |
//! | `eth_chainId`, `net_version`, `eth_blockNumber`, `web3_clientVersion` | as in geth |
//! | `eth_getBlockByNumber(n, full)`, `eth_getBlockByHash(h, full)` | block JSON with `totalDifficulty` and `size`; full transaction objects or hashes |
//! | `eth_getBlockReceipts(n or h)` | receipts JSON (logs with indices, `from`, `to`, gas, `effectiveGasPrice`) |
//! | `eth_getTdByNumber(n)`, `eth_getTdByHash(h)` | total difficulty (only with `td_methods`: Bor has neither) |
//! | `debug_getRawHeader(n)` | RLP of the header |
//! | `debug_getRawBlock(n)` | RLP of `[header, transactions, ommers(, withdrawals)]` |
//! | `debug_getRawReceipts(n)` | EIP-2718 (consensus) encoding of each receipt |
//! | `eth_getBorBlockReceipt(h)` | the block's state-sync receipt; -32000 "not found" when it has none (as Bor) |
//! | `eth_call({to, data}, tag)` | the fake RootChain contract at [`ROOTCHAIN_ADDRESS`] ([`rootchain`]); other addresses answer `0x` |
//!
//! With `raw_methods` off the `debug_*` methods answer -32601 like any unknown method; bad
//! parameters answer -32602 and a body that is not JSON -32700. Batches (JSON arrays) are
//! answered element by element, each element counting as a call.
//!
//! Limits ([`RpcLimits`], Bor's by default) are enforced as the real servers do: a batch over
//! the batch limit is refused with one error object (Bor), results past the response-size cap
//! are replaced by -32003 "response too large" (go-ethereum), and requests over the rate limit
//! get `429 Too Many Requests` with `Retry-After` (providers). [`DevnetRpc::throttled`] counts
//! the 429s, [`DevnetRpc::refused_batches`] the refused batches.
//!
//! A fetch of block `n`, counted by [`DevnetRpc::block_fetches`], is a call answered with that
//! block by `eth_getBlockByNumber` or `eth_getBlockByHash` with full transactions,
//! `eth_getBlockReceipts`, `debug_getRawHeader`, `debug_getRawBlock` or `debug_getRawReceipts`
//! (block JSON with transaction hashes only is a header read, not a fetch).
//!
//! Files: `config` (the knobs and the lies), `state` (chain, checkpoints, counters), `lies`
//! (the served view), `producer` (the devnet behind the chain, and reorgs), `server` (HTTP and the JSON-RPC envelope), `methods` (dispatch), `json`
//! (block and receipt JSON), [`rootchain`] (the fake L1 contract).
//!
//! [JSON-RPC 2.0]: https://www.jsonrpc.org/specification

mod config;
mod error;
mod heimdall;
mod json;
mod lies;
mod methods;
mod producer;
pub mod rootchain;
mod server;
mod state;

pub use config::{
    BOR_BATCH_LIMIT, ConfigError, DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_LISTEN, DEFAULT_MILESTONE_INTERVAL, DevnetRpcConfig, Lie, RpcLimits,
    UnknownLie,
};
pub use producer::{MAX_REORG_DEPTH, ReorgError};
pub use rootchain::ROOTCHAIN_ADDRESS;

use hypasis_devnet::Devnet;
use parking_lot::{Mutex, RwLock};
use producer::Producer;
use state::{Chain, Counters, Shared};
use std::{
    fmt, io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tracing::Instrument;

/// How long [`DevnetRpc::stop`] waits for open requests before it aborts the server.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running devnet JSON-RPC server. Dropping it stops the server and block production
/// (without waiting; [`DevnetRpc::stop`] waits).
pub struct DevnetRpc {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    producer: Option<JoinHandle<()>>,
}

impl DevnetRpc {
    /// Binds `config.listen`, generates `config.prefill` blocks (on the blocking pool) and starts
    /// serving, plus producing blocks when `config.produce`. Must be called within a tokio
    /// runtime.
    ///
    /// # Errors
    /// `InvalidInput` for a config with [problems](DevnetRpcConfig::problems), or the error
    /// binding the listen address.
    pub async fn spawn(config: DevnetRpcConfig) -> io::Result<Self> {
        if let Some(problem) = config.problems().into_iter().next() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, problem));
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}; choose another address", config.listen)))?;
        let addr = listener.local_addr()?;
        let prefill_config = config.clone();
        let (producer, chain) = tokio::task::spawn_blocking(move || prefill(&prefill_config)).await.map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            chain: RwLock::new(chain),
            counters: Counters::default(),
            chain_id: config.devnet.chain_id,
            raw_methods: config.raw_methods,
            td_methods: config.td_methods,
            limits: RwLock::new(state::Limits::new(config.limits)),
            milestone_interval: config.milestone_interval.max(1),
            wrong_milestone: config.wrong_milestone,
            validators: producer.validator_addresses(),
            producer: Mutex::new(producer),
            stall_ms: std::sync::atomic::AtomicU64::new(0),
        });
        let span = tracing::info_span!(target: "devnet::rpc", "devnet_rpc", %addr);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serve = axum::serve(listener, server::router(Arc::clone(&shared))).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let server = tokio::spawn(
            async move {
                if let Err(e) = serve.await {
                    tracing::error!(target: "devnet::rpc", error = %e, "server failed");
                }
            }
            .instrument(span.clone()),
        );
        let producer = config.produce.then(|| {
            let period = Duration::from_secs(config.devnet.block_time);
            tokio::spawn(produce(Arc::clone(&shared), period).instrument(span))
        });
        let head = shared.chain.read().head();
        tracing::info!(target: "devnet::rpc", %addr, head, produce = config.produce, lie = %config.lie, lie_from = config.lie_from, "devnet JSON-RPC serving");
        Ok(Self { shared, addr, shutdown: Some(shutdown), server: Some(server), producer })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's URL, `http://127.0.0.1:port` (an unspecified listen address is given as
    /// loopback).
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The latest block number.
    pub fn head(&self) -> u64 {
        self.shared.chain.read().head()
    }

    /// Calls to `method` so far (each batch element counts; unknown methods count too).
    pub fn calls(&self, method: &str) -> u64 {
        self.shared.counters.calls(method)
    }

    /// Calls answered with block `number` so far (see the [module docs](self) for which
    /// methods count).
    pub fn block_fetches(&self, number: u64) -> u64 {
        self.shared.counters.fetches(number)
    }

    /// All calls so far.
    pub fn total_calls(&self) -> u64 {
        self.shared.counters.total()
    }

    /// Enforces `limits` from the next request on.
    pub fn set_limits(&self, limits: RpcLimits) {
        *self.shared.limits.write() = state::Limits::new(limits);
    }

    /// HTTP requests answered `429 Too Many Requests` so far.
    pub fn throttled(&self) -> u64 {
        self.shared.counters.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Batches refused as a whole (over the batch limit) so far.
    pub fn refused_batches(&self) -> u64 {
        self.shared.counters.refused_batches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every HTTP request from now on waits `stall` before it is answered (`None`: answered at
    /// once again), as a provider that hangs: a client with a shorter timeout sees it time out.
    pub fn set_stall(&self, stall: Option<Duration>) {
        let ms = stall.map_or(0, |s| u64::try_from(s.as_millis()).unwrap_or(u64::MAX).max(1));
        self.shared.stall_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Replaces blocks `fork..=head` by as many blocks of devnet branch `branch` (see
    /// [`Devnet::set_branch`]), sealed as validly as the devnet's own; the blocks produced after
    /// follow the branch. Two servers of the same devnet told the same fork and branch serve the
    /// same chain again. Returns how many blocks were replaced.
    ///
    /// # Errors
    /// A fork above the head, more than [`MAX_REORG_DEPTH`] blocks deep, or at a block a
    /// published checkpoint or the latest milestone covers.
    pub fn reorg_from(&self, fork: u64, branch: u64) -> Result<u64, ReorgError> {
        let mut producer = self.shared.producer.lock();
        let mut chain = self.shared.chain.write();
        let final_block = chain.checkpointed().max(heimdall::milestone_end(chain.head(), self.shared.milestone_interval));
        let replaced = producer.reorg_from(&mut chain, fork, branch, final_block)?;
        tracing::info!(target: "devnet::rpc", fork, branch, replaced, head = chain.head(), "tip reorganised");
        Ok(replaced)
    }

    /// Stops production and the server: no new connections are accepted, idle connections are
    /// closed, and open requests get up to [`STOP_GRACE`] to finish.
    pub async fn stop(mut self) {
        self.signal_stop();
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(STOP_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
    }

    fn signal_stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(producer) = self.producer.take() {
            producer.abort();
        }
    }
}

impl Drop for DevnetRpc {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

impl fmt::Debug for DevnetRpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevnetRpc").field("addr", &self.addr).field("head", &self.head()).finish_non_exhaustive()
    }
}

/// The devnet and the chain after `config.prefill` blocks (the states of the last
/// [`MAX_REORG_DEPTH`] kept, so a reorg can start at once).
fn prefill(config: &DevnetRpcConfig) -> (Producer, Chain) {
    let mut devnet = Devnet::new(config.devnet.clone());
    let proposer = devnet.validator_addresses()[0];
    let liar = lies::Liar::new(config.lie, config.lie_from, lies::Sealers::of(&devnet));
    let mut chain = Chain::new(devnet.tip().clone(), liar, config.checkpoint_interval, proposer);
    let unkept = config.prefill.saturating_sub(MAX_REORG_DEPTH);
    for _ in 0..unkept {
        chain.push(devnet.next_block());
    }
    let mut producer = Producer::new(devnet);
    for _ in unkept..config.prefill {
        chain.push(producer.next_block());
    }
    (producer, chain)
}

/// Appends a block every `period`, forever.
async fn produce(shared: Arc<Shared>, period: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut producer = shared.producer.lock();
        let block = producer.next_block();
        let number = block.number();
        shared.chain.write().push(block);
        drop(producer);
        tracing::debug!(target: "devnet::rpc", number, "block produced");
    }
}
