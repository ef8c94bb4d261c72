//! `data_sources::helm_charts::*`: data source `chartreg_helm_charts` through real Terraform
//! (1.0 and 1.15), compared with the real `helm search repo` on the same repositories.
//!
//! - `fixture::*`: one apply on the fixture Helm repository of [`crate::helm_semantics`], one data
//!   source per query of [`SEARCHES`] (literal, `regexp`, `devel`, `versions`, repository name
//!   in the query): each list equals `helm search repo … -o json` (set and order) with
//!   `include_deprecated = true`, and Helm's list minus the deprecated hits without it; the
//!   second plan shows no changes and downloads nothing but the conditional index request.
//! - `real_{bitnami,rancher}`: `versions = true, devel = true` and no query equals `helm search
//!   repo <repo>/ --versions --devel` on the real indexes of `../shared/data/indexes/`.
//! - `oci`: the same charts in an OCI registry (pushed by `helm push`) give the same list as the
//!   Helm repository (what `helm search repo` gives for it).
//! - `sync_off`: a registry with `synchronization = false` is refused on `registry` at plan,
//!   saying that search needs synchronization.
//! - `invalid`: an invalid regular expression fails `validate` on `query`; a non-registry on
//!   `registry`.
//! - `example`: `examples/data-sources/chartreg_helm_charts/data-source.tf`.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::hcl::string as q;
use crate::harness::{
    self, ensure, run_cmd, scenarios, Body, Cases, HelmRepoServer, TestResult, Testbed,
};
use crate::harness::{Tf, TfCli};
pub use crate::helm_semantics::SEARCHES;
use crate::helm_semantics::{
    canonical, fixture, helm_search, same, Line, Search, OCI_NAMESPACE, REPO,
};

const DS: &str = "data.chartreg_helm_charts";

/// One data source per search, `include_deprecated = true` (`s<i>`) and for a few the default
/// (`d<i>`).
fn fixture_config(endpoint: &str) -> String {
    let mut cfg = format!(
        "resource \"chartreg_helm_registry\" \"fx\" {{\n  name     = \"{REPO}\"\n  endpoint = {}\n}}\n",
        q(endpoint)
    );
    for (i, (query, regexp, devel, versions)) in SEARCHES.iter().enumerate() {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("  query              = {}\n", q(query))
        };
        cfg.push_str(&format!(
            "data \"chartreg_helm_charts\" \"s{i}\" {{\n  registry           = chartreg_helm_registry.fx\n{query}  regexp             = {regexp}\n  devel              = {devel}\n  versions           = {versions}\n  include_deprecated = true\n}}\n"
        ));
        if i % 3 == 0 {
            cfg.push_str(&format!(
                "data \"chartreg_helm_charts\" \"d{i}\" {{\n  registry = chartreg_helm_registry.fx\n{query}  regexp   = {regexp}\n  devel    = {devel}\n  versions = {versions}\n}}\n"
            ));
        }
    }
    cfg
}

/// The `charts` list of data source `addr` as `helm search repo` lines (`repo/name`), with
/// `deprecated`.
fn lines(tf: &Tf, addr: &str, repo: &str) -> TestResult<Vec<(Line, bool)>> {
    let a = tf.resource_attrs(addr)?;
    let charts = a["charts"]
        .as_array()
        .ok_or_else(|| format!("{addr}.charts is not a list: {a}"))?;
    Ok(charts
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (
                Line {
                    name: format!("{repo}/{}", s("name")),
                    version: s("version"),
                    app_version: s("app_version"),
                    description: s("description"),
                },
                c["deprecated"] == true,
            )
        })
        .collect())
}

fn plain(v: Vec<(Line, bool)>) -> Vec<Line> {
    canonical(v.into_iter().map(|(l, _)| l).collect())
}

fn describe(a: &[Line], b: &[Line]) -> String {
    let n = a
        .iter()
        .zip(b)
        .take_while(|(x, y)| same(&[(*x).clone()], &[(*y).clone()]))
        .count();
    format!(
        "{} entries vs {}; first difference at {n}: {:?} vs {:?}",
        a.len(),
        b.len(),
        a.get(n),
        b.get(n)
    )
}

struct Applied {
    tf: Tf,
    /// A copy of the fixture repository for this Terraform version alone (its access log says
    /// what this workspace requested).
    repo: HelmRepoServer,
}

fn fixture_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Applied> {
    let f = fixture(tb)?;
    let repo = tb.try_spawn_helm_repo("helm-charts-ds", false, false)?;
    for e in std::fs::read_dir(&f.repo.dir).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        std::fs::copy(&p, repo.dir.join(p.file_name().unwrap())).map_err(|e| e.to_string())?;
    }
    let tf = Tf::new(tb, cli);
    tf.write(&fixture_config(&repo.url));
    tf.apply()?;
    Ok(Applied { tf, repo })
}

fn equals_helm_search(tb: &Testbed, a: &Applied) -> TestResult {
    let f = fixture(tb)?;
    let mut errors = Vec::new();
    for (i, (query, regexp, devel, versions)) in SEARCHES.iter().enumerate() {
        let theirs = canonical(helm_search(
            &f.home.helm4,
            query,
            *regexp,
            *devel,
            *versions,
        )?);
        let ours = lines(&a.tf, &format!("{DS}.s{i}"), REPO)?;
        let deprecated: Vec<(String, String)> = ours
            .iter()
            .filter(|(_, d)| *d)
            .map(|(l, _)| (l.name.clone(), l.version.clone()))
            .collect();
        let ours = plain(ours);
        if !same(&ours, &theirs) {
            errors.push(format!(
                "s{i} {query:?} regexp={regexp} devel={devel} versions={versions}: {}",
                describe(&ours, &theirs)
            ));
        }
        if i % 3 == 0 {
            let expected: Vec<Line> = theirs
                .iter()
                .filter(|l| !deprecated.contains(&(l.name.clone(), l.version.clone())))
                .cloned()
                .collect();
            let without = plain(lines(&a.tf, &format!("{DS}.d{i}"), REPO)?);
            if !same(&without, &expected) {
                errors.push(format!(
                    "d{i} {query:?} (include_deprecated = false): {}",
                    describe(&without, &expected)
                ));
            }
        }
    }
    ensure(errors.is_empty(), || errors.join("\n"))
}

fn outputs_of_a_hit(_tb: &Testbed, a: &Applied) -> TestResult {
    // s6: "WEB" with versions: every entry carries the chart's latest stable version and its own
    // keywords.
    let i = SEARCHES
        .iter()
        .position(|s| *s == ("WEB", false, false, true))
        .ok_or("no WEB search")?;
    let ds = a.tf.resource_attrs(&format!("{DS}.s{i}"))?;
    let web: Vec<&Value> = ds["charts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == "web")
        .collect();
    ensure(web.len() == 13, || format!("web entries: {web:?}"))?;
    for c in &web {
        ensure(c["latest_version"] == "3.0.0", || {
            format!("latest_version: {c}")
        })?;
    }
    let v3 = web
        .iter()
        .find(|c| c["version"] == "3.0.0")
        .ok_or("no 3.0.0")?;
    ensure(
        v3["keywords"] == serde_json::json!(["web", "ingress"])
            && v3["app_version"] == "3.0"
            && v3["deprecated"] == false,
        || format!("3.0.0: {v3}"),
    )?;
    // pre-only has no stable version: latest_version is null.
    let i = SEARCHES
        .iter()
        .position(|s| *s == ("pre", false, true, false))
        .ok_or("no pre search")?;
    let ds = a.tf.resource_attrs(&format!("{DS}.s{i}"))?;
    let pre = ds["charts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "pre-only")
        .ok_or_else(|| format!("no pre-only in {ds}"))?;
    ensure(
        pre["latest_version"].is_null() && pre["version"] == "0.2.0-beta.1",
        || format!("pre-only: {pre}"),
    )
}

fn second_plan_is_quiet(_tb: &Testbed, a: &Applied) -> TestResult {
    let before = a.repo.access_log_entries().len();
    a.tf.plan_is_empty()?;
    let after = a.repo.access_log_entries();
    let new: Vec<_> = after[before.min(after.len())..]
        .iter()
        .filter(|e| e.status != 304)
        .collect();
    ensure(new.is_empty(), || {
        format!("the second plan downloaded: {new:?}")
    })
}

fn fixture_cases(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "data_sources::helm_charts::fixture", fixture_setup)
        .case("equals_helm_search", equals_helm_search)
        .case("outputs_of_a_hit", outputs_of_a_hit)
        .case("second_plan_is_quiet", second_plan_is_quiet)
        .trials()
}

/// `versions = true, devel = true`, no query, on a real index, against `helm search repo
/// <repo>/ --versions --devel`.
fn real(tb: &Testbed, cli: &TfCli, which: &str) -> TestResult {
    let url = format!("{}/{which}", tb.helm.realworld);
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "resource \"chartreg_helm_registry\" \"r\" {{\n  name     = \"{which}\"\n  endpoint = {}\n}}\n\
         data \"chartreg_helm_charts\" \"all\" {{\n  registry           = chartreg_helm_registry.r\n  versions           = true\n  devel              = true\n  include_deprecated = true\n}}\n",
        q(&url)
    ));
    tf.apply()?;
    let home = tb.helm_home();
    run_cmd(home.helm4.command().args(["repo", "add", which, &url]))?;
    let theirs = canonical(helm_search(
        &home.helm4,
        &format!("{which}/"),
        false,
        true,
        true,
    )?);
    let ours = plain(lines(&tf, &format!("{DS}.all"), which)?);
    ensure(!theirs.is_empty(), || "helm found nothing".into())?;
    ensure(same(&ours, &theirs), || describe(&ours, &theirs))
}

/// The fixture's charts in the OCI registry: the same list as the Helm repository gives.
fn oci(tb: &Testbed, cli: &TfCli) -> TestResult {
    let f = fixture(tb)?;
    let tf = Tf::new(tb, cli);
    let mut cfg = format!(
        "resource \"chartreg_oci_registry\" \"r\" {{\n  name     = \"{REPO}\"\n  endpoint = \"http://{}/{OCI_NAMESPACE}\"\n}}\n",
        f.registry.host
    );
    let rows: Vec<(usize, &Search)> = SEARCHES
        .iter()
        .enumerate()
        .filter(|(_, s)| ["", "web", "ingress", "^web", "legacy"].contains(&s.0))
        .collect();
    for (i, (query, regexp, devel, versions)) in &rows {
        cfg.push_str(&format!(
            "data \"chartreg_helm_charts\" \"s{i}\" {{\n  registry           = chartreg_oci_registry.r\n  query              = {}\n  regexp             = {regexp}\n  devel              = {devel}\n  versions           = {versions}\n  include_deprecated = true\n}}\n",
            q(query)
        ));
    }
    tf.write(&cfg);
    tf.apply()?;
    let mut errors = Vec::new();
    for (i, (query, regexp, devel, versions)) in rows {
        // The Helm repository also serves mychart (every test repository is seeded with it).
        let theirs: Vec<Line> = helm_search(&f.home.helm4, query, *regexp, *devel, *versions)?
            .into_iter()
            .filter(|l| l.name != format!("{REPO}/mychart"))
            .collect();
        let theirs = canonical(theirs);
        let ours = plain(lines(&tf, &format!("{DS}.s{i}"), REPO)?);
        if !same(&ours, &theirs) {
            errors.push(format!("s{i} {query:?}: {}", describe(&ours, &theirs)));
        }
    }
    ensure(errors.is_empty(), || errors.join("\n"))
}

fn sync_off(tb: &Testbed, cli: &TfCli) -> TestResult {
    let f = fixture(tb)?;
    let tf = Tf::new(tb, cli);
    let registry = format!(
        "resource \"chartreg_helm_registry\" \"off\" {{\n  name            = \"off\"\n  endpoint        = {}\n  synchronization = false\n}}\n",
        q(&f.repo.url)
    );
    tf.write(&registry);
    tf.apply()?;
    tf.write(&format!(
        "{registry}data \"chartreg_helm_charts\" \"s\" {{\n  registry = chartreg_helm_registry.off\n  query    = \"web\"\n}}\n"
    ));
    let p = tf.plan_json(&[]).failed()?;
    let d = p.expect_error("Search Needs Synchronization", &format!("{DS}.s.registry"))?;
    ensure(d.detail_has("synchronization = true"), || format!("{d}"))?;
    p.expect_error_count(1)
}

fn invalid(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    tf.write(
        "resource \"chartreg_helm_registry\" \"x\" {\n  name     = \"x\"\n  endpoint = \"https://charts.example.com\"\n}\n\
         data \"chartreg_helm_charts\" \"re\" {\n  registry = chartreg_helm_registry.x\n  query    = \"web(\"\n  regexp   = true\n}\n\
         data \"chartreg_helm_charts\" \"str\" {\n  registry = \"https://charts.example.com\"\n}\n",
    );
    let v = tf.validate_json().failed()?;
    let d = v.expect_error("Invalid Search Pattern", &format!("{DS}.re.query"))?;
    ensure(d.detail_has("regexp"), || format!("{d}"))?;
    let p = tf.plan_json(&[]).failed()?;
    p.expect_error("Invalid Registry Reference", &format!("{DS}.str.registry"))?;
    Ok(())
}

/// The example, with the repository of the fixture.
fn example(tb: &Testbed, cli: &TfCli) -> TestResult {
    let f = fixture(tb)?;
    let dir = harness::repo_dir().join("examples/data-sources/chartreg_helm_charts");
    let text = std::fs::read_to_string(dir.join("data-source.tf"))
        .map_err(|e| format!("data-source.tf: {e}"))?;
    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_helm_repo_url", &f.repo.url);
    tf.write(&text);
    tf.apply()?;
    let out = tf.output("ingress_charts")?;
    ensure(
        out == serde_json::json!({"ingress-gw": "1.0.0", "web": "3.0.0"}),
        || format!("output ingress_charts = {out}"),
    )?;
    let all = tf.output("web_versions")?;
    ensure(
        all.as_array()
            .is_some_and(|a| a.first() == Some(&Value::from("4.0.0-alpha.1")) && a.len() == 17),
        || format!("output web_versions = {all}"),
    )?;
    tf.plan_is_empty()
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = fixture_cases(tb);
    let list: [(&str, Body); 6] = [
        ("real_bitnami", |tb, cli| real(tb, cli, "bitnami")),
        ("real_rancher", |tb, cli| real(tb, cli, "rancher")),
        ("oci", oci),
        ("sync_off", sync_off),
        ("invalid", invalid),
        ("example", example),
    ];
    v.extend(scenarios(tb, "data_sources::helm_charts", &list));
    v
}
