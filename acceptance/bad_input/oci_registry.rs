//! Bad input to `chartreg_oci_registry`, refused at validation: endpoints, names, the
//! authentication type, base content paths (empty, null, invalid, beside unknown values), half
//! credentials, malformed PEM, and the `ecr` block (with basic credentials, half AWS key pairs,
//! bad role ARNs, settings that need a role, bad regions, two blocks). `update_*` cases first
//! apply a valid registration.

use super::helm_registry::PEM_BAD_BASE64;
use super::{kv, registration, Case, HELM, OCI};
use crate::harness::Testbed;

/// `chartreg_oci_registry.<n>` with `name` and `endpoint` unless `extra` sets them.
fn reg(n: &str, endpoint: &str, extra: &[&str]) -> String {
    registration(OCI, n, endpoint, extra)
}

/// An `ecr { … }` block.
fn ecr(lines: &[&str]) -> String {
    let mut s = String::from("ecr {\n");
    for l in lines {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.push('}');
    s
}

pub const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

pub fn cases(tb: &Testbed) -> Vec<Case> {
    let ok = format!("http://{}/charts", tb.oci.plain);
    let ok = ok.as_str();
    let at = |n: &str, a: &str| format!("{OCI}.{n}.{a}");
    let mut v = Vec::new();

    let ep = "Invalid Endpoint";
    for (n, e) in [
        ("endpoint_ftp", "ftp://registry.example.com"),
        ("endpoint_empty", ""),
        ("endpoint_userinfo", "robot:hunter2@registry.example.com"),
        ("endpoint_query", "registry.example.com/charts?token=abc"),
        ("endpoint_fragment", "registry.example.com/charts#x"),
        ("endpoint_port_zero", "registry.example.com:0"),
        ("endpoint_port_too_big", "registry.example.com:70000"),
        ("endpoint_newline", "registry.example.com/\ncharts"),
        ("endpoint_space", "registry.example.com/my charts"),
        ("endpoint_upper_case_path", "registry.example.com/Charts"),
        ("endpoint_double_slash", "registry.example.com/a//b"),
        ("endpoint_no_host", "oci:///charts"),
    ] {
        v.push(Case::new(
            &format!("oci_registry::{n}"),
            reg(n, e, &[]),
            ep,
            &at(n, "endpoint"),
        ));
    }
    v.push(Case::new(
        "oci_registry::endpoint_null",
        reg("endpoint_null", ok, &["endpoint = null"]),
        "Missing Endpoint",
        &at("endpoint_null", "endpoint"),
    ));
    v.push(Case::new(
        "oci_registry::name_upper_case",
        reg("name_upper_case", ok, &[&kv("name", "Harbor")]),
        "Invalid Registry Name",
        &at("name_upper_case", "name"),
    ));
    v.push(Case::new(
        "oci_registry::name_path_escape",
        reg("name_path_escape", ok, &[&kv("name", "../../etc")]),
        "Invalid Registry Name",
        &at("name_path_escape", "name"),
    ));
    v.push(Case::new(
        "oci_registry::name_null",
        reg("name_null", ok, &["name = null"]),
        "Missing Registry Name",
        &at("name_null", "name"),
    ));
    v.push(Case::new(
        "oci_registry::authentication_type_unknown",
        reg(
            "authentication_type_unknown",
            ok,
            &[&kv("authentication_type", "token")],
        ),
        "Invalid Authentication Type",
        &at("authentication_type_unknown", "authentication_type"),
    ));

    // base content paths
    let bp = "Invalid Base Content Path";
    for (n, paths, idx) in [
        ("base_path_empty", r#"[""]"#, 0),
        ("base_path_slash_only", r#"["/"]"#, 0),
        ("base_path_null", r#"["charts", null]"#, 1),
        ("base_path_dot_dot", r#"["charts", "../other"]"#, 1),
        ("base_path_upper_case", r#"["Charts"]"#, 0),
        ("base_path_space", r#"["my charts"]"#, 0),
        ("base_path_control_char", r#"["charts\u0007"]"#, 0),
    ] {
        v.push(Case::new(
            &format!("oci_registry::{n}"),
            reg(n, ok, &[&format!("base_content_paths = {paths}")]),
            bp,
            &at(n, &format!("base_content_paths[{idx}]")),
        ));
    }
    // An invalid entry next to one that is unknown at validation: still refused.
    v.push(Case::new(
        "oci_registry::base_path_empty_beside_unknown",
        reg(
            "base_path_empty_beside_unknown",
            ok,
            &[&format!("base_content_paths = [{HELM}.base.id, \"\"]")],
        ),
        bp,
        &at("base_path_empty_beside_unknown", "base_content_paths[1]"),
    ));

    // credentials, PEM
    let cred = |n: &str, lines: &[&str], summary: &str, attr: &str| {
        Case::new(
            &format!("oci_registry::{n}"),
            reg(n, ok, lines),
            summary,
            &at(n, attr),
        )
    };
    v.push(cred(
        "username_without_password",
        &[&kv("username", "robot")],
        "Missing Password",
        "username",
    ));
    v.push(cred(
        "password_without_username",
        &[&kv("password", "tok")],
        "Missing Username",
        "password",
    ));
    v.push(cred(
        "username_with_colon",
        &[&kv("username", "a:b"), &kv("password", "tok")],
        "Invalid Username",
        "username",
    ));
    v.push(cred(
        "ca_bad_base64",
        &[&kv("ca_certificate", PEM_BAD_BASE64)],
        "Invalid CA Certificate",
        "ca_certificate",
    ));

    // the ecr block
    let ecr_ep = format!("{ECR_HOST}/charts");
    let e = |n: &str, lines: &[&str], summary: &str, attr: &str| {
        Case::new(
            &format!("oci_registry::{n}"),
            reg(n, &ecr_ep, lines),
            summary,
            &at(n, attr),
        )
    };
    let key = kv("access_key_id", "AKIAEXAMPLEKEY000001");
    let secret = kv("secret_access_key", "example-secret-000001");
    let keys = [key.as_str(), secret.as_str()];
    let role = kv("role_arn", "arn:aws:iam::123456789012:role/chart-reader");
    v.push(e(
        "ecr_with_username",
        &[&kv("username", "AWS"), &ecr(&[])],
        "Credentials Not Used With ECR",
        "username",
    ));
    v.push(e(
        "ecr_with_password_only",
        &[&kv("password", "tok"), &ecr(&keys)],
        "Credentials Not Used With ECR",
        "password",
    ));
    v.push(
        e(
            "ecr_type_without_block_with_basic",
            &[
                &kv("authentication_type", "ecr"),
                &kv("username", "AWS"),
                &kv("password", "tok"),
            ],
            "Credentials Not Used With ECR",
            "username",
        )
        .and(
            "Credentials Not Used With ECR",
            &at("ecr_type_without_block_with_basic", "password"),
        ),
    );
    v.push(e(
        "ecr_block_with_basic_type",
        &[&kv("authentication_type", "basic"), &ecr(&keys)],
        "ECR Block Without ECR Authentication",
        "authentication_type",
    ));
    v.push(e(
        "ecr_access_key_only",
        &[&ecr(&[&key])],
        "Missing Secret Access Key",
        // not in the configuration: Terraform shows the block
        "ecr",
    ));
    v.push(e(
        "ecr_secret_only",
        &[&ecr(&[&secret])],
        "Missing Access Key ID",
        "ecr",
    ));
    v.push(e(
        "ecr_access_key_empty",
        &[&ecr(&[&kv("access_key_id", ""), &secret])],
        "Incomplete AWS Key Pair",
        "ecr.access_key_id",
    ));
    for (n, arn) in [
        ("ecr_role_arn_garbage", "chart-reader"),
        (
            "ecr_role_arn_short_account",
            "arn:aws:iam::12345:role/chart-reader",
        ),
        (
            "ecr_role_arn_user",
            "arn:aws:iam::123456789012:user/chart-reader",
        ),
        (
            "ecr_role_arn_wrong_service",
            "arn:aws:s3::123456789012:role/chart-reader",
        ),
        ("ecr_role_arn_empty", ""),
    ] {
        v.push(e(
            n,
            &[&ecr(&[&kv("role_arn", arn)])],
            "Invalid Role ARN",
            "ecr.role_arn",
        ));
    }
    v.push(e(
        "ecr_external_id_without_role",
        &[&ecr(&[&kv("external_id", "ext-123456")])],
        "Setting Needs A Role",
        "ecr.external_id",
    ));
    v.push(e(
        "ecr_session_name_without_role",
        &[&ecr(&[&kv("session_name", "ci")])],
        "Setting Needs A Role",
        "ecr.session_name",
    ));
    v.push(e(
        "ecr_session_name_space",
        &[&ecr(&[&role, &kv("session_name", "has space")])],
        "Invalid Session Name",
        "ecr.session_name",
    ));
    v.push(e(
        "ecr_external_id_control_char",
        &[&ecr(&[&role, &kv("external_id", "ext\n123")])],
        "Invalid External ID",
        "ecr.external_id",
    ));
    v.push(e(
        "ecr_region_invalid",
        &[&ecr(&[&kv("region", "US-EAST-1")])],
        "Invalid AWS Region",
        "ecr.region",
    ));
    v.push(e(
        "ecr_region_differs",
        &[&ecr(&[&kv("region", "eu-west-1")])],
        "Region Differs From The Registry's",
        "ecr.region",
    ));
    v.push(e(
        "ecr_two_blocks",
        &[&ecr(&[]), &ecr(&[])],
        "Too many ecr blocks",
        "ecr[1]",
    ));

    // updates
    v.push(Case::update(
        "oci_registry::update_base_path_empty",
        reg("update_base_path_empty", ok, &[]),
        reg(
            "update_base_path_empty",
            ok,
            &[r#"base_content_paths = [""]"#],
        ),
        bp,
        &at("update_base_path_empty", "base_content_paths[0]"),
    ));
    v.push(Case::update(
        "oci_registry::update_endpoint_query",
        reg("update_endpoint_query", ok, &[]),
        reg(
            "update_endpoint_query",
            ok,
            &[&kv("endpoint", &format!("{ok}?x=1"))],
        ),
        ep,
        &at("update_endpoint_query", "endpoint"),
    ));
    v.push(
        Case::update(
            "oci_registry::update_adds_ecr_block_with_basic",
            reg("update_adds_ecr_block_with_basic", ok, &[]),
            reg(
                "update_adds_ecr_block_with_basic",
                ok,
                &[&kv("username", "robot"), &kv("password", "tok"), &ecr(&[])],
            ),
            "Credentials Not Used With ECR",
            &at("update_adds_ecr_block_with_basic", "username"),
        )
        .and(
            "Credentials Not Used With ECR",
            &at("update_adds_ecr_block_with_basic", "password"),
        ),
    );
    v
}
