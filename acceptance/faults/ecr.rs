//! `faults::ecr::token_and_sts`: Amazon ECR through faults on the AWS side. moto (ECR + STS) is
//! reached through a fault proxy (`AWS_ENDPOINT_URL`); the registry is a `docker-registry` that
//! accepts only moto's ECR token (as in `oci_registry::ecr`). Two registrations: `keys` (the
//! reader's keys) and `role` (the same keys, then AssumeRole into a role of the account). AWS
//! calls all go to `POST /`; the proxy tells them apart by `X-Amz-Target` (ECR), the body's
//! `Action=` (STS) and the access key in `Authorization`.
//!
//! 1. create, `GetAuthorizationToken` of `keys` answering 500 once and `AssumeRole` 503 once: both
//!    created, each call seen twice (the SDK's retries, bounded by `max_retries`);
//! 2. refresh, `DescribeRepositories` answering 503 for good: a warning on each, the catalogs kept,
//!    3 attempts each (`max_retries + 1`);
//! 3. refresh, `GetAuthorizationToken` answering nonsense (200, not the shape of the API): a warning
//!    on each, the catalogs kept;
//! 4. refresh, `AssumeRole` resetting the connection for good: a warning on `role` only, 3
//!    attempts, `keys` refreshed;
//! 5. refresh with no fault: no warning, the same catalogs.

use std::sync::Arc;

use libtest_mimic::Trial;

use super::{cache_clean, host_port, provider_block, q, OCI};
use crate::harness::{
    self, ensure, moto, Aws, Fault, FaultServer, Match, RegistryAuth, RegistryOptions, Severity,
    TestResult, Testbed, Tf, TfCli, TfReport, LOOPBACK,
};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(tb, "faults::ecr", &[("token_and_sts", token_and_sts)])
}

const ECR_TOKEN: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
const DESCRIBE: &str = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories";

fn ecr_call(target: &str) -> Match {
    Match::header("x-amz-target", target)
}

fn assume_role() -> Match {
    Match::body("Action=AssumeRole")
}

/// Requests of the proxy matching `m`.
fn count(p: &FaultServer, m: &Match) -> usize {
    p.requests().iter().filter(|r| m.matches(r)).count()
}

fn token_and_sts(tb: &Testbed, cli: &TfCli) -> TestResult {
    let reg = harness::registry::spawn_registry_with(
        tb,
        LOOPBACK,
        RegistryAuth::Basic,
        &RegistryOptions {
            login: Some(("AWS".into(), Aws::ecr_password(&tb.aws.account))),
            redirect_blobs_to: None,
        },
    )?;
    for tgz in tb.charts.all() {
        reg.push(tgz, "charts")?;
    }
    let aws = FaultServer::proxy(&host_port(&tb.aws.endpoint));
    let mut tf = Tf::new(tb, cli);
    tf.env("AWS_ENDPOINT_URL", &aws.url(""))
        .env("TF_VAR_access_key", &tb.aws.reader_key_id)
        .env("TF_VAR_secret_key", &tb.aws.reader_secret)
        .env("TF_VAR_external_id", &tb.aws.external_id);
    let cache = tf.dir.join("cache");
    let res = |name: &str, extra: &str| {
        format!(
            "resource {OCI:?} {name:?} {{\n  name                = {name:?}\n  endpoint            = {}\n  authentication_type = \"ecr\"\n  base_content_paths  = [\"charts\"]\n  ca_certificate      = {}\n  ecr {{\n    region            = \"us-east-1\"\n    access_key_id     = var.access_key\n    secret_access_key = var.secret_key\n{extra}  }}\n}}\n\n",
            q(&reg.host),
            q(&tb.ca_pem)
        )
    };
    let vars = "variable \"access_key\" {\n  type      = string\n  sensitive = true\n}\nvariable \"secret_key\" {\n  type      = string\n  sensitive = true\n}\nvariable \"external_id\" {\n  type      = string\n  sensitive = true\n}\n\n";
    let role = format!(
        "    role_arn          = {}\n    external_id       = var.external_id\n",
        q(&tb.aws.guarded_role_arn)
    );
    tf.write(&format!(
        "{}{vars}{}{}",
        provider_block(&cache, ""),
        res("keys", ""),
        res("role", &role)
    ));
    let (keys, roled) = (format!("{OCI}.keys"), format!("{OCI}.role"));
    let reader_token = Match::All(vec![
        ecr_call(ECR_TOKEN),
        Match::header("authorization", &tb.aws.reader_key_id),
    ]);

    // 1. create through one 500 and one 503
    aws.route_when(
        "/",
        reader_token.clone(),
        vec![Fault::status(500), Fault::Forward],
    );
    aws.route_when("/", assume_role(), vec![Fault::status(503), Fault::Forward]);
    let out = tf.apply_json(&[]);
    register_role_secrets(tb);
    let out = out.ok()?;
    ensure(out.errors().is_empty(), || format!("{out}"))?;
    let (n_token, n_role) = (count(&aws, &reader_token), count(&aws, &assume_role()));
    ensure(n_token == 2 && n_role == 2, || {
        format!("expected 2 GetAuthorizationToken (keys) and 2 AssumeRole requests, saw {n_token} and {n_role}")
    })?;
    let before = (tf.resource_attrs(&keys)?, tf.resource_attrs(&roled)?);
    for a in [&before.0, &before.1] {
        ensure(a["chart_count"] == 2 && a["version_count"] == 3, || {
            format!("created through transient faults, the catalog is not whole: {a}")
        })?;
    }

    // 2-4. refreshes through faults that persist
    let steps: [(&str, Match, Fault, &[&String], usize); 3] = [
        (
            "DescribeRepositories 503",
            ecr_call(DESCRIBE),
            Fault::status(503),
            &[&keys, &roled],
            3,
        ),
        (
            "GetAuthorizationToken nonsense",
            ecr_call(ECR_TOKEN),
            Fault::respond(200, r#"{"authorizationData":"nonsense"}"#)
                .header("Content-Type", "application/x-amz-json-1.1"),
            &[&keys, &roled],
            1,
        ),
        (
            "AssumeRole reset",
            assume_role(),
            Fault::Reset,
            &[&roled],
            3,
        ),
    ];
    let mut injected = 0;
    for (what, m, fault, failing, per) in steps {
        injected += aws.faults_injected();
        aws.clear_routes();
        aws.clear_log();
        aws.route_when("/", m.clone(), vec![fault]);
        let out = tf.apply_json(&["-refresh-only"]);
        register_role_secrets(tb);
        let out = out.ok().map_err(|e| format!("{what}: {e}"))?;
        check_refresh(&out, what, failing, &[&keys, &roled])?;
        let seen = count(&aws, &m);
        ensure(seen >= per * failing.len() && seen <= per * 2, || {
            format!(
                "{what}: expected {per} attempt(s) per failing registration, the proxy saw {seen}"
            )
        })?;
        ensure(
            tf.resource_attrs(&keys)? == before.0 && tf.resource_attrs(&roled)? == before.1,
            || format!("{what}: a failed refresh changed the state"),
        )?;
        eprintln!("faults::ecr::{}: {what}: {seen} attempts", cli.label);
    }

    // 5. no fault
    injected += aws.faults_injected();
    aws.clear_routes();
    let out = tf.apply_json(&["-refresh-only"]);
    register_role_secrets(tb);
    let out = out.ok()?;
    ensure(out.warnings().is_empty(), || {
        format!("no fault, yet:\n{out}")
    })?;
    for (addr, b) in [(&keys, &before.0), (&roled, &before.1)] {
        let a = tf.resource_attrs(addr)?;
        ensure(a["charts"] == b["charts"], || format!("{addr}: {a}"))?;
    }
    eprintln!(
        "faults::ecr::{}: {injected} faults injected in all",
        cli.label
    );
    cache_clean(&cache).map(drop)
}

/// A refresh warned on every `failing` registration (and on no other of `all`), said the
/// catalog is kept, and reported no error.
fn check_refresh(out: &TfReport, what: &str, failing: &[&String], all: &[&String]) -> TestResult {
    ensure(out.errors().is_empty(), || format!("{what}: {out}"))?;
    crate::bad_input::no_crash_text(&out.combined())?;
    for addr in all {
        let w: Vec<&crate::harness::Diagnostic> = out
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning && &&d.object == addr)
            .collect();
        for d in &w {
            for m in crate::bad_input::INTERNAL_MARKERS {
                ensure(!d.detail.contains(m), || {
                    format!("{what}: the warning on {addr} names an internal ({m:?}):\n{d}")
                })?;
            }
        }
        if failing.contains(addr) {
            ensure(
                w.iter().any(|d| {
                    d.detail
                        .contains("refresh failed, the previous catalog is kept")
                }),
                || format!("{what}: no refresh warning on {addr}:\n{out}"),
            )?;
            eprintln!(
                "{what}: {addr}: {:?}",
                w.iter().map(|d| &d.summary).collect::<Vec<_>>()
            );
        } else {
            ensure(w.is_empty(), || {
                format!("{what}: {addr} should refresh cleanly:\n{out}")
            })?;
        }
    }
    Ok(())
}

/// The secrets of the roles moto issued, for the sweep.
fn register_role_secrets(tb: &Testbed) {
    for s in moto::issued_role_secrets(tb).unwrap_or_default() {
        harness::sweep::register("AWS assumed-role secret", "AWS", &s);
    }
}
