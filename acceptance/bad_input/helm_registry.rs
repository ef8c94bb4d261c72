//! Bad input to `chartreg_helm_registry`, refused at validation: endpoints (schemes, ports,
//! white space and control characters, credentials or a fragment in the URL, null), names
//! (case, length, characters, null), half credentials and malformed PEM. The `update_*` cases
//! first apply a valid registration and then break one attribute: the state must stay as applied.

use super::{kv, registration, resource, Case, HELM};
use crate::harness::Testbed;

/// A registration `chartreg_helm_registry.<n>` with `name` and `endpoint` set unless `extra`
/// sets them, then `extra`.
fn reg(n: &str, endpoint: &str, extra: &[&str]) -> String {
    registration(HELM, n, endpoint, extra)
}

/// A damaged certificate: a real header and footer around text that is not base64.
pub const PEM_BAD_BASE64: &str =
    "-----BEGIN CERTIFICATE-----\nthis is not base64 at all!!\n-----END CERTIFICATE-----\n";
/// A certificate cut short (no END line).
pub const PEM_CUT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUX\n";
/// Valid base64 that is not DER.
pub const PEM_NOT_X509: &str =
    "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQsIHRoaXMgaXMgbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

pub fn cases(tb: &Testbed) -> Vec<Case> {
    let ok = tb.helm.http.as_str();
    let at = |n: &str, a: &str| format!("{HELM}.{n}.{a}");
    let ep = "Invalid Endpoint";
    let mut v = Vec::new();
    let mut endpoint = |n: &str, e: &str| {
        v.push(Case::new(
            &format!("helm_registry::{n}"),
            reg(n, e, &[]),
            ep,
            &at(n, "endpoint"),
        ));
    };
    endpoint("endpoint_ftp", "ftp://charts.example.com/stable");
    endpoint("endpoint_oci_scheme", "oci://127.0.0.1:5000/charts");
    endpoint("endpoint_no_scheme", "charts.example.com/stable");
    endpoint("endpoint_empty", "");
    endpoint("endpoint_no_host", "http://:80/stable");
    endpoint("endpoint_port_zero", "http://127.0.0.1:0/stable");
    endpoint("endpoint_port_too_big", "http://127.0.0.1:65536/stable");
    endpoint("endpoint_bad_ipv6", "http://[::1/stable");
    endpoint("endpoint_space", "http://charts.example.com/my charts");
    endpoint("endpoint_newline", "http://charts.example.com/\nstable");
    endpoint("endpoint_tab", "http://charts.example.com/\tstable");
    endpoint("endpoint_nul", "http://charts.example.com/\u{0}");
    endpoint(
        "endpoint_escape_char",
        "http://charts.example.com/\u{1b}[31m",
    );
    endpoint(
        "endpoint_userinfo",
        "https://ci:hunter2@charts.example.com/",
    );
    endpoint("endpoint_fragment", "https://charts.example.com/stable#top");

    let name = |n: &str, value: &str| {
        Case::new(
            &format!("helm_registry::{n}"),
            reg(n, ok, &[&kv("name", value)]),
            "Invalid Registry Name",
            &at(n, "name"),
        )
    };
    v.push(name("name_upper_case", "Stable"));
    v.push(name("name_empty", ""));
    v.push(name("name_too_long", &"a".repeat(64)));
    v.push(name("name_leading_dash", "-stable"));
    v.push(name("name_trailing_dot", "stable."));
    v.push(name("name_slash", "team/stable"));
    v.push(name("name_dot_dot", ".."));
    v.push(name("name_non_ascii", "chärts"));
    v.push(name("name_newline", "stable\nx"));
    v.push(Case::new(
        "helm_registry::name_null",
        reg("name_null", ok, &["name = null"]),
        "Missing Registry Name",
        &at("name_null", "name"),
    ));
    v.push(Case::new(
        "helm_registry::endpoint_null",
        reg("endpoint_null", ok, &["endpoint = null"]),
        "Missing Endpoint",
        &at("endpoint_null", "endpoint"),
    ));
    v.push(Case::new(
        "helm_registry::endpoint_missing",
        resource(HELM, "endpoint_missing", &[&kv("name", "endpoint-missing")]),
        "Missing required argument",
        &format!("{HELM}.endpoint_missing"),
    ));

    // half credentials
    let cred = |n: &str, lines: &[&str], summary: &str, attr: &str| {
        Case::new(
            &format!("helm_registry::{n}"),
            reg(n, ok, lines),
            summary,
            &at(n, attr),
        )
    };
    v.push(cred(
        "username_without_password",
        &[&kv("username", "ci")],
        "Missing Password",
        "username",
    ));
    v.push(cred(
        "password_without_username",
        &[&kv("password", "pw-only")],
        "Missing Username",
        "password",
    ));
    v.push(cred(
        "username_empty_password_set",
        &[&kv("username", ""), &kv("password", "pw")],
        "Missing Username",
        "username",
    ));
    v.push(cred(
        "password_empty_username_set",
        &[&kv("username", "ci"), &kv("password", "")],
        "Missing Password",
        "password",
    ));
    v.push(cred(
        "username_with_colon",
        &[&kv("username", "ci:robot"), &kv("password", "pw")],
        "Invalid Username",
        "username",
    ));

    // malformed PEM
    let pem = "Invalid CA Certificate";
    v.push(cred(
        "ca_not_pem",
        &[&kv("ca_certificate", "not a certificate")],
        pem,
        "ca_certificate",
    ));
    v.push(cred(
        "ca_empty",
        &[&kv("ca_certificate", "")],
        pem,
        "ca_certificate",
    ));
    v.push(cred(
        "ca_bad_base64",
        &[&kv("ca_certificate", PEM_BAD_BASE64)],
        pem,
        "ca_certificate",
    ));
    v.push(cred(
        "ca_cut_short",
        &[&kv("ca_certificate", PEM_CUT)],
        pem,
        "ca_certificate",
    ));
    v.push(cred(
        "ca_not_x509",
        &[&kv("ca_certificate", PEM_NOT_X509)],
        pem,
        "ca_certificate",
    ));
    v.push(cred(
        "ca_indented",
        &[&kv(
            "ca_certificate",
            &tb.ca_pem
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>(),
        )],
        pem,
        "ca_certificate",
    ));
    v.push(cred(
        "insecure_not_bool",
        &["insecure_skip_tls_verify = \"maybe\""],
        "Incorrect attribute value type",
        "insecure_skip_tls_verify",
    ));

    // updates: a valid registration, then one attribute broken
    let update = |n: &str, bad: &[&str], summary: &str, attr: &str| {
        Case::update(
            &format!("helm_registry::{n}"),
            reg(n, ok, &[]),
            reg(n, ok, bad),
            summary,
            &at(n, attr),
        )
    };
    v.push(update(
        "update_endpoint_ftp",
        &[&kv("endpoint", "ftp://charts.example.com/")],
        ep,
        "endpoint",
    ));
    v.push(update(
        "update_endpoint_null",
        &["endpoint = null"],
        "Missing Endpoint",
        "endpoint",
    ));
    v.push(update(
        "update_username_only",
        &[&kv("username", "ci")],
        "Missing Password",
        "username",
    ));
    v.push(update(
        "update_ca_garbage",
        &[&kv("ca_certificate", "garbage")],
        pem,
        "ca_certificate",
    ));
    v.push(update(
        "update_name_invalid",
        &[&kv("name", "Not Valid")],
        "Invalid Registry Name",
        "name",
    ));
    v
}
