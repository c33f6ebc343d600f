//! Bor's seal check, header by header, as its snapshot does it (docs/design/bor-seal-checks.md):
//! the signer must be a producer of the set in force at the parent, the difficulty must match
//! the signer's place after the sprint's proposer, the timestamp must respect the period, the
//! producer delay and the backup multiplier, and a sprint-end header must carry exactly the set
//! that governs the next sprint.
//!
//! Bor checks that list against the validator contract's state (filled from Heimdall's spans);
//! we have no state, so the caller says what the next set must be: a span's producers when it
//! knows the span, else the current set unchanged (which is what a chain run without Heimdall
//! always lists: Bor then commits every new span as a copy of the current set).
//!
//! A [`Snapshot`] is that state after one block; [`Snapshot::apply`] checks the next block and
//! returns the state after it. Whoever holds a snapshot chooses where it came from (its anchor).

use crate::{
    BorSpec, SealedHeader,
    bor::{self, Validator},
    bor_producers::{Producers, ProducersError},
};
use alloy_primitives::{Address, B256};

/// Why a block fails the seal check. [`SealError::reason`] names it for metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The block is not the child of the snapshot's block.
    #[error("block {number} (parent {parent}) does not follow the checked block {at} ({hash})")]
    NotChild {
        /// Block number.
        number: u64,
        /// Its parent hash.
        parent: B256,
        /// The snapshot's block number.
        at: u64,
        /// The snapshot's block hash.
        hash: B256,
    },
    /// The seal cannot be read or recovered.
    #[error("block {number}: bad seal: {reason}")]
    BadSeal {
        /// Block number.
        number: u64,
        /// Why.
        reason: String,
    },
    /// Sealed by someone outside the producer set.
    #[error("block {number} is sealed by {signer}, not a producer of the set in force at block {}", number - 1)]
    Unauthorized {
        /// Block number.
        number: u64,
        /// Who sealed it.
        signer: Address,
    },
    /// The difficulty does not match the signer's turn.
    #[error("block {number}: difficulty {actual}, expected {expected} for signer {signer}")]
    WrongDifficulty {
        /// Block number.
        number: u64,
        /// What the signer's turn gives.
        expected: u64,
        /// What the header says (saturated to `u64::MAX`).
        actual: u64,
        /// Who sealed it.
        signer: Address,
    },
    /// Sealed earlier than the signer's turn allows.
    #[error(
        "block {number}: timestamp {time} is before {earliest} (parent time + delay for a signer {succession} places after the proposer)"
    )]
    TooSoon {
        /// Block number.
        number: u64,
        /// Its timestamp.
        time: u64,
        /// The earliest allowed.
        earliest: u64,
        /// The signer's place after the proposer.
        succession: u64,
    },
    /// The validator list in the extra data is wrong for this block.
    #[error("block {number}: validator list: {reason}")]
    ValidatorList {
        /// Block number.
        number: u64,
        /// Why.
        reason: String,
    },
}

impl SealError {
    /// A short name for the `reason` label of `hypasis_blocks_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotChild { .. } => "unlinked",
            Self::BadSeal { .. } => "bad_seal",
            Self::Unauthorized { .. } => "unauthorized_signer",
            Self::WrongDifficulty { .. } => "wrong_difficulty",
            Self::TooSoon { .. } => "too_soon",
            Self::ValidatorList { .. } => "validator_list",
        }
    }

    /// The block the error is about.
    pub fn number(&self) -> u64 {
        match self {
            Self::NotChild { number, .. }
            | Self::BadSeal { number, .. }
            | Self::Unauthorized { number, .. }
            | Self::WrongDifficulty { number, .. }
            | Self::TooSoon { number, .. }
            | Self::ValidatorList { number, .. } => *number,
        }
    }
}

/// The producer set in force after a block, and what the next block needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    number: u64,
    hash: B256,
    time: u64,
    producers: Producers,
}

impl Snapshot {
    /// The snapshot at an anchor block whose set is `validators`, as Bor builds its genesis
    /// snapshot (one increment: the proposer of the first sprint).
    ///
    /// # Errors
    /// [`ProducersError`] when the list is empty, repeats an address or has a bad power.
    pub fn anchor(header: &SealedHeader, validators: &[Validator]) -> Result<Self, ProducersError> {
        Ok(Self { number: header.number(), hash: header.hash(), time: header.timestamp, producers: Producers::genesis(validators)? })
    }

    /// The block this snapshot follows.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// That block's hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The producer set (with the current proposer).
    pub fn producers(&self) -> &Producers {
        &self.producers
    }

    /// The snapshot after block `number` (with `hash` and `time`) of a chain whose sprint-end
    /// lists never changed the set since this snapshot (what [`Snapshot::apply`] enforces): the
    /// same set, its proposer advanced once per sprint end in between. No header is needed.
    pub fn advanced_to(&self, spec: &BorSpec, number: u64, hash: B256, time: u64) -> Self {
        let list = self.producers.as_validators();
        let mut producers = self.producers.clone();
        for _ in 0..sprint_ends_between(spec, self.number, number) {
            producers = producers.next_sprint(&list).expect("a set that was valid stays valid with the same list");
        }
        Self { number, hash, time, producers }
    }

    /// Checks `header`, the child of this snapshot's block, and returns the snapshot after it. A
    /// sprint-end header must list the current set unchanged.
    ///
    /// # Errors
    /// [`SealError`] naming the first rule the header breaks.
    pub fn apply(&self, spec: &BorSpec, header: &SealedHeader) -> Result<Self, SealError> {
        self.apply_with_next_set(spec, header, None)
    }

    /// As [`Snapshot::apply`], with the set a sprint-end header must list (`None`: the current
    /// set unchanged), in any order.
    ///
    /// # Errors
    /// [`SealError`] naming the first rule the header breaks.
    pub fn apply_with_next_set(&self, spec: &BorSpec, header: &SealedHeader, next_set: Option<&[Validator]>) -> Result<Self, SealError> {
        let number = header.number();
        if number != self.number + 1 || header.parent_hash() != self.hash {
            return Err(SealError::NotChild { number, parent: header.parent_hash(), at: self.number, hash: self.hash });
        }
        let signer = bor::recover_signer_with(header.header(), spec.seals_base_fee(number))
            .map_err(|e| SealError::BadSeal { number, reason: e.to_string() })?;
        let succession = self.producers.succession(&signer).ok_or(SealError::Unauthorized { number, signer })?;
        let expected = self.producers.producers().len() as u64 - succession;
        let actual = u64::try_from(header.difficulty).unwrap_or(u64::MAX);
        if actual != expected {
            return Err(SealError::WrongDifficulty { number, expected, actual, signer });
        }
        let earliest = self.time.saturating_add(spec.producer_delay(number, succession).max(spec.period(number)));
        if header.timestamp < earliest {
            return Err(SealError::TooSoon { number, time: header.timestamp, earliest, succession });
        }
        let list = bor::validators(header.header(), spec.extra_layout(number))
            .map_err(|e| SealError::ValidatorList { number, reason: e.to_string() })?;
        let producers = if spec.is_sprint_end(number) {
            self.next_sprint(number, &list, next_set)?
        } else {
            if !list.is_empty() {
                return Err(SealError::ValidatorList {
                    number,
                    reason: format!("{} validators listed on a block that ends no sprint", list.len()),
                });
            }
            self.producers.clone()
        };
        Ok(Self { number, hash: header.hash(), time: header.timestamp, producers })
    }

    /// The set of the next sprint from the list of sprint-end block `number`: the list must be
    /// the expected set (`next_set`, else the current one), in address order (as Bor checks at
    /// the next sprint's first block).
    fn next_sprint(&self, number: u64, list: &[Validator], next_set: Option<&[Validator]>) -> Result<Producers, SealError> {
        let mut expected = next_set.map_or_else(|| self.producers.as_validators(), <[Validator]>::to_vec);
        expected.sort_by_key(|v| v.address);
        if list != expected {
            let show = |v: Option<&Validator>| v.map_or_else(|| "nothing".to_owned(), |v| format!("{}:{}", v.address, v.power));
            let at = list.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(list.len().min(expected.len()));
            let reason = format!(
                "{} entries where the set has {}; entry {at} is {}, expected {}",
                list.len(),
                expected.len(),
                show(list.get(at)),
                show(expected.get(at))
            );
            return Err(SealError::ValidatorList { number, reason });
        }
        self.producers.next_sprint(list).map_err(|e| SealError::ValidatorList { number, reason: e.to_string() })
    }
}

/// How many sprint ends lie in `(after, through]`.
pub fn sprint_ends_between(spec: &BorSpec, after: u64, through: u64) -> u64 {
    if through <= after {
        return 0;
    }
    // Walk the sprint schedule segment by segment: within one, ends are every `len` blocks.
    let mut count = 0;
    let mut from = after + 1;
    while from <= through {
        let len = spec.sprint_length(from);
        let next_change = spec.sprints.iter().map(|(start, _)| *start).filter(|start| *start > from).min().unwrap_or(u64::MAX);
        let to = through.min(next_change - 1);
        // Ends e in [from, to] with (e + 1) % len == 0.
        count += (to + 1) / len - from / len;
        from = to + 1;
    }
    count
}

/// Checks `headers` in order from `snapshot` and returns the snapshot after the last.
///
/// # Errors
/// The first [`SealError`].
pub fn apply_all<'a>(
    spec: &BorSpec,
    snapshot: &Snapshot,
    headers: impl IntoIterator<Item = &'a SealedHeader>,
) -> Result<Snapshot, SealError> {
    let mut at = snapshot.clone();
    for header in headers {
        at = at.apply(spec, header)?;
    }
    Ok(at)
}
