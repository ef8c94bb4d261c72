//! Bad input found at apply: values unknown at plan (computed from `src_unknown`, a registration
//! created in the same run) that turn out invalid, registries of the shared testbed that answer
//! with an error (a missing index, a refused connection, wrong credentials, a missing
//! repository), AWS keys moto does not know, and updates whose new settings fail (the registration must stay as it was applied).

use super::data_sources::CHART;
use super::oci_registry::ECR_HOST;
use super::{block, data, kv, q, registration, Case, Phase, HELM, OCI};
use crate::harness::Testbed;

/// An expression unknown at plan that is `""` at apply (`src_unknown` is created by the run).
const EMPTY: &str = "substr(chartreg_helm_registry.src_unknown.index_digest, 0, 0)";

fn helm(n: &str, endpoint: &str, extra: &[&str]) -> String {
    registration(HELM, n, endpoint, extra)
}

fn oci(n: &str, endpoint: &str, extra: &[&str]) -> String {
    registration(OCI, n, endpoint, extra)
}

pub fn cases(tb: &Testbed) -> Phase {
    let ok = tb.helm.http.as_str();
    let plain = format!("http://{}", tb.oci.plain);
    let basic = format!("https://{}", tb.oci.basic);
    let at = |t: &str, n: &str, a: &str| format!("{t}.{n}.{a}");
    let mut v = Vec::new();
    let unknown = |e: &str| format!("{e}${{{EMPTY}}}");

    // values unknown at plan
    v.push(Case::new(
        "unknown::endpoint_becomes_ftp",
        helm(
            "unk_endpoint_ftp",
            ok,
            &[&format!(
                "endpoint = {}",
                q(&unknown("ftp://charts.example.com/"))
            )],
        ),
        "Invalid Endpoint",
        &at(HELM, "unk_endpoint_ftp", "endpoint"),
    ));
    v.push(Case::new(
        "unknown::endpoint_becomes_empty",
        helm("unk_endpoint_empty", ok, &[&format!("endpoint = {EMPTY}")]),
        "Invalid Endpoint",
        &at(HELM, "unk_endpoint_empty", "endpoint"),
    ));
    v.push(Case::new(
        "unknown::name_becomes_invalid",
        helm(
            "unk_name",
            ok,
            &[&format!("name = {}", q(&unknown("Not/A/Name")))],
        ),
        "Invalid Registry Name",
        &at(HELM, "unk_name", "name"),
    ));
    v.push(Case::new(
        "unknown::name_escapes_cache",
        helm(
            "unk_name_escape",
            ok,
            &[&format!("name = {}", q(&unknown("../../escaped")))],
        ),
        "Invalid Registry Name",
        &at(HELM, "unk_name_escape", "name"),
    ));
    v.push(Case::new(
        "unknown::username_without_password",
        helm(
            "unk_username",
            &tb.helm.http_auth,
            &[&format!("username = {}", q(&unknown("chartreg")))],
        ),
        "Missing Password",
        &at(HELM, "unk_username", "username"),
    ));
    v.push(Case::new(
        "unknown::ca_certificate_becomes_garbage",
        helm(
            "unk_ca",
            &tb.helm.https,
            &[&format!(
                "ca_certificate = {}",
                q(&unknown("not a certificate"))
            )],
        ),
        "Invalid CA Certificate",
        &at(HELM, "unk_ca", "ca_certificate"),
    ));
    v.push(Case::new(
        "unknown::oci_base_path_becomes_empty",
        oci(
            "unk_base_path",
            &plain,
            &[&format!("base_content_paths = [\"charts\", {EMPTY}]")],
        ),
        "Invalid Base Content Path",
        &at(OCI, "unk_base_path", "base_content_paths[1]"),
    ));
    v.push(Case::new(
        "unknown::oci_endpoint_gets_query",
        oci(
            "unk_oci_endpoint",
            &plain,
            &[&format!(
                "endpoint = {}",
                q(&unknown(&format!("{plain}/charts?token=x")))
            )],
        ),
        "Invalid Endpoint",
        &at(OCI, "unk_oci_endpoint", "endpoint"),
    ));
    v.push(
        Case::new(
            "unknown::ecr_with_username",
            oci(
                "unk_ecr_user",
                &format!("{ECR_HOST}/charts"),
                &[
                    &format!("authentication_type = {}", q(&unknown("ecr"))),
                    &kv("username", "AWS"),
                    &kv("password", "tok"),
                ],
            ),
            "Credentials Not Used With ECR",
            &at(OCI, "unk_ecr_user", "username"),
        )
        .and(
            "Credentials Not Used With ECR",
            &at(OCI, "unk_ecr_user", "password"),
        ),
    );
    v.push(Case::new(
        "unknown::chart_version_becomes_invalid",
        data(
            CHART,
            "unk_version",
            &[
                "registry = chartreg_helm_registry.base",
                &kv("name", "mychart"),
                &format!("version = {}", q(&unknown(">>1"))),
            ],
        ),
        "Invalid Chart Version",
        &format!("data.{CHART}.unk_version.version"),
    ));
    v.push(Case::new(
        "unknown::registry_then_unknown_chart",
        data(
            CHART,
            "unk_registry",
            &[
                "registry = chartreg_helm_registry.src_unknown",
                &kv("name", "no-such-chart"),
            ],
        ),
        "Chart Not Found",
        &format!("data.{CHART}.unk_registry.name"),
    ));

    // registries that answer with an error
    v.push(Case::new(
        "remote::index_not_found",
        helm("index_not_found", &format!("{ok}/no-such-repo"), &[]),
        "Registry Index Not Found",
        &at(HELM, "index_not_found", "endpoint"),
    ));
    v.push(Case::new(
        "remote::connection_refused",
        helm("refused", "http://127.0.0.1:9/charts", &[]),
        "Registry Unreachable",
        &at(HELM, "refused", "endpoint"),
    ));
    v.push(Case::new(
        "remote::wrong_password",
        helm(
            "wrong_password",
            &tb.helm.http_auth,
            &[
                &kv("username", &tb.user),
                &kv("password", "not-the-password"),
            ],
        ),
        "Registry Credentials Rejected",
        &at(HELM, "wrong_password", "password"),
    ));
    v.push(Case::new(
        "remote::credentials_missing",
        helm("no_credentials", &tb.helm.http_auth, &[]),
        "Registry Credentials Rejected",
        // password is not in the configuration: Terraform shows the resource
        &format!("{HELM}.no_credentials"),
    ));
    v.push(Case::new(
        "remote::tls_untrusted",
        helm("tls_untrusted", &tb.helm.https, &[]),
        "Registry TLS Certificate Not Trusted",
        &format!("{HELM}.tls_untrusted"),
    ));
    v.push(Case::new(
        "remote::oci_repository_not_found",
        oci(
            "oci_no_repo",
            &plain,
            &["base_content_paths = [\"no-such-repository\"]"],
        ),
        "No Helm Charts Under Base Path",
        &at(OCI, "oci_no_repo", "base_content_paths"),
    ));
    v.push(Case::new(
        "remote::oci_wrong_password",
        oci(
            "oci_wrong_password",
            &basic,
            &[
                &kv("username", &tb.user),
                &kv("password", "not-the-password"),
                &kv("ca_certificate", &tb.ca_pem),
            ],
        ),
        "Registry Credentials Rejected",
        &at(OCI, "oci_wrong_password", "password"),
    ));
    v.push(Case::new(
        "remote::ecr_unknown_access_key",
        oci(
            "ecr_unknown_key",
            &format!("{plain}/charts"),
            &[&block(
                "ecr",
                &[
                    &kv("region", "us-east-1"),
                    &kv("access_key_id", "AKIACHARTREGUNKNOWN1"),
                    &kv("secret_access_key", "not-a-secret-0000000000"),
                ],
            )
            .replace("}\n\n", "}")],
        ),
        "AWS Access Key Not Recognised",
        &at(OCI, "ecr_unknown_key", "ecr.access_key_id"),
    ));
    // updates that fail: the registration stays as applied
    let update = |n: &str, before: String, after: String, summary: &str, at: String| {
        Case::update(&format!("update::{n}"), before, after, summary, &at)
    };
    v.push(update(
        "endpoint_not_found",
        helm("upd_endpoint", ok, &[]),
        helm("upd_endpoint", &format!("{ok}/no-such-repo"), &[]),
        "Registry Index Not Found",
        at(HELM, "upd_endpoint", "endpoint"),
    ));
    v.push(update(
        "wrong_password",
        helm(
            "upd_password",
            &tb.helm.http_auth,
            &[&kv("username", &tb.user), &kv("password", &tb.password)],
        ),
        helm(
            "upd_password",
            &tb.helm.http_auth,
            &[
                &kv("username", &tb.user),
                &kv("password", "not-the-password"),
            ],
        ),
        "Registry Credentials Rejected",
        at(HELM, "upd_password", "password"),
    ));
    v.push(update(
        "oci_base_path_not_found",
        oci(
            "upd_base_path",
            &plain,
            &["base_content_paths = [\"charts\"]"],
        ),
        oci(
            "upd_base_path",
            &plain,
            &["base_content_paths = [\"no-such-repository\"]"],
        ),
        "No Helm Charts Under Base Path",
        at(OCI, "upd_base_path", "base_content_paths"),
    ));
    v.push(update(
        "endpoint_becomes_invalid_at_apply",
        helm("upd_unknown", ok, &[]),
        helm(
            "upd_unknown",
            ok,
            &[&format!(
                "endpoint = {}",
                q(&unknown("ftp://charts.example.com/"))
            )],
        ),
        "Invalid Endpoint",
        at(HELM, "upd_unknown", "endpoint"),
    ));

    Phase {
        baseline: super::baseline(tb),
        helpers: helm("src_unknown", ok, &[]),
        env: vec![("AWS_ENDPOINT_URL".into(), tb.aws.endpoint.clone())],
        cases: v,
    }
}
