//! Security and robustness cases found when the provider was tried adversarially (issue 7): one
//! named case per defect, each failing on the code before its fix. Most play a hostile registry
//! with [`crate::harness::FaultServer`].
//!
//! - `import_cache`: import IDs validated as configuration; the cache refuses paths outside `cache_dir`.
//! - `plan_time`: plan-time checks (null required attributes, numbers and durations, secrets in messages).
//! - `remote`: what a registry sends (token lifetimes, echoed credentials, gzip).
//! - `transport`: retries (`Retry-After`, body failures, redirects) and shutdown.
//! - `parse`: hostile index documents (nesting, malformed YAML, control characters).

mod import_cache;
mod parse;
mod plan_time;
mod remote;
mod transport;

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::Testbed;

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut trials = Vec::new();
    trials.extend(import_cache::tests(tb));
    trials.extend(plan_time::tests(tb));
    trials.extend(remote::tests(tb));
    trials.extend(transport::tests(tb));
    trials.extend(parse::tests(tb));
    trials
}
