//! Accounts as snap/1 carries them ("slim") and as the state trie stores them ("full").
//!
//! Both are `[nonce, balance, storage-root, code-hash]`; the slim form leaves the storage root
//! empty when it is the empty trie's root and the code hash empty when it is the hash of no
//! code, which saves 64 bytes for most accounts. Range proofs are over the full form.

use alloy_primitives::{B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable, Header};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount};

/// An account body did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed slim account: {0}")]
pub struct AccountError(String);

/// Decodes a slim account body (strictly: a list of four, hashes empty or 32 bytes).
///
/// # Errors
/// [`AccountError`] for anything else.
pub fn from_slim(mut body: &[u8]) -> Result<TrieAccount, AccountError> {
    let bad = |e: alloy_rlp::Error| AccountError(e.to_string());
    let header = Header::decode(&mut body).map_err(bad)?;
    if !header.list || header.payload_length != body.len() {
        return Err(AccountError("not one list".into()));
    }
    let nonce = u64::decode(&mut body).map_err(bad)?;
    let balance = U256::decode(&mut body).map_err(bad)?;
    let storage_root = hash_or(&mut body, EMPTY_ROOT_HASH)?;
    let code_hash = hash_or(&mut body, KECCAK_EMPTY)?;
    if !body.is_empty() {
        return Err(AccountError("more than four fields".into()));
    }
    Ok(TrieAccount { nonce, balance, storage_root, code_hash })
}

fn hash_or(body: &mut &[u8], empty: B256) -> Result<B256, AccountError> {
    let bytes = Bytes::decode(body).map_err(|e| AccountError(e.to_string()))?;
    match bytes.len() {
        0 => Ok(empty),
        32 => Ok(B256::from_slice(&bytes)),
        n => Err(AccountError(format!("a hash of {n} bytes"))),
    }
}

/// The slim body of `account`.
pub fn to_slim(account: &TrieAccount) -> Vec<u8> {
    let root: &[u8] = if account.storage_root == EMPTY_ROOT_HASH { &[] } else { account.storage_root.as_slice() };
    let code: &[u8] = if account.code_hash == KECCAK_EMPTY { &[] } else { account.code_hash.as_slice() };
    let payload = account.nonce.length() + account.balance.length() + root.length() + code.length();
    let mut out = Vec::with_capacity(payload + 3);
    Header { list: true, payload_length: payload }.encode(&mut out);
    account.nonce.encode(&mut out);
    account.balance.encode(&mut out);
    root.encode(&mut out);
    code.encode(&mut out);
    out
}

/// Decodes a full (state-trie) account body, as a state trie's leaf holds it.
///
/// # Errors
/// [`AccountError`] when it is not one account list.
pub fn from_full(mut body: &[u8]) -> Result<TrieAccount, AccountError> {
    let account = TrieAccount::decode(&mut body).map_err(|e| AccountError(e.to_string()))?;
    if !body.is_empty() {
        return Err(AccountError("bytes after the account".into()));
    }
    Ok(account)
}

/// The full (state-trie) RLP of `account`.
pub fn to_full(account: &TrieAccount) -> Vec<u8> {
    alloy_rlp::encode(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slim_leaves_out_empty_root_and_code_hash() {
        let plain = TrieAccount { nonce: 1, balance: U256::from(10), storage_root: EMPTY_ROOT_HASH, code_hash: KECCAK_EMPTY };
        assert_eq!(to_slim(&plain), vec![0xc4, 0x01, 0x0a, 0x80, 0x80]);
        assert_eq!(from_slim(&to_slim(&plain)), Ok(plain));
        assert_eq!(to_full(&plain).len(), 70, "the full form carries both hashes");
        assert_eq!(from_full(&to_full(&plain)), Ok(plain));
        assert!(from_full(&to_slim(&plain)).is_err(), "the slim form is not a trie leaf");
        let contract = TrieAccount { nonce: 0, balance: U256::ZERO, storage_root: B256::repeat_byte(1), code_hash: B256::repeat_byte(2) };
        assert_eq!(from_slim(&to_slim(&contract)), Ok(contract));
        assert_eq!(to_slim(&contract).len(), to_full(&contract).len());
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert!(from_slim(&[0xc3, 0x01, 0x0a, 0x80]).is_err(), "three fields");
        assert!(from_slim(&[0xc6, 0x01, 0x0a, 0x80, 0x80, 0x80, 0x80]).is_err(), "six fields");
        assert!(from_slim(&[0xc5, 0x01, 0x0a, 0x81, 0x01, 0x80]).is_err(), "a one-byte hash");
        assert!(from_slim(&[0xc4, 0x01, 0x0a, 0x80, 0x80, 0x00]).is_err(), "trailing bytes");
        assert!(from_slim(&[]).is_err());
    }
}
