//! Bad input (issue 12): a table of named invalid configurations across the provider block, both
//! resources (with the `ecr` block) and both data sources, each refused with a precise error on the
//! attribute at fault, no panic, and the state unchanged.
//!
//! Why batched: one Terraform run per case would cost ~2 s × 2 versions × 100+ cases. Instead
//! every case of a phase is one file (`<case>.tf`) of one workspace, and one `apply -json` runs
//! them all; each diagnostic is attributed to its case by the file its `range` points into, and
//! to the attribute by [`crate::harness::hcl`]. The phases cannot share a run, since Terraform
//! stops after the first phase that has errors:
//!
//! - validate ([`provider`], [`helm_registry`], [`oci_registry`], [`data_sources`]): refused
//!   by Terraform's or the provider's validation, before any request; update cases first apply
//!   a valid version of the same resource.
//! - reference ([`data_sources::LATE`]): data source cases refused from the registry reference,
//!   at validation (Terraform 1.15) or at plan (1.0.3).
//! - [`plan_time`]: data sources read at plan against registries applied first (unknown chart or
//!   version, a registry without synchronization).
//! - [`apply_time`]: values unknown at plan (from another resource) that turn out invalid at
//!   apply, and registries that answer with an error, against the shared testbed servers.
//! - [`import`]: import IDs (one `terraform import` each; import has no batch form).
//!
//! Each case checks: every expected `(summary, attribute)` is reported, no other error is
//! reported in its file, every managed resource of its file has the same state before and
//! after the failed run (absent when it did not exist), and nothing in Terraform's output reads
//! like a crash or a backtrace ([`CRASH_MARKERS`]; every run has `RUST_BACKTRACE=1` and
//! `RUST_LIB_BACKTRACE=1` in Terraform's environment, as many shells do), and no detail names
//! the libraries underneath ([`INTERNAL_MARKERS`]). Resources named `src_*` are helpers a case
//! needs (the source of an unknown value) and are not checked. One extra case per phase
//! (`all_attributed`) checks that every error belongs to a case.

mod apply_time;
mod data_sources;
mod helm_registry;
mod import;
mod oci_registry;
mod plan_time;
mod provider;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::{ensure, Cases, Diagnostic, Severity, TestResult, Testbed, Tf, TfReport};

pub const HELM: &str = "chartreg_helm_registry";
pub const OCI: &str = "chartreg_oci_registry";

/// Text that must never appear in Terraform's output for bad input.
pub const CRASH_MARKERS: [&str; 9] = [
    "panic",
    "backtrace",
    // the frames of a Rust backtrace (`   0: name` then `at /path/file.rs:12:5`)
    ".rs:",
    "\n   0: ",
    "always a bug",
    "plugin crashed",
    "goroutine ",
    "unexpected EOF",
    "The plugin encountered an error",
];

/// Text of the libraries underneath that must not reach a diagnostic's detail: hyper's and
/// reqwest's wrappers, Rust paths and deserializer messages.
pub const INTERNAL_MARKERS: [&str; 6] = [
    "client error (",
    "error sending request",
    "hyper::",
    "reqwest::",
    "invalid type:",
    "serde",
];

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(group(tb, "bad_input::validate", validate_cases));
    v.extend(group(tb, "bad_input::reference", reference_cases));
    v.extend(group(tb, "bad_input::plan_time", plan_time::cases));
    v.extend(group(tb, "bad_input::apply_time", apply_time::cases));
    v.extend(import::tests(tb));
    v
}

/// The validate phase: every object's cases in one workspace, with one valid registry of each
/// kind for the data sources to reference.
fn validate_cases(tb: &Testbed) -> Phase {
    let mut cases = provider::cases(tb);
    cases.extend(helm_registry::cases(tb));
    cases.extend(oci_registry::cases(tb));
    cases.extend(
        data_sources::cases(tb)
            .into_iter()
            .filter(|c| !data_sources::LATE.contains(&c.name.as_str())),
    );
    Phase {
        baseline: baseline(tb) + &data_sources::helpers(),
        cases,
        ..Phase::default()
    }
}

/// The reference phase: the data source cases of [`data_sources::LATE`].
fn reference_cases(tb: &Testbed) -> Phase {
    Phase {
        baseline: baseline(tb) + &data_sources::helpers(),
        cases: data_sources::cases(tb)
            .into_iter()
            .filter(|c| data_sources::LATE.contains(&c.name.as_str()))
            .collect(),
        ..Phase::default()
    }
}

/// A valid Helm repository (`chartreg_helm_registry.base`) and OCI registry
/// (`chartreg_oci_registry.base`, charts under `charts/`) on the shared servers.
pub fn baseline(tb: &Testbed) -> String {
    let mut s = resource(
        HELM,
        "base",
        &[&kv("name", "base-helm"), &kv("endpoint", &tb.helm.http)],
    );
    s.push_str(&resource(
        OCI,
        "base",
        &[
            &kv("name", "base-oci"),
            &kv("endpoint", &format!("http://{}/charts", tb.oci.plain)),
        ],
    ));
    s
}

// ------------------------------------------------------------------ the table

/// One named invalid configuration.
pub struct Case {
    /// `helm_registry::endpoint_ftp` (the trial name; the file is `helm_registry__endpoint_ftp.tf`).
    pub name: String,
    /// Applied (with the phase's baseline) before the bad run: the valid configuration an update
    /// case starts from.
    pub before: Option<String>,
    /// The invalid configuration.
    pub config: String,
    /// `(summary, at)`: `at` as [`Diagnostic::at`] (`chartreg_x.r.endpoint`,
    /// `data.chartreg_y.d.version`, `provider.chartreg.max_retries`).
    pub expect: Vec<(String, String)>,
}

impl Case {
    /// A case refused with one error `summary` on `at`.
    pub fn new(name: &str, config: impl Into<String>, summary: &str, at: &str) -> Case {
        Case {
            name: name.to_string(),
            before: None,
            config: config.into(),
            expect: vec![(summary.to_string(), at.to_string())],
        }
    }

    /// The same, starting from `before` applied first (an update).
    pub fn update(
        name: &str,
        before: impl Into<String>,
        config: impl Into<String>,
        summary: &str,
        at: &str,
    ) -> Case {
        let mut c = Case::new(name, config, summary, at);
        c.before = Some(before.into());
        c
    }

    /// One more expected error.
    pub fn and(mut self, summary: &str, at: &str) -> Case {
        self.expect.push((summary.to_string(), at.to_string()));
        self
    }

    pub fn file(&self) -> String {
        format!("{}.tf", self.name.replace("::", "__"))
    }

    /// Managed resources declared in the case (`chartreg_x.n`), helpers (`src_*`) left out.
    fn resources(&self) -> Vec<String> {
        let mut out = Vec::new();
        for text in [Some(&self.config), self.before.as_ref()]
            .into_iter()
            .flatten()
        {
            for l in text.lines() {
                let mut words = l.split_whitespace();
                if words.next() != Some("resource") {
                    continue;
                }
                let (Some(t), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let (t, n) = (t.trim_matches('"'), n.trim_matches('"'));
                let addr = format!("{t}.{n}");
                if !n.starts_with("src_") && !out.contains(&addr) {
                    out.push(addr);
                }
            }
        }
        out
    }
}

/// The cases of a phase for a testbed (called with the placeholder testbed for the trial names:
/// the names must not depend on it), and the baseline configuration applied first.
#[derive(Default)]
pub struct Phase {
    pub baseline: String,
    /// Written with the cases (`helpers.tf`): valid objects they need that must not exist
    /// before the bad run (the sources of values unknown at plan).
    pub helpers: String,
    /// Environment of every Terraform command (`AWS_ENDPOINT_URL`…).
    pub env: Vec<(String, String)>,
    pub cases: Vec<Case>,
}

/// What one phase's run left: the report of the bad run, managed resources' state before and after.
struct Run {
    phase: Phase,
    report: TfReport,
    before: BTreeMap<String, Value>,
    after: BTreeMap<String, Value>,
}

fn group(tb: &Arc<Testbed>, name: &'static str, cases: fn(&Testbed) -> Phase) -> Vec<Trial> {
    let names: Vec<String> = cases(tb).cases.iter().map(|c| c.name.clone()).collect();
    let mut g = Cases::new(tb, name, move |tb, cli| {
        let t0 = Instant::now();
        let phase = cases(tb);
        let mut tf = Tf::new(tb, cli);
        // Set in many shells: the plugin must not append Rust backtraces to its diagnostics
        // (tf-provider does when these are set; the plugin removes them at start).
        tf.env("RUST_BACKTRACE", "1").env("RUST_LIB_BACKTRACE", "1");
        for (k, v) in &phase.env {
            tf.env(k, v);
        }
        tf.write(&phase.baseline);
        let mut any_before = !phase.baseline.trim().is_empty();
        for c in &phase.cases {
            if let Some(b) = &c.before {
                tf.write_file(&c.file(), b);
                any_before = true;
            }
        }
        if any_before {
            tf.apply_json(&[])
                .ok()
                .map_err(|e| format!("the valid configuration (baseline) did not apply:\n{e}"))?;
        }
        let before = managed(&tf)?;
        if !phase.helpers.is_empty() {
            tf.write_file("helpers.tf", &phase.helpers);
        }
        for c in &phase.cases {
            tf.write_file(&c.file(), &c.config);
        }
        let report = tf.apply_json(&[]).failed()?;
        let after = managed(&tf)?;
        if crate::harness::verbose() {
            eprintln!(
                "{name}::{}: {} cases, {} diagnostics, {:.1} s",
                cli.label,
                phase.cases.len(),
                report.diagnostics.len(),
                t0.elapsed().as_secs_f64()
            );
        }
        Ok(Run {
            phase,
            report,
            before,
            after,
        })
    });
    for n in names {
        let case = n.clone();
        g = g.case(&n, move |_, run: &Run| check_case(run, &case));
    }
    g.case("all_attributed", |_, run: &Run| all_attributed(run))
        .trials()
}

/// `show -json` managed resources by address.
fn managed(tf: &Tf) -> TestResult<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    if !tf.dir.join("terraform.tfstate").exists() {
        return Ok(out);
    }
    let state = tf.state_json()?;
    for r in state["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if r["mode"] == "managed" {
            let addr = r["address"].as_str().unwrap_or_default().to_string();
            out.insert(addr, r["values"].clone());
        }
    }
    Ok(out)
}

fn file_of(d: &Diagnostic) -> &str {
    d.source.split(':').next().unwrap_or_default()
}

fn check_case(run: &Run, name: &str) -> TestResult {
    let case = run
        .phase
        .cases
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("no case {name}"))?;
    let file = case.file();
    let mine: Vec<&Diagnostic> = run
        .report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && file_of(d) == file)
        .collect();
    let show = |what: String| {
        let list: Vec<String> = mine.iter().map(|d| d.to_string()).collect();
        format!(
            "{what}\nerrors in {file}:\n{}\n--- {file} ---\n{}",
            if list.is_empty() {
                "(none)".to_string()
            } else {
                list.join("\n")
            },
            case.config
        )
    };
    for (summary, at) in &case.expect {
        ensure(
            mine.iter().any(|d| &d.summary == summary && &d.at() == at),
            || show(format!("no error {summary:?} at {at:?}")),
        )?;
    }
    for d in &mine {
        ensure(
            case.expect
                .iter()
                .any(|(s, a)| s == &d.summary && a == &d.at()),
            || show(format!("unexpected error {:?} at {:?}", d.summary, d.at())),
        )?;
        no_crash_text(&d.detail)?;
        // one full stop (a quoted AWS or registry sentence brings its own)
        ensure(!d.detail.lines().any(|l| l.ends_with("..")), || {
            show(format!("a sentence of the detail ends with \"..\":\n{d}"))
        })?;
        for m in INTERNAL_MARKERS {
            ensure(!d.detail.contains(m), || {
                show(format!("the detail names an internal ({m:?}):\n{d}"))
            })?;
        }
    }
    no_crash_text(&run.report.combined())?;
    for addr in case.resources() {
        let (b, a) = (run.before.get(&addr), run.after.get(&addr));
        ensure(b == a, || {
            format!(
                "the state of {addr} changed:\nbefore: {}\nafter:  {}",
                b.map_or("(absent)".into(), |v| v.to_string()),
                a.map_or("(absent)".into(), |v| v.to_string())
            )
        })?;
    }
    Ok(())
}

/// Every error is in some case's file: none from the baseline, none without a place.
fn all_attributed(run: &Run) -> TestResult {
    let files: Vec<String> = run.phase.cases.iter().map(Case::file).collect();
    let stray: Vec<String> = run
        .report
        .errors()
        .into_iter()
        .filter(|d| !files.iter().any(|f| f == file_of(d)))
        .map(|d| d.to_string())
        .collect();
    ensure(stray.is_empty(), || {
        format!("errors outside the cases:\n{}", stray.join("\n"))
    })?;
    no_crash_text(&run.report.combined())
}

/// None of [`CRASH_MARKERS`] (case-insensitive) in `text`.
pub fn no_crash_text(text: &str) -> TestResult {
    let lower = text.to_lowercase();
    for m in CRASH_MARKERS {
        ensure(!lower.contains(&m.to_lowercase()), || {
            format!("{m:?} in Terraform's output:\n{text}")
        })?;
    }
    Ok(())
}

// ------------------------------------------------------------------ HCL

/// An HCL string literal.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// `resource "T" "N" { <body> }` with `body` lines (`key = value`, nested blocks).
pub fn resource(ty: &str, name: &str, body: &[&str]) -> String {
    block(&format!("resource {ty:?} {name:?}"), body)
}

/// A registration `T.<n>` (`chartreg_helm_registry` or `chartreg_oci_registry`) with `name` and
/// `endpoint` set unless `extra` sets them, then `extra`.
pub fn registration(ty: &str, n: &str, endpoint: &str, extra: &[&str]) -> String {
    let name = kv("name", &reg_name(n));
    let ep = kv("endpoint", endpoint);
    let mut body: Vec<&str> = Vec::new();
    if !extra.iter().any(|l| l.starts_with("name ")) {
        body.push(&name);
    }
    if !extra.iter().any(|l| l.starts_with("endpoint ")) {
        body.push(&ep);
    }
    body.extend_from_slice(extra);
    resource(ty, n, &body)
}

/// `data "T" "N" { <body> }`.
pub fn data(ty: &str, name: &str, body: &[&str]) -> String {
    block(&format!("data {ty:?} {name:?}"), body)
}

pub fn block(head: &str, body: &[&str]) -> String {
    let mut s = format!("{head} {{\n");
    for l in body {
        for line in l.lines() {
            s.push_str("  ");
            s.push_str(line);
            s.push('\n');
        }
    }
    s.push_str("}\n\n");
    s
}

/// `key = "value"` (the value quoted).
pub fn kv(key: &str, value: &str) -> String {
    format!("{key} = {}", q(value))
}

/// The registry `name` from a resource name (`endpoint_ftp` → `endpoint-ftp`).
pub fn reg_name(n: &str) -> String {
    n.replace('_', "-")
}
