//! Errors are worded for what was being fetched and put on an attribute of the object (issue 8,
//! point 5): a registry played by [`FaultServer`] serves a valid Helm chart manifest whose
//! config blob is missing, or an oversized manifest. Before, both read as a Helm repository's
//! index problem ("Registry Index Not Found" with a hint about `index.yaml`, "Registry Index Too
//! Large" with a hint to raise `max_index_size`, which does not limit manifests).
//!
//! Diagnostics are read from `terraform apply -json`.
//!
//! - `oci_blob_not_found`: "Chart Blob Not Found" on `endpoint`, no word of `index.yaml`.
//! - `oci_manifest_too_large`: "Chart Manifest Too Large", no advice to raise `max_index_size`.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::{json, Value};

use crate::harness::{self, ensure, Fault, FaultServer, TestResult, Testbed, Tf, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "error_wording",
        &[
            ("oci_blob_not_found", oci_blob_not_found),
            ("oci_manifest_too_large", oci_manifest_too_large),
        ],
    )
}

const CONFIG_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/// A registry with one repository `charts/x` tagged `1.0.0`, whose manifest is `manifest`.
fn one_chart_registry(manifest: Fault) -> FaultServer {
    let fs = FaultServer::start();
    fs.route("/v2/", vec![Fault::json(200, &json!({}))]);
    fs.route(
        "/v2/charts/x/tags/list",
        vec![Fault::json(
            200,
            &json!({"name": "charts/x", "tags": ["1.0.0"]}),
        )],
    );
    fs.route("/v2/charts/x/manifests/1.0.0", vec![manifest]);
    fs
}

fn helm_manifest() -> Fault {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": CONFIG_DIGEST,
            "size": 100
        },
        "layers": []
    });
    Fault::respond(200, m.to_string())
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
}

/// The error diagnostics of `terraform apply -json` (which must fail) with the quoted line.
fn apply_errors(tf: &Tf) -> TestResult<Vec<Value>> {
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-json"]);
    ensure(!out.success(), || format!("apply should fail:\n{out}"))?;
    let diags: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "diagnostic" && v["diagnostic"]["severity"] == "error")
        .map(|v| v["diagnostic"].clone())
        .collect();
    ensure(!diags.is_empty(), || {
        format!("no error diagnostic in:\n{out}")
    })?;
    Ok(diags)
}

/// The one error diagnostic, with `summary`, quoting the line of `attribute`.
fn expect_error(diags: &[Value], summary: &str, attribute: &str) -> TestResult<String> {
    let d = diags
        .iter()
        .find(|d| d["summary"] == summary)
        .ok_or_else(|| format!("no error {summary:?} in {diags:?}"))?;
    let line = d["snippet"]["code"].as_str().unwrap_or_default().trim();
    ensure(
        line.strip_prefix(attribute)
            .is_some_and(|r| r.trim_start().starts_with('=')),
        || format!("{summary:?} should quote the line of {attribute}: {d}"),
    )?;
    Ok(d["detail"].as_str().unwrap_or_default().to_string())
}

fn config(fs: &FaultServer) -> String {
    format!(
        "resource \"chartreg_oci_registry\" \"r\" {{\n  name               = \"r\"\n  endpoint           = \"http://{}\"\n  base_content_paths = [\"charts/x\"]\n}}\n",
        fs.host()
    )
}

fn oci_blob_not_found(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = one_chart_registry(helm_manifest());
    fs.route(
        &format!("/v2/charts/x/blobs/{CONFIG_DIGEST}"),
        vec![Fault::json(
            404,
            &json!({"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}),
        )],
    );
    let tf = Tf::new(tb, cli);
    tf.write(&config(&fs));
    let diags = apply_errors(&tf)?;
    let detail = expect_error(&diags, "Chart Blob Not Found", "endpoint")?;
    ensure(!detail.contains("index.yaml"), || {
        format!("an OCI blob is no Helm index: {detail}")
    })?;
    ensure(
        fs.requests_to(&format!("/v2/charts/x/blobs/{CONFIG_DIGEST}"))
            .len()
            == 1,
        || "the config blob was not asked for once".into(),
    )
}

fn oci_manifest_too_large(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = one_chart_registry(Fault::Truncate {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        body: b"{".to_vec(),
        declared: 64 << 20,
    });
    let tf = Tf::new(tb, cli);
    tf.write(&config(&fs));
    let diags = apply_errors(&tf)?;
    let detail = expect_error(&diags, "Chart Manifest Too Large", "endpoint")?;
    ensure(!detail.contains("max_index_size"), || {
        format!("max_index_size does not limit manifests: {detail}")
    })
}
