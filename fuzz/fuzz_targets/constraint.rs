//! Fuzz target `constraint`: the check is `chartreg::fuzzing::constraint` (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chartreg::fuzzing::constraint(data));
