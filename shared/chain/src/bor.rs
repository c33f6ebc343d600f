//! Polygon Bor consensus details we need to check headers: the seal and the extra-data layouts.
//!
//! Bor signs `keccak256(rlp([parentHash, uncleHash, coinbase, stateRoot, txRoot, receiptRoot,
//! bloom, difficulty, number, gasLimit, gasUsed, time, extra[..len-65], mixDigest, nonce
//! (, baseFee)]))` and puts the 65-byte `r ‖ s ‖ v` signature (v ∈ {0, 1}) at the end of
//! `extraData`. The base fee is part of the signed data from Bor's Jaipur fork on (London and
//! Jaipur are the same block on Polygon networks; a chain may have London first, and then its
//! base fee exists but is not sealed until Jaipur: use [`seal_hash_with`] there).
//!
//! `extraData` is `vanity(32) ‖ middle ‖ seal(65)`. Before Cancun (Bor "Napoli") the middle is
//! the raw validator list on sprint-end blocks (`address(20) ‖ power(20)` each) and empty
//! otherwise; from Cancun on it is `rlp(BlockExtraData { validatorBytes, txDependency, .. })` on
//! every block.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};

/// Length of the vanity prefix of `extraData`.
pub const EXTRA_VANITY: usize = 32;
/// Length of the seal (signature) suffix of `extraData`.
pub const EXTRA_SEAL: usize = 65;
/// Length of one validator entry in the pre-Cancun layout: address (20) and voting power (20).
pub const VALIDATOR_BYTES: usize = 40;

/// Why a Bor header check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BorError {
    /// `extraData` is too short to hold vanity and seal.
    #[error("extraData is {0} bytes, shorter than vanity + seal ({min})", min = EXTRA_VANITY + EXTRA_SEAL)]
    ExtraTooShort(usize),
    /// The seal is not a valid recoverable signature.
    #[error("invalid seal signature: {0}")]
    BadSeal(String),
    /// The validator bytes are not a whole number of entries.
    #[error("validator bytes of length {0} are not a multiple of {VALIDATOR_BYTES}")]
    BadValidatorBytes(usize),
    /// The post-Cancun block extra data is not valid RLP.
    #[error("malformed block extra data RLP: {0}")]
    BadExtraRlp(alloy_rlp::Error),
}

/// Which `extraData` layout a block uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraLayout {
    /// Before Cancun: raw validator bytes between vanity and seal.
    Raw,
    /// From Cancun on: `rlp(BlockExtraData)` between vanity and seal.
    Rlp,
}

/// A validator entry as listed in sprint-end headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validator {
    /// Signer address.
    pub address: Address,
    /// Voting power.
    pub power: u64,
}

/// The hash Bor signs for a header, its base fee (when it has one) included.
///
/// # Errors
/// [`BorError::ExtraTooShort`] when `extraData` cannot hold a seal.
pub fn seal_hash(header: &Header) -> Result<B256, BorError> {
    seal_hash_with(header, true)
}

/// The hash Bor signs for a header, with the base fee included only when `seal_base_fee` (Bor's
/// Jaipur fork is active at the header's number) and the header has one.
///
/// # Errors
/// [`BorError::ExtraTooShort`] when `extraData` cannot hold a seal.
pub fn seal_hash_with(header: &Header, seal_base_fee: bool) -> Result<B256, BorError> {
    let extra = unsealed_extra(header)?;
    let mut fields: Vec<u8> = Vec::with_capacity(640);
    header.parent_hash.encode(&mut fields);
    header.ommers_hash.encode(&mut fields);
    header.beneficiary.encode(&mut fields);
    header.state_root.encode(&mut fields);
    header.transactions_root.encode(&mut fields);
    header.receipts_root.encode(&mut fields);
    header.logs_bloom.encode(&mut fields);
    header.difficulty.encode(&mut fields);
    header.number.encode(&mut fields);
    header.gas_limit.encode(&mut fields);
    header.gas_used.encode(&mut fields);
    header.timestamp.encode(&mut fields);
    extra.encode(&mut fields);
    header.mix_hash.encode(&mut fields);
    header.nonce.encode(&mut fields);
    if let Some(base_fee) = header.base_fee_per_gas.filter(|_| seal_base_fee) {
        base_fee.encode(&mut fields);
    }
    let mut out = Vec::with_capacity(fields.len() + 3);
    RlpHeader { list: true, payload_length: fields.len() }.encode(&mut out);
    out.extend_from_slice(&fields);
    Ok(keccak256(out))
}

fn unsealed_extra(header: &Header) -> Result<&[u8], BorError> {
    let extra = &header.extra_data;
    if extra.len() < EXTRA_VANITY + EXTRA_SEAL {
        return Err(BorError::ExtraTooShort(extra.len()));
    }
    Ok(&extra[..extra.len() - EXTRA_SEAL])
}

/// Recovers the address that sealed the header.
///
/// # Errors
/// [`BorError`] when `extraData` is too short or the seal is not a valid signature.
pub fn recover_signer(header: &Header) -> Result<Address, BorError> {
    recover_signer_with(header, true)
}

/// Recovers the address that sealed the header, the base fee sealed only when `seal_base_fee`
/// (see [`seal_hash_with`]).
///
/// # Errors
/// [`BorError`] when `extraData` is too short or the seal is not a valid signature.
pub fn recover_signer_with(header: &Header, seal_base_fee: bool) -> Result<Address, BorError> {
    let hash = seal_hash_with(header, seal_base_fee)?;
    let extra = &header.extra_data;
    let seal: &[u8; EXTRA_SEAL] = extra[extra.len() - EXTRA_SEAL..].try_into().map_err(|_| BorError::ExtraTooShort(extra.len()))?;
    let signature = Signature::from_raw_array(seal).map_err(|e| BorError::BadSeal(e.to_string()))?;
    signature.recover_address_from_prehash(&hash).map_err(|e| BorError::BadSeal(e.to_string()))
}

/// Writes `signature` as the seal of `header` (the last 65 bytes of `extraData`, `v` as 0 or 1).
///
/// # Errors
/// [`BorError::ExtraTooShort`] when `extraData` has no room for a seal.
pub fn set_seal(header: &mut Header, signature: &Signature) -> Result<(), BorError> {
    let unsealed = unsealed_extra(header)?;
    let mut extra = Vec::with_capacity(unsealed.len() + EXTRA_SEAL);
    extra.extend_from_slice(unsealed);
    extra.extend_from_slice(&signature.r().to_be_bytes::<32>());
    extra.extend_from_slice(&signature.s().to_be_bytes::<32>());
    extra.push(u8::from(signature.v()));
    header.extra_data = Bytes::from(extra);
    Ok(())
}

/// Builds `extraData` with a zeroed seal, ready for [`set_seal`].
pub fn build_extra(vanity: [u8; EXTRA_VANITY], validators: &[Validator], layout: ExtraLayout) -> Bytes {
    let mut raw = Vec::with_capacity(validators.len() * VALIDATOR_BYTES);
    for v in validators {
        raw.extend_from_slice(v.address.as_slice());
        raw.extend_from_slice(&[0u8; 12]);
        raw.extend_from_slice(&v.power.to_be_bytes());
    }
    let mut extra = vanity.to_vec();
    match layout {
        ExtraLayout::Raw => extra.extend_from_slice(&raw),
        ExtraLayout::Rlp => {
            let validator_bytes = Bytes::from(raw);
            let tx_dependency: Vec<Vec<u64>> = Vec::new();
            let payload = validator_bytes.length() + tx_dependency.length();
            RlpHeader { list: true, payload_length: payload }.encode(&mut extra);
            validator_bytes.encode(&mut extra);
            tx_dependency.encode(&mut extra);
        }
    }
    extra.extend_from_slice(&[0u8; EXTRA_SEAL]);
    Bytes::from(extra)
}

/// The validator list carried by a header (empty on blocks that are not sprint ends).
///
/// # Errors
/// [`BorError`] when `extraData` is too short or its middle part is malformed.
pub fn validators(header: &Header, layout: ExtraLayout) -> Result<Vec<Validator>, BorError> {
    let middle = &unsealed_extra(header)?[EXTRA_VANITY..];
    let bytes = match layout {
        ExtraLayout::Raw => Bytes::copy_from_slice(middle),
        ExtraLayout::Rlp if middle.is_empty() => Bytes::new(),
        ExtraLayout::Rlp => {
            let mut buf = middle;
            let list = RlpHeader::decode(&mut buf).map_err(BorError::BadExtraRlp)?;
            if !list.list {
                return Err(BorError::BadExtraRlp(alloy_rlp::Error::UnexpectedString));
            }
            // Later Bor versions append fields; only the first one is read.
            Bytes::decode(&mut buf).map_err(BorError::BadExtraRlp)?
        }
    };
    if bytes.len() % VALIDATOR_BYTES != 0 {
        return Err(BorError::BadValidatorBytes(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(VALIDATOR_BYTES)
        .map(|c| {
            let mut power = [0u8; 8];
            power.copy_from_slice(&c[32..40]);
            Validator { address: Address::from_slice(&c[..20]), power: u64::from_be_bytes(power) }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_layouts_round_trip_validators() {
        let set =
            vec![Validator { address: Address::repeat_byte(1), power: 100 }, Validator { address: Address::repeat_byte(2), power: 7 }];
        for layout in [ExtraLayout::Raw, ExtraLayout::Rlp] {
            let header = Header { extra_data: build_extra([9; 32], &set, layout), ..Default::default() };
            assert_eq!(validators(&header, layout).unwrap(), set);
        }
    }

    #[test]
    fn short_extra_is_an_error() {
        let header = Header { extra_data: Bytes::from(vec![0u8; 96]), ..Default::default() };
        assert_eq!(seal_hash(&header), Err(BorError::ExtraTooShort(96)));
        assert!(recover_signer(&header).is_err());
    }

    #[test]
    fn a_zero_seal_does_not_recover() {
        let header = Header { extra_data: build_extra([0; 32], &[], ExtraLayout::Raw), ..Default::default() };
        assert!(matches!(recover_signer(&header), Err(BorError::BadSeal(_))));
    }
}
