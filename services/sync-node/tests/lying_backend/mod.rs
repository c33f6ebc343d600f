//! A state backend that lies: it accepts RLPx sessions as a snap/1 node would, forwards every
//! snap request to a real geth, and alters one account's balance in every account range it
//! passes back (the proof left as geth sent it). Test tooling for the "never serve a tampered
//! answer" check.

use alloy_primitives::U256;
use hypasis_eth_wire::{
    Capability, Hello,
    conn::{Incoming, P2pConn, SNAP, SNAP_VERSION},
    eth::status::Status,
    p2p::P2P_VERSION,
};
use hypasis_snap::{
    Message, account,
    backend::{BackendSession, BackendTarget},
    messages::{AccountRange, ByteCodes, GetAccountRange, GetByteCodes, GetStorageRanges, GetTrieNodes, StorageRanges, TrieNodes, id},
};
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

/// The running proxy.
pub(crate) struct LyingBackend {
    /// Its enode URL.
    pub(crate) enode: String,
    /// Account ranges altered so far.
    pub(crate) lies: Arc<AtomicUsize>,
}

/// Starts a lying proxy in front of `geth` (answering with `status` on its chain).
pub(crate) async fn start(geth: BackendTarget, status: Status) -> LyingBackend {
    let key = hypasis_rlpx::keys::random_secret();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let enode = hypasis_p2p::identity::enode_url(&key, "127.0.0.1", listener.local_addr().expect("addr").port());
    let lies = Arc::new(AtomicUsize::new(0));
    let counter = lies.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (key, status, lies, geth) = (key.clone(), status.clone(), counter.clone(), geth.clone());
            tokio::spawn(async move {
                let _ = serve(stream, key, geth, status, lies).await;
            });
        }
    });
    LyingBackend { enode, lies }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    key: k256::SecretKey,
    geth: BackendTarget,
    status: Status,
    lies: Arc<AtomicUsize>,
) -> Result<(), String> {
    let upstream = BackendSession::connect(&geth, &hypasis_rlpx::keys::random_secret(), "liar", &[69, 68], &status)
        .await
        .map_err(|e| e.to_string())?;
    let (secrets, _) = hypasis_rlpx::accept(&mut stream, std::slice::from_ref(&key)).await.map_err(|e| e.to_string())?;
    let remote = secrets.remote_id;
    let framed = Framed::new(stream, hypasis_rlpx::FrameCodec::new(secrets, hypasis_rlpx::codec::DEFAULT_MAX_INGRESS_FRAME));
    let hello = Hello {
        protocol_version: P2P_VERSION,
        client_id: "Geth/liar".into(),
        capabilities: vec![Capability::new("eth", 68), Capability::new("eth", 69), Capability::new(SNAP, SNAP_VERSION)],
        listen_port: 0,
        id: hypasis_p2p::identity::node_id(&key),
    };
    let conn = P2pConn::handshake(framed, &hello, remote).await.map_err(|e| e.to_string())?;
    // Geth's head as ours, as a real backend announces it (a backend that says it is behind a
    // root is asked last).
    let head = upstream.head().hash;
    let number = upstream.header(head).await.map_err(|e| e.to_string())?.map_or(0, |h| h.header().number);
    let version = conn.eth_version;
    let ours = Status { version, head, range: Some((0, number)), ..status };
    let mut conn = conn.exchange_status(&ours, false, |_| Ok(())).await.map_err(|e| e.to_string())?;
    loop {
        let msg = match conn.next_message().await.map_err(|e| e.to_string())? {
            Incoming::Ping => {
                conn.pong().await.map_err(|e| e.to_string())?;
                continue;
            }
            Incoming::Snap(msg) => msg,
            _ => continue,
        };
        let (answer_id, answer) = match msg.id {
            id::GET_ACCOUNT_RANGE => {
                let mut answer: AccountRange = forward::<GetAccountRange, _>(&upstream, &msg.data, |r, id| r.request_id = id).await?;
                if let Some(first) = answer.accounts.first_mut() {
                    let mut acc = account::from_slim(&first.body).map_err(|e| e.to_string())?;
                    acc.balance += U256::from(1);
                    first.body = account::to_slim(&acc).into();
                    lies.fetch_add(1, Ordering::Relaxed);
                }
                (id::ACCOUNT_RANGE, answer.to_rlp())
            }
            id::GET_STORAGE_RANGES => {
                let answer: StorageRanges = forward::<GetStorageRanges, _>(&upstream, &msg.data, |r, id| r.request_id = id).await?;
                (id::STORAGE_RANGES, answer.to_rlp())
            }
            id::GET_BYTE_CODES => {
                let answer: ByteCodes = forward::<GetByteCodes, _>(&upstream, &msg.data, |r, id| r.request_id = id).await?;
                (id::BYTE_CODES, answer.to_rlp())
            }
            id::GET_TRIE_NODES => {
                let answer: TrieNodes = forward::<GetTrieNodes, _>(&upstream, &msg.data, |r, id| r.request_id = id).await?;
                (id::TRIE_NODES, answer.to_rlp())
            }
            other => return Err(format!("unexpected snap message {other}")),
        };
        conn.send_snap(answer_id, &answer).await.map_err(|e| e.to_string())?;
    }
}

/// Sends `data` (a request of type `Q`) to geth under a fresh id; the answer comes back under the
/// asker's id.
async fn forward<Q: Message, A: Message + RequestId>(
    upstream: &BackendSession,
    data: &[u8],
    set_id: impl Fn(&mut Q, u64),
) -> Result<A, String> {
    let mut request = Q::decode_strict(data).map_err(|e| e.to_string())?;
    let theirs = first_u64(data);
    set_id(&mut request, upstream.next_request_id());
    let mut answer: A = upstream.snap(&request).await.map_err(|e| e.to_string())?;
    answer.set_request_id(theirs);
    Ok(answer)
}

fn first_u64(data: &[u8]) -> u64 {
    let mut buf = data;
    let _ = alloy_rlp::Header::decode(&mut buf);
    alloy_rlp::Decodable::decode(&mut buf).unwrap_or(0)
}

/// Answers whose request id can be set.
trait RequestId {
    fn set_request_id(&mut self, id: u64);
}

macro_rules! request_id {
    ($($t:ty),*) => {$(
        impl RequestId for $t {
            fn set_request_id(&mut self, id: u64) {
                self.request_id = id;
            }
        }
    )*};
}
request_id!(AccountRange, StorageRanges, ByteCodes, TrieNodes);
