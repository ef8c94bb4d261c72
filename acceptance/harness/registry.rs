//! CNCF distribution `docker-registry`: the three shared OCI registries of the [`Testbed`]
//! (`tb.oci`: plain HTTP without auth, HTTPS + htpasswd basic auth, HTTPS + bearer tokens from
//! the token server), seeded with the fixture charts by the real `helm push`, and dedicated
//! registries per test ([`RegistryServer`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::fixtures::{token_cert, HelmCli};
use super::oci::OciClient;
use super::procs::{free_port_on, tail_of, ServerProc};
use super::{run_cmd, TestResult, Testbed};

/// The shared registries, `127.0.0.1:P` each; every one holds `charts/mychart` 0.1.0 0.2.0 and
/// `charts/other` 1.0.0.
#[derive(Debug, Clone, Default)]
pub struct OciRegistries {
    /// Plain HTTP, no auth.
    pub plain: String,
    /// HTTPS + htpasswd basic auth.
    pub basic: String,
    /// HTTPS + bearer tokens from `tb.token.realm`.
    pub token: String,
}

impl OciRegistries {
    /// `127.0.0.1:P` of the shared registry with that auth.
    pub fn host(&self, auth: RegistryAuth) -> &str {
        match auth {
            RegistryAuth::None => &self.plain,
            RegistryAuth::Basic => &self.basic,
            RegistryAuth::Token => &self.token,
        }
    }
}

/// Authentication of a registry (shared or dedicated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryAuth {
    /// Plain HTTP, anonymous.
    None,
    /// HTTPS (test CA) + htpasswd basic auth.
    Basic,
    /// HTTPS (test CA) + bearer tokens from the shared token server.
    Token,
}

impl RegistryAuth {
    pub const ALL: [RegistryAuth; 3] =
        [RegistryAuth::None, RegistryAuth::Basic, RegistryAuth::Token];

    pub fn label(self) -> &'static str {
        match self {
            RegistryAuth::None => "plain",
            RegistryAuth::Basic => "basic",
            RegistryAuth::Token => "token",
        }
    }
    pub fn scheme(self) -> &'static str {
        match self {
            RegistryAuth::None => "http",
            _ => "https",
        }
    }
}

/// What a dedicated registry may do besides its [`RegistryAuth`] (the ECR cases).
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// With [`RegistryAuth::Basic`]: accept only this `(user, password)` (its own htpasswd
    /// file) instead of the testbed's; `helm push` logs in with it. With [`RegistryAuth::None`]:
    /// the same over plain HTTP (the raw [`OciClient`] then sends no credentials: `push` only).
    pub login: Option<(String, String)>,
    /// Answer blob downloads with a redirect to this origin (`scheme://host:port`; the path is the
    /// blob's path in the storage, `/docker/registry/v2/blobs/…`), as Amazon ECR redirects to S3
    /// (distribution's `redirect` storage middleware).
    pub redirect_blobs_to: Option<String>,
}

/// A registry process (not started) on `bind:port` storing under `dir/data`.
fn registry_proc(
    tb: &Testbed,
    name: &str,
    dir: &Path,
    bind: IpAddr,
    port: u16,
    auth: RegistryAuth,
    token: &super::TokenServer,
) -> TestResult<ServerProc> {
    registry_proc_with(
        tb,
        name,
        dir,
        bind,
        port,
        auth,
        token,
        &RegistryOptions::default(),
    )
}

fn registry_proc_with(
    tb: &Testbed,
    name: &str,
    dir: &Path,
    bind: IpAddr,
    port: u16,
    auth: RegistryAuth,
    token: &super::TokenServer,
    opts: &RegistryOptions,
) -> TestResult<ServerProc> {
    std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
    let mut cfg = format!(
        "version: 0.1\nlog: {{level: info, accesslog: {{disabled: false}}}}\nstorage:\n  \
         filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\n  \
         maintenance: {{uploadpurging: {{enabled: false}}}}\nhttp:\n  addr: {bind}:{port}\n  \
         secret: chartreg-not-a-secret\n",
        dir.join("data").display()
    );
    if auth != RegistryAuth::None {
        cfg.push_str(&format!(
            "  tls: {{certificate: {}, key: {}}}\n",
            tb.server_cert.display(),
            tb.server_key.display()
        ));
    }
    if let Some(origin) = &opts.redirect_blobs_to {
        cfg.push_str(&format!(
            "middleware:\n  storage:\n    - name: redirect\n      options: {{baseurl: {origin}}}\n"
        ));
    }
    let htpasswd = match &opts.login {
        Some((user, password)) => {
            let file = dir.join("htpasswd");
            let out =
                run_cmd(std::process::Command::new("htpasswd").args(["-Bbn", user, password]))?;
            std::fs::write(&file, &out.stdout).map_err(|e| e.to_string())?;
            file
        }
        None => tb.htpasswd.clone(),
    };
    match auth {
        RegistryAuth::None if opts.login.is_some() => cfg.push_str(&format!(
            "auth: {{htpasswd: {{realm: chartreg-registry, path: {}}}}}\n",
            htpasswd.display()
        )),
        RegistryAuth::None => {}
        RegistryAuth::Basic => cfg.push_str(&format!(
            "auth: {{htpasswd: {{realm: chartreg-registry, path: {}}}}}\n",
            htpasswd.display()
        )),
        RegistryAuth::Token => cfg.push_str(&format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: chartreg-issuer\n    rootcertbundle: {}\n",
            token.realm,
            token.service,
            token_cert(tb).display()
        )),
    }
    let conf = dir.join("config.yml");
    std::fs::write(&conf, cfg).map_err(|e| e.to_string())?;
    Ok(ServerProc::new(
        name,
        "docker-registry",
        &[&"serve", &conf],
        dir.join("registry.log"),
        port,
    )
    .on(bind)
    // keep Debian's /etc/docker/registry/config.yml and any REGISTRY_* env out of it
    .env("REGISTRY_CONFIGURATION_PATH", &conf)
    .env("OTEL_TRACES_EXPORTER", "none"))
}

/// The three shared registries (not started) on `bind`; `tb.token` must be set already.
pub(crate) fn shared(tb: &Testbed, bind: IpAddr) -> TestResult<(Vec<ServerProc>, OciRegistries)> {
    let mut procs = Vec::new();
    let mut hosts = OciRegistries::default();
    for auth in RegistryAuth::ALL {
        let name = format!("oci-{}", auth.label());
        let port = free_port_on(bind);
        procs.push(registry_proc(
            tb,
            &name,
            &tb.root.join(&name),
            bind,
            port,
            auth,
            &tb.token,
        )?);
        let host = format!("{bind}:{port}");
        match auth {
            RegistryAuth::None => hosts.plain = host,
            RegistryAuth::Basic => hosts.basic = host,
            RegistryAuth::Token => hosts.token = host,
        }
    }
    Ok((procs, hosts))
}

/// Pushes the fixture charts into the three shared registries with the real `helm push`
/// (as `charts/<name>:<version>`), one thread per registry.
pub(crate) fn seed_shared(tb: &Testbed) -> TestResult {
    std::thread::scope(|s| {
        let pushes: Vec<_> = RegistryAuth::ALL
            .into_iter()
            .map(|auth| {
                s.spawn(move || {
                    let cfg = tb
                        .root
                        .join(format!("helm-home/registry-{}.json", auth.label()));
                    let flags = registry_flags(tb, auth);
                    for tgz in tb.charts.all() {
                        helm_push(
                            tb.helm_cli(),
                            &cfg,
                            tb.oci.host(auth),
                            &flags,
                            tgz,
                            "charts",
                        )
                        .map_err(|e| format!("seeding registry {}: {e}", auth.label()))?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for p in pushes {
            p.join()
                .map_err(|_| "seeding thread panicked".to_string())??;
        }
        Ok(())
    })
}

/// Result of a `helm push`.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `host/namespace/name:version`
    pub reference: String,
    /// `sha256:...` manifest digest reported by Helm.
    pub digest: String,
}

impl Pushed {
    /// Read `Pushed:` and `Digest:` from what `helm push` printed (stdout or stderr).
    fn from_output(out: &std::process::Output) -> Pushed {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        Pushed {
            reference: field("Pushed:"),
            digest: field("Digest:"),
        }
    }
}

/// `helm push TGZ oci://HOST/NAMESPACE` with `flags` (see [`registry_flags`]).
fn helm_push(
    helm: &HelmCli,
    registry_config: &Path,
    host: &str,
    flags: &[String],
    tgz: &Path,
    namespace: &str,
) -> TestResult<Pushed> {
    let mut cmd = helm.with_registry_config(registry_config);
    cmd.arg("push")
        .arg(tgz)
        .arg(format!("oci://{host}/{}", namespace.trim_matches('/')))
        .args(flags);
    Ok(Pushed::from_output(&run_cmd(&mut cmd)?))
}

/// Flags for `helm push/pull` against a registry with that auth
/// (`--plain-http`, or `--ca-file` and `--username/--password`).
pub fn registry_flags(tb: &Testbed, auth: RegistryAuth) -> Vec<String> {
    match auth {
        RegistryAuth::None => vec!["--plain-http".into()],
        _ => vec![
            "--ca-file".into(),
            tb.ca_cert.display().to_string(),
            "--username".into(),
            tb.user.clone(),
            "--password".into(),
            tb.password.clone(),
        ],
    }
}

/// A dedicated docker-registry (empty at start).
pub struct RegistryServer {
    pub auth: RegistryAuth,
    /// `127.0.0.1:P`
    pub host: String,
    /// `<hostname>:P` (for Helm 3 against TLS: it forces plain HTTP for 127.x/localhost)
    pub host_name: String,
    /// `http` or `https`
    pub scheme: &'static str,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    proc: Mutex<ServerProc>,
    push_lock: Mutex<()>,
    registry_config: PathBuf,
    client: OciClient,
    ctx: PushCtx,
}

/// What a registry needs from the testbed to push with Helm (kept by value: no borrow of the Testbed).
struct PushCtx {
    helm: HelmCli,
    flags: Vec<String>,
    layer: Vec<u8>,
}

/// A dedicated, empty registry on `bind` with that auth.
pub fn spawn_registry(
    tb: &Testbed,
    bind: IpAddr,
    auth: RegistryAuth,
) -> TestResult<RegistryServer> {
    spawn_registry_full(tb, bind, auth, &tb.token, &RegistryOptions::default())
}

/// [`spawn_registry`] whose token auth (with [`RegistryAuth::Token`]) is `token`'s.
pub fn spawn_registry_with_token(
    tb: &Testbed,
    bind: IpAddr,
    auth: RegistryAuth,
    token: &super::TokenServer,
) -> TestResult<RegistryServer> {
    spawn_registry_full(tb, bind, auth, token, &RegistryOptions::default())
}

/// [`spawn_registry`] with [`RegistryOptions`].
pub fn spawn_registry_with(
    tb: &Testbed,
    bind: IpAddr,
    auth: RegistryAuth,
    opts: &RegistryOptions,
) -> TestResult<RegistryServer> {
    spawn_registry_full(tb, bind, auth, &tb.token, opts)
}

fn spawn_registry_full(
    tb: &Testbed,
    bind: IpAddr,
    auth: RegistryAuth,
    token: &super::TokenServer,
    opts: &RegistryOptions,
) -> TestResult<RegistryServer> {
    let dir = tb.scratch_dir(&format!("registry-{}", auth.label()));
    let port = free_port_on(bind);
    let name = format!("registry-{}", auth.label());
    let mut proc = registry_proc_with(tb, &name, &dir, bind, port, auth, token, opts)?;
    proc.start()?;
    let host = format!("{bind}:{port}");
    let layer = std::fs::read(&tb.charts.mychart_010).map_err(|e| e.to_string())?;
    Ok(RegistryServer {
        auth,
        host_name: format!("{}:{port}", tb.hostname),
        scheme: auth.scheme(),
        port,
        data_dir: dir.join("data"),
        log: proc.log_path().to_path_buf(),
        proc: Mutex::new(proc),
        push_lock: Mutex::new(()),
        registry_config: dir.join("helm-registry.json"),
        client: match &opts.login {
            Some((u, p)) => OciClient::new(tb, &host, auth).with_login(u, p),
            None => OciClient::new(tb, &host, auth),
        },
        ctx: PushCtx {
            helm: tb.helm_cli().clone(),
            flags: match (&opts.login, auth) {
                (Some((u, p)), RegistryAuth::Basic) => vec![
                    "--ca-file".into(),
                    tb.ca_cert.display().to_string(),
                    "--username".into(),
                    u.clone(),
                    "--password".into(),
                    p.clone(),
                ],
                (Some((u, p)), _) => vec![
                    "--plain-http".into(),
                    "--username".into(),
                    u.clone(),
                    "--password".into(),
                    p.clone(),
                ],
                _ => registry_flags(tb, auth),
            },
            layer,
        },
        host,
    })
}

impl RegistryServer {
    /// `scheme://127.0.0.1:P`
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// `oci://127.0.0.1:P/<path>`
    pub fn oci_url(&self, path: &str) -> String {
        format!("oci://{}/{}", self.host, path.trim_start_matches('/'))
    }

    /// `helm push TGZ oci://HOST/<namespace>` with helm v4: the chart lands in
    /// `<namespace>/<chart name>:<version>`.
    pub fn push(&self, tgz: &Path, namespace: &str) -> TestResult<Pushed> {
        let _g = self.push_lock.lock().unwrap_or_else(|e| e.into_inner());
        let c = &self.ctx;
        helm_push(
            &c.helm,
            &self.registry_config,
            &self.host,
            &c.flags,
            tgz,
            namespace,
        )
    }

    /// Flags for `helm pull/push` against this registry.
    pub fn helm_flags(&self) -> &[String] {
        &self.ctx.flags
    }

    /// Raw OCI client (with credentials when auth is on).
    pub fn client(&self) -> &OciClient {
        &self.client
    }

    /// Pushes a plain (non-Helm) OCI image manifest `repo:tag`; returns its digest.
    pub fn push_image(&self, repo: &str, tag: &str) -> TestResult<String> {
        self.client.push_image(repo, tag, &self.ctx.layer)
    }

    /// Creates many chart manifests fast through raw HTTP (see [`OciClient::bulk_push_charts`]).
    pub fn bulk_push_charts(&self, items: &[super::oci::BulkChart]) -> TestResult {
        self.client.bulk_push_charts(items, &self.ctx.layer)
    }

    /// `n` repositories `<prefix>/chart-000`… each with one tag `1.0.0`.
    pub fn bulk_repos(&self, prefix: &str, n: usize) -> TestResult<Vec<String>> {
        let items: Vec<_> = (0..n)
            .map(|i| super::oci::BulkChart::new(&format!("{prefix}/chart-{i:03}"), "1.0.0"))
            .collect();
        self.bulk_push_charts(&items)?;
        Ok(items.into_iter().map(|b| b.repo).collect())
    }

    /// Repository `repo` with `n` tags `1.0.0` … `1.0.<n-1>`.
    pub fn bulk_tags(&self, repo: &str, n: usize) -> TestResult<Vec<String>> {
        let items: Vec<_> = (0..n)
            .map(|i| super::oci::BulkChart::new(repo, &format!("1.0.{i}")))
            .collect();
        self.bulk_push_charts(&items)?;
        Ok(items.into_iter().map(|b| b.tag).collect())
    }

    pub fn stop(&self) {
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).stop();
    }

    /// Starts again on the same port with the same storage.
    pub fn start(&self) -> TestResult {
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).start()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail_of(&self.log, lines)
    }
}
