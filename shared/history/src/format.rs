//! The segment file format: e2store framing (as geth's era1 files use), one entry per block, an
//! index at the end.
//!
//! Every entry is `type: u16 LE | length: u32 LE | reserved: u16 = 0 | data[length]`. A segment is
//!
//! | entry | type | data |
//! | --- | --- | --- |
//! | version | `0x3265` ("e2") | empty |
//! | block, one per block in order | `0x6801` | snappy (raw block format) of `rlp([td, header, body, receipts-flag, receipts?, state-sync-receipt?])`, receipts in eth/69 form (no bloom: it is derived from the logs, so reading needs no hashing) |
//! | index, last | `0x6802` | `start: u64 LE`, then per block `offset: u64 LE` (of its entry from the file start) and `hash: [u8; 32]`, then `count: u64 LE` |
//!
//! The file ends with the block count, so a reader that knows only the file's size finds the index
//! with one ranged read of its last `24 + 40·count` bytes. The receipts flag is 0 (receipts not
//! known), 1 (receipts) or 2 (receipts and a state-sync receipt).

use alloy_primitives::{B256, U256};
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use hypasis_chain::{Block, BlockBody, Receipt, SealedHeader};

/// Entry type of the version entry (e2store's).
pub const VERSION_TYPE: u16 = 0x3265;
/// Entry type of a block.
pub const BLOCK_TYPE: u16 = 0x6801;
/// Entry type of the index.
pub const INDEX_TYPE: u16 = 0x6802;
/// Bytes of an entry's header.
pub const ENTRY_HEADER: usize = 8;
/// Bytes of one index record (offset and hash).
const RECORD: usize = 8 + 32;
/// Most blocks one segment may hold (a bad count in a file must not allocate without bound).
pub const MAX_SEGMENT_BLOCKS: u64 = 1 << 20;
/// Largest block entry accepted when reading (a decompressed block above it is refused).
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

/// Why a segment's bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Too short for what its header or index says.
    #[error("segment truncated: {0}")]
    Truncated(&'static str),
    /// An entry of the wrong type or a bad field.
    #[error("segment malformed: {0}")]
    Malformed(String),
}

fn malformed(reason: impl std::fmt::Display) -> FormatError {
    FormatError::Malformed(reason.to_string())
}

fn entry_header(kind: u16, length: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(length as u32).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
}

/// Reads an entry header: (type, data length).
///
/// # Errors
/// [`FormatError`] when fewer than 8 bytes are given or the reserved bytes are not zero.
pub fn read_entry_header(bytes: &[u8]) -> Result<(u16, usize), FormatError> {
    let header: &[u8; ENTRY_HEADER] =
        bytes.get(..ENTRY_HEADER).and_then(|b| b.try_into().ok()).ok_or(FormatError::Truncated("entry header"))?;
    if header[6..8] != [0, 0] {
        return Err(malformed("entry reserved bytes are not zero"));
    }
    Ok((u16::from_le_bytes([header[0], header[1]]), u32::from_le_bytes([header[2], header[3], header[4], header[5]]) as usize))
}

/// Encodes one block's entry data (before compression).
fn encode_block(block: &Block) -> Vec<u8> {
    let flag: u8 = match (&block.receipts, &block.state_sync_receipt) {
        (None, _) => 0,
        (Some(_), None) => 1,
        (Some(_), Some(_)) => 2,
    };
    let mut payload = Vec::with_capacity(block.header.rlp_len() + block.body.length() + 64);
    block.total_difficulty.encode(&mut payload);
    block.header.encode(&mut payload);
    block.body.encode(&mut payload);
    flag.encode(&mut payload);
    if let Some(receipts) = &block.receipts {
        let length: usize = receipts.iter().map(Receipt::eth69_length).sum();
        RlpHeader { list: true, payload_length: length }.encode(&mut payload);
        receipts.iter().for_each(|r| r.encode_eth69(&mut payload));
    }
    if let (Some(_), Some(state_sync)) = (&block.receipts, &block.state_sync_receipt) {
        state_sync.encode_eth69(&mut payload);
    }
    let mut out = Vec::with_capacity(payload.len() + 4);
    RlpHeader { list: true, payload_length: payload.len() }.encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

/// Decodes a block entry's data (compressed, as stored).
///
/// # Errors
/// [`FormatError`] when the data does not decompress or decode to one block.
pub fn decode_block(compressed: &[u8]) -> Result<Block, FormatError> {
    let size = snap::raw::decompress_len(compressed).map_err(malformed)?;
    if size > MAX_BLOCK_BYTES {
        return Err(malformed(format!("block entry of {size} bytes is over the {MAX_BLOCK_BYTES}-byte limit")));
    }
    let raw = snap::raw::Decoder::new().decompress_vec(compressed).map_err(malformed)?;
    let mut buf = raw.as_slice();
    let mut payload = RlpHeader::decode_bytes(&mut buf, true).map_err(malformed)?;
    if !buf.is_empty() {
        return Err(malformed("bytes after the block"));
    }
    let total_difficulty = U256::decode(&mut payload).map_err(malformed)?;
    let header = SealedHeader::decode(&mut payload).map_err(malformed)?;
    let body = BlockBody::decode(&mut payload).map_err(malformed)?;
    let flag = u8::decode(&mut payload).map_err(malformed)?;
    let (receipts, state_sync_receipt) = match flag {
        0 => (None, None),
        1 => (Some(decode_receipts(&mut payload)?), None),
        2 => (Some(decode_receipts(&mut payload)?), Some(Receipt::decode_eth69(&mut payload).map_err(malformed)?)),
        other => return Err(malformed(format!("receipts flag {other}"))),
    };
    if !payload.is_empty() {
        return Err(malformed("bytes after the block's fields"));
    }
    Ok(Block { header, body, receipts, total_difficulty, state_sync_receipt })
}

/// Decodes a list of eth/69-form receipts.
fn decode_receipts(buf: &mut &[u8]) -> Result<Vec<Receipt>, FormatError> {
    let mut list = RlpHeader::decode_bytes(buf, true).map_err(malformed)?;
    let mut receipts = Vec::new();
    while !list.is_empty() {
        receipts.push(Receipt::decode_eth69(&mut list).map_err(malformed)?);
    }
    Ok(receipts)
}

/// Writes a segment block by block, so a sealer holds the compressed segment, not the decoded
/// blocks.
#[derive(Debug)]
pub struct SegmentWriter {
    out: Vec<u8>,
    start: u64,
    records: Vec<(u64, B256)>,
}

impl SegmentWriter {
    /// A segment whose first block is `start`.
    pub fn new(start: u64) -> Self {
        let mut out = Vec::new();
        entry_header(VERSION_TYPE, 0, &mut out);
        Self { out, start, records: Vec::new() }
    }

    /// Number of the block [`SegmentWriter::push`] expects next.
    pub fn next(&self) -> u64 {
        self.start + self.records.len() as u64
    }

    /// Appends the next block.
    ///
    /// # Panics
    /// When `block` is not the next number (the sealer checks before writing).
    pub fn push(&mut self, block: &Block) {
        assert_eq!(block.number(), self.next(), "segment blocks must be consecutive");
        let data = snap::raw::Encoder::new().compress_vec(&encode_block(block)).expect("snappy compresses any input below 4 GiB");
        self.records.push((self.out.len() as u64, block.hash()));
        entry_header(BLOCK_TYPE, data.len(), &mut self.out);
        self.out.extend_from_slice(&data);
    }

    /// The whole file, index appended.
    ///
    /// # Panics
    /// When no block was pushed.
    pub fn finish(mut self) -> Vec<u8> {
        assert!(!self.records.is_empty(), "a segment holds at least one block");
        entry_header(INDEX_TYPE, 16 + RECORD * self.records.len(), &mut self.out);
        self.out.extend_from_slice(&self.start.to_le_bytes());
        for (offset, hash) in &self.records {
            self.out.extend_from_slice(&offset.to_le_bytes());
            self.out.extend_from_slice(hash.as_slice());
        }
        self.out.extend_from_slice(&(self.records.len() as u64).to_le_bytes());
        self.out
    }
}

/// Writes a segment of the given blocks, consecutive by number, in order.
///
/// # Panics
/// When `blocks` is empty or not consecutive.
pub fn write_segment(blocks: &[Block]) -> Vec<u8> {
    let mut writer = SegmentWriter::new(blocks.first().map_or(0, Block::number));
    blocks.iter().for_each(|b| writer.push(b));
    writer.finish()
}

/// A segment's index: where each block's entry is and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIndex {
    /// Number of the first block.
    pub start: u64,
    /// Offset of each block's entry from the file start, in block order.
    pub offsets: Vec<u64>,
    /// Hash of each block, in block order.
    pub hashes: Vec<B256>,
    /// Offset of the index entry (where the last block's entry ends).
    pub index_offset: u64,
}

impl SegmentIndex {
    /// Bytes at the end of a segment of `count` blocks that hold its index entry.
    pub fn tail_len(count: u64) -> u64 {
        (ENTRY_HEADER + 16) as u64 + RECORD as u64 * count
    }

    /// Number of blocks.
    pub fn count(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Number of the last block.
    pub fn end(&self) -> u64 {
        self.start + self.count() - 1
    }

    /// Byte range of block `number`'s entry (header included), if the segment holds it.
    pub fn entry_range(&self, number: u64) -> Option<std::ops::Range<u64>> {
        let i = usize::try_from(number.checked_sub(self.start)?).ok()?;
        let start = *self.offsets.get(i)?;
        let end = self.offsets.get(i + 1).copied().unwrap_or(self.index_offset);
        Some(start..end)
    }

    /// Reads the index from a segment's last bytes (`tail`, ending at the file end) in a file of
    /// `file_len` bytes.
    ///
    /// # Errors
    /// [`FormatError`] when the tail is not a well-formed index for that file.
    pub fn parse_tail(tail: &[u8], file_len: u64) -> Result<Self, FormatError> {
        let count_bytes: [u8; 8] =
            tail.get(tail.len().saturating_sub(8)..).and_then(|b| b.try_into().ok()).ok_or(FormatError::Truncated("index count"))?;
        let count = u64::from_le_bytes(count_bytes);
        if count == 0 || count > MAX_SEGMENT_BLOCKS {
            return Err(malformed(format!("index names {count} blocks")));
        }
        let tail_len = Self::tail_len(count);
        if (tail.len() as u64) < tail_len || file_len < tail_len + ENTRY_HEADER as u64 {
            return Err(FormatError::Truncated("index"));
        }
        let entry = &tail[tail.len() - tail_len as usize..];
        let (kind, length) = read_entry_header(entry)?;
        if kind != INDEX_TYPE || length as u64 != tail_len - ENTRY_HEADER as u64 {
            return Err(malformed(format!("last entry is type {kind:#06x} of {length} bytes, not the index")));
        }
        let data = &entry[ENTRY_HEADER..];
        let start = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let index_offset = file_len - tail_len;
        let mut offsets = Vec::with_capacity(count as usize);
        let mut hashes = Vec::with_capacity(count as usize);
        for record in data[8..data.len() - 8].chunks_exact(RECORD) {
            let offset = u64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
            if offset < ENTRY_HEADER as u64 || offset >= index_offset || offsets.last().is_some_and(|last| offset <= *last) {
                return Err(malformed(format!("block offset {offset} out of order or outside the file")));
            }
            offsets.push(offset);
            hashes.push(B256::from_slice(&record[8..]));
        }
        start.checked_add(count).ok_or_else(|| malformed("block numbers overflow"))?;
        Ok(Self { start, offsets, hashes, index_offset })
    }

    /// Reads the index of a whole segment file.
    ///
    /// # Errors
    /// As [`SegmentIndex::parse_tail`].
    pub fn parse_file(file: &[u8]) -> Result<Self, FormatError> {
        Self::parse_tail(file, file.len() as u64)
    }

    /// Decodes block `number` from `entry` (its entry bytes, header included, as
    /// [`SegmentIndex::entry_range`] locates them), checking the entry type and that the block is
    /// the one the index names (number and hash).
    ///
    /// # Errors
    /// [`FormatError`] on any mismatch.
    pub fn decode_entry(&self, number: u64, entry: &[u8]) -> Result<Block, FormatError> {
        let (kind, length) = read_entry_header(entry)?;
        if kind != BLOCK_TYPE || length != entry.len() - ENTRY_HEADER {
            return Err(malformed(format!("block {number}: entry type {kind:#06x} of {length} bytes")));
        }
        let block = decode_block(&entry[ENTRY_HEADER..])?;
        let i = (number - self.start) as usize;
        if block.number() != number || block.hash() != self.hashes[i] {
            return Err(malformed(format!(
                "block {number}: entry holds block {} {}, index names {}",
                block.number(),
                block.hash(),
                self.hashes[i]
            )));
        }
        Ok(block)
    }
}
