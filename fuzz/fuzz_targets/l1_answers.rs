#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    (hypasis_fuzzing::target("l1_answers").expect("target").run)(data);
});
