//! Security cases: see acceptance/security/mod.rs.

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::Testbed;

pub fn tests(_tb: &Arc<Testbed>) -> Vec<Trial> {
    Vec::new()
}
