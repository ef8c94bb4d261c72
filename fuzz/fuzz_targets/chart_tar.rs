//! Fuzz target `chart_tar`: the check is `chartreg::fuzzing::chart_tar` (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chartreg::fuzzing::chart_tar(data));
