//! Acceptance tests of the data sources (issue 9): real Terraform (1.0 and 1.15) against a
//! dedicated nginx Helm repository and a dedicated `docker-registry`, both holding the same charts
//! made with the real `helm` (`helm package`, `helm repo index`, `helm push`), and the real
//! `helm pull` / `helm show` as the reference.
//!
//! - `helm_chart::*` ([`helm_chart`]): `chartreg_helm_chart`.
//! - `example` ([`example`]): the documented example, with its `helm_release` wiring.
//! - `ghcr::*` ([`ghcr`]): `chartreg_helm_chart` on a GHCR-shaped registry (anonymous pull, no
//!   catalog scope).
//! - `helm_charts::*` ([`helm_charts`]): `chartreg_helm_charts` against `helm search repo`.
//!
//! The fixture charts ([`DsCharts`]): `web` in the versions of [`WEB_VERSIONS`] (the constraint
//! table: pre-releases, build metadata, a deprecated version, a pre-release newest), `schemed`
//! (every Chart.yaml field the data source outputs, a `values.schema.json`) and `umbrella` (two
//! dependencies with condition and alias, one vendored in `charts/`).

pub mod example;
pub mod ghcr;
pub mod helm_chart;
pub mod helm_charts;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::{
    ensure,
    fixtures::{index_repo_dir, random_hex},
    run_cmd, HelmRepoServer, RegistryAuth, RegistryServer, TestResult, Testbed,
};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(helm_chart::tests(tb));
    v.extend(helm_charts::tests(tb));
    v.extend(ghcr::tests(tb));
    v.extend(example::tests(tb));
    v
}

/// The versions of `web`, as published (the first one deprecated).
pub const WEB_VERSIONS: [&str; 10] = [
    "0.9.0",
    "1.0.0",
    "1.2.3",
    "1.2.10",
    "1.3.0-rc.1",
    "1.3.0",
    "2.0.0-beta.1",
    "2.0.0",
    "2.1.0+build.5",
    "3.0.0-alpha.1",
];

/// The OCI namespace the charts are pushed under (`<host>/charts/<name>`).
pub const OCI_NAMESPACE: &str = "charts";

/// The fixture charts, as `.tgz` files made by `helm package`.
pub struct DsCharts {
    pub web: Vec<PathBuf>,
    pub schemed: PathBuf,
    pub umbrella: PathBuf,
    /// `big` 0.1.0: ~40 KiB of incompressible data in a file of the chart (over a small
    /// `max_chart_size`).
    pub big: PathBuf,
}

impl DsCharts {
    pub fn all(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.web.iter().map(PathBuf::as_path).collect();
        v.push(&self.schemed);
        v.push(&self.umbrella);
        v.push(&self.big);
        v
    }
}

/// values.yaml of `schemed`, verbatim (comments and order are part of what `values` returns).
pub const SCHEMED_VALUES: &str = "# Default values for schemed.\nreplicaCount: 2\nimage:\n  repository: nginx   # the image\n  tag: \"1.25\"\nservice:\n  type: ClusterIP\n  port: 80\n";

pub const SCHEMED_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["replicaCount"],
  "properties": {
    "replicaCount": {"type": "integer", "minimum": 1},
    "image": {"type": "object"}
  }
}
"#;

/// Writes a chart directory `work/<name>` from scratch and packages it with `helm package`.
pub fn package(
    tb: &Testbed,
    work: &Path,
    name: &str,
    chart_yaml: &str,
    values: &str,
    schema: Option<&str>,
    subcharts: &[&Path],
) -> TestResult<PathBuf> {
    let dir = work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let w =
        |p: PathBuf, s: &str| std::fs::write(&p, s).map_err(|e| format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir.join("templates")).map_err(|e| e.to_string())?;
    w(dir.join("Chart.yaml"), chart_yaml)?;
    w(dir.join("values.yaml"), values)?;
    w(
        dir.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicaCount | default 1 | quote }}\n",
    )?;
    if let Some(s) = schema {
        w(dir.join("values.schema.json"), s)?;
    }
    if !subcharts.is_empty() {
        std::fs::create_dir_all(dir.join("charts")).map_err(|e| e.to_string())?;
        for s in subcharts {
            std::fs::copy(s, dir.join("charts").join(s.file_name().unwrap()))
                .map_err(|e| e.to_string())?;
        }
    }
    let out = work.join("out");
    run_cmd(
        tb.helm()
            .current_dir(work)
            .args(["package", name, "-d"])
            .arg(&out),
    )?;
    let version = chart_yaml
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .unwrap_or_default()
        .trim();
    let tgz = out.join(format!("{name}-{version}.tgz"));
    ensure(tgz.is_file(), || {
        format!("helm package made no {}", tgz.display())
    })?;
    Ok(tgz)
}

/// The fixture charts, made in a scratch directory.
pub fn make_charts(tb: &Testbed) -> TestResult<DsCharts> {
    let work = tb.scratch_dir("ds-charts");
    let mut web = Vec::new();
    for (i, v) in WEB_VERSIONS.iter().enumerate() {
        let deprecated = if i == 0 { "deprecated: true\n" } else { "" };
        let yaml = format!("apiVersion: v2\nname: web\nversion: {v}\nappVersion: \"app-{v}\"\ndescription: web {v}\n{deprecated}");
        web.push(package(
            tb,
            &work,
            "web",
            &yaml,
            "replicaCount: 1\n",
            None,
            &[],
        )?);
    }
    let schemed_yaml = "apiVersion: v2\nname: schemed\nversion: 0.3.0\nappVersion: \"4.5.6\"\ndescription: A chart with a values schema\ntype: application\nkubeVersion: \">=1.20.0-0\"\nhome: https://schemed.example.com\nicon: https://schemed.example.com/icon.png\nkeywords:\n  - web\n  - schema\nsources:\n  - https://github.com/example/schemed\nmaintainers:\n  - name: Ada\n    email: ada@example.com\n    url: https://ada.example.com\n  - name: Bob\nannotations:\n  category: Infrastructure\n  example.com/licenses: Apache-2.0\n";
    let schemed = package(
        tb,
        &work,
        "schemed",
        schemed_yaml,
        SCHEMED_VALUES,
        Some(SCHEMED_SCHEMA),
        &[],
    )?;
    // A library subchart vendored in charts/ (helm package refuses a dependency missing there).
    let lib = package(
        tb,
        &work,
        "common",
        "apiVersion: v2\nname: common\nversion: 1.4.0\ntype: library\ndescription: helpers\n",
        "",
        None,
        &[],
    )?;
    let umbrella_yaml = "apiVersion: v2\nname: umbrella\nversion: 1.0.0\nappVersion: \"1.0\"\ndescription: A chart with dependencies\ndependencies:\n  - name: schemed\n    version: \"~0.3.0\"\n    repository: https://charts.example.com/stable\n    condition: schemed.enabled\n    alias: db\n  - name: common\n    version: 1.x.x\n    repository: oci://registry.example.com/charts\n";
    let schemed_sub = schemed.clone();
    let umbrella = package(
        tb,
        &work,
        "umbrella",
        umbrella_yaml,
        "db:\n  enabled: true\n",
        None,
        &[&schemed_sub, &lib],
    )?;
    let big_dir = work.join("big-files");
    std::fs::create_dir_all(&big_dir).map_err(|e| e.to_string())?;
    let noise: String = (0..40).map(|_| random_hex(512)).collect();
    let big = package(
        tb,
        &work,
        "big",
        "apiVersion: v2\nname: big\nversion: 0.1.0\ndescription: large\n",
        &format!("noise: {noise}\n"),
        None,
        &[],
    )?;
    Ok(DsCharts {
        web,
        schemed,
        umbrella,
        big,
    })
}

/// A dedicated Helm repository and a dedicated plain OCI registry holding every fixture chart.
pub struct Registries {
    pub charts: DsCharts,
    pub helm: HelmRepoServer,
    pub oci: RegistryServer,
}

pub fn spawn_registries(tb: &Testbed, name: &str) -> TestResult<Registries> {
    let charts = make_charts(tb)?;
    let helm = tb.try_spawn_helm_repo(name, false, false)?;
    index_repo_dir(tb.helm_cli(), &helm.dir, &charts.all())?;
    let oci = tb.try_spawn_registry(RegistryAuth::None)?;
    for tgz in charts.all() {
        oci.push(tgz, OCI_NAMESPACE)?;
    }
    Ok(Registries { charts, helm, oci })
}

/// sha256 (hex) of a file.
pub fn sha256_file(p: &Path) -> TestResult<String> {
    let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(sha256_bytes(&bytes))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// What the real `helm pull` fetches: the `.tgz` it writes into a fresh directory. `repo` is a
/// Helm repository URL (`--repo`) or `oci://…` (then `chart` is appended); `version` as
/// `--version`.
pub fn helm_pull(
    tb: &Testbed,
    repo: &str,
    chart: &str,
    version: Option<&str>,
    flags: &[String],
) -> TestResult<PathBuf> {
    let dest = tb.scratch_dir("helm-pull");
    let mut cmd = tb.helm();
    cmd.arg("pull");
    if repo.starts_with("oci://") {
        cmd.arg(format!("{repo}/{chart}"));
        cmd.args(flags);
    } else {
        cmd.args([chart, "--repo", repo]);
    }
    if let Some(v) = version {
        cmd.args(["--version", v]);
    }
    cmd.arg("-d").arg(&dest);
    run_cmd(&mut cmd)?;
    let files: Vec<PathBuf> = std::fs::read_dir(&dest)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match files.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(format!("helm pull wrote {other:?}")),
    }
}

/// The version of a pulled archive, from its file name (`<chart>-<version>.tgz`).
pub fn pulled_version(tgz: &Path, chart: &str) -> String {
    let f = tgz.file_name().unwrap_or_default().to_string_lossy();
    f.strip_prefix(&format!("{chart}-"))
        .and_then(|r| r.strip_suffix(".tgz"))
        .unwrap_or(&f)
        .to_string()
}

/// Requests in a docker-registry access log (`"GET /v2/… HTTP/1.1" 200`): (method, path).
pub fn registry_requests(reg: &RegistryServer) -> Vec<(String, String)> {
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::fs::read_to_string(&reg.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let q = l.find('"')?;
            let rest = &l[q + 1..];
            let mut parts = rest.split(' ');
            let method = parts.next()?;
            let path = parts.next()?;
            (path.starts_with("/v2/") && ["GET", "HEAD"].contains(&method))
                .then(|| (method.to_string(), path.to_string()))
        })
        .collect()
}
