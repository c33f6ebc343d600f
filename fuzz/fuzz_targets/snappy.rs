#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    (hypasis_fuzzing::target("snappy").expect("target").run)(data);
});
