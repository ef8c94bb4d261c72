//! The secret sweep (`CHARTREG_ACC_SWEEP=1`, `make sweep`): issue 7 asks that nothing the suite
//! makes Terraform and the provider write, even at TRACE, holds a credential.
//!
//! In sweep mode every Terraform command runs with `TF_LOG=trace` into
//! `<workspace>/terraform-trace.log` (a trial that sets `TF_LOG` itself keeps its own file).
//! After the trials and after every server stopped, every file under the run root is searched
//! for every testbed secret — the password, the AWS secret keys and external ID, moto's ECR
//! tokens (user `AWS`), each bearer token the token server issued and every secret a trial
//! [`register`]ed (the session tokens of the roles the provider assumed) — in plain form, URL-encoded, and in base64 (standard and URL-safe, at all
//! three byte alignments, so a secret inside a longer base64 text is found too), alone and as
//! `user:secret` (Basic auth). Searched: Terraform logs, the transcripts of every command
//! (`.tf-runs/`), state files (without the values the provider's schema declares sensitive, read
//! from `terraform providers schema -json`, and those Terraform marks sensitive: a `password`
//! attribute is meant to be there), server logs, caches. Not searched: the
//! credential stores of the test clients and servers (`pki/`, `htpasswd`, Helm's registry and
//! repository configs), the configurations the tests wrote (`*.tf`: inputs, not outputs) and
//! binary files. Any hit fails the run, listed as `file:line` with the secret redacted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use serde_json::Value;

use super::{TestResult, Testbed, Tf};

/// The per-workspace TRACE log in sweep mode.
pub const TRACE_LOG: &str = "terraform-trace.log";

/// `CHARTREG_ACC_SWEEP` is set (and not `0`).
pub fn enabled() -> bool {
    std::env::var_os("CHARTREG_ACC_SWEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// One occurrence of a secret.
#[derive(Debug, Clone)]
pub struct Hit {
    pub file: PathBuf,
    pub line: usize,
    /// Which secret in which form, e.g. `password (base64 of user:secret)`.
    pub what: String,
    /// The line around the hit, every secret form replaced by `***`.
    pub excerpt: String,
}

/// What a sweep looked at and found.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub bytes: u64,
    pub skipped: usize,
    pub hits: Vec<Hit>,
}

/// Secrets learnt while the trials run (`(name, user, value)`: the user of its `user:secret`
/// form), see [`register`].
static REGISTERED: std::sync::Mutex<Vec<(String, String, String)>> =
    std::sync::Mutex::new(Vec::new());

/// Adds a secret for the sweep to look for (plain, URL-encoded, base64, and base64 of
/// `user:secret`): e.g. session tokens an AWS service issued to the provider during a trial.
pub fn register(name: &str, user: &str, value: &str) {
    let mut r = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if !r.iter().any(|(_, _, v)| v == value) {
        r.push((name.to_string(), user.to_string(), value.to_string()));
    }
}

/// Every secret with the user of its `user:secret` form: the testbed's (user `tb.user`), moto's
/// ECR tokens (user `AWS`) and the [`register`]ed ones.
pub fn all_secrets(tb: &Testbed) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = secrets(tb)
        .into_iter()
        .map(|(n, v)| (n, tb.user.clone(), v))
        .collect();
    for account in [&tb.aws.account, &tb.aws.second_account] {
        out.push((
            format!("ECR token of account {account}"),
            "AWS".into(),
            super::Aws::ecr_password(account),
        ));
    }
    out.extend(
        REGISTERED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned(),
    );
    out.retain(|(_, _, v)| v.len() >= 8);
    out
}

/// The testbed's secrets: `(name, value)`.
pub fn secrets(tb: &Testbed) -> Vec<(String, String)> {
    let mut s = vec![
        ("password".to_string(), tb.password.clone()),
        (
            "AWS secret key".to_string(),
            tb.aws.secret_access_key.clone(),
        ),
        (
            "AWS secret key (reader)".to_string(),
            tb.aws.reader_secret.clone(),
        ),
        ("AWS external ID".to_string(), tb.aws.external_id.clone()),
    ];
    for (i, t) in tb.token.issued_tokens().into_iter().enumerate() {
        // the signature alone too: it is what makes the token unique
        if let Some(sig) = t.rsplit('.').next().filter(|p| p.len() >= 16) {
            s.push((format!("bearer token #{i} (signature)"), sig.to_string()));
        }
        s.push((format!("bearer token #{i}"), t));
    }
    s.retain(|(_, v)| v.len() >= 8);
    s
}

/// Every form of `secret` the sweep looks for: `(description, text)`.
pub fn forms(name: &str, user: &str, secret: &str) -> Vec<(String, String)> {
    let mut out = vec![(format!("{name} (plain)"), secret.to_string())];
    let url = url_encode(secret);
    if url != secret {
        out.push((format!("{name} (URL-encoded)"), url));
    }
    for core in base64_cores(secret.as_bytes()) {
        out.push((format!("{name} (base64)"), core));
    }
    for core in base64_cores(format!("{user}:{secret}").as_bytes()) {
        out.push((format!("{name} (base64 of user:secret)"), core));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The base64 characters that depend on `data` alone, for each of the three alignments `data`
/// can have inside a longer base64 text, in the standard and URL-safe alphabets.
fn base64_cores(data: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut out = Vec::new();
    for k in 0..3 {
        let mut buf = vec![0u8; k];
        buf.extend_from_slice(data);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(&buf);
            let (start, end) = ((8 * k).div_ceil(6), (8 * (k + data.len())) / 6);
            if end > start + 8 {
                out.push(enc[start..end].to_string());
            }
        }
    }
    out
}

/// Files that hold credentials by design, or the tests' own inputs (relative to the run root).
fn skipped(rel: &Path) -> bool {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let under = |dir: &str| {
        rel.components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with(dir))
    };
    under("pki")
        || name == "htpasswd"
        || (under("helm-home") || name.starts_with("helm-registry"))
            && (name.ends_with(".json") || name == "repositories.yaml")
        || under("docker")
        || name.ends_with(".tf")
        || name.ends_with(".tfvars")
        || name.ends_with(".tfrc")
        || name == "terraform.rc"
}

/// Searches every file under the run root (see the module doc).
pub fn sweep(tb: &Testbed) -> TestResult<Report> {
    let mut patterns: Vec<(String, String)> = Vec::new();
    for (name, user, value) in all_secrets(tb) {
        patterns.extend(forms(&name, &user, &value));
    }
    let ac = AhoCorasick::new(patterns.iter().map(|(_, p)| p.as_str()))
        .map_err(|e| format!("sweep patterns: {e}"))?;
    let schema = sensitive_schema(tb)?;
    let mut report = Report::default();
    let mut files = Vec::new();
    walk(&tb.root, &mut files);
    for path in files {
        let rel = path.strip_prefix(&tb.root).unwrap_or(&path).to_path_buf();
        if skipped(&rel) {
            report.skipped += 1;
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if bytes[..bytes.len().min(8192)].contains(&0) {
            report.skipped += 1;
            continue;
        }
        report.files += 1;
        report.bytes += bytes.len() as u64;
        let text = String::from_utf8_lossy(&bytes);
        let text = if is_state(&rel) {
            scrub_state(&text, &schema)
        } else {
            text.into_owned()
        };
        for m in ac.find_iter(&text) {
            let line_start = text[..m.start()].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[m.end()..]
                .find('\n')
                .map_or(text.len(), |i| m.end() + i);
            let line = text[..m.start()].matches('\n').count() + 1;
            report.hits.push(Hit {
                file: rel.clone(),
                line,
                what: patterns[m.pattern().as_usize()].0.clone(),
                excerpt: excerpt(&ac, &text[line_start..line_end], m.start() - line_start),
            });
        }
    }
    Ok(report)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

/// ±60 characters of `line` around `at`, every secret form replaced by `***`.
fn excerpt(ac: &AhoCorasick, line: &str, at: usize) -> String {
    let redacted = ac.replace_all(line, &vec!["***"; ac.patterns_len()]);
    let at = redacted
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|&i| i <= at.min(redacted.len()))
        .last()
        .unwrap_or(0);
    let from = redacted[..at]
        .char_indices()
        .rev()
        .nth(60)
        .map_or(0, |(i, _)| i);
    let to = redacted[at..]
        .char_indices()
        .nth(80)
        .map_or(redacted.len(), |(i, _)| at + i);
    redacted[from..to].to_string()
}

fn is_state(rel: &Path) -> bool {
    let n = rel.to_string_lossy();
    n.ends_with(".tfstate") || n.ends_with(".tfstate.backup")
}

/// Attribute paths the provider's schema declares sensitive, by `(mode, type)` of the object
/// (`("managed", "chartreg_helm_registry")` → `[["password"]]`; inside nested blocks
/// `[["ecr", "secret"]]`).
pub type SensitiveSchema = HashMap<(String, String), Vec<Vec<String>>>;

/// [`SensitiveSchema`] from `terraform providers schema -json` (a scratch workspace).
pub fn sensitive_schema(tb: &Testbed) -> TestResult<SensitiveSchema> {
    let cli = Testbed::terraform_versions()
        .pop()
        .ok_or("no Terraform CLI")?;
    let tf = Tf::new(tb, &cli);
    tf.write("");
    let o = tf.run_ok(&["providers", "schema", "-json"])?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("schema JSON: {e}"))?;
    let mut out = SensitiveSchema::new();
    for p in v["provider_schemas"].as_object().into_iter().flatten() {
        for (mode, key) in [
            ("managed", "resource_schemas"),
            ("data", "data_source_schemas"),
        ] {
            for (ty, schema) in p.1[key].as_object().into_iter().flatten() {
                let mut paths = Vec::new();
                sensitive_paths(&schema["block"], &mut Vec::new(), &mut paths);
                out.insert((mode.to_string(), ty.clone()), paths);
            }
        }
    }
    Ok(out)
}

fn sensitive_paths(block: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (name, a) in block["attributes"].as_object().into_iter().flatten() {
        if a["sensitive"] == true {
            out.push([prefix.as_slice(), std::slice::from_ref(name)].concat());
        }
    }
    for (name, b) in block["block_types"].as_object().into_iter().flatten() {
        prefix.push(name.clone());
        sensitive_paths(&b["block"], prefix, out);
        prefix.pop();
    }
}

/// Replaces the value at `keys` (through lists of nested blocks) with a marker.
fn blank(v: &mut Value, keys: &[String]) {
    match (v, keys.split_first()) {
        (Value::Array(items), Some(_)) => items.iter_mut().for_each(|i| blank(i, keys)),
        (Value::Object(m), Some((k, rest))) => {
            if let Some(next) = m.get_mut(k) {
                if rest.is_empty() {
                    *next = Value::String("(sensitive, not swept)".into());
                } else {
                    blank(next, rest);
                }
            }
        }
        _ => {}
    }
}

/// A state file without the values the schema declares sensitive nor those Terraform marks
/// sensitive (`sensitive_attributes`: values from sensitive variables), pretty printed (line
/// numbers then refer to that text).
fn scrub_state(text: &str, schema: &SensitiveSchema) -> String {
    let Ok(mut state) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    for r in state["resources"].as_array_mut().into_iter().flatten() {
        let key = (
            r["mode"].as_str().unwrap_or_default().to_string(),
            r["type"].as_str().unwrap_or_default().to_string(),
        );
        let declared = schema.get(&key).cloned().unwrap_or_default();
        for inst in r["instances"].as_array_mut().into_iter().flatten() {
            let mut paths = declared.clone();
            // [[{"type":"get_attr","value":"password"}, {"type":"index","value":{…}}]]
            for path in inst["sensitive_attributes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let steps = path
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![path.clone()]);
                paths.push(
                    steps
                        .iter()
                        .map(|st| match &st["value"] {
                            Value::String(k) => k.clone(),
                            other => other.to_string(),
                        })
                        .collect(),
                );
            }
            for p in &paths {
                blank(&mut inst["attributes"], p);
            }
        }
    }
    serde_json::to_string_pretty(&state).unwrap_or_default()
}

/// Runs the sweep and prints its result; `Err` (with the hits) when a secret was found.
pub fn run_and_report(tb: &Testbed) -> TestResult {
    let t0 = Instant::now();
    let report = sweep(tb)?;
    eprintln!(
        "acceptance: secret sweep: {} files ({:.1} MB) searched, {} skipped, {} hit(s) in {:.1} s",
        report.files,
        report.bytes as f64 / 1e6,
        report.skipped,
        report.hits.len(),
        t0.elapsed().as_secs_f64()
    );
    if report.hits.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<String> = report
        .hits
        .iter()
        .take(60)
        .map(|h| {
            format!(
                "  {}:{}: {}: {}",
                h.file.display(),
                h.line,
                h.what,
                h.excerpt
            )
        })
        .collect();
    if report.hits.len() > 60 {
        lines.push(format!("  … and {} more", report.hits.len() - 60));
    }
    Err(format!(
        "secret sweep: {} occurrence(s) of testbed secrets under {}:\n{}",
        report.hits.len(),
        tb.root.display(),
        lines.join("\n")
    ))
}

/// Checks of the forms and the state scrubbing (run by the `smoke::sweep_forms` trial).
pub fn self_check() -> TestResult {
    let basic = base64::engine::general_purpose::STANDARD.encode("chartreg:s3cr3t-value!");
    let header = format!("Authorization: Basic {basic}");
    let inner = base64::engine::general_purpose::STANDARD
        .encode("{\"auths\":{\"x\":\"chartreg:s3cr3t-value!\"}}");
    let forms = forms("pw", "chartreg", "s3cr3t-value!");
    let ac = AhoCorasick::new(forms.iter().map(|(_, p)| p.as_str())).map_err(|e| e.to_string())?;
    for (what, text) in [
        ("plain", "x s3cr3t-value! y".to_string()),
        ("URL-encoded", "?p=s3cr3t-value%21".to_string()),
        ("Basic header", header),
        ("base64 inside base64", inner),
    ] {
        if !ac.is_match(&text) {
            return Err(format!("the sweep misses the {what} form in {text:?}"));
        }
    }
    let state = r#"{"resources":[{"instances":[{"attributes":{"password":"s3cr3t-value!","name":"n"},
        "sensitive_attributes":[[{"type":"get_attr","value":"password"}]]}]}]}"#;
    let none = SensitiveSchema::new();
    if ac.is_match(&scrub_state(state, &none)) {
        return Err("a value marked sensitive in the state is not scrubbed".into());
    }
    let literal = r#"{"resources":[{"mode":"managed","type":"t","instances":[{"attributes":
        {"password":"s3cr3t-value!","blk":[{"k":"s3cr3t-value!"}]},"sensitive_attributes":[]}]}]}"#;
    let declared: SensitiveSchema = [(
        ("managed".to_string(), "t".to_string()),
        vec![
            vec!["password".to_string()],
            vec!["blk".to_string(), "k".to_string()],
        ],
    )]
    .into_iter()
    .collect();
    if ac.is_match(&scrub_state(literal, &declared)) {
        return Err("a value the schema declares sensitive is not scrubbed".into());
    }
    Ok(())
}
