//! snap/1 against a real geth backend (go-ethereum v1.15.11, the test chain of its own
//! `devp2p rlpx snap-test` suite): our backend session dials it offering eth and snap/1, reads
//! its head's state root, and every answer geth sends (whole and paged account ranges, storage
//! ranges, bytecodes) passes our proof checks, while a tampered one and an unknown root do not.

use alloy_primitives::{B256, Bytes, U256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY};
use hypasis_chain::{ChainSpec, genesis::GenesisDoc};
use hypasis_eth_wire::eth::status::Status;
use hypasis_snap::{
    account,
    backend::{BackendSession, BackendTarget},
    messages::{AccountRange, ByteCodes, GetAccountRange, GetByteCodes, GetStorageRanges, StorageRanges},
    pool::{self, BackendManager, PoolError},
    verify::{self, AnswerError, StorageTrie},
};
use hypasis_test_support::geth::{self, Geth};

const GETH_KEY: [u8; 32] = [0x42; 32];

fn chain_status() -> Status {
    let genesis = std::fs::read_to_string(geth::ethtest_data().join("genesis.json")).expect("the test chain's genesis");
    let spec = ChainSpec::from_genesis("ethtest", GenesisDoc::parse(&genesis).expect("genesis")).expect("chain spec");
    Status {
        version: 68,
        network_id: spec.network_id,
        total_difficulty: Some(U256::from(1)),
        genesis: spec.genesis_hash,
        fork_id: spec.latest_fork_id(),
        head: spec.genesis_hash,
        range: Some((0, 0)),
    }
}

fn manager(addr: std::net::SocketAddr) -> BackendManager {
    let target = BackendTarget { addr, id: hypasis_p2p::identity::node_id(&k256::SecretKey::from_slice(&GETH_KEY).expect("key")) };
    BackendManager::new(target, "hypasis-test", &[69, 68], chain_status())
}

async fn account_range(session: &BackendSession, root: B256, origin: B256, bytes: u64) -> AccountRange {
    let request_id = session.next_request_id();
    let request = GetAccountRange { request_id, root, origin, limit: B256::repeat_byte(0xff), bytes };
    let answer: AccountRange = session.snap(&request).await.expect("AccountRange");
    assert_eq!(answer.request_id, request_id);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_geth_backend_serves_snap_answers_that_pass_our_proof_checks() {
    let geth = tokio::task::spawn_blocking(|| Geth::with_ethtest_chain(GETH_KEY)).await.expect("start geth");
    let pool = pool::pool(manager(geth.p2p), 2);
    let session = pool.get().await.unwrap_or_else(|e| panic!("a session with geth: {e}; geth's log:\n{}", geth.log()));
    assert!(session.client_id.starts_with("Geth/"), "{}", session.client_id);
    let head = session.head();
    let header = session.header(head.hash).await.expect("GetBlockHeaders").expect("geth has its head");
    let root = header.header().state_root;

    // The whole state in one answer, proven.
    let whole = account_range(&session, root, B256::ZERO, 2 << 20).await;
    assert!(whole.accounts.len() > 10, "the test chain has accounts: {}", whole.accounts.len());
    verify::account_range(root, B256::ZERO, &whole).unwrap_or_else(|e| panic!("geth's whole range: {e}"));

    // The same state in small pages, each proven at both edges, adds up to the same accounts.
    let (mut origin, mut paged, mut pages) = (B256::ZERO, Vec::new(), 0);
    loop {
        let page = account_range(&session, root, origin, 2_000).await;
        verify::account_range(root, origin, &page).unwrap_or_else(|e| panic!("page {pages} from {origin}: {e}"));
        pages += 1;
        let Some(last) = page.accounts.last() else { break };
        paged.extend(page.accounts.iter().map(|a| a.hash));
        match U256::from_be_bytes(last.hash.0).checked_add(U256::from(1)) {
            Some(next) if next > U256::ZERO => origin = B256::from(next.to_be_bytes()),
            _ => break,
        }
        assert!(pages < 10_000, "paging does not end");
    }
    assert!(pages > 2, "small pages: {pages}");
    assert_eq!(paged, whole.accounts.iter().map(|a| a.hash).collect::<Vec<_>>());

    // One altered balance does not pass, nor a dropped account.
    let mut tampered = whole.clone();
    let mut account = account::from_slim(&tampered.accounts[3].body).expect("slim account");
    account.balance += U256::from(1);
    tampered.accounts[3].body = Bytes::from(account::to_slim(&account));
    assert!(matches!(verify::account_range(root, B256::ZERO, &tampered), Err(AnswerError::Proof(_))));
    let mut dropped = whole.clone();
    dropped.accounts.remove(5);
    assert!(verify::account_range(root, B256::ZERO, &dropped).is_err());

    // A root geth does not hold: an empty answer, which is "ask elsewhere", not a lie.
    let unknown = account_range(&session, B256::repeat_byte(0x11), B256::ZERO, 2 << 20).await;
    assert_eq!(verify::account_range(B256::repeat_byte(0x11), B256::ZERO, &unknown), Err(AnswerError::NoData));

    let accounts: Vec<_> = whole.accounts.iter().map(|a| (a.hash, account::from_slim(&a.body).expect("slim account"))).collect();

    // Bytecodes of the contracts, checked by hash in request order.
    let code_hashes: Vec<B256> = accounts.iter().map(|(_, a)| a.code_hash).filter(|h| *h != KECCAK_EMPTY).take(8).collect();
    assert!(!code_hashes.is_empty(), "the test chain has contracts");
    let request_id = session.next_request_id();
    let codes: ByteCodes =
        session.snap(&GetByteCodes { request_id, hashes: code_hashes.clone(), bytes: 2 << 20 }).await.expect("ByteCodes");
    assert_eq!(codes.codes.len(), code_hashes.len());
    verify::byte_codes(&code_hashes, &codes.codes).expect("geth's codes");

    // Storage of the accounts that have some, checked against their storage roots.
    let with_storage: Vec<_> = accounts.iter().filter(|(_, a)| a.storage_root != EMPTY_ROOT_HASH).take(4).collect();
    assert!(!with_storage.is_empty(), "the test chain has contract storage");
    let request_id = session.next_request_id();
    let request = GetStorageRanges {
        request_id,
        root,
        accounts: with_storage.iter().map(|(hash, _)| *hash).collect(),
        origin: Bytes::new(),
        limit: Bytes::new(),
        bytes: 2 << 20,
    };
    let storage: StorageRanges = session.snap(&request).await.expect("StorageRanges");
    assert!(storage.slots.iter().any(|list| !list.is_empty()), "geth sent slots");
    let tries: Vec<StorageTrie> = with_storage.iter().map(|(_, a)| StorageTrie { root: a.storage_root, origin: B256::ZERO }).collect();
    verify::storage_ranges(&tries, &storage).expect("geth's storage ranges");

    assert!(session.is_alive(), "the session is still up; geth's log:\n{}", geth.log());

    // geth goes away: the session ends, waiting callers fail, the pool does not hand it out
    // again, and its redial fails and backs off.
    drop(geth);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while session.is_alive() {
        assert!(std::time::Instant::now() < deadline, "the session noticed geth's exit");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(session.header(head.hash).await.is_err());
    drop(session);
    assert!(matches!(pool.get().await, Err(deadpool::managed::PoolError::Backend(PoolError::Backend(_)))));
    assert!(matches!(pool.get().await, Err(deadpool::managed::PoolError::Backend(PoolError::BackingOff(_)))));
}

#[tokio::test]
async fn a_backend_that_is_down_is_backed_off_not_dialled_on_every_request() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let pool = pool::pool(manager(closed), 2);
    assert!(matches!(pool.get().await, Err(deadpool::managed::PoolError::Backend(PoolError::Backend(_)))), "refused");
    assert!(matches!(pool.get().await, Err(deadpool::managed::PoolError::Backend(PoolError::BackingOff(_)))), "not dialled again");
}
