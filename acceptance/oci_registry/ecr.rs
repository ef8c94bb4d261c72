//! `oci_registry::ecr::*`: Amazon ECR (`authentication_type = "ecr"`) against moto (ECR and STS,
//! with IAM enforcement: see `harness::moto`) and dedicated `docker-registry`s standing in for
//! the ECR registries: each one's htpasswd accepts only user `AWS` with the token moto mints for
//! one account (`<account>-auth-token`), so which registry accepts the provider's token proves
//! which account the token was minted in. Charts are pushed with the real `helm push`.
//!
//! - `static_keys`: the IAM user's keys in the block; `DescribeRepositories` decides what is
//!   listed (a chart pushed to the registry but absent from ECR is not; no `_catalog`); one
//!   token per synchronization (moto's `expiresAt` is in 2015: used, not minted again); the
//!   second plan is empty; no secret in any output.
//! - `assume_role_cross_account`: AssumeRole with the external ID into the second account: its
//!   registry accepts the token, the first account's refuses it (on `endpoint`, nothing in state
//!   for it); `AWS_ENDPOINT_URL_ECR` and `AWS_ENDPOINT_URL_STS` (no global override).
//! - `default_chain`: no `ecr` block, credentials and region from the environment.
//! - `blob_redirect`: the registry redirects blob downloads to a second loopback host (as ECR to
//!   S3): fetched there without the registry's credentials, by the resource and by a
//!   `chartreg_helm_chart` on it (version, the archive's digest, its values); when that host is
//!   down the apply fails naming it, and nothing is created.
//! - `apply_errors::*`: an unknown access key, a wrong secret, a denied role (wrong external ID)
//!   and a region without repositories, each on its `ecr` attribute, nothing in state.
//! - `plan_errors::*`: the plan-time checks, each on its attribute, and no AWS request;
//!   `plan_error_from_variable`: the same checks on values Terraform knows only when planning.
//! - `proxy_env`: AWS calls through HTTP_PROXY, the registry through HTTPS_PROXY.
//! - `example`: `examples/resources/chartreg_oci_registry/ecr.tf`, the three ways.
//!
//! The secrets of the roles moto issued are registered with the sweep (`harness::sweep::register`)
//! after each apply or plan that assumed one.

use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::{addr, at, chart_keys, RT};
use crate::harness::{
    self, ensure, moto, nginx, Aws, Cases, FaultServer, RegistryAuth, RegistryOptions,
    RegistryServer, TestResult, Testbed, Tf, TfCli, LOOPBACK, LOOPBACK2,
};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let list: [(&str, harness::Body); 7] = [
        ("ecr::static_keys", static_keys),
        ("ecr::assume_role_cross_account", assume_role_cross_account),
        ("ecr::default_chain", default_chain),
        ("ecr::blob_redirect", blob_redirect),
        ("ecr::example", example),
        ("ecr::plan_error_from_variable", plan_error_from_variable),
        ("ecr::proxy_env", proxy_env),
    ];
    let mut v = harness::scenarios(tb, "oci_registry", &list);
    v.extend(apply_errors(tb));
    v.extend(plan_errors(tb));
    v
}

// ------------------------------------------------------------------ helpers

const KEY_VARS: &str = r#"variable "access_key" {
  type      = string
  sensitive = true
}
variable "secret_key" {
  type      = string
  sensitive = true
}
variable "external_id" {
  type      = string
  sensitive = true
  default   = null
}
"#;

/// A registry standing in for the ECR registry of `account`: HTTPS (test CA), accepting only
/// `AWS:<account>-auth-token`.
fn ecr_registry(
    tb: &Testbed,
    account: &str,
    redirect: Option<String>,
) -> TestResult<RegistryServer> {
    ecr_registry_as(tb, account, redirect, RegistryAuth::Basic)
}

/// [`ecr_registry`] over HTTPS (`RegistryAuth::Basic`) or plain HTTP (`RegistryAuth::None`).
fn ecr_registry_as(
    tb: &Testbed,
    account: &str,
    redirect: Option<String>,
    auth: RegistryAuth,
) -> TestResult<RegistryServer> {
    harness::registry::spawn_registry_with(
        tb,
        LOOPBACK,
        auth,
        &RegistryOptions {
            login: Some(("AWS".into(), Aws::ecr_password(account))),
            redirect_blobs_to: redirect,
        },
    )
}

/// The fixture charts under `charts/`, an image under `chartsx/` and `images/` (ECR repositories
/// outside the base path) and a chart ECR does not list (`charts/hidden/mychart`: not a moto
/// repository, so only `_catalog` would find it).
fn push_fixtures(tb: &Testbed, reg: &RegistryServer) -> TestResult {
    for tgz in tb.charts.all() {
        reg.push(tgz, "charts")?;
    }
    reg.push(&tb.charts.mychart_010, "charts/hidden")?;
    reg.push_image("chartsx/app", "1.0.0")?;
    reg.push_image("images/app", "1.0.0")?;
    Ok(())
}

/// A workspace with the test CA, the moto endpoints, the reader's keys as variables and the
/// provider's debug log in `ecr-debug.log` (its counters).
fn workspace(tb: &Testbed, cli: &TfCli) -> Tf {
    let mut tf = Tf::new(tb, cli);
    tf.write_file("ca.pem", &tb.ca_pem);
    tf.env("TF_VAR_access_key", &tb.aws.reader_key_id)
        .env("TF_VAR_secret_key", &tb.aws.reader_secret)
        .env("TF_VAR_external_id", &tb.aws.external_id);
    if !harness::sweep::enabled() {
        let log = tf.dir.join("ecr-debug.log").display().to_string();
        tf.env("TF_LOG_PROVIDER", "debug").env("TF_LOG_PATH", &log);
    }
    tf
}

/// `resource "chartreg_oci_registry" NAME` on `reg` (HTTPS, test CA) with `body` inside.
fn ecr_res(name: &str, reg: &RegistryServer, paths: &str, body: &str) -> String {
    format!(
        "resource {RT:?} {name:?} {{\n  name                = {name:?}\n  endpoint            = {:?}\n  authentication_type = \"ecr\"\n  base_content_paths  = {paths}\n  ca_certificate      = file(\"${{path.module}}/ca.pem\")\n{body}}}\n\n",
        reg.host
    )
}

fn keys_block(region: &str, extra: &str) -> String {
    format!("  ecr {{\n    region            = {region:?}\n    access_key_id     = var.access_key\n    secret_access_key = var.secret_key\n{extra}  }}\n")
}

/// The counters of the provider's "Amazon ECR calls" debug lines, one per synchronization:
/// `(tokens_minted, roles_assumed, repository_pages)`. Empty in sweep mode (TRACE log elsewhere).
fn ecr_calls(tf: &Tf) -> Vec<(u64, u64, u64)> {
    let log = std::fs::read_to_string(tf.dir.join("ecr-debug.log")).unwrap_or_default();
    // Terraform prefixes the provider's hclog JSON lines with its own time, level and name.
    log.lines()
        .filter(|l| l.contains("Amazon ECR calls"))
        .map(|l| {
            let v: Value = l
                .find('{')
                .and_then(|i| serde_json::from_str(&l[i..]).ok())
                .unwrap_or_default();
            let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
            (
                n("tokens_minted"),
                n("roles_assumed"),
                n("repository_pages"),
            )
        })
        .collect()
}

/// No secret of the ECR cases in `text` (outputs, state, plans).
fn no_secret(tb: &Testbed, what: &str, text: &str) -> TestResult {
    for (name, secret) in [
        ("reader secret", tb.aws.reader_secret.as_str()),
        ("external ID", tb.aws.external_id.as_str()),
        ("ECR token", &Aws::ecr_password(&tb.aws.account)),
        ("ECR token", &Aws::ecr_password(&tb.aws.second_account)),
    ] {
        ensure(!text.contains(secret), || {
            format!("{what} holds the {name}")
        })?;
    }
    Ok(())
}

/// Every registered secret of the roles moto issued, for the sweep.
fn register_role_secrets(tb: &Testbed) -> TestResult {
    let secrets = moto::issued_role_secrets(tb)?;
    ensure(!secrets.is_empty(), || "moto lists no assumed role".into())?;
    for s in secrets {
        harness::sweep::register("AWS assumed-role secret", "AWS", &s);
    }
    Ok(())
}

fn latest(a: &Value, key: &str) -> String {
    a["charts"][key]["latest_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn version_count(a: &Value, key: &str) -> i64 {
    a["charts"][key]["version_count"].as_i64().unwrap_or(-1)
}

/// Both charts of the fixtures, with their versions (as `helm push` put them).
fn expect_fixture_charts(a: &Value, prefix: &str) -> TestResult {
    let (my, other) = (format!("{prefix}/mychart"), format!("{prefix}/other"));
    ensure(
        chart_keys(a) == [my.clone(), other.clone()]
            && latest(a, &my) == "0.2.0"
            && version_count(a, &my) == 2
            && latest(a, &other) == "1.0.0"
            && version_count(a, &other) == 1
            && a["charts"][&my]["description"] == "Test chart mychart 0.2.0",
        || format!("charts under {prefix}: {}", a["charts"]),
    )
}

// ------------------------------------------------------------------ scenarios

fn static_keys(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = ecr_registry(tb, &tb.aws.account, None)?;
    push_fixtures(tb, &reg)?;
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ENDPOINT_URL", &tb.aws.endpoint);
    tf.write(&format!(
        "{KEY_VARS}{}",
        ecr_res("keys", &reg, r#"["charts"]"#, &keys_block("us-east-1", ""))
    ));
    let apply = tf.apply()?;
    let a = tf.resource_attrs(&addr("keys"))?;
    expect_fixture_charts(&a, "charts")?;
    ensure(a["authentication_type"] == "ecr", || format!("{a}"))?;
    let log = std::fs::read_to_string(&reg.log).unwrap_or_default();
    ensure(!log.contains("/v2/_catalog"), || {
        "the registry's _catalog was read: ECR lists with DescribeRepositories".into()
    })?;
    tf.plan_is_empty()?;
    let calls = ecr_calls(&tf);
    if !harness::sweep::enabled() {
        // apply (create), then the plan's refresh: one token each, one listing page each
        ensure(calls == [(1, 0, 1), (1, 0, 1)], || {
            format!("ECR calls per synchronization (tokens, roles, pages): {calls:?}")
        })?;
    }
    let show = tf.run_ok(&["show", "-no-color"])?;
    let mut public = a.clone();
    for k in ["access_key_id", "secret_access_key", "external_id"] {
        public["ecr"][0][k] = Value::Null; // sensitive: meant to be in state
    }
    no_secret(tb, "apply output", &apply.combined())?;
    no_secret(tb, "show output", &show.combined())?;
    no_secret(tb, "the non-sensitive attributes", &public.to_string())?;
    tf.destroy()?;
    tf.expect_empty_state()
}

fn assume_role_cross_account(tb: &Testbed, cli: &TfCli) -> TestResult {
    let first = ecr_registry(tb, &tb.aws.account, None)?;
    let second = ecr_registry(tb, &tb.aws.second_account, None)?;
    for tgz in tb.charts.all() {
        first.push(tgz, "charts")?;
        second.push(tgz, "team/charts")?;
    }
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ENDPOINT_URL_ECR", &tb.aws.endpoint)
        .env("AWS_ENDPOINT_URL_STS", &tb.aws.endpoint);
    let role = |arn: &str| {
        format!(
            "    role_arn          = {arn:?}\n    external_id       = var.external_id\n    session_name      = \"chartreg-acc\"\n"
        )
    };
    let (cross, guarded) = (role(&tb.aws.cross_role_arn), role(&tb.aws.guarded_role_arn));
    // `cross` assumes the second account's role: its registry accepts the token, the first
    // account's (`wrong-account`) refuses it. `same-account`: a role whose trust policy moto
    // enforces, external ID condition included.
    tf.write(&format!(
        "{KEY_VARS}{}{}{}",
        ecr_res(
            "cross",
            &second,
            r#"["team/charts"]"#,
            &keys_block("us-east-1", &cross)
        ),
        ecr_res(
            "wrong-account",
            &first,
            r#"["team/charts"]"#,
            &keys_block("us-east-1", &cross)
        ),
        ecr_res(
            "same-account",
            &first,
            r#"["charts"]"#,
            &keys_block("us-east-1", &guarded)
        ),
    ));
    let out = tf.apply_json(&[]).failed()?;
    register_role_secrets(tb)?;
    let d = out.expect_error(
        "Registry Refused The ECR Token",
        &at("wrong-account", "endpoint"),
    )?;
    ensure(d.detail_has("ecr.region"), || format!("{d}"))?;
    out.expect_error_count(1)?;
    for (name, prefix) in [("cross", "team/charts"), ("same-account", "charts")] {
        let a = tf.resource_attrs(&addr(name))?;
        expect_fixture_charts(&a, prefix)?;
    }
    ensure(tf.resource_attrs(&addr("wrong-account")).is_err(), || {
        "the refused registration is in state".into()
    })?;
    let calls = ecr_calls(&tf);
    if !harness::sweep::enabled() {
        ensure(calls == [(1, 1, 1), (1, 1, 1)], || {
            format!("ECR calls of the two role syncs (tokens, roles, pages): {calls:?}")
        })?;
    }
    no_secret(tb, "apply output", &out.combined())?;
    let plan = tf.plan_json(&[]);
    register_role_secrets(tb)?;
    no_secret(tb, "plan output", &plan.combined())
}

fn default_chain(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = ecr_registry(tb, &tb.aws.account, None)?;
    push_fixtures(tb, &reg)?;
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ACCESS_KEY_ID", &tb.aws.reader_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &tb.aws.reader_secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL_ECR", &tb.aws.endpoint);
    tf.write(&ecr_res(
        "chain",
        &reg,
        r#"["charts/mychart", "charts/other"]"#,
        "",
    ));
    tf.apply()?;
    let a = tf.resource_attrs(&addr("chain"))?;
    expect_fixture_charts(&a, "charts")?;
    ensure(a["ecr"] == serde_json::json!([]), || {
        format!("ecr block: {}", a["ecr"])
    })?;
    tf.plan_is_empty()
}

fn blob_redirect(tb: &Testbed, cli: &TfCli) -> TestResult {
    let storage = nginx::spawn_helm_repo(tb, LOOPBACK2, "s3", true, false)?;
    let origin = format!("https://{LOOPBACK2}:{}", storage.port);
    let reg = ecr_registry(tb, &tb.aws.account, Some(origin.clone()))?;
    reg.push(&tb.charts.mychart_010, "redirect")?;
    // the storage host serves the registry's blobs at their storage paths
    let blobs = reg.data_dir.join("docker/registry/v2/blobs");
    copy_tree(&blobs, &storage.dir.join("docker/registry/v2/blobs"))?;
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ENDPOINT_URL", &tb.aws.endpoint);
    let up = ecr_res("up", &reg, r#"["redirect"]"#, &keys_block("us-east-1", ""));
    // a data source on the ECR registry: the chart's archive through the registry's ECR token
    // and the redirect, its details read from it
    let ds = "data \"chartreg_helm_chart\" \"c\" {\n  registry = chartreg_oci_registry.up\n  name     = \"redirect/mychart\"\n}\n";
    tf.write(&format!("{KEY_VARS}{up}{ds}"));
    tf.apply()?;
    let a = tf.resource_attrs(&addr("up"))?;
    ensure(latest(&a, "redirect/mychart") == "0.1.0", || {
        format!("{}", a["charts"])
    })?;
    let c = tf.resource_attrs("data.chartreg_helm_chart.c")?;
    let want = crate::data_sources::sha256_file(&tb.charts.mychart_010)?;
    ensure(
        c["version"] == "0.1.0"
            && c["digest"] == want.as_str()
            && c["repository"] == format!("oci://{}/redirect", reg.host).as_str()
            && c["values"].as_str().is_some_and(|v| !v.is_empty()),
        || format!("data source on the ECR registry: {c}, want digest {want}"),
    )?;
    let fetched: Vec<_> = storage
        .access_log_entries()
        .into_iter()
        .filter(|e| e.path.starts_with("/docker/registry/v2/blobs/") && e.status == 200)
        .collect();
    ensure(!fetched.is_empty(), || {
        format!(
            "no blob was fetched from the storage host: {:?}",
            storage.access_log_lines()
        )
    })?;
    ensure(fetched.iter().all(|e| e.user.is_none()), || {
        format!("the registry's credentials reached the storage host: {fetched:?}")
    })?;
    // storage down: a new registration (empty blob cache) fails, naming the storage host
    storage.stop();
    let down = ecr_res(
        "down",
        &reg,
        r#"["redirect"]"#,
        &keys_block("us-east-1", ""),
    );
    tf.write(&format!("{KEY_VARS}{up}{down}"));
    let out = tf.apply_json(&[]).failed()?;
    let d = out.expect_error("Blob Storage Unreachable", &at("down", "endpoint"))?;
    ensure(
        d.detail_has(&LOOPBACK2.to_string()) && d.detail_has("must allow that host"),
        || format!("{d}"),
    )?;
    out.expect_error_count(1)?;
    ensure(tf.resource_attrs(&addr("down")).is_err(), || {
        "down is in state".into()
    })
}

/// HTTP_PROXY and HTTPS_PROXY carry the AWS calls (moto is plain HTTP: absolute-URI POSTs) and
/// the registry's traffic (a CONNECT tunnel) through the proxy.
fn proxy_env(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = ecr_registry(tb, &tb.aws.account, None)?;
    push_fixtures(tb, &reg)?;
    let port = harness::servers::free_port();
    let log = tb.scratch_dir("ecr-proxy").join("proxy.log");
    let script = harness::repo_dir().join("acceptance/connectproxy.py");
    let mut proxy = harness::ServerProc::new(
        "proxy",
        tb.tools.join("venv/bin/python"),
        &[&script, &port.to_string()],
        log.clone(),
        port,
    );
    proxy.start()?;
    let mut tf = workspace(tb, cli);
    let url = format!("http://127.0.0.1:{port}");
    tf.env("AWS_ENDPOINT_URL", &tb.aws.endpoint)
        .env("HTTP_PROXY", &url)
        .env("HTTPS_PROXY", &url)
        .env("NO_PROXY", "");
    tf.write(&format!(
        "{KEY_VARS}{}",
        ecr_res(
            "proxied",
            &reg,
            r#"["charts"]"#,
            &keys_block("us-east-1", "")
        )
    ));
    tf.apply()?;
    expect_fixture_charts(&tf.resource_attrs(&addr("proxied"))?, "charts")?;
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    let moto = tb.aws.endpoint.trim_start_matches("http://");
    ensure(
        seen.contains(&format!("POST http://{moto}/"))
            && seen.contains(&format!("CONNECT {}", reg.host)),
        || format!("AWS calls and registry traffic did not all go through the proxy:\n{seen}"),
    )?;
    no_secret(tb, "the proxy log", &seen)?;
    proxy.stop();
    Ok(())
}

/// Copies the files of `from` into `to` (same relative paths).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> TestResult {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for e in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let target = to.join(e.file_name());
        if e.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ failures

struct Failed {
    tf: Tf,
    out: harness::TfReport,
    _reg: RegistryServer,
}

/// Four registrations that fail at apply, each for its own reason.
fn apply_errors_setup(tb: &Testbed, cli: &TfCli) -> TestResult<Failed> {
    let reg = ecr_registry(tb, &tb.aws.account, None)?;
    push_fixtures(tb, &reg)?;
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ENDPOINT_URL", &tb.aws.endpoint)
        .env("TF_VAR_unknown_key", "AKIACHARTREGUNKNOWN1")
        .env("TF_VAR_wrong_secret", "not-the-readers-secret-0000");
    let vars = "variable \"unknown_key\" {\n  type      = string\n  sensitive = true\n}\nvariable \"wrong_secret\" {\n  type      = string\n  sensitive = true\n}\n";
    let block = |region: &str, key: &str, secret: &str, extra: &str| {
        format!("  ecr {{\n    region            = {region:?}\n    access_key_id     = {key}\n    secret_access_key = {secret}\n{extra}  }}\n")
    };
    let denied = format!(
        "    role_arn          = {:?}\n    external_id       = \"not-the-external-id\"\n",
        tb.aws.guarded_role_arn
    );
    tf.write(&format!(
        "{KEY_VARS}{vars}{}{}{}{}",
        ecr_res(
            "unknown-key",
            &reg,
            r#"["charts"]"#,
            &block("us-east-1", "var.unknown_key", "var.secret_key", "")
        ),
        ecr_res(
            "wrong-secret",
            &reg,
            r#"["charts"]"#,
            &block("us-east-1", "var.access_key", "var.wrong_secret", "")
        ),
        ecr_res(
            "denied-role",
            &reg,
            r#"["charts"]"#,
            &block("us-east-1", "var.access_key", "var.secret_key", &denied)
        ),
        ecr_res(
            "wrong-region",
            &reg,
            r#"["charts"]"#,
            &block("eu-west-1", "var.access_key", "var.secret_key", "")
        ),
    ));
    let out = tf.apply_json(&[]).failed()?;
    Ok(Failed { tf, out, _reg: reg })
}

fn apply_errors(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "oci_registry::ecr::apply_errors", apply_errors_setup)
        .case("unknown_access_key", |_, f| {
            let d = f.out.expect_error(
                "AWS Access Key Not Recognised",
                &at("unknown-key", "ecr.access_key_id"),
            )?;
            ensure(
                d.detail_has("GetAuthorizationToken") && d.detail_has("InvalidClientTokenId"),
                || format!("{d}"),
            )
        })
        .case("wrong_secret_key", |_, f| {
            let d = f.out.expect_error(
                "AWS Secret Access Key Rejected",
                &at("wrong-secret", "ecr.secret_access_key"),
            )?;
            ensure(d.detail_has("SignatureDoesNotMatch"), || format!("{d}"))
        })
        .case("denied_role", |_, f| {
            let d = f
                .out
                .expect_error("AWS AssumeRole Denied", &at("denied-role", "ecr.role_arn"))?;
            ensure(
                d.detail_has("trust relationship")
                    && d.detail_has("ecr.external_id")
                    && d.detail_has("AssumeRole"),
                || format!("{d}"),
            )
        })
        .case("wrong_region", |_, f| {
            let d = f.out.expect_error(
                "No ECR Repository In Region",
                &at("wrong-region", "ecr.region"),
            )?;
            ensure(d.detail_has("eu-west-1"), || format!("{d}"))
        })
        .case("nothing_else", |_, f| f.out.expect_error_count(4))
        .case("nothing_in_state", |_, f| f.tf.expect_empty_state())
        .case("no_secret_in_output", |tb, f| {
            no_secret(tb, "apply output", &f.out.combined())
        })
        .trials()
}

struct PlanErrors {
    out: harness::TfReport,
    /// Stands in for every AWS endpoint: a plan-time check must not reach it.
    aws: FaultServer,
}

fn plan_errors_setup(tb: &Testbed, cli: &TfCli) -> TestResult<PlanErrors> {
    let aws = FaultServer::start();
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ENDPOINT_URL", &aws.url(""))
        .env("AWS_ACCESS_KEY_ID", "AKIACHARTREGPLANONLY")
        .env("AWS_SECRET_ACCESS_KEY", "plan-only-secret")
        .env("AWS_REGION", "us-east-1");
    let r = |name: &str, endpoint: &str, body: &str| {
        format!("resource {RT:?} {name:?} {{\n  name     = {name:?}\n  endpoint = {endpoint:?}\n{body}}}\n\n")
    };
    let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    tf.write(&format!(
        "{KEY_VARS}{}{}{}{}{}{}",
        r(
            "half-pair",
            host,
            "  ecr {\n    access_key_id = \"AKIACHARTREGHALFPAIR\"\n  }\n"
        ),
        r(
            "bad-arn",
            host,
            "  ecr {\n    role_arn = \"arn:aws:iam::1234:role/reader\"\n  }\n"
        ),
        r(
            "block-with-basic",
            host,
            "  authentication_type = \"basic\"\n  ecr {\n    region = \"us-east-1\"\n  }\n"
        ),
        r(
            "password-with-ecr",
            host,
            "  authentication_type = \"ecr\"\n  username            = \"AWS\"\n"
        ),
        r(
            "region-differs",
            host,
            "  ecr {\n    region = \"eu-west-1\"\n  }\n"
        ),
        r(
            "external-id-alone",
            host,
            "  ecr {\n    external_id = \"ext-alone\"\n  }\n"
        ),
    ));
    let out = tf.plan_json(&[]).failed()?;
    Ok(PlanErrors { out, aws })
}

fn plan_errors(tb: &Arc<Testbed>) -> Vec<Trial> {
    Cases::new(tb, "oci_registry::ecr::plan_errors", plan_errors_setup)
        .case("half_key_pair", |_, p| {
            p.out
                .expect_error("Missing Secret Access Key", &at("half-pair", "ecr"))
                .map(drop)
        })
        .case("role_arn_syntax", |_, p| {
            let d = p
                .out
                .expect_error("Invalid Role ARN", &at("bad-arn", "ecr.role_arn"))?;
            ensure(d.detail_has("12 digits"), || format!("{d}"))
        })
        .case("ecr_block_with_basic", |_, p| {
            p.out
                .expect_error(
                    "ECR Block Without ECR Authentication",
                    &at("block-with-basic", "authentication_type"),
                )
                .map(drop)
        })
        .case("username_with_ecr", |_, p| {
            p.out
                .expect_error(
                    "Credentials Not Used With ECR",
                    &at("password-with-ecr", "username"),
                )
                .map(drop)
        })
        .case("region_differs_from_host", |_, p| {
            p.out
                .expect_error(
                    "Region Differs From The Registry's",
                    &at("region-differs", "ecr.region"),
                )
                .map(drop)
        })
        .case("external_id_needs_role", |_, p| {
            p.out
                .expect_error(
                    "Setting Needs A Role",
                    &at("external-id-alone", "ecr.external_id"),
                )
                .map(drop)
        })
        .case("nothing_else", |_, p| p.out.expect_error_count(6))
        .case("no_aws_request", |_, p| {
            let seen = p.aws.requests();
            ensure(seen.is_empty(), || {
                format!("a plan with errors called AWS: {seen:?}")
            })
        })
        .trials()
}

/// Values from variables are unknown when Terraform validates: the same checks run again when
/// planning (half a key pair from a variable).
fn plan_error_from_variable(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = workspace(tb, cli);
    tf.write(&format!(
        "{KEY_VARS}resource {RT:?} \"half\" {{\n  name     = \"half\"\n  endpoint = \"123456789012.dkr.ecr.us-east-1.amazonaws.com\"\n  ecr {{\n    access_key_id = var.access_key\n  }}\n}}\n"
    ));
    let out = tf.plan_json(&[]).failed()?;
    out.expect_error("Missing Secret Access Key", &at("half", "ecr"))?;
    out.expect_error_count(1)?;
    no_secret(tb, "plan output", &out.combined())
}

// ------------------------------------------------------------------ example

/// `examples/resources/chartreg_oci_registry/ecr.tf`: static keys and the default chain on the
/// first account's registry, the role on the second's.
fn example(tb: &Testbed, cli: &TfCli) -> TestResult {
    let example = std::fs::read_to_string(
        harness::repo_dir().join("examples/resources/chartreg_oci_registry/ecr.tf"),
    )
    .map_err(|e| format!("ecr.tf: {e}"))?;
    // plain HTTP: the example has no `ca_certificate` (ECR's certificates are public)
    let first = ecr_registry_as(tb, &tb.aws.account, None, RegistryAuth::None)?;
    let second = ecr_registry_as(tb, &tb.aws.second_account, None, RegistryAuth::None)?;
    for tgz in tb.charts.all() {
        first.push(tgz, "charts")?;
        second.push(tgz, "team/charts")?;
    }
    let mut tf = workspace(tb, cli);
    tf.env("AWS_ENDPOINT_URL", &tb.aws.endpoint)
        .env("AWS_ACCESS_KEY_ID", &tb.aws.reader_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &tb.aws.reader_secret)
        .env("AWS_REGION", "us-east-1")
        .env("TF_VAR_ecr_registry", &format!("http://{}", first.host))
        .env(
            "TF_VAR_partner_registry",
            &format!("http://{}", second.host),
        )
        .env("TF_VAR_aws_region", "us-east-1")
        .env("TF_VAR_aws_access_key_id", &tb.aws.reader_key_id)
        .env("TF_VAR_aws_secret_access_key", &tb.aws.reader_secret)
        .env("TF_VAR_partner_role_arn", &tb.aws.cross_role_arn)
        .env("TF_VAR_partner_external_id", &tb.aws.external_id);
    tf.write(&example);
    tf.apply()?;
    register_role_secrets(tb)?;
    for (name, prefix) in [
        ("keys", "charts"),
        ("chain", "charts"),
        ("partner", "team/charts"),
    ] {
        let a = tf.resource_attrs(&format!("{RT}.{name}"))?;
        expect_fixture_charts(&a, prefix)?;
    }
    tf.plan_is_empty()?;
    register_role_secrets(tb)?;
    tf.destroy()?;
    tf.expect_empty_state()
}
