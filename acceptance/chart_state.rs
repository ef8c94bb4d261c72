//! One chart state shape for both registry resources (issue 8, point 3): every chart in `charts`
//! carries `name`, `latest_version`, `app_version`, `description`, `deprecated`, `version_count`
//! and `versions`, in `chartreg_helm_registry` and `chartreg_oci_registry` alike.
//!
//! - `oci_deprecated_latest`: a chart pushed with the real `helm push` whose only (latest)
//!   version is deprecated is listed as deprecated, and a refresh with nothing changed on the
//!   registry leaves `catalog_digest` and `last_synced` as they were (before the fix the chart was
//!   read back from state as not deprecated, so the first refresh rewrote both).
//! - `previous_release_state`: a state written by the previous release (charts without the fields
//!   that release did not have: `name` for Helm, `deprecated` for OCI, `version_count` for both)
//!   still decodes: plan and refresh succeed, the refresh fills the fields in, and the next plan
//!   is empty.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::{self, ensure, RegistryAuth, TestResult, Testbed, Tf, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "chart_state",
        &[
            ("oci_deprecated_latest", oci_deprecated_latest),
            ("previous_release_state", previous_release_state),
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
        for k in ["catalog_digest", "last_synced"] {
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

/// Removes `fields` from every chart object of every instance of `addr` in `terraform.tfstate`,
/// as the previous release wrote it.
fn strip_chart_fields(tf: &Tf, addr_type: &str, fields: &[&str]) -> TestResult {
    let path = tf.dir.join("terraform.tfstate");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut state: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut stripped = 0;
    for r in state["resources"].as_array_mut().into_iter().flatten() {
        if r["type"] != addr_type {
            continue;
        }
        for i in r["instances"].as_array_mut().into_iter().flatten() {
            for chart in i["attributes"]["charts"]
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                for f in fields {
                    if chart.as_object_mut().and_then(|c| c.remove(*f)).is_some() {
                        stripped += 1;
                    }
                }
            }
        }
    }
    ensure(stripped > 0, || {
        format!("no chart field stripped in {text}")
    })?;
    state["serial"] = Value::from(state["serial"].as_i64().unwrap_or(0) + 1);
    let out = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
    std::fs::write(&path, out).map_err(|e| e.to_string())
}

fn previous_release_state(tb: &Testbed, cli: &TfCli) -> TestResult {
    let key = "charts/mychart";
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "{}resource \"chartreg_helm_registry\" \"r\" {{\n  name     = \"r\"\n  endpoint = \"{}\"\n}}\n",
        oci_config(&tb.oci.plain, key),
        tb.helm.http
    ));
    with_destroy(&tf, || {
        tf.apply()?;
        let helm = tf.resource_attrs(HELM_ADDR)?;
        let oci = tf.resource_attrs(OCI_ADDR)?;
        strip_chart_fields(&tf, "chartreg_helm_registry", &["name", "version_count"])?;
        strip_chart_fields(
            &tf,
            "chartreg_oci_registry",
            &["deprecated", "version_count"],
        )?;
        // Plan from the stored state alone: it decodes (the plan fills the fields in, as an
        // in-place update of `charts` only), then refresh.
        let p = tf.plan(&["-refresh=false", "-detailed-exitcode"]);
        ensure(p.code != 1, || {
            format!("a previous release's state does not plan:\n{p}")
        })?;
        tf.refresh_only()?;
        for (addr, before) in [(HELM_ADDR, &helm), (OCI_ADDR, &oci)] {
            let after = tf.resource_attrs(addr)?;
            ensure(&after == before, || {
                format!("{addr}: after refresh {after}\n  expected {before}")
            })?;
        }
        ensure(helm["charts"]["mychart"]["name"] == "mychart", || {
            format!("Helm charts carry their name: {helm}")
        })?;
        tf.plan_is_empty()
    })
}
