//! Every target on its seeds and on every input saved under `fuzz/regressions/<target>/` (crashes
//! cargo-fuzz found, kept so they never come back).

use hypasis_fuzzing::{TARGETS, fuzz_dir, target};

#[test]
fn every_target_has_seeds_and_runs_them_clean() {
    for t in TARGETS {
        let seeds = (t.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", t.name);
        for seed in &seeds {
            (t.run)(seed);
        }
        // Truncations and single-byte changes of each seed too: the cheap neighbours a fuzzer
        // tries first.
        for seed in &seeds {
            for cut in [0, 1, seed.len() / 2, seed.len().saturating_sub(1)] {
                (t.run)(&seed[..cut.min(seed.len())]);
            }
            for at in (0..seed.len()).step_by((seed.len() / 16).max(1)) {
                let mut changed = seed.clone();
                changed[at] ^= 0xff;
                (t.run)(&changed);
            }
        }
    }
}

#[test]
fn saved_regressions_run_clean() {
    let dir = fuzz_dir().join("regressions");
    let targets = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut ran = 0;
    for entry in targets.flatten().filter(|e| e.path().is_dir()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let t = target(&name).unwrap_or_else(|| panic!("{}: no target called {name}", dir.display()));
        for input in std::fs::read_dir(entry.path()).expect("regression dir").flatten() {
            let bytes = std::fs::read(input.path()).expect("regression input");
            (t.run)(&bytes);
            ran += 1;
        }
    }
    assert!(ran > 0, "no saved regression input under {}", dir.display());
    eprintln!("{ran} saved regression inputs ran clean");
}

#[test]
fn every_target_has_a_cargo_fuzz_binary() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for t in TARGETS {
        assert!(manifest.contains(&format!("name = \"{}\"", t.name)), "fuzz/Cargo.toml lacks a [[bin]] for {}", t.name);
        let source = std::fs::read_to_string(fuzz_dir().join("fuzz_targets").join(format!("{}.rs", t.name))).expect("target source");
        assert!(source.contains(&format!("target(\"{}\")", t.name)), "fuzz_targets/{}.rs runs another target", t.name);
    }
}
