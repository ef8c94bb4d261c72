//! Acceptance tests of the provider itself: `init`, `validate`, `providers schema -json`,
//! plan-time validation of the provider block (`bad_config::*`, a case per setting), the
//! settings at work (`max_index_size`, `SSL_CERT_FILE`, proxies, `cache_dir`), logging through
//! `TF_LOG`, the plugin handshake, and the provider and quickstart examples.

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::harness::{
    self, ensure, Body, Cases, RegistryAuth, TestResult, Testbed, Tf, TfCli, TfReport,
};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let cases: [(&str, Body); 9] = [
        ("init_validate_schema", init_validate_schema),
        ("good_config_plans", good_config_plans),
        ("logs_through_tf_log", logs_through_tf_log),
        ("quickstart_example", quickstart_example),
        ("max_index_size_refuses", max_index_size_refuses),
        ("ssl_cert_file_trusted", ssl_cert_file_trusted),
        ("honours_proxy_env", honours_proxy_env),
        ("handshake_nodelay", handshake_nodelay),
        ("cache_dir_lifecycle", cache_dir_lifecycle),
    ];
    let mut v = harness::scenarios(tb, "provider", &cases);
    v.extend(bad_config(tb));
    v
}

fn read_example(rel: &str) -> String {
    std::fs::read_to_string(harness::repo_dir().join("examples").join(rel))
        .unwrap_or_else(|e| panic!("examples/{rel}: {e}"))
}

/// `terraform init` and `validate` work on the provider example, and `providers schema -json`
/// lists the provider, its configuration and every resource type.
fn init_validate_schema(tb: &Testbed, cli: &TfCli) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    // A real install: `terraform init` takes the built binary from a filesystem mirror (no
    // dev_overrides, no network), as a packaged release would be installed.
    let mirror = tf.dir.join("mirror");
    let pkg = mirror.join(format!(
        "registry.terraform.io/chartreg/chartreg/{}/linux_amd64",
        env!("CARGO_PKG_VERSION")
    ));
    std::fs::create_dir_all(&pkg).map_err(|e| e.to_string())?;
    let bin = harness::terraform::provider_dir().join("terraform-provider-chartreg");
    std::fs::copy(
        &bin,
        pkg.join(format!(
            "terraform-provider-chartreg_v{}",
            env!("CARGO_PKG_VERSION")
        )),
    )
    .map_err(|e| format!("{}: {e}", bin.display()))?;
    let rc = tf.dir.join("mirror.tfrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n    include = [\"chartreg/chartreg\"]\n  }}\n}}\n",
            mirror.display().to_string()
        ),
    )
    .map_err(|e| e.to_string())?;
    tf.env("TF_CLI_CONFIG_FILE", &rc.display().to_string());
    tf.write(&read_example("provider/provider.tf"));
    let o = tf.run_ok(&["init", "-input=false", "-no-color"])?;
    ensure(o.success(), || o.to_string())?;
    let o = tf.run_ok(&["validate", "-no-color"])?;
    ensure(o.stdout.contains("The configuration is valid"), || {
        o.to_string()
    })?;
    let o = tf.run_ok(&["providers", "schema", "-json"])?;
    let v: serde_json::Value =
        serde_json::from_str(&o.stdout).map_err(|e| format!("schema json: {e}"))?;
    let p = &v["provider_schemas"]["registry.terraform.io/chartreg/chartreg"];
    ensure(!p.is_null(), || {
        format!("provider missing from schema: {}", o.stdout)
    })?;
    for a in [
        "request_timeout",
        "max_retries",
        "max_index_size",
        "max_chart_size",
        "cache_dir",
    ] {
        ensure(
            p["provider"]["block"]["attributes"][a]["optional"] == true,
            || format!("provider attribute {a} missing or not optional"),
        )?;
    }
    for r in ["chartreg_helm_registry", "chartreg_oci_registry"] {
        ensure(p["resource_schemas"][r].is_object(), || {
            format!("{r} missing from schema")
        })?;
    }
    let pw = &p["resource_schemas"]["chartreg_helm_registry"]["block"]["attributes"]["password"];
    ensure(pw["sensitive"] == true, || {
        "password must be sensitive".into()
    })?;
    ensure(
        p["resource_schemas"]["chartreg_oci_registry"]["block"]["attributes"]["password"]
            ["sensitive"]
            == true,
        || "OCI password must be sensitive".into(),
    )
}

/// A configuration with `provider` settings `lines` and one Helm registration of `endpoint`.
fn with_provider(lines: &str, endpoint: &str) -> String {
    format!(
        "provider \"chartreg\" {{\n{lines}}}\n\nresource \"chartreg_helm_registry\" \"r\" {{\n  name     = \"r\"\n  endpoint = \"{endpoint}\"\n}}\n"
    )
}

/// Every bad provider value fails at plan (all in one provider block), each with an error on
/// its attribute.
fn bad_config(tb: &Arc<Testbed>) -> Vec<Trial> {
    const CHECKS: [(&str, &str); 5] = [
        ("request_timeout", "Invalid Request Timeout"),
        ("max_retries", "Invalid Max Retries"),
        ("max_index_size", "Invalid Max Index Size"),
        ("max_chart_size", "Invalid Max Chart Size"),
        ("cache_dir", "Invalid Cache Directory"),
    ];
    let mut cases = Cases::new(tb, "provider::bad_config", |tb, cli| {
        let tf = Tf::new(tb, cli);
        let lines = "  request_timeout = \"soon\"\n  max_retries     = -1\n  max_index_size  = 10\n  max_chart_size  = 1023\n  cache_dir       = \"\"\n";
        tf.write(&with_provider(lines, &tb.helm.http));
        tf.plan_json(&[]).failed()
    });
    for (attr, summary) in CHECKS {
        cases = cases.case(attr, move |_, out: &TfReport| {
            out.expect_error(summary, &format!("provider.chartreg.{attr}"))
                .map(drop)
        });
    }
    cases
        .case("nothing_else", |_, out| {
            out.expect_error_count(CHECKS.len())
        })
        .trials()
}

/// A good provider block plans.
fn good_config_plans(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    tf.write(&with_provider(
        "  request_timeout = \"1m30s\"\n",
        &tb.helm.http,
    ));
    tf.plan_json(&[]).ok().map(drop)
}

/// `TF_LOG=debug` shows the provider's own lines (hclog JSON on stderr), and the default level
/// does not flood the log.
fn logs_through_tf_log(tb: &Testbed, cli: &TfCli) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    let log = tf.dir.join("tf-debug.log");
    tf.env("TF_LOG", "DEBUG")
        .env("TF_LOG_PATH", &log.display().to_string());
    tf.write(&format!(
        "resource \"chartreg_helm_registry\" \"r\" {{\n  name     = \"r\"\n  endpoint = \"{}\"\n  username = \"{}\"\n  password = \"{}\"\n}}\n",
        tb.helm.http_auth, tb.user, tb.password
    ));
    tf.apply()?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    ensure(text.contains("provider configured"), || {
        "the provider's debug lines are not in Terraform's log".into()
    })?;
    ensure(!text.contains(&tb.password), || {
        "the password leaked into the log".into()
    })?;
    tf.destroy()?;
    Ok(())
}

/// `examples/quickstart` (what `make demo` runs) against a dedicated Helm repository and registry.
fn quickstart_example(tb: &Testbed, cli: &TfCli) -> TestResult {
    let repo = tb.spawn_helm_repo("quickstart");
    let reg = tb.spawn_registry(RegistryAuth::None);
    reg.push(&tb.charts.mychart_010, "demo")?;
    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_helm_repo_url", &repo.url)
        .env("TF_VAR_oci_endpoint", &format!("http://{}", reg.host))
        .env("TF_VAR_chart", "mychart");
    tf.write(&read_example("quickstart/main.tf"));
    tf.apply()?;
    let out = tf.output_json()?;
    ensure(out["helm_charts"]["value"]["mychart"] == "0.1.0", || {
        format!("helm_charts: {out}")
    })?;
    ensure(
        out["oci_charts"]["value"]["demo/mychart"] == "0.1.0",
        || format!("oci_charts: {out}"),
    )?;
    // The resolved chart `make demo` ends with: version, digest, the first lines of values.yaml.
    let digest = {
        use sha2::Digest;
        let bytes = std::fs::read(repo.dir.join("mychart-0.1.0.tgz")).map_err(|e| e.to_string())?;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let resolved = out["resolved_chart"]["value"].as_str().unwrap_or_default();
    ensure(
        resolved.starts_with(&format!("mychart 0.1.0 ({})\ndigest: sha256:{digest}\nvalues.yaml:\n  # Default values for mychart.", repo.url)),
        || format!("resolved_chart: {resolved}"),
    )?;
    ensure(
        out["helm_release"]["value"]
            == serde_json::json!({"repository": repo.url, "chart": "mychart", "version": "0.1.0"}),
        || format!("helm_release: {out}"),
    )?;
    tf.plan_is_empty()?;
    tf.destroy().map(drop)
}

/// `max_index_size` refuses a larger index with an error naming the setting; nothing is created.
fn max_index_size_refuses(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let rancher = format!("{}/rancher", tb.helm.realworld);
    tf.write(&with_provider("  max_index_size = 100000\n", &rancher));
    let o = tf.apply_json(&[]).failed()?;
    // no attribute of the resource is at fault: Terraform points at the resource itself
    let d = o.expect_error("Registry Index Too Large", "chartreg_helm_registry.r")?;
    ensure(d.detail_has("max_index_size"), || {
        format!("the error should name max_index_size:\n{d}")
    })?;
    tf.expect_empty_state()
}

/// A TLS repository without `ca_certificate` is trusted through `SSL_CERT_FILE`.
fn ssl_cert_file_trusted(tb: &Testbed, cli: &TfCli) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    tf.env("SSL_CERT_FILE", &tb.ca_cert.display().to_string());
    tf.write(&format!(
        "resource \"chartreg_helm_registry\" \"tls\" {{\n  name     = \"tls\"\n  endpoint = \"{}\"\n}}\n",
        tb.helm.https
    ));
    tf.apply()?;
    let attrs = tf.resource_attrs("chartreg_helm_registry.tls")?;
    ensure(attrs["chart_count"] == 2, || {
        format!("chart_count: {attrs}")
    })?;
    tf.destroy()?;
    Ok(())
}

/// `HTTPS_PROXY` sends registry traffic through the proxy (a CONNECT tunnel, so TLS is still
/// verified end to end), and `NO_PROXY` bypasses it.
fn honours_proxy_env(tb: &Testbed, cli: &TfCli) -> TestResult {
    let port = harness::servers::free_port();
    let dir = tb.scratch_dir("proxy");
    let log = dir.join("proxy.log");
    let script = harness::repo_dir().join("acceptance/connectproxy.py");
    let mut proxy = harness::ServerProc::new(
        "proxy",
        tb.tools.join("venv/bin/python"),
        &[&script, &port.to_string()],
        log.clone(),
        port,
    );
    proxy.start()?;
    let mut tf = Tf::new(tb, cli);
    tf.env("HTTPS_PROXY", &format!("http://127.0.0.1:{port}"))
        .env("NO_PROXY", "");
    tf.write(&format!(
        "resource \"chartreg_helm_registry\" \"p\" {{\n  name           = \"p\"\n  endpoint       = \"{}\"\n  ca_certificate = {:?}\n}}\n",
        tb.helm.https, tb.ca_pem
    ));
    tf.apply()?;
    let https_host = tb
        .helm
        .https
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    ensure(seen.contains(&format!("CONNECT {https_host}")), || {
        format!("no CONNECT {https_host} through the proxy:\n{seen}")
    })?;
    // NO_PROXY: the refresh goes direct.
    let before = seen.matches("CONNECT").count();
    tf.env("NO_PROXY", "127.0.0.1");
    tf.refresh_only()?;
    let after = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("CONNECT")
        .count();
    ensure(after == before, || {
        format!("NO_PROXY ignored: {before} -> {after} CONNECTs")
    })?;
    tf.destroy()?;
    proxy.stop();
    Ok(())
}

/// The provider still speaks the plugin handshake correctly with stdout routed through the
/// TCP_NODELAY interceptor, and without it (`CHARTREG_PLUGIN_NODELAY=0`).
fn handshake_nodelay(tb: &Testbed, cli: &TfCli) -> TestResult {
    let mut tf = Tf::new(tb, cli);
    tf.write(&format!(
        "resource \"chartreg_helm_registry\" \"r\" {{\n  name     = \"r\"\n  endpoint = \"{}\"\n}}\n",
        tb.helm.http
    ));
    tf.apply()?;
    tf.env("CHARTREG_PLUGIN_NODELAY", "0");
    tf.plan_is_empty()?;
    tf.destroy()?;
    Ok(())
}

/// `cache_dir` receives the downloaded index (by digest) and the OCI config blobs; destroying a
/// registration drops its cached files and nothing else.
fn cache_dir_lifecycle(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let cache = tf.dir.join("chart-cache");
    let reg = tb.spawn_registry(RegistryAuth::None);
    reg.push(&tb.charts.mychart_010, "charts")?;
    tf.write(&format!(
        "provider \"chartreg\" {{\n  cache_dir = {:?}\n}}\n\nresource \"chartreg_helm_registry\" \"h\" {{\n  name     = \"h\"\n  endpoint = \"{}\"\n}}\n\nresource \"chartreg_oci_registry\" \"o\" {{\n  name     = \"o\"\n  endpoint = \"http://{}\"\n}}\n",
        cache.display().to_string(),
        tb.helm.http,
        reg.host
    ));
    tf.apply()?;
    let digest = tf.resource_attrs("chartreg_helm_registry.h")?["index_digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let index = cache.join("helm/h").join(format!("sha256-{digest}"));
    ensure(index.is_file(), || {
        format!("index not cached at {}", index.display())
    })?;
    let blobs = cache.join("oci/o/blobs");
    let n = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    ensure(n >= 1, || {
        format!("no config blob cached under {}", blobs.display())
    })?;
    tf.destroy()?;
    ensure(
        !cache.join("helm/h").exists() && !cache.join("oci/o").exists(),
        || "destroy must drop the registrations' cached files".into(),
    )
}
