//! A fake Polygon RootChain contract on L1, answering `eth_call` with the devnet's checkpoints.
//!
//! The real contract ([RootChain.sol]) stores each checkpoint Heimdall submits under a header
//! block id that grows by [`MAX_DEPOSITS`] per checkpoint. Two of its read functions are served:
//!
//! | function | selector | returns |
//! | --- | --- | --- |
//! | `currentHeaderBlock()` | `0xec7e4855` | `uint256`: id of the latest checkpoint (`k * 10000`) |
//! | `headerBlocks(uint256)` | `0x41539d4a` | `(bytes32 root, uint256 start, uint256 end, uint256 createdAt, address proposer)` |
//!
//! Selectors are the first four bytes of `keccak256` of the signature. An id that is no
//! checkpoint's answers all zeros, as an unset mapping entry does; any other selector reverts.
//!
//! Devnet checkpoint `k` (`k ≥ 1`) covers blocks `[(k-1)·I + 1, k·I]` for the configured
//! interval `I` and is published once the head reaches `k·I + CHECKPOINT_DELAY`. Its root is
//! [`hypasis_chain::checkpoint::root`] of those (honest) headers, `createdAt` the end block's
//! timestamp and the proposer the first devnet validator.
//!
//! [RootChain.sol]: https://github.com/maticnetwork/contracts/blob/main/contracts/root/RootChain.sol

use crate::error::RpcError;
use alloy_primitives::{Address, B256, Bytes, U256, address};

/// Address of the fake RootChain contract (the RootChain proxy's address on Ethereum mainnet).
pub const ROOTCHAIN_ADDRESS: Address = address!("86e4dc95c7fbdbf52e33d563bbdb00823894c287");

/// Step between consecutive checkpoints' header block ids (`MAX_DEPOSITS` in RootChain.sol).
pub const MAX_DEPOSITS: u64 = 10_000;

/// Blocks the head must be past a checkpoint's end before it is published, standing in for
/// Heimdall's delay in submitting checkpoints.
pub const CHECKPOINT_DELAY: u64 = 16;

/// `keccak256("currentHeaderBlock()")[..4]`.
pub const CURRENT_HEADER_BLOCK_SELECTOR: [u8; 4] = [0xec, 0x7e, 0x48, 0x55];

/// `keccak256("headerBlocks(uint256)")[..4]`.
pub const HEADER_BLOCKS_SELECTOR: [u8; 4] = [0x41, 0x53, 0x9d, 0x4a];

/// One published checkpoint, as `headerBlocks` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Merkle root of the covered headers.
    pub(crate) root: B256,
    /// First block covered.
    pub(crate) start: u64,
    /// Last block covered.
    pub(crate) end: u64,
    /// Timestamp of the end block.
    pub(crate) created_at: u64,
    /// Who proposed it.
    pub(crate) proposer: Address,
}

/// The number of the checkpoint that becomes publishable when block `head` is appended.
pub(crate) fn published_at(head: u64, interval: u64) -> Option<u64> {
    let end = head.checked_sub(CHECKPOINT_DELAY)?;
    (end >= interval && end.is_multiple_of(interval)).then_some(end / interval)
}

/// Answers a call to the contract with `data`, given the published checkpoints (checkpoint `k`
/// at index `k - 1`).
pub(crate) fn call(checkpoints: &[Checkpoint], data: &[u8]) -> Result<Bytes, RpcError> {
    let (selector, args) = data.split_first_chunk::<4>().ok_or(RpcError::Reverted)?;
    match *selector {
        CURRENT_HEADER_BLOCK_SELECTOR => Ok(word(U256::from(checkpoints.len() as u64) * U256::from(MAX_DEPOSITS)).into()),
        HEADER_BLOCKS_SELECTOR => {
            let id = U256::from_be_slice(args.first_chunk::<32>().ok_or(RpcError::Reverted)?);
            let (k, rest) = id.div_rem(U256::from(MAX_DEPOSITS));
            let found = usize::try_from(k).ok().filter(|&k| k >= 1 && rest.is_zero()).and_then(|k| checkpoints.get(k - 1));
            let mut out = Vec::with_capacity(5 * 32);
            match found {
                Some(c) => {
                    out.extend_from_slice(c.root.as_slice());
                    for value in [c.start, c.end, c.created_at] {
                        out.extend_from_slice(&word(U256::from(value)));
                    }
                    out.extend_from_slice(c.proposer.into_word().as_slice());
                }
                None => out.resize(5 * 32, 0),
            }
            Ok(out.into())
        }
        _ => Err(RpcError::Reverted),
    }
}

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes::<32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn selectors_are_keccak_of_the_signatures() {
        assert_eq!(keccak256("currentHeaderBlock()")[..4], CURRENT_HEADER_BLOCK_SELECTOR);
        assert_eq!(keccak256("headerBlocks(uint256)")[..4], HEADER_BLOCKS_SELECTOR);
    }

    #[test]
    fn publication_waits_for_the_delay() {
        assert_eq!(published_at(256 + CHECKPOINT_DELAY - 1, 256), None);
        assert_eq!(published_at(256 + CHECKPOINT_DELAY, 256), Some(1));
        assert_eq!(published_at(512 + CHECKPOINT_DELAY, 256), Some(2));
        assert_eq!(published_at(CHECKPOINT_DELAY, 256), None);
        assert_eq!(published_at(3, 256), None);
    }

    #[test]
    fn unknown_ids_are_zero_and_unknown_selectors_revert() {
        let checkpoint = Checkpoint { root: B256::repeat_byte(9), start: 1, end: 4, created_at: 77, proposer: Address::repeat_byte(5) };
        let cps = [checkpoint];
        let current = call(&cps, &CURRENT_HEADER_BLOCK_SELECTOR).unwrap();
        assert_eq!(U256::from_be_slice(&current), U256::from(10_000));
        let ask = |id: u64| call(&cps, &[&HEADER_BLOCKS_SELECTOR[..], &word(U256::from(id))].concat()).unwrap();
        let answer = ask(10_000);
        assert_eq!(&answer[..32], B256::repeat_byte(9).as_slice());
        assert_eq!(U256::from_be_slice(&answer[96..128]), U256::from(77));
        assert_eq!(&answer[140..160], Address::repeat_byte(5).as_slice());
        for id in [0, 1, 20_000, 10_001] {
            assert_eq!(ask(id), Bytes::from(vec![0; 160]), "id {id}");
        }
        assert_eq!(call(&cps, &[1, 2, 3, 4]), Err(RpcError::Reverted));
        assert_eq!(call(&cps, &HEADER_BLOCKS_SELECTOR), Err(RpcError::Reverted));
        assert_eq!(call(&cps, &[0xec]), Err(RpcError::Reverted));
    }
}
