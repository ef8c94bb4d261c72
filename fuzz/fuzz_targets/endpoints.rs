//! Fuzz target `endpoints`: the check is `chartreg::fuzzing::endpoints` (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chartreg::fuzzing::endpoints(data));
