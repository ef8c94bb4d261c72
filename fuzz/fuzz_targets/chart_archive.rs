//! Fuzz target `chart_archive`: the check is `chartreg::fuzzing::chart_archive` (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chartreg::fuzzing::chart_archive(data));
