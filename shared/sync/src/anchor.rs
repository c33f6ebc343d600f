//! The first validator set of a genesis-file Bor chain, as Bor reads it for its genesis snapshot:
//! `getBorValidators(1)` called on the validator contract in the genesis state.
//!
//! The contract returns its initial validators from constants compiled into its bytecode (not
//! from storage), so the call is run on an EVM (revm) over the genesis allocation; nothing else
//! of the chain's state is needed.

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, sol};
use hypasis_chain::{bor::Validator, genesis::GenesisDoc};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    bytecode::Bytecode,
    context::{TxEnv, result::ExecutionResult},
    database::InMemoryDB,
    primitives::TxKind,
    state::AccountInfo,
};

sol! {
    /// Bor's validator-set contract (`BorValidatorSet`): signers and powers for a block.
    function getBorValidators(uint256 number) external view returns (address[] memory, uint256[] memory);
}

/// Gas given to the call: the call needs ~25,000; this stays under the EIP-7825 per-transaction
/// cap (2^24) that revm enforces.
const CALL_GAS: u64 = 10_000_000;

/// Why the genesis validator set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The genesis allocation has no code at the contract's address.
    #[error("the genesis file has no code at the validator contract {0}; give the first validator set with --bor-validators")]
    NoContract(Address),
    /// The EVM refused the call.
    #[error("calling getBorValidators(1) on {contract}: {reason}")]
    Call {
        /// The contract.
        contract: Address,
        /// Why.
        reason: String,
    },
    /// The answer is not what the function returns.
    #[error("getBorValidators(1) on {contract} answered {reason}")]
    Answer {
        /// The contract.
        contract: Address,
        /// What is wrong with it.
        reason: String,
    },
}

/// Runs `getBorValidators(1)` on `contract` over the genesis allocation of `doc`: the set Bor's
/// genesis snapshot starts from, in address order.
///
/// # Errors
/// [`AnchorError`] when the contract is missing, the call fails, or its answer is malformed.
pub fn genesis_validators(doc: &GenesisDoc, contract: Address) -> Result<Vec<Validator>, AnchorError> {
    let genesis = doc.genesis();
    if genesis.alloc.get(&contract).and_then(|a| a.code.as_ref()).is_none_or(|code| code.is_empty()) {
        return Err(AnchorError::NoContract(contract));
    }
    let mut db = InMemoryDB::default();
    for (address, account) in &genesis.alloc {
        let code = account.code.clone().filter(|c| !c.is_empty()).map(Bytecode::new_raw);
        let info = AccountInfo {
            balance: account.balance,
            nonce: account.nonce.unwrap_or_default(),
            code_hash: code.as_ref().map_or(revm::primitives::KECCAK_EMPTY, Bytecode::hash_slow),
            code,
            ..Default::default()
        };
        db.insert_account_info(*address, info);
        for (slot, value) in account.storage.iter().flatten() {
            let set = db.insert_account_storage(*address, U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0));
            set.map_err(|e| AnchorError::Call { contract, reason: format!("genesis storage of {address}: {e}") })?;
        }
    }
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| {
            cfg.chain_id = doc.chain_id();
            cfg.disable_nonce_check = true;
        })
        .modify_block_chained(|block| {
            block.number = U256::ZERO;
            block.timestamp = U256::from(genesis.timestamp);
            block.gas_limit = CALL_GAS;
            block.basefee = 0;
        })
        .build_mainnet();
    let call = getBorValidatorsCall { number: U256::from(1) };
    let tx = TxEnv::builder()
        .caller(Address::ZERO)
        .kind(TxKind::Call(contract))
        .data(call.abi_encode().into())
        .gas_limit(CALL_GAS)
        .gas_price(0)
        .chain_id(Some(doc.chain_id()))
        .build_fill();
    let outcome = evm.transact(tx).map_err(|e| AnchorError::Call { contract, reason: e.to_string() })?;
    let output = match outcome.result {
        ExecutionResult::Success { output, .. } => output.into_data(),
        ExecutionResult::Revert { output, .. } => return Err(AnchorError::Call { contract, reason: format!("reverted with {output}") }),
        ExecutionResult::Halt { reason, .. } => return Err(AnchorError::Call { contract, reason: format!("halted: {reason:?}") }),
    };
    let answer = getBorValidatorsCall::abi_decode_returns(&output).map_err(|e| AnchorError::Answer { contract, reason: e.to_string() })?;
    let (signers, powers) = (answer._0, answer._1);
    if signers.len() != powers.len() {
        let reason = format!("{} signers with {} powers", signers.len(), powers.len());
        return Err(AnchorError::Answer { contract, reason });
    }
    let mut set = Vec::with_capacity(signers.len());
    for (address, power) in signers.into_iter().zip(powers) {
        let power = u64::try_from(power).map_err(|_| AnchorError::Answer { contract, reason: format!("power {power} of {address}") })?;
        set.push(Validator { address, power });
    }
    set.sort_by_key(|v| v.address);
    Ok(set)
}
