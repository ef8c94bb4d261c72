//! `oci_registry::refresh_reads_only_what_changed`: the catalog reuse rules, counted in the
//! registry's access log (nothing changed, a version added, a version deleted, import with the
//! disk cache).

use std::path::Path;

use super::{chart_keys, count, file_len, read_from, versions};
use crate::harness::{self, ensure, RegistryAuth, TestResult, Testbed, Tf, TfCli, TfOutput};

/// The provider's GETs (user agent `chartreg/…`) in a docker-registry access log after byte
/// `from`: the manifests read, as sorted `repository:reference`, and the number of blobs read.
fn provider_reads(log: &Path, from: u64) -> (Vec<String>, usize) {
    let (mut manifests, mut blobs) = (Vec::new(), 0);
    for line in read_from(log, from).lines() {
        // 127.0.0.1 - - [date] "GET /v2/<repo>/manifests/<ref> HTTP/1.1" 200 123 "" "chartreg/0.1.0"
        let quoted: Vec<&str> = line.split('"').collect();
        if quoted.len() < 6 || !quoted[5].starts_with("chartreg/") {
            continue;
        }
        let mut request = quoted[1].split_whitespace();
        let (Some("GET"), Some(path)) = (request.next(), request.next()) else {
            continue;
        };
        let Some(rest) = path.strip_prefix("/v2/") else {
            continue;
        };
        if let Some((repo, reference)) = rest.split_once("/manifests/") {
            manifests.push(format!("{repo}:{reference}"));
        } else if rest.contains("/blobs/") {
            blobs += 1;
        }
    }
    manifests.sort();
    (manifests, blobs)
}

/// A dedicated plain registry with charts two and three levels deep, a semver-tagged plain image
/// inside a chart repository and one outside. Seen from the registry's access log: create reads
/// every manifest and each chart's config once; a refresh with nothing changed reads no chart
/// manifest and no blob (only the semver-tagged images, which the catalog cannot remember); a
/// pushed version costs its manifest and config only; a deleted version makes that repository's
/// manifests be read again, their configs coming from the disk cache; an import (empty catalog in
/// a new process) reads every manifest and no blob. The catalog is right after each step.
pub(super) fn refresh_reads_only_what_changed(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    reg.push(&tb.charts.mychart_010, "charts")?;
    reg.push(&tb.charts.mychart_020, "charts")?;
    reg.push(&tb.charts.other_100, "team/charts")?;
    reg.push_image("charts/mychart", "9.9.9")?;
    reg.push_image("images/app", "1.0.0")?;
    let tgz_030 = tb.try_package_chart("mychart", "0.3.0", "1.3.0", "mychart three")?;
    let addr = "chartreg_oci_registry.r";
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "resource \"chartreg_oci_registry\" \"r\" {{\n  name     = \"r\"\n  endpoint = \"http://{}\"\n}}\n",
        reg.host
    ));
    let images = ["charts/mychart:9.9.9", "images/app:1.0.0"];
    // Runs one Terraform step and checks what it read: `charts` manifests besides the images.
    let step = |what: &str,
                run: &dyn Fn() -> TestResult<TfOutput>,
                charts: &[&str],
                blobs: usize| {
        let from = file_len(&reg.log);
        run()?;
        let (read, read_blobs) = provider_reads(&reg.log, from);
        let mut want: Vec<String> = charts
            .iter()
            .chain(&images)
            .map(|s| s.to_string())
            .collect();
        want.sort();
        ensure(read == want && read_blobs == blobs, || {
            format!("{what}: read the manifests {read:?} and {read_blobs} blob(s); expected {want:?} and {blobs}")
        })?;
        tf.resource_attrs(addr)
    };
    let mychart = "charts/mychart";
    {
        let created = step(
            "create",
            &|| tf.apply(),
            &[
                "charts/mychart:0.1.0",
                "charts/mychart:0.2.0",
                "team/charts/other:1.0.0",
            ],
            3,
        )?;
        ensure(
            chart_keys(&created) == [mychart, "team/charts/other"]
                && versions(&created, mychart) == ["0.2.0", "0.1.0"]
                && created["charts"]["team/charts/other"]["name"] == "other",
            || format!("create: {created}"),
        )?;
        let a = step("refresh, nothing changed", &|| tf.refresh_only(), &[], 0)?;
        ensure(a == created, || {
            format!("refresh with nothing changed rewrote the state: {a}\nbefore: {created}")
        })?;

        reg.push(&tgz_030, "charts")?;
        let a = step(
            "refresh after a push",
            &|| tf.refresh_only(),
            &["charts/mychart:0.3.0"],
            1,
        )?;
        let c = &a["charts"][mychart];
        ensure(
            versions(&a, mychart) == ["0.3.0", "0.2.0", "0.1.0"]
                && c["latest_version"] == "0.3.0"
                && c["app_version"] == "1.3.0"
                && c["description"] == "mychart three"
                && a["charts"]["team/charts/other"] == created["charts"]["team/charts/other"],
            || format!("refresh after a push: {a}"),
        )?;

        reg.client().delete_manifest(mychart, "0.2.0")?;
        let a = step(
            "refresh after a deletion",
            &|| tf.refresh_only(),
            &["charts/mychart:0.1.0", "charts/mychart:0.3.0"],
            0,
        )?;
        ensure(
            versions(&a, mychart) == ["0.3.0", "0.1.0"]
                && a["charts"][mychart]["latest_version"] == "0.3.0"
                && count(&a, "version_count") == 3,
            || format!("refresh after a deletion: {a}"),
        )?;
        tf.plan_is_empty()?;

        tf.state_rm(addr)?;
        let imported = step(
            "import",
            &|| tf.import(addr, &format!("r=http://{}", reg.host)),
            &[
                "charts/mychart:0.1.0",
                "charts/mychart:0.3.0",
                "team/charts/other:1.0.0",
            ],
            0,
        )?;
        let diffs = harness::terraform::compare_attrs(&a, &imported, &["last_synced"]);
        ensure(diffs.is_empty(), || {
            format!("imported state differs:\n{}", diffs.join("\n"))
        })?;
        tf.plan_is_empty()?;
        tf.destroy()?;
        tf.expect_empty_state()
    }
}
