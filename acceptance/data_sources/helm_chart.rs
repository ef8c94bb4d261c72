//! `data_sources::helm_chart::*`: data source `chartreg_helm_chart` against a Helm repository and
//! an OCI registry holding the same charts, with the real `helm pull` / `helm show` as reference.
//!
//! - `synced::*`: synchronization on. The constraint table resolves as `helm pull --version`
//!   does (Helm repository and OCI); values, values_schema and Chart.yaml fields equal
//!   `helm show values` / `helm show chart`; `digest` is the sha256 of the archive `helm pull`
//!   fetches with the data source's own `repository`/`chart`/`version` (the `helm_release`
//!   wiring); a second plan downloads no archive and no index, and shows no changes.
//! - `sync_off::*`: synchronization off, registries stopped: the stored catalog answers, a
//!   version it lacks follows the standard layout with a warning, a constraint fails at plan on
//!   `version`.
//! - `not_a_registry::*`: a string, a map, a tuple, an object or a `terraform_data` given as
//!   `registry` fail at plan on `registry`.

use std::collections::BTreeMap;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::{
    helm_pull, pulled_version, registry_requests, sha256_file, spawn_registries, Registries,
    OCI_NAMESPACE, SCHEMED_SCHEMA, SCHEMED_VALUES,
};
use crate::harness::{
    ensure, fixtures::random_hex, run_cmd, Cases, TestResult, Testbed, Tf, TfCli, TfReport,
};

const DS: &str = "data.chartreg_helm_chart";

/// Keys of [`CONSTRAINTS`] that `helm pull` refuses on an OCI registry (a version with a `v`
/// is taken as the tag itself there): checked apart, as failures
/// (`synced::oci_v_prefix_fails_like_helm_pull`).
const OCI_FAILS: [&str; 1] = ["v_prefix"];

/// The constraint table: (key, `version` as written; empty = omitted).
pub const CONSTRAINTS: [(&str, &str); 18] = [
    ("exact", "1.2.3"),
    ("tilde_minor", "~1.2"),
    ("tilde_patch", "~1.2.0"),
    ("caret", "^1.0.0"),
    ("range_comma", ">=1.0.0, <2.0.0"),
    ("range_space", ">= 1.2.0 < 1.3.0"),
    ("x_minor", "1.x"),
    ("x_patch", "1.2.x"),
    ("star", "*"),
    ("pre_exact", "2.0.0-beta.1"),
    ("pre_range", ">=2.0.0-0"),
    ("pre_tilde", "~1.3.0-0"),
    ("build_exact", "2.1.0+build.5"),
    ("deprecated_exact", "0.9.0"),
    ("or", "1.0.0 || 1.2.3"),
    ("newest_pre", ">3.0.0-0"),
    ("v_prefix", "v1.0.0"),
    ("none", ""),
];

fn uniq(cli: &TfCli) -> String {
    format!("{}-{}", cli.label.replace('.', ""), random_hex(3))
}

/// The registries (synchronization `sync`), one `web` data source per constraint on each, and the
/// detail charts on each.
fn config(r: &Registries, cache: &std::path::Path, id: &str, sync: bool) -> String {
    let table = |skip: &[&str]| -> String {
        CONSTRAINTS
            .iter()
            .filter(|(k, _)| !skip.contains(k))
            .map(|(k, c)| format!("    {k} = {}\n", serde_json::to_string(c).unwrap()))
            .collect()
    };
    let (constraints, oci_constraints) = (table(&[]), table(&OCI_FAILS));
    format!(
        r#"provider "chartreg" {{
  cache_dir = {cache:?}
}}

resource "chartreg_helm_registry" "h" {{
  name            = "h-{id}"
  endpoint        = "{helm}"
  synchronization = {sync}
}}

resource "chartreg_oci_registry" "o" {{
  name            = "o-{id}"
  endpoint        = "http://{oci}/{OCI_NAMESPACE}"
  synchronization = {sync}
}}

locals {{
  constraints = {{
{constraints}  }}
  oci_constraints = {{
{oci_constraints}  }}
  regs = {{ h = chartreg_helm_registry.h, o = chartreg_oci_registry.o }}
}}

data "chartreg_helm_chart" "web_h" {{
  for_each = local.constraints
  registry = chartreg_helm_registry.h
  name     = "web"
  version  = each.value == "" ? null : each.value
}}

data "chartreg_helm_chart" "web_o" {{
  for_each = local.oci_constraints
  registry = chartreg_oci_registry.o
  name     = "web"
  version  = each.value == "" ? null : each.value
}}

data "chartreg_helm_chart" "schemed" {{
  for_each = local.regs
  registry = each.value
  name     = "schemed"
  version  = "0.3.0"
}}

data "chartreg_helm_chart" "umbrella" {{
  for_each = local.regs
  registry = each.value
  name     = "umbrella"
}}

output "web_h" {{
  value = {{ for k, d in data.chartreg_helm_chart.web_h : k => d.version }}
}}
output "web_o" {{
  value = {{ for k, d in data.chartreg_helm_chart.web_o : k => d.version }}
}}
"#,
        cache = cache.display().to_string(),
        helm = r.helm.url,
        oci = r.oci.host,
    )
}

/// `values` of data source `addr` from state, without the sensitive `registry`.
fn ds(tf: &Tf, addr: &str) -> TestResult<Value> {
    let mut a = tf.resource_attrs(addr)?;
    if let Some(o) = a.as_object_mut() {
        o.remove("registry");
    }
    Ok(a)
}

struct Synced {
    r: Registries,
    tf: Tf,
    /// A plan of `web` at version `v1.0.0` on the OCI registry (Helm refuses it there).
    v_prefix: TfReport,
    cache: std::path::PathBuf,
    /// What `helm pull --version <c>` picked, per constraint key: (Helm repository, OCI).
    pulled: BTreeMap<String, (String, String)>,
}

fn synced_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Synced> {
    let r = spawn_registries(tb, &format!("ds-{}", cli.label))?;
    let tf = Tf::new(tb, cli);
    let cache = tf.dir.join("cache");
    tf.write(&config(&r, &cache, &uniq(cli), true));
    tf.apply()?;
    let mut pulled = BTreeMap::new();
    let oci_repo = format!("oci://{}/{OCI_NAMESPACE}", r.oci.host);
    for (k, c) in CONSTRAINTS {
        let c = (!c.is_empty()).then_some(c);
        let pick = |repo: &str| -> String {
            match helm_pull(tb, repo, "web", c, r.oci.helm_flags()) {
                Ok(t) => pulled_version(&t, "web"),
                Err(e) => format!("(helm pull failed: {})", e.lines().last().unwrap_or("")),
            }
        };
        pulled.insert(k.to_string(), (pick(&r.helm.url), pick(&oci_repo)));
    }
    let v_prefix = {
        let ws = Tf::new(tb, cli);
        ws.write(&format!(
            "resource \"chartreg_oci_registry\" \"o\" {{\n  name     = \"v-{}\"\n  endpoint = \"http://{}/{OCI_NAMESPACE}\"\n}}\n\ndata \"chartreg_helm_chart\" \"v\" {{\n  registry = chartreg_oci_registry.o\n  name     = \"web\"\n  version  = \"v1.0.0\"\n}}\n",
            uniq(cli),
            r.oci.host
        ));
        // The registry is created, then the read (at apply: the registry was new) fails; the
        // plan after it reads at plan time.
        ws.apply_json(&[]).failed()?;
        ws.plan_json(&[])
    };
    Ok(Synced {
        r,
        tf,
        v_prefix,
        cache,
        pulled,
    })
}

fn compare_constraints(s: &Synced, output: &str, oci: bool) -> TestResult {
    let got = s.tf.output(output)?;
    let mut wrong = Vec::new();
    for (k, c) in CONSTRAINTS {
        if oci && OCI_FAILS.contains(&k) {
            continue;
        }
        let (h, o) = &s.pulled[k];
        let want = if oci { o } else { h };
        let have = got[k].as_str().unwrap_or("(null)");
        if have != want {
            wrong.push(format!("  {k} {c:?}: data source {have}, helm pull {want}"));
        }
    }
    ensure(wrong.is_empty(), || {
        format!("resolution differs from helm pull:\n{}", wrong.join("\n"))
    })
}

/// `helm show <what> <tgz>`.
fn helm_show(tb: &Testbed, what: &str, tgz: &std::path::Path) -> TestResult<String> {
    let o = run_cmd(tb.helm().args(["show", what]).arg(tgz))?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The details of `DS.<name>["<reg>"]` against `helm show` of the archive that `helm pull`
/// fetches with the data source's `repository`, `chart` and `version`.
fn compare_details(tb: &Testbed, s: &Synced, name: &str, reg: &str) -> TestResult {
    let a = ds(&s.tf, &format!("{DS}.{name}[\"{reg}\"]"))?;
    let str_of = |k: &str| a[k].as_str().unwrap_or_default().to_string();
    let tgz = helm_pull(
        tb,
        &str_of("repository"),
        &str_of("chart"),
        Some(&str_of("version")),
        s.r.oci.helm_flags(),
    )?;
    let mut wrong = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        if !ok {
            wrong.push(format!("  {what}: {detail}"));
        }
    };
    let sha = sha256_file(&tgz)?;
    check(
        "digest",
        a["digest"] == sha.as_str(),
        format!("{} vs pulled {sha}", a["digest"]),
    );
    // `helm show values` prints values.yaml followed by one newline (Go's Fprintln).
    let values = helm_show(tb, "values", &tgz)?;
    check(
        "values",
        a["values"].as_str().map(|v| format!("{v}\n")) == Some(values.clone()),
        format!("{:?} vs helm show values {values:?}", a["values"]),
    );
    let chart: Value = serde_norway::from_str(&helm_show(tb, "chart", &tgz)?)
        .map_err(|e| format!("helm show chart: {e}"))?;
    let null_or = |v: &Value| if v.is_null() { Value::Null } else { v.clone() };
    for (ours, theirs) in [
        ("description", "description"),
        ("app_version", "appVersion"),
        ("home", "home"),
        ("icon", "icon"),
        ("kube_version", "kubeVersion"),
    ] {
        check(
            ours,
            a[ours] == null_or(&chart[theirs]),
            format!("{} vs helm show chart {}", a[ours], chart[theirs]),
        );
    }
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    for (ours, theirs) in [("keywords", "keywords"), ("sources", "sources")] {
        check(
            ours,
            list(&a[ours]) == list(&chart[theirs]),
            format!("{} vs {}", a[ours], chart[theirs]),
        );
    }
    // Objects: every field helm shows, the others null.
    let objects = |ours: &Value, theirs: &Value, fields: &[&str]| -> bool {
        let (o, t) = (list(ours), list(theirs));
        o.len() == t.len()
            && o.iter().zip(&t).all(|(o, t)| {
                fields
                    .iter()
                    .all(|f| o[*f] == null_or(&t[*f]) || (t[*f].is_null() && o[*f] == ""))
            })
    };
    check(
        "maintainers",
        objects(
            &a["maintainers"],
            &chart["maintainers"],
            &["name", "email", "url"],
        ),
        format!("{} vs {}", a["maintainers"], chart["maintainers"]),
    );
    check(
        "dependencies",
        objects(
            &a["dependencies"],
            &chart["dependencies"],
            &["name", "version", "repository", "condition", "alias"],
        ),
        format!("{} vs {}", a["dependencies"], chart["dependencies"]),
    );
    let annotations = chart["annotations"].clone();
    check(
        "annotations",
        a["annotations"] == annotations
            || (annotations.is_null()
                && a["annotations"].as_object().is_some_and(|m| m.is_empty())),
        format!("{} vs {annotations}", a["annotations"]),
    );
    let deprecated = chart["deprecated"].as_bool().unwrap_or(false);
    check(
        "deprecated",
        a["deprecated"] == deprecated,
        format!("{}", a["deprecated"]),
    );
    let chart_type = chart["type"].as_str().unwrap_or("application");
    check(
        "type",
        a["type"] == chart_type,
        format!("{} vs {chart_type}", a["type"]),
    );
    if name == "schemed" {
        check(
            "values_schema",
            a["values_schema"] == SCHEMED_SCHEMA,
            format!("{}", a["values_schema"]),
        );
        check(
            "values (verbatim)",
            a["values"] == SCHEMED_VALUES,
            format!("{}", a["values"]),
        );
    } else {
        check(
            "values_schema",
            a["values_schema"].is_null(),
            format!("{} (the chart has none)", a["values_schema"]),
        );
    }
    if reg == "o" {
        check(
            "manifest_digest",
            a["manifest_digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:")),
            format!("{}", a["manifest_digest"]),
        );
    } else {
        check(
            "manifest_digest",
            a["manifest_digest"].is_null(),
            format!("{}", a["manifest_digest"]),
        );
    }
    ensure(wrong.is_empty(), || {
        format!("{name} on {reg}: differs from helm:\n{}", wrong.join("\n"))
    })
}

/// Archive downloads in the registries' logs: (Helm repository `.tgz` GETs, OCI blob GETs).
fn downloads(r: &Registries) -> (usize, usize, usize) {
    let entries = r.helm.access_log_entries();
    let tgz = entries
        .iter()
        .filter(|e| e.path.ends_with(".tgz") && e.status == 200)
        .count();
    let index = entries
        .iter()
        .filter(|e| e.path.starts_with("/index.yaml") && e.status == 200)
        .count();
    let blobs = registry_requests(&r.oci)
        .iter()
        .filter(|(m, p)| m == "GET" && p.contains("/blobs/"))
        .count();
    (tgz, index, blobs)
}

fn synced(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "data_sources::helm_chart::synced", synced_setup)
        .case("constraints_helm_repo", |_, s| {
            compare_constraints(s, "web_h", false)
        })
        .case("constraints_oci", |_, s| {
            compare_constraints(s, "web_o", true)
        })
        .case("oci_v_prefix_fails_like_helm_pull", |_, s| {
            let (_, helm) = &s.pulled["v_prefix"];
            ensure(helm.starts_with("(helm pull failed"), || {
                format!("helm pull of v1.0.0 on OCI gave {helm}")
            })?;
            let p = &s.v_prefix;
            let e = p.expect_error("Chart Version Not Found", &format!("{DS}.v.version"))?;
            ensure(e.detail_has("closest available: 1.0.0"), || format!("{e}"))
        })
        .case("details_helm_repo_schema", |tb, s| {
            compare_details(tb, s, "schemed", "h")
        })
        .case("details_oci_schema", |tb, s| {
            compare_details(tb, s, "schemed", "o")
        })
        .case("details_helm_repo_dependencies", |tb, s| {
            compare_details(tb, s, "umbrella", "h")
        })
        .case("details_oci_dependencies", |tb, s| {
            compare_details(tb, s, "umbrella", "o")
        })
        .case("helm_release_wiring", |_, s| {
            // repository/chart/version as helm_release takes them: the values the issue names.
            let h = ds(&s.tf, &format!("{DS}.schemed[\"h\"]"))?;
            let o = ds(&s.tf, &format!("{DS}.schemed[\"o\"]"))?;
            ensure(
                h["repository"] == s.r.helm.url.as_str()
                    && h["chart"] == "schemed"
                    && o["repository"] == format!("oci://{}/{OCI_NAMESPACE}", s.r.oci.host)
                    && o["chart"] == "schemed"
                    && h["version"] == "0.3.0"
                    && o["version"] == "0.3.0",
                || format!("helm_release inputs: {h}\n{o}"),
            )?;
            let b = ds(&s.tf, &format!("{DS}.web_o[\"build_exact\"]"))?;
            ensure(b["version"] == "2.1.0+build.5", || {
                format!("OCI versions keep '+': {}", b["version"])
            })
        })
        .case("versions_listed_newest_first", |_, s| {
            let h = ds(&s.tf, &format!("{DS}.web_h[\"none\"]"))?;
            let o = ds(&s.tf, &format!("{DS}.web_o[\"none\"]"))?;
            let want: Vec<&str> = {
                let mut v = super::WEB_VERSIONS.to_vec();
                v.reverse();
                v
            };
            ensure(h["versions"] == serde_json::json!(want), || {
                format!("Helm versions: {}", h["versions"])
            })?;
            ensure(o["versions"] == serde_json::json!(want), || {
                format!("OCI versions: {}", o["versions"])
            })
        })
        .case("second_plan_downloads_nothing", |_, s| {
            let before = downloads(&s.r);
            let cached = std::fs::read_dir(&s.cache).map(|d| d.count()).unwrap_or(0);
            ensure(cached > 0, || {
                format!("nothing cached under {}", s.cache.display())
            })?;
            s.tf.plan_is_empty()?;
            let after = downloads(&s.r);
            ensure(before == after, || {
                format!("a second plan downloaded (tgz, index, blobs) {before:?} -> {after:?}")
            })
        })
        .trials()
}

// ------------------------------------------------------------------ synchronization off

struct Off {
    r: Registries,
    tf: Tf,
    /// A workspace whose plan asks a constraint of a registry with synchronization off.
    constraint: Tf,
}

fn off_config(r: &Registries, id: &str, charts: &str) -> String {
    format!(
        r#"resource "chartreg_helm_registry" "h" {{
  name            = "h-{id}"
  endpoint        = "{helm}"
  synchronization = false
}}

resource "chartreg_oci_registry" "o" {{
  name            = "o-{id}"
  endpoint        = "http://{oci}/{OCI_NAMESPACE}"
  synchronization = false
}}

locals {{
  regs = {{ h = chartreg_helm_registry.h, o = chartreg_oci_registry.o }}
}}
{charts}"#,
        helm = r.helm.url,
        oci = r.oci.host,
    )
}

const OFF_CHARTS: &str = r#"
data "chartreg_helm_chart" "stored" {
  for_each = local.regs
  registry = each.value
  name     = "web"
  version  = "1.2.3"
}

data "chartreg_helm_chart" "unstored" {
  for_each = local.regs
  registry = each.value
  name     = "web"
  version  = "9.9.9"
}
"#;

const CONSTRAINT_CHART: &str = r#"
data "chartreg_helm_chart" "c" {
  registry = chartreg_helm_registry.h
  name     = "web"
  version  = "~1.2"
}
"#;

fn off_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Off> {
    let r = spawn_registries(tb, &format!("dsoff-{}", cli.label))?;
    let tf = Tf::new(tb, cli);
    tf.write(&off_config(&r, &uniq(cli), OFF_CHARTS));
    tf.apply()?;
    let constraint = Tf::new(tb, cli);
    constraint.write(&off_config(&r, &uniq(cli), CONSTRAINT_CHART));
    // The registries are created; the data source (read at apply: they were new) fails.
    constraint.apply_json(&[]).failed()?;
    r.helm.stop();
    r.oci.stop();
    Ok(Off { r, tf, constraint })
}

fn sync_off(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "data_sources::helm_chart::sync_off", off_setup)
        .case("stored_catalog_answers_registry_stopped", |_, o| {
            let p = o.tf.plan_json(&["-detailed-exitcode"]);
            ensure(p.code == 0 && p.errors().is_empty(), || {
                format!("plan with the registries stopped:\n{}", p.output)
            })?;
            let h = ds(&o.tf, &format!("{DS}.stored[\"h\"]"))?;
            let oc = ds(&o.tf, &format!("{DS}.stored[\"o\"]"))?;
            let tgz = o.r.helm.dir.join("web-1.2.3.tgz");
            let sha = sha256_file(&tgz)?;
            ensure(
                h["version"] == "1.2.3"
                    && h["repository"] == o.r.helm.url.as_str()
                    && h["chart"] == "web"
                    && h["url"] == format!("{}/web-1.2.3.tgz", o.r.helm.url)
                    && h["digest"] == sha.as_str()
                    && h["values"].is_null()
                    && h["description"].is_null(),
                || format!("Helm repository, sync off: {h}"),
            )?;
            ensure(
                oc["repository"] == format!("oci://{}/{OCI_NAMESPACE}", o.r.oci.host)
                    && oc["chart"] == "web"
                    && oc["digest"] == sha.as_str()
                    && oc["values"].is_null(),
                || format!("OCI registry, sync off: {oc}"),
            )
        })
        .case("unstored_version_standard_layout_warns", |_, o| {
            let p = o.tf.plan_json(&[]).ok()?;
            for reg in ["h", "o"] {
                let w = p.expect_warning(
                    "Chart Version Not In Stored Catalog",
                    &format!("{DS}.unstored[\"{reg}\"].version"),
                )?;
                ensure(w.detail_has("standard layout"), || format!("{w}"))?;
            }
            let h = ds(&o.tf, &format!("{DS}.unstored[\"h\"]"))?;
            let oc = ds(&o.tf, &format!("{DS}.unstored[\"o\"]"))?;
            ensure(
                h["url"] == format!("{}/web-9.9.9.tgz", o.r.helm.url)
                    && h["digest"].is_null()
                    && oc["url"] == format!("oci://{}/{OCI_NAMESPACE}/web:9.9.9", o.r.oci.host)
                    && oc["repository"] == format!("oci://{}/{OCI_NAMESPACE}", o.r.oci.host),
                || format!("standard layout: {h}\n{oc}"),
            )
        })
        .case("constraint_fails_at_plan_on_version", |_, o| {
            let p = o.constraint.plan_json(&[]).failed()?;
            let e = p.expect_error(
                "Chart Version Constraint Needs Synchronization",
                &format!("{DS}.c.version"),
            )?;
            ensure(e.detail_has("synchronization = true"), || format!("{e}"))?;
            p.expect_error_count(1)
        })
        .trials()
}

// ------------------------------------------------------------------ not a registry

fn not_a_registry(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "data_sources::helm_chart::not_a_registry", |tb, cli| {
        let tf = Tf::new(tb, cli);
        let td = if cli.at_least(1, 4) {
            "resource \"terraform_data\" \"td\" {\n  input = \"x\"\n}\ndata \"chartreg_helm_chart\" \"td\" {\n  registry = terraform_data.td\n  name     = \"web\"\n}\n"
        } else {
            ""
        };
        tf.write(&format!(
            r#"data "chartreg_helm_chart" "string" {{
  registry = "https://charts.example.com"
  name     = "web"
}}
data "chartreg_helm_chart" "map" {{
  registry = tomap({{ a = "b" }})
  name     = "web"
}}
data "chartreg_helm_chart" "object" {{
  registry = {{ name = "r", endpoint = "https://charts.example.com" }}
  name     = "web"
}}
data "chartreg_helm_chart" "tuple" {{
  registry = [{{ name = "r" }}]
  name     = "web"
}}
{td}"#
        ));
        Ok((tf.plan_json(&[]).failed()?, !td.is_empty()))
    })
    .case("each_on_registry", |_, (p, td)| {
        let mut names = vec![("string", "a string"), ("map", "a map"), ("object", "an object with attributes"), ("tuple", "a tuple")];
        if *td {
            names.push(("td", "terraform_data"));
        }
        for (n, says) in &names {
            let e = p.expect_error("Invalid Registry Reference", &format!("{DS}.{n}.registry"))?;
            ensure(e.detail_has(says), || format!("{n}: {e}"))?;
        }
        p.expect_error_count(names.len())
    })
    .trials()
}

// ------------------------------------------------------------------ archive faults, fan-out

/// A workspace registering both registries (synchronization on) under `provider`, applied, then
/// given `charts` (data sources read at plan from then on).
fn registered(
    tb: &Testbed,
    cli: &TfCli,
    r: &Registries,
    provider: &str,
    charts: &str,
) -> TestResult<Tf> {
    let tf = Tf::new(tb, cli);
    let id = uniq(cli);
    let regs = format!(
        r#"{provider}
resource "chartreg_helm_registry" "h" {{
  name     = "h-{id}"
  endpoint = "{helm}"
}}

resource "chartreg_oci_registry" "o" {{
  name     = "o-{id}"
  endpoint = "http://{oci}/{OCI_NAMESPACE}"
}}
"#,
        helm = r.helm.url,
        oci = r.oci.host,
    );
    tf.write(&regs);
    tf.apply()?;
    tf.write(&format!("{regs}\n{charts}"));
    Ok(tf)
}

/// Files under any `charts/` directory of a cache (where archives are cached).
fn cached_archives(cache: &std::path::Path) -> Vec<String> {
    fn walk(d: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.parent().and_then(|p| p.file_name()) == Some("charts".as_ref()) {
                out.push(p.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(cache, &mut out);
    out
}

struct Faults {
    corrupt: (TfReport, std::path::PathBuf),
    over_cap: (TfReport, std::path::PathBuf),
    _r: Registries,
}

/// The blob file of `digest` (hex) in a docker-registry's filesystem storage.
fn blob_file(r: &Registries, digest: &str) -> std::path::PathBuf {
    r.oci
        .data_dir
        .join("docker/registry/v2/blobs/sha256")
        .join(&digest[..2])
        .join(digest)
        .join("data")
}

fn faults_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Faults> {
    let r = spawn_registries(tb, &format!("dsfault-{}", cli.label))?;
    let both = |version: &str| {
        format!(
            r#"data "chartreg_helm_chart" "h" {{
  registry = chartreg_helm_registry.h
  name     = "web"
  version  = "{version}"
}}

data "chartreg_helm_chart" "o" {{
  registry = chartreg_oci_registry.o
  name     = "web"
  version  = "{version}"
}}
"#
        )
    };
    // Corrupted on the server after it was indexed / pushed: another archive's bytes.
    let corrupt_dir = tb.scratch_dir("ds-cache");
    let tf = registered(
        tb,
        cli,
        &r,
        &format!(
            "provider \"chartreg\" {{\n  cache_dir = {:?}\n}}\n",
            corrupt_dir.display().to_string()
        ),
        &both("1.2.3"),
    )?;
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let (good, other) = (read(&r.charts.web[2])?, read(&r.charts.web[1])?);
    std::fs::write(r.helm.dir.join("web-1.2.3.tgz"), &other).map_err(|e| e.to_string())?;
    let blob = blob_file(&r, &super::sha256_bytes(&good));
    ensure(blob.is_file(), || format!("no blob {}", blob.display()))?;
    std::fs::write(&blob, &other).map_err(|e| e.to_string())?;
    let corrupt = (tf.plan_json(&[]), corrupt_dir);
    // Over max_chart_size: `big` is ~40 KiB of incompressible data.
    let cap_dir = tb.scratch_dir("ds-cache");
    let tf = registered(
        tb,
        cli,
        &r,
        &format!(
            "provider \"chartreg\" {{\n  cache_dir      = {:?}\n  max_chart_size = 4096\n}}\n",
            cap_dir.display().to_string()
        ),
        &both("1.2.3")
            .replace("\"web\"", "\"big\"")
            .replace("1.2.3", "0.1.0"),
    )?;
    let over_cap = (tf.plan_json(&[]), cap_dir);
    Ok(Faults {
        corrupt,
        over_cap,
        _r: r,
    })
}

fn faults(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "data_sources::helm_chart::archive_faults", faults_setup)
        .case("corrupted_on_server_digest_mismatch", |_, f| {
            let (p, cache) = &f.corrupt;
            for ds in ["h", "o"] {
                let e = p.expect_error(
                    "Chart Archive Digest Mismatch",
                    &format!("{DS}.{ds}.version"),
                )?;
                ensure(e.detail_has("nothing was cached"), || format!("{e}"))?;
            }
            p.expect_error_count(2)?;
            let cached = cached_archives(cache);
            ensure(cached.is_empty(), || {
                format!("cached after a digest mismatch: {cached:?}")
            })
        })
        .case("over_max_chart_size", |_, f| {
            let (p, cache) = &f.over_cap;
            for ds in ["h", "o"] {
                let e = p.expect_error("Chart Archive Too Large", &format!("{DS}.{ds}.version"))?;
                ensure(e.detail_has("max_chart_size"), || format!("{e}"))?;
            }
            p.expect_error_count(2)?;
            let cached = cached_archives(cache);
            ensure(cached.is_empty(), || {
                format!("cached over the cap: {cached:?}")
            })
        })
        .trials()
}

/// 20 data sources on each registry in one plan, over 3 versions.
fn fan_out(tb: &Testbed, cli: &TfCli) -> TestResult {
    let r = spawn_registries(tb, &format!("dsfan-{}", cli.label))?;
    let versions = ["1.0.0", "1.2.3", "2.0.0"];
    let mut charts = String::new();
    for i in 0..20 {
        for (reg, res) in [
            ("h", "chartreg_helm_registry.h"),
            ("o", "chartreg_oci_registry.o"),
        ] {
            charts.push_str(&format!(
                "data \"chartreg_helm_chart\" \"{reg}{i}\" {{\n  registry = {res}\n  name     = \"web\"\n  version  = \"{}\"\n}}\n",
                versions[i % versions.len()]
            ));
        }
    }
    let cache = tb.scratch_dir("ds-cache");
    let tf = registered(
        tb,
        cli,
        &r,
        &format!(
            "provider \"chartreg\" {{\n  cache_dir = {:?}\n}}\n",
            cache.display().to_string()
        ),
        &charts,
    )?;
    let before = downloads(&r);
    let p = tf.plan_json(&[]).ok()?;
    ensure(p.errors().is_empty(), || format!("{}", p.output))?;
    let after = downloads(&r);
    let (tgz, index, blobs) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    ensure(tgz == 3 && index == 0 && blobs == 3, || {
        format!("one plan of 20 data sources per registry over 3 versions downloaded {tgz} Helm archive(s) (want 3), {index} index(es) (want 0), {blobs} OCI blob(s) (want 3)")
    })
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(faults(tb));
    v.extend(crate::harness::both_tf(
        tb,
        "data_sources::helm_chart::twenty_data_sources_one_download_per_version",
        fan_out,
    ));
    v.extend(synced(tb));
    v.extend(sync_off(tb));
    v.extend(not_a_registry(tb));
    v
}
