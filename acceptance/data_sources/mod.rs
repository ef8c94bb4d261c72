//! Acceptance tests of the data sources (issue 9): real Terraform (1.0 and 1.15) against
//! dedicated servers holding charts made with the real `helm`, and the real `helm` as the
//! reference.
//!
//! - `helm_charts::*` ([`helm_charts`]): `chartreg_helm_charts` against `helm search repo`.

pub mod helm_charts;

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::Testbed;

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(helm_charts::tests(tb));
    v
}
