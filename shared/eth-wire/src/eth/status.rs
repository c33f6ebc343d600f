//! The Status message.
//!
//! - eth/68: `[version, networkid, td, head, genesis, forkid]`
//! - eth/69 (EIP-7642): `[version, networkid, genesis, forkid, earliest, latest, latestHash]`
//! - Bor's eth/69 keeps total difficulty: `[version, networkid, td, genesis, forkid, earliest,
//!   latest, latestHash]`
//!
//! Decoding accepts any of the three and ignores extra trailing elements.

use crate::{WireError, error::rlp, p2p::list_payload};
use alloy_eip2124::ForkId;
use alloy_primitives::{B256, U256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};

/// A Status message in any dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// eth version.
    pub version: u64,
    /// Network id.
    pub network_id: u64,
    /// Total difficulty of the head (eth/68, Bor eth/69).
    pub total_difficulty: Option<U256>,
    /// Genesis hash.
    pub genesis: B256,
    /// Fork id.
    pub fork_id: ForkId,
    /// Head (latest) block hash.
    pub head: B256,
    /// Earliest and latest full block available (eth/69).
    pub range: Option<(u64, u64)>,
}

impl Status {
    /// Encodes for the status's version; `bor` selects Bor's eth/69 dialect (with TD).
    pub fn encode(&self, bor: bool) -> Vec<u8> {
        let mut fields = Vec::new();
        self.version.encode(&mut fields);
        self.network_id.encode(&mut fields);
        let td = self.total_difficulty.unwrap_or_default();
        if self.version < 69 {
            td.encode(&mut fields);
            self.head.encode(&mut fields);
            self.genesis.encode(&mut fields);
            self.fork_id.encode(&mut fields);
        } else {
            if bor {
                td.encode(&mut fields);
            }
            self.genesis.encode(&mut fields);
            self.fork_id.encode(&mut fields);
            let (earliest, latest) = self.range.unwrap_or_default();
            earliest.encode(&mut fields);
            latest.encode(&mut fields);
            self.head.encode(&mut fields);
        }
        let mut out = Vec::with_capacity(fields.len() + 3);
        RlpHeader { list: true, payload_length: fields.len() }.encode(&mut out);
        out.extend_from_slice(&fields);
        out
    }

    /// Decodes any dialect.
    ///
    /// # Errors
    /// [`WireError::Rlp`] when malformed.
    pub fn decode(data: &[u8]) -> Result<Self, WireError> {
        let e = rlp("Status");
        let mut p = list_payload(data, "Status")?;
        let version = u64::decode(&mut p).map_err(rlp("Status"))?;
        let network_id = u64::decode(&mut p).map_err(rlp("Status"))?;
        if version < 69 {
            let td = U256::decode(&mut p).map_err(rlp("Status"))?;
            let head = B256::decode(&mut p).map_err(rlp("Status"))?;
            let genesis = B256::decode(&mut p).map_err(rlp("Status"))?;
            let fork_id = ForkId::decode(&mut p).map_err(rlp("Status"))?;
            return Ok(Self { version, network_id, total_difficulty: Some(td), genesis, fork_id, head, range: None });
        }
        // eth/69: standard is `genesis, forkid, …`, Bor's is `td, genesis, forkid, …`. The fork id
        // is the only list, so whether it comes second or third tells the dialect.
        let mut probe = p;
        let first = RlpHeader::decode(&mut probe).map_err(rlp("Status"))?;
        probe = probe.get(first.payload_length..).ok_or_else(|| e(alloy_rlp::Error::InputTooShort))?;
        let second_is_list = RlpHeader::decode(&mut probe).map_err(rlp("Status"))?.list;
        let total_difficulty = if second_is_list { None } else { Some(U256::decode(&mut p).map_err(rlp("Status"))?) };
        let genesis = B256::decode(&mut p).map_err(rlp("Status"))?;
        let fork_id = ForkId::decode(&mut p).map_err(rlp("Status"))?;
        let earliest = u64::decode(&mut p).map_err(rlp("Status"))?;
        let latest = u64::decode(&mut p).map_err(rlp("Status"))?;
        let head = B256::decode(&mut p).map_err(rlp("Status"))?;
        if earliest > latest {
            return Err(WireError::Breach(format!("Status range {earliest}..{latest} is inverted")));
        }
        Ok(Self { version, network_id, total_difficulty, genesis, fork_id, head, range: Some((earliest, latest)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eip2124::ForkHash;

    fn sample(version: u64) -> Status {
        Status {
            version,
            network_id: 137,
            total_difficulty: Some(U256::from(123_456u64)),
            genesis: B256::repeat_byte(1),
            fork_id: ForkId { hash: ForkHash([0x22, 0xd5, 0x23, 0xb2]), next: 0 },
            head: B256::repeat_byte(2),
            range: (version >= 69).then_some((0, 99)),
        }
    }

    #[test]
    fn all_dialects_round_trip() {
        let s68 = sample(68);
        assert_eq!(Status::decode(&s68.encode(false)).unwrap(), s68);
        let bor69 = sample(69);
        assert_eq!(Status::decode(&bor69.encode(true)).unwrap(), bor69);
        let std69 = Status { total_difficulty: None, ..sample(69) };
        assert_eq!(Status::decode(&std69.encode(false)).unwrap(), std69);
    }

    #[test]
    fn malformed_status_is_an_error() {
        assert!(Status::decode(&[]).is_err());
        assert!(Status::decode(&[0xc1, 0x44]).is_err());
        let mut truncated = sample(68).encode(false);
        truncated.truncate(20);
        assert!(Status::decode(&truncated).is_err());
        let inverted = Status { range: Some((10, 5)), ..sample(69) };
        assert!(Status::decode(&inverted.encode(true)).is_err());
    }
}
