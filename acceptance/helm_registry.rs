//! Acceptance tests of resource `chartreg_helm_registry` (classic Helm repositories). Every case
//! runs under Terraform 1.0 and 1.15 (`::tf1.0`, `::tf1.15`).
//!
//! - `connect::*`: one apply of a public HTTP repository, basic auth + TLS trusted through
//!   `ca_certificate`, the same with `insecure_skip_tls_verify`; a case per registration, the
//!   empty second plan, the password in neither `terraform show` nor the TRACE log.
//! - `invalid_config::*`: plan-time checks (validate and plan, no server involved), one case per
//!   check and one that nothing else is reported.
//! - `apply_errors::*`: wrong password, unknown CA (absent / wrong `ca_certificate`), 404,
//!   non-index documents: each fails at apply on the right attribute; nothing lands in state.
//! - `unreachable::*`: a host that does not resolve, a port that refuses connections.
//! - `sync::*`: an unchanged index costs one conditional request answered 304; a new version is
//!   seen at refresh with synchronization on and not with it off; server down → warning, index
//!   kept, plans from state; `sync_trigger` re-downloads.
//! - `import_round_trip`, `import_invalid_id`, `endpoint_change`: the step runner (import, empty
//!   plan after it); an import ID that is not `NAME=ENDPOINT`;
//!   an endpoint change is validated again (bad → error and state kept; good → charts follow).
//! - `helm_search_{fixture,traps,rancher,bitnami}`: `charts` equals what `helm search repo`
//!   reports (fixture repositories, semver traps, real-world indexes).
//! - `example`: `examples/resources/chartreg_helm_registry/{resource.tf,import.sh}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::hcl::string as q;
use crate::harness::{self, ensure, run_cmd, Body, Cases, HelmRepoServer, TestResult, Testbed};
use crate::harness::{Tf, TfCli, TfOutput, TfReport};

const RT: &str = "chartreg_helm_registry";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(connect(tb));
    v.extend(invalid_config(tb));
    v.extend(apply_errors(tb));
    v.extend(unreachable(tb));
    let list: [(&str, Body); 13] = [
        ("sync::unchanged_index_is_304", sync_unchanged_index_is_304),
        ("sync::new_version_at_refresh", sync_new_version_at_refresh),
        (
            "sync::server_down_keeps_index",
            sync_server_down_keeps_index,
        ),
        (
            "sync::trigger_downloads_again",
            sync_trigger_downloads_again,
        ),
        ("import_round_trip", import_round_trip),
        ("import_invalid_id", import_invalid_id),
        ("endpoint_change", endpoint_change),
        ("helm_search_fixture", helm_search_fixture),
        ("helm_search_traps", helm_search_traps),
        ("helm_search_rancher", |tb, cli| {
            helm_search_realworld(tb, cli, "rancher")
        }),
        // The bitnami state is large (103 charts, 3515 versions) but a trial takes ~7 s.
        ("helm_search_bitnami", |tb, cli| {
            helm_search_realworld(tb, cli, "bitnami")
        }),
        ("helm_search_excerpts", helm_search_excerpts),
        ("example", example),
    ];
    v.extend(harness::scenarios(tb, "helm_registry", &list));
    v
}

// ------------------------------------------------------------------ helpers

fn addr(name: &str) -> String {
    format!("{RT}.{name}")
}

/// Where a diagnostic about attribute `attr` of resource `name` is placed (`attr` empty: the
/// resource itself).
fn at(name: &str, attr: &str) -> String {
    if attr.is_empty() {
        addr(name)
    } else {
        format!("{RT}.{name}.{attr}")
    }
}

/// `resource "chartreg_helm_registry" "<res>" { name = "<name>" endpoint = "<endpoint>" <extra> }`
/// (`name` is `res` with `_` → `-`).
fn res(res: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "resource {RT:?} {res:?} {{\n  name     = {}\n  endpoint = {}\n{extra}}}\n\n",
        q(&res.replace('_', "-")),
        q(endpoint)
    )
}

/// The attributes of a resource in state.
fn charts(tf: &Tf, name: &str) -> TestResult<Value> {
    tf.resource_attrs(&addr(name))
}

/// Every version of `chart`, newest first, from the resource's `catalog_snapshot`.
fn versions(attrs: &Value, chart: &str) -> Vec<String> {
    crate::chart_state::snapshot_versions(attrs, chart)
}

type Want<'a> = &'a [(&'a str, &'a [&'a str])];

const V1: Want = &[("mychart", &["0.1.0"])];
const V2: Want = &[("mychart", &["0.2.0", "0.1.0"])];
const FIXTURE: Want = &[("mychart", &["0.2.0", "0.1.0"]), ("other", &["1.0.0"])];

/// The catalog (chart keys of `charts`, versions from the snapshot, which must list the same
/// charts) must be exactly `{chart: [versions newest first]}`.
fn expect_versions(attrs: &Value, want: Want, ctx: &str) -> TestResult {
    let snapshot_keys: Vec<String> = crate::chart_state::snapshot(attrs)?
        .charts
        .into_keys()
        .collect();
    let state_keys: Vec<String> = attrs["charts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    ensure(snapshot_keys == state_keys, || {
        format!("{ctx}: charts {state_keys:?} but the snapshot has {snapshot_keys:?}")
    })?;
    let got: BTreeMap<String, Vec<String>> = attrs["charts"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.clone(), versions(attrs, k)))
        .collect();
    let want: BTreeMap<String, Vec<String>> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    ensure(got == want, || {
        format!("{ctx}: charts are {got:?}, expected {want:?}")
    })
}

fn read_file(p: &std::path::Path) -> TestResult<String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

// ------------------------------------------------------------------ connect

struct Connected {
    tf: Tf,
    apply: TfOutput,
    trace_log: std::path::PathBuf,
    public_index: Vec<u8>,
    private_index: Vec<u8>,
}

fn connect(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut cases = Cases::new(tb, "helm_registry::connect", |tb, cli| {
        let mut tf = Tf::new(tb, cli);
        let trace_log = tf.dir.join("trace.log");
        tf.env("TF_LOG", "trace")
            .env("TF_LOG_PATH", &trace_log.display().to_string())
            .env("TF_VAR_pw", &tb.password);
        let ca = format!(
            "  username       = {}\n  password       = var.pw\n  ca_certificate = file({})\n",
            q(&tb.user),
            q(&tb.ca_cert.display().to_string())
        );
        let insecure = format!(
            "  username                 = {}\n  password                 = var.pw\n  insecure_skip_tls_verify = true\n",
            q(&tb.user)
        );
        tf.write(&format!(
            "variable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\n\n{}{}{}",
            res("public", &tb.helm.http, ""),
            res("private_ca", &tb.helm.https_auth, &ca),
            res("private_insecure", &tb.helm.https_auth, &insecure),
        ));
        let apply = tf.apply()?;
        let index = |url: &str, basic| {
            tb.http_get(&format!("{url}/index.yaml"), &[], basic)
                .map(|r| r.body)
        };
        Ok(Connected {
            public_index: index(&tb.helm.http, false)?,
            private_index: index(&tb.helm.https_auth, true)?,
            tf,
            apply,
            trace_log,
        })
    });
    for name in ["public", "private_ca", "private_insecure"] {
        cases = cases.case(name, move |_, c| connected(c, name));
    }
    cases
        .case("second_plan_empty", |_, c| c.tf.plan_is_empty())
        .case("password_not_shown", |tb, c| {
            let show = c.tf.run_ok(&["show", "-no-color"])?;
            ensure(!show.stdout.contains(&tb.password), || {
                "`terraform show` prints the password in plain text".into()
            })?;
            ensure(!c.apply.contains(&tb.password), || {
                "the apply output shows the password".into()
            })?;
            ensure(show.stdout.contains("(sensitive value)"), || {
                format!("`terraform show` does not mask the password:\n{show}")
            })
        })
        .case("password_not_logged", |tb, c| {
            let text = read_file(&c.trace_log)?;
            ensure(text.contains("fetching Helm repository index"), || {
                format!(
                    "the provider's TRACE log is not in {} ({} bytes)",
                    c.trace_log.display(),
                    text.len()
                )
            })?;
            if let Some(line) = text.lines().find(|l| l.contains(&tb.password)) {
                return Err(format!(
                    "the password is in the Terraform/provider log {}: {}",
                    c.trace_log.display(),
                    harness::redact(line)
                ));
            }
            use base64::Engine;
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", tb.user, tb.password));
            ensure(!text.contains(&basic), || {
                "the Authorization header is in the log".into()
            })
        })
        .trials()
}

/// What a registration of the fixture repository holds in state.
fn connected(c: &Connected, name: &str) -> TestResult {
    let index = if name == "public" {
        &c.public_index
    } else {
        &c.private_index
    };
    let a = c.tf.resource_attrs(&addr(name))?;
    expect_versions(&a, FIXTURE, name)?;
    let m = &a["charts"]["mychart"];
    ensure(
        m["latest_version"] == "0.2.0"
            && m["app_version"] == "1.1.0"
            && m["description"] == "Test chart mychart 0.2.0"
            && m["deprecated"] == false,
        || format!("{name}: mychart is {m}"),
    )?;
    ensure(
        a["chart_count"] == 2 && a["version_count"] == 3 && a["id"] == a["name"],
        || format!("{name}: counts/id wrong: {a}"),
    )?;
    ensure(
        a["last_synced"].as_str().is_some_and(|s| s.len() >= 20),
        || format!("{name}: last_synced {}", a["last_synced"]),
    )?;
    ensure(a["index_digest"] == sha256_hex(index), || {
        format!(
            "{name}: index_digest {} is not the index's sha256",
            a["index_digest"]
        )
    })
}

// ------------------------------------------------------------------ invalid_config

/// The plan-time checks (validate, then plan); endpoints point at TEST-NET-1 (never routed), so
/// any network use would hang or fail differently.
fn invalid_config(tb: &Arc<Testbed>) -> Vec<Trial> {
    // (case, resource, summary, attribute, what the detail must (not) say)
    type S = &'static str;
    type Check = (S, S, S, S, Detail);
    #[derive(Clone, Copy)]
    enum Detail {
        Any,
        Has(&'static str),
        Lacks(&'static str),
    }
    #[rustfmt::skip]
    const CHECKS: [Check; 8] = [
        ("bad_scheme", "bad_scheme", "Invalid Endpoint", "endpoint", Detail::Has("\"ftp\"")),
        ("no_scheme", "no_scheme", "Invalid Endpoint", "endpoint", Detail::Any),
        ("userinfo_not_echoed", "userinfo", "Invalid Endpoint", "endpoint", Detail::Lacks("hunter2")),
        ("username_without_password", "user_only", "Missing Password", "username", Detail::Has("password")),
        ("password_without_username", "password_only", "Missing Username", "password", Detail::Has("username")),
        ("bad_pem", "bad_pem", "Invalid CA Certificate", "ca_certificate", Detail::Any),
        ("not_pem", "not_pem", "Invalid CA Certificate", "ca_certificate", Detail::Any),
        ("bad_name", "bad_name", "Invalid Registry Name", "name", Detail::Any),
    ];
    let mut cases = Cases::new(tb, "helm_registry::invalid_config", |tb, cli| {
        let tf = Tf::new(tb, cli);
        let ep = "http://192.0.2.1/charts";
        let pem =
            "-----BEGIN CERTIFICATE-----\\nbm90IGEgY2VydGlmaWNhdGU=\\n-----END CERTIFICATE-----\\n";
        tf.write(&format!(
            "{}{}{}{}{}{}{}resource {RT:?} \"bad_name\" {{\n  name     = \"Bad Name\"\n  endpoint = {}\n}}\n",
            res("bad_scheme", "ftp://charts.example.com/stable", ""),
            res("no_scheme", "charts.example.com/stable", ""),
            res("userinfo", "https://ci:hunter2@charts.example.com/stable", ""),
            res("user_only", ep, "  username = \"ci\"\n"),
            res("password_only", ep, "  password = \"pw\"\n"),
            res("bad_pem", ep, &format!("  ca_certificate = \"{pem}\"\n")),
            res("not_pem", ep, "  ca_certificate = \"hello\"\n"),
            q(ep)
        ));
        let outs = [tf.validate_json().failed()?, tf.plan_json(&[]).failed()?];
        Ok(outs)
    });
    for (case, name, summary, attr, detail) in CHECKS {
        cases = cases.case(case, move |_, outs| {
            for out in outs {
                let d = out.expect_error(summary, &at(name, attr))?;
                let ok = match detail {
                    Detail::Any => true,
                    Detail::Has(s) => d.detail_has(s),
                    Detail::Lacks(s) => !d.detail_has(s),
                };
                ensure(ok, || format!("{}: unexpected detail:\n{d}", out.args[0]))?;
            }
            Ok(())
        });
    }
    cases
        .case("nothing_else", |_, outs| {
            outs.iter()
                .try_for_each(|o| o.expect_error_count(CHECKS.len()))
        })
        .trials()
}

// ------------------------------------------------------------------ apply_errors

struct Failed {
    tf: Tf,
    out: TfReport,
    _servers: Vec<HelmRepoServer>,
}

fn apply_errors(tb: &Arc<Testbed>) -> Vec<Trial> {
    const CHECKS: [(&str, &str, &str); 6] = [
        (
            "wrong_password",
            "Registry Credentials Rejected",
            "password",
        ),
        // absent `ca_certificate`: Terraform points at the resource itself
        ("unknown_ca", "Registry TLS Certificate Not Trusted", ""),
        (
            "wrong_ca",
            "Registry TLS Certificate Not Trusted",
            "ca_certificate",
        ),
        ("not_found", "Registry Index Not Found", "endpoint"),
        ("html_index", "Not A Helm Repository Index", "endpoint"),
        ("yaml_not_index", "Not A Helm Repository Index", "endpoint"),
    ];
    let mut cases = Cases::new(tb, "helm_registry::apply_errors", |tb, cli| {
        let html = tb.try_spawn_helm_repo("notindex", false, false)?;
        html.write_index(
            "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>Hello</body></html>\n",
        )?;
        let yaml = tb.try_spawn_helm_repo("otheryaml", false, false)?;
        yaml.write_index(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n",
        )?;
        let tf = Tf::new(tb, cli);
        let file = |p: &std::path::Path| {
            format!("  ca_certificate = file({})\n", q(&p.display().to_string()))
        };
        tf.write(&format!(
            "{}{}{}{}{}{}",
            res(
                "wrong_password",
                &tb.helm.https_auth,
                &format!(
                    "  username       = {}\n  password       = \"not-the-password\"\n{}",
                    q(&tb.user),
                    file(&tb.ca_cert)
                )
            ),
            res("unknown_ca", &tb.helm.https, ""),
            res("wrong_ca", &tb.helm.https, &file(&tb.server_cert)),
            res("not_found", &format!("{}/nope", tb.helm.http), ""),
            res("html_index", &html.url, ""),
            res("yaml_not_index", &yaml.url, ""),
        ));
        let out = tf.apply_json(&[]).failed()?;
        Ok(Failed {
            tf,
            out,
            _servers: vec![html, yaml],
        })
    });
    for (name, summary, attr) in CHECKS {
        cases = cases.case(name, move |_, f| {
            let d = f.out.expect_error(summary, &at(name, attr))?;
            match name {
                // (Terraform quotes the configuration line; the provider's detail must not echo it)
                "wrong_password" => ensure(!d.detail_has("not-the-password"), || {
                    format!("the wrong password is echoed:\n{d}")
                }),
                "unknown_ca" => ensure(d.detail_has("ca_certificate"), || {
                    format!("the detail should name `ca_certificate`:\n{d}")
                }),
                "html_index" => ensure(d.detail_has("HTML"), || format!("HTML not named:\n{d}")),
                _ => Ok(()),
            }
        });
    }
    cases
        .case("nothing_else", |_, f| {
            f.out.expect_error_count(CHECKS.len())
        })
        .case("nothing_in_state", |_, f| f.tf.expect_empty_state())
        .trials()
}

/// A host that does not resolve and a port that refuses connections each fail at apply on
/// `endpoint` with their own summary, and nothing is created.
fn unreachable(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "helm_registry::unreachable", |tb, cli| {
        let tf = Tf::new(tb, cli);
        let port = harness::servers::free_port();
        tf.write(&format!(
            "{}{}",
            res("no_such_host", "https://no-such-host.invalid/charts", ""),
            res("refused", &format!("http://127.0.0.1:{port}/charts"), "")
        ));
        let out = tf.apply_json(&[]).failed()?;
        Ok(Failed {
            tf,
            out,
            _servers: Vec::new(),
        })
    })
    .case("no_such_host", |_, f| {
        let d = f
            .out
            .expect_error("Registry Host Not Found", &at("no_such_host", "endpoint"))?;
        ensure(d.detail_has("DNS"), || {
            format!("the DNS hint is missing:\n{d}")
        })
    })
    .case("refused", |_, f| {
        let d = f
            .out
            .expect_error("Registry Unreachable", &at("refused", "endpoint"))?;
        ensure(d.detail_has("Connection refused"), || {
            format!("no cause:\n{d}")
        })
    })
    .case("nothing_else", |_, f| f.out.expect_error_count(2))
    .case("nothing_in_state", |_, f| f.tf.expect_empty_state())
    .trials()
}

// ------------------------------------------------------------------ sync

/// A dedicated repository (mychart 0.1.0) registered twice: `on` (synchronization on) and `off`
/// (off, `sync_trigger` = `trigger`), applied.
fn sync_setup(tb: &Testbed, cli: &TfCli) -> TestResult<(HelmRepoServer, Tf)> {
    let repo = tb.try_spawn_helm_repo("sync", false, false)?;
    let tf = Tf::new(tb, cli);
    tf.write(&sync_config(&repo, "1"));
    tf.apply()?;
    expect_versions(&charts(&tf, "on")?, V1, "on after create")?;
    expect_versions(&charts(&tf, "off")?, V1, "off after create")?;
    Ok((repo, tf))
}

fn sync_config(repo: &HelmRepoServer, trigger: &str) -> String {
    let off = format!(
        "  synchronization = false\n  sync_trigger    = {}\n",
        q(trigger)
    );
    format!(
        "{}{}",
        res("on", &repo.url, ""),
        res("off", &repo.url, &off)
    )
}

/// Runs `f`; on failure adds the repository's log tail.
fn with_repo_log(repo: &HelmRepoServer, r: TestResult) -> TestResult {
    r.map_err(|e| format!("{e}\n--- dedicated repo ---\n{}", repo.log_tail(15)))
}

/// An unchanged index: a refresh makes one conditional request (by `on` only), answered 304,
/// and the state stays as it was.
fn sync_unchanged_index_is_304(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (repo, tf) = sync_setup(tb, cli)?;
    with_repo_log(
        &repo,
        (|| {
            let on_before = tf.resource_attrs(&addr("on"))?;
            let before = repo.requests_to("/index.yaml").len();
            tf.refresh_only()?;
            let reqs = repo.requests_to("/index.yaml");
            ensure(reqs.len() == before + 1, || {
                format!(
                    "a refresh should make exactly one index request (sync on only), made {}",
                    reqs.len() - before
                )
            })?;
            let last = reqs.last().cloned().unwrap();
            ensure(
                last.status == 304
                    && last.if_none_match.is_some()
                    && last.if_modified_since.is_some(),
                || format!("unchanged index: last request {last:?}, expected a conditional 304"),
            )?;
            let on_after = tf.resource_attrs(&addr("on"))?;
            ensure(on_after == on_before, || {
                format!("a 304 refresh changed the state: {on_before} -> {on_after}")
            })
        })(),
    )
}

/// A version published after creation is in `on` at the next refresh, not in `off`.
fn sync_new_version_at_refresh(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (repo, tf) = sync_setup(tb, cli)?;
    with_repo_log(
        &repo,
        (|| {
            repo.publish("mychart", "0.2.0")?;
            tf.refresh_only()?;
            let last = repo.requests_to("/index.yaml").pop().unwrap();
            ensure(last.status == 200, || {
                format!("changed index: last request {last:?}, expected 200")
            })?;
            expect_versions(&charts(&tf, "on")?, V2, "on after publish + refresh")?;
            expect_versions(&charts(&tf, "off")?, V1, "off after publish + refresh")?;
            let on = tf.resource_attrs(&addr("on"))?;
            ensure(
                on["version_count"] == 2 && on["charts"]["mychart"]["latest_version"] == "0.2.0",
                || format!("on after publish: {on}"),
            )?;
            tf.plan_is_empty()
        })(),
    )
}

/// Server down: plans without refresh work from state; a refresh warns for `on` (the index is
/// kept) and says nothing for `off`; a plan still succeeds, empty; destroy without refresh works.
fn sync_server_down_keeps_index(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (repo, tf) = sync_setup(tb, cli)?;
    repo.stop();
    let p = tf.plan_json(&["-refresh=false", "-detailed-exitcode"]);
    ensure(p.code == 0 && p.warnings().is_empty(), || {
        format!("plan -refresh=false with the server down:\n{p}")
    })?;
    let r = tf.apply_json(&["-refresh-only"]).ok()?;
    let w = r.expect_warning("Registry Unreachable", &at("on", "endpoint"))?;
    ensure(w.detail_has("previous index is kept"), || {
        format!("the warning does not say the index is kept:\n{w}")
    })?;
    ensure(r.warnings().len() == 1, || {
        format!("sync off must not touch the server:\n{r}")
    })?;
    expect_versions(&charts(&tf, "on")?, V1, "on after a failed refresh")?;
    expect_versions(&charts(&tf, "off")?, V1, "off with the server down")?;
    let p = tf.plan_json(&["-detailed-exitcode"]);
    ensure(p.code == 0, || format!("plan with the server down:\n{p}"))?;
    p.expect_warning("Registry Unreachable", &at("on", "endpoint"))?;
    tf.run_ok(&[
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-refresh=false",
    ])?;
    tf.expect_empty_state()
}

/// With synchronization off, a changed `sync_trigger` plans one update and downloads the index.
fn sync_trigger_downloads_again(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (repo, tf) = sync_setup(tb, cli)?;
    with_repo_log(
        &repo,
        (|| {
            repo.publish("mychart", "0.2.0")?;
            tf.write(&sync_config(&repo, "2"));
            let p = tf.plan_json(&["-detailed-exitcode"]);
            let planned = p.planned();
            ensure(
                p.code == 2 && planned == [(addr("off"), "update".to_string())],
                || {
                    format!(
                        "changing sync_trigger should plan one update of `off`: {planned:?}\n{p}"
                    )
                },
            )?;
            tf.apply()?;
            expect_versions(
                &charts(&tf, "off")?,
                V2,
                "off after the sync_trigger change",
            )?;
            expect_versions(&charts(&tf, "on")?, V2, "on after the sync_trigger change")?;
            tf.plan_is_empty()?;
            tf.destroy()?;
            tf.expect_empty_state()
        })(),
    )
}

// ------------------------------------------------------------------ import, endpoint

fn import_round_trip(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let id = format!("r={}", tb.helm.http);
    harness::lifecycle(
        &tf,
        &res("r", &tb.helm.http, ""),
        &addr("r"),
        &id,
        &["last_synced"],
    )?;
    tf.expect_empty_state()
}

/// An import ID that is not `NAME=ENDPOINT` fails on the imported address (read from import's
/// human output: it has no `-json`; the detail is wrapped there), and nothing is imported.
fn import_invalid_id(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    tf.write(&res("r", &tb.helm.http, ""));
    let out = tf.import_err(&addr("r"), "noequals")?;
    let d = out.expect_error("Invalid Import ID", &addr("r"))?;
    ensure(
        d.detail_has("NAME=ENDPOINT")
            && d.detail_has("e.g. `terraform import chartreg_helm_registry.stable"),
        || format!("unexpected detail:\n{d}"),
    )?;
    out.expect_error_count(1)?;
    tf.expect_empty_state()
}

/// A bad endpoint fails on `endpoint` and the registration stays as it was; another good
/// repository: the charts follow it.
fn endpoint_change(tb: &Testbed, cli: &TfCli) -> TestResult {
    let repo = tb.try_spawn_helm_repo("endpoint", false, false)?;
    let tf = Tf::new(tb, cli);
    tf.write(&res("r", &tb.helm.http, ""));
    tf.apply()?;
    let before = tf.resource_attrs(&addr("r"))?;
    expect_versions(&before, FIXTURE, "before the endpoint change")?;

    tf.write(&res("r", &format!("{}/missing", tb.helm.http), ""));
    let out = tf.apply_json(&[]).failed()?;
    out.expect_error("Registry Index Not Found", &at("r", "endpoint"))?;
    let after = tf.resource_attrs(&addr("r"))?;
    ensure(after == before, || {
        format!("a failed endpoint change altered the state:\n  before {before}\n  after  {after}")
    })?;

    tf.write(&res("r", &repo.url, ""));
    tf.apply()?;
    let a = tf.resource_attrs(&addr("r"))?;
    ensure(a["endpoint"] == repo.url.as_str(), || {
        format!("endpoint not updated: {}", a["endpoint"])
    })?;
    expect_versions(&a, V1, "after the endpoint change")?;
    ensure(a["index_digest"] != before["index_digest"], || {
        "index_digest did not change with the endpoint".into()
    })?;
    tf.plan_is_empty()
}

// ------------------------------------------------------------------ helm search parity

/// One result of `helm search repo -o json`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    chart: String,
    version: String,
    app_version: String,
    description: String,
}

/// `helm search repo <args> -o json` for repository `repo` of a private home.
fn helm_search(helm: &harness::HelmCli, repo: &str, args: &[&str]) -> TestResult<Vec<Found>> {
    let out = run_cmd(
        helm.command()
            .args(["search", "repo"])
            .args(args)
            .args(["-o", "json"]),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("helm search output ({e}): {text}"))?;
    let prefix = format!("{repo}/");
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            Some(Found {
                chart: s("name").strip_prefix(&prefix)?.to_string(),
                version: s("version"),
                app_version: s("app_version"),
                description: s("description"),
            })
        })
        .collect())
}

/// The stored catalog of the resource (attributes `attrs`) against `helm search repo` on the
/// same repository: for every chart the ordered version list of `catalog_snapshot` equals
/// `--versions --devel` (each version once) and `version_count` its length; `latest_version`
/// with its app_version and description equals `helm search repo` without `--devel` (the newest
/// stable version), and a chart helm hides there (pre-releases only) has `latest_version` null
/// and is described by its newest version. Returns how many versions helm lists.
fn compare_with_helm(tb: &Testbed, url: &str, attrs: &Value) -> TestResult<usize> {
    let home = tb.helm_home();
    run_cmd(home.helm4.command().args(["repo", "add", "r", url]))?;
    let all = helm_search(&home.helm4, "r", &["--versions", "--devel"])?;
    let latest = helm_search(&home.helm4, "r", &[])?;
    let mut helm_versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &all {
        helm_versions
            .entry(f.chart.clone())
            .or_default()
            .push(f.version.clone());
    }
    let snapshot = crate::chart_state::snapshot(attrs)?;
    let ours: BTreeMap<String, Vec<String>> = snapshot
        .charts
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                c.versions.iter().map(|v| v.version.clone()).collect(),
            )
        })
        .collect();
    let charts = &attrs["charts"];
    let mut errors = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        helm_versions.keys().chain(ours.keys()).collect();
    for name in names {
        match (helm_versions.get(name), ours.get(name)) {
            (Some(h), Some(o)) if h == o => {}
            (h, o) => errors.push(format!("chart {name}: helm {h:?}\n  chartreg {o:?}")),
        }
        let count = charts[name.as_str()]["version_count"].as_u64().unwrap_or(0) as usize;
        if count != ours.get(name).map_or(0, Vec::len) {
            errors.push(format!(
                "chart {name}: version_count {count}, snapshot {:?}",
                ours.get(name)
            ));
        }
    }
    let latest: BTreeMap<&str, &Found> = latest.iter().map(|f| (f.chart.as_str(), f)).collect();
    for (name, c) in charts.as_object().into_iter().flatten() {
        let ours = (
            c["latest_version"].as_str(),
            c["app_version"].as_str().unwrap_or_default(),
            c["description"].as_str().unwrap_or_default(),
        );
        let theirs = match latest.get(name.as_str()) {
            Some(f) => (
                Some(f.version.as_str()),
                f.app_version.as_str(),
                f.description.as_str(),
            ),
            // Only pre-releases: helm shows nothing without --devel; no latest version, and
            // the newest version describes the chart.
            None => {
                let newest = snapshot.charts.get(name).and_then(|c| c.versions.first());
                (
                    None,
                    newest.map_or("", |v| v.app_version.as_str()),
                    newest.map_or("", |v| v.description.as_str()),
                )
            }
        };
        if ours != theirs {
            errors.push(format!(
                "chart {name}: latest (version, app_version, description) helm {theirs:?}, chartreg {ours:?}"
            ));
        }
    }
    if errors.is_empty() {
        Ok(all.len())
    } else {
        let n = errors.len();
        errors.truncate(20);
        Err(format!(
            "the stored catalog differs from helm search repo on {url} ({n} difference(s)):\n{}",
            errors.join("\n")
        ))
    }
}

/// The shared fixture repository.
fn helm_search_fixture(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    tf.write(&res("fixture", &tb.helm.http, ""));
    tf.apply()?;
    compare_with_helm(tb, &tb.helm.http, &charts(&tf, "fixture")?).map(drop)
}

/// A repository with semver ordering traps and pre-releases.
fn helm_search_traps(tb: &Testbed, cli: &TfCli) -> TestResult {
    let repo = tb.try_spawn_helm_repo("search", false, false)?;
    repo.publish_with("mychart", "0.10.0", "10.0", "ten")?;
    repo.publish_with("mychart", "0.11.0-rc.1", "11.0-rc", "eleven rc")?;
    repo.publish_with("mychart", "0.9.0", "9.0", "nine")?;
    repo.publish_with("beta", "1.0.0-beta.2", "b2", "only betas 2")?;
    repo.publish_with("beta", "1.0.0-beta.10", "b10", "only betas 10")?;
    let tf = Tf::new(tb, cli);
    tf.write(&res("traps", &repo.url, ""));
    tf.apply()?;
    let traps = charts(&tf, "traps")?;
    expect_versions(
        &traps,
        &[
            ("mychart", &["0.11.0-rc.1", "0.10.0", "0.9.0", "0.1.0"]),
            ("beta", &["1.0.0-beta.10", "1.0.0-beta.2"]),
        ],
        "traps",
    )?;
    ensure(
        traps["charts"]["mychart"]["latest_version"] == "0.10.0",
        || {
            format!(
                "latest_version must skip the pre-release: {}",
                traps["charts"]["mychart"]
            )
        },
    )?;
    ensure(traps["charts"]["beta"]["latest_version"].is_null(), || {
        format!(
            "a chart with pre-releases only has no latest_version: {}",
            traps["charts"]["beta"]
        )
    })?;
    compare_with_helm(tb, &repo.url, &traps).map(drop)
}

/// The excerpts of real indexes in `testdata/indexes/` (served by the shared nginx), one
/// registry each in one configuration: versions listed more than once (ingress-nginx lists
/// `4.12.0-beta.0` nine times, grafana and DataDog one version twice), charts with pre-releases
/// only (rke2), besides the bitnami and rancher excerpts.
fn helm_search_excerpts(tb: &Testbed, cli: &TfCli) -> TestResult {
    let dir = harness::repo_dir().join("testdata/indexes");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".excerpt.yaml").map(str::to_string)
        })
        .collect();
    names.sort();
    ensure(names.len() >= 6, || format!("excerpts: {names:?}"))?;
    let res_name = |n: &str| n.replace(['.', '-'], "_");
    let url = |n: &str| format!("{}/excerpts/{n}", tb.helm.realworld);
    let tf = Tf::new(tb, cli);
    tf.write(
        &names
            .iter()
            .map(|n| res(&res_name(n), &url(n), ""))
            .collect::<String>(),
    );
    tf.apply()?;
    for n in &names {
        let a = tf.resource_attrs(&addr(&res_name(n)))?;
        let listed = compare_with_helm(tb, &url(n), &a).map_err(|e| format!("{n}: {e}"))?;
        ensure(a["version_count"] == listed, || {
            format!(
                "{n}: version_count {} but helm lists {listed} versions",
                a["version_count"]
            )
        })?;
    }
    // What the issue measured on the whole ingress-nginx index: each version once.
    let ingress = tf.resource_attrs(&addr(&res_name("ingress-nginx-2026-03-19")))?;
    let beta = crate::chart_state::snapshot(&ingress)?.charts["ingress-nginx"]
        .versions
        .iter()
        .filter(|v| v.version == "4.12.0-beta.0")
        .cloned()
        .collect::<Vec<_>>();
    ensure(
        beta.len() == 1
            && beta[0].digest == "aed5bccc70f4d39ed645acf397618e0c47f06a1befc8bdd97a4e5b57c89a866c",
        || format!("4.12.0-beta.0 must be listed once, as its first entry: {beta:?}"),
    )?;
    tf.plan_is_empty()
}

fn helm_search_realworld(tb: &Testbed, cli: &TfCli, which: &str) -> TestResult {
    let url = format!("{}/{which}", tb.helm.realworld);
    let tf = Tf::new(tb, cli);
    let t0 = std::time::Instant::now();
    tf.write(&res(which, &url, ""));
    tf.apply()?;
    let t_apply = t0.elapsed();
    let a = tf.resource_attrs(&addr(which))?;
    let n = compare_with_helm(tb, &url, &a)?;
    ensure(a["version_count"] == n, || {
        format!(
            "version_count {} but helm lists {n} versions",
            a["version_count"]
        )
    })?;
    let t = std::time::Instant::now();
    tf.plan_is_empty()?;
    if harness::verbose() {
        eprintln!(
            "helm_search_{which} ({}): {n} versions, apply {:.1}s, plan {:.1}s, total {:.1}s",
            cli.label,
            t_apply.as_secs_f64(),
            t.elapsed().as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ example

/// The example: apply, an empty second plan, its output; the import command of `import.sh`
/// (endpoint replaced) round-trips.
fn example(tb: &Testbed, cli: &TfCli) -> TestResult {
    let dir = harness::repo_dir().join("examples/resources/chartreg_helm_registry");
    let resource_tf = read_file(&dir.join("resource.tf"))?;
    let import_sh = read_file(&dir.join("import.sh"))?;
    // `terraform import ADDR 'NAME=ENDPOINT'`
    let line = import_sh
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("terraform import "))
        .ok_or("no `terraform import` line in import.sh")?;
    let mut words = line["terraform import ".len()..].split_whitespace();
    let import_addr = words.next().ok_or("import.sh: no address")?.to_string();
    let id = words
        .next()
        .ok_or("import.sh: no ID")?
        .trim_matches(|c| c == '\'' || c == '"');
    let (id_name, _) = id
        .split_once('=')
        .ok_or_else(|| format!("import.sh: ID {id:?} is not NAME=ENDPOINT"))?;
    let id = format!("{id_name}={}", tb.helm.http);

    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_helm_repo_url", &tb.helm.http);
    tf.write(&resource_tf);
    tf.apply()?;
    tf.plan_is_empty()?;
    let out = tf.output("stable_charts")?;
    ensure(
        out == serde_json::json!({"mychart": "0.2.0", "other": "1.0.0"}),
        || format!("output stable_charts = {out}"),
    )?;
    let internal = tf.resource_attrs(&addr("internal"))?;
    ensure(
        internal["synchronization"] == false && internal["username"].is_null(),
        || format!("internal: {internal}"),
    )?;
    let applied = tf.resource_attrs(&import_addr)?;
    tf.state_rm(&import_addr)?;
    tf.import(&import_addr, &id)?;
    let imported = tf.resource_attrs(&import_addr)?;
    let diffs = harness::terraform::compare_attrs(&applied, &imported, &["last_synced"]);
    ensure(diffs.is_empty(), || {
        format!("imported {import_addr} differs:\n{}", diffs.join("\n"))
    })?;
    tf.no_resource_changes()?;
    tf.destroy()?;
    tf.expect_empty_state()
}
