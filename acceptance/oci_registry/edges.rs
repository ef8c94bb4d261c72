//! `oci_registry::access_edges::*`: one apply against the shared registries, a case per edge.
//! Anonymous on the basic registry: refused, with the hint to set credentials. Anonymous on the
//! token registry (tokens without access): its catalog cannot be listed, the error names the HTTP
//! 401. A base path that is only the start of a repository name (`charts/mychar`) holds no
//! chart. `insecure_skip_tls_verify` without the CA lists the charts. An endpoint naming a
//! repository lists that chart under its last segment. With credentials on the token registry,
//! each repository scope is asked for one token only.

use std::sync::Arc;

use libtest_mimic::Trial;

use super::{
    addr, at, chart_keys, file_len, helm_push, read_from, unique, versions, PASSWORD_VAR, RT,
};
use crate::harness::{ensure, Cases, RegistryAuth, TestResult, Testbed, Tf, TfCli, TfReport};

struct Edges {
    tf: Tf,
    out: TfReport,
    /// `<ns>/mychart` on the token registry.
    key: String,
    /// What the token server logged during the apply.
    token_log: String,
}

fn setup(tb: &Testbed, cli: &TfCli) -> TestResult<Edges> {
    let ns = unique(cli, "scopes");
    let home = tb.helm_home();
    helm_push(tb, &home, RegistryAuth::Token, &tb.charts.mychart_010, &ns)?;
    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_registry_password", &tb.password);
    tf.write_file("ca.pem", &tb.ca_pem);
    tf.write(&format!(
        r#"{PASSWORD_VAR}
resource {RT:?} "anon_basic" {{
  name           = "anon-basic"
  endpoint       = "{basic}"
  ca_certificate = file("${{path.module}}/ca.pem")
}}

resource {RT:?} "anon_token" {{
  name               = "anon-token"
  endpoint           = "{token}"
  ca_certificate     = file("${{path.module}}/ca.pem")
  base_content_paths = ["charts"]
}}

resource {RT:?} "partial_name" {{
  name               = "partial-name"
  endpoint           = "http://{plain}"
  base_content_paths = ["charts/mychar"]
}}

resource {RT:?} "endpoint_is_repo" {{
  name     = "endpoint-is-repo"
  endpoint = "http://{plain}/charts/mychart"
}}

resource {RT:?} "insecure" {{
  name                     = "insecure"
  endpoint                 = "{basic}"
  username                 = "{user}"
  password                 = var.registry_password
  insecure_skip_tls_verify = true
  base_content_paths       = ["charts/mychart"]
}}

resource {RT:?} "token" {{
  name               = "token"
  endpoint           = "{token}"
  username           = "{user}"
  password           = var.registry_password
  ca_certificate     = file("${{path.module}}/ca.pem")
  base_content_paths = ["{ns}"]
}}
"#,
        basic = tb.oci.basic,
        token = tb.oci.token,
        plain = tb.oci.plain,
        user = tb.user,
    ));
    let token_log_start = file_len(&tb.token.log);
    let out = tf.apply_json(&[]).failed()?;
    Ok(Edges {
        token_log: read_from(&tb.token.log, token_log_start),
        tf,
        out,
        key: format!("{ns}/mychart"),
    })
}

pub(super) fn access_edges(tb: &Arc<Testbed>) -> Vec<Trial> {
    // (case, resource, summary, attribute, what the detail says)
    #[rustfmt::skip]
    const ERRORS: [(&str, &str, &str, &str, &[&str]); 3] = [
        ("anonymous_basic_refused", "anon_basic", "Registry Credentials Rejected", "",
         &["The registry requires authentication (set `username` and `password`)"]),
        ("anonymous_token_catalog_not_listable", "anon_token", "Registry Catalog Not Listable", "endpoint",
         &["HTTP 401", "Name the chart repositories themselves"]),
        ("partial_name_holds_no_chart", "partial_name", "No Helm Charts Under Base Path",
         "base_content_paths", &["\"charts/mychar\""]),
    ];
    let mut cases = Cases::new(tb, "oci_registry::access_edges", setup);
    for (case, name, summary, attr, details) in ERRORS {
        cases = cases.case(case, move |_, e| {
            let d = e.out.expect_error(summary, &at(name, attr))?;
            for want in details {
                ensure(d.detail_has(want), || {
                    format!("the detail lacks {want:?}:\n{d}")
                })?;
            }
            Ok(())
        });
    }
    cases
        .case("nothing_else", |_, e| {
            e.out.expect_error_count(ERRORS.len())
        })
        .case("failed_ones_not_in_state", |_, e| {
            for (_, name, ..) in ERRORS {
                ensure(e.tf.resource_attrs(&addr(name)).is_err(), || {
                    format!("{name}: a failed create left it in state")
                })?;
            }
            Ok(())
        })
        .case("insecure_skip_tls_verify", |_, e| {
            let a = e.tf.resource_attrs(&addr("insecure"))?;
            ensure(
                chart_keys(&a) == ["charts/mychart"]
                    && versions(&a, "charts/mychart") == ["0.2.0", "0.1.0"]
                    && a["insecure_skip_tls_verify"] == true,
                || format!("insecure_skip_tls_verify: {a}"),
            )
        })
        .case("endpoint_is_repository", |_, e| {
            let a = e.tf.resource_attrs(&addr("endpoint_is_repo"))?;
            ensure(
                chart_keys(&a) == ["mychart"] && versions(&a, "mychart") == ["0.2.0", "0.1.0"],
                || format!("endpoint naming a repository: {a}"),
            )
        })
        .case("one_token_per_scope", |_, e| {
            let a = e.tf.resource_attrs(&addr("token"))?;
            ensure(chart_keys(&a) == [e.key.clone()], || format!("token: {a}"))?;
            let scope = format!("repository:{}:pull", e.key);
            let asked = e
                .token_log
                .lines()
                .filter(|l| {
                    l.split_whitespace()
                        .any(|w| w == scope || w == format!("scopes={scope}"))
                })
                .count();
            ensure(asked == 1, || {
                format!(
                    "{asked} token requests for {scope} in one apply (expected 1):\n{}",
                    e.token_log
                )
            })
        })
        .trials()
}
