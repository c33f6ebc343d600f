//! snap/1 messages (`devp2p/caps/snap.md`), codes relative to the protocol's offset in the
//! session's message space. Requests name a state root; answers carry the data and, for ranges,
//! the Merkle proofs of the range's edges.
//!
//! Requests come from untrusted peers and answers from backends we do not trust either: every
//! decode is strict (trailing bytes refused) and lists are capped ([`MAX_ITEMS`]).

use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, Encodable, Header, RlpDecodable, RlpEncodable};

/// Message codes, relative to snap's offset.
pub mod id {
    /// GetAccountRange.
    pub const GET_ACCOUNT_RANGE: u8 = 0x00;
    /// AccountRange.
    pub const ACCOUNT_RANGE: u8 = 0x01;
    /// GetStorageRanges.
    pub const GET_STORAGE_RANGES: u8 = 0x02;
    /// StorageRanges.
    pub const STORAGE_RANGES: u8 = 0x03;
    /// GetByteCodes.
    pub const GET_BYTE_CODES: u8 = 0x04;
    /// ByteCodes.
    pub const BYTE_CODES: u8 = 0x05;
    /// GetTrieNodes.
    pub const GET_TRIE_NODES: u8 = 0x06;
    /// TrieNodes.
    pub const TRIE_NODES: u8 = 0x07;
    /// Messages snap/1 defines (its share of the message space).
    pub const COUNT: u8 = 8;
}

/// Most entries any one list of a message may hold (accounts, slots, codes, nodes, paths).
/// A 10 MiB message cannot hold more than this many non-empty entries anyway.
pub const MAX_ITEMS: usize = 1 << 20;

/// A message did not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    /// Not the RLP the message's layout asks for.
    #[error("malformed {what}: {source}")]
    Rlp {
        /// The message.
        what: &'static str,
        /// What the decoder found.
        source: alloy_rlp::Error,
    },
    /// Bytes after the message's list.
    #[error("malformed {0}: trailing bytes")]
    Trailing(&'static str),
    /// A list longer than [`MAX_ITEMS`].
    #[error("{what}: {count} entries, more than {MAX_ITEMS}")]
    TooMany {
        /// The message.
        what: &'static str,
        /// Entries found.
        count: usize,
    },
}

/// GetAccountRange: `[request-id, root, origin, limit, bytes]`: accounts of the state trie at
/// `root` from `origin` on, up to `limit`, in at most about `bytes` of answer.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetAccountRange {
    /// Request id.
    pub request_id: u64,
    /// State root.
    pub root: B256,
    /// First account hash wanted.
    pub origin: B256,
    /// Account hash after which to stop.
    pub limit: B256,
    /// Soft limit on the answer's size.
    pub bytes: u64,
}

/// One account of an [`AccountRange`]: `[hash, body]`, the body being the slim account's RLP list
/// itself, embedded as is (not wrapped in a byte string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountData {
    /// keccak256 of the address.
    pub hash: B256,
    /// The slim account's RLP, header included (see [`crate::account`]).
    pub body: Bytes,
}

impl Encodable for AccountData {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        Header { list: true, payload_length: self.hash.length() + self.body.len() }.encode(out);
        self.hash.encode(out);
        out.put_slice(&self.body);
    }

    fn length(&self) -> usize {
        let payload = self.hash.length() + self.body.len();
        alloy_rlp::length_of_length(payload) + payload
    }
}

impl Decodable for AccountData {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = Header::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut payload, rest) = buf.split_at_checked(header.payload_length).ok_or(alloy_rlp::Error::InputTooShort)?;
        let hash = B256::decode(&mut payload)?;
        // The body: exactly one RLP item, kept whole.
        let mut item = payload;
        let body_header = Header::decode(&mut item)?;
        if item.len() != body_header.payload_length {
            return Err(alloy_rlp::Error::ListLengthMismatch { expected: body_header.payload_length, got: item.len() });
        }
        *buf = rest;
        Ok(Self { hash, body: Bytes::copy_from_slice(payload) })
    }
}

/// AccountRange: `[request-id, [[hash, body], …], [proof-node, …]]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountRange {
    /// Request id.
    pub request_id: u64,
    /// Consecutive accounts, ascending by hash.
    pub accounts: Vec<AccountData>,
    /// Trie nodes proving the first requested hash and the last account returned.
    pub proof: Vec<Bytes>,
}

/// GetStorageRanges: `[request-id, root, [account-hash, …], origin, limit, bytes]`. `origin` and
/// `limit` apply to the first account's storage only; empty means from the start / to the end.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetStorageRanges {
    /// Request id.
    pub request_id: u64,
    /// State root.
    pub root: B256,
    /// Accounts whose storage is wanted.
    pub accounts: Vec<B256>,
    /// First slot hash wanted (first account only; empty: from the start).
    pub origin: Bytes,
    /// Slot hash after which to stop (first account only; empty: to the end).
    pub limit: Bytes,
    /// Soft limit on the answer's size.
    pub bytes: u64,
}

/// One storage slot of a [`StorageRanges`]: its hash and its RLP value.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotData {
    /// keccak256 of the slot key.
    pub hash: B256,
    /// The RLP-encoded value, as stored in the trie.
    pub data: Bytes,
}

/// StorageRanges: `[request-id, [[[hash, data], …], …], [proof-node, …]]`: one slot list per
/// account served; only the last may be partial, and then the proof covers it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StorageRanges {
    /// Request id.
    pub request_id: u64,
    /// Slot lists, one per account answered, in request order.
    pub slots: Vec<Vec<SlotData>>,
    /// Proof of the last slot list's edges when it is partial; empty otherwise.
    pub proof: Vec<Bytes>,
}

/// GetByteCodes: `[request-id, [code-hash, …], bytes]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetByteCodes {
    /// Request id.
    pub request_id: u64,
    /// Code hashes wanted.
    pub hashes: Vec<B256>,
    /// Soft limit on the answer's size.
    pub bytes: u64,
}

/// ByteCodes: `[request-id, [code, …]]`, in request order, unknown ones left out.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ByteCodes {
    /// Request id.
    pub request_id: u64,
    /// Codes found.
    pub codes: Vec<Bytes>,
}

/// GetTrieNodes: `[request-id, root, [[account-path, slot-path, …], …], bytes]`. A path set with
/// one element names an account-trie node by its compact-encoded path; more elements name
/// storage-trie nodes of that account.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetTrieNodes {
    /// Request id.
    pub request_id: u64,
    /// State root.
    pub root: B256,
    /// Path sets.
    pub paths: Vec<Vec<Bytes>>,
    /// Soft limit on the answer's size.
    pub bytes: u64,
}

/// TrieNodes: `[request-id, [node, …]]`, in request order, stopping at the first unknown one.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TrieNodes {
    /// Request id.
    pub request_id: u64,
    /// RLP trie nodes.
    pub nodes: Vec<Bytes>,
}

/// A snap/1 message whose layout is known.
pub trait Message: Encodable + Decodable + Sized {
    /// Its code relative to snap's offset.
    const ID: u8;
    /// Its name in errors.
    const NAME: &'static str;

    /// Entries of its longest list (checked against [`MAX_ITEMS`]).
    fn entries(&self) -> usize;

    /// Decodes `data` strictly: one list, nothing after it, lists within [`MAX_ITEMS`].
    ///
    /// # Errors
    /// [`MessageError`] naming the message.
    fn decode_strict(mut data: &[u8]) -> Result<Self, MessageError> {
        let message = Self::decode(&mut data).map_err(|source| MessageError::Rlp { what: Self::NAME, source })?;
        if !data.is_empty() {
            return Err(MessageError::Trailing(Self::NAME));
        }
        let count = message.entries();
        if count > MAX_ITEMS {
            return Err(MessageError::TooMany { what: Self::NAME, count });
        }
        Ok(message)
    }

    /// The message's RLP.
    fn to_rlp(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
}

impl Message for GetAccountRange {
    const ID: u8 = id::GET_ACCOUNT_RANGE;
    const NAME: &'static str = "GetAccountRange";
    fn entries(&self) -> usize {
        0
    }
}

impl Message for AccountRange {
    const ID: u8 = id::ACCOUNT_RANGE;
    const NAME: &'static str = "AccountRange";
    fn entries(&self) -> usize {
        self.accounts.len().max(self.proof.len())
    }
}

impl Message for GetStorageRanges {
    const ID: u8 = id::GET_STORAGE_RANGES;
    const NAME: &'static str = "GetStorageRanges";
    fn entries(&self) -> usize {
        self.accounts.len()
    }
}

impl Message for StorageRanges {
    const ID: u8 = id::STORAGE_RANGES;
    const NAME: &'static str = "StorageRanges";
    fn entries(&self) -> usize {
        let slots: usize = self.slots.iter().map(Vec::len).sum();
        slots.max(self.proof.len())
    }
}

impl Message for GetByteCodes {
    const ID: u8 = id::GET_BYTE_CODES;
    const NAME: &'static str = "GetByteCodes";
    fn entries(&self) -> usize {
        self.hashes.len()
    }
}

impl Message for ByteCodes {
    const ID: u8 = id::BYTE_CODES;
    const NAME: &'static str = "ByteCodes";
    fn entries(&self) -> usize {
        self.codes.len()
    }
}

impl Message for GetTrieNodes {
    const ID: u8 = id::GET_TRIE_NODES;
    const NAME: &'static str = "GetTrieNodes";
    fn entries(&self) -> usize {
        self.paths.iter().map(Vec::len).sum()
    }
}

impl Message for TrieNodes {
    const ID: u8 = id::TRIE_NODES;
    const NAME: &'static str = "TrieNodes";
    fn entries(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    fn round_trip<M: Message + std::fmt::Debug + PartialEq>(message: &M) {
        assert_eq!(&M::decode_strict(&message.to_rlp()).expect("decodes"), message);
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(&GetAccountRange {
            request_id: 1,
            root: B256::repeat_byte(1),
            origin: B256::ZERO,
            limit: B256::repeat_byte(0xff),
            bytes: 512 << 10,
        });
        round_trip(&AccountRange {
            request_id: 2,
            accounts: vec![AccountData { hash: B256::repeat_byte(3), body: Bytes::from_static(&[0xc4, 0x80, 0x80, 0x80, 0x80]) }],
            proof: vec![Bytes::from_static(&[0xc0])],
        });
        round_trip(&GetStorageRanges {
            request_id: 3,
            root: B256::repeat_byte(1),
            accounts: vec![B256::repeat_byte(4), B256::repeat_byte(5)],
            origin: Bytes::new(),
            limit: Bytes::new(),
            bytes: 1000,
        });
        round_trip(&StorageRanges {
            request_id: 4,
            slots: vec![vec![SlotData { hash: B256::repeat_byte(6), data: Bytes::from_static(&[0x2a]) }], vec![]],
            proof: vec![],
        });
        round_trip(&GetByteCodes { request_id: 5, hashes: vec![B256::repeat_byte(7)], bytes: 1 });
        round_trip(&ByteCodes { request_id: 6, codes: vec![Bytes::from_static(b"\x60\x00")] });
        round_trip(&GetTrieNodes { request_id: 7, root: B256::ZERO, paths: vec![vec![Bytes::from_static(&[0x00])]], bytes: 10 });
        round_trip(&TrieNodes { request_id: 8, nodes: vec![Bytes::from_static(&[0xc0])] });
    }

    #[test]
    fn layout_is_the_specs() {
        // [1, root, origin, limit, 100] as snap.md lays it out.
        let message = GetAccountRange {
            request_id: 1,
            root: B256::repeat_byte(0xaa),
            origin: B256::ZERO,
            limit: B256::repeat_byte(0xff),
            bytes: 100,
        };
        let mut expected = vec![0xf8, 0x65, 0x01, 0xa0];
        expected.extend([0xaa; 32]);
        expected.push(0xa0);
        expected.extend([0x00; 32]);
        expected.push(0xa0);
        expected.extend([0xff; 32]);
        expected.push(0x64);
        assert_eq!(message.to_rlp(), expected, "{}", hex::encode(message.to_rlp()));
    }

    #[test]
    fn account_bodies_are_embedded_lists() {
        // [1, [[hash, [1, 10, "", ""]]], []]: the slim body is the list itself.
        let body = Bytes::from_static(&[0xc4, 0x01, 0x0a, 0x80, 0x80]);
        let message = AccountRange { request_id: 1, accounts: vec![AccountData { hash: B256::repeat_byte(0xbb), body }], proof: vec![] };
        let mut expected = vec![0xea, 0x01, 0xe7, 0xe6, 0xa0];
        expected.extend([0xbb; 32]);
        expected.extend([0xc4, 0x01, 0x0a, 0x80, 0x80, 0xc0]);
        assert_eq!(message.to_rlp(), expected, "{}", hex::encode(message.to_rlp()));
        assert_eq!(AccountRange::decode_strict(&expected), Ok(message));
        // A body followed by another item, or cut short, is refused.
        let mut two_items = vec![0xe8, 0xa0];
        two_items.extend([0xbb; 32]);
        two_items.extend([0xc2, 0x01, 0x0a, 0x80, 0x80]);
        assert!(AccountData::decode(&mut &two_items[..]).is_err());
    }

    #[test]
    fn trailing_bytes_and_garbage_are_refused() {
        let mut data = GetByteCodes { request_id: 5, hashes: vec![], bytes: 1 }.to_rlp();
        data.push(0);
        assert_eq!(GetByteCodes::decode_strict(&data), Err(MessageError::Trailing("GetByteCodes")));
        assert!(matches!(AccountRange::decode_strict(&[0xc1, 0xff]), Err(MessageError::Rlp { what: "AccountRange", .. })));
        assert!(matches!(TrieNodes::decode_strict(&[]), Err(MessageError::Rlp { .. })));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = GetAccountRange::decode_strict(&data);
            let _ = AccountRange::decode_strict(&data);
            let _ = GetStorageRanges::decode_strict(&data);
            let _ = StorageRanges::decode_strict(&data);
            let _ = GetTrieNodes::decode_strict(&data);
        }
    }
}
