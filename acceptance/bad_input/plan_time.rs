//! Bad input only the registry's catalog can refuse: data sources read at plan, against
//! registries applied first (a Helm repository and an OCI registry with synchronization, one
//! Helm repository without): unknown charts and versions, constraints nothing satisfies, and
//! what a registry without synchronization cannot answer.

use super::data_sources::{CHART, CHARTS};
use super::{baseline, data, kv, resource, Case, Phase, HELM};
use crate::harness::Testbed;

pub fn cases(tb: &Testbed) -> Phase {
    let mut base = baseline(tb);
    base.push_str(&resource(
        HELM,
        "offline",
        &[
            &kv("name", "offline"),
            &kv("endpoint", &tb.helm.http),
            "synchronization = false",
        ],
    ));
    let mut v = Vec::new();
    let chart = |n: &str, reg: &str, lines: &[&str], summary: &str, attr: &str| {
        let r = format!("registry = {reg}");
        let mut body = vec![r.as_str()];
        body.extend_from_slice(lines);
        Case::new(
            &format!("helm_chart::{n}"),
            data(CHART, n, &body),
            summary,
            &if attr.is_empty() {
                format!("data.{CHART}.{n}")
            } else {
                format!("data.{CHART}.{n}.{attr}")
            },
        )
    };
    let helm = format!("{HELM}.base");
    let oci = "chartreg_oci_registry.base".to_string();
    let offline = format!("{HELM}.offline");
    let not_found = "Chart Not Found";
    let no_version = "Chart Version Not Found";
    v.push(chart(
        "unknown_chart_helm",
        &helm,
        &[&kv("name", "no-such-chart")],
        not_found,
        "name",
    ));
    v.push(chart(
        "unknown_chart_oci",
        &oci,
        &[&kv("name", "no-such-chart")],
        not_found,
        "name",
    ));
    v.push(chart(
        "chart_name_case_differs",
        &helm,
        &[&kv("name", "MyChart")],
        not_found,
        "name",
    ));
    v.push(chart(
        "unknown_version_helm",
        &helm,
        &[&kv("name", "mychart"), &kv("version", "9.9.9")],
        no_version,
        "version",
    ));
    v.push(chart(
        "unknown_version_oci",
        &oci,
        &[&kv("name", "mychart"), &kv("version", "9.9.9")],
        no_version,
        "version",
    ));
    v.push(chart(
        "constraint_unsatisfied_helm",
        &helm,
        &[&kv("name", "mychart"), &kv("version", "~9.0")],
        no_version,
        "version",
    ));
    v.push(chart(
        "constraint_unsatisfied_oci",
        &oci,
        &[&kv("name", "mychart"), &kv("version", ">= 1.0, < 2.0")],
        no_version,
        "version",
    ));
    v.push(chart(
        "prerelease_only_constraint",
        &helm,
        &[&kv("name", "mychart"), &kv("version", "0.3.0-rc.1")],
        no_version,
        "version",
    ));
    v.push(chart(
        "constraint_without_synchronization",
        &offline,
        &[&kv("name", "mychart"), &kv("version", "~0.1")],
        "Chart Version Constraint Needs Synchronization",
        "version",
    ));
    v.push(chart(
        "no_version_without_synchronization",
        &offline,
        &[&kv("name", "mychart")],
        "Chart Version Required",
        "",
    ));
    v.push(Case::new(
        "helm_charts::search_without_synchronization",
        data(
            CHARTS,
            "search_offline",
            &[&format!("registry = {offline}")],
        ),
        "Search Needs Synchronization",
        &format!("data.{CHARTS}.search_offline.registry"),
    ));
    Phase {
        baseline: base,
        cases: v,
        ..Phase::default()
    }
}
