//! Method parameters: block numbers and tags, hashes, indices, booleans, read the way
//! go-ethereum reads them (hex quantities with `0x`, no leading zeros required).

use crate::error::RpcError;
use alloy_primitives::B256;
use serde_json::Value;

/// A block named by a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRef {
    /// A number or tag.
    Number(BlockTag),
    /// A hash.
    Hash(B256),
}

/// A block number or one of the named tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTag {
    /// A number.
    Number(u64),
    /// `earliest`: block 0.
    Earliest,
    /// `latest`, and `pending` (we have no pending block).
    Latest,
    /// `safe`: the latest Heimdall milestone.
    Safe,
    /// `finalized`: the latest checkpoint verified on L1.
    Finalized,
}

/// Parameter `index` of `params`, or `null` when absent.
pub fn arg(params: &[Value], index: usize) -> &Value {
    params.get(index).unwrap_or(&Value::Null)
}

/// Refuses more than `most` parameters.
///
/// # Errors
/// `-32602` naming the count.
pub fn at_most(params: &[Value], most: usize) -> Result<(), RpcError> {
    if params.len() > most {
        return Err(RpcError::invalid_params(format!("too many arguments, want at most {most}")));
    }
    Ok(())
}

/// A hex quantity (`0x` and at least one digit, at most 64 bits).
pub fn quantity(value: &Value, index: usize) -> Result<u64, RpcError> {
    let text = value.as_str().ok_or_else(|| RpcError::invalid_param(index, "hex string expected"))?;
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
    let digits = digits.ok_or_else(|| RpcError::invalid_param(index, "hex string without 0x prefix"))?;
    if digits.is_empty() {
        return Err(RpcError::invalid_param(index, "hex string \"0x\""));
    }
    if digits.len() > 16 {
        return Err(RpcError::invalid_param(index, "hex number > 64 bits"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| RpcError::invalid_param(index, format!("invalid hex number {text:?}")))
}

/// A number given as a JSON number (as Bor's `bor_getRootHash` takes it) or a hex quantity.
pub fn uint(value: &Value, index: usize) -> Result<u64, RpcError> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| RpcError::invalid_param(index, format!("{n} is not a block number"))),
        other => quantity(other, index),
    }
}

/// A block number or tag.
pub fn block_tag(value: &Value, index: usize) -> Result<BlockTag, RpcError> {
    match value.as_str() {
        Some("earliest") => Ok(BlockTag::Earliest),
        Some("latest" | "pending") => Ok(BlockTag::Latest),
        Some("safe") => Ok(BlockTag::Safe),
        Some("finalized") => Ok(BlockTag::Finalized),
        Some(_) => quantity(value, index).map(BlockTag::Number),
        None => Err(RpcError::invalid_param(index, "block number or tag expected")),
    }
}

/// A 32-byte hash.
pub fn hash(value: &Value, index: usize) -> Result<B256, RpcError> {
    let text = value.as_str().ok_or_else(|| RpcError::invalid_param(index, "hash expected"))?;
    if !(text.starts_with("0x") && text.len() == 66) {
        return Err(RpcError::invalid_param(index, format!("hex string of length {}, want 66 for a hash", text.len())));
    }
    text.parse().map_err(|_| RpcError::invalid_param(index, format!("invalid hash {text:?}")))
}

/// A number, a tag, a hash, or an EIP-1898 object (`{"blockNumber": …}` or
/// `{"blockHash": …, "requireCanonical": …}`).
pub fn block_ref(value: &Value, index: usize) -> Result<BlockRef, RpcError> {
    if let Some(object) = value.as_object() {
        return match (object.get("blockNumber"), object.get("blockHash")) {
            (Some(number), None) => block_tag(number, index).map(BlockRef::Number),
            (None, Some(hash)) => self::hash(hash, index).map(BlockRef::Hash),
            _ => Err(RpcError::invalid_param(index, "give exactly one of blockNumber and blockHash")),
        };
    }
    match value.as_str() {
        Some(text) if text.len() == 66 => hash(value, index).map(BlockRef::Hash),
        _ => block_tag(value, index).map(BlockRef::Number),
    }
}

/// A boolean (`full transactions`).
pub fn boolean(value: &Value, index: usize) -> Result<bool, RpcError> {
    value.as_bool().ok_or_else(|| RpcError::invalid_param(index, "bool expected"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::INVALID_PARAMS;
    use serde_json::json;

    #[test]
    fn tags_numbers_and_hashes() {
        assert_eq!(block_tag(&json!("0x2456579"), 0), Ok(BlockTag::Number(38_102_393)));
        assert_eq!(block_tag(&json!("pending"), 0), Ok(BlockTag::Latest));
        assert_eq!(block_tag(&json!("0x0"), 0), Ok(BlockTag::Number(0)));
        let h = "0x7070af25dc544378b7e705774789430067a61798e56069e18f0cc5c61d8dfac0";
        assert!(matches!(block_ref(&json!(h), 0), Ok(BlockRef::Hash(_))));
        assert!(matches!(block_ref(&json!({"blockHash": h}), 0), Ok(BlockRef::Hash(_))));
        assert_eq!(block_ref(&json!({"blockNumber": "0x10"}), 0), Ok(BlockRef::Number(BlockTag::Number(16))));
    }

    #[test]
    fn bad_values_are_invalid_params() {
        for bad in [json!(12), json!("12"), json!("0x"), json!("0xzz"), json!("0x10000000000000000"), json!("newest")] {
            assert_eq!(block_tag(&bad, 1).map_err(|e| e.code), Err(INVALID_PARAMS), "{bad}");
        }
        assert_eq!(hash(&json!("0x12"), 0).map_err(|e| e.code), Err(INVALID_PARAMS));
        assert_eq!(boolean(&json!("true"), 1).map_err(|e| e.code), Err(INVALID_PARAMS));
    }
}
