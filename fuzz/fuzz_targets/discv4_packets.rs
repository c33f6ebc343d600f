#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    (hypasis_fuzzing::target("discv4_packets").expect("target").run)(data);
});
