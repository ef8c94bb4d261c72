//! nginx: the shared classic Helm repositories of the [`Testbed`] (`tb.helm`: `/public`,
//! `/private` with basic auth, over HTTP and HTTPS, plus the real-world indexes) and dedicated
//! repositories per test ([`HelmRepoServer`]) whose access log records what the provider asked.
//!
//! One nginx process per server set (`master_process off`, so one PID to stop), its config,
//! logs and temp directories under its own directory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fixtures::{index_repo_dir, HelmCli};
use super::procs::{free_port_on, tail_of, ServerProc};
use super::{TestResult, Testbed};

/// The shared classic Helm repositories (each serves `mychart` 0.1.0 + 0.2.0 and `other` 1.0.0
/// with relative URLs).
#[derive(Debug, Clone, Default)]
pub struct HelmRepos {
    /// `http://127.0.0.1:P/public` (no auth).
    pub http: String,
    /// `http://127.0.0.1:P/private` (basic auth).
    pub http_auth: String,
    /// `https://127.0.0.1:P/public` (TLS with the test CA).
    pub https: String,
    /// `https://127.0.0.1:P/private` (TLS + basic auth).
    pub https_auth: String,
    /// `http://127.0.0.1:P`: `<realworld>/bitnami/index.yaml` and `<realworld>/rancher/index.yaml`;
    /// `<realworld>/excerpts/NAME/index.yaml` is `testdata/indexes/NAME.excerpt.yaml`.
    pub realworld: String,
}

const NGINX_LOG_FORMAT: &str = "log_format chartreg escape=none '$request_method\\t$request_uri\\t$status\\t$http_if_none_match\\t$http_if_modified_since\\t$remote_user\\t$body_bytes_sent';";

struct NginxServer<'a> {
    bind: IpAddr,
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
                "server {{\n listen {}:{} ssl;\n ssl_certificate {};\n ssl_certificate_key {};\n{}\n}}\n",
                s.bind,
                s.port,
                tb.server_cert.display(),
                tb.server_key.display(),
                s.body
            ));
        } else {
            conf.push_str(&format!(
                "server {{\n listen {}:{};\n{}\n}}\n",
                s.bind, s.port, s.body
            ));
        }
    }
    conf.push_str("}\n");
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    Ok(path)
}

fn nginx_proc(name: &str, dir: &Path, conf: &Path, bind: IpAddr, port: u16) -> ServerProc {
    let prefix = format!("{}/", dir.display());
    let err = dir.join("logs/error.log");
    ServerProc::new(
        name,
        "nginx",
        &[&"-c", &conf, &"-p", &prefix, &"-e", &err],
        dir.join("logs/nginx.out"),
        port,
    )
    .on(bind)
}

/// The shared nginx (not started yet) on `bind`: HTTP and HTTPS ports serving the same tree.
/// Returns the process, the HTTPS port (same process) and the URLs.
pub(crate) fn shared(tb: &Testbed, bind: IpAddr) -> TestResult<(ServerProc, u16, HelmRepos)> {
    let www = tb.root.join("nginx/www");
    let charts = tb.charts.all();
    index_repo_dir(tb.helm_cli(), &www.join("public"), &charts)?;
    index_repo_dir(tb.helm_cli(), &www.join("private"), &charts)?;
    let (p_http, p_https) = (free_port_on(bind), free_port_on(bind));
    let idx = tb.shared_dir.join("data/indexes");
    let body = format!(
        " root {www};\n location /private/ {{ auth_basic \"chartreg\"; auth_basic_user_file {htp}; }}\n \
         location = /bitnami/index.yaml {{ alias {bitnami}; }}\n \
         location = /rancher/index.yaml {{ alias {rancher}; }}\n \
         location ~ ^/excerpts/([a-z0-9.-]+)/index.yaml$ {{ alias {excerpts}/$1.excerpt.yaml; }}",
        www = www.display(),
        htp = tb.htpasswd.display(),
        bitnami = idx.join("bitnami-2022-06-16.yaml").display(),
        rancher = idx.join("rancher-dev-v2.9.yaml").display(),
        excerpts = super::repo_dir().join("testdata/indexes").display(),
    );
    let dir = tb.root.join("nginx");
    let server = |port, tls| NginxServer {
        bind,
        port,
        tls,
        body: &body,
    };
    let conf = nginx_conf(tb, &dir, &[server(p_http, false), server(p_https, true)])?;
    let repos = HelmRepos {
        http: format!("http://{bind}:{p_http}/public"),
        http_auth: format!("http://{bind}:{p_http}/private"),
        https: format!("https://{bind}:{p_https}/public"),
        https_auth: format!("https://{bind}:{p_https}/private"),
        realworld: format!("http://{bind}:{p_http}"),
    };
    Ok((
        nginx_proc("nginx", &dir, &conf, bind, p_http),
        p_https,
        repos,
    ))
}

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

/// A dedicated nginx on `bind` serving a fresh directory seeded with mychart 0.1.0.
pub fn spawn_helm_repo(
    tb: &Testbed,
    bind: IpAddr,
    name: &str,
    tls: bool,
    basic_auth: bool,
) -> TestResult<HelmRepoServer> {
    let base = tb.scratch_dir(&format!("helmrepo-{name}"));
    let dir = base.join("www");
    index_repo_dir(tb.helm_cli(), &dir, &[&tb.charts.mychart_010])?;
    let port = free_port_on(bind);
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
            bind,
            port,
            tls,
            body: &body,
        }],
    )?;
    let mut proc = nginx_proc(&format!("helmrepo-{name}"), &base, &conf, bind, port);
    proc.start()?;
    Ok(HelmRepoServer {
        name: name.to_string(),
        url: format!("{}://{bind}:{port}", if tls { "https" } else { "http" }),
        port,
        dir,
        access_log: base.join("logs/access.log"),
        error_log: base.join("logs/error.log"),
        tls,
        basic_auth,
        proc: Mutex::new(proc),
        helm: tb.helm_cli().clone(),
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
            "",
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
