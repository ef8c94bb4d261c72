//! `refresh_tls::certificate_for_another_name`: a TLS certificate for another name on refresh.
//!
//! A Helm repository (the testbed's HTTPS nginx) and an OCI registry (the HTTPS docker-registry,
//! basic auth) are registered through [`TcpTunnel`]s on 127.0.0.1 with the test CA as
//! `ca_certificate`: the certificates behind them name 127.0.0.1, so the clean apply works. Each
//! tunnel is then switched (same port) to an `openssl s_server` whose certificate, from the same
//! CA, is for `other.invalid`. `apply -refresh-only -json` must give a warning "Registry TLS
//! Certificate Name Mismatch" on each resource saying the previous index (catalog) is kept, no error,
//! `terraform show -json` as it was, and one connection per tunnel (a name mismatch is not
//! retried). Switched back, the next refresh has no warning.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::{cache_clean, host_port, provider_block, q, HELM, OCI};
use crate::harness::{
    self, ensure, spawn_other_name_tls, Severity, TcpTunnel, TestResult, Testbed, Tf, TfCli,
    LOOPBACK,
};

const SUMMARY: &str = "Registry TLS Certificate Name Mismatch";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "faults::refresh_tls",
        &[("certificate_for_another_name", certificate_for_another_name)],
    )
}

/// `show -json` without what may differ between two reads of the same state (none of the
/// resources' values).
fn shown(tf: &Tf) -> TestResult<Value> {
    let mut v = tf.state_json()?;
    ensure(v["values"]["root_module"]["resources"].is_array(), || {
        format!("no resources in `show -json`: {v}")
    })?;
    if let Some(o) = v.as_object_mut() {
        o.remove("terraform_version");
    }
    Ok(v)
}

fn certificate_for_another_name(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (_wrong, wrong_port) = spawn_other_name_tls(tb)?;
    let wrong = format!("127.0.0.1:{wrong_port}");
    let (helm_real, oci_real) = (host_port(&tb.helm.https), tb.oci.basic.clone());
    let helm_tunnel = TcpTunnel::start(LOOPBACK, &helm_real);
    let oci_tunnel = TcpTunnel::start(LOOPBACK, &oci_real);

    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_registry_password", &tb.password);
    let cache = tf.dir.join("cache");
    tf.write(&format!(
        "{}variable \"registry_password\" {{\n  type      = string\n  sensitive = true\n}}\n\n\
         resource {HELM:?} \"h\" {{\n  name           = \"h\"\n  endpoint       = {}\n  ca_certificate = {ca}\n}}\n\n\
         resource {OCI:?} \"o\" {{\n  name           = \"o\"\n  endpoint       = {}\n  username       = {}\n  password       = var.registry_password\n  ca_certificate = {ca}\n}}\n",
        provider_block(&cache, ""),
        q(&format!("https://{}/public", helm_tunnel.addr)),
        q(&format!("https://{}/charts", oci_tunnel.addr)),
        q(&tb.user),
        ca = q(&tb.ca_pem)
    ));
    let out = tf.apply_json(&[]).ok()?;
    ensure(out.diagnostics.is_empty(), || {
        format!("the clean apply (the certificates name 127.0.0.1) has diagnostics:\n{out}")
    })?;
    let (h, o) = (format!("{HELM}.h"), format!("{OCI}.o"));
    for addr in [&h, &o] {
        let a = tf.resource_attrs(addr)?;
        ensure(a["chart_count"].as_u64().is_some_and(|n| n > 0), || {
            format!("{addr}: an empty catalog after the clean apply: {a}")
        })?;
    }
    let before = shown(&tf)?;

    helm_tunnel.set_upstream(&wrong);
    oci_tunnel.set_upstream(&wrong);
    let (n_helm, n_oci) = (helm_tunnel.connections(), oci_tunnel.connections());
    let out = tf.apply_json(&["-refresh-only"]).ok()?;
    ensure(out.errors().is_empty(), || {
        format!("a TLS name mismatch on refresh must not be an error:\n{out}")
    })?;
    // as on every failed refresh: a Helm repository keeps its index, an OCI registry its catalog
    for (addr, kept) in [(&h, "index"), (&o, "catalog")] {
        let mine: Vec<_> = out
            .diagnostics
            .iter()
            .filter(|d| &d.object == addr)
            .collect();
        ensure(mine.len() == 1, || {
            format!("{addr}: expected exactly one diagnostic:\n{out}")
        })?;
        let d = mine[0];
        ensure(
            d.severity == Severity::Warning && d.summary == SUMMARY,
            || format!("{addr}: expected the warning {SUMMARY:?}:\n{out}"),
        )?;
        ensure(
            d.detail
                .contains(&format!("refresh failed, the previous {kept} is kept")),
            || format!("{addr}: the warning should say the previous {kept} is kept:\n{d}"),
        )?;
        ensure(d.detail.contains("other.invalid"), || {
            format!("{addr}: the warning should name the certificate's name (other.invalid):\n{d}")
        })?;
    }
    ensure(out.diagnostics.len() == 2, || {
        format!("expected 2 warnings:\n{out}")
    })?;
    let after = shown(&tf)?;
    ensure(after == before, || {
        format!("`show -json` changed on a failed refresh:\nbefore {before}\nafter  {after}")
    })?;
    let (c_helm, c_oci) = (
        helm_tunnel.connections() - n_helm,
        oci_tunnel.connections() - n_oci,
    );
    eprintln!(
        "faults::refresh_tls::{}: connections to the wrong-name server: helm {c_helm}, oci {c_oci}",
        cli.label
    );
    ensure(c_helm == 1 && c_oci == 1, || {
        format!("a TLS name mismatch is not retryable: expected 1 connection per tunnel, saw helm {c_helm}, oci {c_oci}")
    })?;

    helm_tunnel.set_upstream(&helm_real);
    oci_tunnel.set_upstream(&oci_real);
    let out = tf.apply_json(&["-refresh-only"]).ok()?;
    ensure(out.diagnostics.is_empty(), || {
        format!("the right certificates are back, yet:\n{out}")
    })?;
    // Not compared with `before`: other trials of a full run may push to the shared registry's
    // `charts` namespace meanwhile, which this refresh rightly picks up.
    cache_clean(&cache).map(drop)
}
