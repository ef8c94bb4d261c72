//! Security cases: see acceptance/security/mod.rs.
//!
//! Hostile `index.yaml` documents served by a [`FaultServer`] to a `chartreg_helm_registry`
//! (issue 7, points 5, 13 and 14). Each case creates the registry (an error, nothing in state) and,
//! where it matters, refreshes a registry created from a good index (a warning, the previous
//! charts kept):
//! - `deep_nesting`: 100k nested `[` (the issue's 200 KB document, 42 s of CPU before) and 50k
//!   nested `{a: `: refused at once as nested too deeply.
//! - `alias_expansion`: one anchored version with a 60k-item field, aliased 40k times (billions
//!   of YAML events to replay): refused at once as expanding aliases too far.
//! - `parse_deadline`: a 1M-version flow-style index that takes longer than `request_timeout`
//!   (`1s`) to read: a "parse timed out" error, not a parse that runs on past the timeout.
//! - `malformed_entry`: a version that is not a mapping, a field of the wrong type: the message
//!   names the chart, the entry and the line (no serde internals such as `struct RawEntry`).
//! - `control_chars_in_names`: chart names with ANSI escapes are skipped with the invalid-entry
//!   warning and never reach the state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use serde_json::Value;

use super::{expect_error_on, flat, helm_resource, in_resource, provider, q, HELM};
use crate::harness::{self, ensure, Fault, FaultServer, TestResult, Testbed, Tf, TfCli, TfOutput};

const ADDR: &str = "chartreg_helm_registry.r";

const GOOD: &str = "apiVersion: v1\nentries:\n  mychart:\n    - name: mychart\n      version: 0.1.0\n      urls: [mychart-0.1.0.tgz]\n";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "security::parse",
        &[
            ("deep_nesting", deep_nesting),
            ("alias_expansion", alias_expansion),
            ("parse_deadline", parse_deadline),
            ("malformed_entry", malformed_entry),
            ("control_chars_in_names", control_chars_in_names),
        ],
    )
}

// ------------------------------------------------------------------ helpers

/// A provider block with `request_timeout` and one registry `r` at `endpoint`.
fn config(endpoint: &str, request_timeout: &str) -> String {
    let timeout = format!("request_timeout = {}", q(request_timeout));
    provider(&[&timeout, "max_retries     = 0"]) + &helm_resource("r", endpoint)
}

/// The `severity: summary` block of `out`, white space collapsed (Terraform wraps long lines).
fn diag(out: &TfOutput, severity: &str, summary: &str) -> TestResult<String> {
    let head = format!("{severity}: {summary}");
    out.diag_blocks()
        .into_iter()
        .find(|b| b.starts_with(&head))
        .map(|b| flat(&b))
        .ok_or_else(|| format!("no \"{head}\" diagnostic in:\n{out}"))
}

/// An apply error `summary` on `endpoint` whose text contains every one of `needles`.
fn expect_endpoint_error(out: &TfOutput, summary: &str, needles: &[&str]) -> TestResult<String> {
    let b = flat(&expect_error_on(
        out,
        summary,
        &in_resource(HELM, "r"),
        "endpoint",
    )?);
    for n in needles {
        ensure(b.contains(n), || {
            format!("the error should say {n:?}:\n{b}")
        })?;
    }
    Ok(b)
}

fn charts(tf: &Tf) -> TestResult<Value> {
    Ok(tf.resource_attrs(ADDR)?["charts"].clone())
}

/// Create `r` from [`GOOD`], serve each of `hostile` in turn and refresh: every refresh warns
/// `summary` (with `needle`), says the previous index is kept and leaves the state as it was.
fn refresh_keeps_index(
    tf: &Tf,
    fs: &FaultServer,
    hostile: &[(&str, Vec<u8>)],
    summary: &str,
    needle: &str,
    max_secs: u64,
) -> TestResult {
    fs.route("/index.yaml", vec![Fault::ok(GOOD)]);
    tf.apply()?;
    let before = tf.resource_attrs(ADDR)?;
    ensure(
        before["charts"]["mychart"]["latest_version"] == "0.1.0",
        || format!("created from the good index: {before}"),
    )?;
    for (what, doc) in hostile {
        fs.route("/index.yaml", vec![Fault::ok(doc.clone())]);
        let t0 = Instant::now();
        let r = tf.refresh_only()?;
        let took = t0.elapsed();
        let w = diag(&r, "Warning", summary).map_err(|e| format!("{what}: {e}"))?;
        ensure(
            w.contains("previous index is kept") && w.contains(needle),
            || {
                format!(
                    "{what}: the warning should say {needle:?} and that the index is kept:\n{w}"
                )
            },
        )?;
        let after = tf.resource_attrs(ADDR)?;
        ensure(after == before, || {
            format!("{what}: a refused refresh changed the state:\n{before}\n->\n{after}")
        })?;
        ensure(took < Duration::from_secs(max_secs), || {
            format!("{what}: the refresh took {took:?}")
        })?;
    }
    tf.destroy()?;
    Ok(())
}

// ------------------------------------------------------------------ point 5: parse cost

/// A create from the first of `hostile` is refused at once (within 20 s, Terraform start-up
/// included; the issue's document took 42 s of CPU before) as "Not A Helm Repository Index" saying `needle`, nothing in state; then each of
/// `hostile` to a refresh (see [`refresh_keeps_index`]).
fn refused_at_once(
    tf: &Tf,
    request_timeout: &str,
    hostile: &[(&str, Vec<u8>)],
    needle: &str,
) -> TestResult {
    let fs = FaultServer::start();
    fs.route("/index.yaml", vec![Fault::ok(hostile[0].1.clone())]);
    tf.write(&config(&fs.url(""), request_timeout));
    let t0 = Instant::now();
    let out = tf.apply_err()?;
    let took = t0.elapsed();
    expect_endpoint_error(&out, "Not A Helm Repository Index", &[needle])?;
    ensure(took < Duration::from_secs(20), || {
        format!("the refusal took {took:?}")
    })?;
    tf.expect_empty_state()?;
    refresh_keeps_index(tf, &fs, hostile, "Not A Helm Repository Index", needle, 20)
}

fn deep_nesting(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = &Tf::new(tb, cli);
    // The issue's document: 100k `[` then 100k `]` (200 KB).
    let brackets = format!(
        "apiVersion: v1\nentries: {}{}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // 50k nested flow mappings.
    let maps = format!(
        "apiVersion: v1\nentries: {}x{}\n",
        "{a: ".repeat(50_000),
        "}".repeat(50_000)
    );
    refused_at_once(
        tf,
        "2s",
        &[
            ("100k [", brackets.into_bytes()),
            ("50k {a:", maps.into_bytes()),
        ],
        "nested deeper than",
    )
}

/// One valid version anchored with a 60k-item field nobody reads, then 40k aliases of it:
/// 40k × 60k events to replay.
fn alias_bomb() -> String {
    let mut doc = String::from(
        "apiVersion: v1\nentries:\n  mychart:\n    - &v {name: mychart, version: 1.0.0, junk: [",
    );
    doc.push_str(&"0,".repeat(60_000));
    doc.push_str("0]}\n");
    for _ in 0..40_000 {
        doc.push_str("    - *v\n");
    }
    doc
}

fn alias_expansion(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = &Tf::new(tb, cli);
    refused_at_once(
        tf,
        "30s",
        &[("alias bomb", alias_bomb().into_bytes())],
        "aliases",
    )
}

fn parse_deadline(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = &Tf::new(tb, cli);
    let fs = FaultServer::start();
    // 1M flow-style versions (26 MB) that all fail validation (so that a parse that completes
    // leaves a small state): reading them takes seconds, request_timeout is 1s.
    let mut slow = String::from("apiVersion: v1\nentries:\n  c:\n");
    for _ in 0..1_000_000 {
        slow.push_str("  - {name: c, version: x}\n");
    }
    fs.route("/index.yaml", vec![Fault::ok(slow.clone())]);
    tf.write(&config(&fs.url(""), "1s"));
    let out = tf.apply_err()?;
    expect_endpoint_error(
        &out,
        "Registry Index Parse Timed Out",
        &["request_timeout", "1s"],
    )?;
    tf.expect_empty_state()?;
    refresh_keeps_index(
        tf,
        &fs,
        &[("1M versions", slow.into_bytes())],
        "Registry Index Parse Timed Out",
        "request_timeout",
        60,
    )
}

// ------------------------------------------------------------------ point 13: messages

fn malformed_entry(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = &Tf::new(tb, cli);
    let fs = FaultServer::start();
    tf.write(&config(&fs.url(""), "10s"));
    let cases = [
        (
            "a version that is a number",
            "apiVersion: v1\nentries:\n  mychart:\n    - {name: mychart, version: 0.1.0}\n    - 42\n",
            vec!["chart \"mychart\"", "entry 2", "line 5", "mapping", "a number"],
        ),
        (
            "a name that is a list",
            "apiVersion: v1\nentries:\n  other:\n    - name: [x]\n      version: 1.0.0\n",
            vec!["chart \"other\"", "entry 1", "`name`", "text", "a list", "line 4"],
        ),
        (
            "entries that are a list",
            "apiVersion: v1\nentries:\n  - mychart\n",
            vec!["`entries`", "chart names", "a list", "line 3"],
        ),
    ];
    for (what, doc, needles) in cases {
        fs.route("/index.yaml", vec![Fault::ok(doc)]);
        let out = tf.apply_err()?;
        let b = expect_endpoint_error(&out, "Not A Helm Repository Index", &needles)
            .map_err(|e| format!("{what}: {e}"))?;
        for internal in ["RawEntry", "RawIndex", "struct", "sequence", "expected"] {
            ensure(!b.contains(internal), || {
                format!("{what}: the message shows {internal:?}:\n{b}")
            })?;
        }
        tf.expect_empty_state()?;
    }
    Ok(())
}

// ------------------------------------------------------------------ point 14: control characters

fn control_chars_in_names(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = &Tf::new(tb, cli);
    let fs = FaultServer::start();
    // YAML `\e` is ESC: a chart key and name that would colour the terminal, one whose name
    // only is escaped, one with a C1 control (CSI), and a good chart.
    let doc = "apiVersion: v1\nentries:\n  \"\\e[31mevil\\e[0m\":\n    - {name: \"\\e[31mevil\\e[0m\", version: 1.0.0}\n  sneaky:\n    - {name: \"sneaky\\e]0;title\\a\", version: 1.0.0}\n  \"csi\\u009b2J\":\n    - {name: \"csi\\u009b2J\", version: 1.0.0}\n  mychart:\n    - {name: mychart, version: 0.1.0, urls: [mychart-0.1.0.tgz]}\n";
    fs.route("/index.yaml", vec![Fault::ok(doc)]);
    tf.write(&config(&fs.url(""), "10s"));
    let out = tf.apply()?;
    let w = diag(&out, "Warning", "Invalid Index Entries Skipped")?;
    ensure(w.contains("3 chart version(s)"), || {
        format!("three entries should be skipped:\n{w}")
    })?;
    ensure(
        !out.combined().contains('\u{1b}') && !out.combined().contains('\u{9b}'),
        || format!("a control character reached Terraform's output:\n{out:?}"),
    )?;
    let c = charts(tf)?;
    let keys: Vec<&String> = c
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    ensure(keys == ["mychart"], || {
        format!("only `mychart` should be in state, got {keys:?}")
    })?;
    let state = tf.run_ok(&["show", "-json", "-no-color"])?;
    ensure(
        !state.stdout.contains("\\u001b") && !state.stdout.contains('\u{1b}'),
        || format!("an escape character is in the state:\n{}", state.stdout),
    )?;
    tf.destroy()?;
    Ok(())
}
