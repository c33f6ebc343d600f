#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    (hypasis_fuzzing::target("config_file").expect("target").run)(data);
});
