//! Acceptance tests of resource `chartreg_oci_registry`: real Terraform (1.0 and 1.15) against the
//! shared registries (plain, basic + TLS, bearer token) and dedicated `docker-registry`s holding
//! charts pushed with the real `helm push`, plain images and bulk fixtures.
//!
//! Trials (each `::tf1.0` and `::tf1.15`):
//! - `auth_flavours`: the three auth flavours list charts exactly as `helm show chart` reports
//!   them; token requests are pull-only; no token or password in state, plan or `show` output.
//! - `layout_and_import`: exact repositories, prefixes, endpoint paths, plain images ignored,
//!   250 repositories / 250 tags listed completely; import round trip.
//! - `synchronization`: sync on/off, registry stopped (warning, catalog kept, `-refresh=false`),
//!   `sync_trigger`.
//! - `apply_and_plan_errors`: wrong password (basic, token), unknown CA, empty base paths fail at
//!   apply on the right attribute and leave nothing in state; plan-time attribute checks.
//! - `example`: `examples/resources/chartreg_oci_registry/{resource.tf,import.sh}`.

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use crate::harness::{
    self, fixtures::random_hex, run_cmd, servers::registry_flags, RegistryAuth, TestResult,
    Testbed, Tf, TfCli, TfOutput,
};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = Vec::new();
    v.extend(harness::both_tf(
        tb,
        "oci_registry::auth_flavours",
        auth_flavours,
    ));
    v.extend(harness::both_tf(
        tb,
        "oci_registry::layout_and_import",
        layout_and_import,
    ));
    v.extend(harness::both_tf(
        tb,
        "oci_registry::synchronization",
        synchronization,
    ));
    v.extend(harness::both_tf(
        tb,
        "oci_registry::apply_and_plan_errors",
        apply_and_plan_errors,
    ));
    v.extend(harness::both_tf(tb, "oci_registry::example", example));
    v
}

// ------------------------------------------------------------------ helpers

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// A name unique to this trial (both Terraform versions run in parallel against shared servers).
fn unique(cli: &TfCli, what: &str) -> String {
    format!(
        "acc-{what}-{}-{}",
        cli.label.replace('.', ""),
        random_hex(3)
    )
}

/// Sorted keys of the `charts` map of a resource's attributes.
fn chart_keys(a: &Value) -> Vec<String> {
    let mut k: Vec<String> = a["charts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn versions(a: &Value, key: &str) -> Vec<String> {
    str_list(&a["charts"][key]["versions"])
}

fn count(a: &Value, field: &str) -> i64 {
    a[field].as_i64().unwrap_or(-1)
}

fn apply_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    v.extend_from_slice(extra);
    v
}

/// The diagnostic blocks (`Error: …` / `Warning: …` up to the next one) of an output, with
/// Terraform's box-drawing margin removed.
fn diag_blocks(out: &TfOutput) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut cur: Option<String> = None;
    for raw in out.combined().lines() {
        let line = raw
            .trim_start_matches(['│', '╷', '╵'])
            .strip_prefix(' ')
            .unwrap_or_else(|| raw.trim_start_matches(['│', '╷', '╵']));
        if line.starts_with("Error: ") || line.starts_with("Warning: ") {
            if let Some(b) = cur.take() {
                blocks.push(b);
            }
            cur = Some(String::new());
        }
        if let Some(b) = cur.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks.extend(cur);
    blocks
}

/// The diagnostic block starting with `head` (e.g. `Error: Registry Credentials Rejected`) that
/// is about resource `addr`; it must show every one of `must` (config line, hint…).
fn diag_for(out: &TfOutput, head: &str, addr: &str, must: &[&str]) -> TestResult<String> {
    let with = format!("with {addr},");
    let block = diag_blocks(out)
        .into_iter()
        .find(|b| b.starts_with(&format!("{head}\n")) && b.contains(&with))
        .ok_or_else(|| format!("no diagnostic {head:?} for {addr} in:\n{out}"))?;
    for m in must {
        ensure(block.contains(m), || {
            format!("diagnostic {head:?} for {addr} lacks {m:?}:\n{block}\nwhole output:\n{out}")
        })?;
    }
    Ok(block)
}

/// Warnings other than Terraform's own "Provider development overrides are in effect".
fn provider_warnings(out: &TfOutput) -> Vec<String> {
    diag_blocks(out)
        .into_iter()
        .filter(|b| {
            b.starts_with("Warning: ") && !b.starts_with("Warning: Provider development overrides")
        })
        .collect()
}

/// No resource in state.
fn state_is_empty(tf: &Tf) -> TestResult {
    let s = tf.state_json()?;
    let res = s["values"]["root_module"]["resources"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    ensure(res == 0, || format!("state should be empty, has: {s}"))
}

/// `helm show chart <oci_url> --version V` parsed.
fn helm_show_chart(
    tb: &Testbed,
    home: &harness::HelmHome,
    oci_url: &str,
    version: &str,
    auth: RegistryAuth,
) -> TestResult<serde_yaml::Value> {
    let out = run_cmd(
        home.helm()
            .args(["show", "chart", oci_url, "--version", version])
            .args(registry_flags(tb, auth)),
    )?;
    serde_yaml::from_slice(&out.stdout).map_err(|e| format!("helm show chart {oci_url}: {e}"))
}

fn yaml_str(v: &serde_yaml::Value, k: &str) -> String {
    match &v[k] {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Null => String::new(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// `helm push` of a chart into `oci://host/namespace` of a shared registry (private Helm home).
fn helm_push(
    tb: &Testbed,
    home: &harness::HelmHome,
    host: &str,
    auth: RegistryAuth,
    tgz: &Path,
    namespace: &str,
) -> TestResult {
    run_cmd(
        home.helm()
            .arg("push")
            .arg(tgz)
            .arg(format!("oci://{host}/{namespace}"))
            .args(registry_flags(tb, auth)),
    )
    .map(|_| ())
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn read_from(p: &Path, offset: u64) -> String {
    let b = std::fs::read(p).unwrap_or_default();
    String::from_utf8_lossy(&b[(offset as usize).min(b.len())..]).into_owned()
}

// ------------------------------------------------------------------ auth flavours

/// The three shared registries, each with the same freshly pushed chart (three versions: a
/// release, a newer release with build metadata, a newer pre-release) under a unique namespace.
/// Terraform lists them with the versions, description and appVersion `helm show chart` reports;
/// the token flavour's token requests for that namespace are pull-only; neither a token nor the
/// password shows in the state (outside the `password` attribute), plan, apply or `show` output.
fn auth_flavours(tb: &Testbed, cli: &TfCli) -> TestResult {
    let ns = unique(cli, "flavour");
    let chart_versions = [
        ("1.2.3", "3.0.0", "Flavour chart, first release"),
        ("1.2.4+build.5", "3.1.0", "Flavour chart, second release"),
        ("2.0.0-rc.1", "4.0.0-rc", "Flavour chart, next pre-release"),
    ];
    let tgzs: Vec<_> = chart_versions
        .iter()
        .map(|(v, app, d)| tb.try_package_chart("flavour", v, app, d))
        .collect::<TestResult<_>>()?;
    let home = tb.helm_home();
    let flavours = [
        ("plain", RegistryAuth::None),
        ("basic", RegistryAuth::Basic),
        ("token", RegistryAuth::Token),
    ];
    for (_, auth) in flavours {
        for tgz in &tgzs {
            helm_push(tb, &home, tb.oci_host(auth), auth, tgz, &ns)?;
        }
    }

    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_registry_password", &tb.password);
    tf.write_file("ca.pem", &tb.ca_pem);
    let cfg = format!(
        r#"variable "registry_password" {{
  type      = string
  sensitive = true
}}

resource "chartreg_oci_registry" "plain" {{
  name               = "plain"
  endpoint           = "http://{plain}"
  base_content_paths = ["{ns}"]
}}

resource "chartreg_oci_registry" "basic" {{
  name               = "basic"
  endpoint           = "{basic}"
  base_content_paths = ["{ns}"]
  username           = "{user}"
  password           = var.registry_password
  ca_certificate     = file("${{path.module}}/ca.pem")
}}

resource "chartreg_oci_registry" "token" {{
  name               = "token"
  endpoint           = "oci://{token}"
  base_content_paths = ["{ns}/"]
  username           = "{user}"
  password           = var.registry_password
  ca_certificate     = file("${{path.module}}/ca.pem")
}}
"#,
        plain = tb.oci.plain,
        basic = tb.oci.basic,
        token = tb.oci.token,
        user = tb.user,
    );
    tf.write(&cfg);

    let token_log_start = file_len(&tb.token.log);
    let result = (|| {
        let apply = tf.apply()?;
        let plan = tf.plan(&["-detailed-exitcode"]);
        ensure(plan.code == 0, || {
            format!("expected an empty plan after apply:\n{plan}")
        })?;

        // token requests made for this namespace (read before `helm show chart` below:
        // only the provider reads it between the pushes and here)
        let log = read_from(&tb.token.log, token_log_start);
        let mine: Vec<&str> = log.lines().filter(|l| l.contains(&ns)).collect();
        ensure(!mine.is_empty(), || {
            format!("no token request for {ns} in the token server log:\n{log}")
        })?;
        for l in &mine {
            let scopes = l
                .split("scopes=")
                .nth(1)
                .and_then(|s| s.split(" -> ").next())
                .unwrap_or_default();
            for s in scopes.split_whitespace().filter(|s| s.contains(&ns)) {
                ensure(s.starts_with("repository:") && s.ends_with(":pull"), || {
                    format!("token request not scoped to pull only: {l}")
                })?;
            }
            ensure(
                l.contains(&format!("user={} ", tb.user)) && l.ends_with("-> 200"),
                || format!("token request not made as {} or refused: {l}", tb.user),
            )?;
        }

        // what Helm itself reports, per version, from the plain registry; latest from all three
        let key = format!("{ns}/flavour");
        let mut shown = Vec::new();
        for (v, _, _) in &chart_versions {
            shown.push(helm_show_chart(
                tb,
                &home,
                &format!("oci://{}/{key}", tb.oci.plain),
                v,
                RegistryAuth::None,
            )?);
        }
        let shown_versions: Vec<String> = shown.iter().map(|c| yaml_str(c, "version")).collect();
        ensure(
            shown_versions == ["1.2.3", "1.2.4+build.5", "2.0.0-rc.1"],
            || format!("helm show chart versions: {shown_versions:?}"),
        )?;
        let latest = &shown[1]; // newest non-pre-release
        for (name, auth) in flavours {
            let a = tf.resource_attrs(&format!("chartreg_oci_registry.{name}"))?;
            let c = &a["charts"][&key];
            let ctx = || format!("{name}: {}", harness::redact(&a.to_string()));
            ensure(chart_keys(&a) == [key.clone()], ctx)?;
            ensure(
                versions(&a, &key) == ["2.0.0-rc.1", "1.2.4+build.5", "1.2.3"],
                ctx,
            )?;
            ensure(
                count(&a, "chart_count") == 1 && count(&a, "version_count") == 3,
                ctx,
            )?;
            let from_helm = helm_show_chart(
                tb,
                &home,
                &format!("oci://{}/{key}", tb.oci_host(auth)),
                "1.2.4+build.5",
                auth,
            )?;
            ensure(&from_helm == latest, || {
                format!("{name}: helm show chart differs between registries: {from_helm:?}")
            })?;
            for (field, helm_key) in [
                ("name", "name"),
                ("latest_version", "version"),
                ("app_version", "appVersion"),
                ("description", "description"),
            ] {
                let want = yaml_str(&from_helm, helm_key);
                ensure(c[field].as_str() == Some(want.as_str()), || {
                    format!(
                        "{name}: charts[{key:?}].{field} = {} but helm show chart says {helm_key}: {want:?}",
                        c[field]
                    )
                })?;
            }
            ensure(
                a["authentication_type"] == "basic"
                    && a["synchronization"] == true
                    && a["insecure_skip_tls_verify"] == false
                    && a["id"] == name
                    && a["catalog_digest"].as_str().map(str::len) == Some(64),
                ctx,
            )?;
        }

        // secrets: never in outputs; in state only as the (sensitive) password attribute
        let show = tf.run_ok(&["show", "-no-color"])?;
        let state_file = std::fs::read_to_string(tf.dir.join("terraform.tfstate"))
            .map_err(|e| format!("terraform.tfstate: {e}"))?;
        for (what, text) in [
            ("apply", apply.combined()),
            ("plan", plan.combined()),
            ("show", show.combined()),
        ] {
            ensure(!text.contains(&tb.password), || {
                format!("the password shows in the {what} output")
            })?;
            ensure(!text.contains("eyJ") && !text.contains("Bearer"), || {
                format!(
                    "a token shows in the {what} output:\n{}",
                    harness::redact(&text)
                )
            })?;
        }
        ensure(show.stdout.contains("(sensitive value)"), || {
            format!("terraform show does not hide the password:\n{show}")
        })?;
        ensure(
            !state_file.contains("eyJ") && !state_file.contains("Bearer"),
            || "a registry token is in terraform.tfstate".to_string(),
        )?;
        let state: Value = serde_json::from_str(&state_file).map_err(|e| e.to_string())?;
        for r in state["resources"].as_array().into_iter().flatten() {
            for inst in r["instances"].as_array().into_iter().flatten() {
                let mut attrs = inst["attributes"].clone();
                let pw = attrs
                    .as_object_mut()
                    .and_then(|m| m.remove("password"))
                    .unwrap_or(Value::Null);
                let name = r["name"].as_str().unwrap_or_default();
                ensure(
                    (name == "plain" && pw.is_null()) || pw.as_str() == Some(&tb.password),
                    || format!("{name}: unexpected password attribute in state"),
                )?;
                ensure(!attrs.to_string().contains(&tb.password), || {
                    format!("{name}: the password is in a state attribute other than `password`")
                })?;
                if name != "plain" {
                    ensure(
                        inst["sensitive_attributes"]
                            .to_string()
                            .contains("password"),
                        || {
                            format!(
                                "{name}: password not marked sensitive in state: {}",
                                inst["sensitive_attributes"]
                            )
                        },
                    )?;
                }
            }
        }
        tf.destroy()?;
        state_is_empty(&tf)
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result
}

// ------------------------------------------------------------------ layout

/// One dedicated plain registry: charts pushed with Helm under `charts/` (plus a plain image in
/// that prefix and one with a semver tag inside a chart repository), 250 bulk chart repositories
/// and one repository with 250 tags. Exact repositories, prefixes, an endpoint with a path, the
/// whole registry; then the import round trip of an endpoint with a path and two base paths.
fn layout_and_import(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = tb.spawn_registry(RegistryAuth::None);
    for tgz in [
        &tb.charts.mychart_010,
        &tb.charts.mychart_020,
        &tb.charts.other_100,
    ] {
        reg.push(tgz, "charts")?;
    }
    reg.push_image("charts/image", "1.0.0")?;
    reg.push_image("charts/mychart", "9.9.9")?;
    reg.push_image("images/app", "1.0.0")?;
    let bulk = reg.bulk_repos("bulk", 250)?;
    reg.bulk_tags("many/tags", 250)?;
    let host = &reg.host;

    let tf = Tf::new(tb, cli);
    let res = |name: &str, endpoint: &str, paths: Option<&str>| {
        format!(
            "resource \"chartreg_oci_registry\" \"{name}\" {{\n  name     = \"{name}\"\n  endpoint = \"{endpoint}\"\n{}}}\n",
            paths
                .map(|p| format!("  base_content_paths = {p}\n"))
                .unwrap_or_default()
        )
    };
    let plain = format!("http://{host}");
    let pathed = format!("http://{host}/charts");
    let cfg = [
        res("exact", &plain, Some(r#"["charts/mychart"]"#)),
        res("prefix", &plain, Some(r#"["charts"]"#)),
        res("pathed", &pathed, None),
        res("pathed-exact", &pathed, Some(r#"["mychart"]"#)),
        res("bulk", &plain, Some(r#"["bulk"]"#)),
        res("tags", &plain, Some(r#"["many/tags"]"#)),
        res("whole", &plain, None),
    ]
    .concat();
    tf.write(&cfg);
    let result = (|| {
        tf.apply()?;
        tf.plan_is_empty()?;
        let attrs = |n: &str| tf.resource_attrs(&format!("chartreg_oci_registry.{n}"));
        let show = |a: &Value| {
            let mut a = a.clone();
            if a["charts"].as_object().map(|m| m.len()).unwrap_or(0) > 5 {
                a["charts"] = Value::String("(…)".into());
            }
            a.to_string()
        };

        let a = attrs("exact")?;
        ensure(
            chart_keys(&a) == ["charts/mychart"]
                && versions(&a, "charts/mychart") == ["0.2.0", "0.1.0"]
                && a["charts"]["charts/mychart"]["latest_version"] == "0.2.0"
                && a["charts"]["charts/mychart"]["app_version"] == "1.1.0"
                && a["charts"]["charts/mychart"]["description"] == "Test chart mychart 0.2.0"
                && count(&a, "chart_count") == 1
                && count(&a, "version_count") == 2,
            || format!("exact repository: {}", show(&a)),
        )?;

        let a = attrs("prefix")?;
        ensure(
            chart_keys(&a) == ["charts/mychart", "charts/other"]
                && versions(&a, "charts/other") == ["1.0.0"]
                && versions(&a, "charts/mychart") == ["0.2.0", "0.1.0"]
                && count(&a, "chart_count") == 2
                && count(&a, "version_count") == 3,
            || format!("prefix (plain images must be ignored): {}", show(&a)),
        )?;

        let a = attrs("pathed")?;
        ensure(
            chart_keys(&a) == ["mychart", "other"]
                && a["charts"]["mychart"]["name"] == "mychart"
                && versions(&a, "mychart") == ["0.2.0", "0.1.0"]
                && count(&a, "chart_count") == 2
                && count(&a, "version_count") == 3,
            || format!("endpoint with a path: {}", show(&a)),
        )?;

        let a = attrs("pathed-exact")?;
        ensure(
            chart_keys(&a) == ["mychart"] && count(&a, "version_count") == 2,
            || format!("endpoint with a path + exact base path: {}", show(&a)),
        )?;

        let a = attrs("bulk")?;
        let keys = chart_keys(&a);
        ensure(
            keys == bulk
                && count(&a, "chart_count") == 250
                && count(&a, "version_count") == 250
                && a["charts"]["bulk/chart-249"]["name"] == "chart-249"
                && versions(&a, "bulk/chart-000") == ["1.0.0"],
            || {
                format!(
                    "250 repositories: {} keys, first {:?}, last {:?}; {}",
                    keys.len(),
                    keys.first(),
                    keys.last(),
                    show(&a)
                )
            },
        )?;

        let a = attrs("tags")?;
        let v = versions(&a, "many/tags");
        let want: Vec<String> = (0..250).rev().map(|i| format!("1.0.{i}")).collect();
        ensure(
            v == want
                && a["charts"]["many/tags"]["latest_version"] == "1.0.249"
                && count(&a, "chart_count") == 1
                && count(&a, "version_count") == 250,
            || {
                format!(
                    "250 tags: {} versions, first {:?}, last {:?}; {}",
                    v.len(),
                    v.first(),
                    v.last(),
                    show(&a)
                )
            },
        )?;

        let a = attrs("whole")?;
        let keys = chart_keys(&a);
        ensure(
            count(&a, "chart_count") == 253
                && count(&a, "version_count") == 503
                && keys.len() == 253
                && !keys
                    .iter()
                    .any(|k| k.starts_with("images/") || k == "charts/image"),
            || {
                format!(
                    "whole registry: {} keys ({:?}…); {}",
                    keys.len(),
                    &keys[..keys.len().min(4)],
                    show(&a)
                )
            },
        )?;
        tf.destroy()?;
        state_is_empty(&tf)
    })();
    if result.is_err() {
        let _ = tf.destroy();
        return result;
    }

    // import round trip: NAME=ENDPOINT,BASE_PATH,BASE_PATH
    let tf = Tf::new(tb, cli);
    let cfg = format!(
        r#"resource "chartreg_oci_registry" "r" {{
  name               = "r"
  endpoint           = "http://{host}/charts"
  base_content_paths = ["mychart", "other"]
}}
"#
    );
    let plan = harness::lifecycle(
        &tf,
        &cfg,
        "chartreg_oci_registry.r",
        &format!("r=http://{host}/charts,mychart,other"),
        &["last_synced"],
    )?;
    ensure(plan.contains("No changes"), || {
        format!("plan after import is not empty:\n{plan}")
    })
}

// ------------------------------------------------------------------ synchronization

fn sync_cfg(host: &str, name: &str, sync: bool, trigger: &str) -> String {
    let extra = if sync {
        String::new()
    } else {
        format!("  synchronization    = false\n  sync_trigger       = \"{trigger}\"\n")
    };
    format!(
        "resource \"chartreg_oci_registry\" \"{name}\" {{\n  name               = \"{name}\"\n  endpoint           = \"http://{host}\"\n  base_content_paths = [\"charts/mychart\"]\n{extra}}}\n"
    )
}

/// Synchronization on: a newly pushed version shows at the next refresh; with the registry
/// stopped, refresh warns and keeps the catalog. Off: nothing new at refresh, and plan/refresh
/// succeed with the registry stopped; a `sync_trigger` change brings the new versions in. Plans
/// with `-refresh=false` work from state alone.
fn synchronization(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = tb.spawn_registry(RegistryAuth::None);
    reg.push(&tb.charts.mychart_010, "charts")?;
    let tgz_030 = tb.try_package_chart("mychart", "0.3.0", "1.3.0", "mychart three")?;
    let host = reg.host.clone();
    let on = Tf::new(tb, cli);
    let off = Tf::new(tb, cli);
    on.write(&sync_cfg(&host, "on", true, ""));
    off.write(&sync_cfg(&host, "off", false, "1"));
    let key = "charts/mychart";
    let result = (|| {
        on.apply()?;
        off.apply()?;
        let a_on = on.resource_attrs("chartreg_oci_registry.on")?;
        let a_off = off.resource_attrs("chartreg_oci_registry.off")?;
        ensure(versions(&a_on, key) == ["0.1.0"], || a_on.to_string())?;
        ensure(
            versions(&a_off, key) == ["0.1.0"] && a_off["synchronization"] == false,
            || a_off.to_string(),
        )?;

        reg.push(&tb.charts.mychart_020, "charts")?;
        on.refresh_only()?;
        let a = on.resource_attrs("chartreg_oci_registry.on")?;
        ensure(
            versions(&a, key) == ["0.2.0", "0.1.0"]
                && a["charts"][key]["app_version"] == "1.1.0"
                && count(&a, "version_count") == 2
                && a["catalog_digest"] != a_on["catalog_digest"],
            || format!("sync on: the new version is not seen at refresh: {a}"),
        )?;
        on.plan_is_empty()?;
        off.refresh_only()?;
        let a = off.resource_attrs("chartreg_oci_registry.off")?;
        ensure(a == a_off, || {
            format!("sync off: the catalog changed at refresh: {a}")
        })?;
        off.plan_is_empty()?;

        // registry stopped
        reg.stop();
        let p = off.plan(&["-detailed-exitcode"]);
        ensure(p.code == 0 && provider_warnings(&p).is_empty(), || {
            format!("sync off, registry stopped: plan should be empty and quiet:\n{p}")
        })?;
        let r = off.refresh_only()?;
        ensure(provider_warnings(&r).is_empty(), || {
            format!("sync off, registry stopped: refresh warns:\n{r}")
        })?;
        let p = off.plan(&["-refresh=false", "-detailed-exitcode"]);
        ensure(p.code == 0, || {
            format!("sync off: -refresh=false plan:\n{p}")
        })?;
        ensure(
            off.resource_attrs("chartreg_oci_registry.off")? == a_off,
            || "sync off: the catalog changed while the registry was stopped".into(),
        )?;

        let before = on.resource_attrs("chartreg_oci_registry.on")?;
        let p = on.plan(&["-detailed-exitcode"]);
        ensure(p.code == 0, || {
            format!("sync on, registry stopped: plan should succeed and be empty:\n{p}")
        })?;
        diag_for(
            &p,
            "Warning: Registry Unreachable",
            "chartreg_oci_registry.on",
            &["refresh failed, the previous catalog is kept"],
        )?;
        let r = on.refresh_only()?;
        ensure(
            r.contains("refresh failed, the previous catalog is kept"),
            || format!("sync on, registry stopped: refresh does not warn:\n{r}"),
        )?;
        let after = on.resource_attrs("chartreg_oci_registry.on")?;
        ensure(after == before, || {
            format!("sync on, registry stopped: the catalog was not kept: {after}")
        })?;
        let p = on.plan(&["-refresh=false", "-detailed-exitcode"]);
        ensure(p.code == 0 && provider_warnings(&p).is_empty(), || {
            format!("sync on: -refresh=false plan with the registry stopped:\n{p}")
        })?;

        // a sync_trigger change while the registry is down fails and keeps the registration
        off.write(&sync_cfg(&host, "off", false, "2"));
        let e = off.apply_err()?;
        diag_for(
            &e,
            "Error: Registry Unreachable",
            "chartreg_oci_registry.off",
            &[&format!("endpoint           = \"http://{host}\"")],
        )?;
        let a = off.resource_attrs("chartreg_oci_registry.off")?;
        ensure(a == a_off, || {
            format!("a failed re-sync changed the state: {a} (before: {a_off})")
        })?;

        // registry back, one more version; sync_trigger brings both new versions in
        reg.start()?;
        reg.push(&tgz_030, "charts")?;
        let p = off.plan(&["-detailed-exitcode"]);
        ensure(p.code == 2 && p.contains("1 to change"), || {
            format!("sync_trigger change should plan an update:\n{p}")
        })?;
        off.apply()?;
        let a = off.resource_attrs("chartreg_oci_registry.off")?;
        ensure(
            versions(&a, key) == ["0.3.0", "0.2.0", "0.1.0"]
                && a["charts"][key]["latest_version"] == "0.3.0"
                && a["charts"][key]["description"] == "mychart three"
                && a["sync_trigger"] == "2"
                && a["last_synced"] != a_off["last_synced"],
            || format!("sync_trigger change: {a} (before: {a_off})"),
        )?;
        off.plan_is_empty()?;
        on.destroy()?;
        off.destroy()?;
        state_is_empty(&on)?;
        state_is_empty(&off)
    })();
    if result.is_err() {
        let _ = reg.start();
        let _ = on.destroy();
        let _ = off.destroy();
    }
    result
}

// ------------------------------------------------------------------ errors

/// Apply-time failures, all in one apply: each fails on the attribute at fault and nothing is
/// left in state. Then plan-time checks of endpoint, base paths and authentication_type.
fn apply_and_plan_errors(tb: &Testbed, cli: &TfCli) -> TestResult {
    let ns = unique(cli, "imageonly");
    let layer = std::fs::read(&tb.charts.mychart_010).map_err(|e| e.to_string())?;
    tb.oci_client(RegistryAuth::None)
        .push_image(&format!("{ns}/app"), "1.0.0", &layer)?;

    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_registry_password", &tb.password);
    tf.write_file("ca.pem", &tb.ca_pem);
    let cfg = format!(
        r#"variable "registry_password" {{
  type      = string
  sensitive = true
}}

resource "chartreg_oci_registry" "wrong_basic" {{
  name           = "wrong-basic"
  endpoint       = "{basic}"
  username       = "{user}"
  password       = "not-the-password"
  ca_certificate = file("${{path.module}}/ca.pem")
}}

resource "chartreg_oci_registry" "wrong_token" {{
  name           = "wrong-token"
  endpoint       = "{token}"
  username       = "{user}"
  password       = "not-the-password"
  ca_certificate = file("${{path.module}}/ca.pem")
}}

resource "chartreg_oci_registry" "unknown_ca" {{
  name     = "unknown-ca"
  endpoint = "{basic}"
  username = "{user}"
  password = var.registry_password
}}

resource "chartreg_oci_registry" "empty_path" {{
  name               = "empty-path"
  endpoint           = "http://{plain}"
  base_content_paths = ["charts", "nothing/here"]
}}

resource "chartreg_oci_registry" "image_only" {{
  name               = "image-only"
  endpoint           = "http://{plain}"
  base_content_paths = ["{ns}"]
}}
"#,
        basic = tb.oci.basic,
        token = tb.oci.token,
        plain = tb.oci.plain,
        user = tb.user,
    );
    tf.write(&cfg);
    let out = tf.apply_err()?;
    let result = (|| {
        for addr in ["wrong_basic", "wrong_token"] {
            diag_for(
                &out,
                "Error: Registry Credentials Rejected",
                &format!("chartreg_oci_registry.{addr}"),
                &[
                    r#"password       = "not-the-password""#,
                    "Check `username` and `password`",
                ],
            )?;
        }
        diag_for(
            &out,
            "Error: Registry TLS Certificate Not Trusted",
            "chartreg_oci_registry.unknown_ca",
            &["Trust the registry's CA with `ca_certificate`"],
        )?;
        diag_for(
            &out,
            "Error: No Helm Charts Under Base Path",
            "chartreg_oci_registry.empty_path",
            &[
                r#"base_content_paths = ["charts", "nothing/here"]"#,
                "\"nothing/here\"",
                "Check `base_content_paths`",
            ],
        )?;
        diag_for(
            &out,
            "Error: No Helm Charts Under Base Path",
            "chartreg_oci_registry.image_only",
            &[
                &format!(r#"base_content_paths = ["{ns}"]"#),
                "none holds a Helm chart",
            ],
        )?;
        ensure(!out.combined().contains(&tb.password), || {
            "the password shows in the error output".into()
        })?;
        let errors = diag_blocks(&out)
            .iter()
            .filter(|b| b.starts_with("Error: "))
            .count();
        ensure(errors == 5, || {
            format!("expected exactly 5 errors, got {errors}:\n{out}")
        })?;
        state_is_empty(&tf)?;
        ensure(
            !tf.dir.join("terraform.tfstate").exists()
                || tf
                    .resource_attrs("chartreg_oci_registry.empty_path")
                    .is_err(),
            || "failed resources left in state".into(),
        )
    })();
    result?;

    // plan-time: no request is made (the endpoints name a closed port)
    let closed = format!("127.0.0.1:{}", harness::servers::free_port());
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        r#"resource "chartreg_oci_registry" "bad_endpoint" {{
  name     = "bad-endpoint"
  endpoint = "ftp://{closed}"
}}

resource "chartreg_oci_registry" "bad_path" {{
  name               = "bad-path"
  endpoint           = "{closed}"
  base_content_paths = ["ok/path", "Bad Path"]
}}

resource "chartreg_oci_registry" "bad_auth" {{
  name                = "bad-auth"
  endpoint            = "{closed}"
  authentication_type = "kerberos"
}}

resource "chartreg_oci_registry" "ecr" {{
  name                = "ecr"
  endpoint            = "{closed}"
  authentication_type = "ecr"
}}
"#
    ));
    let t = std::time::Instant::now();
    let p = tf.plan(&[]);
    let took = t.elapsed();
    ensure(p.code == 1, || format!("plan should fail:\n{p}"))?;
    diag_for(
        &p,
        "Error: Invalid Endpoint",
        "chartreg_oci_registry.bad_endpoint",
        &[
            &format!(r#"endpoint = "ftp://{closed}""#),
            "unsupported scheme",
        ],
    )?;
    diag_for(
        &p,
        "Error: Invalid Base Content Path",
        "chartreg_oci_registry.bad_path",
        &[
            r#"base_content_paths = ["ok/path", "Bad Path"]"#,
            "\"Bad Path\"",
        ],
    )?;
    diag_for(
        &p,
        "Error: Invalid Authentication Type",
        "chartreg_oci_registry.bad_auth",
        &[r#"authentication_type = "kerberos""#],
    )?;
    diag_for(
        &p,
        "Error: Authentication Type Not Available",
        "chartreg_oci_registry.ecr",
        &[r#"authentication_type = "ecr""#],
    )?;
    let errors = diag_blocks(&p)
        .iter()
        .filter(|b| b.starts_with("Error: "))
        .count();
    ensure(errors == 4, || {
        format!("expected exactly 4 plan errors, got {errors}:\n{p}")
    })?;
    ensure(
        !p.contains("Registry Unreachable") && took.as_secs() < 30,
        || format!("plan-time checks made requests ({took:?}):\n{p}"),
    )?;
    state_is_empty(&tf)
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

    let reg = tb.spawn_registry(RegistryAuth::None);
    reg.push(&tb.charts.mychart_010, "library")?;
    reg.push(&tb.charts.mychart_020, "library")?;
    reg.push(&tb.charts.other_100, "team-a/charts")?;
    let endpoint = format!("http://{}", reg.host);
    let var = format!("oci_endpoint={endpoint}");

    let tf = Tf::new(tb, cli);
    tf.write(&resource_tf);
    let result = (|| {
        tf.run_ok(&apply_args(&["-var", &var]))?;
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
        let p = tf.plan(&["-detailed-exitcode", "-var", &var]);
        ensure(p.code == 0, || format!("second plan is not empty:\n{p}"))?;

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
        tf.run_ok(&[
            "import",
            "-input=false",
            "-no-color",
            "-var",
            &var,
            &addr,
            &id,
        ])?;
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
        let p = tf.plan(&["-detailed-exitcode", "-var", &var]);
        ensure(
            p.code == 2
                && p.contains("chartreg_oci_registry.harbor will be updated in-place")
                && p.contains("0 to add, 1 to change, 0 to destroy"),
            || format!("plan after import:\n{p}"),
        )?;
        tf.run_ok(&apply_args(&["-var", &var]))?;
        let p = tf.plan(&["-detailed-exitcode", "-var", &var]);
        ensure(p.code == 0, || format!("plan after converging:\n{p}"))?;
        tf.run_ok(&[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            &var,
        ])?;
        state_is_empty(&tf)
    })();
    if result.is_err() {
        let _ = tf.run(&[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            &var,
        ]);
    }
    result
}
