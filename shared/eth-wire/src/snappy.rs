//! Snappy message compression (EIP-706), on for p2p version 5 and later.

use crate::WireError;

/// Largest decompressed message accepted: 16 MiB (`rlpx.md`, "Message Encoding").
pub const MAX_DECOMPRESSED: usize = 16 * 1024 * 1024;

/// Compresses a message body.
pub fn compress(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(data).expect("snappy compresses any input below 4 GiB")
}

/// Decompresses a message body, checking the declared size against `max` first.
///
/// # Errors
/// [`WireError::TooLarge`] over the cap, [`WireError::Breach`] for invalid snappy data.
pub fn decompress(data: &[u8], max: usize) -> Result<Vec<u8>, WireError> {
    let size = snap::raw::decompress_len(data).map_err(|e| WireError::Breach(format!("invalid snappy data: {e}")))?;
    if size > max {
        return Err(WireError::TooLarge { size, max });
    }
    snap::raw::Decoder::new().decompress_vec(data).map_err(|e| WireError::Breach(format!("invalid snappy data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bomb_refused() {
        let data = vec![42u8; 100_000];
        assert_eq!(decompress(&compress(&data), MAX_DECOMPRESSED).unwrap(), data);
        assert!(matches!(decompress(&compress(&data), 1000), Err(WireError::TooLarge { size: 100_000, max: 1000 })));
        // A header claiming 4 GiB: refused from the header alone.
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff, 0x0f], MAX_DECOMPRESSED).is_err());
        assert!(decompress(&[0x05, 0x00], MAX_DECOMPRESSED).is_err());
    }
}
