//! Terraform diagnostics as data: the one parser of what Terraform reports, and the one way to
//! assert on it ([`TfReport::expect_error`] / [`TfReport::expect_warning`]).
//!
//! [`super::Tf::report`] (and `plan_json`, `apply_json`, `validate_json`, `import_err`) reads
//! them into a [`TfReport`]. Source: the machine-readable UI of `plan -json` / `apply -json` (Terraform 1.0.3 and 1.15
//! alike: one JSON object per line, `{"type":"diagnostic","diagnostic":{"severity","summary",
//! "detail","address","range","snippet"}}`) and the single object of `validate -json`
//! (`{"diagnostics":[…]}`, no `address`). Each diagnostic is placed as `object` + `attribute`:
//! the object is Terraform's `address` (resource instance with its key, `module.…` prefix) or,
//! without one (configuration errors, `validate`, the provider block), the block that contains
//! the range; the attribute is read from the configuration at the range (see [`super::hcl`] for
//! how Terraform places an AttributePath, and so what an absent attribute looks like: the
//! object itself).
//!
//! `import` has no `-json`: its output is read from the human form (`Error: summary`, then the
//! detail, wrapped at 78 columns) and every diagnostic is placed on the imported address, with
//! no attribute (Terraform quotes no configuration for an import ID). Compare details with
//! [`Diagnostic::detail_has`], which ignores how whitespace is wrapped.
//!
//! Terraform's own "Provider development overrides are in effect" warning (the harness's
//! `dev_overrides`) is dropped.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use super::hcl;
use super::terraform::TfReport;
use super::{redact, TestResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn parse(s: &str) -> Severity {
        if s.eq_ignore_ascii_case("warning") {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

/// One diagnostic Terraform reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    /// `chartreg_x.r`, `chartreg_x.r[0]`, `module.m.chartreg_x.r`, `provider.chartreg`, `data.…`;
    /// empty when neither Terraform nor the range name one.
    pub object: String,
    /// `endpoint`, `base_content_paths[1]`, `ecr.role_arn`, `probe[1].x`; empty for the object
    /// itself (no attribute path, or one absent from the configuration).
    pub attribute: String,
    /// `main.tf:12` (empty without a range).
    pub source: String,
    /// The configuration line Terraform quotes (`snippet.code`).
    pub code: String,
}

impl Diagnostic {
    /// `object.attribute` (`chartreg_x.r.endpoint`), or the object alone.
    pub fn at(&self) -> String {
        match (self.object.is_empty(), self.attribute.is_empty()) {
            (_, true) => self.object.clone(),
            (true, false) => self.attribute.clone(),
            (false, false) => format!("{}.{}", self.object, self.attribute),
        }
    }

    /// Whether the detail contains `needle`, comparing runs of whitespace as one space (the
    /// human form of `import` wraps lines).
    pub fn detail_has(&self, needle: &str) -> bool {
        squash(&self.detail).contains(&squash(needle))
    }

    fn from_json(d: &Value, dir: Option<&Path>, files: &mut HashMap<String, String>) -> Diagnostic {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let range = &d["range"];
        let file = s(&range["filename"]);
        let loc = match (range["start"]["byte"].as_u64(), dir) {
            (Some(byte), Some(dir)) if !file.is_empty() => {
                let src = files.entry(file.clone()).or_insert_with(|| {
                    std::fs::read_to_string(dir.join(&file)).unwrap_or_default()
                });
                hcl::locate(src, byte as usize)
            }
            _ => hcl::Location::default(),
        };
        let address = s(&d["address"]);
        // Terraform's address is exact for resources (count/for_each keys, modules); for the
        // provider (`provider["registry.terraform.io/…"]`) the block's name reads better.
        let object =
            if address.is_empty() || (address.starts_with("provider[") && !loc.object.is_empty()) {
                loc.object
            } else {
                address
            };
        Diagnostic {
            severity: Severity::parse(d["severity"].as_str().unwrap_or_default()),
            summary: s(&d["summary"]),
            detail: s(&d["detail"]),
            object,
            attribute: loc.attribute,
            source: match range["start"]["line"].as_u64() {
                Some(l) => format!("{file}:{l}"),
                None => String::new(),
            },
            code: s(&d["snippet"]["code"]),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        write!(f, "{sev}: {} [at {:?}", self.summary, self.at())?;
        if !self.source.is_empty() {
            write!(f, ", {}", self.source)?;
        }
        write!(f, "]")?;
        for l in self.detail.lines() {
            write!(f, "\n    {l}")?;
        }
        Ok(())
    }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_dev_overrides(d: &Diagnostic) -> bool {
    d.severity == Severity::Warning && d.summary == "Provider development overrides are in effect"
}

/// The diagnostics in the output of `terraform <args>` run in workspace `dir`: the JSON stream
/// (or `validate -json` object) when `args` has `-json`, the human form for `import`, else none.
/// Without `dir` (the configuration is not read), diagnostics carry Terraform's address only.
pub fn parse(args: &[String], stdout: &str, stderr: &str, dir: Option<&Path>) -> Vec<Diagnostic> {
    let mut files = HashMap::new();
    let mut out = Vec::new();
    let sub = args.first().map(String::as_str).unwrap_or_default();
    let ui = matches!(sub, "plan" | "apply" | "destroy" | "refresh" | "validate");
    if ui && args.iter().any(|a| a == "-json") {
        if let Ok(v) = serde_json::from_str::<Value>(stdout) {
            // `validate -json`: one object
            for d in v["diagnostics"].as_array().into_iter().flatten() {
                out.push(Diagnostic::from_json(d, dir, &mut files));
            }
        } else {
            for line in stdout.lines() {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if v["type"] == "diagnostic" {
                    out.push(Diagnostic::from_json(&v["diagnostic"], dir, &mut files));
                }
            }
        }
    } else if sub == "import" {
        let addr = args
            .iter()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .cloned()
            .unwrap_or_default();
        out = parse_human(&format!("{stdout}\n{stderr}"), &addr);
    }
    out.retain(|d| !is_dev_overrides(d));
    out
}

/// `Error: summary` / `Warning: summary`, a blank line, the detail up to the next diagnostic or
/// the end (Terraform's box margin `│ ╷ ╵` removed). Only `import` is read this way.
fn parse_human(text: &str, object: &str) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_start_matches(['│', '╷', '╵']).trim();
        let head = line
            .strip_prefix("Error: ")
            .map(|s| (Severity::Error, s))
            .or_else(|| {
                line.strip_prefix("Warning: ")
                    .map(|s| (Severity::Warning, s))
            });
        if let Some((severity, summary)) = head {
            out.push(Diagnostic {
                severity,
                summary: summary.to_string(),
                detail: String::new(),
                object: object.to_string(),
                attribute: String::new(),
                source: String::new(),
                code: String::new(),
            });
        } else if let Some(d) = out.last_mut() {
            if !line.is_empty() {
                if !d.detail.is_empty() {
                    d.detail.push(' ');
                }
                d.detail.push_str(line);
            }
        }
    }
    out
}

impl TfReport {
    /// Error diagnostics.
    pub fn errors(&self) -> Vec<&Diagnostic> {
        self.with_severity(Severity::Error)
    }

    /// Warning diagnostics (without Terraform's dev_overrides warning).
    pub fn warnings(&self) -> Vec<&Diagnostic> {
        self.with_severity(Severity::Warning)
    }

    fn with_severity(&self, s: Severity) -> Vec<&Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == s)
            .collect()
    }

    /// The error `summary` placed `at` (`chartreg_x.r.endpoint`, `provider.chartreg.max_retries`,
    /// `chartreg_x.r` for the object itself; see [`Diagnostic::at`]).
    pub fn expect_error(&self, summary: &str, at: &str) -> TestResult<Diagnostic> {
        self.expect(Severity::Error, summary, at)
    }

    /// The warning `summary` placed `at` (see [`TfReport::expect_error`]).
    pub fn expect_warning(&self, summary: &str, at: &str) -> TestResult<Diagnostic> {
        self.expect(Severity::Warning, summary, at)
    }

    /// Exactly `n` errors.
    pub fn expect_error_count(&self, n: usize) -> TestResult {
        let errors = self.errors();
        if errors.len() == n {
            return Ok(());
        }
        Err(self.mismatch(&format!("expected {n} error(s), got {}", errors.len())))
    }

    fn expect(&self, severity: Severity, summary: &str, at: &str) -> TestResult<Diagnostic> {
        if let Some(d) = self
            .diagnostics
            .iter()
            .find(|d| d.severity == severity && d.summary == summary && d.at() == at)
        {
            return Ok(d.clone());
        }
        if !self.machine_readable() {
            return Err(format!(
                "{} has no machine-readable diagnostics: run it with -json (plan_json, \
                 apply_json, validate_json)\n{self}",
                self.output.args.join(" ")
            ));
        }
        Err(self.mismatch(&format!("no {severity:?} {summary:?} at {at:?}")))
    }

    fn mismatch(&self, what: &str) -> String {
        redact(&format!("{what} in:\n{self}"))
    }

    fn machine_readable(&self) -> bool {
        let args = &self.output.args;
        args.iter().any(|a| a == "-json") || args.first().is_some_and(|a| a == "import")
    }
}
