//! Plan-time checks (issue 7): secrets never echoed by endpoint checks, numbers and durations of
//! the provider block refused on their attribute (no panic, no serde message), endpoints with port
//! 0 or control characters refused at plan, and TLS / PEM messages that say what a user can fix.
//!
//! - `endpoint_secret_not_echoed_helm`, `endpoint_secret_not_echoed_oci`: endpoints with a
//!   password in the userinfo or a token in the query, from `sensitive` variables, fail at plan
//!   on `endpoint` ("Invalid Endpoint") and neither secret (plain or base64) is anywhere in
//!   Terraform's output.
//! - `huge_request_timeout`: `"999999999999999999999h"` (and other out-of-range durations) is an
//!   error on `request_timeout` naming the accepted range, not a plugin crash.
//! - `non_integer_numbers`: `max_retries = 2.5`, `max_index_size = 1e20` (and friends) are errors
//!   on their attribute, not a deserialization message on the whole provider block.
//! - `tls_name_mismatch_on_endpoint`: a certificate from the trusted CA but for another name is
//!   blamed on `endpoint` ("is for another name"), not on `ca_certificate`.
//! - `bad_pem_message`: a broken `ca_certificate` says which certificate is not a certificate,
//!   without parser internals.
//! - `endpoint_port_zero_and_control_chars`: `:0`, tabs and newlines in an endpoint fail at plan.

use std::sync::Arc;

use libtest_mimic::Trial;

use super::{
    error_count, expect_error_on, flat, helm_resource, in_resource, provider, q, HELM, IN_PROVIDER,
    OCI,
};
use crate::harness::{self, ensure, TestResult, Testbed, Tf, TfCli, TfOutput};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "security::plan_time",
        &[
            (
                "endpoint_secret_not_echoed_helm",
                endpoint_secret_not_echoed_helm,
            ),
            (
                "endpoint_secret_not_echoed_oci",
                endpoint_secret_not_echoed_oci,
            ),
            ("huge_request_timeout", huge_request_timeout),
            ("non_integer_numbers", non_integer_numbers),
            (
                "tls_name_mismatch_on_endpoint",
                tls_name_mismatch_on_endpoint,
            ),
            ("bad_pem_message", bad_pem_message),
            (
                "endpoint_port_zero_and_control_chars",
                endpoint_port_zero_and_control_chars,
            ),
        ],
    )
}

// ------------------------------------------------------------------ helpers

/// None of `secrets` (plain, base64, or base64 of `user:secret`) is in `text`.
fn expect_no_secret(text: &str, user: &str, secrets: &[&str]) -> TestResult {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for s in secrets {
        let forms = [
            s.to_string(),
            b64.encode(s),
            b64.encode(format!("{user}:{s}")),
            b64.encode(s).trim_end_matches('=').to_string(),
        ];
        for f in forms {
            ensure(!text.contains(&f), || {
                format!("secret {s:?} is echoed (as {f:?}) in:\n{text}")
            })?;
        }
    }
    Ok(())
}

/// `plan` with `TF_LOG=trace` into a file; returns the plan output and the log.
fn plan_traced(tf: &mut Tf) -> TestResult<(TfOutput, String)> {
    let log = tf.dir.join("trace.log");
    tf.env("TF_LOG", "trace")
        .env("TF_LOG_PATH", &log.display().to_string());
    let plan = tf.plan(&[]);
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    Ok((plan, text))
}

// ------------------------------------------------------------------ point 3: secrets

/// Helm endpoints that fail the URL check, with a password in the userinfo or a token in the
/// query, given through sensitive variables: the error is on `endpoint` and echoes neither.
fn endpoint_secret_not_echoed_helm(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (pw, token) = ("S3cretPwHelm71", "T0kenQryHelm52");
    let endpoints = [
        ("bad_ipv6", format!("https://ci:{pw}@[::1/x")),
        (
            "bad_ipv6_query",
            format!("https://[::1/charts?token={token}"),
        ),
        (
            "bad_port",
            format!("https://ci:{pw}@127.0.0.1:99999/x?token={token}"),
        ),
        ("no_scheme", format!("robot:{pw}@127.0.0.1:5000")),
        (
            "no_scheme_query",
            format!("127.0.0.1:5000/charts?token={token}"),
        ),
        (
            "userinfo",
            format!("https://ci:{pw}@127.0.0.1:5000/x?token={token}"),
        ),
    ];
    endpoints_refused_without_secret(tb, cli, HELM, "ci", &[pw, token], &endpoints)
}

/// The same for OCI endpoints (`host[:port][/path]`, optionally with a scheme).
fn endpoint_secret_not_echoed_oci(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (pw, token) = ("S3cretPwOci83", "T0kenQryOci64");
    let endpoints = [
        ("userinfo", format!("robot:{pw}@127.0.0.1:5000")),
        (
            "userinfo_scheme",
            format!("https://robot:{pw}@127.0.0.1:5000/charts"),
        ),
        ("bad_ipv6", format!("https://ci:{pw}@[::1/x")),
        ("query", format!("127.0.0.1:5000/charts?token={token}")),
        (
            "query_scheme",
            format!("oci://127.0.0.1:5000/charts?token={token}"),
        ),
        ("slash_in_password", format!("robot:{pw}/x@127.0.0.1:5000")),
    ];
    endpoints_refused_without_secret(tb, cli, OCI, "robot", &[pw, token], &endpoints)
}

/// One resource of type `rt` per `(name, endpoint)`, each endpoint in a sensitive variable: the
/// plan fails with one "Invalid Endpoint" on each `endpoint`, and no form of `secrets` (with
/// `user`) is in its output or its trace log.
fn endpoints_refused_without_secret(
    tb: &Testbed,
    cli: &TfCli,
    rt: &str,
    user: &str,
    secrets: &[&str],
    endpoints: &[(&str, String)],
) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    let mut cfg = String::new();
    for (name, ep) in endpoints {
        cfg.push_str(&format!(
            "variable {name:?} {{\n  type      = string\n  sensitive = true\n  default   = {}\n}}\n\nresource {rt:?} {name:?} {{\n  name     = {}\n  endpoint = var.{name}\n}}\n\n",
            q(ep),
            q(&name.replace('_', "-")),
        ));
    }
    tf.write(&cfg);
    let (plan, trace) = plan_traced(&mut tf)?;
    ensure(!plan.success(), || format!("plan should fail:\n{plan}"))?;
    expect_no_secret(&plan.combined(), user, secrets)?;
    expect_no_secret(&trace, user, secrets)?;
    for (name, _) in endpoints {
        expect_error_on(
            &plan,
            "Invalid Endpoint",
            &in_resource(rt, name),
            "endpoint",
        )?;
    }
    let n = error_count(&plan);
    ensure(n == endpoints.len(), || {
        format!("expected {} errors, got {n}:\n{plan}", endpoints.len())
    })
}

// ------------------------------------------------------------------ point 6: request_timeout

/// A provider block (with `line`) and one Helm resource that uses the provider (Terraform does not
/// configure a provider that nothing uses).
fn provider_cfg(tb: &Testbed, line: &str) -> String {
    provider(&[line]) + &helm_resource("r", &tb.helm.http)
}

fn huge_request_timeout(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let huge_digits = format!("{}s", "9".repeat(400));
    let cases = [
        "999999999999999999999h".to_string(),
        huge_digits,
        "25h".to_string(),
        "0s".to_string(),
        "1ns".to_string(),
    ];
    for t in &cases {
        let line = format!("request_timeout = {}", q(t));
        tf.write(&provider_cfg(tb, &line));
        let o = tf.plan(&[]);
        ensure(!o.success(), || {
            format!("plan with `{line}` should fail:\n{o}")
        })?;
        ensure(
            !o.contains("panicked") && !o.contains("Plugin did not respond"),
            || format!("the plugin crashed on `{line}`:\n{o}"),
        )?;
        let b = expect_error_on(
            &o,
            "Invalid Request Timeout",
            IN_PROVIDER,
            "request_timeout",
        )?;
        ensure(b.contains("100ms") && b.contains("24h"), || {
            format!("the accepted range is not named for `{line}`:\n{b}")
        })?;
        ensure(error_count(&o) == 1, || format!("expected one error:\n{o}"))?;
    }
    // The bounds themselves are accepted.
    for t in ["24h", "100ms"] {
        tf.write(&provider_cfg(tb, &format!("request_timeout = {}", q(t))));
        let o = tf.plan(&[]);
        ensure(o.success(), || {
            format!("request_timeout = {t:?} should plan:\n{o}")
        })?;
    }
    Ok(())
}

// ------------------------------------------------------------------ point 9: numbers

fn non_integer_numbers(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    // (line, summary, what the detail must say). 2.5 and 1e20 reach the provider as float64,
    // 0.1 and 1e400 (not exact as float64) as decimal strings.
    let cases = [
        ("max_retries = 2.5", "Invalid Max Retries", "whole number"),
        ("max_retries = 0.1", "Invalid Max Retries", "whole number"),
        (
            "max_retries = 1e20",
            "Invalid Max Retries",
            "between 0 and 20",
        ),
        ("max_index_size = 1e20", "Invalid Max Index Size", "at most"),
        (
            "max_index_size = 1e400",
            "Invalid Max Index Size",
            "at most",
        ),
        (
            "max_index_size = 4096.5",
            "Invalid Max Index Size",
            "whole number",
        ),
    ];
    for (line, summary, says) in cases {
        tf.write(&provider_cfg(tb, line));
        let o = tf.plan(&[]);
        ensure(!o.success(), || {
            format!("plan with `{line}` should fail:\n{o}")
        })?;
        let attr = line.split(' ').next().unwrap_or_default();
        let b = expect_error_on(&o, summary, IN_PROVIDER, attr)?;
        ensure(flat(&b).contains(says), || {
            format!("`{line}`: the detail should say {says:?}:\n{b}")
        })?;
        ensure(
            !o.contains("untagged enum") && !o.contains("invalid type"),
            || format!("`{line}` gives a deserialization message:\n{o}"),
        )?;
        ensure(error_count(&o) == 1, || format!("expected one error:\n{o}"))?;
    }
    // Whole numbers written as floats are fine.
    tf.write(&format!(
        "provider \"chartreg\" {{\n  max_retries    = 2.0\n  max_index_size = 1e6\n}}\n\nresource {HELM:?} \"r\" {{\n  name     = \"r\"\n  endpoint = {}\n}}\n",
        q(&tb.helm.http)
    ));
    let o = tf.plan(&[]);
    ensure(o.success(), || format!("whole numbers should plan:\n{o}"))
}

// ------------------------------------------------------------------ point 13: TLS and PEM

/// A certificate from the trusted CA that is for another name: the error is on `endpoint`.
fn tls_name_mismatch_on_endpoint(tb: &Testbed, cli: &TfCli) -> TestResult {
    let (_srv, port) = harness::spawn_other_name_tls(tb)?;
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "resource {HELM:?} \"h\" {{\n  name           = \"h\"\n  endpoint       = \"https://127.0.0.1:{port}/charts\"\n  ca_certificate = {ca}\n}}\n\n\
         resource {OCI:?} \"o\" {{\n  name           = \"o\"\n  endpoint       = \"127.0.0.1:{port}\"\n  ca_certificate = {ca}\n}}\n",
        ca = q(&tb.ca_pem)
    ));
    let o = tf.apply_err()?;
    for (rt, name) in [(HELM, "h"), (OCI, "o")] {
        let b = expect_error_on(
            &o,
            "Registry TLS Certificate Name Mismatch",
            &in_resource(rt, name),
            "endpoint",
        )?;
        ensure(
            flat(&b).contains("for another name") && b.contains("other.invalid"),
            || {
                format!("{rt}.{name}: the detail should say the certificate is for another name (other.invalid):\n{b}")
            },
        )?;
        ensure(!flat(&b).contains("Trust the registry's CA"), || {
            format!("{rt}.{name}: the hint blames the CA:\n{b}")
        })?;
    }
    ensure(error_count(&o) == 2, || format!("expected 2 errors:\n{o}"))?;
    let list = tf.run_ok(&["state", "list", "-no-color"])?;
    ensure(list.stdout.trim().is_empty(), || {
        format!("nothing should be in state:\n{list}")
    })
}

/// Broken `ca_certificate` values: the message says which certificate is not one, in words a
/// user can act on, without DER/BER parser internals.
fn bad_pem_message(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let garbage =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let bad_b64 = "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n";
    let second_bad = format!("{}\n{garbage}", tb.ca_pem.trim_end());
    let cases = [
        ("garbage", garbage.to_string(), "certificate 1"),
        ("bad_base64", bad_b64.to_string(), "certificate 1"),
        ("second_bad", second_bad, "certificate 2"),
        (
            "key_only",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_string(),
            "no PEM certificate",
        ),
    ];
    let mut cfg = String::new();
    for (name, pem, _) in &cases {
        cfg.push_str(&format!(
            "resource {HELM:?} {name:?} {{\n  name           = {}\n  endpoint       = \"http://192.0.2.1/charts\"\n  ca_certificate = {}\n}}\n\n",
            q(&name.replace('_', "-")),
            q(pem)
        ));
    }
    cfg.push_str(&format!(
        "resource {OCI:?} \"oci_garbage\" {{\n  name           = \"oci-garbage\"\n  endpoint       = \"192.0.2.1\"\n  ca_certificate = {}\n}}\n",
        q(garbage)
    ));
    tf.write(&cfg);
    let o = tf.plan(&[]);
    ensure(!o.success(), || format!("plan should fail:\n{o}"))?;
    let mut all = cases
        .iter()
        .map(|(n, _, says)| (HELM, n.to_string(), *says))
        .collect::<Vec<_>>();
    all.push((OCI, "oci_garbage".into(), "certificate 1"));
    for (rt, name, says) in &all {
        let b = expect_error_on(
            &o,
            "Invalid CA Certificate",
            &in_resource(rt, name),
            "ca_certificate",
        )?;
        ensure(flat(&b).contains(says), || {
            format!("{rt}.{name}: the detail should name {says:?}:\n{b}")
        })?;
        // The provider's detail (Terraform's quote of the configuration line left out).
        let detail: String = b
            .lines()
            .filter(|l| !l.contains("ca_certificate = "))
            .collect::<Vec<_>>()
            .join("\n")
            .to_ascii_lowercase();
        let words: Vec<&str> = detail.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        for internal in [
            "der",
            "ber",
            "asn1",
            "nom",
            "base64decodeerror",
            "invalidheader",
        ] {
            ensure(!words.contains(&internal), || {
                format!("{rt}.{name}: parser internals ({internal:?}) in the message:\n{b}")
            })?;
        }
        for internal in [
            "parsing error",
            "unexpected tag",
            "invalid length",
            "error(",
        ] {
            ensure(!detail.contains(internal), || {
                format!("{rt}.{name}: parser internals ({internal:?}) in the message:\n{b}")
            })?;
        }
    }
    ensure(error_count(&o) == all.len(), || {
        format!("expected {} errors:\n{o}", all.len())
    })
}

// ------------------------------------------------------------------ point 14: endpoints

/// Port 0 and control characters inside an endpoint fail at plan on `endpoint`.
fn endpoint_port_zero_and_control_chars(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let cases = [
        (HELM, "helm_port0", "http://127.0.0.1:0/charts", "port"),
        (
            HELM,
            "helm_port0_https",
            "https://charts.example.com:0/",
            "port",
        ),
        (
            HELM,
            "helm_tab",
            "http://127.0.0.1:8080/ch\tarts",
            "control character",
        ),
        (
            HELM,
            "helm_newline",
            "http://127.0.0.1:8080/charts\nx",
            "control character",
        ),
        (
            HELM,
            "helm_cr_host",
            "http://127.0.\r0.1:8080/charts",
            "control character",
        ),
        (OCI, "oci_port0", "127.0.0.1:0", "port"),
        (OCI, "oci_port0_scheme", "http://127.0.0.1:0/charts", "port"),
        (
            OCI,
            "oci_tab",
            "127.0.0.1:5000/ch\tarts",
            "control character",
        ),
        (
            OCI,
            "oci_newline",
            "127.0.0.1:5000\n/charts",
            "control character",
        ),
    ];
    let mut cfg = String::new();
    for (rt, name, ep, _) in &cases {
        cfg.push_str(&format!(
            "resource {rt:?} {name:?} {{\n  name     = {}\n  endpoint = {}\n}}\n\n",
            q(&name.replace('_', "-")),
            q(ep)
        ));
    }
    tf.write(&cfg);
    let o = tf.plan(&[]);
    ensure(!o.success(), || format!("plan should fail:\n{o}"))?;
    for (rt, name, _, says) in &cases {
        let b = expect_error_on(&o, "Invalid Endpoint", &in_resource(rt, name), "endpoint")?;
        ensure(flat(&b).contains(says), || {
            format!("{rt}.{name}: the detail should say {says:?}:\n{b}")
        })?;
    }
    ensure(error_count(&o) == cases.len(), || {
        format!("expected {} errors:\n{o}", cases.len())
    })?;
    // Surrounding white space (e.g. a trailing newline from file()) is still fine.
    tf.write(&format!(
        "resource {HELM:?} \"ok\" {{\n  name     = \"ok\"\n  endpoint = {}\n}}\n\nresource {OCI:?} \"ok\" {{\n  name     = \"ok\"\n  endpoint = {}\n}}\n",
        q(&format!("{}\n", tb.helm.http)),
        q(&format!("{}\n", tb.oci.plain)),
    ));
    let o = tf.plan(&[]);
    ensure(o.success(), || {
        format!("a trailing newline should plan:\n{o}")
    })
}
