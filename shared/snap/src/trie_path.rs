//! Trie paths as snap/1's GetTrieNodes names them: compact (hex-prefix) encoded nibble paths,
//! decoded exactly as geth's `compactToHex` does (a path whose flag says "leaf" keeps the
//! terminator nibble 16), and the compact encoding of a node's path when we ask a backend for it.

use alloy_primitives::B256;

/// The terminator nibble geth keeps at the end of a leaf's path.
pub const TERMINATOR: u8 = 16;

/// The nibbles of a compact-encoded path, as geth decodes a GetTrieNodes path (any bytes
/// decode: a malformed flag just leads nowhere in the trie).
pub fn compact_to_nibbles(compact: &[u8]) -> Vec<u8> {
    if compact.is_empty() {
        return Vec::new();
    }
    let mut nibbles: Vec<u8> = compact.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
    let flag = nibbles[0];
    if flag >= 2 {
        nibbles.push(TERMINATOR);
    }
    let chop = 2 - usize::from(flag & 1);
    nibbles.drain(..chop);
    nibbles
}

/// The compact encoding of an inner path (no terminator): what we send a backend to fetch the
/// node at `nibbles`.
pub fn nibbles_to_compact(nibbles: &[u8]) -> Vec<u8> {
    let odd = nibbles.len() % 2 == 1;
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    let rest = if odd {
        out.push(0x10 | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(0x00);
        nibbles
    };
    out.extend(rest.chunks(2).map(|pair| (pair[0] << 4) | pair[1]));
    out
}

/// The nibbles of a 32-byte key followed by the terminator: the path to its value.
pub fn key_path(key: &B256) -> Vec<u8> {
    let mut nibbles: Vec<u8> = key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
    nibbles.push(TERMINATOR);
    nibbles
}

/// An account hash as geth reads the first element of a storage path set (`BytesToHash`: the
/// last 32 bytes, left-padded with zeros).
pub fn bytes_to_hash(bytes: &[u8]) -> B256 {
    let tail = &bytes[bytes.len().saturating_sub(32)..];
    let mut hash = B256::ZERO;
    hash[32 - tail.len()..].copy_from_slice(tail);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_paths_decode_as_geth_decodes_them() {
        assert_eq!(compact_to_nibbles(&[]), Vec::<u8>::new());
        assert_eq!(compact_to_nibbles(&[0x00]), Vec::<u8>::new(), "even, no terminator: the root");
        assert_eq!(compact_to_nibbles(&[0x1a]), vec![0xa]);
        assert_eq!(compact_to_nibbles(&[0x00, 0xab]), vec![0xa, 0xb]);
        assert_eq!(compact_to_nibbles(&[0x20, 0xab]), vec![0xa, 0xb, TERMINATOR], "leaf flag keeps the terminator");
        assert_eq!(compact_to_nibbles(&[0x3c, 0xde]), vec![0xc, 0xd, 0xe, TERMINATOR]);
    }

    #[test]
    fn inner_paths_round_trip() {
        for nibbles in [vec![], vec![1], vec![1, 2], vec![0xf, 0, 0xa], vec![3; 63]] {
            assert_eq!(compact_to_nibbles(&nibbles_to_compact(&nibbles)), nibbles);
        }
    }

    #[test]
    fn storage_set_accounts_are_right_aligned() {
        assert_eq!(bytes_to_hash(&[1]), B256::with_last_byte(1));
        let long: Vec<u8> = (0..40).collect();
        assert_eq!(bytes_to_hash(&long).as_slice(), &long[8..]);
    }
}
