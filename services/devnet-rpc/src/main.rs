//! `hypasis-devnet-rpc`: the built-in devnet served as a JSON-RPC upstream over HTTP, for sync
//! tests and local runs (see `hypasis_fake_upstream` for the methods, checkpoints and lies).
//!
//! Start-up order: command line and config (every error at once, exit 64 before any port is
//! bound) → tracing → prefill and serve → print the URL on stdout → wait for SIGINT/SIGTERM →
//! stop, letting open requests finish.

use clap::Parser;
use hypasis_devnet::DevnetConfig;
use hypasis_fake_upstream::{
    BOR_BATCH_LIMIT, DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_LISTEN, DEFAULT_MILESTONE_INTERVAL, DevnetRpc, DevnetRpcConfig, Lie, RpcLimits,
};
use std::{io::Write, net::SocketAddr, num::NonZeroU32, process::ExitCode};

/// Exit code for a bad command line or config (`EX_USAGE`).
const EXIT_CONFIG: u8 = 64;
/// Exit code for a failure after start-up began.
const EXIT_RUNTIME: u8 = 1;

/// Serves a deterministic Polygon-shaped devnet over JSON-RPC.
#[derive(Debug, Parser)]
#[command(name = "hypasis-devnet-rpc", version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the URL is printed on start).
    #[arg(long, default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Seed every key and block is derived from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// EIP-155 chain id (default: the devnet's, 1337).
    #[arg(long)]
    chain_id: Option<u64>,
    /// Seconds between blocks (timestamps and production).
    #[arg(long, default_value_t = 1)]
    block_time: u64,
    /// Transactions per block shaped like Polygon mainnet's (0-300; 150 makes ~115 KB bodies);
    /// 0: the devnet's small blocks of 2-5 transfers.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=hypasis_devnet::mainnet_shape::MAX_TXS_PER_BLOCK as u64))]
    txs_per_block: u64,
    /// Blocks generated before serving.
    #[arg(long, default_value_t = 1000)]
    prefill: u64,
    /// Do not produce new blocks; serve the prefilled chain only.
    #[arg(long)]
    no_produce: bool,
    /// Answer the debug_getRaw* methods with "method not found".
    #[arg(long)]
    no_raw: bool,
    /// Lie about blocks from --lie-from on: none, wrong-tx, wrong-parent or reordered-receipts.
    #[arg(long, default_value_t = Lie::None)]
    lie: Lie,
    /// First block the lie applies to.
    #[arg(long, default_value_t = 0)]
    lie_from: u64,
    /// Blocks per checkpoint on the fake RootChain contract.
    #[arg(long, default_value_t = DEFAULT_CHECKPOINT_INTERVAL)]
    checkpoint_interval: u64,
    /// Blocks per milestone on the fake Heimdall REST API (GET /milestones/latest).
    #[arg(long, default_value_t = DEFAULT_MILESTONE_INTERVAL)]
    milestone_interval: u64,
    /// Make the fake Heimdall's milestones name a wrong hash.
    #[arg(long)]
    wrong_milestone: bool,
    /// Most requests in one batch; a larger one is refused as Bor refuses it (Bor's
    /// --rpc.batchlimit). 0: no limit.
    #[arg(long, default_value_t = BOR_BATCH_LIMIT)]
    batch_limit: usize,
    /// Most result bytes in one batch's answers; past it, -32003 "response too large" for the
    /// rest (go-ethereum's --rpc.batch-response-max-size). 0: no limit (Bor v1.5.5).
    #[arg(long, default_value_t = 0)]
    batch_response_max_size: usize,
    /// HTTP requests per second before 429 Too Many Requests with Retry-After. 0: no limit.
    #[arg(long, default_value_t = 0)]
    rate_limit: u32,
    /// Serve eth_getTdByNumber and eth_getTdByHash (go-ethereum had them; Bor has not).
    #[arg(long)]
    td_methods: bool,
}

impl Cli {
    fn config(&self) -> DevnetRpcConfig {
        let defaults = DevnetConfig::default();
        DevnetRpcConfig {
            devnet: DevnetConfig {
                seed: self.seed,
                chain_id: self.chain_id.unwrap_or(defaults.chain_id),
                block_time: self.block_time,
                txs_per_block: self.txs_per_block as usize,
                ..defaults
            },
            prefill: self.prefill,
            produce: !self.no_produce,
            raw_methods: !self.no_raw,
            td_methods: self.td_methods,
            limits: RpcLimits {
                batch_limit: self.batch_limit,
                batch_response_max_size: self.batch_response_max_size,
                requests_per_second: NonZeroU32::new(self.rate_limit),
            },
            lie: self.lie,
            lie_from: self.lie_from,
            checkpoint_interval: self.checkpoint_interval,
            milestone_interval: self.milestone_interval,
            wrong_milestone: self.wrong_milestone,
            listen: self.listen,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EXIT_CONFIG) } else { ExitCode::SUCCESS };
        }
    };
    let config = cli.config();
    let problems = config.problems();
    if !problems.is_empty() {
        for problem in problems {
            eprintln!("config error: {problem}");
        }
        return ExitCode::from(EXIT_CONFIG);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(async {
        let server = match DevnetRpc::spawn(config).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "{}", server.url()).and_then(|()| stdout.flush());
        shutdown_signal().await;
        server.stop().await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
