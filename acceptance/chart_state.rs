//! The chart state shape of both registry resources (issue 8 point 3, issue 9): every chart in
//! `charts` is a summary (`name`, `latest_version`, `app_version`, `description`, `deprecated`,
//! `version_count`), in `chartreg_helm_registry` and `chartreg_oci_registry` alike, and every
//! version is in the one `catalog_snapshot` string ([`snapshot`], [`snapshot_versions`] read it
//! for the other modules).
//!
//! - `oci_deprecated_latest`: a chart pushed with the real `helm push` whose only (latest)
//!   version is deprecated is listed as deprecated, and a refresh with nothing changed on the
//!   registry leaves `catalog_digest`, `catalog_snapshot` and `last_synced` as they were (before
//!   the issue 8 fix the chart was read back from state as not deprecated, so the first refresh
//!   rewrote them).
//! - `pre_snapshot_state`: a state written before issue 9 (per-chart `versions` lists, no
//!   `catalog_snapshot`) still decodes (Terraform drops the attribute the schema no longer has):
//!   a plan from it alone shows the catalog re-read (`catalog_snapshot` known after apply), and
//!   after the apply every registry (synchronization on and off, Helm and OCI) has the same
//!   snapshot as a fresh registration and the next plan is empty. Without the fix a refresh
//!   answered 304 left `catalog_snapshot` null for good.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use chartreg::registry::snapshot::Snapshot;

use crate::harness::{self, ensure, RegistryAuth, TestResult, Testbed, Tf, TfCli};

/// The `catalog_snapshot` of a registry resource's attributes, decoded.
pub fn snapshot(attrs: &Value) -> TestResult<Snapshot> {
    let text = attrs["catalog_snapshot"].as_str().unwrap_or_default();
    Snapshot::decode(text).map_err(|e| format!("catalog_snapshot: {e}; attributes: {attrs:.400}"))
}

/// Every version of chart `key` in the snapshot, newest first (empty when it is not there).
pub fn snapshot_versions(attrs: &Value, key: &str) -> Vec<String> {
    snapshot(attrs)
        .ok()
        .and_then(|s| s.charts.get(key).cloned())
        .map(|c| c.versions.into_iter().map(|v| v.version).collect())
        .unwrap_or_default()
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "chart_state",
        &[
            ("oci_deprecated_latest", oci_deprecated_latest),
            ("pre_snapshot_state", pre_snapshot_state),
        ],
    )
}

const OCI_ADDR: &str = "chartreg_oci_registry.r";
const HELM_ADDR: &str = "chartreg_helm_registry.r";

fn oci_config(host: &str, repo: &str) -> String {
    format!(
        "resource \"chartreg_oci_registry\" \"r\" {{\n  name               = \"r\"\n  endpoint           = \"http://{host}\"\n  base_content_paths = [\"{repo}\"]\n}}\n"
    )
}

/// Runs `body`, then destroys whatever it left (also when it failed); the first error wins.
fn with_destroy(tf: &Tf, body: impl FnOnce() -> TestResult) -> TestResult {
    let result = body();
    let destroyed = tf.destroy().map(|_| ());
    result.and(destroyed)
}

fn oci_deprecated_latest(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    let tgz = tb.try_package_chart_with(
        "oldchart",
        "1.0.0",
        "4.0.0",
        "A deprecated chart",
        "deprecated: true\n",
    )?;
    reg.push(&tgz, "charts")?;
    let key = "charts/oldchart";
    let tf = Tf::new(tb, cli);
    tf.write(&oci_config(&reg.host, key));
    with_destroy(&tf, || {
        tf.apply()?;
        let applied = tf.resource_attrs(OCI_ADDR)?;
        let chart = &applied["charts"][key];
        ensure(
            chart["latest_version"] == "1.0.0" && chart["name"] == "oldchart",
            || format!("the pushed chart is not listed: {applied}"),
        )?;
        // `last_synced` has one-second resolution: a rewrite must be able to show.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        tf.refresh_only()?;
        let refreshed = tf.resource_attrs(OCI_ADDR)?;
        for k in ["catalog_digest", "catalog_snapshot", "last_synced"] {
            ensure(refreshed[k] == applied[k], || {
                format!(
                    "nothing changed on the registry, yet refresh rewrote {k}: {} -> {}",
                    applied[k], refreshed[k]
                )
            })?;
        }
        let chart = &refreshed["charts"][key];
        ensure(
            chart["deprecated"] == true && chart["version_count"] == 1,
            || format!("the deprecated latest version is not shown as such: {chart}"),
        )?;
        tf.plan_is_empty()
    })
}

/// Rewrites every registry in `terraform.tfstate` as a release before issue 9 wrote it: no
/// `catalog_snapshot`, each chart with its `versions` list (newest first).
fn write_pre_snapshot_state(tf: &Tf) -> TestResult {
    let path = tf.dir.join("terraform.tfstate");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut state: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut rewritten = 0;
    for r in state["resources"].as_array_mut().into_iter().flatten() {
        for i in r["instances"].as_array_mut().into_iter().flatten() {
            let a = &mut i["attributes"];
            let snap = snapshot(a)?;
            for (key, chart) in a["charts"]
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.iter_mut())
            {
                let versions: Vec<Value> = snap.charts[key.as_str()]
                    .versions
                    .iter()
                    .map(|v| Value::from(v.version.clone()))
                    .collect();
                chart["versions"] = Value::from(versions);
            }
            let removed = a.as_object_mut().and_then(|m| m.remove("catalog_snapshot"));
            rewritten += usize::from(removed.is_some());
        }
    }
    ensure(rewritten == 3, || {
        format!("{rewritten} registries rewritten in {text}")
    })?;
    state["serial"] = Value::from(state["serial"].as_i64().unwrap_or(0) + 1);
    let out = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
    std::fs::write(&path, out).map_err(|e| e.to_string())
}

fn pre_snapshot_state(tb: &Testbed, cli: &TfCli) -> TestResult {
    let key = "charts/mychart";
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "{}resource \"chartreg_helm_registry\" \"r\" {{\n  name     = \"r\"\n  endpoint = \"{url}\"\n}}\n\
         resource \"chartreg_helm_registry\" \"off\" {{\n  name            = \"off\"\n  endpoint        = \"{url}\"\n  synchronization = false\n}}\n",
        oci_config(&tb.oci.plain, key),
        url = tb.helm.http
    ));
    const OFF_ADDR: &str = "chartreg_helm_registry.off";
    with_destroy(&tf, || {
        tf.apply()?;
        let fresh: Vec<Value> = [HELM_ADDR, OFF_ADDR, OCI_ADDR]
            .iter()
            .map(|a| tf.resource_attrs(a))
            .collect::<TestResult<_>>()?;
        write_pre_snapshot_state(&tf)?;
        // Plan from the stored state alone: it decodes, and says the catalog is read again.
        let p = tf.plan_json(&["-refresh=false"]);
        ensure(p.success(), || {
            format!("a pre-snapshot state does not plan:\n{}", p.combined())
        })?;
        let planned = p.planned();
        for addr in [HELM_ADDR, OFF_ADDR, OCI_ADDR] {
            ensure(
                planned
                    .iter()
                    .any(|(a, action)| a == addr && action == "update"),
                || format!("{addr}: no update planned to restore the snapshot: {planned:?}"),
            )?;
        }
        tf.apply()?;
        for (addr, before) in [HELM_ADDR, OFF_ADDR, OCI_ADDR].iter().zip(&fresh) {
            let after = tf.resource_attrs(addr)?;
            for k in ["catalog_snapshot", "charts", "version_count"] {
                ensure(after[k] == before[k], || {
                    format!(
                        "{addr}.{k}: after the apply {:.300}\n  fresh registration {:.300}",
                        after[k], before[k]
                    )
                })?;
            }
        }
        tf.plan_is_empty()
    })
}
