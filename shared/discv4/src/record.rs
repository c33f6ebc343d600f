//! Our node record ([`enr.md`]), with the `eth` entry (`[[fork-hash, fork-next]]`, see
//! [`enr-entries/eth.md`]) that geth and Bor use to pick peers on their chain.
//!
//! [`enr.md`]: https://github.com/ethereum/devp2p/blob/master/enr.md
//! [`enr-entries/eth.md`]: https://github.com/ethereum/devp2p/blob/master/enr-entries/eth.md

use alloy_eip2124::{EnrForkIdEntry, ForkId};
use enr::Enr;
use std::net::Ipv4Addr;

/// The key type our records are signed with.
pub type EnrKey = k256_enr::ecdsa::SigningKey;

/// Why our record could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The node key is not a usable signing key.
    #[error("node key unusable for the ENR: {0}")]
    Key(k256_enr::ecdsa::Error),
    /// The record could not be built or signed (e.g. over 300 bytes).
    #[error("cannot build the ENR: {0}")]
    Build(#[from] enr::Error),
}

/// Builds and signs our record.
///
/// # Errors
/// When the key is not a valid secp256k1 secret or the record would exceed 300 bytes.
pub fn build(key: &k256::SecretKey, ip: Ipv4Addr, udp: u16, tcp: u16, fork_id: ForkId, seq: u64) -> Result<Enr<EnrKey>, RecordError> {
    let signing = EnrKey::from_slice(&key.to_bytes()).map_err(RecordError::Key)?;
    Enr::builder()
        .seq(seq)
        .ip4(ip)
        .udp4(udp)
        .tcp4(tcp)
        .add_value("eth", &EnrForkIdEntry::from(fork_id))
        .build(&signing)
        .map_err(RecordError::from)
}

/// The fork id in a record's `eth` entry, if any.
pub fn fork_id(record: &Enr<EnrKey>) -> Option<ForkId> {
    record.get_decodable::<EnrForkIdEntry>("eth").and_then(Result::ok).map(|e| e.fork_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example record of `enr.md`.
    #[test]
    fn spec_example_record() {
        let text = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
        let record: Enr<EnrKey> = text.parse().unwrap();
        assert_eq!(hex::encode(record.node_id().raw()), "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7");
        assert_eq!(record.ip4(), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(record.udp4(), Some(30303));
        assert_eq!(record.seq(), 1);
        assert!(record.verify());
        // The same content signed with the spec's key is the same node, and differs from the
        // published record only in the 64-byte signature (ECDSA nonces differ between signers).
        let key =
            k256::SecretKey::from_slice(&hex::decode("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291").unwrap()).unwrap();
        let signing = EnrKey::from_slice(&key.to_bytes()).unwrap();
        let rebuilt = Enr::builder().seq(1).ip4(Ipv4Addr::LOCALHOST).udp4(30303).build(&signing).unwrap();
        assert_eq!(rebuilt.node_id(), record.node_id());
        let (ours, theirs) = (alloy_rlp::encode(&rebuilt), alloy_rlp::encode(&record));
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours[..4], theirs[..4]);
        assert_eq!(ours[4 + 64..], theirs[4 + 64..]);
    }

    #[test]
    fn our_record_carries_the_fork_id() {
        let key = hypasis_rlpx::keys::random_secret();
        let fork = ForkId { hash: alloy_eip2124::ForkHash([0x22, 0xd5, 0x23, 0xb2]), next: 0 };
        let record = build(&key, Ipv4Addr::LOCALHOST, 30303, 30303, fork, 1).unwrap();
        let parsed: Enr<EnrKey> = record.to_base64().parse().unwrap();
        assert_eq!(fork_id(&parsed), Some(fork));
        assert_eq!(parsed.tcp4(), Some(30303));
    }
}
