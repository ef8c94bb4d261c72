//! Acceptance-test harness: one shared [`Testbed`] of loopback servers per run, plus helpers to
//! spawn dedicated servers, make fixture charts with the real Helm CLI and drive Terraform.
//!
//! One file per server ([`nginx`], [`registry`], [`tokenserver`], [`moto`], all in the process
//! table of [`procs`]; [`servers`] starts the shared ones), Terraform in [`terraform`] with its
//! diagnostics read by [`diagnostics`] (placed on attributes by [`hcl`]), named cases on shared
//! fixtures in [`cases`], the secret sweep in [`sweep`], hostile servers in [`faults`],
//! interrupted commands in [`interrupt`].
//!
//! Everything returns `Result<_, String>` ([`TestResult`]) so trials can use `?`; the few helpers
//! documented as panicking are meant for test bodies (libtest-mimic turns a panic into a failure).
//! Error texts never contain the test password (see [`redact`]).

#![allow(dead_code)] // the helpers are used by test modules that are written in parallel

pub mod cases;
pub mod diagnostics;
pub mod fault_proxy;
pub mod faults;
pub mod fixtures;
pub mod hcl;
pub mod interrupt;
pub mod moto;
pub mod nginx;
pub mod oci;
pub mod other_name;
pub mod procs;
pub mod registry;
pub mod servers;
pub mod sweep;
pub mod terraform;
pub mod tokenserver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

// re-exports for the test modules (some are not used yet)
#[allow(unused_imports)]
pub use cases::Cases;
#[allow(unused_imports)]
pub use diagnostics::{Diagnostic, Severity};
#[allow(unused_imports)]
pub use faults::{Fault, FaultServer, Mangle, Match, SeenRequest, TcpTunnel};
#[allow(unused_imports)]
pub use fixtures::{HelmCli, HelmHome};
#[allow(unused_imports)]
pub use moto::Aws;
#[allow(unused_imports)]
pub use nginx::{AccessLogEntry, HelmRepoServer, HelmRepos};
#[allow(unused_imports)]
pub use oci::{BulkChart, HttpResponse, OciClient};

pub use other_name::spawn_other_name_tls;
#[allow(unused_imports)]
pub use procs::{ServerProc, LOOPBACK, LOOPBACK2};
#[allow(unused_imports)]
pub use registry::{OciRegistries, Pushed, RegistryAuth, RegistryOptions, RegistryServer};
#[allow(unused_imports)]
pub use terraform::{both_tf, lifecycle, scenarios, Body, Tf, TfCli, TfOutput, TfReport};
#[allow(unused_imports)]
pub use tokenserver::TokenServer;

/// Result type of every harness helper and of trial bodies.
pub type TestResult<T = ()> = Result<T, String>;

static SECRET: OnceLock<String> = OnceLock::new();

/// Replaces the test password with `***` (use on anything that goes into a failure message).
pub fn redact(s: &str) -> String {
    match SECRET.get() {
        Some(p) if !p.is_empty() => s.replace(p.as_str(), "***"),
        _ => s.to_string(),
    }
}

/// `Ok(())` when `cond` holds, else `Err(msg())`: the assertion of trial bodies.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// `true` when `CHARTREG_ACC_VERBOSE` is set: the harness then prints timings to stderr.
pub fn verbose() -> bool {
    std::env::var_os("CHARTREG_ACC_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Root of the repository (the crate's manifest directory).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$CHARTREG_TOOLS`, default `<repo>/.testbed/tools` (filled by `acceptance/setup.sh`).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("CHARTREG_TOOLS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_dir().join(".testbed/tools"),
    }
}

/// `$CHARTREG_SHARED_DIR`, default `<repo>/../shared` (real-world index files).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("CHARTREG_SHARED_DIR") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_dir().join("../shared"),
    }
}

/// Fixture charts made by `helm create` + `helm package` when the testbed starts; every shared
/// classic repository serves them and every shared registry holds them as `charts/<name>:<version>`.
#[derive(Debug, Clone, Default)]
pub struct FixtureCharts {
    pub mychart_010: PathBuf,
    pub mychart_020: PathBuf,
    pub other_100: PathBuf,
    /// Charts with more inside (schema, dependencies, a v1 chart): not served by the shared
    /// servers ([`FixtureCharts::all`] leaves them out); see [`fixtures::DetailCharts`].
    pub details: fixtures::DetailCharts,
}

impl FixtureCharts {
    pub fn all(&self) -> [&Path; 3] {
        [&self.mychart_010, &self.mychart_020, &self.other_100]
    }
}

/// The shared servers and fixtures of one acceptance run. Cheap to share (`Arc<Testbed>`), thread-safe.
#[derive(Default)]
pub struct Testbed {
    /// Temporary root of this run: logs, certificates, server data, Terraform workspaces.
    pub root: PathBuf,
    /// `$CHARTREG_TOOLS` (venv, helm, terraform).
    pub tools: PathBuf,
    /// `<repo>/../shared`.
    pub shared_dir: PathBuf,
    /// PEM file of the test CA that signed every TLS server certificate.
    pub ca_cert: PathBuf,
    pub ca_pem: String,
    /// Server certificate/key (SAN: 127.0.0.1, 127.0.0.2, localhost, `hostname`) for TLS servers.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// bcrypt htpasswd file with `user`/`password`.
    pub htpasswd: PathBuf,
    pub user: String,
    /// Random per run; never print it (use [`redact`]).
    pub password: String,
    /// Machine hostname: in the certificate SAN and (checked at start) resolving to loopback.
    pub hostname: String,
    /// Whether `hostname` resolves to 127.0.0.1 (needed for Helm 3 against TLS registries).
    pub hostname_is_loopback: bool,

    /// The shared classic Helm repositories (nginx): `helm.http`, `helm.https_auth`, `helm.realworld`…
    pub helm: HelmRepos,
    /// The shared OCI registries: `oci.plain`, `oci.basic`, `oci.token` (`127.0.0.1:P`).
    pub oci: OciRegistries,
    /// The token server of `oci.token`: `token.realm`, `token.service`, `token.log`.
    pub token: TokenServer,
    /// moto: `aws.endpoint`, keys, `aws.role_arn`, `aws.ecr_repo`.
    pub aws: Aws,

    pub charts: FixtureCharts,

    helm4: HelmCli,
    helm3: HelmCli,
    shared: Mutex<Vec<ServerProc>>,
    counter: std::sync::atomic::AtomicUsize,
}

impl Testbed {
    /// Starts every shared server and seeds the fixtures. On error, whatever was started is stopped.
    pub fn start() -> TestResult<Testbed> {
        let t0 = Instant::now();
        let tools = tools_dir();
        check_tools(&tools)?;
        let shared = shared_dir();
        for f in [
            "data/indexes/bitnami-2022-06-16.yaml",
            "data/indexes/rancher-dev-v2.9.yaml",
        ] {
            if !shared.join(f).is_file() {
                return Err(format!(
                    "shared data file {} is missing (set CHARTREG_SHARED_DIR to the shared/ directory)",
                    shared.join(f).display()
                ));
            }
        }
        let shared = shared
            .canonicalize()
            .map_err(|e| format!("{}: {e}", shared.display()))?;

        let root = match std::env::var_os("CHARTREG_ACC_ROOT") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => std::env::temp_dir().join(format!(
                "chartreg-acc-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0)
            )),
        };
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;

        let mut tb = Testbed {
            root: root.clone(),
            tools: tools.clone(),
            shared_dir: shared,
            user: "chartreg".into(),
            password: fixtures::random_hex(12),
            hostname: fixtures::hostname(),
            ..Default::default()
        };
        let _ = SECRET.set(tb.password.clone());
        tb.aws.external_id = format!("ext-{}", fixtures::random_hex(10));
        tb.hostname_is_loopback = fixtures::resolves_to_loopback(&tb.hostname);
        tb.helm4 = HelmCli::new(tools.join("bin/helm"), root.join("helm-home/v4"));
        tb.helm3 = HelmCli::new(tools.join("bin/helm3"), root.join("helm-home/v3"));

        let t = Instant::now();
        fixtures::make_pki(&mut tb)?;
        let t_pki = t.elapsed();
        let t = Instant::now();
        tb.charts = fixtures::make_fixture_charts(&tb)?;
        let t_charts = t.elapsed();
        let t = Instant::now();
        servers::start_shared(&mut tb)?;
        let t_servers = t.elapsed();
        let t = Instant::now();
        servers::seed_shared(&tb)?.apply(&mut tb.aws);
        let t_seed = t.elapsed();
        if verbose() {
            eprintln!(
                "testbed: pki {:.2}s, charts {:.2}s, servers {:.2}s, seed {:.2}s, total {:.2}s",
                t_pki.as_secs_f64(),
                t_charts.as_secs_f64(),
                t_servers.as_secs_f64(),
                t_seed.as_secs_f64(),
                t0.elapsed().as_secs_f64()
            );
        }
        Ok(tb)
    }

    /// A testbed whose servers are not started: only used to build the list of trials
    /// (`--list`, or when the filter selects no acceptance trial). Its trials must never run.
    pub fn placeholder() -> Testbed {
        Testbed {
            tools: tools_dir(),
            shared_dir: shared_dir(),
            user: "chartreg".into(),
            ..Default::default()
        }
    }

    /// Stops every shared server (also done on drop; dedicated ones stop on drop;
    /// [`servers::stop_all_live`] catches any leftover).
    pub fn shutdown(&self) {
        let mut procs = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        for p in procs.iter_mut() {
            p.stop();
        }
        procs.clear();
    }

    pub(crate) fn add_shared(&self, p: ServerProc) {
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p);
    }

    /// Log tail of a shared server (`nginx`, `oci-plain`, `oci-basic`, `oci-token`, `tokenserver`, `moto`).
    pub fn server_log_tail(&self, name: &str, lines: usize) -> String {
        let procs = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        procs
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.log_tail(lines))
            .unwrap_or_default()
    }

    /// A fresh unique directory under the run root (`<root>/<prefix>-<n>`).
    pub fn scratch_dir(&self, prefix: &str) -> PathBuf {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = self.root.join(format!("{prefix}-{n}"));
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        d
    }

    /// `helm` v4 with this testbed's isolated home (repositories, cache, registry logins are shared
    /// by all users of the testbed; use [`Testbed::helm_home`] for a private one).
    pub fn helm(&self) -> Command {
        self.helm4.command()
    }

    /// `helm` v3.17 with this testbed's isolated home.
    pub fn helm3(&self) -> Command {
        self.helm3.command()
    }

    /// The Helm v4 / v3 CLIs as values (clonable, carry their home).
    pub fn helm_cli(&self) -> &HelmCli {
        &self.helm4
    }
    pub fn helm3_cli(&self) -> &HelmCli {
        &self.helm3
    }

    /// A fresh, private Helm home (its own repositories.yaml, cache and registry logins).
    pub fn helm_home(&self) -> HelmHome {
        let dir = self.scratch_dir("helm-home");
        HelmHome {
            helm4: HelmCli::new(self.helm4.bin.clone(), dir.join("v4")),
            helm3: HelmCli::new(self.helm3.bin.clone(), dir.join("v3")),
            dir,
        }
    }

    /// Python of the tools venv (boto3, moto) with AWS settings pointing at moto
    /// (`AWS_ENDPOINT_URL`, region, access key) in its environment.
    pub fn python(&self) -> Command {
        let mut c = Command::new(self.tools.join("venv/bin/python"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.env("AWS_ENDPOINT_URL", &self.aws.endpoint)
            .env("AWS_DEFAULT_REGION", &self.aws.region)
            .env("AWS_ACCESS_KEY_ID", &self.aws.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.aws.secret_access_key)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        c
    }

    /// Makes `NAME-VERSION.tgz` with `helm create` + edited Chart.yaml + `helm package`.
    pub fn try_package_chart(
        &self,
        name: &str,
        version: &str,
        app_version: &str,
        description: &str,
    ) -> TestResult<PathBuf> {
        self.try_package_chart_with(name, version, app_version, description, "")
    }

    /// [`Testbed::try_package_chart`] with `extra` lines appended to Chart.yaml.
    pub fn try_package_chart_with(
        &self,
        name: &str,
        version: &str,
        app_version: &str,
        description: &str,
        extra: &str,
    ) -> TestResult<PathBuf> {
        let work = self.scratch_dir("chart");
        fixtures::package_chart(
            &self.helm4,
            &work,
            name,
            version,
            app_version,
            description,
            extra,
        )
    }

    /// A dedicated nginx (plain HTTP, no auth) serving a fresh directory seeded with mychart 0.1.0.
    /// Panics on error.
    pub fn spawn_helm_repo(&self, name: &str) -> HelmRepoServer {
        self.try_spawn_helm_repo(name, false, false)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Testbed::spawn_helm_repo`] with TLS (test CA) and/or basic auth on the whole server.
    pub fn try_spawn_helm_repo(
        &self,
        name: &str,
        tls: bool,
        basic_auth: bool,
    ) -> TestResult<HelmRepoServer> {
        nginx::spawn_helm_repo(self, LOOPBACK, name, tls, basic_auth)
    }

    /// A dedicated, empty docker-registry. Panics on error.
    pub fn spawn_registry(&self, auth: RegistryAuth) -> RegistryServer {
        self.try_spawn_registry(auth)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_spawn_registry(&self, auth: RegistryAuth) -> TestResult<RegistryServer> {
        registry::spawn_registry(self, LOOPBACK, auth)
    }

    /// `127.0.0.1:P` of the shared registry with that auth (`tb.oci.host(auth)`).
    pub fn oci_host(&self, auth: RegistryAuth) -> &str {
        self.oci.host(auth)
    }

    /// Raw OCI client for the shared registry with that auth (logs in as `user` when auth is on).
    pub fn oci_client(&self, auth: RegistryAuth) -> OciClient {
        OciClient::new(self, self.oci_host(auth), auth)
    }

    /// GET `url` trusting the test CA (`basic`: send `user`/`password`).
    pub fn http_get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        basic: bool,
    ) -> TestResult<HttpResponse> {
        oci::http_get(self, url, headers, basic)
    }

    /// Terraform CLIs under test: 1.0.3 (`tf1.0`) and 1.15.x (`tf1.15`).
    pub fn terraform_versions() -> Vec<TfCli> {
        terraform::terraform_versions(&tools_dir())
    }
}

/// Fails with "run acceptance/setup.sh" when a tool is missing.
pub fn check_tools(tools: &Path) -> TestResult {
    let mut missing = Vec::new();
    for rel in [
        "venv/bin/python",
        "venv/bin/moto_server",
        "bin/helm",
        "bin/helm3",
        "bin/terraform-1.0",
        "bin/terraform-1.15",
    ] {
        if !tools.join(rel).exists() {
            missing.push(tools.join(rel).display().to_string());
        }
    }
    for prog in [
        "docker-registry",
        "nginx",
        "htpasswd",
        "openssl",
        "gpg",
        "gpgconf",
    ] {
        if fixtures::which(prog).is_none() {
            missing.push(format!("{prog} (on PATH)"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "acceptance tools missing: {}\n=> run `bash acceptance/setup.sh` first (CHARTREG_TOOLS={})",
            missing.join(", "),
            tools.display()
        ))
    }
}

/// Runs a command to completion; on failure (spawn error or non-zero exit) returns its command line,
/// status and output, redacted.
pub fn run_cmd(cmd: &mut Command) -> TestResult<std::process::Output> {
    cmd.stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| redact(&format!("cannot run {}: {e}", describe(cmd))))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(redact(&format!(
            "{} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        )))
    }
}

/// Program and arguments of a command (no environment), redacted.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    redact(&s)
}

/// Shared handle type passed to the test modules.
pub type Shared = Arc<Testbed>;
