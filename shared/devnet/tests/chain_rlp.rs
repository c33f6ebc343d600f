//! A devnet exported to `chain.rlp` form imports back identically, and a broken file is refused.

use hypasis_chain::import::{self, ImportError};
use hypasis_devnet::{Devnet, DevnetConfig};

#[test]
fn export_then_import_round_trips() {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let genesis = devnet.tip().clone();
    let blocks = devnet.next_blocks(50);
    let file = import::write_blocks(&blocks);
    let read = import::read_blocks(&file).expect("read");
    let linked = import::link(&genesis.header, genesis.total_difficulty, read).expect("link");
    assert_eq!(linked.len(), 50);
    for (got, want) in linked.iter().zip(&blocks) {
        assert_eq!((got.hash(), &got.body, got.total_difficulty), (want.hash(), &want.body, want.total_difficulty));
        assert_eq!(got.receipts, None);
    }
}

#[test]
fn gaps_and_garbage_are_refused() {
    let mut devnet = Devnet::new(DevnetConfig::default());
    let genesis = devnet.tip().clone();
    let mut blocks = devnet.next_blocks(5);
    blocks.remove(2);
    let read = import::read_blocks(&import::write_blocks(&blocks)).expect("read");
    assert!(matches!(import::link(&genesis.header, genesis.total_difficulty, read), Err(ImportError::NotLinked { number: 4, .. })));
    let mut file = import::write_blocks(&blocks);
    file.truncate(file.len() - 3);
    assert!(matches!(import::read_blocks(&file), Err(ImportError::Rlp { index: 3, .. })));
    assert!(import::read_blocks(&[0x80]).is_err());
}
