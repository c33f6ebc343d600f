//! snap/1, the state-sync protocol beside eth (`devp2p/caps/snap.md`): its messages, the slim
//! account encoding, and the checks an answer must pass before we serve it (Merkle range proofs
//! against a state root, code and node hashes).

pub mod account;
pub mod answers;
pub mod backend;
pub mod messages;
pub mod pool;
pub mod range_proof;
pub mod service;
pub mod trie_path;
pub mod verify;
pub mod walk;

pub use messages::{Message, MessageError};
pub use range_proof::{RangeProofError, verify_range};
pub use service::{CacheBudgets, SharedAnswers, SnapService};
