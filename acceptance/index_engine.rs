//! The index engine (`chartreg::registry::helm_index`) on every real-world index in
//! `$CHARTREG_SHARED_DIR/data/indexes/`, against the real Helm CLI (issue 11, target 1):
//!
//! - `index_engine::every_shared_index`: for each `*.yaml` there, the fast path reads it itself
//!   (a comparison on a document it leaves to the full parser would compare that parser with
//!   itself), builds exactly the index the full YAML parser builds, and the catalog equals
//!   `helm search repo NAME/ --versions --devel -o json` (charts, version order, app_version and
//!   description of every version) and `helm search repo NAME/` (latest stable version and what
//!   describes it), and the summaries and the `catalog_snapshot` written from the index equal
//!   those of the catalog. Helm reads the same file from its cache, as `helm repo add` leaves it.
//!
//! No Terraform here (the `helm_registry::helm_search_*` trials go through Terraform); the
//! directory must hold at least one index (the testbed refuses to start without the Bitnami and
//! Rancher ones), so the trial cannot pass without comparing anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use chartreg::registry::catalog::ChartSummary;
use chartreg::registry::helm_index::{
    fast_path_reads, parse_index, parse_index_full_parser, ParsedIndex,
};
use chartreg::registry::snapshot::{Kind, Snapshot};
use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::{ensure, run_cmd, HelmCli, TestResult, Testbed};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let tb = tb.clone();
    vec![Trial::test("index_engine::every_shared_index", move || {
        every_shared_index(&tb).map_err(Into::into)
    })]
}

/// `(chart, version, app_version, description)` rows of `helm search repo NAME/ ARGS -o json`.
fn search(helm: &HelmCli, repo: &str, args: &[&str]) -> TestResult<Vec<[String; 4]>> {
    let term = format!("{repo}/");
    let out = run_cmd(
        helm.command()
            .args(["search", "repo", &term])
            .args(args)
            .args(["-o", "json"]),
    )?;
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("helm search output: {e}"))?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            Some([
                s("name").strip_prefix(&term)?.to_string(),
                s("version"),
                s("app_version"),
                s("description"),
            ])
        })
        .collect())
}

fn compare(helm: &HelmCli, repo: &str, idx: &ParsedIndex) -> TestResult<Vec<String>> {
    let cat = idx.catalog();
    let mut diffs = Vec::new();
    let all = search(helm, repo, &["--versions", "--devel"])?;
    let mut theirs: BTreeMap<&str, Vec<&[String; 4]>> = BTreeMap::new();
    for r in &all {
        theirs.entry(r[0].as_str()).or_default().push(r);
    }
    let ours: Vec<&str> = cat.charts.keys().map(String::as_str).collect();
    let names: Vec<&str> = theirs.keys().copied().collect();
    if ours != names {
        diffs.push(format!("charts: chartreg {ours:?}\n  helm {names:?}"));
    }
    for (chart, rows) in &theirs {
        let Some(c) = cat.charts.get(*chart) else {
            continue;
        };
        let ov: Vec<&str> = c.versions.iter().map(|v| v.version.as_str()).collect();
        let hv: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        if ov != hv {
            diffs.push(format!("{chart}: versions chartreg {ov:?}\n  helm {hv:?}"));
        }
        for r in rows {
            if let Some(v) = c.versions.iter().find(|v| v.version == r[1]) {
                if (v.app_version.as_str(), v.description.as_str()) != (&r[2][..], &r[3][..]) {
                    diffs.push(format!(
                        "{chart} {}: chartreg ({:?}, {:?}) helm ({:?}, {:?})",
                        r[1], v.app_version, v.description, r[2], r[3]
                    ));
                }
            }
        }
    }
    // Without --devel: the newest stable version of each chart, as `charts` in state shows it.
    let latest = search(helm, repo, &[])?;
    let summaries = cat.summaries();
    // What state keeps is written from the compact index directly: the same as from the catalog.
    if idx.summaries() != summaries {
        diffs.push("the summaries written from the index differ from the catalog's".into());
    }
    let url = "https://example.invalid/index.yaml";
    match Snapshot::decode(&idx.snapshot(url)) {
        Ok(s) if s == cat.to_snapshot(Kind::Helm, url) => {}
        Ok(_) => diffs.push("the snapshot decodes to another catalog".into()),
        Err(e) => diffs.push(format!("the snapshot does not decode: {e}")),
    }
    let shown: BTreeMap<&str, &[String; 4]> = latest.iter().map(|r| (r[0].as_str(), r)).collect();
    for (chart, s) in &summaries {
        let ChartSummary {
            latest_version,
            app_version,
            description,
            ..
        } = s;
        let ours = latest_version
            .as_deref()
            .map(|v| (v, app_version.as_str(), description.as_str()));
        let theirs = shown
            .get(chart.as_str())
            .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()));
        if ours != theirs {
            diffs.push(format!("{chart}: latest chartreg {ours:?} helm {theirs:?}"));
        }
    }
    Ok(diffs)
}

fn every_shared_index(tb: &Testbed) -> TestResult {
    let dir = tb.shared_dir.join("data/indexes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    ensure(!files.is_empty(), || {
        format!("no index in {} (CHARTREG_SHARED_DIR)", dir.display())
    })?;
    let home = tb.helm_home();
    let helm = &home.helm4;
    let cache = helm.home.join("cache/repository");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    std::fs::create_dir_all(helm.home.join("config")).map_err(|e| e.to_string())?;
    let mut repos =
        String::from("apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n");
    let mut names = Vec::new();
    for f in &files {
        let name: String = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        std::fs::copy(f, cache.join(format!("{name}-index.yaml")))
            .map_err(|e| format!("{}: {e}", f.display()))?;
        repos.push_str(&format!(
            "- name: {name}\n  url: http://127.0.0.1:9/{name}\n"
        ));
        names.push(name);
    }
    std::fs::write(helm.home.join("config/repositories.yaml"), repos).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    for (f, name) in files.iter().zip(&names) {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let url = format!("https://example.invalid/{name}/index.yaml");
        if let Err(why) = fast_path_reads(&bytes) {
            errors.push(format!(
                "{name}: the fast path leaves it to the full parser ({why})"
            ));
        }
        let fast = parse_index(&bytes, &url).map_err(|e| format!("{name}: {e}"))?;
        let full = parse_index_full_parser(&bytes, &url).map_err(|e| format!("{name}: {e}"))?;
        if fast != full {
            let (fast_entries, full_entries) = (fast.entries(), full.entries());
            let differing: Vec<_> = fast_entries
                .iter()
                .filter(|(k, v)| full_entries.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .take(10)
                .collect();
            errors.push(format!(
                "{name}: the fast path and the full parser differ (charts {differing:?}; skipped {} vs {})",
                fast.skipped, full.skipped
            ));
        }
        ensure(fast.version_count() > 0, || format!("{name}: no versions"))?;
        let diffs = compare(helm, name, &fast)?;
        if !diffs.is_empty() {
            let n = diffs.len();
            errors.push(format!(
                "{name}: {n} difference(s) with helm search repo:\n  {}",
                diffs.into_iter().take(10).collect::<Vec<_>>().join("\n  ")
            ));
        }
    }
    ensure(errors.is_empty(), || errors.join("\n"))
}
