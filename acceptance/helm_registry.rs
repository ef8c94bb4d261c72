//! Acceptance tests of resource `chartreg_helm_registry` (classic Helm repositories).
//!
//! Trials (each under Terraform 1.0 and 1.15; the whole module takes ~35-55 s with 2 threads):
//! - `connect_and_secrets`: public HTTP, basic auth + TLS trusted through `ca_certificate`, the same
//!   with `insecure_skip_tls_verify`; the password is in neither `terraform show` nor the TRACE log.
//! - `invalid_config`: plan-time checks (validate and plan, no server involved).
//! - `apply_errors`: wrong password, unknown CA (absent / wrong `ca_certificate`), 404, non-index
//!   document: each fails at apply on the right attribute and nothing lands in state.
//! - `sync`: synchronization on (new version at refresh, unchanged index answered 304, server down
//!   → warning and charts kept) and off (no request, offline plan/refresh, `sync_trigger` re-sync).
//! - `import_and_endpoint`: import round trip, endpoint change re-validated (bad → error, state
//!   kept; good → charts updated), `plan -refresh=false` with the server stopped.
//! - `helm_search_fixture`, `helm_search_rancher`, `helm_search_bitnami`:
//!   `charts` equals what `helm search repo` reports (fixture repositories, real-world indexes).
//! - `example`: `examples/resources/chartreg_helm_registry/{resource.tf,import.sh}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::{self, run_cmd, TestResult, Testbed, Tf, TfCli, TfOutput};

const RT: &str = "chartreg_helm_registry";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(both(tb, "connect_and_secrets", connect_and_secrets));
    v.extend(both(tb, "invalid_config", invalid_config));
    v.extend(both(tb, "apply_errors", apply_errors));
    v.extend(both(tb, "sync", sync));
    v.extend(both(tb, "import_and_endpoint", import_and_endpoint));
    v.extend(both(tb, "helm_search_fixture", helm_search_fixture));
    v.extend(both(tb, "helm_search_rancher", |tb, cli| {
        helm_search_realworld(tb, cli, "rancher")
    }));
    // The bitnami state is large (103 charts, 3515 versions) but a trial takes ~7 s: both versions.
    v.extend(both(tb, "helm_search_bitnami", |tb, cli| {
        helm_search_realworld(tb, cli, "bitnami")
    }));
    v.extend(both(tb, "example", example));
    v.extend(both(tb, "unreachable_errors", unreachable_errors));
    v
}

/// `helm_registry::NAME::tf1.0` and `::tf1.15`; with `CHARTREG_ACC_VERBOSE` each prints its time.
fn both(
    tb: &Arc<Testbed>,
    name: &str,
    f: impl Fn(&Testbed, &TfCli) -> TestResult + Send + Sync + 'static,
) -> Vec<Trial> {
    let full = format!("helm_registry::{name}");
    let label = full.clone();
    harness::both_tf(tb, &full, move |tb, cli| {
        let t0 = std::time::Instant::now();
        let r = f(tb, cli);
        if harness::verbose() {
            eprintln!(
                "{label}::{}: {:.1} s",
                cli.label,
                t0.elapsed().as_secs_f64()
            );
        }
        r
    })
}

// ------------------------------------------------------------------ helpers

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// An HCL string literal.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

fn addr(name: &str) -> String {
    format!("{RT}.{name}")
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

/// The `charts` attribute of a resource in state.
fn charts(tf: &Tf, name: &str) -> TestResult<Value> {
    let a = tf.resource_attrs(&addr(name))?;
    Ok(a["charts"].clone())
}

fn versions(charts: &Value, chart: &str) -> Vec<String> {
    charts[chart]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// `charts` must be exactly `{chart: [versions newest first]}`.
fn expect_versions(charts: &Value, want: &[(&str, &[&str])], ctx: &str) -> TestResult {
    let got: BTreeMap<String, Vec<String>> = charts
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.clone(), versions(charts, k)))
        .collect();
    let want: BTreeMap<String, Vec<String>> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    ensure(got == want, || {
        format!("{ctx}: charts are {got:?}, expected {want:?}")
    })
}

/// The error/warning block of `out` about resource `name` whose first line is `severity: summary`.
fn diag_block(out: &TfOutput, severity: &str, summary: &str, name: &str) -> TestResult<String> {
    let text = out.combined();
    let marker = format!("in resource {RT:?} {name:?}:");
    let head = format!("{severity}: {summary}");
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        let l = line.trim_start_matches(['│', '╷', '╵', ' ']);
        if l.starts_with("Error: ") || l.starts_with("Warning: ") {
            blocks.push(String::new());
        }
        if let Some(b) = blocks.last_mut() {
            b.push_str(l);
            b.push('\n');
        }
    }
    blocks
        .into_iter()
        .find(|b| b.starts_with(&head) && b.contains(&marker))
        .ok_or_else(|| format!("no \"{head}\" diagnostic for {RT}.{name} in:\n{out}"))
}

/// Number of error diagnostics in `out`.
fn error_count(out: &TfOutput) -> usize {
    out.combined()
        .lines()
        .filter(|l| {
            l.trim_start_matches(['│', '╷', '╵', ' '])
                .starts_with("Error: ")
        })
        .count()
}

/// A `plan -detailed-exitcode` without resource changes. Terraform 1.0 re-adds outputs that
/// `state rm` + `import` dropped from the state: output-only changes are accepted.
fn no_resource_changes(p: &TfOutput) -> bool {
    p.code == 0
        || (p.code == 2 && !p.stdout.contains("Plan: ") && p.stdout.contains("Changes to Outputs"))
}

/// The configuration line Terraform quotes in a diagnostic block (`  12:   password = ...`).
fn quoted_line(block: &str) -> Option<String> {
    let mut lines = block.lines().skip_while(|l| !l.contains(", in resource "));
    lines.next()?;
    let l = lines.next()?.trim();
    let (num, src) = l.split_once(':')?;
    num.trim()
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| src.trim().to_string())
}

/// The detail of a diagnostic block: what follows the quoted configuration line.
fn detail(block: &str) -> String {
    let mut lines = block.lines().skip_while(|l| !l.contains(", in resource "));
    lines.next();
    lines.skip(1).collect::<Vec<_>>().join("\n")
}

/// What the diagnostic must point at.
#[derive(Clone, Copy)]
enum At<'a> {
    /// The attribute, set in the configuration: Terraform quotes its line.
    Attr(&'a str),
    /// An attribute absent from the configuration: Terraform can only quote the resource header
    /// line; the detail must then name the attribute.
    Absent(&'a str),
}

/// `out` has an error `summary` about resource `name` pointing at `at`.
fn expect_error(out: &TfOutput, summary: &str, name: &str, at: At) -> TestResult<String> {
    let block = diag_block(out, "Error", summary, name)?;
    let line =
        quoted_line(&block).ok_or_else(|| format!("no quoted configuration line in:\n{block}"))?;
    let ok = match at {
        At::Attr(a) => line
            .strip_prefix(a)
            .is_some_and(|rest| rest.trim_start().starts_with('=')),
        At::Absent(a) => {
            line.starts_with(&format!("resource {RT:?} {name:?}")) && detail(&block).contains(a)
        }
    };
    let what = match at {
        At::Attr(a) => format!("the line of `{a}`"),
        At::Absent(a) => format!("the resource header and a detail naming `{a}`"),
    };
    ensure(ok, || {
        harness::redact(&format!(
            "\"{summary}\" on {RT}.{name} should quote {what}, quotes {line:?}:\n{block}"
        ))
    })?;
    Ok(block)
}

/// Like [`expect_error`], accepting any of `ats`.
fn expect_error_any(out: &TfOutput, summary: &str, name: &str, ats: &[At]) -> TestResult {
    let mut errors = Vec::new();
    for at in ats {
        match expect_error(out, summary, name, *at) {
            Ok(_) => return Ok(()),
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("\n--- or ---\n"))
}

/// `terraform state list` is empty and `show -json` has no resource.
fn expect_empty_state(tf: &Tf) -> TestResult {
    let list = tf.run_ok(&["state", "list", "-no-color"])?;
    ensure(list.stdout.trim().is_empty(), || {
        format!("state should be empty, has:\n{}", list.stdout)
    })?;
    let state = tf.state_json()?;
    let n = state["values"]["root_module"]["resources"]
        .as_array()
        .map_or(0, Vec::len);
    ensure(n == 0, || {
        format!("show -json has {n} resource(s): {state}")
    })
}

fn read_file(p: &std::path::Path) -> TestResult<String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

// ------------------------------------------------------------------ connect_and_secrets

fn connect_and_secrets(tb: &Testbed, cli: &TfCli) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    let log = tf.dir.join("trace.log");
    tf.env("TF_LOG", "trace")
        .env("TF_LOG_PATH", &log.display().to_string())
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
    let cfg = format!(
        "variable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\n\n{}{}{}",
        res("public", &tb.helm.http, ""),
        res("private_ca", &tb.helm.https_auth, &ca),
        res("private_insecure", &tb.helm.https_auth, &insecure),
    );
    tf.write(&cfg);
    let result = (|| {
        tf.apply()?;
        let public = tb.http_get(&format!("{}/index.yaml", tb.helm.http), &[], false)?;
        let private = tb.http_get(&format!("{}/index.yaml", tb.helm.https_auth), &[], true)?;
        for name in ["public", "private_ca", "private_insecure"] {
            let index = if name == "public" { &public } else { &private };
            let a = tf.resource_attrs(&addr(name))?;
            let c = &a["charts"];
            expect_versions(
                c,
                &[("mychart", &["0.2.0", "0.1.0"]), ("other", &["1.0.0"])],
                name,
            )?;
            let m = &c["mychart"];
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
            ensure(a["index_digest"] == sha256_hex(&index.body), || {
                format!(
                    "{name}: index_digest {} is not the index's sha256",
                    a["index_digest"]
                )
            })?;
        }
        tf.plan_is_empty()?;

        // The password is sensitive: never shown by `terraform show`, never logged.
        let show = tf.run_ok(&["show", "-no-color"])?;
        ensure(!show.stdout.contains(&tb.password), || {
            "`terraform show` prints the password in plain text".into()
        })?;
        ensure(show.stdout.contains("(sensitive value)"), || {
            format!("`terraform show` does not mask the password:\n{show}")
        })?;
        let text = read_file(&log)?;
        ensure(text.contains("fetching Helm repository index"), || {
            format!(
                "the provider's TRACE log is not in {} ({} bytes)",
                log.display(),
                text.len()
            )
        })?;
        if let Some(line) = text.lines().find(|l| l.contains(&tb.password)) {
            return Err(format!(
                "the password is in the Terraform/provider log {}: {}",
                log.display(),
                harness::redact(line)
            ));
        }
        // Basic auth in base64 must not be logged either.
        let basic = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", tb.user, tb.password))
        };
        ensure(!text.contains(&basic), || {
            "the Authorization header is in the log".into()
        })?;
        tf.destroy()?;
        expect_empty_state(&tf)
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result
}

// ------------------------------------------------------------------ invalid_config

fn invalid_config(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    // Endpoints point at TEST-NET-1 (never routed): any network use would hang or fail differently.
    let ep = "http://192.0.2.1/charts";
    let pem =
        "-----BEGIN CERTIFICATE-----\\nbm90IGEgY2VydGlmaWNhdGU=\\n-----END CERTIFICATE-----\\n";
    let bad_name = format!(
        "resource {RT:?} \"bad_name\" {{\n  name     = \"Bad Name\"\n  endpoint = {}\n}}\n",
        q(ep)
    );
    let cfg = format!(
        "{}{}{}{}{}{}{}{bad_name}",
        res("bad_scheme", "ftp://charts.example.com/stable", ""),
        res("no_scheme", "charts.example.com/stable", ""),
        res(
            "userinfo",
            "https://ci:hunter2@charts.example.com/stable",
            ""
        ),
        res("user_only", ep, "  username = \"ci\"\n"),
        res("password_only", ep, "  password = \"pw\"\n"),
        res("bad_pem", ep, &format!("  ca_certificate = \"{pem}\"\n")),
        res("not_pem", ep, "  ca_certificate = \"hello\"\n"),
    );
    tf.write(&cfg);
    let validate = tf.run(&["validate", "-no-color"]);
    let plan = tf.plan(&[]);
    for out in [&validate, &plan] {
        ensure(!out.success(), || format!("expected a failure:\n{out}"))?;
        let b = expect_error(
            out,
            "Invalid Endpoint URL",
            "bad_scheme",
            At::Attr("endpoint"),
        )?;
        ensure(b.contains("\"ftp\""), || format!("scheme not named:\n{b}"))?;
        // The provider blames the attribute that is missing; Terraform cannot quote it and
        // shows the resource header (pointing at the attribute that is set would be accepted too).
        expect_error_any(
            out,
            "Missing Password",
            "user_only",
            &[At::Absent("password"), At::Attr("username")],
        )?;
        expect_error_any(
            out,
            "Missing Username",
            "password_only",
            &[At::Absent("username"), At::Attr("password")],
        )?;
        expect_error(
            out,
            "Invalid Endpoint URL",
            "no_scheme",
            At::Attr("endpoint"),
        )?;
        let b = expect_error(
            out,
            "Invalid Endpoint URL",
            "userinfo",
            At::Attr("endpoint"),
        )?;
        ensure(!detail(&b).contains("hunter2"), || {
            format!("the password in the URL is echoed:\n{b}")
        })?;
        expect_error(
            out,
            "Invalid CA Certificate",
            "bad_pem",
            At::Attr("ca_certificate"),
        )?;
        expect_error(
            out,
            "Invalid CA Certificate",
            "not_pem",
            At::Attr("ca_certificate"),
        )?;
        expect_error(out, "Invalid Registry Name", "bad_name", At::Attr("name"))?;
        let n = error_count(out);
        ensure(n == 8, || format!("expected 8 errors, got {n}:\n{out}"))?;
    }
    Ok(())
}

// ------------------------------------------------------------------ apply_errors

fn apply_errors(tb: &Testbed, cli: &TfCli) -> TestResult {
    let html = tb.try_spawn_helm_repo("notindex", false, false)?;
    html.write_index(
        "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>Hello</body></html>\n",
    )?;
    let yaml = tb.try_spawn_helm_repo("otheryaml", false, false)?;
    yaml.write_index(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n",
    )?;
    let tf = Tf::new(tb, cli);
    let ca = format!(
        "  ca_certificate = file({})\n",
        q(&tb.ca_cert.display().to_string())
    );
    let wrong_ca = format!(
        "  ca_certificate = file({})\n",
        q(&tb.server_cert.display().to_string())
    );
    let cfg = format!(
        "{}{}{}{}{}{}",
        res(
            "wrong_password",
            &tb.helm.https_auth,
            &format!(
                "  username       = {}\n  password       = \"not-the-password\"\n{ca}",
                q(&tb.user)
            )
        ),
        res("unknown_ca", &tb.helm.https, ""),
        res("wrong_ca", &tb.helm.https, &wrong_ca),
        res("not_found", &format!("{}/nope", tb.helm.http), ""),
        res("html_index", &html.url, ""),
        res("yaml_not_index", &yaml.url, ""),
    );
    tf.write(&cfg);
    let out = tf.apply_err()?;
    let result = (|| {
        let b = expect_error(
            &out,
            "Registry Credentials Rejected",
            "wrong_password",
            At::Attr("password"),
        )?;
        // (Terraform itself quotes the configuration line; the provider's detail must not echo it.)
        ensure(!detail(&b).contains("not-the-password"), || {
            format!("the wrong password is echoed:\n{b}")
        })?;
        expect_error(
            &out,
            "Registry TLS Certificate Not Trusted",
            "unknown_ca",
            At::Absent("ca_certificate"),
        )?;
        expect_error(
            &out,
            "Registry TLS Certificate Not Trusted",
            "wrong_ca",
            At::Attr("ca_certificate"),
        )?;
        expect_error(
            &out,
            "Registry Index Not Found",
            "not_found",
            At::Attr("endpoint"),
        )?;
        let b = expect_error(
            &out,
            "Not A Helm Repository Index",
            "html_index",
            At::Attr("endpoint"),
        )?;
        ensure(b.contains("HTML"), || format!("HTML not named:\n{b}"))?;
        expect_error(
            &out,
            "Not A Helm Repository Index",
            "yaml_not_index",
            At::Attr("endpoint"),
        )?;
        let n = error_count(&out);
        ensure(n == 6, || format!("expected 6 errors, got {n}:\n{out}"))?;
        expect_empty_state(&tf)
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result
}

// ------------------------------------------------------------------ sync

fn sync(tb: &Testbed, cli: &TfCli) -> TestResult {
    let repo = tb.try_spawn_helm_repo("sync", false, false)?;
    let tf = Tf::new(tb, cli);
    let config = |trigger: &str| {
        format!(
            "{}{}",
            res("on", &repo.url, ""),
            res(
                "off",
                &repo.url,
                &format!(
                    "  synchronization = false\n  sync_trigger    = {}\n",
                    q(trigger)
                )
            )
        )
    };
    tf.write(&config("1"));
    let result = (|| {
        tf.apply()?;
        let v1: &[(&str, &[&str])] = &[("mychart", &["0.1.0"])];
        let v2: &[(&str, &[&str])] = &[("mychart", &["0.2.0", "0.1.0"])];
        expect_versions(&charts(&tf, "on")?, v1, "on after create")?;
        expect_versions(&charts(&tf, "off")?, v1, "off after create")?;
        let on_before = tf.resource_attrs(&addr("on"))?;

        // Unchanged index: one conditional request (by `on` only), answered 304.
        let before = repo.requests_to("/index.yaml").len();
        tf.refresh_only()?;
        let reqs = repo.requests_to("/index.yaml");
        ensure(reqs.len() == before + 1, || {
            format!(
                "a refresh should make exactly one index request (sync on only), made {}:\n{}",
                reqs.len() - before,
                repo.log_tail(10)
            )
        })?;
        let last = reqs.last().cloned().unwrap();
        ensure(
            last.status == 304 && last.if_none_match.is_some() && last.if_modified_since.is_some(),
            || format!("unchanged index: last request {last:?}, expected a conditional 304"),
        )?;
        let on_after = tf.resource_attrs(&addr("on"))?;
        ensure(on_after == on_before, || {
            format!("a 304 refresh changed the state: {on_before} -> {on_after}")
        })?;

        // A version published after creation: in `on` at the next refresh, not in `off`.
        repo.publish("mychart", "0.2.0")?;
        tf.refresh_only()?;
        let last = repo.requests_to("/index.yaml").pop().unwrap();
        ensure(last.status == 200, || {
            format!("changed index: last request {last:?}, expected 200")
        })?;
        expect_versions(&charts(&tf, "on")?, v2, "on after publish + refresh")?;
        expect_versions(&charts(&tf, "off")?, v1, "off after publish + refresh")?;
        let on = tf.resource_attrs(&addr("on"))?;
        ensure(
            on["version_count"] == 2 && on["charts"]["mychart"]["latest_version"] == "0.2.0",
            || format!("on after publish: {on}"),
        )?;
        tf.plan_is_empty()?;

        // Server down.
        repo.stop();
        let n = repo.requests_to("/index.yaml").len();
        let p = tf.plan(&["-refresh=false", "-detailed-exitcode"]);
        ensure(p.code == 0, || {
            format!("plan -refresh=false with the server down:\n{p}")
        })?;
        let r = tf.refresh_only()?;
        let w = diag_block(&r, "Warning", "Registry Unreachable", "on")?;
        ensure(w.contains("previous index is kept"), || {
            format!("warning does not say the index is kept:\n{w}")
        })?;
        ensure(!r.combined().contains("\"off\""), || {
            format!("sync off must not touch the server:\n{r}")
        })?;
        expect_versions(&charts(&tf, "on")?, v2, "on after a failed refresh")?;
        expect_versions(&charts(&tf, "off")?, v1, "off with the server down")?;
        let p = tf.plan(&["-detailed-exitcode"]);
        ensure(p.code == 0, || format!("plan with the server down:\n{p}"))?;
        ensure(p.contains("Warning: Registry Unreachable"), || {
            format!("plan with the server down and sync on should warn:\n{p}")
        })?;

        // Server back: bumping sync_trigger re-downloads the index of `off` at apply.
        repo.start()?;
        ensure(repo.requests_to("/index.yaml").len() == n, || {
            "requests reached a stopped server?".into()
        })?;
        tf.write(&config("2"));
        let p = tf.plan(&["-detailed-exitcode"]);
        ensure(p.code == 2 && p.stdout.contains("1 to change"), || {
            format!("changing sync_trigger should plan one update:\n{p}")
        })?;
        tf.apply()?;
        expect_versions(
            &charts(&tf, "off")?,
            v2,
            "off after the sync_trigger change",
        )?;
        expect_versions(&charts(&tf, "on")?, v2, "on after the sync_trigger change")?;
        tf.plan_is_empty()?;
        tf.destroy()?;
        expect_empty_state(&tf)
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result.map_err(|e| format!("{e}\n--- dedicated repo ---\n{}", repo.log_tail(15)))
}

// ------------------------------------------------------------------ import_and_endpoint

fn import_and_endpoint(tb: &Testbed, cli: &TfCli) -> TestResult {
    let repo = tb.try_spawn_helm_repo("endpoint", false, false)?;
    let tf = Tf::new(tb, cli);
    let cfg = res("r", &tb.helm.http, "");
    let plan = harness::lifecycle(
        &tf,
        &cfg,
        &addr("r"),
        &format!("r={}", tb.helm.http),
        &["last_synced"],
    )?;
    ensure(plan.contains("No changes"), || {
        format!("plan after import is not empty:\n{plan}")
    })?;

    let fixture: &[(&str, &[&str])] = &[("mychart", &["0.2.0", "0.1.0"]), ("other", &["1.0.0"])];
    tf.write(&cfg);
    let result = (|| {
        tf.apply()?;
        let before = tf.resource_attrs(&addr("r"))?;
        expect_versions(&before["charts"], fixture, "before the endpoint change")?;

        // A bad endpoint fails on `endpoint` and the registration stays as it was.
        tf.write(&res("r", &format!("{}/missing", tb.helm.http), ""));
        let out = tf.apply_err()?;
        expect_error(&out, "Registry Index Not Found", "r", At::Attr("endpoint"))?;
        let after = tf.resource_attrs(&addr("r"))?;
        ensure(after == before, || {
            format!(
                "a failed endpoint change altered the state:\n  before {before}\n  after  {after}"
            )
        })?;

        // Another good repository: charts follow it.
        tf.write(&res("r", &repo.url, ""));
        tf.apply()?;
        let a = tf.resource_attrs(&addr("r"))?;
        ensure(a["endpoint"] == repo.url.as_str(), || {
            format!("endpoint not updated: {}", a["endpoint"])
        })?;
        expect_versions(
            &a["charts"],
            &[("mychart", &["0.1.0"])],
            "after the endpoint change",
        )?;
        ensure(a["index_digest"] != before["index_digest"], || {
            "index_digest did not change with the endpoint".into()
        })?;
        tf.plan_is_empty()?;

        // -refresh=false plans from state alone.
        repo.stop();
        let p = tf.plan(&["-refresh=false", "-detailed-exitcode"]);
        ensure(p.code == 0 && !p.contains("Warning: Registry"), || {
            format!("plan -refresh=false with the server down:\n{p}")
        })?;
        tf.run_ok(&[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-refresh=false",
        ])?;
        expect_empty_state(&tf)
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result
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

/// `charts` of the resource against `helm search repo` on the same repository: for every chart
/// the ordered version list (`--versions --devel`), and `latest_version` with its app_version and
/// description (`helm search repo` without `--devel`: the newest non-pre-release).
fn compare_with_helm(tb: &Testbed, url: &str, charts: &Value) -> TestResult<usize> {
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
    let ours: BTreeMap<String, Vec<String>> = charts
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.clone(), versions(charts, k)))
        .collect();
    let mut errors = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        helm_versions.keys().chain(ours.keys()).collect();
    for name in names {
        match (helm_versions.get(name), ours.get(name)) {
            (Some(h), Some(o)) if h == o => {}
            (h, o) => errors.push(format!("chart {name}: helm {h:?}\n  chartreg {o:?}")),
        }
    }
    let latest: BTreeMap<&str, &Found> = latest.iter().map(|f| (f.chart.as_str(), f)).collect();
    for (name, c) in charts.as_object().into_iter().flatten() {
        let ours = (
            c["latest_version"].as_str().unwrap_or_default(),
            c["app_version"].as_str().unwrap_or_default(),
            c["description"].as_str().unwrap_or_default(),
        );
        match latest.get(name.as_str()) {
            Some(f) => {
                let theirs = (
                    f.version.as_str(),
                    f.app_version.as_str(),
                    f.description.as_str(),
                );
                if ours != theirs {
                    errors.push(format!(
                        "chart {name}: latest (version, app_version, description) helm {theirs:?}, chartreg {ours:?}"
                    ));
                }
            }
            // Only pre-releases: helm shows nothing without --devel; chartreg falls back to
            // the newest version.
            None => {
                let newest = versions(charts, name).first().cloned().unwrap_or_default();
                if ours.0 != newest {
                    errors.push(format!(
                        "chart {name}: helm shows no stable version; latest_version {:?} is not the newest version {newest:?}",
                        ours.0
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(all.len())
    } else {
        let n = errors.len();
        errors.truncate(20);
        Err(format!(
            "`charts` differs from helm search repo on {url} ({n} difference(s)):\n{}",
            errors.join("\n")
        ))
    }
}

fn helm_search_fixture(tb: &Testbed, cli: &TfCli) -> TestResult {
    // A repository with semver ordering traps and pre-releases besides the shared fixture one.
    let repo = tb.try_spawn_helm_repo("search", false, false)?;
    repo.publish_with("mychart", "0.10.0", "10.0", "ten")?;
    repo.publish_with("mychart", "0.11.0-rc.1", "11.0-rc", "eleven rc")?;
    repo.publish_with("mychart", "0.9.0", "9.0", "nine")?;
    repo.publish_with("beta", "1.0.0-beta.2", "b2", "only betas 2")?;
    repo.publish_with("beta", "1.0.0-beta.10", "b10", "only betas 10")?;
    let tf = Tf::new(tb, cli);
    let cfg = format!(
        "{}{}",
        res("fixture", &tb.helm.http, ""),
        res("traps", &repo.url, "")
    );
    tf.write(&cfg);
    let result = (|| {
        tf.apply()?;
        let fixture = charts(&tf, "fixture")?;
        compare_with_helm(tb, &tb.helm.http, &fixture)?;
        let traps = charts(&tf, "traps")?;
        expect_versions(
            &traps,
            &[
                ("mychart", &["0.11.0-rc.1", "0.10.0", "0.9.0", "0.1.0"]),
                ("beta", &["1.0.0-beta.10", "1.0.0-beta.2"]),
            ],
            "traps",
        )?;
        ensure(traps["mychart"]["latest_version"] == "0.10.0", || {
            format!(
                "latest_version must skip the pre-release: {}",
                traps["mychart"]
            )
        })?;
        compare_with_helm(tb, &repo.url, &traps)?;
        tf.destroy()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result
}

fn helm_search_realworld(tb: &Testbed, cli: &TfCli, which: &str) -> TestResult {
    let url = format!("{}/{which}", tb.helm.realworld);
    let tf = Tf::new(tb, cli);
    let t0 = std::time::Instant::now();
    tf.write(&res(which, &url, ""));
    tf.apply()?;
    let t_apply = t0.elapsed();
    let a = tf.resource_attrs(&addr(which))?;
    let n = compare_with_helm(tb, &url, &a["charts"])?;
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

    let tf = Tf::new(tb, cli);
    tf.write(&resource_tf);
    let var = format!("helm_repo_url={}", tb.helm.http);
    // `terraform SUBCOMMAND -var helm_repo_url=... OPTIONS... [ARGS]`
    let with_var = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.insert(1, var.clone());
        v.insert(1, "-var".into());
        v
    };
    let run = |args: &[&str]| {
        let a = with_var(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        tf.run(&a)
    };
    let run_ok = |args: &[&str]| {
        let o = run(args);
        if o.success() {
            Ok(o)
        } else {
            Err(o.to_string())
        }
    };
    let result = (|| {
        run_ok(&["apply", "-auto-approve", "-input=false", "-no-color"])?;
        let p = run(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        ensure(p.code == 0, || format!("second plan is not empty:\n{p}"))?;
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
        run_ok(&["import", "-input=false", "-no-color", &import_addr, &id])?;
        let imported = tf.resource_attrs(&import_addr)?;
        let diffs = harness::terraform::compare_attrs(&applied, &imported, &["last_synced"]);
        ensure(diffs.is_empty(), || {
            format!("imported {import_addr} differs:\n{}", diffs.join("\n"))
        })?;
        let p = run(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        ensure(no_resource_changes(&p), || {
            format!("plan after import is not empty:\n{p}")
        })?;
        run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])?;
        expect_empty_state(&tf)
    })();
    if result.is_err() {
        let _ = run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    }
    result
}

/// A host that does not resolve and a port that refuses connections each fail at apply on
/// `endpoint` with their own summary, and nothing is created.
fn unreachable_errors(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let port = harness::servers::free_port();
    tf.write(&format!(
        "{}{}",
        res("no_such_host", "https://no-such-host.invalid/charts", ""),
        res("refused", &format!("http://127.0.0.1:{port}/charts"), "")
    ));
    let out = tf.apply_err()?;
    let dns = expect_error(
        &out,
        "Registry Host Not Found",
        "no_such_host",
        At::Attr("endpoint"),
    )?;
    ensure(detail(&dns).contains("DNS"), || {
        format!("the DNS hint is missing:\n{dns}")
    })?;
    let refused = expect_error(
        &out,
        "Registry Unreachable",
        "refused",
        At::Attr("endpoint"),
    )?;
    ensure(detail(&refused).contains("Connection refused"), || {
        format!("no cause:\n{refused}")
    })?;
    ensure(error_count(&out) == 2, || {
        format!("expected exactly 2 errors:\n{out}")
    })?;
    expect_empty_state(&tf)
}
