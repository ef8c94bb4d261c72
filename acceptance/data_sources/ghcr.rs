//! `data_sources::ghcr::*`: Palette's GHCR tab against a GHCR-shaped registry: a token registry
//! whose token server gives anonymous users `pull` on repositories and refuses the catalog scope
//! to everyone (as GHCR and Docker Hub do), charts under `org/charts/`.
//!
//! - `sync_off_by_name`: endpoint with a path prefix (`host/org/charts`), synchronization off,
//!   anonymous: the registration validates, and a chart given by name and exact version resolves
//!   to `oci://host/org/charts/<name>` with no request at plan (registry and token server logs),
//!   which the real `helm pull` fetches.
//! - `base_path_lists_versions`: synchronization on and the chart repository named in
//!   `base_content_paths`: its versions are listed.
//! - `unlistable_prefix`: a base path that is a prefix, not a repository, cannot be listed: the
//!   error names the fix (`base_content_paths`).

use std::sync::Arc;

use libtest_mimic::Trial;

use super::{helm_pull, make_charts, WEB_VERSIONS};
use crate::harness::{
    ensure,
    registry::spawn_registry_with_token,
    tokenserver::{spawn_ghcr_token_server, GhcrTokenServer},
    Cases, RegistryAuth, RegistryServer, TestResult, Testbed, Tf, TfCli, LOOPBACK,
};

struct Ghcr {
    cli: TfCli,
    reg: RegistryServer,
    tokens: GhcrTokenServer,
}

fn setup(tb: &Testbed, cli: &TfCli) -> TestResult<Ghcr> {
    let tokens = spawn_ghcr_token_server(tb)?;
    let reg = spawn_registry_with_token(tb, LOOPBACK, RegistryAuth::Token, &tokens.server)?;
    let charts = make_charts(tb)?;
    for tgz in &charts.web {
        reg.push(tgz, "org/charts")?;
    }
    Ok(Ghcr {
        cli: cli.clone(),
        reg,
        tokens,
    })
}

fn registry(tb: &Testbed, g: &Ghcr, name: &str, path: &str, sync: bool, base: &str) -> String {
    let base = if base.is_empty() {
        String::new()
    } else {
        format!("  base_content_paths = [\"{base}\"]\n")
    };
    format!(
        "resource \"chartreg_oci_registry\" \"g\" {{\n  name            = \"{name}\"\n  endpoint        = \"{}/{path}\"\n  synchronization = {sync}\n  ca_certificate  = {}\n{base}}}\n",
        g.reg.host,
        serde_json::to_string(&tb.ca_pem).unwrap()
    )
}

fn lines(p: &std::path::Path) -> usize {
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
}

fn ghcr(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "data_sources::ghcr", setup)
        .case("sync_off_by_name", |tb, g| {
            let tf = Tf::new(tb, &g.cli);
            let reg = registry(tb, g, &format!("ghcr-off-{}", tf_id(&tf)), "org/charts", false, "");
            tf.write(&reg);
            tf.apply()?;
            tf.write(&format!(
                "{reg}\ndata \"chartreg_helm_chart\" \"c\" {{\n  registry = chartreg_oci_registry.g\n  name     = \"web\"\n  version  = \"1.2.3\"\n}}\n\noutput \"repository\" {{\n  value = data.chartreg_helm_chart.c.repository\n}}\noutput \"chart\" {{\n  value = data.chartreg_helm_chart.c.chart\n}}\noutput \"version\" {{\n  value = data.chartreg_helm_chart.c.version\n}}\n"
            ));
            let (before_reg, before_tok) = (lines(&g.reg.log), lines(&g.tokens.server.log));
            let p = tf.plan_json(&[]).ok()?;
            let (after_reg, after_tok) = (lines(&g.reg.log), lines(&g.tokens.server.log));
            ensure(before_reg == after_reg && before_tok == after_tok, || {
                format!("a plan with synchronization off made requests: registry log {before_reg} -> {after_reg} lines, token server {before_tok} -> {after_tok}")
            })?;
            ensure(p.errors().is_empty(), || format!("{}", p.output))?;
            tf.apply()?;
            let repo = tf.output("repository")?;
            let want = format!("oci://{}/org/charts", g.reg.host);
            ensure(repo == want.as_str() && tf.output("chart")? == "web", || {
                format!("repository {repo}, want {want}")
            })?;
            // What helm_release would pull: anonymous, as the registration is.
            let flags = vec!["--ca-file".to_string(), tb.ca_cert.display().to_string()];
            let tgz = helm_pull(tb, &want, "web", Some("1.2.3"), &flags)?;
            ensure(tgz.ends_with("web-1.2.3.tgz"), || format!("{}", tgz.display()))
        })
        .case("base_path_lists_versions", |tb, g| {
            let tf = Tf::new(tb, &g.cli);
            let reg = registry(tb, g, &format!("ghcr-on-{}", tf_id(&tf)), "org/charts", true, "web");
            tf.write(&format!(
                "{reg}\ndata \"chartreg_helm_chart\" \"c\" {{\n  registry = chartreg_oci_registry.g\n  name     = \"web\"\n}}\n\noutput \"versions\" {{\n  value = data.chartreg_helm_chart.c.versions\n}}\noutput \"version\" {{\n  value = data.chartreg_helm_chart.c.version\n}}\n"
            ));
            tf.apply()?;
            let mut want: Vec<&str> = WEB_VERSIONS.to_vec();
            want.reverse();
            let versions = tf.output("versions")?;
            ensure(versions == serde_json::json!(want), || format!("versions {versions}"))?;
            let v = tf.output("version")?;
            ensure(v == "2.1.0+build.5", || format!("newest stable: {v}"))
        })
        .case("unlistable_prefix", |tb, g| {
            let tf = Tf::new(tb, &g.cli);
            tf.write(&registry(tb, g, &format!("ghcr-prefix-{}", tf_id(&tf)), "org", true, "charts"));
            let out = tf.apply_json(&[]).failed()?;
            // The resource places it on `endpoint` (the culprit of a refused catalog); the
            // detail names the fix.
            let e = out.expect_error("Registry Catalog Not Listable", "chartreg_oci_registry.g.endpoint")?;
            ensure(
                e.detail_has("Name the chart repositories themselves in `base_content_paths`"),
                || format!("{e}"),
            )?;
            out.expect_error_count(1)
        })
        .trials()
}

fn tf_id(tf: &Tf) -> String {
    tf.cli.label.replace('.', "") + "-" + &crate::harness::fixtures::random_hex(3)
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    ghcr(tb)
}
