//! Writes every fuzz target's seeds to `DIR/<target>/seed-<n>` (the starting corpus
//! `scripts/fuzz` gives libFuzzer). Usage: `hypasis-fuzz-seeds DIR`.

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: hypasis-fuzz-seeds DIR");
        std::process::exit(64);
    };
    for target in hypasis_fuzzing::TARGETS {
        let target_dir = dir.join(target.name);
        let written = std::fs::create_dir_all(&target_dir).and_then(|()| {
            (target.seeds)().iter().enumerate().try_for_each(|(n, seed)| std::fs::write(target_dir.join(format!("seed-{n}")), seed))
        });
        if let Err(e) = written {
            eprintln!("hypasis-fuzz-seeds: {}: {e}", target_dir.display());
            std::process::exit(73);
        }
    }
}
