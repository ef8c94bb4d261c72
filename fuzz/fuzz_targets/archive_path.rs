//! Fuzz target `archive_path`: the check is `chartreg::fuzzing::archive_path` (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chartreg::fuzzing::archive_path(data));
