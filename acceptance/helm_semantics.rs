//! Library-level proof that `registry::resolve` and `registry::search` are Helm's: the acceptance
//! binary links the crate, so these trials call the library directly and compare with the real
//! `helm` CLIs (v4.1 and v3.17) on the same repositories. No Terraform here: the data sources'
//! own cases (`data_sources::*`) reuse [`fixture`], [`RESOLVE`] and [`SEARCHES`] through
//! Terraform.
//!
//! - `helm_semantics::resolve_helm::{helm4,helm3}`: for every `(chart, constraint)` of
//!   [`RESOLVE`], `resolve_helm_as` picks the version `helm pull fx/<chart> --version <c>` pulls
//!   from a Helm repository (dedicated nginx, index by `helm repo index`), or fails as Helm does
//!   (invalid constraint / nothing found).
//! - `helm_semantics::resolve_oci::{helm4,helm3}`: the same against a docker-registry holding
//!   the same charts pushed by `helm push` (`+` becomes `_` in tags), with `resolve_oci_as` and
//!   `helm pull oci://…`.
//! - `helm_semantics::search_fixture`: every query of [`SEARCHES`] on the fixture equals `helm
//!   search repo … -o json` (set and order, Helm 4 and Helm 3), with `include_deprecated`; and
//!   without it, Helm's list minus the deprecated hits.
//! - `helm_semantics::search_{bitnami,rancher}`: the real indexes of `../shared/data/indexes/`,
//!   a few queries and `--versions --devel` with no query.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chartreg::registry::catalog::{sort_versions_desc, SemVer};
use chartreg::registry::helm_index::parse_index;
use chartreg::registry::resolve::{self, Dialect, ResolveError};
use chartreg::registry::search::{search, SearchOptions};
use chartreg::registry::snapshot::{Kind, Snapshot, VersionRecord};
use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::fixtures::{index_repo_dir, HelmCli, HelmHome};
use crate::harness::Testbed;
use crate::harness::{ensure, run_cmd, HelmRepoServer, RegistryAuth, RegistryServer, TestResult};

/// The name of the fixture repository in Helm (`helm repo add fx …`) and in searches.
pub const REPO: &str = "fx";
/// Where the fixture charts live in the registry: `semantics/<chart>:<tag>`.
pub const OCI_NAMESPACE: &str = "semantics";

/// One chart version of the fixture: name, version, app version, description, keywords,
/// deprecated.
type FixtureChart = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
);

const WEB: &str = "Web server";
const KW_WEB: &[&str] = &["web", "http"];

/// The fixture: one chart (`web`) with 17 versions (more than 12, so Helm sorts them with
/// pdqsort) covering stable, pre-release (`-0` included), `v` prefixed and `+build` versions;
/// charts with only pre-releases, only `0.0.0`, a deprecated newest version, equal precedence.
pub const CHARTS: &[FixtureChart] = &[
    ("web", "0.1.0", "1.0", WEB, KW_WEB, false),
    ("web", "0.9.0", "1.0", WEB, KW_WEB, false),
    ("web", "1.0.0", "1.1", WEB, KW_WEB, false),
    ("web", "1.0.1", "1.1", WEB, KW_WEB, false),
    ("web", "1.2.0", "1.2", WEB, KW_WEB, false),
    ("web", "1.2.3", "1.2", WEB, KW_WEB, false),
    ("web", "1.2.4-0", "1.2", WEB, KW_WEB, false),
    ("web", "v1.3.0", "1.3", WEB, KW_WEB, false),
    ("web", "1.5.0+build.1", "1.5", WEB, KW_WEB, false),
    ("web", "1.10.0", "1.10", WEB, KW_WEB, false),
    ("web", "2.0.0", "2.0", WEB, KW_WEB, false),
    ("web", "2.0.1+meta", "2.0", WEB, KW_WEB, false),
    ("web", "2.1.0", "2.1", WEB, KW_WEB, false),
    ("web", "2.2.0-rc.1", "2.2", WEB, KW_WEB, false),
    (
        "web",
        "3.0.0",
        "3.0",
        "Web server with an ingress",
        &["web", "ingress"],
        false,
    ),
    ("web", "3.1.0-beta.1", "3.1", WEB, KW_WEB, false),
    ("web", "4.0.0-alpha.1", "4.0", WEB, KW_WEB, false),
    (
        "pre-only",
        "0.1.0-rc.1",
        "0.1",
        "Only pre-releases",
        &["preview"],
        false,
    ),
    (
        "pre-only",
        "0.2.0-beta.1",
        "0.2",
        "Only pre-releases",
        &["preview"],
        false,
    ),
    ("zero", "0.0.0", "0", "Version zero", &[], false),
    (
        "old-web",
        "0.9.0",
        "0.9",
        "Web server, older line",
        &["web"],
        false,
    ),
    (
        "old-web",
        "1.0.0",
        "1.0",
        "Deprecated web server",
        &["web", "legacy"],
        true,
    ),
    (
        "ingress-gw",
        "1.0.0",
        "1.0",
        "Gateway API controller",
        &["ingress", "gateway"],
        false,
    ),
    (
        "ingress-gw",
        "1.1.0-rc.1",
        "1.1",
        "Gateway API controller",
        &["ingress", "gateway"],
        false,
    ),
    ("tie", "1.0.0+a", "1", "Equal precedence", &[], false),
    ("tie", "1.0.0+b", "1", "Equal precedence", &[], false),
];

/// `(chart, version)` given to `helm pull --version` (`""`: no `--version`): exact versions,
/// every operator, wildcards, ranges, `||`, pre-releases, build metadata, invalid constraints,
/// and the cases where Helm 3.17 and Helm 4.1 differ (marked).
pub const RESOLVE: &[(&str, &str)] = &[
    ("web", ""),
    ("web", "1.2.3"),
    ("web", "v1.2.3"),
    ("web", "1.2"),
    ("web", "1"),
    ("web", "=1.0.0"),
    ("web", "v1.3.0"),
    ("web", "1.3.0"),
    ("web", "~1.2"),
    ("web", "~1.2.0"),
    ("web", "~> 1.2"),
    ("web", "~1"),
    ("web", "~1.3"),
    ("web", "^1.2.0"),
    ("web", "^1"),
    ("web", "^0.1"),
    ("web", "^0.0"),
    ("web", "^*"),
    ("web", "~*"),
    ("web", ">1.2.3"),
    ("web", ">=2.0.0"),
    ("web", "<1.0.0"),
    ("web", "<=1.2"),
    ("web", "=<1.0"),
    ("web", "=>2"),
    ("web", ">1.0 <2.0"),
    ("web", ">=1.0.0, <2.0.0"),
    ("web", "1.0.0 - 1.2.0"),
    ("web", "1.0 - 1.2"),
    ("web", "1.x"),
    ("web", "1.2.x"),
    ("web", "1.X"),
    ("web", "*"),
    ("web", "x"),
    ("web", "2.*"),
    ("web", "1.0.0 || 3.x"),
    ("web", "<0.5 || >=2.1 <3"),
    ("web", "!=3.0.0, >=2"),
    ("web", "!=3.0.0"),           // Helm 3: a plain != lets pre-releases through
    ("web", ">=1.2.4-0 <1.3.0"),  // Helm 3: `<1.3.0` refuses the pre-release
    ("web", ">=3.0.0-0, <4.0.0"), // Helm 4: 3.1.0-beta.1; Helm 3: 3.0.0
    ("web", ">2.1.0"),
    ("web", ">=2.2.0-0"),
    ("web", "^2.2.0-rc.1"),
    ("web", "2.2.0-rc.1"),
    ("web", "~2.2.0-0"),
    ("web", ">0.0.0-0"),
    ("web", "1.5.0+build.1"),
    ("web", "1.5.0"),
    ("web", "1.5.0_build.1"),
    ("web", "~1.5"),
    ("web", "2.0.1+meta"),
    ("web", "2.0.1"),
    ("web", "^2.0.1+other"),
    ("web", ">= 5"),
    ("web", "9.9.9"),
    ("web", "foo"),
    ("web", "1.x.x"),
    ("web", "1x"),
    ("web", ">=1.0.0<2.0.0"),
    ("pre-only", ""),
    ("pre-only", "*"),
    ("pre-only", ">0.0.0-0"),
    ("pre-only", "0.1.0-rc.1"),
    ("pre-only", "~0.1.0-0"),
    ("zero", ""),
    ("zero", ">0.0.0"),
    ("zero", "0.0.0"),
    ("old-web", ""),
    ("old-web", "1.0.0"),
    ("old-web", "0.9.0"),
    ("tie", "^1"),
    ("tie", "1.0.0"),
    ("tie", "1.0.0+b"),
    ("ingress-gw", "~1.1.0-0"),
];

/// `(query, regexp, devel, versions)` for `helm search repo`.
pub type Search = (&'static str, bool, bool, bool);

/// The searches compared with `helm search repo`.
pub const SEARCHES: &[Search] = &[
    ("", false, false, false),
    ("", false, true, false),
    ("", false, false, true),
    ("", false, true, true),
    ("fx/", false, true, true),
    ("web", false, false, false),
    ("WEB", false, false, true),
    ("web", false, true, true),
    ("ingress", false, false, false),
    ("ingress", false, true, true),
    ("server", false, false, false),
    ("legacy", false, false, true),
    ("x/w", false, false, false),
    ("pre", false, false, false),
    ("pre", false, true, false),
    ("nothing-like-it", false, false, false),
    ("^web", true, false, false),
    ("^web", true, true, true),
    ("w.b", true, false, false),
    ("gate(way)?", true, false, true),
    ("Web", true, false, false),
    ("(?i)SERVER$", true, false, false),
    ("fx/.*-", true, true, false),
];

/// What resolving gave: a version, or which of Helm's failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Version(String),
    NotFound,
    Invalid,
}

/// The shared fixture: the charts in a Helm repository and in an OCI registry, and a Helm
/// home where both CLIs know the repository as `fx`.
pub struct Fixture {
    pub repo: HelmRepoServer,
    pub registry: RegistryServer,
    pub home: HelmHome,
}

static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();

/// The fixture, made once per run by the first trial that needs it.
///
/// It is made on a thread of its own that lives as long as the run: its server processes die
/// with the thread that spawned them (`PR_SET_PDEATHSIG`), and a trial's thread ends when no
/// trial is left for it, while other trials still use the fixture (a filtered run, e.g.
/// `-- data_sources`, lost the servers that way).
pub fn fixture(tb: &Testbed) -> TestResult<&'static Fixture> {
    FIXTURE
        .get_or_init(|| {
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let build = move || {
                let _ = done_tx.send(make_fixture(tb));
                // The servers' parent: park until the process exits.
                loop {
                    std::thread::park();
                }
            };
            // SAFETY: the closure uses `tb` only inside `make_fixture`, which ends before
            // `done_rx.recv()` below returns, so the borrow never outlives this call; afterwards
            // the thread only parks.
            let spawned = unsafe {
                std::thread::Builder::new()
                    .name("helm_semantics fixture".into())
                    .spawn_unchecked(build)
            };
            match spawned {
                Ok(_) => done_rx
                    .recv()
                    .unwrap_or_else(|_| Err("the fixture thread ended early".into())),
                Err(e) => Err(format!("cannot start the fixture thread: {e}")),
            }
        })
        .as_ref()
        .map_err(|e| format!("fixture: {e}"))
}

fn chart_yaml(c: &FixtureChart) -> String {
    let (name, version, app, desc, kws, deprecated) = c;
    let q = |s: &str| serde_json::to_string(s).unwrap();
    let mut s = format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: {}\ndescription: {}\ntype: application\n",
        q(app),
        q(desc)
    );
    if !kws.is_empty() {
        s.push_str("keywords:\n");
        for k in *kws {
            s.push_str(&format!("  - {}\n", q(k)));
        }
    }
    if *deprecated {
        s.push_str("deprecated: true\n");
    }
    s
}

fn make_fixture(tb: &Testbed) -> TestResult<Fixture> {
    let work = tb.scratch_dir("semantics-charts");
    let helm = tb.helm_cli();
    let mut packages = Vec::new();
    let mut created = HashSet::new();
    for c in CHARTS {
        let name = c.0;
        let src = work.join("src").join(name);
        if created.insert(name) {
            std::fs::create_dir_all(work.join("src")).map_err(|e| e.to_string())?;
            run_cmd(
                helm.command()
                    .current_dir(work.join("src"))
                    .args(["create", name]),
            )?;
        }
        std::fs::write(src.join("Chart.yaml"), chart_yaml(c)).map_err(|e| e.to_string())?;
        let out = work.join("out");
        run_cmd(helm.command().arg("package").arg(&src).arg("-d").arg(&out))?;
        let tgz = out.join(format!("{name}-{}.tgz", c.1));
        ensure(tgz.is_file(), || format!("no {}", tgz.display()))?;
        packages.push(tgz);
    }
    let repo = tb.try_spawn_helm_repo("semantics", false, false)?;
    let refs: Vec<&Path> = packages.iter().map(PathBuf::as_path).collect();
    index_repo_dir(helm, &repo.dir, &refs)?;
    let registry = tb.try_spawn_registry(RegistryAuth::None)?;
    for p in &packages {
        registry.push(p, OCI_NAMESPACE)?;
    }
    let home = tb.helm_home();
    for cli in [&home.helm4, &home.helm3] {
        run_cmd(cli.command().args(["repo", "add", REPO, &repo.url]))?;
    }
    Ok(Fixture {
        repo,
        registry,
        home,
    })
}

impl Fixture {
    /// The repository's snapshot as the library reads the index `helm repo index` wrote.
    pub fn helm_snapshot(&self) -> TestResult<Snapshot> {
        let bytes = std::fs::read(self.repo.dir.join("index.yaml")).map_err(|e| e.to_string())?;
        index_snapshot(&bytes, &self.repo.index_url())
    }

    /// One repository's versions in the registry, newest first (tags with `_` read as `+`).
    pub fn oci_records(&self, chart: &str) -> TestResult<Vec<VersionRecord>> {
        let mut tags: Vec<String> = self
            .registry
            .client()
            .tags(&format!("{OCI_NAMESPACE}/{chart}"))?
            .into_iter()
            .map(|t| t.replace('_', "+"))
            .collect();
        sort_versions_desc(&mut tags, |t| t);
        Ok(tags
            .into_iter()
            .map(|version| VersionRecord {
                version,
                ..Default::default()
            })
            .collect())
    }
}

/// An index as the library parses it, as the registry resource's snapshot.
pub fn index_snapshot(bytes: &[u8], url: &str) -> TestResult<Snapshot> {
    let parsed = parse_index(bytes, url).map_err(|e| e.to_string())?;
    Ok(parsed.catalog().to_snapshot(Kind::Helm, url))
}

/// What the library resolves.
pub fn ours(records: &[VersionRecord], wanted: &str, oci: bool, dialect: Dialect) -> Outcome {
    let w = (!wanted.is_empty()).then_some(wanted);
    let r = if oci {
        resolve::resolve_oci_as(records, w, dialect)
    } else {
        resolve::resolve_helm_as(records, w, dialect)
    };
    match r {
        Ok(r) => Outcome::Version(r.version.clone()),
        Err(ResolveError::NotFound(_)) => Outcome::NotFound,
        Err(ResolveError::InvalidConstraint(..)) => Outcome::Invalid,
    }
}

/// What `helm pull <chart_ref> [--version wanted]` pulls (the version in the archive's name).
pub fn helm_pull(
    cli: &HelmCli,
    chart_ref: &str,
    wanted: &str,
    extra: &[&str],
) -> TestResult<Outcome> {
    let dest = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = cli.command();
    cmd.arg("pull")
        .arg(chart_ref)
        .arg("-d")
        .arg(dest.path())
        .args(extra);
    if !wanted.is_empty() {
        cmd.args(["--version", wanted]);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let invalid = [
            "improper constraint",
            "constraint parser error",
            "constraint Parser Error",
        ]
        .iter()
        .any(|m| err.contains(m));
        return Ok(if invalid {
            Outcome::Invalid
        } else {
            Outcome::NotFound
        });
    }
    let name = chart_ref.rsplit('/').next().unwrap_or_default();
    let files: Vec<String> = std::fs::read_dir(dest.path())
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    match files.as_slice() {
        [f] => f
            .strip_prefix(&format!("{name}-"))
            .and_then(|f| f.strip_suffix(".tgz"))
            .map(|v| Outcome::Version(v.to_string()))
            .ok_or_else(|| format!("helm pull wrote {f}")),
        _ => Err(format!("helm pull {chart_ref} {wanted:?} wrote {files:?}")),
    }
}

/// One row per `(chart, constraint)` where ours and Helm's differ.
fn compare_resolution(
    f: &Fixture,
    cli: &HelmCli,
    dialect: Dialect,
    oci: bool,
) -> TestResult<BTreeMap<(String, String), Outcome>> {
    let snapshot = f.helm_snapshot()?;
    let mut records: BTreeMap<&str, Vec<VersionRecord>> = BTreeMap::new();
    for (chart, _) in RESOLVE {
        if !records.contains_key(chart) {
            let r = if oci {
                f.oci_records(chart)?
            } else {
                snapshot
                    .chart(chart)
                    .map(|c| c.versions.clone())
                    .ok_or_else(|| format!("{chart} not in the index"))?
            };
            records.insert(chart, r);
        }
    }
    let mut errors = Vec::new();
    let mut seen = BTreeMap::new();
    for (chart, c) in RESOLVE {
        let (chart_ref, extra): (String, &[&str]) = if oci {
            (
                f.registry.oci_url(&format!("{OCI_NAMESPACE}/{chart}")),
                &["--plain-http"],
            )
        } else {
            (format!("{REPO}/{chart}"), &[])
        };
        let theirs = helm_pull(cli, &chart_ref, c, extra)?;
        let mine = ours(&records[chart], c, oci, dialect);
        if mine != theirs {
            errors.push(format!("{chart} {c:?}: helm {theirs:?}, chartreg {mine:?}"));
        }
        if crate::harness::verbose() {
            eprintln!(
                "resolve oci={oci} {}: {chart} {c:?} -> {theirs:?}",
                cli.bin.display()
            );
        }
        seen.insert((chart.to_string(), c.to_string()), theirs);
    }
    ensure(errors.is_empty(), || {
        format!(
            "{} of {} differ:\n{}",
            errors.len(),
            RESOLVE.len(),
            errors.join("\n")
        )
    })?;
    Ok(seen)
}

/// The Helm 3 / Helm 4 difference is exercised: these rows resolve differently.
fn check_dialects_differ(
    h3: &BTreeMap<(String, String), Outcome>,
    h4: &BTreeMap<(String, String), Outcome>,
) -> TestResult {
    for c in ["!=3.0.0", ">=1.2.4-0 <1.3.0", ">=3.0.0-0, <4.0.0"] {
        let k = ("web".to_string(), c.to_string());
        ensure(h3.get(&k) != h4.get(&k), || {
            format!("helm3 and helm4 agree on web {c:?} ({:?}): the fixture no longer shows the difference", h3.get(&k))
        })?;
    }
    Ok(())
}

/// A `helm search repo` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub version: String,
    pub app_version: String,
    pub description: String,
}

/// `helm search repo [query] [flags] -o json`.
pub fn helm_search(
    cli: &HelmCli,
    query: &str,
    regexp: bool,
    devel: bool,
    versions: bool,
) -> TestResult<Vec<Line>> {
    let mut cmd = cli.command();
    cmd.args(["search", "repo"]);
    if !query.is_empty() {
        cmd.arg(query);
    }
    for (on, flag) in [
        (regexp, "--regexp"),
        (devel, "--devel"),
        (versions, "--versions"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    cmd.args(["-o", "json"]);
    let out = run_cmd(&mut cmd)?;
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            Line {
                name: s("name"),
                version: s("version"),
                app_version: s("app_version"),
                description: s("description"),
            }
        })
        .collect())
}

/// The library's search as `helm search repo` lines (`repo/key`), and which are deprecated.
pub fn our_search(
    snapshot: &Snapshot,
    repo: &str,
    query: &str,
    regexp: bool,
    devel: bool,
    versions: bool,
    include_deprecated: bool,
) -> TestResult<Vec<(Line, bool)>> {
    let hits = search(
        snapshot,
        &SearchOptions {
            query: (!query.is_empty()).then(|| query.to_string()),
            regexp,
            devel,
            versions,
            include_deprecated,
            version: None,
            repo: repo.to_string(),
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(hits
        .into_iter()
        .map(|h| {
            (
                Line {
                    name: format!("{repo}/{}", h.key),
                    version: h.version,
                    app_version: h.app_version,
                    description: h.description,
                },
                h.deprecated,
            )
        })
        .collect())
}

/// Helm orders versions of equal precedence of one chart at random (map order into an unstable
/// sort), and without `--versions` shows a random one of them: sort each run of such lines by
/// version string, on both sides, and [`same`] takes one for the other.
pub fn canonical(mut lines: Vec<Line>) -> Vec<Line> {
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() && tied(&lines[i], &lines[j]) {
            j += 1;
        }
        lines[i..j].sort_by(|a, b| a.version.cmp(&b.version));
        i = j;
    }
    lines
}

fn tied(a: &Line, b: &Line) -> bool {
    a.name == b.name
        && match (SemVer::parse(&a.version), SemVer::parse(&b.version)) {
            (Some(x), Some(y)) => x.cmp(&y).is_eq(),
            _ => false,
        }
}

/// Equal lists, a line of a tied version matching any of its ties.
pub fn same(a: &[Line], b: &[Line]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x == y
                || (tied(x, y) && x.app_version == y.app_version && x.description == y.description)
        })
}

/// Compares one search with Helm; `what` names it in errors.
pub fn compare_search(
    cli: &HelmCli,
    snapshot: &Snapshot,
    repo: &str,
    (query, regexp, devel, versions): (&str, bool, bool, bool),
) -> TestResult<usize> {
    let what = format!("search {query:?} regexp={regexp} devel={devel} versions={versions}");
    let theirs = canonical(helm_search(cli, query, regexp, devel, versions)?);
    let all = our_search(snapshot, repo, query, regexp, devel, versions, true)?;
    let mine = canonical(all.iter().map(|(l, _)| l.clone()).collect());
    if !same(&mine, &theirs) {
        let n = mine
            .iter()
            .zip(&theirs)
            .take_while(|(a, b)| same(&[(*a).clone()], &[(*b).clone()]))
            .count();
        return Err(format!(
            "{what}: {} hits from chartreg, {} from helm; first difference at {n}: chartreg {:?}, helm {:?}",
            mine.len(),
            theirs.len(),
            mine.get(n),
            theirs.get(n)
        ));
    }
    // Without deprecated charts: Helm's list minus the deprecated hits.
    let deprecated: HashSet<(String, String)> = all
        .iter()
        .filter(|(_, d)| *d)
        .map(|(l, _)| (l.name.clone(), l.version.clone()))
        .collect();
    let expected: Vec<Line> = theirs
        .iter()
        .filter(|l| !deprecated.contains(&(l.name.clone(), l.version.clone())))
        .cloned()
        .collect();
    let without = canonical(
        our_search(snapshot, repo, query, regexp, devel, versions, false)?
            .into_iter()
            .map(|(l, _)| l)
            .collect(),
    );
    ensure(same(&without, &expected), || {
        format!("{what}, include_deprecated = false: chartreg {without:?}\nexpected {expected:?}")
    })?;
    Ok(theirs.len())
}

fn search_fixture(tb: &Testbed) -> TestResult {
    let f = fixture(tb)?;
    let snapshot = f.helm_snapshot()?;
    let mut errors = Vec::new();
    for s in SEARCHES {
        for cli in [&f.home.helm4, &f.home.helm3] {
            if let Err(e) = compare_search(cli, &snapshot, REPO, *s) {
                errors.push(format!("{}: {e}", cli.bin.display()));
            }
        }
    }
    // An invalid regular expression fails both.
    let bad = helm_search(&f.home.helm4, "(", true, false, false);
    let ours = our_search(&snapshot, REPO, "(", true, false, false, true);
    if bad.is_ok() || ours.is_ok() {
        errors.push(format!("regexp \"(\": helm {bad:?}, chartreg {ours:?}"));
    }
    ensure(errors.is_empty(), || errors.join("\n"))
}

fn search_real(
    tb: &Testbed,
    which: &str,
    file: &str,
    queries: &[(&str, bool, bool, bool)],
) -> TestResult {
    let path = tb.shared_dir.join("data/indexes").join(file);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let url = format!("{}/{which}/index.yaml", tb.helm.realworld);
    let snapshot = index_snapshot(&bytes, &url)?;
    let home = tb.helm_home();
    run_cmd(home.helm4.command().args([
        "repo",
        "add",
        which,
        &format!("{}/{which}", tb.helm.realworld),
    ]))?;
    let mut errors = Vec::new();
    for q in queries {
        match compare_search(&home.helm4, &snapshot, which, *q) {
            Ok(n) => ensure(n > 0, || format!("{q:?}: helm found nothing"))?,
            Err(e) => errors.push(e),
        }
    }
    ensure(errors.is_empty(), || errors.join("\n"))
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    for oci in [false, true] {
        let kind = if oci { "resolve_oci" } else { "resolve_helm" };
        let tb = tb.clone();
        v.push(Trial::test(format!("helm_semantics::{kind}"), move || {
            let f = fixture(&tb)?;
            let h4 = compare_resolution(f, &f.home.helm4, Dialect::Helm4, oci)
                .map_err(|e| format!("helm 4: {e}"));
            let h3 = compare_resolution(f, &f.home.helm3, Dialect::Helm3, oci)
                .map_err(|e| format!("helm 3: {e}"));
            match (h4, h3) {
                (Ok(h4), Ok(h3)) => check_dialects_differ(&h3, &h4).map_err(Into::into),
                (a, b) => Err([a.err(), b.err()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into()),
            }
        }));
    }
    let t = tb.clone();
    v.push(Trial::test("helm_semantics::search_fixture", move || {
        search_fixture(&t).map_err(Into::into)
    }));
    let bitnami: &'static [(&str, bool, bool, bool)] = &[
        ("", false, true, true),
        ("", false, false, false),
        ("nginx", false, false, false),
        ("database", false, true, true),
        ("^redis", true, false, true),
    ];
    let rancher: &'static [(&str, bool, bool, bool)] = &[
        ("", false, true, true),
        ("", false, false, false),
        ("^rancher-", true, false, false),
        ("monitor", false, true, true),
        ("CIS", false, false, false),
    ];
    for (which, file, queries) in [
        ("bitnami", "bitnami-2022-06-16.yaml", bitnami),
        ("rancher", "rancher-dev-v2.9.yaml", rancher),
    ] {
        let t = tb.clone();
        v.push(Trial::test(
            format!("helm_semantics::search_{which}"),
            move || search_real(&t, which, file, queries).map_err(Into::into),
        ));
    }
    v
}
