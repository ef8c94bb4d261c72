//! Loopback server processes: the shared ones of the [`Testbed`] and dedicated ones per test.
//!
//! Every process is started with `PR_SET_PDEATHSIG` (it dies with the thread that spawned it), is
//! registered in a process-wide table until it is stopped, and [`stop_all_live`] stops whatever is
//! still registered (called by `main` however the run ends).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fixtures::{index_repo_dir, token_cert, HelmCli};
use super::oci::OciClient;
use super::{redact, run_cmd, TestResult, Testbed};

// ------------------------------------------------------------------ process table, ports

static LIVE: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());
static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Stops (SIGTERM, then SIGKILL after 3 s) every server process still registered. Returns their names.
pub fn stop_all_live() -> Vec<String> {
    let live: Vec<(u32, String)> =
        std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .collect();
    for (pid, _) in &live {
        // SAFETY: plain kill(2); the PID is one of our unreaped children (a reaped child is
        // always removed from LIVE before it is waited for), so it cannot have been reused.
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    for (pid, _) in &live {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            let r = unsafe { libc::waitpid(*pid as libc::pid_t, &mut status, libc::WNOHANG) };
            if r != 0 {
                break; // reaped (or not our child any more)
            }
            if Instant::now() > deadline {
                // SAFETY: as above.
                unsafe {
                    libc::kill(*pid as libc::pid_t, libc::SIGKILL);
                    libc::waitpid(*pid as libc::pid_t, &mut status, 0);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    live.into_iter().map(|(p, n)| format!("{n}({p})")).collect()
}

/// A free TCP port on 127.0.0.1, never handed out twice in this process.
pub fn free_port() -> u16 {
    let mut guard = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let used = guard.get_or_insert_with(HashSet::new);
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        if used.insert(port) {
            return port;
        }
    }
    panic!("no free port found");
}

fn tail_of(path: &Path, lines: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    let all: Vec<&str> = s.lines().collect();
    redact(&all[all.len().saturating_sub(lines)..].join("\n"))
}

// ------------------------------------------------------------------ ServerProc

/// One server process listening on a known port; restartable with the same command line.
pub struct ServerProc {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl ServerProc {
    pub fn new(
        name: &str,
        program: impl Into<PathBuf>,
        args: &[&dyn AsRef<std::ffi::OsStr>],
        log: PathBuf,
        port: u16,
    ) -> ServerProc {
        ServerProc {
            name: name.to_string(),
            program: program.into(),
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            envs: Vec::new(),
            log,
            port,
            child: None,
        }
    }

    pub fn env(mut self, k: &str, v: impl Into<OsString>) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn log_path(&self) -> &Path {
        &self.log
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Spawns the process (log appended to `log`) without waiting for its port.
    pub fn spawn(&mut self) -> TestResult {
        if self.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut lock = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {} ({}): {e}",
                self.name,
                self.program.display()
            )
        })?;
        lock.insert(child.id(), self.name.clone());
        self.child = Some(child);
        Ok(())
    }

    /// Waits (≤ 30 s) until the port accepts connections; fails with the log tail if the process exits.
    pub fn wait_ready(&mut self) -> TestResult {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err(format!("{} is not running", self.name));
            };
            if let Ok(Some(status)) = child.try_wait() {
                let pid = child.id();
                LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
                self.child = None;
                return Err(format!(
                    "{} exited ({status}) before listening on port {}; log {}:\n{}",
                    self.name,
                    self.port,
                    self.log.display(),
                    self.log_tail(30)
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let tail = self.log_tail(30);
                self.stop();
                return Err(format!(
                    "{} did not listen on port {} within 30 s; log {}:\n{tail}",
                    self.name,
                    self.port,
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Spawns and waits until it listens.
    pub fn start(&mut self) -> TestResult {
        self.spawn()?;
        self.wait_ready()
    }

    /// SIGTERM, wait ≤ 5 s, then SIGKILL. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
        if let Ok(None) = child.try_wait() {
            // SAFETY: kill(2) on our unreaped child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(None) = child.try_wait() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = child.wait();
        // wait until the port is free again, so that a restart can bind it
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Last `lines` lines of the log (redacted).
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of(&self.log, lines)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}

// ------------------------------------------------------------------ nginx

const NGINX_LOG_FORMAT: &str = "log_format chartreg escape=none '$request_method\\t$request_uri\\t$status\\t$http_if_none_match\\t$http_if_modified_since\\t$remote_user\\t$body_bytes_sent';";

struct NginxServer<'a> {
    port: u16,
    tls: bool,
    body: &'a str,
}

/// Writes a single-process nginx config (`master_process off`, so one PID) into `dir`.
fn nginx_conf(tb: &Testbed, dir: &Path, servers: &[NginxServer]) -> TestResult<PathBuf> {
    for sub in ["tmp", "logs"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    let d = dir.display();
    let mut conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/logs/error.log warn;\nevents {{ worker_connections 512; }}\nhttp {{\n\
         types {{ application/x-yaml yaml yml; application/gzip tgz; application/json json; text/plain txt; }}\n\
         default_type application/octet-stream;\n{NGINX_LOG_FORMAT}\n\
         access_log {d}/logs/access.log chartreg;\n\
         client_body_temp_path {d}/tmp/body;\nproxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\nuwsgi_temp_path {d}/tmp/uwsgi;\nscgi_temp_path {d}/tmp/scgi;\n"
    );
    for s in servers {
        if s.tls {
            conf.push_str(&format!(
                "server {{\n listen 127.0.0.1:{} ssl;\n ssl_certificate {};\n ssl_certificate_key {};\n{}\n}}\n",
                s.port,
                tb.server_cert.display(),
                tb.server_key.display(),
                s.body
            ));
        } else {
            conf.push_str(&format!(
                "server {{\n listen 127.0.0.1:{};\n{}\n}}\n",
                s.port, s.body
            ));
        }
    }
    conf.push_str("}\n");
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    Ok(path)
}

fn nginx_proc(name: &str, dir: &Path, conf: &Path, port: u16) -> ServerProc {
    let prefix = format!("{}/", dir.display());
    let err = dir.join("logs/error.log");
    ServerProc::new(
        name,
        "nginx",
        &[&"-c", &conf, &"-p", &prefix, &"-e", &err],
        dir.join("logs/nginx.out"),
        port,
    )
}

// ------------------------------------------------------------------ docker-registry

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

fn registry_proc(
    tb: &Testbed,
    name: &str,
    dir: &Path,
    port: u16,
    auth: RegistryAuth,
) -> TestResult<ServerProc> {
    std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
    let mut cfg = format!(
        "version: 0.1\nlog: {{level: info, accesslog: {{disabled: false}}}}\nstorage:\n  \
         filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\n  \
         maintenance: {{uploadpurging: {{enabled: false}}}}\nhttp:\n  addr: 127.0.0.1:{port}\n  \
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
    match auth {
        RegistryAuth::None => {}
        RegistryAuth::Basic => cfg.push_str(&format!(
            "auth: {{htpasswd: {{realm: chartreg-registry, path: {}}}}}\n",
            tb.htpasswd.display()
        )),
        RegistryAuth::Token => cfg.push_str(&format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: chartreg-issuer\n    rootcertbundle: {}\n",
            tb.token_realm,
            tb.token_service,
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
    // keep Debian's /etc/docker/registry/config.yml and any REGISTRY_* env out of it
    .env("REGISTRY_CONFIGURATION_PATH", &conf)
    .env("OTEL_TRACES_EXPORTER", "none"))
}

// ------------------------------------------------------------------ shared testbed

/// Starts nginx (classic repos + real-world indexes), three registries, the token server and moto.
pub fn start_shared(tb: &mut Testbed) -> TestResult {
    // --- content of the classic repos
    let www = tb.root.join("nginx/www");
    let charts = tb.charts.all();
    index_repo_dir(&tb.helm4, &www.join("public"), &charts)?;
    index_repo_dir(&tb.helm4, &www.join("private"), &charts)?;

    let (p_http, p_https) = (free_port(), free_port());
    let (p_plain, p_basic, p_token, p_toksrv, p_moto) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    tb.token_realm = format!("https://127.0.0.1:{p_toksrv}/token");

    let idx = tb.shared_dir.join("data/indexes");
    let body = format!(
        " root {www};\n location /private/ {{ auth_basic \"chartreg\"; auth_basic_user_file {htp}; }}\n \
         location = /bitnami/index.yaml {{ alias {bitnami}; }}\n \
         location = /rancher/index.yaml {{ alias {rancher}; }}",
        www = www.display(),
        htp = tb.htpasswd.display(),
        bitnami = idx.join("bitnami-2022-06-16.yaml").display(),
        rancher = idx.join("rancher-dev-v2.9.yaml").display(),
    );
    let ndir = tb.root.join("nginx");
    let conf = nginx_conf(
        tb,
        &ndir,
        &[
            NginxServer {
                port: p_http,
                tls: false,
                body: &body,
            },
            NginxServer {
                port: p_https,
                tls: true,
                body: &body,
            },
        ],
    )?;

    let mut procs = vec![
        nginx_proc("nginx", &ndir, &conf, p_http),
        registry_proc(
            tb,
            "oci-plain",
            &tb.root.join("oci-plain"),
            p_plain,
            RegistryAuth::None,
        )?,
        registry_proc(
            tb,
            "oci-basic",
            &tb.root.join("oci-basic"),
            p_basic,
            RegistryAuth::Basic,
        )?,
        registry_proc(
            tb,
            "oci-token",
            &tb.root.join("oci-token"),
            p_token,
            RegistryAuth::Token,
        )?,
    ];
    let pki = tb.root.join("pki");
    let tokenserver = super::repo_dir().join("acceptance/tokenserver.py");
    let py = tb.tools.join("venv/bin/python");
    let port_s = p_toksrv.to_string();
    procs.push(ServerProc::new(
        "tokenserver",
        &py,
        &[
            &tokenserver,
            &"--port",
            &port_s,
            &"--key",
            &pki.join("token.key"),
            &"--cert",
            &pki.join("token.crt"),
            &"--user",
            &tb.user,
            &"--password-file",
            &pki.join("password"),
            &"--issuer",
            &"chartreg-issuer",
            &"--tls-cert",
            &tb.server_cert,
            &"--tls-key",
            &tb.server_key,
        ],
        tb.root.join("tokenserver.log"),
        p_toksrv,
    ));
    let moto_port = p_moto.to_string();
    procs.push(
        ServerProc::new(
            "moto",
            tb.tools.join("venv/bin/moto_server"),
            &[&"-H", &"127.0.0.1", &"-p", &moto_port],
            tb.root.join("moto.log"),
            p_moto,
        )
        .env("MOTO_ALLOW_NONEXISTENT_REGION", "true"),
    );
    tb.token_log = tb.root.join("tokenserver.log");

    // spawn everything (from this thread: PDEATHSIG is tied to the spawning thread), then wait
    let mut result = Ok(());
    for p in procs.iter_mut() {
        if let Err(e) = p.spawn() {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() {
        for p in procs.iter_mut() {
            if let Err(e) = p.wait_ready() {
                result = Err(e);
                break;
            }
        }
    }
    // the https side of nginx is the same process
    if result.is_ok() {
        result = wait_port(p_https, "nginx (https)");
    }
    for p in procs {
        tb.add_shared(p);
    }
    result?;

    tb.helm_http = format!("http://127.0.0.1:{p_http}/public");
    tb.helm_http_auth = format!("http://127.0.0.1:{p_http}/private");
    tb.helm_https = format!("https://127.0.0.1:{p_https}/public");
    tb.helm_https_auth = format!("https://127.0.0.1:{p_https}/private");
    tb.realworld = format!("http://127.0.0.1:{p_http}");
    tb.oci_plain = format!("127.0.0.1:{p_plain}");
    tb.oci_basic = format!("127.0.0.1:{p_basic}");
    tb.oci_token = format!("127.0.0.1:{p_token}");
    tb.aws_endpoint = format!("http://127.0.0.1:{p_moto}");
    Ok(())
}

fn wait_port(port: u16, what: &str) -> TestResult {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} does not listen on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

const MOTO_SEED: &str = r#"
import boto3, hashlib, json, os, sys
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"])
role = sys.argv[1].rsplit("/", 1)[1]
boto3.client("iam", **kw).create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
ecr = boto3.client("ecr", **kw)
ecr.create_repository(repositoryName=sys.argv[2])
h = lambda s: "sha256:" + hashlib.sha256(s.encode()).hexdigest()
for tag in ["0.1.0", "0.2.0"]:
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": h("cfg" + tag), "size": 120},
         "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": h("layer" + tag), "size": 400}]}
    ecr.put_image(repositoryName=sys.argv[2], imageManifest=json.dumps(m), imageTag=tag)
"#;

/// Pushes the fixture charts into the three shared registries with the real `helm push`
/// (as `charts/<name>:<version>`) and seeds moto (IAM role + ECR repository with two tags).
pub fn seed_shared(tb: &Testbed) -> TestResult {
    std::thread::scope(|s| {
        let moto = s.spawn(|| {
            run_cmd(
                tb.python()
                    .args(["-c", MOTO_SEED])
                    .arg(&tb.aws_role_arn)
                    .arg(&tb.aws_ecr_repo),
            )
            .map(|_| ())
            .map_err(|e| format!("seeding moto: {e}"))
        });
        let pushes: Vec<_> = [RegistryAuth::None, RegistryAuth::Basic, RegistryAuth::Token]
            .into_iter()
            .map(|auth| {
                s.spawn(move || {
                    let cfg = tb
                        .root
                        .join(format!("helm-home/registry-{}.json", auth.label()));
                    for tgz in tb.charts.all() {
                        helm_push(tb, &tb.helm4, &cfg, tb.oci_host(auth), auth, tgz, "charts")
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
        moto.join()
            .map_err(|_| "moto seeding panicked".to_string())?
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

/// `helm push TGZ oci://HOST/NAMESPACE` with the right TLS / credential flags.
fn helm_push(
    tb: &Testbed,
    helm: &HelmCli,
    registry_config: &Path,
    host: &str,
    auth: RegistryAuth,
    tgz: &Path,
    namespace: &str,
) -> TestResult<Pushed> {
    let mut cmd = helm.with_registry_config(registry_config);
    cmd.arg("push")
        .arg(tgz)
        .arg(format!("oci://{host}/{}", namespace.trim_matches('/')));
    cmd.args(registry_flags(tb, auth));
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

// ------------------------------------------------------------------ dedicated Helm repo

/// One line of a dedicated Helm repository's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    pub method: String,
    /// Request URI including the query string.
    pub path: String,
    pub status: u16,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub user: Option<String>,
    pub bytes: u64,
}

/// A dedicated nginx serving its own directory as a classic Helm repository.
pub struct HelmRepoServer {
    pub name: String,
    /// `http(s)://127.0.0.1:P` (no trailing slash); `index.yaml` is at `<url>/index.yaml`.
    pub url: String,
    pub port: u16,
    /// Served directory (`index.yaml` + `.tgz`); tests may write into it directly.
    pub dir: PathBuf,
    pub access_log: PathBuf,
    pub error_log: PathBuf,
    pub tls: bool,
    pub basic_auth: bool,
    proc: Mutex<ServerProc>,
    helm: HelmCli,
    work: PathBuf,
    seq: std::sync::atomic::AtomicUsize,
}

pub fn spawn_helm_repo(
    tb: &Testbed,
    name: &str,
    tls: bool,
    basic_auth: bool,
) -> TestResult<HelmRepoServer> {
    let base = tb.scratch_dir(&format!("helmrepo-{name}"));
    let dir = base.join("www");
    index_repo_dir(&tb.helm4, &dir, &[&tb.charts.mychart_010])?;
    let port = free_port();
    let auth = if basic_auth {
        format!(
            " auth_basic \"chartreg\";\n auth_basic_user_file {};\n",
            tb.htpasswd.display()
        )
    } else {
        String::new()
    };
    let body = format!(" root {};\n{auth}", dir.display());
    let conf = nginx_conf(
        tb,
        &base,
        &[NginxServer {
            port,
            tls,
            body: &body,
        }],
    )?;
    let mut proc = nginx_proc(&format!("helmrepo-{name}"), &base, &conf, port);
    proc.start()?;
    Ok(HelmRepoServer {
        name: name.to_string(),
        url: format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" }),
        port,
        dir,
        access_log: base.join("logs/access.log"),
        error_log: base.join("logs/error.log"),
        tls,
        basic_auth,
        proc: Mutex::new(proc),
        helm: tb.helm4.clone(),
        work: base.join("charts"),
        seq: Default::default(),
    })
}

impl HelmRepoServer {
    /// Packages `name-version` (real helm) into the served directory and merges it into
    /// `index.yaml` (`helm repo index --merge`). Returns the `.tgz` in the served directory.
    pub fn publish(&self, name: &str, version: &str) -> TestResult<PathBuf> {
        self.publish_with(name, version, "1.0.0", &format!("{name} {version}"))
    }

    pub fn publish_with(
        &self,
        name: &str,
        version: &str,
        app_version: &str,
        description: &str,
    ) -> TestResult<PathBuf> {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let work = self.work.join(n.to_string());
        let tgz = super::fixtures::package_chart(
            &self.helm,
            &work,
            name,
            version,
            app_version,
            description,
        )?;
        index_repo_dir(&self.helm, &self.dir, &[&tgz])?;
        Ok(self.dir.join(tgz.file_name().unwrap()))
    }

    /// Replaces `index.yaml` with `content`.
    pub fn write_index(&self, content: &str) -> TestResult {
        std::fs::write(self.dir.join("index.yaml"), content).map_err(|e| e.to_string())
    }

    /// `<url>/index.yaml`
    pub fn index_url(&self) -> String {
        format!("{}/index.yaml", self.url)
    }

    /// Stops nginx (the port then refuses connections).
    pub fn stop(&self) {
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).stop();
    }

    /// Starts nginx again on the same port with the same directory.
    pub fn start(&self) -> TestResult {
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).start()
    }

    /// Raw access-log lines (tab-separated: method, uri, status, If-None-Match,
    /// If-Modified-Since, user, bytes).
    ///
    /// nginx writes a line just after it sent the response, so a client may be done before its
    /// line is there: this waits 50 ms and until the log stops growing (at most 1 s) first.
    pub fn access_log_lines(&self) -> Vec<String> {
        let size = || {
            std::fs::metadata(&self.access_log)
                .map(|m| m.len())
                .unwrap_or(0)
        };
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut last = size();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = size();
            if now == last || Instant::now() > deadline {
                break;
            }
            last = now;
        }
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn access_log_entries(&self) -> Vec<AccessLogEntry> {
        let opt = |s: &str| (s != "-" && !s.is_empty()).then(|| s.to_string());
        self.access_log_lines()
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() >= 7).then(|| AccessLogEntry {
                    method: f[0].to_string(),
                    path: f[1].to_string(),
                    status: f[2].parse().unwrap_or(0),
                    if_none_match: opt(f[3]),
                    if_modified_since: opt(f[4]),
                    user: opt(f[5]),
                    bytes: f[6].parse().unwrap_or(0),
                })
            })
            .collect()
    }

    /// Access-log entries whose path (without query) equals `path` (e.g. `/index.yaml`).
    pub fn requests_to(&self, path: &str) -> Vec<AccessLogEntry> {
        self.access_log_entries()
            .into_iter()
            .filter(|e| e.path.split('?').next() == Some(path))
            .collect()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "access log:\n{}\nerror log:\n{}",
            tail_of(&self.access_log, lines),
            tail_of(&self.error_log, lines)
        )
    }
}

// ------------------------------------------------------------------ dedicated registry

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

pub fn spawn_registry(tb: &Testbed, auth: RegistryAuth) -> TestResult<RegistryServer> {
    let dir = tb.scratch_dir(&format!("registry-{}", auth.label()));
    let port = free_port();
    let mut proc = registry_proc(tb, &format!("registry-{}", auth.label()), &dir, port, auth)?;
    proc.start()?;
    let host = format!("127.0.0.1:{port}");
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
        client: OciClient::new(tb, &host, auth),
        ctx: PushCtx {
            helm: tb.helm4.clone(),
            flags: registry_flags(tb, auth),
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
        let mut cmd = self.ctx.helm.with_registry_config(&self.registry_config);
        cmd.arg("push")
            .arg(tgz)
            .arg(format!(
                "oci://{}/{}",
                self.host,
                namespace.trim_matches('/')
            ))
            .args(&self.ctx.flags);
        Ok(Pushed::from_output(&run_cmd(&mut cmd)?))
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
    pub fn bulk_push_charts(&self, items: &[super::BulkChart]) -> TestResult {
        self.client.bulk_push_charts(items, &self.ctx.layer)
    }

    /// `n` repositories `<prefix>/chart-000`… each with one tag `1.0.0`.
    pub fn bulk_repos(&self, prefix: &str, n: usize) -> TestResult<Vec<String>> {
        let items: Vec<_> = (0..n)
            .map(|i| super::BulkChart::new(&format!("{prefix}/chart-{i:03}"), "1.0.0"))
            .collect();
        self.bulk_push_charts(&items)?;
        Ok(items.into_iter().map(|b| b.repo).collect())
    }

    /// Repository `repo` with `n` tags `1.0.0` … `1.0.<n-1>`.
    pub fn bulk_tags(&self, repo: &str, n: usize) -> TestResult<Vec<String>> {
        let items: Vec<_> = (0..n)
            .map(|i| super::BulkChart::new(repo, &format!("1.0.{i}")))
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
