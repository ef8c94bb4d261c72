//! Security cases about what a registry sends (issue 7, points 2, 4 and 12): token lifetimes
//! that would overflow the clock, error bodies that echo our credentials back, gzip-encoded
//! indexes and gzip bombs. Each plays the hostile server with [`FaultServer`].

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use libtest_mimic::Trial;
use serde_json::json;

use crate::harness::{self, ensure, Fault, FaultServer, TestResult, Testbed, Tf, TfCli, TfOutput};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "security::remote",
        &[
            (
                "token_expires_in_never_crashes",
                token_expires_in_never_crashes,
            ),
            (
                "echoed_credentials_helm_index",
                echoed_credentials_helm_index,
            ),
            ("echoed_credentials_oci_ping", echoed_credentials_oci_ping),
            (
                "echoed_credentials_oci_token_realm",
                echoed_credentials_oci_token_realm,
            ),
            ("gzip_index_decoded", gzip_index_decoded),
            ("gzip_bomb_hits_size_cap", gzip_bomb_hits_size_cap),
        ],
    )
}

/// What Terraform prints when the plugin panicked or died (a panic in a request handler shows
/// as "Request cancelled").
fn crashed(o: &TfOutput) -> bool {
    let all = o.combined().to_ascii_lowercase();
    [
        "panic",
        "plugin crashed",
        "did not respond",
        "request cancelled",
        "was cancelled",
        "overflow",
        "unexpected eof",
    ]
    .iter()
    .any(|n| all.contains(n))
}

const PROVIDER_NO_RETRY: &str = "provider \"chartreg\" {\n  max_retries = 0\n}\n";

// ---------------------------------------------------------------------------------------------
// Point 2: token lifetimes
// ---------------------------------------------------------------------------------------------

/// A token server answering `expires_in` values that do not fit a clock (and other nonsense
/// types) on create and on refresh: the provider must neither crash nor refuse the token.
fn token_expires_in_never_crashes(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    let challenge = format!(r#"Bearer realm="{}",service="x""#, fs.url("/token"));
    let unauth = Fault::status(401).header("WWW-Authenticate", &challenge);
    let ok = Fault::json(200, &json!({}));
    // Each plugin process pings once: without a token (401), then with one (200).
    let mut ping = Vec::new();
    for _ in 0..6 {
        ping.push(unauth.clone());
        ping.push(ok.clone());
    }
    fs.route("/v2/", ping);
    // Two tokens per process (ping, catalog). The first is the value from the report.
    fs.route(
        "/token",
        vec![
            Fault::respond(200, r#"{"token":"t","expires_in":10000000000000000000}"#),
            Fault::respond(200, r#"{"token":"t","expires_in":1.0e300,"issued_at":17}"#),
            Fault::respond(
                200,
                r#"{"token":"t","expires_in":10000000000000000000,"issued_at":"9999-99-99"}"#,
            ),
            Fault::respond(200, r#"{"token":"t","expires_in":-5}"#),
            Fault::respond(200, r#"{"access_token":"t","expires_in":"forever"}"#),
            Fault::respond(
                200,
                r#"{"token":"t","expires_in":100000000000000000000000000000}"#,
            ),
        ],
    );
    fs.route(
        "/v2/_catalog",
        vec![Fault::json(200, &json!({ "repositories": [] }))],
    );

    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        r#"{PROVIDER_NO_RETRY}
resource "chartreg_oci_registry" "r" {{
  name     = "r"
  endpoint = "http://{}"
}}
"#,
        fs.host()
    ));
    let create = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    ensure(!crashed(&create), || {
        format!("create crashed the plugin:\n{create}")
    })?;
    ensure(create.success(), || format!("create failed:\n{create}"))?;
    let created_tokens = fs.requests_to("/token").len();
    ensure(created_tokens >= 2, || {
        format!("create asked for {created_tokens} tokens, expected 2")
    })?;
    for round in 0..2 {
        let refresh = tf.run(&[
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ]);
        ensure(!crashed(&refresh), || {
            format!("refresh {round} crashed the plugin:\n{refresh}")
        })?;
        ensure(refresh.success(), || {
            format!("refresh {round} failed:\n{refresh}")
        })?;
    }
    let tokens = fs.requests_to("/token").len();
    ensure(tokens >= created_tokens + 4, || {
        format!("the refreshes did not ask for tokens ({tokens} requests in all)")
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Point 4: error bodies that echo credentials
// ---------------------------------------------------------------------------------------------

const USER: &str = "robot";
/// Characters that base64, URL and form encoding all change.
const PASSWORD: &str = "S3cr/t+p@ss=w0rd&x y";

fn percent_encode(s: &str, space_plus: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' if space_plus => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every form of the password a server could echo, with a label for failure messages.
fn secret_forms() -> Vec<(&'static str, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        ("the password", PASSWORD.to_string()),
        (
            "base64 of user:password",
            b64.encode(format!("{USER}:{PASSWORD}")),
        ),
        ("base64 of the password", b64.encode(PASSWORD)),
        ("the URL-encoded password", percent_encode(PASSWORD, false)),
        ("the form-encoded password", percent_encode(PASSWORD, true)),
        (
            "the lower-case URL-encoded password",
            percent_encode(PASSWORD, false).to_ascii_lowercase(),
        ),
    ]
}

/// A body that quotes the password in every form (as a debug page or a chatty proxy might),
/// with no `password=`-like key that would give it away by shape.
fn leaky_body() -> String {
    let forms = secret_forms();
    format!(
        "login failed for {USER} with {} / {} / {} / {} / {}",
        forms[0].1, forms[3].1, forms[4].1, forms[1].1, forms[2].1
    )
}

/// A workspace with the password in a sensitive variable and Terraform tracing to files.
fn secret_tf(tb: &Testbed, cli: &TfCli) -> Tf {
    let mut tf = Tf::new(tb, cli);
    tf.env("TF_VAR_pw", PASSWORD).env("TF_LOG", "trace");
    tf
}

/// `apply` that must fail, logging at trace to `trace-N.log`.
fn failing_apply(tf: &mut Tf, n: usize, expect: &str) -> TestResult<TfOutput> {
    let log = tf.dir.join(format!("trace-{n}.log"));
    tf.env("TF_LOG_PATH", &log.display().to_string());
    let o = tf.apply_err()?;
    if harness::verbose() {
        eprintln!(
            "apply {n}: {}",
            harness::redact(&o.stderr.split_whitespace().collect::<Vec<_>>().join(" "))
        );
    }
    ensure(!crashed(&o), || format!("the plugin crashed:\n{o}"))?;
    ensure(o.contains(expect), || {
        format!("apply {n} should fail with {expect:?}:\n{o}")
    })?;
    Ok(o)
}

/// No form of any secret in the outputs nor in the trace logs of the workspace.
fn assert_no_secret(tf: &Tf, outputs: &[TfOutput], extra: &[(&str, String)]) -> TestResult {
    let mut secrets = secret_forms();
    secrets.extend(extra.iter().map(|(l, s)| (*l, s.clone())));
    let mut texts: Vec<(String, String)> = outputs
        .iter()
        .map(|o| {
            (
                format!("output of terraform {}", o.args.join(" ")),
                o.combined(),
            )
        })
        .collect();
    let mut logs = 0;
    for e in std::fs::read_dir(&tf.dir).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("trace-") && n.ends_with(".log"))
        {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            ensure(text.contains("chartreg"), || {
                format!("{} does not look like a trace log", p.display())
            })?;
            logs += 1;
            texts.push((p.display().to_string(), text));
        }
    }
    ensure(logs == outputs.len(), || {
        format!("expected {} trace logs, found {logs}", outputs.len())
    })?;
    for (where_, text) in &texts {
        for (label, s) in &secrets {
            ensure(!text.contains(s.as_str()), || {
                // Never print the secret itself.
                let at = text.find(s.as_str()).unwrap_or(0);
                let ctx: String = text[at.saturating_sub(120)..at]
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect();
                format!("{label} appears in {where_}, after: …{ctx}")
            })?;
        }
    }
    Ok(())
}

/// The server did receive the credentials it echoes (else the case would prove nothing).
fn saw_authorization(fs: &FaultServer, path: &str, scheme: &str) -> TestResult {
    ensure(
        fs.requests_to(path).iter().any(|r| {
            r.header("authorization")
                .is_some_and(|a| a.starts_with(scheme))
        }),
        || format!("no request to {path} carried {scheme} credentials"),
    )
}

/// A Helm index answering 500 with the request headers (and then 400 with the password in
/// every encoding): the diagnostic and the trace log keep the status, never the credentials.
fn echoed_credentials_helm_index(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    fs.route("/index.yaml", vec![Fault::EchoHeaders { status: 500 }]);
    let mut tf = secret_tf(tb, cli);
    tf.write(&secret_config("chartreg_helm_registry", &fs.url("/")));
    let echo = failing_apply(&mut tf, 0, "HTTP 500")?;
    saw_authorization(&fs, "/index.yaml", "Basic ")?;
    fs.route("/index.yaml", vec![Fault::respond(400, leaky_body())]);
    let leak = failing_apply(&mut tf, 1, "HTTP 400")?;
    assert_no_secret(&tf, &[echo, leak], &[])
}

/// OCI `/v2/` asking for Basic, then answering 500 with the request headers (and 400 with the
/// password in every encoding).
fn echoed_credentials_oci_ping(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    let basic = Fault::status(401).header("WWW-Authenticate", r#"Basic realm="registry""#);
    fs.route(
        "/v2/",
        vec![basic.clone(), Fault::EchoHeaders { status: 500 }],
    );
    let mut tf = secret_tf(tb, cli);
    tf.write(&oci_config(&fs));
    let echo = failing_apply(&mut tf, 0, "HTTP 500")?;
    saw_authorization(&fs, "/v2/", "Basic ")?;
    fs.route("/v2/", vec![basic, Fault::respond(400, leaky_body())]);
    let leak = failing_apply(&mut tf, 1, "HTTP 400")?;
    assert_no_secret(&tf, &[echo, leak], &[])
}

/// No retries, the password in the sensitive variable `pw`, and one registry `r` of type `rt`
/// at `endpoint` that logs in as [`USER`].
fn secret_config(rt: &str, endpoint: &str) -> String {
    format!(
        r#"{PROVIDER_NO_RETRY}
variable "pw" {{
  type      = string
  sensitive = true
}}

resource "{rt}" "r" {{
  name     = "r"
  endpoint = "{endpoint}"
  username = "{USER}"
  password = var.pw
}}
"#
    )
}

/// [`secret_config`] for an OCI registry served by `fs`.
fn oci_config(fs: &FaultServer) -> String {
    secret_config("chartreg_oci_registry", &format!("http://{}", fs.host()))
}

/// The OCI token realm answering 500 with the request headers, then 400 with the password in
/// every encoding; then a registry echoing the bearer token it was given.
fn echoed_credentials_oci_token_realm(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    let challenge = format!(r#"Bearer realm="{}",service="x""#, fs.url("/token"));
    let bearer = Fault::status(401).header("WWW-Authenticate", &challenge);
    fs.route("/v2/", vec![bearer.clone()]);
    fs.route("/token", vec![Fault::EchoHeaders { status: 500 }]);
    let mut tf = secret_tf(tb, cli);
    tf.write(&oci_config(&fs));
    let echo = failing_apply(&mut tf, 0, "HTTP 500")?;
    saw_authorization(&fs, "/token", "Basic ")?;

    fs.route("/token", vec![Fault::respond(400, leaky_body())]);
    let leak = failing_apply(&mut tf, 1, "HTTP 400")?;

    // A token we hold, echoed by the registry (raw and in a JSON error message).
    let token = format!("tok-{:x}", std::process::id() as u64 * 7919 + 0xC0FFEE);
    fs.route(
        "/token",
        vec![Fault::json(
            200,
            &json!({ "token": token, "expires_in": 300 }),
        )],
    );
    fs.route("/v2/", vec![bearer.clone(), Fault::json(200, &json!({}))]);
    fs.route("/v2/_catalog", vec![Fault::EchoHeaders { status: 500 }]);
    let echo_token = failing_apply(&mut tf, 2, "HTTP 500")?;
    saw_authorization(&fs, "/v2/_catalog", "Bearer ")?;
    fs.route(
        "/v2/_catalog",
        vec![Fault::respond(
            500,
            format!(r#"{{"errors":[{{"code":"UNKNOWN","message":"bad token {token}"}}]}}"#),
        )],
    );
    fs.route("/v2/", vec![bearer, Fault::json(200, &json!({}))]);
    let leak_token = failing_apply(&mut tf, 3, "HTTP 500")?;
    assert_no_secret(
        &tf,
        &[echo, leak, echo_token, leak_token],
        &[("the bearer token", token)],
    )
}

// ---------------------------------------------------------------------------------------------
// Point 12: gzip
// ---------------------------------------------------------------------------------------------

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

const GZ_INDEX: &str = r#"apiVersion: v1
entries:
  demo:
  - apiVersion: v2
    name: demo
    version: 1.2.3
    description: served with Content-Encoding gzip
    urls:
    - demo-1.2.3.tgz
  - apiVersion: v2
    name: demo
    version: 1.0.0
    urls:
    - demo-1.0.0.tgz
"#;

fn helm_config(endpoint: &str, max_index_size: Option<u64>) -> String {
    let provider = match max_index_size {
        Some(n) => {
            format!("provider \"chartreg\" {{\n  max_retries    = 0\n  max_index_size = {n}\n}}\n")
        }
        None => PROVIDER_NO_RETRY.to_string(),
    };
    format!(
        r#"{provider}
resource "chartreg_helm_registry" "r" {{
  name     = "r"
  endpoint = "{endpoint}"
}}
"#
    )
}

/// An index sent with `Content-Encoding: gzip` is decoded, as Helm (Go's transport) does; the
/// request asks for gzip as Helm's does.
fn gzip_index_decoded(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    fs.route(
        "/index.yaml",
        vec![Fault::ok(gzip(GZ_INDEX.as_bytes()))
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "text/yaml")],
    );
    let tf = Tf::new(tb, cli);
    tf.write(&helm_config(&fs.url("/"), None));
    tf.apply()?;
    let attrs = tf.resource_attrs("chartreg_helm_registry.r")?;
    ensure(
        attrs["chart_count"] == json!(1) && attrs["version_count"] == json!(2),
        || format!("the gzip index was not read: {attrs}"),
    )?;
    let reqs = fs.requests_to("/index.yaml");
    ensure(
        reqs.iter().all(|r| {
            r.header("accept-encoding")
                .is_some_and(|a| a.contains("gzip"))
        }),
        || format!("the index request did not ask for gzip: {reqs:?}"),
    )?;
    tf.refresh_only()?;
    tf.plan_is_empty()?;
    Ok(())
}

/// ~10 MB of zeros in a few KB of gzip, under `max_index_size = 1 MiB`: the size cap counts
/// decoded bytes and stops the download early.
fn gzip_bomb_hits_size_cap(tb: &Testbed, cli: &TfCli) -> TestResult {
    let bomb = gzip(&vec![0u8; 10 << 20]);
    ensure(bomb.len() < 64 * 1024, || {
        format!("the bomb is {} bytes", bomb.len())
    })?;
    let fs = FaultServer::start();
    fs.route(
        "/index.yaml",
        vec![Fault::ok(bomb).header("Content-Encoding", "gzip")],
    );
    let tf = Tf::new(tb, cli);
    tf.write(&helm_config(&fs.url("/"), Some(1 << 20)));
    let t = Instant::now();
    let o = tf.apply_err()?;
    let took = t.elapsed();
    ensure(!crashed(&o), || format!("the plugin crashed:\n{o}"))?;
    if harness::verbose() {
        eprintln!("gzip bomb refused after {took:?} (apply included)");
    }
    // The limit and the setting that sets it (the hint names it for indexes only).
    ensure(
        o.contains("Registry Index Too Large")
            && o.contains("(1048576 bytes)")
            && o.contains("max_index_size"),
        || format!("expected the size-cap error:\n{o}"),
    )?;
    ensure(took < Duration::from_secs(30), || {
        format!("the bomb took {took:?}")
    })?;
    ensure_no_cache_growth(&tf.dir)
}

/// Nothing of the bomb is written under the workspace (cache included).
fn ensure_no_cache_growth(dir: &Path) -> TestResult {
    fn size(p: &Path) -> u64 {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => size(&e.path()),
                Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
                Err(_) => 0,
            })
            .sum()
    }
    let total = size(dir);
    ensure(total < 4 << 20, || {
        format!("the workspace holds {total} bytes after the bomb")
    })
}
