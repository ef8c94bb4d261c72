//! Bad import IDs: `terraform import` of both resources with IDs that are not `NAME=ENDPOINT`
//! (`NAME=ENDPOINT,PATH…` for OCI), or whose parts the configuration checks would refuse. Import
//! has no batch form and no `-json`: one run per case, in one workspace, read from the human
//! output (every diagnostic is on the imported address). Each must say "Invalid Import ID",
//! crash nowhere and leave the state empty.

use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::Trial;

use super::{kv, no_crash_text, resource, HELM, OCI};
use crate::harness::{ensure, Cases, TestResult, Testbed, Tf, TfReport};

/// `(case, address, id, a fragment of the detail)`.
fn table() -> Vec<(&'static str, &'static str, String, &'static str)> {
    let h = "chartreg_helm_registry.imp";
    let o = "chartreg_oci_registry.imp";
    vec![
        ("helm_no_separator", h, "stable".into(), "NAME=ENDPOINT"),
        (
            "helm_empty_name",
            h,
            "=http://127.0.0.1:1/charts".into(),
            "NAME=ENDPOINT",
        ),
        ("helm_empty_endpoint", h, "stable=".into(), "NAME=ENDPOINT"),
        (
            "helm_name_upper_case",
            h,
            "Stable=http://127.0.0.1:1/charts".into(),
            "Invalid Registry Name",
        ),
        (
            "helm_name_escapes",
            h,
            "../x=http://127.0.0.1:1/charts".into(),
            "Invalid Registry Name",
        ),
        (
            "helm_endpoint_ftp",
            h,
            "stable=ftp://127.0.0.1:1/charts".into(),
            "Invalid Endpoint",
        ),
        (
            "helm_endpoint_userinfo",
            h,
            "stable=https://ci:pw@127.0.0.1:1/".into(),
            "Invalid Endpoint",
        ),
        (
            "helm_endpoint_control_char",
            h,
            "stable=http://127.0.0.1:1/\u{7}charts".into(),
            "Invalid Endpoint",
        ),
        ("oci_no_separator", o, "harbor".into(), "NAME=ENDPOINT"),
        (
            "oci_endpoint_ftp",
            o,
            "harbor=ftp://127.0.0.1:1".into(),
            "Invalid Endpoint",
        ),
        (
            "oci_endpoint_query",
            o,
            "harbor=127.0.0.1:1/charts?x=1".into(),
            "Invalid Endpoint",
        ),
        (
            "oci_name_invalid",
            o,
            "Harbor!=127.0.0.1:1".into(),
            "Invalid Registry Name",
        ),
        (
            "oci_base_path_escapes",
            o,
            "harbor=127.0.0.1:1,../other".into(),
            "Invalid Base Content Path",
        ),
        (
            "oci_base_path_empty",
            o,
            "harbor=127.0.0.1:1,,charts".into(),
            "Invalid Base Content Path",
        ),
    ]
}

struct Imports {
    reports: Vec<(&'static str, TfReport)>,
    empty_state: TestResult,
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut g = Cases::new(tb, "bad_input::import", |tb, cli| {
        let t0 = Instant::now();
        let mut tf = Tf::new(tb, cli);
        tf.env("RUST_BACKTRACE", "1").env("RUST_LIB_BACKTRACE", "1");
        let mut cfg = resource(
            HELM,
            "imp",
            &[&kv("name", "imp"), &kv("endpoint", &tb.helm.http)],
        );
        cfg.push_str(&resource(
            OCI,
            "imp",
            &[
                &kv("name", "imp"),
                &kv("endpoint", &format!("http://{}", tb.oci.plain)),
            ],
        ));
        tf.write(&cfg);
        let mut reports = Vec::new();
        for (name, addr, id, _) in table() {
            reports.push((name, tf.import_err(addr, &id)?));
        }
        if crate::harness::verbose() {
            eprintln!(
                "bad_input::import::{}: {} imports, {:.1} s",
                cli.label,
                reports.len(),
                t0.elapsed().as_secs_f64()
            );
        }
        Ok(Imports {
            reports,
            empty_state: tf.expect_empty_state(),
        })
    });
    for (name, addr, _, fragment) in table() {
        g = g.case(name, move |_, f: &Imports| {
            let (_, r) = f
                .reports
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or("no report")?;
            let d = r.expect_error("Invalid Import ID", addr)?;
            ensure(d.detail_has(fragment), || {
                format!("the detail should name {fragment:?}:\n{d}")
            })?;
            r.expect_error_count(1)?;
            no_crash_text(&r.combined())?;
            f.empty_state.clone()
        });
    }
    g.trials()
}
