//! `oci_registry::auth_flavours::*`: the three shared registries (plain, basic + TLS, bearer
//! token) list the same chart as `helm show chart` reports it; token requests are pull-only; no
//! token or password in outputs, and in state only as the sensitive `password`.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::{
    addr, chart_keys, count, file_len, helm_push, read_from, unique, versions, PASSWORD_VAR, RT,
};
use crate::harness::{
    self, ensure, run_cmd, servers::registry_flags, Cases, HelmHome, RegistryAuth, TestResult,
    Testbed, Tf, TfCli, TfOutput,
};

fn helm_show_chart(
    tb: &Testbed,
    home: &HelmHome,
    oci_url: &str,
    version: &str,
    auth: RegistryAuth,
) -> TestResult<serde_norway::Value> {
    let out = run_cmd(
        home.helm()
            .args(["show", "chart", oci_url, "--version", version])
            .args(registry_flags(tb, auth)),
    )?;
    serde_norway::from_slice(&out.stdout).map_err(|e| format!("helm show chart {oci_url}: {e}"))
}

fn yaml_str(v: &serde_norway::Value, k: &str) -> String {
    match &v[k] {
        serde_norway::Value::String(s) => s.clone(),
        serde_norway::Value::Null => String::new(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

// ------------------------------------------------------------------ auth flavours

const FLAVOURS: [(&str, RegistryAuth); 3] = [
    ("plain", RegistryAuth::None),
    ("basic", RegistryAuth::Basic),
    ("token", RegistryAuth::Token),
];

/// Versions pushed for the flavour chart: a release, a newer release with build metadata, a
/// newer pre-release.
const FLAVOUR_VERSIONS: [(&str, &str, &str); 3] = [
    ("1.2.3", "3.0.0", "Flavour chart, first release"),
    ("1.2.4+build.5", "3.1.0", "Flavour chart, second release"),
    ("2.0.0-rc.1", "4.0.0-rc", "Flavour chart, next pre-release"),
];

struct Flavours {
    tf: Tf,
    home: HelmHome,
    /// `<ns>/flavour`
    key: String,
    ns: String,
    apply: TfOutput,
    plan: TfOutput,
    /// What the token server logged during apply and plan.
    token_log: String,
}

/// The same freshly pushed chart under a unique namespace of each shared registry, registered
/// three times; apply and plan.
fn flavours_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Flavours> {
    let ns = unique(cli, "flavour");
    let tgzs: Vec<_> = FLAVOUR_VERSIONS
        .iter()
        .map(|(v, app, d)| tb.try_package_chart("flavour", v, app, d))
        .collect::<TestResult<_>>()?;
    let home = tb.helm_home();
    for (_, auth) in FLAVOURS {
        for tgz in &tgzs {
            helm_push(tb, &home, auth, tgz, &ns)?;
        }
    }
    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_registry_password", &tb.password);
    tf.write_file("ca.pem", &tb.ca_pem);
    let auth = format!(
        "  username           = \"{}\"\n  password           = var.registry_password\n  ca_certificate     = file(\"${{path.module}}/ca.pem\")\n",
        tb.user
    );
    let r = |name: &str, endpoint: &str, path: &str, extra: &str| {
        format!(
            "resource {RT:?} {name:?} {{\n  name               = {name:?}\n  endpoint           = {endpoint:?}\n  base_content_paths = [{path:?}]\n{extra}}}\n\n"
        )
    };
    tf.write(&format!(
        "{PASSWORD_VAR}\n{}{}{}",
        r("plain", &format!("http://{}", tb.oci.plain), &ns, ""),
        r("basic", &tb.oci.basic, &ns, &auth),
        r(
            "token",
            &format!("oci://{}", tb.oci.token),
            &format!("{ns}/"),
            &auth
        ),
    ));
    let token_log_start = file_len(&tb.token.log);
    let apply = tf.apply()?;
    let plan = tf.plan(&["-detailed-exitcode"]);
    // only the provider asks the token server for this namespace until here
    let token_log = read_from(&tb.token.log, token_log_start);
    Ok(Flavours {
        tf,
        home,
        key: format!("{ns}/flavour"),
        ns,
        apply,
        plan,
        token_log,
    })
}

pub(super) fn auth_flavours(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut cases = Cases::new(tb, "oci_registry::auth_flavours", flavours_setup);
    for (name, auth) in FLAVOURS {
        cases = cases.case(name, move |tb, f| flavour_listing(tb, f, name, auth));
    }
    cases
        .case("helm_sees_three_versions", |tb, f| {
            let url = format!("oci://{}/{}", tb.oci.plain, f.key);
            let mut shown = Vec::new();
            for (v, _, _) in FLAVOUR_VERSIONS {
                let c = helm_show_chart(tb, &f.home, &url, v, RegistryAuth::None)?;
                shown.push(yaml_str(&c, "version"));
            }
            ensure(shown == ["1.2.3", "1.2.4+build.5", "2.0.0-rc.1"], || {
                format!("helm show chart versions: {shown:?}")
            })
        })
        .case("second_plan_empty", |_, f| {
            ensure(f.plan.code == 0, || {
                format!("expected an empty plan after apply:\n{}", f.plan)
            })
        })
        .case("token_requests_pull_only", |tb, f| {
            let mine: Vec<&str> = f.token_log.lines().filter(|l| l.contains(&f.ns)).collect();
            ensure(!mine.is_empty(), || {
                format!(
                    "no token request for {} in the token server log:\n{}",
                    f.ns, f.token_log
                )
            })?;
            for l in &mine {
                let scopes = l
                    .split("scopes=")
                    .nth(1)
                    .and_then(|s| s.split(" -> ").next())
                    .unwrap_or_default();
                for s in scopes.split_whitespace().filter(|s| s.contains(&f.ns)) {
                    ensure(s.starts_with("repository:") && s.ends_with(":pull"), || {
                        format!("token request not scoped to pull only: {l}")
                    })?;
                }
                ensure(
                    l.contains(&format!("user={} ", tb.user)) && l.ends_with("-> 200"),
                    || format!("token request not made as {} or refused: {l}", tb.user),
                )?;
            }
            Ok(())
        })
        .case("no_secret_in_output", |tb, f| {
            let show = f.tf.run_ok(&["show", "-no-color"])?;
            for (what, text) in [
                ("apply", f.apply.combined()),
                ("plan", f.plan.combined()),
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
            })
        })
        .case("password_only_in_password_attribute", |tb, f| {
            let state_file = std::fs::read_to_string(f.tf.dir.join("terraform.tfstate"))
                .map_err(|e| format!("terraform.tfstate: {e}"))?;
            ensure(
                !state_file.contains("eyJ") && !state_file.contains("Bearer"),
                || "a registry token is in terraform.tfstate".to_string(),
            )?;
            let state: Value = serde_json::from_str(&state_file).map_err(|e| e.to_string())?;
            for r in state["resources"].as_array().into_iter().flatten() {
                for inst in r["instances"].as_array().into_iter().flatten() {
                    state_password(tb, r["name"].as_str().unwrap_or_default(), inst)?;
                }
            }
            Ok(())
        })
        .trials()
}

/// A flavour's registration lists the chart as `helm show chart` reports it (its latest release
/// from that flavour's registry).
fn flavour_listing(tb: &Testbed, f: &Flavours, name: &str, auth: RegistryAuth) -> TestResult {
    let key = &f.key;
    let a = f.tf.resource_attrs(&addr(name))?;
    let c = &a["charts"][key];
    let ctx = || format!("{name}: {}", harness::redact(&a.to_string()));
    ensure(chart_keys(&a) == [key.clone()], ctx)?;
    ensure(
        versions(&a, key) == ["2.0.0-rc.1", "1.2.4+build.5", "1.2.3"],
        ctx,
    )?;
    ensure(
        count(&a, "chart_count") == 1 && count(&a, "version_count") == 3,
        ctx,
    )?;
    let url = format!("oci://{}/{key}", tb.oci.host(auth));
    let from_helm = helm_show_chart(tb, &f.home, &url, "1.2.4+build.5", auth)?;
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
    )
}

/// The password is in the state only as the (sensitive) `password` attribute.
fn state_password(tb: &Testbed, name: &str, inst: &Value) -> TestResult {
    let mut attrs = inst["attributes"].clone();
    let pw = attrs
        .as_object_mut()
        .and_then(|m| m.remove("password"))
        .unwrap_or(Value::Null);
    ensure(
        (name == "plain" && pw.is_null()) || pw.as_str() == Some(&tb.password),
        || format!("{name}: unexpected password attribute in state"),
    )?;
    ensure(!attrs.to_string().contains(&tb.password), || {
        format!("{name}: the password is in a state attribute other than `password`")
    })?;
    let marked = inst["sensitive_attributes"]
        .to_string()
        .contains("password");
    ensure(name == "plain" || marked, || {
        format!(
            "{name}: password not marked sensitive in state: {}",
            inst["sensitive_attributes"]
        )
    })
}
