//! Fixtures: test PKI, htpasswd, the isolated Helm CLI, and charts made with the real `helm`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{redact, run_cmd, FixtureCharts, TestResult, Testbed};

/// A Helm binary bound to an isolated home (config, cache, data, registry logins).
#[derive(Debug, Clone, Default)]
pub struct HelmCli {
    pub bin: PathBuf,
    pub home: PathBuf,
}

impl HelmCli {
    pub fn new(bin: PathBuf, home: PathBuf) -> HelmCli {
        HelmCli { bin, home }
    }

    /// `helm` with `HELM_*` from the environment removed and every Helm directory inside `home`.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        for (k, _) in std::env::vars_os() {
            let k_s = k.to_string_lossy();
            if k_s.starts_with("HELM_") || k_s == "KUBECONFIG" || k_s == "DOCKER_CONFIG" {
                c.env_remove(k);
            }
        }
        let h = &self.home;
        c.env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_DATA_HOME", h.join("data"))
            .env("HELM_REGISTRY_CONFIG", h.join("registry.json"))
            .env("HELM_REPOSITORY_CONFIG", h.join("config/repositories.yaml"))
            .env("HELM_REPOSITORY_CACHE", h.join("cache/repository"))
            .env("DOCKER_CONFIG", h.join("docker"))
            .env("KUBECONFIG", h.join("kubeconfig"))
            .stdin(Stdio::null());
        c
    }

    /// Same binary, another registry-config file (so concurrent logins never share a file).
    pub fn with_registry_config(&self, file: &Path) -> Command {
        let mut c = self.command();
        c.env("HELM_REGISTRY_CONFIG", file);
        c
    }
}

/// A private Helm home from [`Testbed::helm_home`].
#[derive(Debug, Clone)]
pub struct HelmHome {
    pub dir: PathBuf,
    pub helm4: HelmCli,
    pub helm3: HelmCli,
}

impl HelmHome {
    pub fn helm(&self) -> Command {
        self.helm4.command()
    }
    pub fn helm3(&self) -> Command {
        self.helm3.command()
    }
}

pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut buf);
    }
    hex::encode(buf)
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            Command::new("hostname")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into())
}

pub fn resolves_to_loopback(host: &str) -> bool {
    use std::net::ToSocketAddrs;
    (host, 80)
        .to_socket_addrs()
        .map(|mut it| it.any(|a| a.ip() == std::net::IpAddr::from([127, 0, 0, 1])))
        .unwrap_or(false)
}

fn openssl(args: &[&str]) -> TestResult {
    run_cmd(Command::new("openssl").args(args)).map(|_| ())
}

/// Test CA, server certificate (SAN 127.0.0.1, 127.0.0.2, localhost, hostname), token-signing key pair, htpasswd.
pub fn make_pki(tb: &mut Testbed) -> TestResult {
    let d = tb.root.join("pki");
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    let (ca_key, ca_crt) = (p("ca.key"), p("ca.crt"));
    ca.extend([
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca_crt,
        "-days",
        "3650",
        "-subj",
        "/CN=chartreg-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&ca)?;
    let (srv_key, srv_csr, srv_crt, srv_ext) = (
        p("server.key"),
        p("server.csr"),
        p("server.crt"),
        p("server.ext"),
    );
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend([
        "-nodes",
        "-keyout",
        &srv_key,
        "-out",
        &srv_csr,
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&req)?;
    std::fs::write(
        &srv_ext,
        format!(
            "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost,DNS:{}\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            tb.hostname
        ),
    )
    .map_err(|e| e.to_string())?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        &srv_csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &srv_crt,
        "-days",
        "825",
        "-extfile",
        &srv_ext,
    ])?;
    // separate self-signed RSA pair that signs registry bearer tokens (RS256; in the rootcertbundle)
    let (tok_key, tok_crt) = (p("token.key"), p("token.crt"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &tok_key,
        "-out",
        &tok_crt,
        "-days",
        "3650",
        "-subj",
        "/CN=chartreg-token-signer",
    ])?;
    // password file for the token server (never on a command line)
    std::fs::write(d.join("password"), &tb.password).map_err(|e| e.to_string())?;
    // bcrypt htpasswd (distribution requires bcrypt; nginx accepts it through libxcrypt)
    let mut child = Command::new("htpasswd")
        .args(["-niB", &tb.user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("htpasswd: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", tb.password).as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(redact(&format!(
            "htpasswd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    tb.htpasswd = tb.root.join("htpasswd");
    std::fs::write(&tb.htpasswd, &out.stdout).map_err(|e| e.to_string())?;
    tb.ca_cert = d.join("ca.crt");
    tb.ca_pem = std::fs::read_to_string(&tb.ca_cert).map_err(|e| e.to_string())?;
    tb.server_cert = d.join("server.crt");
    tb.server_key = d.join("server.key");
    Ok(())
}

pub fn token_cert(tb: &Testbed) -> PathBuf {
    tb.root.join("pki/token.crt")
}

/// `helm create NAME` in `work`, sets version/appVersion/description in Chart.yaml and appends
/// `extra` lines to it (e.g. `"deprecated: true\n"`, or `""`), `helm package` into `work/out`;
/// returns the `.tgz`.
pub fn package_chart(
    helm: &HelmCli,
    work: &Path,
    name: &str,
    version: &str,
    app_version: &str,
    description: &str,
    extra: &str,
) -> TestResult<PathBuf> {
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    run_cmd(helm.command().current_dir(work).args(["create", name]))?;
    let chart_yaml = work.join(name).join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).map_err(|e| e.to_string())?;
    let q = |s: &str| serde_json::to_string(s).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("version:") {
            out.push_str(&format!("version: {version}\n"));
        } else if line.starts_with("appVersion:") {
            out.push_str(&format!("appVersion: {}\n", q(app_version)));
        } else if line.starts_with("description:") {
            out.push_str(&format!("description: {}\n", q(description)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(extra);
    std::fs::write(&chart_yaml, out).map_err(|e| e.to_string())?;
    let dest = work.join("out");
    run_cmd(
        helm.command()
            .current_dir(work)
            .args(["package", name, "-d"])
            .arg(&dest),
    )?;
    let tgz = dest.join(format!("{name}-{version}.tgz"));
    if tgz.is_file() {
        Ok(tgz)
    } else {
        Err(format!("helm package did not produce {}", tgz.display()))
    }
}

/// mychart 0.1.0 / 0.2.0 and other 1.0.0, made once per run into `<root>/charts`.
pub fn make_fixture_charts(tb: &Testbed) -> TestResult<FixtureCharts> {
    let dir = tb.root.join("charts");
    let mk = |name: &str, version: &str, app: &str| -> TestResult<PathBuf> {
        let work = tb.root.join(format!("chart-src/{name}-{version}"));
        let tgz = package_chart(
            &tb.helm4,
            &work,
            name,
            version,
            app,
            &format!("Test chart {name} {version}"),
            "",
        )?;
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let dest = dir.join(tgz.file_name().unwrap());
        std::fs::copy(&tgz, &dest).map_err(|e| e.to_string())?;
        Ok(dest)
    };
    // three `helm create` + `helm package` in parallel (each ~0.1-0.3 s), and the detail charts
    std::thread::scope(|s| {
        let a = s.spawn(|| mk("mychart", "0.1.0", "1.0.0"));
        let b = s.spawn(|| mk("mychart", "0.2.0", "1.1.0"));
        let c = s.spawn(|| mk("other", "1.0.0", "2.0.0"));
        let d = s.spawn(|| make_detail_charts(&tb.helm4, &tb.root.join("chart-src/details"), &dir));
        Ok(FixtureCharts {
            mychart_010: a.join().map_err(|_| "chart thread panicked")??,
            mychart_020: b.join().map_err(|_| "chart thread panicked")??,
            other_100: c.join().map_err(|_| "chart thread panicked")??,
            details: d.join().map_err(|_| "chart thread panicked")??,
        })
    })
}

/// Charts with what the data sources show from inside a chart, written by the real `helm`
/// (`helm create`, `helm dependency update`, `helm package`) into `<root>/charts`:
/// - `with_schema`: `withschema` 0.3.0, a `values.schema.json`, every Chart.yaml field the
///   `chartreg_helm_chart` data source outputs (home, icon, keywords, sources, maintainers,
///   annotations, kubeVersion, type);
/// - `with_deps`: `withdeps` 1.2.0, two dependencies on `withschema` (one aliased, both with a
///   condition), vendored by `helm dependency update` into `charts/` (so the archive holds a
///   subchart with its own Chart.yaml, values.yaml and values.schema.json);
/// - `legacy_v1`: `legacy` 0.1.0, an apiVersion v1 chart whose dependencies (on `withschema`, one
///   aliased) are in `requirements.yaml`, vendored by `helm dependency update`.
#[derive(Debug, Clone, Default)]
pub struct DetailCharts {
    pub with_schema: PathBuf,
    pub with_deps: PathBuf,
    pub legacy_v1: PathBuf,
    /// The values.schema.json written into `with_schema`.
    pub schema_json: String,
}

impl DetailCharts {
    pub fn all(&self) -> [&Path; 3] {
        [&self.with_schema, &self.with_deps, &self.legacy_v1]
    }
}

/// The JSON schema of `withschema`'s values (those of `helm create`).
pub const WITH_SCHEMA_JSON: &str = r#"{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "title": "withschema values",
  "type": "object",
  "properties": {
    "replicaCount": { "type": "integer", "minimum": 0 },
    "image": {
      "type": "object",
      "properties": {
        "repository": { "type": "string" },
        "pullPolicy": { "type": "string", "enum": ["Always", "IfNotPresent", "Never"] },
        "tag": { "type": "string" }
      }
    }
  }
}
"#;

fn write(path: &Path, text: &str) -> TestResult {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// See [`DetailCharts`]: made in `work`, copied into `dest`.
pub fn make_detail_charts(helm: &HelmCli, work: &Path, dest: &Path) -> TestResult<DetailCharts> {
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    let create = |name: &str| run_cmd(helm.command().current_dir(work).args(["create", name]));
    let package = |name: &str, file: &str| -> TestResult<PathBuf> {
        run_cmd(
            helm.command()
                .current_dir(work)
                .args(["package", name, "-d"])
                .arg(work.join("out")),
        )?;
        let tgz = work.join("out").join(file);
        let to = dest.join(file);
        std::fs::copy(&tgz, &to).map_err(|e| format!("{}: {e}", tgz.display()))?;
        Ok(to)
    };

    create("withschema")?;
    write(
        &work.join("withschema/Chart.yaml"),
        r#"apiVersion: v2
name: withschema
description: "A chart with a values schema,\tmaintainers and annotations"
type: application
version: 0.3.0
appVersion: "2.4.1"
home: https://example.com/withschema
icon: https://example.com/withschema/icon.png
keywords: [schema, demo, "chartreg"]
sources:
  - https://git.example.com/withschema
  - https://mirror.example.com/withschema
maintainers:
  - name: Ann Example
    email: ann@example.com
    url: https://ann.example.com
  - name: Bob
annotations:
  category: Demo
  artifacthub.io/license: Apache-2.0
kubeVersion: ">=1.22.0-0"
"#,
    )?;
    write(
        &work.join("withschema/values.schema.json"),
        WITH_SCHEMA_JSON,
    )?;
    let with_schema = package("withschema", "withschema-0.3.0.tgz")?;

    create("withdeps")?;
    let chart =
        std::fs::read_to_string(work.join("withdeps/Chart.yaml")).map_err(|e| e.to_string())?;
    let chart = chart.replace("version: 0.1.0", "version: 1.2.0").replace(
        "description: A Helm chart for Kubernetes",
        "description: A chart with dependencies",
    );
    let deps = r#"dependencies:
  - name: withschema
    version: "~0.3.0"
    repository: "file://../withschema"
    condition: withschema.enabled
  - name: withschema
    alias: extra
    version: ">=0.1.0"
    repository: "file://../withschema"
    condition: extra.enabled
"#;
    write(&work.join("withdeps/Chart.yaml"), &format!("{chart}{deps}"))?;
    run_cmd(
        helm.command()
            .current_dir(work)
            .args(["dependency", "update", "withdeps"]),
    )?;
    let with_deps = package("withdeps", "withdeps-1.2.0.tgz")?;

    let legacy = work.join("legacy");
    std::fs::create_dir_all(legacy.join("templates")).map_err(|e| e.to_string())?;
    write(
        &legacy.join("Chart.yaml"),
        r#"apiVersion: v1
name: legacy
version: 0.1.0
appVersion: "0.9"
description: A v1 chart with requirements.yaml
"#,
    )?;
    write(
        &legacy.join("requirements.yaml"),
        r#"dependencies:
  - name: withschema
    version: 0.3.0
    repository: file://../withschema
    condition: withschema.enabled
  - name: withschema
    version: "~0.3.0"
    repository: "file://../withschema"
    alias: cache
"#,
    )?;
    write(
        &legacy.join("values.yaml"),
        "# legacy values\nwithschema:\n  enabled: false\n",
    )?;
    write(
        &legacy.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
    )?;
    run_cmd(
        helm.command()
            .current_dir(work)
            .args(["dependency", "update", "legacy"]),
    )?;
    let legacy_v1 = package("legacy", "legacy-0.1.0.tgz")?;
    Ok(DetailCharts {
        with_schema,
        with_deps,
        legacy_v1,
        schema_json: WITH_SCHEMA_JSON.to_string(),
    })
}

/// Copies the `.tgz` files into `dir` and runs `helm repo index dir` (relative URLs),
/// with `--merge` when an index already exists.
pub fn index_repo_dir(helm: &HelmCli, dir: &Path, tgzs: &[&Path]) -> TestResult {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for t in tgzs {
        std::fs::copy(t, dir.join(t.file_name().unwrap()))
            .map_err(|e| format!("copy {}: {e}", t.display()))?;
    }
    let index = dir.join("index.yaml");
    let mut cmd = helm.command();
    cmd.args(["repo", "index"]).arg(dir);
    if index.is_file() {
        cmd.arg("--merge").arg(&index);
    }
    run_cmd(&mut cmd).map(|_| ())
}
