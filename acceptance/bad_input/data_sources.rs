//! Bad input to `chartreg_helm_chart` and `chartreg_helm_charts`, refused at validation (the
//! registry resource they reference is unknown then, but its type is known): empty, null and
//! illegal chart names, invalid versions and constraints, invalid search patterns, and whatever
//! is not a registry resource passed as `registry` (a string, a number, null, a list, a literal
//! object, another data source, an object built from a registry's attributes).

use super::{data, kv, Case, HELM, OCI};
use crate::harness::Testbed;

pub const CHART: &str = "chartreg_helm_chart";
pub const CHARTS: &str = "chartreg_helm_charts";

/// Cases refused from what the registry reference is (its type or its value): Terraform 1.15
/// validates with typed unknown values, so refuses them at validation; Terraform 1.0.3 sends
/// an untyped unknown there, and they are refused when the data source is read at plan. They
/// run in their own phase (`bad_input::reference`): refused at validation on 1.15, they would
/// stop the plan of the other plan-time cases.
pub const LATE: [&str; 6] = [
    "helm_chart::name_slash_on_helm_repository",
    "helm_chart::name_upper_case_on_oci",
    "helm_chart::name_double_slash_on_oci",
    "helm_chart::helm_chart_registry_data_source",
    "helm_chart::helm_chart_registry_endpoint_string",
    "helm_charts::registry_chart_data_source",
];

pub fn cases(_tb: &Testbed) -> Vec<Case> {
    let mut v = Vec::new();
    let helm_reg = format!("registry = {HELM}.base");
    let oci_reg = format!("registry = {OCI}.base");

    // chartreg_helm_chart: name and version
    let chart = |n: &str, reg: &str, lines: &[&str], summary: &str, attr: &str| {
        let mut body = vec![reg];
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
    let name = "Invalid Chart Name";
    let version = "Invalid Chart Version";
    v.push(chart(
        "name_empty",
        &helm_reg,
        &[&kv("name", "")],
        name,
        "name",
    ));
    v.push(chart(
        "name_blank",
        &helm_reg,
        &[&kv("name", "   ")],
        name,
        "name",
    ));
    v.push(chart(
        "name_null",
        &helm_reg,
        &["name = null"],
        "Missing Chart Name",
        "name",
    ));
    v.push(chart(
        "name_control_char",
        &helm_reg,
        &[&kv("name", "web\u{7}")],
        name,
        "name",
    ));
    v.push(chart(
        "name_slash_on_helm_repository",
        &helm_reg,
        &[&kv("name", "team/web")],
        name,
        "name",
    ));
    v.push(chart(
        "name_upper_case_on_oci",
        &oci_reg,
        &[&kv("name", "Web")],
        name,
        "name",
    ));
    v.push(chart(
        "name_double_slash_on_oci",
        &oci_reg,
        &[&kv("name", "team//web")],
        name,
        "name",
    ));
    v.push(chart(
        "version_empty",
        &helm_reg,
        &[&kv("name", "mychart"), &kv("version", "")],
        version,
        "version",
    ));
    v.push(chart(
        "version_garbage",
        &helm_reg,
        &[&kv("name", "mychart"), &kv("version", "latest!")],
        version,
        "version",
    ));
    v.push(chart(
        "version_bad_operator",
        &helm_reg,
        &[&kv("name", "mychart"), &kv("version", ">>1.0")],
        version,
        "version",
    ));
    v.push(chart(
        "version_dangling_comma",
        &oci_reg,
        &[&kv("name", "mychart"), &kv("version", ">= 1.0,")],
        version,
        "version",
    ));
    v.push(chart(
        "chart_name_missing",
        &helm_reg,
        &[],
        "Missing required argument",
        "",
    ));

    // chartreg_helm_chart: not a registry
    let not_reg = "Invalid Registry Reference";
    let mychart = kv("name", "mychart");
    for (n, reg, summary) in [
        (
            "registry_string",
            format!("registry = {:?}", "stable"),
            not_reg,
        ),
        ("registry_number", "registry = 42".to_string(), not_reg),
        (
            "registry_null",
            "registry = null".to_string(),
            "Missing Registry",
        ),
        (
            "registry_list",
            format!("registry = [{HELM}.base]"),
            not_reg,
        ),
        (
            "registry_literal_object",
            r#"registry = { name = "stable", endpoint = "https://charts.example.com" }"#
                .to_string(),
            not_reg,
        ),
        (
            "registry_partial_object",
            format!("registry = {{ name = {HELM}.base.name, endpoint = {HELM}.base.endpoint }}"),
            not_reg,
        ),
        (
            "registry_data_source",
            format!("registry = data.{CHARTS}.src_search"),
            not_reg,
        ),
        (
            "registry_endpoint_string",
            format!("registry = {HELM}.base.endpoint"),
            not_reg,
        ),
    ] {
        v.push(chart(
            &format!("helm_chart_{n}"),
            &reg,
            &[&mychart],
            summary,
            "registry",
        ));
    }

    // chartreg_helm_charts
    let charts = |n: &str, body: &[&str], summary: &str, attr: &str| {
        Case::new(
            &format!("helm_charts::{n}"),
            data(CHARTS, n, body),
            summary,
            &format!("data.{CHARTS}.{n}.{attr}"),
        )
    };
    v.push(charts(
        "query_bad_regexp",
        &[&helm_reg, &kv("query", "(web"), "regexp = true"],
        "Invalid Search Pattern",
        "query",
    ));
    v.push(charts(
        "query_bad_repetition",
        &[&oci_reg, &kv("query", "a{2,1}"), "regexp = true"],
        "Invalid Search Pattern",
        "query",
    ));
    v.push(charts(
        "registry_string",
        &["registry = \"stable\""],
        not_reg,
        "registry",
    ));
    v.push(charts(
        "registry_null",
        &["registry = null"],
        "Missing Registry",
        "registry",
    ));
    v.push(charts(
        "registry_chart_data_source",
        &[&format!("registry = data.{CHART}.src_chart")],
        not_reg,
        "registry",
    ));
    v.push(charts(
        "devel_not_bool",
        &[&helm_reg, "devel = \"sometimes\""],
        "Incorrect attribute value type",
        "devel",
    ));
    v
}

/// Valid data sources the `registry_*_data_source` cases pass as `registry`.
pub fn helpers() -> String {
    let mut s = data(CHARTS, "src_search", &[&format!("registry = {HELM}.base")]);
    s.push_str(&data(
        CHART,
        "src_chart",
        &[&format!("registry = {HELM}.base"), &kv("name", "mychart")],
    ));
    s
}
