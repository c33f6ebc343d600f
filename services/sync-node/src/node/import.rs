//! `--import`: the blocks of a `chain.rlp` file, or of sealed history segments (`.e2s` files, or
//! a folder of them: era1-style files with receipts, as another deployment's bucket holds them),
//! linked to the genesis block and checked (parent links, total difficulty from the genesis,
//! bodies and receipts against their roots) before anything is stored.

use super::NodeError;
use hypasis_chain::{Block, SealedHeader, import};
use hypasis_history::format::SegmentIndex;
use std::path::{Path, PathBuf};

/// Reads and links the blocks `path` holds, after `genesis`.
///
/// # Errors
/// The file cannot be read, is malformed, or its blocks do not link to `genesis` and match their
/// roots.
pub(super) fn read(path: &Path, genesis: &SealedHeader) -> Result<Vec<Block>, NodeError> {
    let files = segment_files(path)?;
    if files.is_empty() {
        let bytes = std::fs::read(path).map_err(|source| NodeError::ImportFile { path: path.to_owned(), source })?;
        return Ok(import::link(genesis, genesis.difficulty, import::read_blocks(&bytes)?)?);
    }
    let mut blocks = Vec::new();
    for file in &files {
        let bad = |reason: String| NodeError::ImportSegment { path: file.clone(), reason };
        let bytes = std::fs::read(file).map_err(|source| NodeError::ImportFile { path: file.clone(), source })?;
        let index = SegmentIndex::parse_file(&bytes).map_err(|e| bad(e.to_string()))?;
        for number in index.start..=index.end() {
            let range = index.entry_range(number).ok_or_else(|| bad(format!("index misses block {number}")))?;
            let block = index.decode_entry(number, &bytes[range.start as usize..range.end as usize]).map_err(|e| bad(e.to_string()))?;
            if number == 0 {
                if block.hash() != genesis.hash() {
                    return Err(bad(format!("its genesis {} is not this chain's {}", block.hash(), genesis.hash())));
                }
                continue;
            }
            blocks.push(block);
        }
    }
    // Linked and summed from the genesis as a chain file is; the segments' receipts come along
    // and are checked against their roots.
    let pairs = blocks.iter().map(|b| (b.header.clone(), b.body.clone())).collect();
    let mut linked = import::link(genesis, genesis.difficulty, pairs)?;
    for (block, read) in linked.iter_mut().zip(blocks) {
        block.receipts = read.receipts;
        block.state_sync_receipt = read.state_sync_receipt;
        block.verify().map_err(|e| NodeError::Import(e.into()))?;
    }
    Ok(linked)
}

/// The segment files `path` names: itself when it ends in `.e2s`, the `.e2s` files in it (by
/// name, which orders them by first block) when it is a folder, none otherwise.
fn segment_files(path: &Path) -> Result<Vec<PathBuf>, NodeError> {
    let is_segment = |p: &Path| p.extension().is_some_and(|e| e == "e2s");
    if is_segment(path) {
        return Ok(vec![path.to_owned()]);
    }
    if !path.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(path).map_err(|source| NodeError::ImportFile { path: path.to_owned(), source })?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| is_segment(p)).collect();
    files.sort();
    if files.is_empty() {
        return Err(NodeError::ImportSegment { path: path.to_owned(), reason: "a folder without .e2s segment files".into() });
    }
    Ok(files)
}
