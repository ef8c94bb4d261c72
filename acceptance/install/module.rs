//! `examples/modules/chart-catalog`, the reusable module, called from a root configuration as a
//! team would call it: a Helm repository with basic auth over TLS (the shared `tb.helm.https_auth`,
//! password by a sensitive variable from `TF_VAR_passwords`) and the shared plain OCI registry
//! (`tb.oci.plain`, base path `charts`), with the fixture charts. Applied, re-planned (empty),
//! one constraint changed (only that output changes), applied again; every output is what the
//! real `helm pull` fetches with it (version and sha256 of the archive).

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::q;
use crate::data_sources::{helm_pull, pulled_version, sha256_file};
use crate::harness::{self, ensure, fixtures::random_hex, run_cmd, TestResult, Testbed, Tf, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "install::module",
        &[("chart_catalog_apply_replan_change", chart_catalog)],
    )
}

/// The example directory as a local module source, relative to `from` (Terraform installs a
/// local path in place, so the workspace uses the example itself, not a copy).
fn module_source(from: &Path) -> String {
    let module = harness::repo_dir().join("examples/modules/chart-catalog");
    let module = module.canonicalize().unwrap_or(module);
    let from = from.canonicalize().unwrap_or_else(|_| from.to_path_buf());
    let up = "../".repeat(from.components().count() - 1);
    format!(
        "{up}{}",
        module.display().to_string().trim_start_matches('/')
    )
}

fn root_config(tb: &Testbed, dir: &Path, cache: &Path, prefix: &str, mychart: &str) -> String {
    let module = module_source(dir);
    format!(
        r#"terraform {{
  required_providers {{
    chartreg = {{
      source = "chartreg/chartreg"
    }}
  }}
}}

provider "chartreg" {{
  cache_dir = {cache}
}}

variable "passwords" {{
  type      = map(string)
  sensitive = true
}}

module "catalog" {{
  source      = {module}
  name_prefix = {prefix}
  passwords   = var.passwords
  registries = {{
    internal = {{
      type               = "helm"
      endpoint           = {helm}
      username           = {user}
      ca_certificate     = file({ca})
      base_content_paths = null
      synchronization    = true
    }}
    oci = {{
      type               = "oci"
      endpoint           = {oci}
      username           = null
      ca_certificate     = null
      base_content_paths = ["charts"]
      synchronization    = true
    }}
  }}
  charts = {{
    app = {{
      registry = "internal"
      name     = "mychart"
      version  = {mychart}
    }}
    tool = {{
      registry = "oci"
      name     = "charts/other"
      version  = "^1.0.0"
    }}
  }}
}}

output "charts" {{
  value = module.catalog.charts
}}
"#,
        cache = q(&cache.display().to_string()),
        module = q(&module),
        prefix = q(prefix),
        helm = q(&tb.helm.https_auth),
        user = q(&tb.user),
        ca = q(&tb.ca_cert.display().to_string()),
        oci = q(&format!("http://{}", tb.oci.plain)),
        mychart = q(mychart),
    )
}

/// `helm pull` of `c` (an output entry) with the registry's credentials: (version, sha256).
fn pull(tb: &Testbed, c: &Value) -> TestResult<(String, String)> {
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    let (repo, chart, version) = (s("repository"), s("chart"), s("version"));
    let tgz = if repo.starts_with("oci://") {
        helm_pull(
            tb,
            &repo,
            &chart,
            Some(&version),
            &["--plain-http".to_string()],
        )?
    } else {
        let dest = tb.scratch_dir("module-pull");
        run_cmd(
            tb.helm()
                .args(["pull", &chart, "--repo", &repo, "--version", &version])
                .args(["--username", &tb.user, "--password", &tb.password])
                .arg("--ca-file")
                .arg(&tb.ca_cert)
                .arg("-d")
                .arg(&dest),
        )?;
        dest.join(format!("{chart}-{version}.tgz"))
    };
    Ok((pulled_version(&tgz, &chart), sha256_file(&tgz)?))
}

/// Every output entry against `helm pull`, and the expected versions.
fn check_outputs(tb: &Testbed, tf: &Tf, want: &[(&str, &str)]) -> TestResult {
    let out = tf.output("charts")?;
    for (key, version) in want {
        let c = &out[*key];
        ensure(c["version"] == *version, || {
            format!("charts.{key}: expected version {version}, got {c}")
        })?;
        let (pulled, sha) = pull(tb, c)?;
        ensure(pulled == *version && c["digest"] == sha.as_str(), || {
            format!("charts.{key} = {c}, helm pull fetched {pulled} with sha256 {sha}")
        })?;
    }
    ensure(out.as_object().map(|o| o.len()) == Some(want.len()), || {
        format!("unexpected charts output: {out}")
    })
}

fn chart_catalog(tb: &Testbed, cli: &TfCli) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    let cache = tf.dir.join("cache");
    let prefix = format!("{}-{}-", cli.label.replace('.', ""), random_hex(3));
    tf.env(
        "TF_VAR_passwords",
        &format!("{{ internal = {} }}", q(&tb.password)),
    );
    let cfg = root_config(tb, &tf.dir, &cache, &prefix, "~0.1");
    tf.write(&cfg);
    // modules only: `init` would look the provider up (the development build is an override)
    tf.run_ok(&["get", "-no-color"])?;
    tf.apply_json(&[]).ok()?;
    check_outputs(tb, &tf, &[("app", "0.1.0"), ("tool", "1.0.0")])?;
    tf.plan_is_empty()?;

    // one input changes: the constraint of `app`
    tf.write(&cfg.replace("\"~0.1\"", "\"~0.2\""));
    let plan = tf.plan_json(&["-detailed-exitcode"]);
    ensure(plan.code == 2, || {
        format!("expected changes (exit 2):\n{}", plan.output)
    })?;
    ensure(
        plan.changes().map(|c| c.is_empty()) == Some(true) && plan.planned().is_empty(),
        || {
            format!(
                "the constraint change must change no resource:\n{}",
                plan.output
            )
        },
    )?;
    let text = tf.plan(&[]);
    ensure(
        text.stdout.contains("\"0.1.0\" -> \"0.2.0\"")
            && !text.stdout.contains("\"1.0.0\" ->")
            && !text.stdout.contains(&tb.password),
        || {
            format!(
                "the plan must show only app's version change:\n{}",
                harness::redact(&text.stdout)
            )
        },
    )?;
    tf.apply_json(&[]).ok()?;
    check_outputs(tb, &tf, &[("app", "0.2.0"), ("tool", "1.0.0")])?;
    tf.plan_is_empty()
}
