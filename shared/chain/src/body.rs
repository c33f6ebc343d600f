//! Block bodies and the check that a body belongs to its header.
//!
//! Transactions are kept as their EIP-2718 encoding ([`RawTx`]) rather than as typed values, so a
//! body with a transaction type we do not model (Bor's `0x7F` state-sync transaction, or a future
//! type) still round-trips byte for byte and its transactions root can still be checked.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, proofs};
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};

/// One transaction as EIP-2718 bytes: a legacy transaction is its RLP list, a typed one is
/// `type ‖ payload`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawTx(Bytes);

impl RawTx {
    /// Wraps EIP-2718 bytes.
    ///
    /// # Errors
    /// When the bytes are empty or start with a byte that is neither a transaction type
    /// (`0x00..=0x7f`) nor an RLP list (`0xc0..`).
    pub fn new(bytes: Bytes) -> Result<Self, alloy_rlp::Error> {
        match bytes.first() {
            Some(b) if *b < 0x80 || *b >= 0xc0 => Ok(Self(bytes)),
            Some(_) => Err(alloy_rlp::Error::Custom("transaction is neither typed nor an RLP list")),
            None => Err(alloy_rlp::Error::InputTooShort),
        }
    }

    /// The EIP-2718 type byte; `0` for a legacy transaction.
    pub fn tx_type(&self) -> u8 {
        if self.is_legacy() { 0 } else { self.0[0] }
    }

    /// Whether this is a legacy (untyped) transaction.
    pub fn is_legacy(&self) -> bool {
        self.0[0] >= 0xc0
    }

    /// The EIP-2718 bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The transaction hash: keccak256 of the EIP-2718 bytes.
    pub fn hash(&self) -> B256 {
        keccak256(&self.0)
    }
}

impl alloy_eips::eip2718::Encodable2718 for RawTx {
    fn type_flag(&self) -> Option<u8> {
        (!self.is_legacy()).then(|| self.0[0])
    }

    fn encode_2718_len(&self) -> usize {
        self.0.len()
    }

    fn encode_2718(&self, out: &mut dyn alloy_rlp::BufMut) {
        out.put_slice(&self.0);
    }
}

impl alloy_eips::Typed2718 for RawTx {
    fn ty(&self) -> u8 {
        self.tx_type()
    }
}

/// Network (block body) encoding: a legacy transaction is inlined as its list, a typed one is
/// wrapped in an RLP string (EIP-2718 "typed transaction envelope" in RLP lists).
impl Encodable for RawTx {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        if !self.is_legacy() {
            RlpHeader { list: false, payload_length: self.0.len() }.encode(out);
        }
        out.put_slice(&self.0);
    }

    fn length(&self) -> usize {
        if self.is_legacy() { self.0.len() } else { alloy_rlp::length_of_length(self.0.len()) + self.0.len() }
    }
}

impl Decodable for RawTx {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let first = *buf.first().ok_or(alloy_rlp::Error::InputTooShort)?;
        if first >= 0xc0 {
            let start = *buf;
            let header = RlpHeader::decode(buf)?;
            if buf.len() < header.payload_length {
                return Err(alloy_rlp::Error::InputTooShort);
            }
            *buf = &buf[header.payload_length..];
            let used = start.len() - buf.len();
            return Ok(Self(Bytes::copy_from_slice(&start[..used])));
        }
        let bytes = Bytes::decode(buf)?;
        match bytes.first() {
            Some(b) if *b < 0x80 => Ok(Self(bytes)),
            Some(_) => Err(alloy_rlp::Error::Custom("typed transaction with an invalid type byte")),
            None => Err(alloy_rlp::Error::Custom("empty typed transaction")),
        }
    }
}

/// A block body: `[transactions, ommers]` or, from Shanghai on, `[transactions, ommers,
/// withdrawals]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockBody {
    /// Transactions in block order.
    pub transactions: Vec<RawTx>,
    /// Ommer (uncle) headers; always empty on Polygon.
    pub ommers: Vec<Header>,
    /// Withdrawals, present when the header carries a withdrawals root.
    pub withdrawals: Option<Vec<Withdrawal>>,
}

/// How a body disagrees with its header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyMismatch {
    /// The transactions do not hash to the header's transactions root.
    #[error("transactions root mismatch: header has {expected}, body gives {actual}")]
    TransactionsRoot {
        /// Root in the header.
        expected: B256,
        /// Root computed from the body.
        actual: B256,
    },
    /// The ommers do not hash to the header's ommers hash.
    #[error("ommers hash mismatch: header has {expected}, body gives {actual}")]
    OmmersHash {
        /// Hash in the header.
        expected: B256,
        /// Hash computed from the body.
        actual: B256,
    },
    /// The withdrawals do not hash to the header's withdrawals root.
    #[error("withdrawals root mismatch: header has {expected}, body gives {actual}")]
    WithdrawalsRoot {
        /// Root in the header.
        expected: B256,
        /// Root computed from the body.
        actual: B256,
    },
    /// The header has a withdrawals root but the body has no withdrawals list.
    #[error("header has a withdrawals root but the body has no withdrawals")]
    MissingWithdrawals,
    /// The body has withdrawals but the header has no withdrawals root.
    #[error("body has withdrawals but the header has no withdrawals root")]
    UnexpectedWithdrawals,
}

impl BlockBody {
    /// The transactions root of this body.
    pub fn transactions_root(&self) -> B256 {
        proofs::calculate_transaction_root(&self.transactions)
    }

    /// The ommers hash of this body.
    pub fn ommers_hash(&self) -> B256 {
        if self.ommers.is_empty() { EMPTY_OMMER_ROOT_HASH } else { proofs::calculate_ommers_root(&self.ommers) }
    }

    /// Checks that this body is the one the header commits to.
    ///
    /// # Errors
    /// The first [`BodyMismatch`] found.
    pub fn verify(&self, header: &Header) -> Result<(), BodyMismatch> {
        let actual = self.transactions_root();
        if actual != header.transactions_root {
            return Err(BodyMismatch::TransactionsRoot { expected: header.transactions_root, actual });
        }
        let actual = self.ommers_hash();
        if actual != header.ommers_hash {
            return Err(BodyMismatch::OmmersHash { expected: header.ommers_hash, actual });
        }
        match (header.withdrawals_root, &self.withdrawals) {
            (Some(expected), Some(withdrawals)) => {
                let actual = proofs::calculate_withdrawals_root(withdrawals);
                if actual != expected {
                    return Err(BodyMismatch::WithdrawalsRoot { expected, actual });
                }
            }
            (Some(_), None) => return Err(BodyMismatch::MissingWithdrawals),
            (None, Some(_)) => return Err(BodyMismatch::UnexpectedWithdrawals),
            (None, None) => {}
        }
        Ok(())
    }

    fn payload_length(&self) -> usize {
        let txs: usize = self.transactions.iter().map(Encodable::length).sum();
        let ommers: usize = self.ommers.iter().map(Encodable::length).sum();
        let mut len = alloy_rlp::length_of_length(txs) + txs + alloy_rlp::length_of_length(ommers) + ommers;
        if let Some(w) = &self.withdrawals {
            let wl: usize = w.iter().map(Encodable::length).sum();
            len += alloy_rlp::length_of_length(wl) + wl;
        }
        len
    }
}

impl Encodable for BlockBody {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        RlpHeader { list: true, payload_length: self.payload_length() }.encode(out);
        alloy_rlp::encode_list(&self.transactions, out);
        alloy_rlp::encode_list(&self.ommers, out);
        if let Some(w) = &self.withdrawals {
            alloy_rlp::encode_list(w, out);
        }
    }

    fn length(&self) -> usize {
        let payload = self.payload_length();
        alloy_rlp::length_of_length(payload) + payload
    }
}

impl Decodable for BlockBody {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Self::decode_fields(RlpHeader::decode_bytes(buf, true)?)
    }
}

impl BlockBody {
    /// Decodes the body fields (`transactions, ommers[, withdrawals]`) that fill `payload`
    /// exactly, as they follow the header inside a whole block's RLP list.
    ///
    /// # Errors
    /// Malformed RLP or bytes left over.
    pub fn decode_fields(mut payload: &[u8]) -> alloy_rlp::Result<Self> {
        let total = payload.len();
        let transactions = Vec::<RawTx>::decode(&mut payload)?;
        let ommers = Vec::<Header>::decode(&mut payload)?;
        let withdrawals = if payload.is_empty() { None } else { Some(Vec::<Withdrawal>::decode(&mut payload)?) };
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch { expected: total, got: total - payload.len() });
        }
        Ok(Self { transactions, ommers, withdrawals })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_tx_is_wrapped_in_a_string_and_legacy_is_inlined() {
        let typed = RawTx::new(Bytes::from_static(&[0x02, 0xc1, 0x80])).unwrap();
        assert_eq!(alloy_rlp::encode(&typed), vec![0x83, 0x02, 0xc1, 0x80]);
        let legacy = RawTx::new(Bytes::from_static(&[0xc1, 0x80])).unwrap();
        assert_eq!(alloy_rlp::encode(&legacy), vec![0xc1, 0x80]);
        let body = BlockBody { transactions: vec![typed, legacy], ..Default::default() };
        let enc = alloy_rlp::encode(&body);
        assert_eq!(enc.len(), body.length());
        assert_eq!(BlockBody::decode(&mut enc.as_slice()).unwrap(), body);
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for bad in [&[][..], &[0xc3, 0xc0][..], &[0x80][..], &[0xc2, 0xc1, 0x81][..], &[0xc4, 0xc2, 0x81, 0x90, 0xc0][..]] {
            assert!(BlockBody::decode(&mut &bad[..]).is_err(), "{bad:02x?}");
        }
        assert!(RawTx::new(Bytes::new()).is_err());
        assert!(RawTx::new(Bytes::from_static(&[0x90])).is_err());
    }

    #[test]
    fn empty_body_matches_an_empty_header_and_detects_tampering() {
        let header = Header::default();
        let mut body = BlockBody::default();
        let header = Header { transactions_root: body.transactions_root(), ommers_hash: EMPTY_OMMER_ROOT_HASH, ..header };
        assert_eq!(body.verify(&header), Ok(()));
        body.transactions.push(RawTx::new(Bytes::from_static(&[0xc1, 0x80])).unwrap());
        assert!(matches!(body.verify(&header), Err(BodyMismatch::TransactionsRoot { .. })));
        body.transactions.clear();
        body.withdrawals = Some(vec![]);
        assert_eq!(body.verify(&header), Err(BodyMismatch::UnexpectedWithdrawals));
    }
}
