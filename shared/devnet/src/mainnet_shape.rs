//! Transactions shaped like Polygon PoS mainnet's, so load figures mean the bytes a real Bor
//! node pulls: a mix of plain transfers, token transfers, swaps, game and NFT calls, oracle and
//! bridge updates and large batch calls, with ABI-shaped calldata (32-byte words, addresses and
//! small numbers zero-padded, as real calldata compresses) and the logs such calls emit.
//!
//! With 150 transactions a block body is about 115 KB and a receipt 300–700 bytes (consensus
//! encoding, bloom included), as on mainnet in 2025; see `tests` for the measured sizes. Every
//! transaction's gas is at most its share of half the gas limit (the EIP-1559 target), so the
//! base fee never climbs however long the devnet runs.

use crate::{generator::Call, genesis::GAS_LIMIT};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256, keccak256};

/// Most transactions per block the devnet makes: with more, the calls' intrinsic gas (calldata)
/// could pass the EIP-1559 target and the base fee would climb without end.
pub const MAX_TXS_PER_BLOCK: usize = 300;

/// Contracts the calls go to.
const CONTRACTS: u64 = 24;

/// One kind of mainnet traffic.
struct Archetype {
    /// Share of transactions, out of 100.
    weight: u64,
    /// Calldata words after the selector: at least, and how many more at most.
    words: (u64, u64),
    /// Gas it uses before the block's cap.
    gas: u64,
    /// Logs it emits: `(topics, data words)` each.
    logs: &'static [(usize, usize)],
}

/// Polygon mainnet's mix, roughly: transfers, ERC-20 transfers, swaps, game/NFT calls,
/// oracle/bridge updates, batch calls.
const MIX: [Archetype; 6] = [
    Archetype { weight: 18, words: (0, 0), gas: 21_000, logs: &[] },
    Archetype { weight: 30, words: (2, 0), gas: 52_000, logs: &[(3, 1)] },
    Archetype { weight: 20, words: (8, 6), gas: 150_000, logs: &[(3, 1), (3, 1), (1, 2), (3, 4)] },
    Archetype { weight: 12, words: (4, 6), gas: 90_000, logs: &[(4, 0), (2, 2)] },
    Archetype { weight: 10, words: (30, 30), gas: 250_000, logs: &[(2, 3)] },
    Archetype { weight: 10, words: (80, 80), gas: 600_000, logs: &[(1, 2), (3, 1), (2, 4)] },
];

/// A shaped transaction: its kind (0 legacy, 1 EIP-2930, 2 EIP-1559), the call and its logs.
pub(crate) struct Shaped {
    pub(crate) kind: usize,
    pub(crate) call: Call,
    pub(crate) logs: Vec<Log>,
}

/// Transaction `j` of block `number` (of `count`), sent by `from` on devnet branch `branch`.
pub(crate) fn transaction(number: u64, j: usize, count: usize, from: Address, branch: u64) -> Shaped {
    let mut rng = SplitMix(number.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (j as u64).rotate_left(32) ^ branch.rotate_left(17));
    let archetype = pick(&mut rng);
    // Three in four typed (EIP-1559), the rest legacy, a few EIP-2930.
    let kind = match rng.below(100) {
        0..=22 => 0,
        23..=26 => 1,
        _ => 2,
    };
    let transfer = archetype.words.0 == 0;
    let to =
        if transfer { address(keccak256([b"eoa".as_slice(), &rng.next().to_be_bytes()].concat())) } else { contract(rng.below(CONTRACTS)) };
    let value =
        if transfer || rng.below(10) == 0 { U256::from(rng.next() >> 8) + (U256::from(branch) << 64) } else { U256::from(branch) << 64 };
    let words = archetype.words.0 + rng.below(archetype.words.1 + 1);
    let input = if transfer { Bytes::new() } else { calldata(&mut rng, words) };
    let intrinsic = 21_000 + input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum::<u64>() + if kind == 1 { 2_400 + 1_900 } else { 0 };
    let share = GAS_LIMIT / 2 / count.max(1) as u64;
    let gas = archetype.gas.min(share).max(intrinsic);
    let logs = archetype.logs.iter().map(|(topics, words)| log(&mut rng, to, from, *topics, *words)).collect();
    Shaped { kind, call: Call { to, value, input, gas }, logs }
}

/// An archetype drawn by weight.
fn pick(rng: &mut SplitMix) -> &'static Archetype {
    let mut left = rng.below(100);
    for archetype in &MIX {
        if left < archetype.weight {
            return archetype;
        }
        left -= archetype.weight;
    }
    &MIX[0]
}

/// A deterministic contract address.
fn contract(i: u64) -> Address {
    address(keccak256([b"hypasis-devnet-contract".as_slice(), &i.to_be_bytes()].concat()))
}

fn address(hash: B256) -> Address {
    Address::from_slice(&hash[12..])
}

/// A selector and `words` ABI words: addresses and small numbers zero-padded, amounts and
/// hashes full.
fn calldata(rng: &mut SplitMix, words: u64) -> Bytes {
    let mut out = Vec::with_capacity(4 + 32 * words as usize);
    out.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    for _ in 0..words {
        out.extend_from_slice(&word(rng));
    }
    out.into()
}

/// One ABI word: 40% an address, 35% a small number, 25% 32 full bytes.
fn word(rng: &mut SplitMix) -> [u8; 32] {
    let mut word = [0u8; 32];
    let significant = match rng.below(100) {
        0..=39 => 20,
        40..=74 => 1 + rng.below(6) as usize,
        _ => 32,
    };
    for chunk in word[32 - significant..].chunks_mut(8) {
        let bytes = rng.next().to_be_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    word
}

/// A log of `contract` with `topics` topics (an event signature, then `from` and random
/// indexed values) and `words` words of data.
fn log(rng: &mut SplitMix, contract: Address, from: Address, topics: usize, words: usize) -> Log {
    let mut all = Vec::with_capacity(topics);
    for t in 0..topics {
        all.push(match t {
            0 => keccak256(rng.below(64).to_be_bytes()),
            1 => from.into_word(),
            _ => B256::from(word(rng)),
        });
    }
    let data: Vec<u8> = (0..words).flat_map(|_| word(rng)).collect();
    Log { address: contract, data: LogData::new_unchecked(all, data.into()) }
}

/// splitmix64: fast, deterministic, good enough to shape test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Devnet, DevnetConfig};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_rlp::Encodable;

    #[test]
    fn blocks_of_150_are_mainnet_sized_valid_and_keep_the_base_fee_down() {
        let mut devnet = Devnet::new(DevnetConfig { txs_per_block: 150, ..DevnetConfig::default() });
        let blocks = devnet.next_blocks(40);
        let body_bytes: Vec<usize> = blocks.iter().map(|b| b.body.length()).collect();
        let receipts: Vec<usize> =
            blocks.iter().flat_map(|b| b.receipts.as_ref().expect("receipts").iter().map(|r| r.encoded_2718().len())).collect();
        let mean_body = body_bytes.iter().sum::<usize>() / body_bytes.len();
        let mean_receipt = receipts.iter().sum::<usize>() / receipts.len();
        eprintln!("150 txs per block: mean body {mean_body} bytes, mean receipt {mean_receipt} bytes");
        assert!((90_000..=150_000).contains(&mean_body), "mean body {mean_body} bytes");
        assert!((300..=700).contains(&mean_receipt), "mean receipt {mean_receipt} bytes");
        for block in &blocks {
            assert_eq!(block.body.transactions.len(), 150);
            block.verify().expect("bodies and receipts match their headers");
            assert!(block.header.gas_used <= block.header.gas_limit / 2, "at most the EIP-1559 target");
        }
        let fees: Vec<u64> = blocks.iter().map(|b| b.header.base_fee_per_gas.expect("London")).collect();
        assert!(fees.windows(2).all(|w| w[1] <= w[0]), "the base fee never climbs: {fees:?}");
    }

    #[test]
    fn the_most_transactions_per_block_stay_under_the_gas_target() {
        let config = DevnetConfig { txs_per_block: super::MAX_TXS_PER_BLOCK, ..DevnetConfig::default() };
        for block in Devnet::new(config).next_blocks(8) {
            assert!(block.header.gas_used <= block.header.gas_limit / 2, "block {}: {} gas", block.number(), block.header.gas_used);
        }
    }
}
