//! Receipts in consensus form and their encodings.
//!
//! - Consensus (EIP-2718) encoding, hashed into `receiptsRoot`: `rlp([status, cumulativeGas,
//!   bloom, logs])`, prefixed by the type byte for typed receipts.
//! - eth/68 wire encoding (`Receipts` message): a legacy receipt inlined as its list, a typed one
//!   wrapped in an RLP string (like transactions in bodies).
//! - eth/69 wire encoding ([EIP-7642]): `rlp([type, status, cumulativeGas, logs])`, no bloom.
//!
//! The bloom is never stored: it is derived from the logs, so a receipt cannot carry a bloom that
//! disagrees with its logs.
//!
//! [EIP-7642]: https://eips.ethereum.org/EIPS/eip-7642

use alloy_consensus::{Eip658Value, Header, proofs};
use alloy_primitives::{B256, Bloom, Log, logs_bloom};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};

/// A transaction receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// EIP-2718 type of the transaction; `0` for legacy.
    pub tx_type: u8,
    /// Success flag (EIP-658) or, before Byzantium, the post-transaction state root.
    pub status: Eip658Value,
    /// Gas used by this and all earlier transactions in the block.
    pub cumulative_gas_used: u64,
    /// Logs emitted.
    pub logs: Vec<Log>,
}

/// The receipts do not match the header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receipts root mismatch: header has {expected}, receipts give {actual}")]
pub struct ReceiptsMismatch {
    /// Root in the header.
    pub expected: B256,
    /// Root computed from the receipts.
    pub actual: B256,
}

impl Receipt {
    /// The logs bloom, derived from the logs.
    pub fn bloom(&self) -> Bloom {
        logs_bloom(self.logs.iter())
    }

    fn fields_length(&self, bloom: bool) -> usize {
        let mut len = self.status.length() + self.cumulative_gas_used.length() + list_length(&self.logs);
        if bloom {
            len += Bloom::ZERO.length();
        }
        len
    }

    fn encode_consensus_list(&self, out: &mut dyn alloy_rlp::BufMut) {
        RlpHeader { list: true, payload_length: self.fields_length(true) }.encode(out);
        self.status.encode(out);
        self.cumulative_gas_used.encode(out);
        self.bloom().encode(out);
        alloy_rlp::encode_list(&self.logs, out);
    }

    fn consensus_list_length(&self) -> usize {
        let payload = self.fields_length(true);
        alloy_rlp::length_of_length(payload) + payload
    }

    /// Decodes the consensus (EIP-2718) encoding.
    ///
    /// # Errors
    /// Malformed RLP, an empty input, or a bloom that does not match the logs.
    pub fn decode_2718(bytes: &[u8]) -> alloy_rlp::Result<Self> {
        let first = *bytes.first().ok_or(alloy_rlp::Error::InputTooShort)?;
        let (tx_type, mut rest) = if first >= 0xc0 {
            (0, bytes)
        } else if first < 0x80 {
            (first, &bytes[1..])
        } else {
            return Err(alloy_rlp::Error::Custom("receipt is neither typed nor an RLP list"));
        };
        let receipt = Self::decode_consensus_list(tx_type, &mut rest)?;
        if !rest.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing bytes after receipt"));
        }
        Ok(receipt)
    }

    fn decode_consensus_list(tx_type: u8, buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let status = Eip658Value::decode(&mut payload)?;
        let cumulative_gas_used = u64::decode(&mut payload)?;
        let bloom = Bloom::decode(&mut payload)?;
        let logs = Vec::<Log>::decode(&mut payload)?;
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("unexpected fields in receipt"));
        }
        let receipt = Self { tx_type, status, cumulative_gas_used, logs };
        if receipt.bloom() != bloom {
            return Err(alloy_rlp::Error::Custom("receipt bloom does not match its logs"));
        }
        Ok(receipt)
    }

    /// Encodes in eth/69 form: `[type, status, cumulativeGas, logs]`.
    pub fn encode_eth69(&self, out: &mut dyn alloy_rlp::BufMut) {
        RlpHeader { list: true, payload_length: self.eth69_payload_length() }.encode(out);
        self.tx_type.encode(out);
        self.status.encode(out);
        self.cumulative_gas_used.encode(out);
        alloy_rlp::encode_list(&self.logs, out);
    }

    fn eth69_payload_length(&self) -> usize {
        self.tx_type.length() + self.fields_length(false)
    }

    /// Length of the eth/69 encoding.
    pub fn eth69_length(&self) -> usize {
        let payload = self.eth69_payload_length();
        alloy_rlp::length_of_length(payload) + payload
    }

    /// Decodes the eth/69 form.
    ///
    /// # Errors
    /// Malformed RLP or a type byte outside `0x00..=0x7f`.
    pub fn decode_eth69(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let tx_type = u8::decode(&mut payload)?;
        if tx_type >= 0x80 {
            return Err(alloy_rlp::Error::Custom("receipt type out of range"));
        }
        let status = Eip658Value::decode(&mut payload)?;
        let cumulative_gas_used = u64::decode(&mut payload)?;
        let logs = Vec::<Log>::decode(&mut payload)?;
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("unexpected fields in receipt"));
        }
        Ok(Self { tx_type, status, cumulative_gas_used, logs })
    }
}

fn list_length<T: Encodable>(items: &[T]) -> usize {
    let payload: usize = items.iter().map(Encodable::length).sum();
    alloy_rlp::length_of_length(payload) + payload
}

impl alloy_eips::eip2718::Encodable2718 for Receipt {
    fn type_flag(&self) -> Option<u8> {
        (self.tx_type != 0).then_some(self.tx_type)
    }

    fn encode_2718_len(&self) -> usize {
        usize::from(self.tx_type != 0) + self.consensus_list_length()
    }

    fn encode_2718(&self, out: &mut dyn alloy_rlp::BufMut) {
        if self.tx_type != 0 {
            out.put_u8(self.tx_type);
        }
        self.encode_consensus_list(out);
    }
}

impl alloy_eips::Typed2718 for Receipt {
    fn ty(&self) -> u8 {
        self.tx_type
    }
}

/// eth/68 wire form: legacy inlined, typed wrapped in an RLP string.
impl Encodable for Receipt {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        if self.tx_type != 0 {
            RlpHeader { list: false, payload_length: 1 + self.consensus_list_length() }.encode(out);
            out.put_u8(self.tx_type);
        }
        self.encode_consensus_list(out);
    }

    fn length(&self) -> usize {
        let inner = self.consensus_list_length();
        if self.tx_type == 0 { inner } else { alloy_rlp::length_of_length(inner + 1) + inner + 1 }
    }
}

impl Decodable for Receipt {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let first = *buf.first().ok_or(alloy_rlp::Error::InputTooShort)?;
        if first >= 0xc0 {
            return Self::decode_consensus_list(0, buf);
        }
        let bytes = alloy_primitives::Bytes::decode(buf)?;
        match bytes.first() {
            Some(t) if *t < 0x80 => Self::decode_2718(&bytes),
            _ => Err(alloy_rlp::Error::Custom("typed receipt with an invalid type byte")),
        }
    }
}

/// Address of Bor's StateReceiver system contract, which emits the state-sync events.
pub const STATE_RECEIVER: alloy_primitives::Address = alloy_primitives::address!("0000000000000000000000000000000000001001");

/// A state-sync ("bor") receipt as Bor stores and serves it before Madhugiri: type 0, status
/// success, cumulative gas 0 (how Bor tells it apart from consensus receipts), with the
/// state-sync event logs.
pub fn state_sync_receipt(logs: Vec<alloy_primitives::Log>) -> Receipt {
    Receipt { tx_type: 0, status: true.into(), cumulative_gas_used: 0, logs }
}

/// Whether `receipt` has the shape of a state-sync receipt (cumulative gas 0 after at least
/// one transaction, or an empty block's only receipt with no gas).
pub fn is_state_sync_receipt(receipt: &Receipt) -> bool {
    receipt.tx_type == 0 && receipt.cumulative_gas_used == 0
}

/// The receipts root of a block's receipts.
pub fn receipts_root(receipts: &[Receipt]) -> B256 {
    proofs::calculate_receipt_root(receipts)
}

/// Checks that `receipts` are the ones `header` commits to.
///
/// # Errors
/// [`ReceiptsMismatch`] with both roots.
pub fn verify_receipts(header: &Header, receipts: &[Receipt]) -> Result<(), ReceiptsMismatch> {
    let actual = receipts_root(receipts);
    if actual == header.receipts_root { Ok(()) } else { Err(ReceiptsMismatch { expected: header.receipts_root, actual }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Address, Bytes, LogData};

    fn sample(tx_type: u8) -> Receipt {
        let log =
            Log { address: Address::repeat_byte(7), data: LogData::new_unchecked(vec![B256::repeat_byte(1)], Bytes::from_static(b"hi")) };
        Receipt { tx_type, status: true.into(), cumulative_gas_used: 21_000, logs: vec![log] }
    }

    #[test]
    fn all_three_encodings_round_trip() {
        for t in [0u8, 1, 2, 0x7f] {
            let r = sample(t);
            let wire = alloy_rlp::encode(&r);
            assert_eq!(wire.len(), r.length());
            assert_eq!(Receipt::decode(&mut wire.as_slice()).unwrap(), r);
            let c = r.encoded_2718();
            assert_eq!(c.len(), r.encode_2718_len());
            assert_eq!(Receipt::decode_2718(&c).unwrap(), r);
            let mut e69 = Vec::new();
            r.encode_eth69(&mut e69);
            assert_eq!(e69.len(), r.eth69_length());
            assert_eq!(Receipt::decode_eth69(&mut e69.as_slice()).unwrap(), r);
        }
    }

    #[test]
    fn a_bloom_that_lies_about_the_logs_is_rejected() {
        let r = sample(2);
        let mut c = r.encoded_2718();
        // the bloom starts after type(1) + list header(3) + status(1) + gas(3) + bloom header(3)
        let bloom_at = 1 + 3 + 1 + 3 + 3;
        c[bloom_at] ^= 0xff;
        assert!(Receipt::decode_2718(&c).is_err());
    }

    #[test]
    fn malformed_receipts_are_errors() {
        for bad in [&[][..], &[0x80][..], &[0x02][..], &[0x02, 0xc0][..], &[0xc1, 0x01][..]] {
            assert!(Receipt::decode_2718(bad).is_err(), "{bad:02x?}");
            assert!(Receipt::decode(&mut &bad[..]).is_err(), "{bad:02x?}");
        }
    }
}
