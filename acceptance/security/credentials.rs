//! Credentials go to the registry's own host only (issue 12, "Secrets": "chart archive URLs,
//! redirects and token realms on a second loopback host receive no `Authorization` unless the
//! configuration says so"). Redirects to a second host are the `faults` group's
//! (`cross_host_redirect` cases) and ECR's blob redirect is `oci_registry::ecr::blob_redirect`;
//! this is the case of an index whose chart URLs are absolute and name another host, read with
//! the real Terraform CLI through `chartreg_helm_chart`, with and without `pass_credentials`
//! (Helm's `--pass-credentials`).
//!
//! Set-up: the testbed's nginx (`/private` with basic auth, `/public` without) behind two proxies
//! that log every request: the registry's host on 127.0.0.1, whose `/private/index.yaml` is the
//! real one written by `helm repo index` with every chart URL made absolute to the second proxy
//! on 127.0.0.2 (`/public/…`, the same archives, so the digests hold); everything else is
//! forwarded unchanged.

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::{self, ensure, Fault, FaultServer, TestResult, Testbed, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "security::credentials",
        &[
            (
                "chart_url_on_second_host_gets_no_credentials",
                chart_url_on_second_host_gets_no_credentials,
            ),
            (
                "chart_url_on_second_host_with_pass_credentials",
                chart_url_on_second_host_with_pass_credentials,
            ),
        ],
    )
}

const CHART: &str = "mychart";
const VERSION: &str = "0.2.0";

fn chart_url_on_second_host_gets_no_credentials(tb: &Testbed, cli: &TfCli) -> TestResult {
    second_host_case(tb, cli, false)
}

fn chart_url_on_second_host_with_pass_credentials(tb: &Testbed, cli: &TfCli) -> TestResult {
    second_host_case(tb, cli, true)
}

/// `host:port` of an `http://host:port/path` URL.
fn authority(url: &str) -> TestResult<String> {
    url.strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .map(str::to_string)
        .ok_or_else(|| format!("not an http:// URL: {url}"))
}

fn second_host_case(tb: &Testbed, cli: &TfCli, pass: bool) -> TestResult {
    let nginx = authority(&tb.helm.http_auth)?;
    let registry = FaultServer::proxy(&nginx);
    let second = FaultServer::proxy_on(harness::LOOPBACK2, &nginx);
    ensure(registry.host() != second.host(), || {
        "the two proxies share a host".into()
    })?;
    // The real index helm wrote for /private, its (relative) chart URLs made absolute to the
    // second host's /public copy of the same archives.
    let index_path = tb.root.join("nginx/www/private/index.yaml");
    let index = std::fs::read_to_string(&index_path)
        .map_err(|e| format!("{}: {e}", index_path.display()))?;
    let mut rewritten = 0;
    let index: String = index
        .lines()
        .map(|l| match l.strip_prefix("    - ") {
            Some(file) if file.ends_with(".tgz") && !file.contains("://") => {
                rewritten += 1;
                format!("    - {}\n", second.url(&format!("/public/{file}")))
            }
            _ => format!("{l}\n"),
        })
        .collect();
    ensure(rewritten >= 2, || {
        format!("expected relative chart URLs in {}", index_path.display())
    })?;
    registry.route("/private/index.yaml", vec![Fault::ok(index)]);

    let mut tf = harness::Tf::new(tb, cli);
    tf.env("TF_VAR_pw", &tb.password);
    tf.write(&format!(
        r#"variable "pw" {{
  type      = string
  sensitive = true
}}

resource "chartreg_helm_registry" "r" {{
  name             = "second-host"
  endpoint         = "{endpoint}"
  username         = "{user}"
  password         = var.pw
  pass_credentials = {pass}
}}

data "chartreg_helm_chart" "c" {{
  registry = chartreg_helm_registry.r
  name     = "{CHART}"
  version  = "{VERSION}"
}}

output "url" {{
  value = data.chartreg_helm_chart.c.url
}}
"#,
        endpoint = registry.url("/private"),
        user = tb.user,
    ));
    tf.apply()?;

    let url = tf.output("url")?;
    let want_url = second.url(&format!("/public/{CHART}-{VERSION}.tgz"));
    ensure(url.as_str() == Some(want_url.as_str()), || {
        format!("the chart was not read from the second host: url = {url}, want {want_url}")
    })?;
    // The registry's own host got the credentials (else the case would prove nothing) ...
    let basic = |r: &harness::SeenRequest| {
        r.header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    };
    let index_reqs = registry.requests_to("/private/index.yaml");
    ensure(
        !index_reqs.is_empty() && index_reqs.iter().all(basic),
        || {
            format!(
                "{} index requests, {} with Basic credentials",
                index_reqs.len(),
                index_reqs.iter().filter(|r| basic(r)).count()
            )
        },
    )?;
    // ... and the second host got them exactly when pass_credentials says so.
    let archive_reqs = second.requests_to(&format!("/public/{CHART}-{VERSION}.tgz"));
    ensure(!archive_reqs.is_empty(), || {
        "the second host saw no archive request".into()
    })?;
    let with_auth = archive_reqs
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .count();
    if pass {
        ensure(archive_reqs.iter().all(basic), || {
            format!(
                "pass_credentials = true: {with_auth} of {} archive requests to the second host carried credentials",
                archive_reqs.len()
            )
        })?;
    } else {
        ensure(with_auth == 0, || {
            format!(
                "pass_credentials = false: {with_auth} of {} archive requests to the second host carried Authorization",
                archive_reqs.len()
            )
        })?;
    }
    ensure(second.requests().len() == archive_reqs.len(), || {
        format!(
            "the second host got other requests: {:?}",
            second
                .requests()
                .iter()
                .map(|r| r.target.clone())
                .collect::<Vec<_>>()
        )
    })
}
