#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    (hypasis_fuzzing::target("genesis_file").expect("target").run)(data);
});
