//! Faults (issue 12): the provider against the testbed's real servers (nginx serving Helm indexes
//! and archives, docker-registry, moto) seen through a fault-injecting proxy
//! ([`crate::harness::FaultServer::proxy`]) that spoils chosen requests: a refused connection, a
//! reset or truncated body, a stall, a slow drip, malformed YAML or JSON, a wrong content type,
//! HTTP 5xx and 429, redirect loops and cross-host redirects, bodies over the cap, gzip bombs, a TLS
//! certificate for another name, a token server that fails or talks nonsense.
//!
//! The matrix ([`matrix`], tables in [`table`]) is batched like `bad_input`: every case of a phase
//! is one file of one workspace, behind its own proxy (so its attempts are its own), and one
//! Terraform run covers them all; each diagnostic is attributed to its case by its address. The
//! phases:
//!
//! - `create`: Helm repositories and OCI registries created through faults: an error on the
//!   resource and nothing in state, or, when the fault is transient, the retry succeeds and the
//!   whole catalog is in state.
//! - `refresh`: registrations applied cleanly, then refreshed (`apply -refresh-only`) through
//!   faults: a warning and the previous catalog kept (`show -json` before and after compared), or
//!   a successful retry.
//! - `archive`: `chartreg_helm_chart` (which downloads and verifies the chart archive) read at
//!   plan through faults on the archive of a Helm repository and on the chart layer blob of an
//!   OCI registry.
//!
//! Every case counts the attempts the proxy saw (bounded by `max_retries`), and every phase scans
//! `cache_dir` for temporary files and files that do not hash to their name.
//!
//! [`scenarios`]: a registry that comes back after an outage is picked up at the next refresh;
//! an index over the spool threshold cut short leaves no temporary file; Ctrl-C and StopProvider
//! during a refresh. [`refresh_tls`]: a TLS certificate for another name on refresh (a tunnel
//! switched from the real server to one with a certificate for `other.invalid`). [`ecr`]: Amazon ECR and STS (moto) through faults. [`scale`]:
//! 100 registries at `-parallelism=30` against faulty servers end within the bound the timeouts
//! imply.

mod ecr;
mod matrix;
mod refresh_tls;
mod scale;
mod scenarios;
mod table;

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Trial;
use sha2::{Digest, Sha256};

use crate::harness::{TestResult, Testbed};

pub const HELM: &str = "chartreg_helm_registry";
pub const OCI: &str = "chartreg_oci_registry";
pub const CHART: &str = "chartreg_helm_chart";

/// `request_timeout` of every workspace of the group (small: the stalls cost it).
pub const REQUEST_TIMEOUT_S: f64 = 2.0;
/// `max_retries` of every workspace of the group.
pub const MAX_RETRIES: usize = 2;
/// `max_index_size` and `max_chart_size`: 1 MiB (the fixtures are a few KiB).
pub const SIZE_CAP: usize = 1 << 20;

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(matrix::group(
        tb,
        "faults::create",
        matrix::PhaseKind::Create,
    ));
    v.extend(matrix::group(
        tb,
        "faults::refresh",
        matrix::PhaseKind::Refresh,
    ));
    v.extend(matrix::group(
        tb,
        "faults::archive",
        matrix::PhaseKind::Archive,
    ));
    v.extend(refresh_tls::tests(tb));
    v.extend(scenarios::tests(tb));
    v.extend(scale::tests(tb));
    v
}

/// The provider block of the group: small timeouts and retries, the caps, `cache_dir`.
pub fn provider_block(cache_dir: &Path, extra: &str) -> String {
    format!(
        "provider \"chartreg\" {{\n  request_timeout = \"{}s\"\n  max_retries     = {MAX_RETRIES}\n  max_index_size  = {SIZE_CAP}\n  max_chart_size  = {SIZE_CAP}\n  cache_dir       = {}\n{extra}}}\n\n",
        REQUEST_TIMEOUT_S,
        q(&cache_dir.display().to_string())
    )
}

/// An HCL string literal.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// What is wrong in `cache_dir`: temporary files left behind (a name starting with `.`), and
/// content-addressed files (`sha256-<hex>`) whose content does not hash to their name. Returns
/// the problems and the number of files looked at.
pub fn cache_problems(cache_dir: &Path) -> (Vec<String>, usize) {
    fn walk(p: &Path, out: &mut Vec<String>, n: &mut usize) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                walk(&path, out, n);
                continue;
            }
            *n += 1;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                out.push(format!("temporary file left: {}", path.display()));
                continue;
            }
            if let Some(hex) = name.strip_prefix("sha256-") {
                let bytes = std::fs::read(&path).unwrap_or_default();
                let got = hex::encode(Sha256::digest(&bytes));
                if got != hex {
                    out.push(format!(
                        "{} does not verify: {} bytes hashing to {got}",
                        path.display(),
                        bytes.len()
                    ));
                }
            }
        }
    }
    let (mut out, mut n) = (Vec::new(), 0);
    walk(cache_dir, &mut out, &mut n);
    (out, n)
}

/// [`cache_problems`] as a check.
pub fn cache_clean(cache_dir: &Path) -> TestResult<usize> {
    let (problems, n) = cache_problems(cache_dir);
    if problems.is_empty() {
        Ok(n)
    } else {
        Err(format!(
            "cache_dir {} after the faults:\n{}",
            cache_dir.display(),
            problems.join("\n")
        ))
    }
}

/// `host:port` of an `http(s)://host:port[/path]` URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_string()
}
