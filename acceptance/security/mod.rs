//! Security and robustness cases found when the provider was tried adversarially (issue 7): one
//! named case per defect, each failing on the code before its fix. Most play a hostile registry
//! with [`crate::harness::FaultServer`].
//!
//! - `credentials`: chart URLs on a second host get no credentials unless `pass_credentials`.
//! - `import_cache`: import IDs validated as configuration; the cache refuses paths outside `cache_dir`.
//! - `plan_time`: plan-time checks (null required attributes, numbers and durations, secrets in messages).
//! - `remote`: what a registry sends (token lifetimes, echoed credentials, gzip).
//! - `transport`: retries (`Retry-After`, body failures, redirects) and shutdown.
//! - `parse`: hostile index documents (nesting, malformed YAML, control characters).
//!
//! The helpers below are the ones the five files share: HCL builders and checks on the human
//! output (where a diagnostic is, which configuration line it quotes). The general ones live in
//! the harness: `harness::ensure`, `TfOutput::diag_blocks`, `Tf::expect_empty_state`.

mod credentials;
mod import_cache;
mod parse;
mod plan_time;
mod remote;
mod transport;

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::{ensure, TestResult, Testbed, TfOutput};

pub const HELM: &str = "chartreg_helm_registry";
pub const OCI: &str = "chartreg_oci_registry";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut trials = Vec::new();
    trials.extend(credentials::tests(tb));
    trials.extend(import_cache::tests(tb));
    trials.extend(plan_time::tests(tb));
    trials.extend(remote::tests(tb));
    trials.extend(transport::tests(tb));
    trials.extend(parse::tests(tb));
    trials
}

// ------------------------------------------------------------------ HCL

/// An HCL string literal.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// A `provider "chartreg"` block with `settings` (each `key = value`), then a blank line.
pub fn provider(settings: &[&str]) -> String {
    let mut s = String::from("provider \"chartreg\" {\n");
    for l in settings {
        s.push_str(&format!("  {l}\n"));
    }
    s.push_str("}\n\n");
    s
}

/// `resource "chartreg_helm_registry" "<name>" { name = "<name>" endpoint = "<endpoint>" }`
pub fn helm_resource(name: &str, endpoint: &str) -> String {
    format!(
        "resource {HELM:?} {} {{\n  name     = {}\n  endpoint = {}\n}}\n\n",
        q(name),
        q(name),
        q(endpoint)
    )
}

// ------------------------------------------------------------------ the human output

/// `text` with every run of white space made one space (Terraform wraps the detail).
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many errors `out` shows.
pub fn error_count(out: &TfOutput) -> usize {
    out.diag_blocks()
        .iter()
        .filter(|b| b.starts_with("Error: "))
        .count()
}

/// Where a diagnostic is: `in resource "T" "N":` or `in provider "chartreg":`.
pub fn in_resource(rt: &str, name: &str) -> String {
    format!("in resource {rt:?} {name:?}:")
}
pub const IN_PROVIDER: &str = "in provider \"chartreg\":";

/// The configuration line Terraform quotes under `marker` (`  12:   endpoint = var.x`).
pub fn quoted_line(block: &str, marker: &str) -> Option<String> {
    let mut lines = block.lines().skip_while(|l| !l.contains(marker));
    lines.next()?;
    let l = lines.next()?.trim();
    let (num, src) = l.split_once(':')?;
    num.trim()
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| src.trim().to_string())
}

/// The error `Error: {summary}` (any error when `summary` is empty) at `marker` whose quoted
/// configuration line assigns attribute `attr`; returns its block.
pub fn expect_error_on(
    out: &TfOutput,
    summary: &str,
    marker: &str,
    attr: &str,
) -> TestResult<String> {
    let head = format!("Error: {summary}");
    let errors: Vec<String> = out
        .diag_blocks()
        .into_iter()
        .filter(|b| {
            b.starts_with("Error: ")
                && (summary.is_empty() || b.starts_with(&format!("{head}\n")))
                && b.contains(marker)
        })
        .collect();
    let on_attr = |b: &String| {
        quoted_line(b, marker).is_some_and(|l| {
            l.strip_prefix(attr)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
    };
    if let Some(b) = errors.iter().find(|b| on_attr(b)) {
        return Ok(b.clone());
    }
    ensure(!errors.is_empty(), || {
        format!("no \"{head}\" {marker} in:\n{out}")
    })?;
    Err(format!(
        "\"{head}\" {marker} should quote the line of `{attr}`, quotes {:?}:\n{}",
        quoted_line(&errors[0], marker).unwrap_or_default(),
        errors[0]
    ))
}
