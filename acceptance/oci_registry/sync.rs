//! `oci_registry::sync::*` and `oci_registry::registry_down::*`: synchronization on and off,
//! `sync_trigger`, and a stopped registry.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::{addr, at, count, versions, RT};
use crate::harness::{ensure, Cases, RegistryAuth, RegistryServer, TestResult, Testbed, Tf, TfCli};

// ------------------------------------------------------------------ synchronization

fn sync_cfg(host: &str, name: &str, sync: bool, trigger: &str) -> String {
    let extra = if sync {
        String::new()
    } else {
        format!("  synchronization    = false\n  sync_trigger       = \"{trigger}\"\n")
    };
    format!(
        "resource {RT:?} \"{name}\" {{\n  name               = \"{name}\"\n  endpoint           = \"http://{host}\"\n  base_content_paths = [\"charts/mychart\"]\n{extra}}}\n"
    )
}

const KEY: &str = "charts/mychart";

/// A dedicated registry with mychart 0.1.0 and a workspace registering it (`on`: synchronization
/// on; `off`: off with `sync_trigger` "1"), applied.
fn sync_setup(tb: &Testbed, cli: &TfCli, name: &str) -> TestResult<(RegistryServer, Tf, Value)> {
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    reg.push(&tb.charts.mychart_010, "charts")?;
    let tf = Tf::new(tb, cli);
    tf.write(&sync_cfg(&reg.host, name, name == "on", "1"));
    tf.apply()?;
    let a = tf.resource_attrs(&addr(name))?;
    ensure(versions(&a, KEY) == ["0.1.0"], || a.to_string())?;
    ensure(a["synchronization"] == (name == "on"), || a.to_string())?;
    Ok((reg, tf, a))
}

pub(super) fn on_sees_new_version(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (reg, tf, before) = sync_setup(tb, cli, "on")?;
    reg.push(&tb.charts.mychart_020, "charts")?;
    tf.refresh_only()?;
    let a = tf.resource_attrs(&addr("on"))?;
    ensure(
        versions(&a, KEY) == ["0.2.0", "0.1.0"]
            && a["charts"][KEY]["app_version"] == "1.1.0"
            && count(&a, "version_count") == 2
            && a["catalog_digest"] != before["catalog_digest"],
        || format!("sync on: the new version is not seen at refresh: {a}"),
    )?;
    tf.plan_is_empty()
}

pub(super) fn off_keeps_catalog(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (reg, tf, before) = sync_setup(tb, cli, "off")?;
    reg.push(&tb.charts.mychart_020, "charts")?;
    tf.refresh_only()?;
    let a = tf.resource_attrs(&addr("off"))?;
    ensure(a == before, || {
        format!("sync off: the catalog changed at refresh: {a}")
    })?;
    tf.plan_is_empty()
}

/// A `sync_trigger` change while the registry is down fails on `endpoint` and keeps the state.
pub(super) fn trigger_while_down_fails(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (reg, tf, before) = sync_setup(tb, cli, "off")?;
    reg.stop();
    tf.write(&sync_cfg(&reg.host, "off", false, "2"));
    let out = tf.apply_json(&[]).failed()?;
    out.expect_error("Registry Unreachable", &at("off", "endpoint"))?;
    let a = tf.resource_attrs(&addr("off"))?;
    ensure(a == before, || {
        format!("a failed re-sync changed the state: {a} (before: {before})")
    })
}

/// New versions pushed; a `sync_trigger` change plans one update and brings them in.
pub(super) fn trigger_downloads_again(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (reg, tf, before) = sync_setup(tb, cli, "off")?;
    let tgz_030 = tb.try_package_chart("mychart", "0.3.0", "1.3.0", "mychart three")?;
    reg.push(&tb.charts.mychart_020, "charts")?;
    reg.push(&tgz_030, "charts")?;
    tf.write(&sync_cfg(&reg.host, "off", false, "2"));
    let p = tf.plan_json(&["-detailed-exitcode"]);
    ensure(
        p.code == 2 && p.planned() == [(addr("off"), "update".into())],
        || format!("a sync_trigger change should plan one update:\n{p}"),
    )?;
    // `last_synced` has one-second resolution and the set-up and this sync can fall in the same
    // second (it did in CI): let the clock pass the second of the first sync.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    tf.apply()?;
    let a = tf.resource_attrs(&addr("off"))?;
    ensure(
        versions(&a, KEY) == ["0.3.0", "0.2.0", "0.1.0"]
            && a["charts"][KEY]["latest_version"] == "0.3.0"
            && a["charts"][KEY]["description"] == "mychart three"
            && a["sync_trigger"] == "2"
            && a["last_synced"] != before["last_synced"],
        || format!("sync_trigger change: {a} (before: {before})"),
    )?;
    tf.plan_is_empty()?;
    tf.destroy()?;
    tf.expect_empty_state()
}

struct Down {
    on: (Tf, Value),
    off: (Tf, Value),
    _reg: RegistryServer,
}

/// `on` and `off` registrations of one registry, applied; then the registry stops.
pub(super) fn registry_down(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "oci_registry::registry_down", |tb, cli| {
        let (reg, on, a_on) = sync_setup(tb, cli, "on")?;
        let off = Tf::new(tb, cli);
        off.write(&sync_cfg(&reg.host, "off", false, "1"));
        off.apply()?;
        let a_off = off.resource_attrs(&addr("off"))?;
        reg.stop();
        Ok(Down {
            on: (on, a_on),
            off: (off, a_off),
            _reg: reg,
        })
    })
    .case("sync_off_plan_quiet", |_, d| {
        let p = d.off.0.plan_json(&["-detailed-exitcode"]);
        ensure(p.code == 0 && p.warnings().is_empty(), || {
            format!("sync off, registry stopped: plan should be empty and quiet:\n{p}")
        })
    })
    .case("sync_off_refresh_quiet", |_, d| {
        let r = d.off.0.apply_json(&["-refresh-only"]).ok()?;
        ensure(r.warnings().is_empty(), || {
            format!("sync off, registry stopped: refresh warns:\n{r}")
        })?;
        let a = d.off.0.resource_attrs(&addr("off"))?;
        ensure(a == d.off.1, || {
            "sync off: the catalog changed while the registry was stopped".into()
        })
    })
    .case("sync_on_plan_warns", |_, d| {
        let p = d.on.0.plan_json(&["-detailed-exitcode"]);
        ensure(p.code == 0, || {
            format!("sync on, registry stopped: plan should succeed and be empty:\n{p}")
        })?;
        let w = p.expect_warning("Registry Unreachable", &at("on", "endpoint"))?;
        ensure(
            w.detail_has("refresh failed, the previous catalog is kept"),
            || format!("the warning does not say the catalog is kept:\n{w}"),
        )
    })
    .case("sync_on_refresh_keeps_catalog", |_, d| {
        let r = d.on.0.apply_json(&["-refresh-only"]).ok()?;
        r.expect_warning("Registry Unreachable", &at("on", "endpoint"))?;
        let a = d.on.0.resource_attrs(&addr("on"))?;
        ensure(a == d.on.1, || {
            format!("sync on, registry stopped: the catalog was not kept: {a}")
        })
    })
    .case("plans_without_refresh_quiet", |_, d| {
        for tf in [&d.on.0, &d.off.0] {
            let p = tf.plan_json(&["-refresh=false", "-detailed-exitcode"]);
            ensure(p.code == 0 && p.warnings().is_empty(), || {
                format!("-refresh=false plan with the registry stopped:\n{p}")
            })?;
        }
        Ok(())
    })
    .trials()
}
