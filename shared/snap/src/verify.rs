//! Checks of whole snap/1 answers before they are served: account ranges and storage ranges by
//! their Merkle proofs ([`crate::range_proof`]), bytecodes by their hashes. The rules are those
//! of a syncing geth (`eth/protocols/snap/sync.go`), so what passes here is what a syncing Bor
//! accepts.

use crate::{
    account,
    messages::{AccountRange, SlotData, StorageRanges},
    range_proof::{RangeProofError, verify_range},
};
use alloy_primitives::{B256, Bytes, keccak256};

/// Why an answer is not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No data and no proof: the backend does not hold the root (not a lie; ask another).
    #[error("the backend does not hold this root")]
    NoData,
    /// An account body is not a slim account.
    #[error(transparent)]
    Account(#[from] account::AccountError),
    /// The data does not match its proof and root.
    #[error("proof check failed: {0}")]
    Proof(#[from] RangeProofError),
    /// More slot lists than accounts asked for, or a list without a root to check it against.
    #[error("{lists} slot lists for {roots} accounts with storage")]
    TooManyLists {
        /// Lists answered.
        lists: usize,
        /// Accounts with storage asked for.
        roots: usize,
    },
    /// A code that is not one of those asked for, or out of request order.
    #[error("code {index} hashes to {hash}, not a requested hash in order")]
    UnaskedCode {
        /// Position in the answer.
        index: usize,
        /// Its hash.
        hash: B256,
    },
}

/// Checks an AccountRange answer to a request for `root` from `origin`.
///
/// # Errors
/// [`AnswerError::NoData`] for an empty answer without proof; otherwise what fails.
pub fn account_range(root: B256, origin: B256, answer: &AccountRange) -> Result<(), AnswerError> {
    if answer.accounts.is_empty() && answer.proof.is_empty() {
        return Err(AnswerError::NoData);
    }
    let keys: Vec<B256> = answer.accounts.iter().map(|a| a.hash).collect();
    let values =
        answer.accounts.iter().map(|a| account::from_slim(&a.body).map(|acc| account::to_full(&acc))).collect::<Result<Vec<_>, _>>()?;
    verify_range(root, origin, &keys, &values, &answer.proof)?;
    Ok(())
}

/// One storage trie an answer's slot list is checked against: its root (from a verified account)
/// and the origin asked for it (the request's origin for the first account, zero for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageTrie {
    /// The account's storage root.
    pub root: B256,
    /// The first slot hash asked for.
    pub origin: B256,
}

/// Checks a StorageRanges answer. `tries` are the requested accounts that have storage, in
/// request order (a geth backend sends no list for an account without storage): every list but
/// the last must be its whole trie; the last may be partial, with the proof.
///
/// # Errors
/// [`AnswerError::NoData`] for an empty answer without proof; otherwise what fails.
pub fn storage_ranges(tries: &[StorageTrie], answer: &StorageRanges) -> Result<(), AnswerError> {
    if answer.slots.is_empty() && answer.proof.is_empty() {
        return Err(AnswerError::NoData);
    }
    if answer.slots.len() > tries.len() {
        return Err(AnswerError::TooManyLists { lists: answer.slots.len(), roots: tries.len() });
    }
    // A proof with no list: the first trie is empty from its origin on.
    let empty = Vec::new();
    let lists: Vec<&Vec<SlotData>> = if answer.slots.is_empty() { vec![&empty] } else { answer.slots.iter().collect() };
    let last = lists.len() - 1;
    for (i, (list, trie)) in lists.into_iter().zip(tries).enumerate() {
        let keys: Vec<B256> = list.iter().map(|s| s.hash).collect();
        let values: Vec<&[u8]> = list.iter().map(|s| s.data.as_ref()).collect();
        if i == last && !answer.proof.is_empty() {
            verify_range(trie.root, trie.origin, &keys, &values, &answer.proof)?;
        } else {
            verify_range(trie.root, B256::ZERO, &keys, &values, &[])?;
        }
    }
    Ok(())
}

/// Checks a ByteCodes answer: each code hashes to a requested hash, in request order (codes the
/// backend lacks are left out).
///
/// # Errors
/// [`AnswerError::UnaskedCode`] naming the first code that does not.
pub fn byte_codes(requested: &[B256], codes: &[Bytes]) -> Result<(), AnswerError> {
    let mut next = 0;
    for (index, code) in codes.iter().enumerate() {
        let hash = keccak256(code);
        match requested[next..].iter().position(|h| *h == hash) {
            Some(at) => next += at + 1,
            None => return Err(AnswerError::UnaskedCode { index, hash }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::AccountData;
    use alloy_primitives::U256;
    use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, KECCAK_EMPTY, Nibbles, TrieAccount, proof::ProofRetainer};

    fn accounts(n: u64) -> Vec<(B256, TrieAccount)> {
        let mut all: Vec<_> = (0..n)
            .map(|i| {
                let account = TrieAccount {
                    nonce: i,
                    balance: U256::from(i) * U256::from(10u64.pow(18)),
                    storage_root: EMPTY_ROOT_HASH,
                    code_hash: KECCAK_EMPTY,
                };
                (keccak256(i.to_be_bytes()), account)
            })
            .collect();
        all.sort_by_key(|a| a.0);
        all
    }

    /// The root of `entries` and the proof nodes of `targets`.
    fn build(entries: &[(B256, Vec<u8>)], targets: &[B256]) -> (B256, Vec<Bytes>) {
        let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(targets.iter().map(Nibbles::unpack).collect()));
        for (k, v) in entries {
            builder.add_leaf(Nibbles::unpack(k), v);
        }
        let root = builder.root();
        (root, builder.take_proof_nodes().into_inner().into_values().collect())
    }

    #[test]
    fn account_ranges_are_checked_in_their_full_form() {
        let all = accounts(64);
        let full: Vec<_> = all.iter().map(|(h, a)| (*h, account::to_full(a))).collect();
        let (root, proof) = build(&full, &[all[10].0, all[29].0]);
        let answer = AccountRange {
            request_id: 1,
            accounts: all[10..30].iter().map(|(hash, a)| AccountData { hash: *hash, body: account::to_slim(a).into() }).collect(),
            proof,
        };
        assert_eq!(account_range(root, all[10].0, &answer), Ok(()));
        let mut lie = answer.clone();
        lie.accounts[3].body = account::to_slim(&TrieAccount { nonce: 99, ..all[13].1 }).into();
        assert!(matches!(account_range(root, all[10].0, &lie), Err(AnswerError::Proof(_))));
        let none = AccountRange { request_id: 1, accounts: vec![], proof: vec![] };
        assert_eq!(account_range(root, all[10].0, &none), Err(AnswerError::NoData));
    }

    #[test]
    fn storage_lists_are_whole_tries_but_the_last() {
        let slots = |seed: u64, n: u64| -> Vec<(B256, Vec<u8>)> {
            let mut s: Vec<_> =
                (0..n).map(|i| (keccak256((seed * 1000 + i).to_be_bytes()), alloy_rlp::encode(U256::from(i + 1)))).collect();
            s.sort();
            s
        };
        let (a, b) = (slots(1, 5), slots(2, 40));
        let (root_a, _) = build(&a, &[]);
        let (root_b, proof_b) = build(&b, &[B256::ZERO, b[19].0]);
        let list = |s: &[(B256, Vec<u8>)]| s.iter().map(|(hash, v)| SlotData { hash: *hash, data: v.clone().into() }).collect::<Vec<_>>();
        let tries = [StorageTrie { root: root_a, origin: B256::ZERO }, StorageTrie { root: root_b, origin: B256::ZERO }];
        let answer = StorageRanges { request_id: 1, slots: vec![list(&a), list(&b[..20])], proof: proof_b.clone() };
        assert_eq!(storage_ranges(&tries, &answer), Ok(()));
        let short_first = StorageRanges { request_id: 1, slots: vec![list(&a[..4]), list(&b[..20])], proof: proof_b };
        assert!(storage_ranges(&tries, &short_first).is_err(), "a list before the last must be whole");
        let complete = StorageRanges { request_id: 1, slots: vec![list(&a), list(&b)], proof: vec![] };
        assert_eq!(storage_ranges(&tries, &complete), Ok(()));
        assert!(matches!(storage_ranges(&tries[..1], &complete), Err(AnswerError::TooManyLists { lists: 2, roots: 1 })));
    }

    #[test]
    fn codes_are_a_subsequence_of_the_request_by_hash() {
        let codes: Vec<Bytes> = [&b"\x60\x00"[..], b"\x60\x01", b""].iter().map(|c| Bytes::copy_from_slice(c)).collect();
        let hashes: Vec<B256> = codes.iter().map(keccak256).collect();
        assert_eq!(byte_codes(&hashes, &codes), Ok(()));
        assert_eq!(byte_codes(&hashes, &codes[1..]), Ok(()), "unknown ones left out");
        assert!(byte_codes(&[hashes[1], hashes[0]], &codes[..2]).is_err(), "out of order");
        assert!(byte_codes(&hashes[..1], &[Bytes::from_static(b"\xfe")]).is_err(), "not asked for");
    }
}
