//! `hypasis-snap-load`: clients that download the whole account range of the state at our
//! node's head over snap/1, as a snap-syncing node's first phase does: pages of `--bytes`, each
//! checked against the root by its Merkle proof before the next is asked for. Clients are spread
//! over the comma-separated `--enode`s (client i on enode i mod n). An empty answer without a
//! proof (no backend had the state yet) is asked again after 200 ms. Prints one JSON line:
//! pages, accounts, bytes and seconds, per client and in total.

use alloy_primitives::{B256, B512, U256};
use clap::Parser;
use hypasis_chain::{ChainSpec, genesis::GenesisDoc};
use hypasis_eth_wire::eth::status::Status;
use hypasis_snap::{
    Message,
    backend::{BackendSession, BackendTarget},
    messages::{AccountRange, GetAccountRange},
    verify::{self, AnswerError},
};
use std::time::{Duration, Instant};

/// snap/1 account-range download load.
#[derive(Debug, Parser)]
#[command(name = "hypasis-snap-load", version, about)]
struct Args {
    /// Our node(s): enode URLs, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    enode: Vec<String>,
    /// The chain's genesis JSON (for our Status).
    #[arg(long)]
    genesis: std::path::PathBuf,
    /// Clients at once, each downloading the whole range.
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Answer size asked for per page (geth asks 512 KiB).
    #[arg(long, default_value_t = 512 * 1024)]
    bytes: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

#[derive(Debug, Default)]
struct Download {
    pages: u64,
    accounts: u64,
    bytes: u64,
    retries: u64,
    error: Option<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let status = match status(&args.genesis) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("hypasis-snap-load: {e}");
            std::process::exit(64);
        }
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let (enode, status) = (args.enode[i % args.enode.len()].clone(), status.clone());
        tasks.push(tokio::spawn(async move { download(&enode, &status, args.bytes, deadline).await }));
    }
    let mut downloads = Vec::new();
    for task in tasks {
        downloads.push(task.await.unwrap_or_else(|e| Download { error: Some(e.to_string()), ..Default::default() }));
    }
    let seconds = started.elapsed().as_secs_f64();
    let total = |f: fn(&Download) -> u64| downloads.iter().map(f).sum::<u64>();
    let errors: Vec<&String> = downloads.iter().filter_map(|d| d.error.as_ref()).collect();
    let accounts: Vec<u64> = downloads.iter().map(|d| d.accounts).collect();
    let bytes = total(|d| d.bytes);
    println!(
        "{}",
        serde_json::json!({
            "clients": args.clients,
            "instances": args.enode.len(),
            "pages": total(|d| d.pages),
            "accounts_per_client": accounts,
            "bytes": bytes,
            "retries": total(|d| d.retries),
            "errors": errors,
            "seconds": (seconds * 10.0).round() / 10.0,
            "bytes_per_s": (bytes as f64 / seconds).round(),
        })
    );
    if !errors.is_empty() || accounts.windows(2).any(|w| w[0] != w[1]) {
        std::process::exit(1);
    }
}

/// Our Status on the chain of `genesis` (head: genesis).
fn status(genesis: &std::path::Path) -> Result<Status, String> {
    let text = std::fs::read_to_string(genesis).map_err(|e| format!("{}: {e}", genesis.display()))?;
    let doc = GenesisDoc::parse(&text).map_err(|e| format!("{}: {e}", genesis.display()))?;
    let spec = ChainSpec::from_genesis("snap-load", doc).map_err(|e| e.to_string())?;
    Ok(Status {
        version: 68,
        network_id: spec.network_id,
        total_difficulty: Some(U256::from(1)),
        genesis: spec.genesis_hash,
        fork_id: spec.latest_fork_id(),
        head: spec.genesis_hash,
        range: Some((0, 0)),
    })
}

fn target(enode: &str) -> Result<BackendTarget, String> {
    let rest = enode.strip_prefix("enode://").ok_or_else(|| format!("{enode:?} is not an enode URL"))?;
    let (id, addr) = rest.split_once('@').ok_or_else(|| format!("{enode:?} has no @ip:port"))?;
    let id = hex::decode(id).ok().filter(|b| b.len() == 64).ok_or_else(|| format!("{enode:?}: the node id is not 64 hex bytes"))?;
    let addr = addr.split('?').next().unwrap_or_default().parse().map_err(|_| format!("{enode:?}: not ip:port"))?;
    Ok(BackendTarget { addr, id: B512::from_slice(&id) })
}

/// One client: the whole account range at the node's head state, page by page, each proven.
async fn download(enode: &str, status: &Status, bytes: u64, deadline: Instant) -> Download {
    let mut done = Download::default();
    if let Err(e) = pages(enode, status, bytes, deadline, &mut done).await {
        done.error = Some(e);
    }
    done
}

async fn pages(enode: &str, status: &Status, bytes: u64, deadline: Instant, done: &mut Download) -> Result<(), String> {
    let session = BackendSession::connect(&target(enode)?, &hypasis_rlpx::keys::random_secret(), "hypasis-snap-load", &[69, 68], status)
        .await
        .map_err(|e| format!("{enode}: {e}"))?;
    let head = session.head();
    let header = session.header(head.hash).await.map_err(|e| e.to_string())?.ok_or("the node does not have its head header")?;
    let root = header.header().state_root;
    let mut origin = B256::ZERO;
    loop {
        if Instant::now() > deadline {
            return Err("deadline passed".into());
        }
        let request = GetAccountRange { request_id: session.next_request_id(), root, origin, limit: B256::repeat_byte(0xff), bytes };
        let answer: AccountRange = session.snap(&request).await.map_err(|e| e.to_string())?;
        match verify::account_range(root, origin, &answer) {
            Ok(()) => {}
            Err(AnswerError::NoData) => {
                done.retries += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(format!("page from {origin}: {e}")),
        }
        done.pages += 1;
        done.bytes += answer.to_rlp().len() as u64;
        done.accounts += answer.accounts.len() as u64;
        let Some(last) = answer.accounts.last() else { return Ok(()) };
        if last.hash == B256::repeat_byte(0xff) {
            return Ok(());
        }
        origin = B256::from(U256::from_be_bytes(last.hash.0) + U256::from(1));
    }
}
