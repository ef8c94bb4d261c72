//! `oci_registry::apply_errors::*` and `oci_registry::plan_errors::*`: every failure on the
//! attribute at fault, nothing else reported, nothing in state; plan-time checks make no request.

use std::sync::Arc;

use libtest_mimic::Trial;

use super::{at, res, unique, PASSWORD_VAR, RT};
use crate::harness::{self, ensure, Cases, RegistryAuth, TestResult, Testbed, Tf, TfReport};

// ------------------------------------------------------------------ errors

struct Failed {
    tf: Tf,
    out: TfReport,
    took: std::time::Duration,
}

/// `(resource, summary, attribute, text the detail or the quoted line shows)`
type Check = (&'static str, &'static str, &'static str, &'static str);

/// The output of `run` in `tf`, which must fail, and how long it took.
fn failed(tf: Tf, run: impl FnOnce(&Tf) -> TfReport) -> TestResult<Failed> {
    let t0 = std::time::Instant::now();
    let out = run(&tf).failed()?;
    Ok(Failed {
        tf,
        out,
        took: t0.elapsed(),
    })
}

/// A case per check, then `nothing_else` (no other error) and `nothing_in_state`.
fn with_checks(mut cases: Cases<Failed>, checks: &'static [Check]) -> Cases<Failed> {
    for &(name, summary, attr, detail) in checks {
        cases = cases.case(name, move |_, f| {
            let d = f.out.expect_error(summary, &at(name, attr))?;
            ensure(d.detail_has(detail) || d.code.contains(detail), || {
                format!("neither the detail nor the quoted line has {detail:?}:\n{d}")
            })
        });
    }
    cases
        .case("nothing_else", move |_, f| {
            f.out.expect_error_count(checks.len())
        })
        .case("nothing_in_state", |_, f| f.tf.expect_empty_state())
}

/// Apply-time failures, all in one apply: each fails on the attribute at fault and nothing is
/// left in state.
pub(super) fn apply_errors(tb: &Arc<Testbed>) -> Vec<Trial> {
    const CHECKS: [Check; 5] = [
        (
            "wrong_basic",
            "Registry Credentials Rejected",
            "password",
            "Check `username` and `password`",
        ),
        (
            "wrong_token",
            "Registry Credentials Rejected",
            "password",
            "Check `username` and `password`",
        ),
        (
            "unknown_ca",
            "Registry TLS Certificate Not Trusted",
            "",
            "Trust the registry's CA with `ca_certificate`",
        ),
        (
            "empty_path",
            "No Helm Charts Under Base Path",
            "base_content_paths",
            "\"nothing/here\"",
        ),
        (
            "image_only",
            "No Helm Charts Under Base Path",
            "base_content_paths",
            "none holds a Helm chart",
        ),
    ];
    let cases = Cases::new(tb, "oci_registry::apply_errors", |tb, cli| {
        let ns = unique(cli, "imageonly");
        let layer = std::fs::read(&tb.charts.mychart_010).map_err(|e| e.to_string())?;
        tb.oci_client(RegistryAuth::None)
            .push_image(&format!("{ns}/app"), "1.0.0", &layer)?;
        let mut tf = Tf::new(tb, cli);
        tf.env("TF_VAR_registry_password", &tb.password);
        tf.write_file("ca.pem", &tb.ca_pem);
        let (b, t, p, u) = (&tb.oci.basic, &tb.oci.token, &tb.oci.plain, &tb.user);
        let wrong = |name: &str, endpoint: &str| {
            format!(
                "resource {RT:?} \"{name}\" {{\n  name           = \"{}\"\n  endpoint       = \"{endpoint}\"\n  username       = \"{u}\"\n  password       = \"not-the-password\"\n  ca_certificate = file(\"${{path.module}}/ca.pem\")\n}}\n\n",
                name.replace('_', "-")
            )
        };
        tf.write(&format!(
            "{PASSWORD_VAR}\n{}{}resource {RT:?} \"unknown_ca\" {{\n  name     = \"unknown-ca\"\n  endpoint = \"{b}\"\n  username = \"{u}\"\n  password = var.registry_password\n}}\n\n{}{}",
            wrong("wrong_basic", b),
            wrong("wrong_token", t),
            res("empty_path", &format!("http://{p}"), Some(r#"["charts", "nothing/here"]"#)),
            res("image_only", &format!("http://{p}"), Some(&format!("[{ns:?}]"))),
        ));
        failed(tf, |tf| tf.apply_json(&[]))
    });
    with_checks(cases, &CHECKS)
        .case("wrong_token_names_realm", |tb, f| {
            let d = f.out.expect_error(
                "Registry Credentials Rejected",
                &at("wrong_token", "password"),
            )?;
            ensure(d.detail_has(&tb.token.realm), || {
                format!("the token server that refused the password is not named:\n{d}")
            })
        })
        .case("password_not_echoed", |tb, f| {
            ensure(!f.out.combined().contains(&tb.password), || {
                "the password shows in the error output".into()
            })
        })
        .trials()
}

/// Plan-time checks of endpoint, base paths and authentication_type: no request is made (the
/// endpoints name a closed port).
pub(super) fn plan_errors(tb: &Arc<Testbed>) -> Vec<Trial> {
    const CHECKS: [Check; 4] = [
        (
            "bad_endpoint",
            "Invalid Endpoint",
            "endpoint",
            "unsupported scheme",
        ),
        (
            "bad_path",
            "Invalid Base Content Path",
            "base_content_paths[1]",
            "\"Bad Path\"",
        ),
        (
            "bad_auth",
            "Invalid Authentication Type",
            "authentication_type",
            "kerberos",
        ),
        ("ecr", "Invalid Role ARN", "ecr.role_arn", "not-an-arn"),
    ];
    let cases = Cases::new(tb, "oci_registry::plan_errors", |tb, cli| {
        let closed = format!("127.0.0.1:{}", harness::servers::free_port());
        let tf = Tf::new(tb, cli);
        let with = |name: &str, endpoint: &str, line: &str| {
            format!(
                "resource {RT:?} \"{name}\" {{\n  name     = \"{}\"\n  endpoint = \"{endpoint}\"\n  {line}\n}}\n\n",
                name.replace('_', "-")
            )
        };
        tf.write(
            &[
                with("bad_endpoint", &format!("ftp://{closed}"), ""),
                with(
                    "bad_path",
                    &closed,
                    r#"base_content_paths = ["ok/path", "Bad Path"]"#,
                ),
                with("bad_auth", &closed, r#"authentication_type = "kerberos""#),
                with(
                    "ecr",
                    &closed,
                    "authentication_type = \"ecr\"\n  ecr {\n    role_arn = \"not-an-arn\"\n  }",
                ),
            ]
            .concat(),
        );
        failed(tf, |tf| tf.plan_json(&[]))
    });
    with_checks(cases, &CHECKS)
        .case("no_request", |_, f| {
            ensure(
                f.out
                    .errors()
                    .iter()
                    .all(|d| d.summary != "Registry Unreachable")
                    && f.took.as_secs() < 30,
                || format!("plan-time checks made requests ({:?}):\n{}", f.took, f.out),
            )
        })
        .trials()
}
