//! Acceptance tests of resource `chartreg_oci_registry`: real Terraform (1.0 and 1.15) against the
//! shared registries (plain, basic + TLS, bearer token) and dedicated `docker-registry`s holding
//! charts pushed with the real `helm push`, plain images and bulk fixtures. Every case runs as
//! `::tf1.0` and `::tf1.15`.
//!
//! - `auth_flavours::*` ([`auth_flavours`]): the three auth flavours list charts exactly as
//!   `helm show chart` reports them (a case per flavour); token requests are pull-only; no token
//!   or password in state (outside the sensitive `password`), plan, apply or `show` output.
//! - `layout::*` (here): exact repositories, prefixes (plain images ignored), endpoint paths, 250
//!   repositories / 250 tags listed completely, the whole registry; `import_round_trip`.
//! - `sync::*`, `registry_down::*` ([`sync`]): a pushed version is seen at refresh with
//!   synchronization on, not with it off; `sync_trigger` downloads again, and fails (keeping the
//!   state) while the registry is down; with the registry stopped sync off stays quiet, sync on
//!   warns and keeps the catalog, plans without refresh work from state.
//! - `apply_errors::*`, `plan_errors::*` ([`errors`]): each failure on the attribute at fault,
//!   nothing else, nothing in state; plan-time checks make no request.
//! - `access_edges::*` ([`edges`]): anonymous access to the basic and token registries,
//!   `insecure_skip_tls_verify`, an endpoint that is a repository, a base path that is only part
//!   of a repository name, one token per repository scope.
//! - `refresh_reads_only_what_changed` ([`reuse`]): the catalog reuse rules, counted in the
//!   registry's access log (nothing changed, a version added, a version deleted, import with the
//!   disk cache).
//! - `example` (here): `examples/resources/chartreg_oci_registry/{resource.tf,import.sh}`.
//! - `ecr::*` ([`ecr`]): Amazon ECR against moto (static keys, AssumeRole into a second
//!   account, the default chain, blob redirects, failures, plan-time checks, `ecr.tf`).

mod auth_flavours;
mod ecr;
mod edges;
mod errors;
mod reuse;
mod sync;

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::{
    self, ensure, fixtures::random_hex, Body, Cases, RegistryAuth, RegistryServer, TestResult,
    Testbed, Tf, TfCli,
};

pub(super) const RT: &str = "chartreg_oci_registry";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(auth_flavours::auth_flavours(tb));
    v.extend(layout(tb));
    v.extend(sync::registry_down(tb));
    v.extend(errors::apply_errors(tb));
    v.extend(errors::plan_errors(tb));
    v.extend(edges::access_edges(tb));
    let list: [(&str, Body); 7] = [
        ("import_round_trip", import_round_trip),
        ("sync::on_sees_new_version", sync::on_sees_new_version),
        ("sync::off_keeps_catalog", sync::off_keeps_catalog),
        (
            "sync::trigger_while_down_fails",
            sync::trigger_while_down_fails,
        ),
        (
            "sync::trigger_downloads_again",
            sync::trigger_downloads_again,
        ),
        ("example", example),
        (
            "refresh_reads_only_what_changed",
            reuse::refresh_reads_only_what_changed,
        ),
    ];
    v.extend(harness::scenarios(tb, "oci_registry", &list));
    v.extend(ecr::tests(tb));
    v
}

// ------------------------------------------------------------------ helpers

pub(super) fn addr(name: &str) -> String {
    format!("{RT}.{name}")
}

/// Where a diagnostic about `attr` of resource `name` is placed (empty: the resource itself).
pub(super) fn at(name: &str, attr: &str) -> String {
    if attr.is_empty() {
        addr(name)
    } else {
        format!("{RT}.{name}.{attr}")
    }
}

/// A name unique to this trial (both Terraform versions run in parallel against shared servers).
pub(super) fn unique(cli: &TfCli, what: &str) -> String {
    format!(
        "acc-{what}-{}-{}",
        cli.label.replace('.', ""),
        random_hex(3)
    )
}

/// Sorted keys of the `charts` map of a resource's attributes.
pub(super) fn chart_keys(a: &Value) -> Vec<String> {
    let mut k: Vec<String> = a["charts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Every version of chart `key`, newest first, from `catalog_snapshot`.
pub(super) fn versions(a: &Value, key: &str) -> Vec<String> {
    crate::chart_state::snapshot_versions(a, key)
}

pub(super) fn count(a: &Value, field: &str) -> i64 {
    a[field].as_i64().unwrap_or(-1)
}

/// `helm show chart <oci_url> --version V` parsed.
/// `helm push TGZ oci://<shared registry with that auth>/NAMESPACE` from a private Helm home.
pub(super) fn helm_push(
    tb: &Testbed,
    home: &harness::HelmHome,
    auth: RegistryAuth,
    tgz: &Path,
    namespace: &str,
) -> TestResult {
    let mut cmd = home.helm();
    cmd.arg("push")
        .arg(tgz)
        .arg(format!("oci://{}/{namespace}", tb.oci.host(auth)))
        .args(harness::servers::registry_flags(tb, auth));
    harness::run_cmd(&mut cmd).map(drop)
}

/// Size of a log file (to read what is appended after).
pub(super) fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// What a file holds after byte `offset`.
pub(super) fn read_from(p: &Path, offset: u64) -> String {
    let b = std::fs::read(p).unwrap_or_default();
    String::from_utf8_lossy(&b[(offset as usize).min(b.len())..]).into_owned()
}

pub(super) const PASSWORD_VAR: &str = r#"variable "registry_password" {
  type      = string
  sensitive = true
}
"#;

// ------------------------------------------------------------------ layout

struct Layout {
    tf: Tf,
    bulk: Vec<String>,
    _reg: RegistryServer,
}

/// `resource "chartreg_oci_registry" NAME { name = NAME, endpoint = …, base_content_paths = … }`
pub(super) fn res(name: &str, endpoint: &str, paths: Option<&str>) -> String {
    format!(
        "resource {RT:?} \"{name}\" {{\n  name     = \"{name}\"\n  endpoint = \"{endpoint}\"\n{}}}\n",
        paths
            .map(|p| format!("  base_content_paths = {p}\n"))
            .unwrap_or_default()
    )
}

/// A registry with the fixture charts pushed by Helm under `charts/`, a plain image in that
/// prefix and one with a semver tag inside a chart repository, 250 bulk chart repositories and a
/// repository with 250 tags; seven registrations of it, applied.
fn layout_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Layout> {
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    for tgz in tb.charts.all() {
        reg.push(tgz, "charts")?;
    }
    reg.push_image("charts/image", "1.0.0")?;
    reg.push_image("charts/mychart", "9.9.9")?;
    reg.push_image("images/app", "1.0.0")?;
    let bulk = reg.bulk_repos("bulk", 250)?;
    reg.bulk_tags("many/tags", 250)?;
    let plain = format!("http://{}", reg.host);
    let pathed = format!("http://{}/charts", reg.host);
    let tf = Tf::new(tb, cli);
    tf.write(
        &[
            res("exact", &plain, Some(r#"["charts/mychart"]"#)),
            res("prefix", &plain, Some(r#"["charts"]"#)),
            res("pathed", &pathed, None),
            res("pathed-exact", &pathed, Some(r#"["mychart"]"#)),
            res("bulk", &plain, Some(r#"["bulk"]"#)),
            res("tags", &plain, Some(r#"["many/tags"]"#)),
            res("whole", &plain, None),
        ]
        .concat(),
    );
    tf.apply()?;
    Ok(Layout {
        tf,
        bulk,
        _reg: reg,
    })
}

/// The attributes of registration `name`, and a short form for messages.
fn layout_attrs(l: &Layout, name: &str) -> TestResult<(Value, String)> {
    let a = l.tf.resource_attrs(&addr(name))?;
    let mut short = a.clone();
    if a["charts"].as_object().map_or(0, |m| m.len()) > 5 {
        short["charts"] = Value::String("(…)".into());
    }
    Ok((a, short.to_string()))
}

fn layout(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "oci_registry::layout", layout_setup)
        .case("second_plan_empty", |_, l| l.tf.plan_is_empty())
        .case("exact_repository", |_, l| {
            let (a, show) = layout_attrs(l, "exact")?;
            let c = &a["charts"]["charts/mychart"];
            ensure(
                chart_keys(&a) == ["charts/mychart"]
                    && versions(&a, "charts/mychart") == ["0.2.0", "0.1.0"]
                    && c["latest_version"] == "0.2.0"
                    && c["app_version"] == "1.1.0"
                    && c["description"] == "Test chart mychart 0.2.0"
                    && count(&a, "chart_count") == 1
                    && count(&a, "version_count") == 2,
                || format!("exact repository: {show}"),
            )
        })
        .case("prefix_ignores_plain_images", |_, l| {
            let (a, show) = layout_attrs(l, "prefix")?;
            ensure(
                chart_keys(&a) == ["charts/mychart", "charts/other"]
                    && versions(&a, "charts/other") == ["1.0.0"]
                    && versions(&a, "charts/mychart") == ["0.2.0", "0.1.0"]
                    && count(&a, "chart_count") == 2
                    && count(&a, "version_count") == 3,
                || format!("prefix (plain images must be ignored): {show}"),
            )
        })
        .case("endpoint_with_path", |_, l| {
            let (a, show) = layout_attrs(l, "pathed")?;
            ensure(
                chart_keys(&a) == ["mychart", "other"]
                    && a["charts"]["mychart"]["name"] == "mychart"
                    && versions(&a, "mychart") == ["0.2.0", "0.1.0"]
                    && count(&a, "chart_count") == 2
                    && count(&a, "version_count") == 3,
                || format!("endpoint with a path: {show}"),
            )
        })
        .case("endpoint_with_path_exact", |_, l| {
            let (a, show) = layout_attrs(l, "pathed-exact")?;
            ensure(
                chart_keys(&a) == ["mychart"] && count(&a, "version_count") == 2,
                || format!("endpoint with a path + exact base path: {show}"),
            )
        })
        .case("250_repositories", |_, l| {
            let (a, show) = layout_attrs(l, "bulk")?;
            let keys = chart_keys(&a);
            ensure(
                keys == l.bulk
                    && count(&a, "chart_count") == 250
                    && count(&a, "version_count") == 250
                    && a["charts"]["bulk/chart-249"]["name"] == "chart-249"
                    && versions(&a, "bulk/chart-000") == ["1.0.0"],
                || {
                    let (first, last) = (keys.first(), keys.last());
                    format!(
                        "250 repositories: {} keys, first {first:?}, last {last:?}; {show}",
                        keys.len()
                    )
                },
            )
        })
        .case("250_tags", |_, l| {
            let (a, show) = layout_attrs(l, "tags")?;
            let v = versions(&a, "many/tags");
            let want: Vec<String> = (0..250).rev().map(|i| format!("1.0.{i}")).collect();
            ensure(
                v == want
                    && a["charts"]["many/tags"]["latest_version"] == "1.0.249"
                    && count(&a, "chart_count") == 1
                    && count(&a, "version_count") == 250,
                || {
                    let (first, last) = (v.first(), v.last());
                    format!(
                        "250 tags: {} versions, first {first:?}, last {last:?}; {show}",
                        v.len()
                    )
                },
            )
        })
        .case("whole_registry", |_, l| {
            let (a, show) = layout_attrs(l, "whole")?;
            let keys = chart_keys(&a);
            ensure(
                count(&a, "chart_count") == 253
                    && count(&a, "version_count") == 503
                    && keys.len() == 253
                    && !keys
                        .iter()
                        .any(|k| k.starts_with("images/") || k == "charts/image"),
                || {
                    let some = &keys[..keys.len().min(4)];
                    format!("whole registry: {} keys ({some:?}…); {show}", keys.len())
                },
            )
        })
        .trials()
}

/// Import round trip of an endpoint with a path and two base paths (`NAME=ENDPOINT,PATH,PATH`).
fn import_round_trip(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    for tgz in tb.charts.all() {
        reg.push(tgz, "charts")?;
    }
    let tf = Tf::new(tb, cli);
    let endpoint = format!("http://{}/charts", reg.host);
    let cfg = res("r", &endpoint, Some(r#"["mychart", "other"]"#));
    let id = format!("r={endpoint},mychart,other");
    harness::lifecycle(&tf, &cfg, &addr("r"), &id, &["last_synced"])?;
    tf.expect_empty_state()
}

// ------------------------------------------------------------------ example

/// Shell words of one line (plain words and single-quoted strings, as import.sh uses).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

/// `examples/resources/chartreg_oci_registry/resource.tf` against a dedicated plain registry with
/// charts under `library/` and `team-a/charts/`; second plan empty; the import command of
/// `import.sh` (endpoint replaced); destroy.
fn example(tb: &Testbed, cli: &TfCli) -> TestResult {
    let dir = harness::repo_dir().join("examples/resources/chartreg_oci_registry");
    let resource_tf = std::fs::read_to_string(dir.join("resource.tf"))
        .map_err(|e| format!("resource.tf: {e}"))?;
    let import_sh =
        std::fs::read_to_string(dir.join("import.sh")).map_err(|e| format!("import.sh: {e}"))?;

    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    reg.push(&tb.charts.mychart_010, "library")?;
    reg.push(&tb.charts.mychart_020, "library")?;
    reg.push(&tb.charts.other_100, "team-a/charts")?;
    let endpoint = format!("http://{}", reg.host);

    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_oci_endpoint", &endpoint);
    tf.write(&resource_tf);
    tf.apply()?;
    let out = tf.output("public_charts")?;
    ensure(
        out == serde_json::json!({"library/mychart": "0.2.0", "team-a/charts/other": "1.0.0"}),
        || format!("output public_charts = {out}"),
    )?;
    let harbor = tf.resource_attrs("chartreg_oci_registry.harbor")?;
    ensure(
        chart_keys(&harbor) == ["library/mychart"]
            && versions(&harbor, "library/mychart") == ["0.2.0", "0.1.0"]
            && harbor["synchronization"] == false
            && harbor["username"].is_null()
            && harbor["password"].is_null(),
        || format!("harbor: {harbor}"),
    )?;
    tf.plan_is_empty()?;

    // the import command of import.sh, with the example endpoint replaced
    let line = import_sh
        .lines()
        .find(|l| l.trim_start().starts_with("terraform import"))
        .ok_or("no `terraform import` line in import.sh")?;
    let words = shell_words(line);
    ensure(words.len() == 4, || {
        format!("unexpected import line: {line}")
    })?;
    let (addr, id) = (
        words[2].clone(),
        words[3].replace("registry.example.com", &endpoint),
    );
    ensure(
        addr == "chartreg_oci_registry.harbor" && id == format!("harbor={endpoint},library"),
        || format!("import.sh imports {addr} {id}"),
    )?;
    tf.state_rm(&addr)?;
    tf.import(&addr, &id)?;
    let imported = tf.resource_attrs(&addr)?;
    let diffs = harness::terraform::compare_attrs(
        &harbor,
        &imported,
        &["last_synced", "synchronization", "sync_trigger"],
    );
    ensure(diffs.is_empty(), || {
        format!("imported harbor differs:\n{}", diffs.join("\n"))
    })?;
    ensure(imported["synchronization"] == true, || {
        format!("imported: {imported}")
    })?;
    // synchronization and sync_trigger come from the configuration only: an in-place update
    let p = tf.plan_json(&["-detailed-exitcode"]);
    ensure(
        p.code == 2 && p.planned() == [(addr.clone(), "update".into())],
        || format!("plan after import:\n{p}"),
    )?;
    tf.apply()?;
    tf.plan_is_empty()?;
    tf.destroy()?;
    tf.expect_empty_state()
}
