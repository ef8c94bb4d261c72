//! Fault scenarios whose steps depend on each other, each under Terraform 1.0 and 1.15:
//!
//! - `outage::comeback`: a Helm repository and an OCI registry (dedicated ones) go down
//!   (connection refused); a refresh warns and keeps both catalogs; a chart version is published
//!   to each meanwhile; once they are back, the next refresh has no warning and picks the new
//!   versions up.
//! - `interrupt::ctrl_c_during_refresh`: SIGINT to terraform's process group (a terminal's
//!   Ctrl-C) while `apply -refresh-only` stalls on the registry; `interrupt::stop_during_refresh`:
//!   SIGINT to terraform alone (as CI runners send it) while `plan` refreshes, which Terraform
//!   answers with StopProvider. Terraform returns within seconds, nothing reads like a crash, and
//!   the state is parseable with the prior values (`security::transport` covers both during a
//!   create). Not covered, because Terraform does not allow it: SIGINT to terraform alone during
//!   the refresh of an `apply`, which plans without watching for interrupts (no StopProvider, no
//!   signal reaches the plugin) and so waits for the refresh's time budget.

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::Trial;
use serde_json::Value;

use super::{cache_clean, host_port, provider_block, q, HELM, OCI};
use crate::harness::interrupt::{interrupt_in_flight, Signal};
use crate::harness::{
    self, ensure, Fault, FaultServer, RegistryAuth, Severity, TestResult, Testbed, Tf, TfCli,
};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = harness::scenarios(
        tb,
        "faults",
        &[
            ("outage::comeback", comeback),
            ("spool::large_index_cut_short", large_index_cut_short),
            ("interrupt::ctrl_c_during_refresh", |tb, cli| {
                interrupted_refresh(tb, cli, true)
            }),
            ("interrupt::stop_during_refresh", |tb, cli| {
                interrupted_refresh(tb, cli, false)
            }),
        ],
    );
    v.extend(super::ecr::tests(tb));
    v
}

fn helm_res(name: &str, endpoint: &str) -> String {
    format!(
        "resource {HELM:?} {name:?} {{\n  name     = {name:?}\n  endpoint = {}\n}}\n\n",
        q(endpoint)
    )
}

fn oci_res(name: &str, endpoint: &str) -> String {
    format!(
        "resource {OCI:?} {name:?} {{\n  name     = {name:?}\n  endpoint = {}\n}}\n\n",
        q(endpoint)
    )
}

fn comeback(tb: &Testbed, cli: &TfCli) -> TestResult {
    let repo = tb.try_spawn_helm_repo("comeback", false, false)?;
    let reg = tb.try_spawn_registry(RegistryAuth::None)?;
    reg.push(&tb.charts.mychart_010, "charts")?;
    let helm_proxy = FaultServer::proxy(&host_port(&repo.url));
    let oci_proxy = FaultServer::proxy(&reg.host);
    let tf = Tf::new(tb, cli);
    let cache = tf.dir.join("cache");
    tf.write(&format!(
        "{}{}{}",
        provider_block(&cache, ""),
        helm_res("back", &helm_proxy.url("/")),
        oci_res("back", &oci_proxy.url("/charts"))
    ));
    tf.apply_json(&[]).ok()?;
    let (h, o) = (format!("{HELM}.back"), format!("{OCI}.back"));
    let (h0, o0) = (tf.resource_attrs(&h)?, tf.resource_attrs(&o)?);
    ensure(h0["version_count"] == 1 && o0["version_count"] == 1, || {
        format!("before the outage: {h0}\n{o0}")
    })?;

    helm_proxy.set_down(true);
    oci_proxy.set_down(true);
    repo.publish("mychart", "0.3.0")?;
    reg.push(&tb.charts.mychart_020, "charts")?;
    let out = tf.apply_json(&["-refresh-only"]).ok()?;
    for addr in [&h, &o] {
        ensure(
            out.diagnostics.iter().any(|d| {
                d.severity == Severity::Warning
                    && d.summary == "Registry Unreachable"
                    && &d.object == addr
            }),
            || format!("no \"Registry Unreachable\" warning on {addr}:\n{out}"),
        )?;
    }
    ensure(
        tf.resource_attrs(&h)? == h0 && tf.resource_attrs(&o)? == o0,
        || "a refresh during the outage changed the state".into(),
    )?;

    helm_proxy.set_down(false);
    oci_proxy.set_down(false);
    let out = tf.apply_json(&["-refresh-only"]).ok()?;
    ensure(out.warnings().is_empty(), || {
        format!("the registries are back, yet:\n{out}")
    })?;
    let (h1, o1) = (tf.resource_attrs(&h)?, tf.resource_attrs(&o)?);
    ensure(
        h1["version_count"] == 2
            && crate::chart_state::snapshot_versions(&h1, "mychart")
                .first()
                .map(String::as_str)
                == Some("0.3.0"),
        || format!("the version published during the outage was not picked up: {h1}"),
    )?;
    ensure(
        o1["version_count"] == 2 && o1["charts"]["mychart"]["latest_version"] == "0.2.0",
        || format!("the version pushed during the outage was not picked up: {o1}"),
    )?;
    cache_clean(&cache).map(drop)
}

/// An index over the in-memory threshold (16 MiB: spooled to a temporary file as it arrives),
/// cut short: on create (reset, for good: an error), on create again (truncated once: the retry
/// succeeds from a new spool) and on refresh (reset, for good: a warning, the index kept). No
/// spool file is left in the provider's temporary directory (`TMPDIR`), nothing half-written in
/// `cache_dir`.
fn large_index_cut_short(tb: &Testbed, cli: &TfCli) -> TestResult {
    // one chart, then comment lines: 24 MiB that parse quickly, cut after 20 MiB (spooled)
    let mut index = String::from(
        "apiVersion: v1\nentries:\n  big:\n  - apiVersion: v2\n    name: big\n    version: 0.1.0\n    description: an index over the spool threshold\n    urls:\n    - big-0.1.0.tgz\n",
    );
    let line = format!("# {}\n", "p".repeat(77));
    while index.len() < 24 << 20 {
        index.push_str(&line);
    }
    let body = index.into_bytes();
    let half = body[..20 << 20].to_vec();
    let cut = |reset: bool| {
        let (status, headers, body, declared) = (200, Vec::new(), half.clone(), body.len());
        if reset {
            Fault::ResetMidBody {
                status,
                headers,
                body,
                declared,
            }
        } else {
            Fault::Truncate {
                status,
                headers,
                body,
                declared,
            }
        }
    };
    let fs = FaultServer::start();
    let mut tf = Tf::new(tb, cli);
    let tmp = tf.dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    tf.env("TMPDIR", &tmp.display().to_string());
    let cache = tf.dir.join("cache");
    let provider = format!(
        "provider \"chartreg\" {{\n  request_timeout = \"30s\"\n  max_retries     = 2\n  max_index_size  = {}\n  cache_dir       = {}\n}}\n\n",
        64 << 20,
        q(&cache.display().to_string())
    );
    let spools = || -> Vec<String> {
        std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("chartreg-index-"))
            .collect()
    };
    let addr = format!("{HELM}.big");
    tf.write(&format!("{provider}{}", helm_res("big", &fs.url("/big"))));

    fs.route("/big/index.yaml", vec![cut(true)]);
    let out = tf.apply_json(&[]).failed()?;
    out.expect_error("Registry Request Failed", &format!("{addr}.endpoint"))?;
    let n = fs.requests_to("/big/index.yaml").len();
    ensure(n == 3, || {
        format!("a reset that persists: expected 3 attempts, saw {n}")
    })?;
    ensure(spools().is_empty(), || {
        format!("spool files left after a failed create: {:?}", spools())
    })?;
    tf.expect_empty_state()?;
    cache_clean(&cache)?;

    fs.route("/big/index.yaml", vec![cut(false), Fault::ok(body.clone())]);
    fs.clear_log();
    tf.apply_json(&[]).ok()?;
    let a = tf.resource_attrs(&addr)?;
    ensure(a["version_count"] == 1, || {
        format!("the large index is not in state: {a}")
    })?;
    ensure(fs.requests_to("/big/index.yaml").len() == 2, || {
        "expected 2 attempts".into()
    })?;
    ensure(spools().is_empty(), || {
        format!("spool files left after a create: {:?}", spools())
    })?;

    fs.route("/big/index.yaml", vec![cut(true)]);
    let out = tf.apply_json(&["-refresh-only"]).ok()?;
    out.expect_warning("Registry Request Failed", &format!("{addr}.endpoint"))
        .or_else(|_| out.expect_warning("Registry Request Failed", &addr))?;
    ensure(tf.resource_attrs(&addr)? == a, || {
        "a failed refresh changed the state".into()
    })?;
    ensure(spools().is_empty(), || {
        format!("spool files left after a failed refresh: {:?}", spools())
    })?;
    cache_clean(&cache).map(drop)
}

/// How long Terraform may take to exit after the signal.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// A registration applied cleanly, then refreshed while its index stalls (90 s, default
/// `request_timeout` and `max_retries`: minutes without cancellation), interrupted by SIGINT.
fn interrupted_refresh(tb: &Testbed, cli: &TfCli, whole_group: bool) -> TestResult {
    let proxy = FaultServer::proxy(&host_port(&tb.helm.http));
    let tf = Tf::new(tb, cli);
    tf.write(&helm_res("stall", &proxy.url("/public")));
    tf.apply_json(&[]).ok()?;
    let addr = format!("{HELM}.stall");
    let before = tf.resource_attrs(&addr)?;
    proxy.route(
        "/public/index.yaml",
        vec![Fault::Stall(Duration::from_secs(90))],
    );
    proxy.clear_log();

    let args: &[&str] = if whole_group {
        &[
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ]
    } else {
        &["plan", "-input=false", "-no-color"]
    };
    let mut cmd = tf.command(args);
    if !harness::sweep::enabled() {
        // what Terraform and the provider did about the signal, kept with the workspace
        cmd.env("TF_LOG", "trace")
            .env("TF_LOG_PATH", tf.dir.join("interrupt-trace.log"));
    }
    let signal = if whole_group {
        Signal::ProcessGroup
    } else {
        Signal::TerraformOnly
    };
    let run = interrupt_in_flight(
        cmd,
        args.iter().map(|a| a.to_string()).collect(),
        &cli.label,
        signal,
        EXIT_WITHIN,
        "the refresh never requested the index",
        || !proxy.requests_to("/public/index.yaml").is_empty(),
    )?;
    run.exited_cleanly(EXIT_WITHIN, "refresh")?;
    eprintln!(
        "faults::interrupt::{}: terraform exited {:.2} s after SIGINT during a refresh ({})",
        cli.label,
        run.took.as_secs_f64(),
        match signal {
            Signal::ProcessGroup => "process group",
            Signal::TerraformOnly => "terraform only: StopProvider",
        }
    );
    run.group_gone()?;
    // The state file is whole JSON and keeps the prior values.
    let raw =
        std::fs::read_to_string(tf.dir.join("terraform.tfstate")).map_err(|e| e.to_string())?;
    serde_json::from_str::<Value>(&raw)
        .map_err(|e| format!("the state is not JSON after the interrupt: {e}"))?;
    let after = tf.resource_attrs(&addr)?;
    ensure(after == before, || {
        format!("the interrupted refresh changed the state:\nbefore {before}\nafter  {after}")
    })?;
    // And the registry still refreshes once it answers.
    proxy.route("/public/index.yaml", vec![Fault::Forward]);
    tf.refresh_only()?;
    Ok(())
}
