//! Bad input in the `provider "chartreg"` block: durations, counts and sizes out of range or of
//! the wrong type, an empty `cache_dir`, an argument the schema does not have. Each case is an
//! aliased provider configuration (`alias = "<case>"`) used by one valid registration, so that
//! Terraform validates it; the provider's own errors are on `provider.chartreg.<attribute>`.

use super::{block, kv, q, Case, HELM};
use crate::harness::Testbed;

/// `provider "chartreg" { alias = … <settings> }` + a valid registration using it.
fn with(tb: &Testbed, alias: &str, settings: &[&str]) -> String {
    let alias_line = kv("alias", alias);
    let mut body = vec![alias_line.as_str()];
    body.extend_from_slice(settings);
    let mut s = block("provider \"chartreg\"", &body);
    s.push_str(&block(
        &format!("resource {HELM:?} {:?}", format!("uses_{alias}")),
        &[
            &format!("provider = chartreg.{alias}"),
            &kv("name", &format!("uses-{}", alias.replace('_', "-"))),
            &kv("endpoint", &tb.helm.http),
        ],
    ));
    s
}

pub fn cases(tb: &Testbed) -> Vec<Case> {
    let at = |a: &str| format!("provider.chartreg.{a}");
    let timeout = "Invalid Request Timeout";
    let retries = "Invalid Max Retries";
    let index = "Invalid Max Index Size";
    let chart = "Invalid Max Chart Size";
    let table: Vec<(&str, String, &str, String)> = vec![
        (
            "request_timeout_words",
            kv("request_timeout", "soon"),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_zero",
            kv("request_timeout", "0s"),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_below_min",
            kv("request_timeout", "99ms"),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_above_max",
            kv("request_timeout", "24h1s"),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_negative",
            kv("request_timeout", "-5s"),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_overflow",
            kv("request_timeout", "999999999999999999999h"),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_empty",
            kv("request_timeout", ""),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_no_unit",
            "request_timeout = 30".to_string(),
            timeout,
            at("request_timeout"),
        ),
        (
            "request_timeout_control_char",
            kv("request_timeout", "3\u{7}0s"),
            timeout,
            at("request_timeout"),
        ),
        (
            "max_retries_negative",
            "max_retries = -1".into(),
            retries,
            at("max_retries"),
        ),
        (
            "max_retries_above_max",
            "max_retries = 21".into(),
            retries,
            at("max_retries"),
        ),
        (
            "max_retries_fraction",
            "max_retries = 2.5".into(),
            retries,
            at("max_retries"),
        ),
        (
            "max_retries_huge",
            "max_retries = 1e30".into(),
            retries,
            at("max_retries"),
        ),
        (
            "max_retries_not_a_number",
            format!("max_retries = {}", q("many")),
            "Incorrect attribute value type",
            at("max_retries"),
        ),
        (
            "max_index_size_below_min",
            "max_index_size = 1023".into(),
            index,
            at("max_index_size"),
        ),
        (
            "max_index_size_overflow",
            "max_index_size = 1e20".into(),
            index,
            at("max_index_size"),
        ),
        (
            "max_index_size_negative",
            "max_index_size = -4096".into(),
            index,
            at("max_index_size"),
        ),
        (
            "max_chart_size_zero",
            "max_chart_size = 0".into(),
            chart,
            at("max_chart_size"),
        ),
        (
            "max_chart_size_fraction",
            "max_chart_size = 2048.5".into(),
            chart,
            at("max_chart_size"),
        ),
        (
            "cache_dir_empty",
            kv("cache_dir", ""),
            "Invalid Cache Directory",
            at("cache_dir"),
        ),
        (
            "cache_dir_blank",
            kv("cache_dir", "  "),
            "Invalid Cache Directory",
            at("cache_dir"),
        ),
        (
            "unknown_argument",
            kv("timeout", "30s"),
            "Unsupported argument",
            at("timeout"),
        ),
    ];
    table
        .into_iter()
        .map(|(name, setting, summary, at)| {
            Case::new(
                &format!("provider::{name}"),
                with(tb, name, &[&setting]),
                summary,
                &at,
            )
        })
        .collect()
}
