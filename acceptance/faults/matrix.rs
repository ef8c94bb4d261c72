//! The fault matrix engine: a [`Spec`] per case (surface, script, expected outcome, attempts), a
//! live proxy per case, one workspace and one Terraform run per phase, one trial per case.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::Trial;
use serde_json::Value;
use sha2::Digest;

use super::{cache_clean, host_port, provider_block, q, CHART, HELM, OCI};
use crate::bad_input::{no_crash_text, INTERNAL_MARKERS};
use crate::harness::{
    ensure, Cases, Diagnostic, Fault, FaultServer, Match, Severity, TcpTunnel, TestResult, Testbed,
    Tf, TfReport, LOOPBACK2,
};

/// In a script's path: the blob of mychart 0.2.0's chart layer in the shared registry
/// (`/v2/charts/mychart/blobs/sha256:<hex>`, the digest of the pushed `.tgz`).
pub const CHART_BLOB: &str = "{chart_blob}";

/// What a case reads through its proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `chartreg_helm_registry` on the shared nginx (`/public`: mychart 0.1.0 0.2.0, other 1.0.0).
    Helm,
    /// The same over HTTPS, reached at 127.0.0.3 (the certificate names 127.0.0.1, 127.0.0.2,
    /// localhost and the host name): a certificate for another name. No proxy script.
    HelmTlsOtherName,
    /// The shared HTTPS registry (basic auth), reached at 127.0.0.3 likewise.
    OciTlsOtherName,
    /// `chartreg_oci_registry` on the shared plain registry (`/charts`: mychart, other).
    Oci,
    /// The same behind a bearer-token challenge: `/v2/` without a token answers 401 naming the
    /// proxy's `/token` as realm (the case scripts `/token`); with one it is forwarded.
    OciToken,
    /// `chartreg_helm_chart` (mychart 0.2.0, archive downloaded and verified) on a
    /// `chartreg_helm_registry` applied cleanly first.
    Archive,
    /// The same on a `chartreg_oci_registry` (the chart layer blob: the path [`CHART_BLOB`]).
    ArchiveOci,
}

/// The expected outcome of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No diagnostic on the case's objects; the catalog (or chart) is complete.
    Ok,
    /// Create and archive: an error with this summary on `attribute` (empty: the object itself);
    /// refresh: a warning with this summary and the previous catalog kept.
    Fail(&'static str, &'static str),
}

/// One named case.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `helm_index::http_503_persistent` (the trial name).
    pub name: String,
    pub surface: Surface,
    /// Paths of the proxy and their scripts. In header values `{self}` is the proxy's origin,
    /// `{second}` the origin of a second proxy on 127.0.0.2 in front of the same upstream.
    pub script: Vec<(&'static str, Vec<Fault>)>,
    /// The proxy is down during the run (connection refused).
    pub down: bool,
    pub expect: Outcome,
    /// `(path, min, max)`: how many requests to `path` the proxy must see during the run.
    pub attempts: Option<(&'static str, usize, usize)>,
    /// Seconds the second request to the attempts path must come after the first at least
    /// (`Retry-After`).
    pub min_gap: Option<f64>,
    /// The registry has credentials (a public repository ignores them): a second host a redirect
    /// leads to must see no `Authorization`.
    pub credentials: bool,
}

impl Spec {
    pub fn new(
        name: &str,
        surface: Surface,
        path: &'static str,
        faults: Vec<Fault>,
        expect: Outcome,
        attempts: (usize, usize),
    ) -> Spec {
        Spec {
            name: name.to_string(),
            surface,
            script: vec![(path, faults)],
            down: false,
            expect,
            attempts: Some((path, attempts.0, attempts.1)),
            min_gap: None,
            credentials: false,
        }
    }

    /// The Terraform name of the case's objects (`helm_index__http_503`).
    pub fn id(&self) -> String {
        self.name.replace("::", "__")
    }

    fn file(&self) -> String {
        format!("{}.tf", self.id())
    }

    /// The managed resource of the case.
    fn resource(&self) -> String {
        let t = match self.surface {
            Surface::Helm | Surface::HelmTlsOtherName | Surface::Archive => HELM,
            Surface::Oci | Surface::OciToken | Surface::OciTlsOtherName | Surface::ArchiveOci => {
                OCI
            }
        };
        format!("{t}.{}", self.id())
    }

    /// The object the outcome is about: the data source for archive cases, else the resource.
    fn object(&self) -> String {
        match self.surface {
            Surface::Archive | Surface::ArchiveOci => format!("data.{CHART}.{}", self.id()),
            _ => self.resource(),
        }
    }

    fn uses_second(&self) -> bool {
        self.script.iter().any(|(_, fs)| {
            fs.iter().any(|f| match f {
                Fault::Respond { headers, .. } => {
                    headers.iter().any(|(_, v)| v.contains("{second}"))
                }
                _ => false,
            })
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    Create,
    Refresh,
    Archive,
}

/// A case's servers during the run.
struct Live {
    spec: Spec,
    /// What [`CHART_BLOB`] stands for.
    chart_blob: String,
    proxy: FaultServer,
    second: Option<FaultServer>,
    tunnel: Option<TcpTunnel>,
}

impl Live {
    fn start(tb: &Testbed, spec: &Spec) -> Live {
        let upstream = match spec.surface {
            Surface::Oci | Surface::OciToken | Surface::ArchiveOci => tb.oci.plain.clone(),
            _ => host_port(&tb.helm.http),
        };
        let proxy = FaultServer::proxy(&upstream);
        let second = spec
            .uses_second()
            .then(|| FaultServer::proxy_on(LOOPBACK2, &upstream));
        let other_name =
            |upstream: &str| TcpTunnel::start("127.0.0.3".parse().expect("an address"), upstream);
        let tunnel = match spec.surface {
            Surface::HelmTlsOtherName => Some(other_name(&host_port(&tb.helm.https))),
            Surface::OciTlsOtherName => Some(other_name(&tb.oci.basic)),
            _ => None,
        };
        if spec.surface == Surface::OciToken {
            let challenge = format!(r#"Bearer realm="{}",service="faults""#, proxy.url("/token"));
            proxy.route_when(
                "/v2/",
                Match::header("authorization", "Bearer"),
                vec![Fault::Forward],
            );
            proxy.route(
                "/v2/",
                vec![Fault::status(401).header("WWW-Authenticate", &challenge)],
            );
            // a valid token until the case's script replaces it (the clean apply of a refresh)
            proxy.route(
                "/token",
                vec![super::table::token_answer(
                    r#"{"token":"faults-token","expires_in":300}"#,
                )],
            );
        }
        let digest = std::fs::read(&tb.charts.mychart_020)
            .map(|b| hex::encode(sha2::Sha256::digest(&b)))
            .unwrap_or_default();
        Live {
            spec: spec.clone(),
            chart_blob: format!("/v2/charts/mychart/blobs/sha256:{digest}"),
            proxy,
            second,
            tunnel,
        }
    }

    /// Installs the case's script (and takes its proxy down) and forgets what was seen so far.
    fn arm(&self) {
        let me = format!("http://{}", self.proxy.host());
        let second = self
            .second
            .as_ref()
            .map(|s| format!("http://{}", s.host()))
            .unwrap_or_default();
        for (path, faults) in &self.spec.script {
            let faults = faults
                .iter()
                .map(|f| substitute(f, &me, &second, &self.chart_blob))
                .collect();
            self.proxy.route(&self.path(path), faults);
        }
        self.proxy.clear_log();
        if let Some(s) = &self.second {
            s.clear_log();
        }
        if self.spec.down {
            self.proxy.set_down(true);
        }
    }

    /// `path` with [`CHART_BLOB`] replaced.
    fn path(&self, path: &str) -> String {
        path.replace(CHART_BLOB, &self.chart_blob)
    }

    fn registry_config(&self, tb: &Testbed) -> String {
        let id = self.spec.id();
        let name = q(&id.replace('_', "-"));
        let creds = if self.spec.credentials {
            "  username = \"faults\"\n  password = \"not-a-secret\"\n"
        } else {
            ""
        };
        match self.spec.surface {
            Surface::Helm | Surface::Archive => format!(
                "resource {HELM:?} {id:?} {{\n  name     = {name}\n  endpoint = {}\n{creds}}}\n\n",
                q(&self.proxy.url("/public"))
            ),
            Surface::HelmTlsOtherName => format!(
                "resource {HELM:?} {id:?} {{\n  name           = {name}\n  endpoint       = {}\n  ca_certificate = {}\n}}\n\n",
                q(&format!(
                    "https://{}/public",
                    self.tunnel.as_ref().expect("a tunnel").addr
                )),
                q(&tb.ca_pem)
            ),
            Surface::Oci | Surface::OciToken | Surface::ArchiveOci => format!(
                "resource {OCI:?} {id:?} {{\n  name     = {name}\n  endpoint = {}\n{creds}}}\n\n",
                q(&self.proxy.url("/charts"))
            ),
            Surface::OciTlsOtherName => format!(
                "resource {OCI:?} {id:?} {{\n  name           = {name}\n  endpoint       = {}\n  ca_certificate = {}\n}}\n\n",
                q(&format!(
                    "https://{}/charts",
                    self.tunnel.as_ref().expect("a tunnel").addr
                )),
                q(&tb.ca_pem)
            ),
        }
    }

    fn data_config(&self) -> String {
        let id = self.spec.id();
        let reg = self.spec.resource();
        format!(
            "data {CHART:?} {id:?} {{\n  registry = {reg}\n  name     = \"mychart\"\n  version  = \"0.2.0\"\n}}\n\n"
        )
    }
}

/// `f` with `{self}`, `{second}` and [`CHART_BLOB`] replaced in its header values.
fn substitute(f: &Fault, me: &str, second: &str, chart_blob: &str) -> Fault {
    let mut f = f.clone();
    if let Fault::Respond { headers, .. } = &mut f {
        for (_, v) in headers.iter_mut() {
            *v = v
                .replace("{self}", me)
                .replace("{second}", second)
                .replace(CHART_BLOB, chart_blob);
        }
    }
    f
}

/// What a case's proxies saw during the run.
#[derive(Debug, Clone, Default)]
struct Seen {
    attempts: usize,
    gap: Option<f64>,
    injected: usize,
    second_requests: usize,
    second_authorized: usize,
}

/// What one phase's run left.
pub struct Run {
    kind: PhaseKind,
    specs: Vec<Spec>,
    report: TfReport,
    before: BTreeMap<String, Value>,
    after: BTreeMap<String, Value>,
    seen: BTreeMap<String, Seen>,
    cache: TestResult<usize>,
}

pub fn group(tb: &Arc<Testbed>, name: &'static str, kind: PhaseKind) -> Vec<Trial> {
    let names: Vec<String> = super::table::cases(kind)
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let mut g = Cases::new(tb, name, move |tb, cli| {
        let t0 = Instant::now();
        let specs = super::table::cases(kind);
        let lives: Vec<Live> = specs.iter().map(|s| Live::start(tb, s)).collect();
        let mut tf = Tf::new(tb, cli);
        tf.env("RUST_BACKTRACE", "1").env("RUST_LIB_BACKTRACE", "1");
        let cache_dir = tf.dir.join("cache");
        tf.write(&provider_block(&cache_dir, ""));
        let clean_first = kind != PhaseKind::Create;
        for l in &lives {
            tf.write_file(&l.spec.file(), &l.registry_config(tb));
        }
        if clean_first {
            tf.apply_json(&[])
                .ok()
                .map_err(|e| format!("the clean apply (no fault yet) failed:\n{e}"))?;
        }
        let before = managed(&tf)?;
        for l in &lives {
            l.arm();
        }
        let t1 = Instant::now();
        let report = match kind {
            PhaseKind::Create => tf.apply_json(&[]),
            PhaseKind::Refresh => tf.apply_json(&["-refresh-only"]),
            PhaseKind::Archive => {
                for l in &lives {
                    tf.write_file(
                        &l.spec.file(),
                        &format!("{}{}", l.registry_config(tb), l.data_config()),
                    );
                }
                tf.plan_json(&[])
            }
        };
        let run_s = t1.elapsed().as_secs_f64();
        let after = managed(&tf)?;
        let mut seen = BTreeMap::new();
        let (mut injected, mut attempts) = (0, 0);
        for l in &lives {
            // faults of the case's script (not the token challenge of its surface)
            let mut s = Seen {
                injected: l
                    .spec
                    .script
                    .iter()
                    .map(|(p, _)| l.proxy.faults_injected_on(&l.path(p)))
                    .sum(),
                ..Seen::default()
            };
            if let Some((path, _, _)) = l.spec.attempts {
                let reqs = l.proxy.requests_to(&l.path(path));
                s.attempts = reqs.len();
                s.gap = reqs
                    .get(1)
                    .map(|r| r.at.duration_since(reqs[0].at).as_secs_f64());
            }
            if let Some(sec) = &l.second {
                let reqs = sec.requests();
                s.second_requests = reqs.len();
                s.second_authorized = reqs
                    .iter()
                    .filter(|r| r.header("authorization").is_some())
                    .count();
            }
            injected += s.injected;
            attempts += s.attempts;
            seen.insert(l.spec.name.clone(), s);
        }
        let cache = cache_clean(&cache_dir);
        eprintln!(
            "{name}::{}: {} cases, {} faults injected, {} attempts counted, {} diagnostics, faulty run {run_s:.1} s, fixture {:.1} s, cache files {}",
            cli.label,
            specs.len(),
            injected,
            attempts,
            report.diagnostics.len(),
            t0.elapsed().as_secs_f64(),
            cache.as_ref().map_or_else(|e| e.clone(), |n| n.to_string()),
        );
        drop(lives);
        Ok(Run {
            kind,
            specs,
            report,
            before,
            after,
            seen,
            cache,
        })
    });
    for n in names {
        let case = n.clone();
        g = g.case(&n, move |_, run: &Run| check_case(run, &case));
    }
    g.case("all_attributed", |_, run: &Run| all_attributed(run))
        .case("cache_clean", |_, run: &Run| run.cache.clone().map(drop))
        .trials()
}

/// `show -json` managed resources by address.
fn managed(tf: &Tf) -> TestResult<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    if !tf.dir.join("terraform.tfstate").exists() {
        return Ok(out);
    }
    let state = tf.state_json()?;
    for r in state["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if r["mode"] == "managed" {
            let addr = r["address"].as_str().unwrap_or_default().to_string();
            out.insert(addr, r["values"].clone());
        }
    }
    Ok(out)
}

fn file_of(d: &Diagnostic) -> &str {
    d.source.split(':').next().unwrap_or_default()
}

/// The diagnostics that belong to `spec`: on its objects, or in its file.
fn mine<'a>(run: &'a Run, spec: &Spec) -> Vec<&'a Diagnostic> {
    let (res, obj, file) = (spec.resource(), spec.object(), spec.file());
    run.report
        .diagnostics
        .iter()
        .filter(|d| d.object == res || d.object == obj || file_of(d) == file)
        .collect()
}

/// The catalog attributes that must not change when a refresh fails.
const CATALOG: [&str; 5] = [
    "charts",
    "chart_count",
    "version_count",
    "catalog_snapshot",
    "catalog_digest",
];

fn check_case(run: &Run, name: &str) -> TestResult {
    let spec = run
        .specs
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("no case {name}"))?;
    let seen = run.seen.get(name).cloned().unwrap_or_default();
    let ds = mine(run, spec);
    let show = |what: String| {
        let list: Vec<String> = ds.iter().map(|d| d.to_string()).collect();
        format!(
            "{name}: {what}\nproxy: {seen:?}\ndiagnostics of the case:\n{}",
            if list.is_empty() {
                "(none)".to_string()
            } else {
                list.join("\n")
            }
        )
    };
    for d in &ds {
        no_crash_text(&d.detail)?;
        for m in INTERNAL_MARKERS {
            ensure(!d.detail.contains(m), || {
                show(format!("a detail names an internal ({m:?})"))
            })?;
        }
    }
    no_crash_text(&run.report.combined())?;
    let errors: Vec<&&Diagnostic> = ds
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let warnings: Vec<&&Diagnostic> = ds
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    let res = spec.resource();
    let (before, after) = (run.before.get(&res), run.after.get(&res));
    match (&spec.expect, run.kind) {
        (Outcome::Ok, kind) => {
            ensure(errors.is_empty() && warnings.is_empty(), || {
                show("expected no diagnostic (the fault is one a retry gets past)".into())
            })?;
            match kind {
                PhaseKind::Create | PhaseKind::Refresh => {
                    let a = after.ok_or_else(|| show(format!("{res} is not in state")))?;
                    ensure(a["chart_count"] == 2 && a["version_count"] == 3, || {
                        show(format!("the catalog in state is not the whole one: {a}"))
                    })?;
                    if kind == PhaseKind::Refresh {
                        same_catalog(before, after).map_err(&show)?;
                    }
                }
                PhaseKind::Archive => {}
            }
        }
        (Outcome::Fail(summary, attr), PhaseKind::Create | PhaseKind::Archive) => {
            let at = if attr.is_empty() {
                spec.object()
            } else {
                format!("{}.{attr}", spec.object())
            };
            ensure(errors.len() == 1, || {
                show(format!("expected exactly one error, {summary:?} at {at:?}"))
            })?;
            ensure(
                errors[0].summary == *summary && errors[0].at() == at,
                || show(format!("expected the error {summary:?} at {at:?}")),
            )?;
            ensure(before == after, || {
                show(format!(
                    "the state of {res} changed: before {before:?}, after {after:?}"
                ))
            })?;
            if run.kind == PhaseKind::Create {
                ensure(after.is_none(), || {
                    show(format!("{res} is in state after a failed create"))
                })?;
            }
        }
        (Outcome::Fail(summary, _), PhaseKind::Refresh) => {
            ensure(errors.is_empty(), || {
                show("a failed refresh must not be an error".into())
            })?;
            ensure(
                warnings
                    .iter()
                    .any(|d| d.summary == *summary && d.object == res),
                || show(format!("expected the warning {summary:?} on {res}")),
            )?;
            ensure(
                warnings
                    .iter()
                    .any(|d| d.detail.contains("refresh failed, the previous")),
                || show("the warning should say the previous catalog is kept".into()),
            )?;
            ensure(before.is_some() && before == after, || {
                show(format!(
                    "the state changed on a failed refresh:\nbefore {}\nafter  {}",
                    before.map_or("(absent)".into(), |v| v.to_string()),
                    after.map_or("(absent)".into(), |v| v.to_string())
                ))
            })?;
        }
    }
    if let Some((path, min, max)) = spec.attempts {
        ensure(seen.attempts >= min && seen.attempts <= max, || {
            show(format!(
                "expected {min}..={max} requests to {path}, the proxy saw {}",
                seen.attempts
            ))
        })?;
    }
    if let Some(g) = spec.min_gap {
        ensure(seen.gap.is_some_and(|s| s >= g - 0.05), || {
            show(format!(
                "the retry came before the {g} s the registry asked for"
            ))
        })?;
    }
    if spec.uses_second() {
        ensure(seen.second_requests > 0, || {
            show("the redirect was not followed".into())
        })?;
        if spec.credentials {
            ensure(seen.second_authorized == 0, || {
                show("credentials were sent to the second host".into())
            })?;
        }
    }
    Ok(())
}

/// The catalog of `before` and `after` is the same.
fn same_catalog(before: Option<&Value>, after: Option<&Value>) -> TestResult {
    let (Some(b), Some(a)) = (before, after) else {
        return Err("the registration is missing before or after".into());
    };
    for k in CATALOG {
        ensure(b[k] == a[k], || {
            format!("{k} changed:\nbefore {}\nafter  {}", b[k], a[k])
        })?;
    }
    Ok(())
}

/// Every diagnostic belongs to a case; none reads like a crash.
fn all_attributed(run: &Run) -> TestResult {
    let stray: Vec<String> = run
        .report
        .diagnostics
        .iter()
        .filter(|d| {
            !run.specs.iter().any(|s| {
                d.object == s.resource() || d.object == s.object() || file_of(d) == s.file()
            })
        })
        .map(|d| d.to_string())
        .collect();
    ensure(stray.is_empty(), || {
        format!("diagnostics outside the cases:\n{}", stray.join("\n"))
    })?;
    no_crash_text(&run.report.combined())
}
