//! Fuzz target `helm_index`: the check is `chartreg::fuzzing::helm_index` (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chartreg::fuzzing::helm_index(data));
