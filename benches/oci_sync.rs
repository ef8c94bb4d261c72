//! OCI sync at scale: a real loopback `docker-registry` holding 250 chart repositories × 30 tags,
//! listed by chartreg's [`OciClient::sync`] (cold, then re-synced unchanged with the previous
//! catalog) side by side with the same listing done one request at a time.
//!
//! `cargo bench --bench oci_sync` (env: `BENCH_ITERS=N` runs of each figure, default 5;
//! `OCI_BENCH_REPOS`, `OCI_BENCH_TAGS` for a smaller registry; `CHARTREG_TOOLS` or
//! `CHARTREG_HELM` to find `helm` for the pull check). The registry is the Debian
//! `docker-registry` binary (CNCF distribution) on 127.0.0.1, plain HTTP, storing under
//! `target/bench-oci/<repos>x<tags>/` (kept between runs: seeding 7,500 charts takes a while).
//! Charts are seeded over the registry's HTTP API in the shape `helm push` writes (config
//! `application/vnd.cncf.helm.config.v1+json` holding Chart.yaml as JSON, one
//! `application/vnd.cncf.helm.chart.content.v1.tar+gzip` layer holding a real chart archive, the
//! `org.opencontainers.image.*` annotations), and one of them is pulled back with the real
//! `helm pull` when helm is found. Requests are counted in the registry's access log.
//!
//! Without `docker-registry` the bench fails (it measures nothing without it).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chartreg::registry::cache::Cache;
use chartreg::registry::catalog::Catalog;
use chartreg::registry::http::HttpSettings;
use chartreg::registry::oci::{parse_endpoint, OciClient, OciRegistry, SyncReport};
use futures::{stream, StreamExt, TryStreamExt};
use sha2::Digest as _;

const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// User agent of the sequential comparison and of the seeder (chartreg sends `chartreg/…`).
const SEQ_AGENT: &str = "oci-sync-bench-sequential";
const SEED_AGENT: &str = "oci-sync-bench-seeder";
/// Requests in flight while seeding.
const SEED_PARALLEL: usize = 16;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = std::result::Result<T, BoxError>;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// CPU seconds (user + system) used so far by process `pid` ("self" for this one), from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks of 1/100 s).
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // the command name (field 2) is parenthesised and may hold spaces
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Wall time, the registry's CPU time and this process's CPU time of `f`.
fn timed<T>(reg: &Registry, f: impl FnOnce() -> T) -> (T, Sample) {
    let (r0, c0) = (reg.cpu(), cpu_secs("self"));
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    let s = Sample {
        wall,
        registry_cpu: reg.cpu() - r0,
        client_cpu: cpu_secs("self") - c0,
    };
    (out, s)
}

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    wall: f64,
    registry_cpu: f64,
    client_cpu: f64,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn repo_name(i: usize) -> String {
    format!("bench/chart-{i:03}")
}

fn version(j: usize) -> String {
    format!("1.{j}.0")
}

// ------------------------------------------------------------------------------------------------
// The registry process

struct Registry {
    child: std::process::Child,
    base: String,
    port: u16,
    log: PathBuf,
    /// Whether the access log is written (`OCI_BENCH_ACCESS_LOG=0`: not, and requests are
    /// counted by the clients).
    access_log: bool,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Registry {
    /// `docker-registry serve` on 127.0.0.1 with its storage under `dir/data`, the access log
    /// (unless `access_log` is false) and warnings in `dir/registry.log`. `gogc`: the Go
    /// collector's `GOGC` for the registry (its default, 100, when `None`).
    fn start(dir: &Path, access_log: bool, gogc: Option<&str>) -> Res<Registry> {
        std::fs::create_dir_all(dir.join("data"))?;
        let port = free_port()?;
        let conf = dir.join("config.yml");
        std::fs::write(
            &conf,
            format!(
                "version: 0.1\nlog: {{level: warn, accesslog: {{disabled: {}}}}}\nstorage:\n  \
                 cache: {{blobdescriptor: inmemory}}\n  filesystem: {{rootdirectory: {}}}\n  maintenance: {{uploadpurging: {{enabled: false}}}}\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: bench-not-a-secret\n",
                !access_log,
                dir.join("data").display()
            ),
        )?;
        let log = dir.join("registry.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new("docker-registry");
        if let Some(g) = gogc {
            cmd.env("GOGC", g);
        }
        let child = cmd
            .arg("serve")
            .arg(&conf)
            .env("REGISTRY_CONFIGURATION_PATH", &conf)
            .env("OTEL_TRACES_EXPORTER", "none")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| {
                format!("cannot start docker-registry (apt-get install docker-registry): {e}")
            })?;
        let reg = Registry {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            log,
            access_log,
        };
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > until {
                return Err("docker-registry did not start listening within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(reg)
    }

    fn cpu(&self) -> f64 {
        cpu_secs(&self.child.id().to_string())
    }

    fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Bytes of the access log so far (after the registry had time to write what it answered).
    fn mark(&self) -> u64 {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// Client ports of the TCP connections to the registry that the kernel knows now (open, or
    /// closed less than a minute ago: `TIME_WAIT`), from `/proc/net/tcp{,6}`. The ports that
    /// appear between two calls are the connections opened meanwhile.
    fn connections(&self) -> std::collections::HashSet<u16> {
        let mut out = std::collections::HashSet::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let port = |addr: &str| {
                    addr.rsplit_once(':')
                        .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                };
                let (Some(local), Some(remote), Some(state)) = (
                    f.get(1).and_then(|a| port(a)),
                    f.get(2).and_then(|a| port(a)),
                    f.get(3),
                ) else {
                    continue;
                };
                if remote == self.port {
                    out.insert(local);
                } else if local == self.port && *state != "0A" {
                    out.insert(remote);
                }
            }
        }
        out
    }

    /// Access-log lines after `from` whose user agent starts with `agent` (`None` without an
    /// access log).
    fn requests_since(&self, from: u64, agent: &str) -> Option<usize> {
        if !self.access_log {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
        let Ok(mut f) = std::fs::File::open(&self.log) else {
            return Some(0);
        };
        use std::io::Seek;
        if f.seek(std::io::SeekFrom::Start(from)).is_err() {
            return Some(0);
        }
        let n = std::io::BufReader::new(f)
            .lines()
            .map_while(|l| l.ok())
            .filter(|l| {
                // 127.0.0.1 - - [date] "GET /v2/… HTTP/1.1" 200 123 "" "chartreg/0.1.0"
                let quoted: Vec<&str> = l.split('"').collect();
                quoted.len() >= 6 && quoted[1].contains(" /v2/") && quoted[5].starts_with(agent)
            })
            .count();
        Some(n)
    }
}

// ------------------------------------------------------------------------------------------------
// Seeding, as `helm push` writes charts

/// A real chart archive: `NAME/Chart.yaml`, `NAME/values.yaml`, `NAME/templates/configmap.yaml`.
fn chart_tgz(name: &str, version: &str, app_version: &str, description: &str) -> Res<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let files = [
        (
            "Chart.yaml",
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{app_version}\"\ndescription: {description}\ntype: application\n"
            ),
        ),
        ("values.yaml", format!("replicaCount: 1\nimage: {name}\n")),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  image: {{ .Values.image }}\n".to_string(),
        ),
    ];
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{path}"), body.as_bytes())?;
    }
    Ok(tar.into_inner()?.finish()?)
}

struct Seeder {
    http: reqwest::Client,
    base: String,
}

impl Seeder {
    async fn blob(&self, repo: &str, data: Vec<u8>) -> Res<(String, usize)> {
        let digest = sha256(&data);
        let r = self
            .http
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base))
            .send()
            .await?;
        if r.status().as_u16() != 202 {
            return Err(format!("start upload to {repo}: HTTP {}", r.status()).into());
        }
        let loc = r
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .ok_or("upload without Location")?
            .to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base)
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let len = data.len();
        let r = self
            .http
            .put(format!("{loc}{sep}digest={}", digest.replace(':', "%3A")))
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            return Err(format!("upload blob to {repo}: HTTP {}", r.status()).into());
        }
        Ok((digest, len))
    }

    /// One chart version: archive and config blobs, then the manifest `helm push` writes.
    async fn chart(&self, repo: &str, version: &str) -> Res<()> {
        let name = repo.rsplit('/').next().unwrap_or(repo);
        let app_version = format!("{version}-app");
        let description = format!("Bench chart {name}");
        let tgz = chart_tgz(name, version, &app_version, &description)?;
        // Chart.yaml as JSON, in the field order of Helm's chart.Metadata.
        let config = serde_json::to_vec(&serde_json::json!({
            "name": name,
            "version": version,
            "description": description,
            "apiVersion": "v2",
            "appVersion": app_version,
            "type": "application",
        }))?;
        let (layer, layer_size) = self.blob(repo, tgz).await?;
        let (cfg, cfg_size) = self.blob(repo, config).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": HELM_CONFIG, "digest": cfg, "size": cfg_size},
            "layers": [{"mediaType": HELM_LAYER, "digest": layer, "size": layer_size}],
            "annotations": {
                "org.opencontainers.image.created": "2026-12-02T12:00:00Z",
                "org.opencontainers.image.description": description,
                "org.opencontainers.image.title": name,
                "org.opencontainers.image.version": version,
            },
        });
        let r = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{version}", self.base))
            .header("Content-Type", OCI_MANIFEST)
            .body(serde_json::to_vec(&manifest)?)
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            return Err(format!("put manifest {repo}:{version}: HTTP {}", r.status()).into());
        }
        Ok(())
    }
}

async fn seed(base: &str, repos: usize, tags: usize) -> Res<()> {
    let s = Seeder {
        http: reqwest::Client::builder()
            .user_agent(SEED_AGENT)
            .pool_max_idle_per_host(SEED_PARALLEL)
            .build()?,
        base: base.to_string(),
    };
    let items: Vec<(String, String)> = (0..repos)
        .flat_map(|i| (0..tags).map(move |j| (repo_name(i), version(j))))
        .collect();
    let s = &s;
    stream::iter(items.iter().map(|(r, v)| s.chart(r, v)))
        .buffer_unordered(SEED_PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

fn find_helm() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHARTREG_HELM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let tools = std::env::var_os("CHARTREG_TOOLS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join(".testbed/tools"));
    Some(tools.join("bin/helm")).filter(|p| p.exists())
}

/// `helm pull` one seeded chart and `helm show chart` it: the seeded manifests are charts Helm
/// reads.
fn helm_check(helm: &Path, host: &str) -> Res<String> {
    let dir = std::env::temp_dir().join(format!("oci-bench-helm-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let run = |args: &[&str]| -> Res<String> {
        let out = Command::new(helm)
            .args(args)
            .env("HELM_CONFIG_HOME", dir.join("config"))
            .env("HELM_CACHE_HOME", dir.join("cache"))
            .env("HELM_DATA_HOME", dir.join("data"))
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "helm {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let repo = repo_name(0);
    let url = format!("oci://{host}/{repo}");
    let dest = dir.join("pulled");
    std::fs::create_dir_all(&dest)?;
    let dest_s = dest.display().to_string();
    run(&[
        "pull",
        &url,
        "--version",
        &version(1),
        "--plain-http",
        "-d",
        &dest_s,
    ])?;
    let tgz = dest.join(format!("chart-000-{}.tgz", version(1)));
    let shown = run(&["show", "chart", &tgz.display().to_string()])?;
    let _ = std::fs::remove_dir_all(&dir);
    if !shown.contains(&format!("version: {}", version(1))) {
        return Err(format!("helm show chart of the pulled archive: {shown}").into());
    }
    Ok(format!("helm pull {url} --version {} : ok", version(1)))
}

// ------------------------------------------------------------------------------------------------
// The sequential comparison: the same listing, one request at a time

#[derive(Default, Debug, PartialEq, Eq)]
struct SeqListing {
    /// repository → version → (manifest digest, appVersion)
    charts: BTreeMap<String, BTreeMap<String, (String, String)>>,
}

/// Requests the sequential comparison sent (its own count, checked against the access log).
static SEQ_REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    accept: &str,
) -> Res<(serde_json::Value, Option<String>, Vec<u8>)> {
    SEQ_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = http.get(url).header("Accept", accept).send().await?;
    if !r.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", r.status()).into());
    }
    let link = r
        .headers()
        .get("Link")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.split('<').nth(1))
        .and_then(|l| l.split('>').next())
        .map(str::to_string);
    let body = r.bytes().await?.to_vec();
    Ok((serde_json::from_slice(&body)?, link, body))
}

async fn paginate(
    http: &reqwest::Client,
    base: &str,
    first: &str,
    field: &str,
) -> Res<Vec<String>> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let (v, link, _) = get_json(http, &format!("{base}{path}"), "application/json").await?;
        out.extend(
            v[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string)),
        );
        next = link;
    }
    Ok(out)
}

/// `/v2/`, `_catalog`, every `tags/list`, and with `documents` every manifest and config blob,
/// strictly one request after the other on one kept-alive connection.
async fn sequential(base: &str, documents: bool) -> Res<SeqListing> {
    let http = reqwest::Client::builder()
        .user_agent(SEQ_AGENT)
        .tcp_nodelay(true)
        .build()?;
    get_json(&http, &format!("{base}/v2/"), "application/json").await?;
    let repos = paginate(&http, base, "/v2/_catalog?n=100", "repositories").await?;
    let mut out = SeqListing::default();
    for repo in repos {
        let tags = paginate(&http, base, &format!("/v2/{repo}/tags/list?n=100"), "tags").await?;
        let entry = out.charts.entry(repo.clone()).or_default();
        for tag in tags {
            if !documents {
                entry.insert(tag, Default::default());
                continue;
            }
            let (m, _, body) = get_json(
                &http,
                &format!("{base}/v2/{repo}/manifests/{tag}"),
                &format!("{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"),
            )
            .await?;
            if m["config"]["mediaType"] != HELM_CONFIG {
                continue;
            }
            let cfg_digest = m["config"]["digest"].as_str().unwrap_or_default();
            let (cfg, _, cfg_body) = get_json(
                &http,
                &format!("{base}/v2/{repo}/blobs/{cfg_digest}"),
                "*/*",
            )
            .await?;
            if sha256(&cfg_body) != cfg_digest {
                return Err(format!("{repo}:{tag}: config blob does not match its digest").into());
            }
            let app = cfg["appVersion"].as_str().unwrap_or_default().to_string();
            entry.insert(tag.replace('_', "+"), (sha256(&body), app));
        }
    }
    Ok(out)
}

/// User agent of the per-kind cost probe.
const PROBE_AGENT: &str = "oci-sync-bench-probe";

/// The registry's CPU per request of each kind the cold sync sends (`/v2/`, `tags/list`,
/// manifest, config blob): `n` requests of each, 8 in flight on kept-alive connections (as
/// chartreg sends them), nothing else running against the registry meanwhile.
async fn cost_by_kind(
    reg: &Registry,
    report: &SyncReport,
    n: usize,
) -> Res<Vec<(&'static str, usize, f64)>> {
    let http = reqwest::Client::builder()
        .user_agent(PROBE_AGENT)
        .tcp_nodelay(true)
        .build()?;
    let base = &reg.base;
    let repos: Vec<&String> = report.repositories.values().collect();
    let manifests: Vec<String> = report
        .catalog
        .charts
        .iter()
        .flat_map(|(key, c)| {
            let repo = report.repositories.get(key).cloned().unwrap_or_default();
            c.versions
                .iter()
                .map(move |v| format!("{base}/v2/{repo}/manifests/{}", v.version.replace('+', "_")))
        })
        .take(n)
        .collect();
    let accept = format!("{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json");
    // The config blobs named by those manifests (read before any measurement).
    let configs: Vec<String> = stream::iter(manifests.iter().map(|u| {
        let (http, accept) = (&http, &accept);
        async move {
            let (m, _, _) = get_json(http, u, accept).await?;
            let repo_path = u.rsplit_once("/manifests/").map_or("", |(r, _)| r);
            Ok::<_, BoxError>(format!(
                "{repo_path}/blobs/{}",
                m["config"]["digest"].as_str().unwrap_or_default()
            ))
        }
    }))
    .buffer_unordered(8)
    .try_collect()
    .await?;
    let kinds: [(&'static str, Vec<String>, &str); 4] = [
        (
            "GET /v2/",
            vec![format!("{base}/v2/"); n],
            "application/json",
        ),
        (
            "GET tags/list",
            (0..n)
                .map(|i| {
                    format!(
                        "{base}/v2/{}/tags/list?n=100",
                        repos[i % repos.len().max(1)]
                    )
                })
                .collect(),
            "application/json",
        ),
        ("GET manifest", manifests.clone(), accept.as_str()),
        ("GET config blob", configs, "*/*"),
    ];
    let mut out = Vec::new();
    for (name, urls, accept) in kinds {
        let before = reg.cpu();
        let count = urls.len();
        stream::iter(urls.iter().map(|u| {
            let http = &http;
            async move {
                let r = http.get(u).header("Accept", accept).send().await?;
                if !r.status().is_success() {
                    return Err::<(), BoxError>(format!("GET {u}: HTTP {}", r.status()).into());
                }
                r.bytes().await?;
                Ok(())
            }
        }))
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
        out.push((
            name,
            count,
            (reg.cpu() - before) * 1000.0 / count.max(1) as f64,
        ));
    }
    Ok(out)
}

fn listing_of(report: &SyncReport) -> SeqListing {
    let mut out = SeqListing::default();
    for (key, chart) in &report.catalog.charts {
        let repo = report
            .repositories
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.clone());
        let e = out.charts.entry(repo).or_default();
        for v in &chart.versions {
            e.insert(
                v.version.clone(),
                (v.manifest_digest.clone(), v.app_version.clone()),
            );
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Measurements

fn median(mut d: Vec<f64>) -> f64 {
    d.sort_by(|a, b| a.total_cmp(b));
    d[d.len() / 2]
}

/// Median wall time, and the median CPU seconds of the registry and of the client.
fn medians(s: &[Sample]) -> (f64, f64, f64) {
    (
        median(s.iter().map(|x| x.wall).collect()),
        median(s.iter().map(|x| x.registry_cpu).collect()),
        median(s.iter().map(|x| x.client_cpu).collect()),
    )
}

struct Figure {
    name: &'static str,
    target: &'static str,
    chartreg: Vec<Sample>,
    comparison: Vec<Sample>,
    comparison_name: &'static str,
    requests: usize,
    comparison_requests: usize,
    /// TCP connections opened (chartreg, comparison): keep-alive means one per request in
    /// flight, not one per request.
    connections: (usize, usize),
}

/// The requests of one measured run, as its client counted them (`own`), checked against the
/// registry's access log when there is one; and the connections opened since `before`.
fn counted(
    reg: &Registry,
    from: u64,
    agent: &str,
    own: usize,
    before: &std::collections::HashSet<u16>,
) -> Res<(usize, usize)> {
    if let Some(logged) = reg.requests_since(from, agent) {
        if logged != own {
            return Err(format!(
                "{agent}: the client counted {own} requests, the access log {logged}"
            )
            .into());
        }
    }
    Ok((own, reg.connections().difference(before).count()))
}

/// Terraform 1.15 and the provider binary, when both are there: `CHARTREG_TOOLS/bin/terraform-1.15`
/// (or `OCI_BENCH_TERRAFORM`) and `target/release/terraform-provider-chartreg` (or the directory
/// `OCI_BENCH_PROVIDER_DIR`).
fn terraform_tools() -> Option<(PathBuf, PathBuf)> {
    let tf = std::env::var_os("OCI_BENCH_TERRAFORM")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CHARTREG_TOOLS")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest_dir().join(".testbed/tools"))
                .join("bin/terraform-1.15")
        });
    let provider_dir = std::env::var_os("OCI_BENCH_PROVIDER_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/release"));
    (tf.exists() && provider_dir.join("terraform-provider-chartreg").exists())
        .then_some((tf, provider_dir))
}

/// The apply (and its requests, when the access log counts them) and the plans (and the requests
/// of the last one).
type TerraformFigures = (Sample, Option<usize>, Vec<Sample>, Option<usize>);

/// `terraform apply` of one `chartreg_oci_registry` on the registry (cold: new state, empty
/// cache), then `iters` × `terraform plan` (refresh: the unchanged re-sync, from state).
fn terraform_figures(
    reg: &Registry,
    tf: &Path,
    provider_dir: &Path,
    iters: usize,
) -> Res<TerraformFigures> {
    let run = std::env::temp_dir().join(format!("oci-bench-tf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run);
    std::fs::create_dir_all(run.join("ws"))?;
    let rc = run.join("cli.tfrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  dev_overrides {{ \"chartreg/chartreg\" = \"{}\" }}\n  direct {{}}\n}}\n",
            provider_dir.display()
        ),
    )?;
    std::fs::write(
        run.join("ws/main.tf"),
        format!(
            "terraform {{\n  required_providers {{\n    chartreg = {{ source = \"chartreg/chartreg\" }}\n  }}\n}}\n\
             provider \"chartreg\" {{\n  cache_dir = \"{}\"\n}}\n\
             resource \"chartreg_oci_registry\" \"bench\" {{\n  name     = \"bench\"\n  endpoint = \"{}\"\n}}\n",
            run.join("cache").display(),
            reg.base
        ),
    )?;
    let cmd = |args: &[&str]| -> Res<()> {
        let out = Command::new(tf)
            .args(args)
            .arg("-no-color")
            .current_dir(run.join("ws"))
            .env("TF_CLI_CONFIG_FILE", &rc)
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "terraform {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    };
    // Terraform's own CPU and the provider's are children of this process: counted through
    // getrusage(RUSAGE_CHILDREN) would need libc; the wall time is the figure here.
    let from = reg.mark();
    let (r, apply) = timed(reg, || cmd(&["apply", "-auto-approve"]));
    r?;
    let apply_req = reg.requests_since(from, "chartreg/");
    let mut plans = Vec::new();
    let mut plan_req = None;
    for _ in 0..iters {
        let from = reg.mark();
        let (r, s) = timed(reg, || cmd(&["plan", "-detailed-exitcode"]));
        r?;
        plans.push(s);
        plan_req = reg.requests_since(from, "chartreg/");
    }
    let _ = std::fs::remove_dir_all(&run);
    Ok((apply, apply_req, plans, plan_req))
}

fn client(host: &str, cache: Option<Cache>) -> Res<OciClient> {
    let reg = OciRegistry {
        endpoint: parse_endpoint(&format!("http://{host}"))?,
        credentials: None,
        tls: Default::default(),
    };
    Ok(OciClient::new(&reg, &HttpSettings::default(), cache)?)
}

fn main() -> Res<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let repos = env_usize("OCI_BENCH_REPOS", if quick { 5 } else { 250 });
    let tags = env_usize("OCI_BENCH_TAGS", if quick { 3 } else { 30 });
    let iters = env_usize("BENCH_ITERS", if quick { 1 } else { 3 });
    // OCI_BENCH_SEQUENTIAL=0: chartreg's figures only (for quick experiments).
    let compare = std::env::var("OCI_BENCH_SEQUENTIAL").map_or(true, |v| v != "0");
    // OCI_BENCH_CACHE=0: no disk cache for config blobs (as a provider whose cache_dir is not
    // writable).
    let use_cache = std::env::var("OCI_BENCH_CACHE").map_or(true, |v| v != "0");
    // OCI_BENCH_ACCESS_LOG=0: the registry writes no access log; requests are counted by the
    // clients only (with the log, each count is checked against it).
    let access_log = std::env::var("OCI_BENCH_ACCESS_LOG").map_or(true, |v| v != "0");
    // OCI_BENCH_GOGC=N: the registry's Go collector setting (default: the registry's own, 100).
    let gogc = std::env::var("OCI_BENCH_GOGC")
        .ok()
        .filter(|v| !v.is_empty());
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"))
        .join("bench-oci");
    let dir = root.join(format!("{repos}x{tags}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let seeded = dir.join("seeded");
    if !seeded.exists() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let reg = Registry::start(&dir, access_log, gogc.as_deref())?;
    if !seeded.exists() {
        let t = Instant::now();
        rt.block_on(seed(&reg.base, repos, tags))?;
        std::fs::write(&seeded, format!("{repos} repositories x {tags} tags\n"))?;
        eprintln!(
            "seeded {repos} repositories x {tags} tags in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    match find_helm() {
        Some(helm) => eprintln!("{}", helm_check(&helm, reg.host())?),
        None => eprintln!("helm not found (CHARTREG_HELM / CHARTREG_TOOLS): pull check skipped"),
    }

    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut seq_full = Vec::new();
    let mut seq_tags = Vec::new();
    let (mut cold_req, mut warm_req, mut seq_full_req, mut seq_tags_req) = (0, 0, 0, 0);
    let (mut cold_conn, mut warm_conn, mut seq_full_conn, mut seq_tags_conn) = (0, 0, 0, 0);
    let seq_count = || SEQ_REQUESTS.load(std::sync::atomic::Ordering::Relaxed);
    let mut report = SyncReport::default();
    // One new cache directory per cold sync, all removed at the end: deleting 7,500 files just
    // before writing 7,500 new ones makes ext4's inode allocator scan past the recently freed
    // inodes (`recently_deleted`, `find_inode_bit` under the cache writes in perf), a cost a
    // user's first sync does not pay.
    let cache_dir = |i: usize| root.join(format!("cache-{}-{i}", std::process::id()));
    // Warm-up, not measured: the registry's in-memory blob descriptor cache and the page cache
    // get what the first listing reads, so that neither side is measured on a cold registry.
    rt.block_on(client(reg.host(), None)?.sync(&[], None))?;
    for i in 0..iters {
        // Cold: a new client (new process) with an empty disk cache and no previous catalog.
        let _ = std::fs::remove_dir_all(cache_dir(i));
        let cache = Cache::registry(&cache_dir(i), "oci", "bench")?;
        let c = client(reg.host(), Some(cache.clone()).filter(|_| use_cache))?;
        let (from, conns) = (reg.mark(), reg.connections());
        let (r, sample) = timed(&reg, || rt.block_on(c.sync(&[], None)));
        report = r?;
        cold.push(sample);
        (cold_req, cold_conn) = counted(&reg, from, "chartreg/", c.requests(), &conns)?;
        drop(c);

        // Unchanged re-sync: a new client (the next plan's process), the catalog from state.
        let previous: Catalog = report.catalog.clone();
        let c = client(reg.host(), Some(cache))?;
        let (from, conns) = (reg.mark(), reg.connections());
        let (again, sample) = timed(&reg, || rt.block_on(c.sync(&[], Some(&previous))));
        let again = again?;
        warm.push(sample);
        (warm_req, warm_conn) = counted(&reg, from, "chartreg/", c.requests(), &conns)?;
        if again.catalog != report.catalog || again.manifests_fetched != 0 {
            return Err(format!(
                "the unchanged re-sync differs or read {} manifests",
                again.manifests_fetched
            )
            .into());
        }

        if !compare {
            continue;
        }
        let (from, conns, n0) = (reg.mark(), reg.connections(), seq_count());
        let (seq, sample) = timed(&reg, || rt.block_on(sequential(&reg.base, true)));
        seq_full.push(sample);
        (seq_full_req, seq_full_conn) = counted(&reg, from, SEQ_AGENT, seq_count() - n0, &conns)?;
        if i == 0 && seq? != listing_of(&report) {
            return Err("chartreg's catalog differs from the sequential listing".into());
        }

        let (from, conns, n0) = (reg.mark(), reg.connections(), seq_count());
        let (seq, sample) = timed(&reg, || rt.block_on(sequential(&reg.base, false)));
        seq?;
        seq_tags.push(sample);
        (seq_tags_req, seq_tags_conn) = counted(&reg, from, SEQ_AGENT, seq_count() - n0, &conns)?;
    }
    for i in 0..iters {
        let _ = std::fs::remove_dir_all(cache_dir(i));
    }
    // OCI_BENCH_KINDS=N: requests of each kind for the per-kind registry cost (0: skipped).
    let kinds_n = std::env::var("OCI_BENCH_KINDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(if quick { 0 } else { 1500 });
    let kinds = if kinds_n > 0 {
        rt.block_on(cost_by_kind(&reg, &report, kinds_n))?
    } else {
        Vec::new()
    };
    let terraform = match terraform_tools() {
        Some((tf, dir)) => Some(terraform_figures(&reg, &tf, &dir, iters)?),
        None => {
            eprintln!("terraform-1.15 (CHARTREG_TOOLS) or target/release/terraform-provider-chartreg missing: Terraform figures skipped");
            None
        }
    };
    let versions: usize = report
        .catalog
        .charts
        .values()
        .map(|c| c.versions.len())
        .sum();
    if report.catalog.charts.len() != repos || versions != repos * tags {
        return Err(format!(
            "catalog has {} charts / {versions} versions, expected {repos} / {}",
            report.catalog.charts.len(),
            repos * tags
        )
        .into());
    }
    let figures = [
        Figure {
            name: "cold sync (empty cache, no previous catalog)",
            target: "<= 3 s",
            chartreg: cold,
            comparison: seq_full,
            comparison_name: "sequential: every tags/list, manifest, config",
            requests: cold_req,
            comparison_requests: seq_full_req,
            connections: (cold_conn, seq_full_conn),
        },
        Figure {
            name: "re-sync unchanged (previous catalog)",
            target: "<= 1 s",
            chartreg: warm,
            comparison: seq_tags,
            comparison_name: "sequential: catalog + every tags/list",
            requests: warm_req,
            comparison_requests: seq_tags_req,
            connections: (warm_conn, seq_tags_conn),
        },
    ];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nOCI sync: docker-registry on loopback, {repos} repositories x {tags} tags ({versions} chart versions), medians of {iters}; load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )?;
    writeln!(
        out,
        "requests: {}; registry: GOGC {}",
        if access_log {
            "counted by each client, checked against the registry's access log"
        } else {
            "counted by each client (access log off)"
        },
        gogc.as_deref().unwrap_or("default (100)")
    )?;
    writeln!(
        out,
        "| figure | target | chartreg | comparison | ratio | requests (chartreg / comparison) | connections opened (chartreg / comparison) | CPU s registry + client (chartreg / comparison) | registry CPU ms per request (chartreg / comparison) |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
    let per = |cpu: f64, n: usize| cpu * 1000.0 / n.max(1) as f64;
    for f in &figures {
        let (a, ar, ac) = medians(&f.chartreg);
        if f.comparison.is_empty() {
            writeln!(
                out,
                "| {} | {} | {a:.3} s | not run | - | {} / - | {} / - | {ar:.2} + {ac:.2} / - | {:.2} / - |",
                f.name, f.target, f.requests, f.connections.0, per(ar, f.requests)
            )?;
            continue;
        }
        let (b, br, bc) = medians(&f.comparison);
        writeln!(
            out,
            "| {} | {} | {a:.3} s | {b:.3} s ({}) | {:.2}x | {} / {} | {} / {} | {ar:.2} + {ac:.2} / {br:.2} + {bc:.2} | {:.2} / {:.2} |",
            f.name,
            f.target,
            f.comparison_name,
            b / a,
            f.requests,
            f.comparison_requests,
            f.connections.0,
            f.connections.1,
            per(ar, f.requests),
            per(br, f.comparison_requests)
        )?;
    }
    let show = |n: Option<usize>| n.map_or("- (no access log)".to_string(), |n| n.to_string());
    if let Some((apply, apply_req, plans, plan_req)) = terraform {
        let (a, ar, _) = medians(&[apply]);
        writeln!(
            out,
            "| terraform 1.15 apply (whole process, cold; 1 run) | - | {a:.3} s | - | - | {} / - | - | {ar:.2} + (terraform and provider not counted) | - |",
            show(apply_req)
        )?;
        let (p, pr, _) = medians(&plans);
        writeln!(
            out,
            "| terraform 1.15 plan (whole process, refresh = unchanged re-sync) | - | {p:.3} s | - | - | {} / - | - | {pr:.2} + (terraform and provider not counted) | - |",
            show(plan_req)
        )?;
    }
    if !kinds.is_empty() {
        let shown: Vec<String> = kinds
            .iter()
            .map(|(k, n, ms)| format!("{k} {ms:.2} ms ({n})"))
            .collect();
        writeln!(
            out,
            "registry CPU per request by kind (8 in flight, nothing else against the registry): {}",
            shown.join(", ")
        )?;
    }
    Ok(())
}
