//! `data_sources::example`: `examples/data-sources/chartreg_helm_chart/data-source.tf` (what the
//! docs show) against a dedicated Helm repository (`nginx` 15.0.0, 15.0.3, 15.1.0) and a plain
//! registry (`charts/podinfo` 6.5.0): the constraint resolves as `helm pull --version` does, and
//! the `helm_release` wiring its comments show (`repository`, `chart`, `version`) makes the real
//! `helm pull` fetch the archive whose sha256 is `digest`.

use std::sync::Arc;

use libtest_mimic::Trial;

use super::{helm_pull, package, pulled_version, sha256_file};
use crate::harness::{
    self, ensure, fixtures::index_repo_dir, RegistryAuth, TestResult, Testbed, Tf, TfCli,
};

fn example(tb: &Testbed, cli: &TfCli) -> TestResult {
    let work = tb.scratch_dir("ds-example");
    let mut nginx = Vec::new();
    for v in ["15.0.0", "15.0.3", "15.1.0"] {
        let yaml = format!(
            "apiVersion: v2\nname: nginx\nversion: {v}\nappVersion: \"1.25\"\ndescription: NGINX\n"
        );
        nginx.push(package(
            tb,
            &work,
            "nginx",
            &yaml,
            "replicaCount: 1\nimage: nginx\n",
            None,
            &[],
        )?);
    }
    let podinfo = package(
        tb,
        &work,
        "podinfo",
        "apiVersion: v2\nname: podinfo\nversion: 6.5.0\n",
        "replicaCount: 1\n",
        None,
        &[],
    )?;
    let repo = tb.try_spawn_helm_repo("ds-example", false, false)?;
    let tgzs: Vec<&std::path::Path> = nginx.iter().map(|p| p.as_path()).collect();
    index_repo_dir(tb.helm_cli(), &repo.dir, &tgzs)?;
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    reg.push(&podinfo, "charts")?;

    let file = harness::repo_dir().join("examples/data-sources/chartreg_helm_chart/data-source.tf");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_helm_repo_url", &repo.url).env(
        "TF_VAR_oci_endpoint",
        &format!("http://{}/charts", reg.host),
    );
    tf.write(&text);
    tf.apply()?;
    tf.plan_is_empty()?;
    let n = tf.output("nginx")?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let want = pulled_version(
        &helm_pull(tb, &repo.url, "nginx", Some("~15.0"), &[])?,
        "nginx",
    );
    ensure(n["version"] == want.as_str() && want == "15.0.3", || {
        format!("~15.0: data source {}, helm pull {want}", n["version"])
    })?;
    // The helm_release wiring: repository, chart and version as given to helm.
    let tgz = helm_pull(
        tb,
        &s(&n["repository"]),
        &s(&n["chart"]),
        Some(&s(&n["version"])),
        &[],
    )?;
    let sha = sha256_file(&tgz)?;
    ensure(n["digest"] == sha.as_str(), || {
        format!(
            "digest {} vs the archive helm pull fetched {sha}",
            n["digest"]
        )
    })?;
    let values = tf.output("nginx_values")?;
    ensure(values == "replicaCount: 1\nimage: nginx\n", || {
        format!("values {values}")
    })?;
    let p = tf.output("podinfo")?;
    ensure(
        p["repository"] == format!("oci://{}/charts", reg.host) && p["chart"] == "podinfo",
        || format!("podinfo: {p}"),
    )?;
    let tgz = helm_pull(
        tb,
        &s(&p["repository"]),
        &s(&p["chart"]),
        Some(&s(&p["version"])),
        reg.helm_flags(),
    )?;
    ensure(sha256_file(&tgz)? == sha256_file(&podinfo)?, || {
        "helm pull of the podinfo wiring fetched another archive".into()
    })?;
    tf.destroy().map(drop)
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::both_tf(tb, "data_sources::example", example)
}
