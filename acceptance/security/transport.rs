//! Transport cases of issue 7 (points 10 and 11), each under Terraform 1.0 and 1.15, against a
//! [`FaultServer`] playing a flaky or hostile Helm repository:
//!
//! - `retry_after`: `503` + `Retry-After` (seconds, then an HTTP-date) is retried no earlier than
//!   the registry asked; a `Retry-After` beyond `request_timeout` is not waited for (one request,
//!   the error says when the registry asked to be retried).
//! - `body_failures_retried`: a reset and a truncation while the body streams are retried (the
//!   retry covers request and body): the second attempt succeeds.
//! - `hopeless_not_retried`: a redirect to `ftp://`, a 400 and a 404 are answered after exactly one
//!   request, with the error on `endpoint`.
//! - `ctrl_c_during_apply`: Ctrl-C (SIGINT to the whole process group, as a terminal sends it)
//!   while a request stalls: Terraform exits within seconds, without "Plugin did not respond",
//!   and nothing lands in state.
//! - `stop_cancels_requests`: SIGINT to the terraform process only (as CI runners send it):
//!   Terraform's StopProvider cancels the stalled request instead of waiting for its timeout.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use libtest_mimic::Trial;

use super::{expect_error_on, helm_resource, in_resource, provider, HELM};
use crate::harness::interrupt::{interrupt_in_flight, Signal};
use crate::harness::{self, ensure, Fault, FaultServer, TestResult, Testbed, Tf, TfCli};

/// A small valid index (one chart, one version).
const INDEX: &str = "apiVersion: v1\nentries:\n  demo:\n    - name: demo\n      version: 1.0.0\n      description: a demo chart with a description long enough to be cut short\n      urls:\n        - demo-1.0.0.tgz\n";

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "security::transport",
        &[
            ("retry_after", retry_after),
            ("body_failures_retried", body_failures_retried),
            ("hopeless_not_retried", hopeless_not_retried),
            ("ctrl_c_during_apply", |tb, cli| {
                interrupted_apply(tb, cli, Signal::ProcessGroup)
            }),
            ("stop_cancels_requests", |tb, cli| {
                interrupted_apply(tb, cli, Signal::TerraformOnly)
            }),
        ],
    )
}

// ------------------------------------------------------------------ helpers

/// Gaps between consecutive requests to `path`, in seconds.
fn gaps(fs: &FaultServer, path: &str) -> Vec<f64> {
    let reqs = fs.requests_to(path);
    reqs.windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).as_secs_f64())
        .collect()
}

/// `t` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let dt = time::OffsetDateTime::from_unix_timestamp(secs as i64).expect("timestamp");
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    dt.format(&fmt).expect("format date")
}

// ------------------------------------------------------------------ retry_after

fn retry_after(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    fs.route(
        "/secs/index.yaml",
        vec![
            Fault::status(503).header("Retry-After", "2"),
            Fault::ok(INDEX),
        ],
    );
    // An HTTP-date 7 to 8 s ahead, on a whole second (the form has no fractions).
    let now = SystemTime::now();
    let anchor = Instant::now();
    let whole = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
                + 8,
        );
    let date_at = anchor + whole.duration_since(now).unwrap_or_default();
    fs.route(
        "/date/index.yaml",
        vec![
            Fault::status(429).header("Retry-After", &http_date(whole)),
            Fault::ok(INDEX),
        ],
    );
    fs.route(
        "/far/index.yaml",
        vec![Fault::status(503).header("Retry-After", "3600")],
    );

    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "{}{}{}",
        provider(&["request_timeout = \"10s\"", "max_retries     = 3"]),
        helm_resource("secs", &fs.url("/secs")),
        helm_resource("date", &fs.url("/date"))
    ));
    tf.apply()?;
    let secs = fs.requests_to("/secs/index.yaml");
    ensure(secs.len() == 2, || {
        format!(
            "Retry-After: 2: expected 2 requests, saw {} (gaps {:?})",
            secs.len(),
            gaps(&fs, "/secs/index.yaml")
        )
    })?;
    let g = gaps(&fs, "/secs/index.yaml")[0];
    ensure(g >= 2.0, || {
        format!("Retry-After: 2 was not honoured: the retry came after {g:.2} s")
    })?;
    ensure(g < 6.0, || {
        format!("Retry-After: 2: the retry came after {g:.2} s")
    })?;
    let date = fs.requests_to("/date/index.yaml");
    ensure(date.len() == 2, || {
        format!(
            "Retry-After: <date>: expected 2 requests, saw {}",
            date.len()
        )
    })?;
    ensure(date[1].at + Duration::from_millis(50) >= date_at, || {
        format!(
            "Retry-After: <date> was not honoured: the retry came {:.2} s before the date",
            date_at.duration_since(date[1].at).as_secs_f64()
        )
    })?;
    eprintln!(
        "{}: Retry-After: 2 → retry after {g:.2} s; Retry-After: <date> → retry {:.2} s after the first request",
        cli.label,
        date[1].at.duration_since(date[0].at).as_secs_f64()
    );

    // Far beyond request_timeout: not waited for, not retried, and the error says why.
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "{}{}",
        provider(&["request_timeout = \"10s\"", "max_retries     = 3"]),
        helm_resource("far", &fs.url("/far"))
    ));
    let t0 = Instant::now();
    let out = tf.apply_err()?;
    let took = t0.elapsed().as_secs_f64();
    let far = fs.requests_to("/far/index.yaml");
    ensure(far.len() == 1, || {
        format!(
            "Retry-After: 3600: expected exactly 1 request, saw {} (gaps {:?})",
            far.len(),
            gaps(&fs, "/far/index.yaml")
        )
    })?;
    let block = expect_error_on(&out, "Registry Busy", &in_resource(HELM, "far"), "endpoint")?;
    ensure(block.contains("3600"), || {
        format!("the error should say when the registry asked to be retried:\n{block}")
    })?;
    ensure(took < 30.0, || format!("apply took {took:.1} s"))?;
    tf.expect_empty_state()
}

// ------------------------------------------------------------------ body_failures_retried

fn body_failures_retried(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    let half = INDEX.as_bytes()[..INDEX.len() / 2].to_vec();
    fs.route(
        "/reset/index.yaml",
        vec![
            Fault::ResetMidBody {
                status: 200,
                headers: Vec::new(),
                body: half.clone(),
                declared: INDEX.len(),
            },
            Fault::ok(INDEX),
        ],
    );
    fs.route(
        "/truncated/index.yaml",
        vec![
            Fault::Truncate {
                status: 200,
                headers: Vec::new(),
                body: half,
                declared: INDEX.len(),
            },
            Fault::ok(INDEX),
        ],
    );
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "{}{}{}",
        provider(&["request_timeout = \"10s\"", "max_retries     = 2"]),
        helm_resource("reset", &fs.url("/reset")),
        helm_resource("truncated", &fs.url("/truncated"))
    ));
    tf.apply()?;
    for name in ["reset", "truncated"] {
        let n = fs.requests_to(&format!("/{name}/index.yaml")).len();
        ensure(n == 2, || {
            format!("{name}: expected 2 requests (a failed body, then a good one), saw {n}")
        })?;
        let attrs = tf.resource_attrs(&format!("{HELM}.{name}"))?;
        ensure(
            crate::chart_state::snapshot_versions(&attrs, "demo")
                .first()
                .map(String::as_str)
                == Some("1.0.0"),
            || format!("{name}: the index of the second attempt is not in state: {attrs}"),
        )?;
    }
    tf.destroy()?;
    Ok(())
}

// ------------------------------------------------------------------ hopeless_not_retried

fn hopeless_not_retried(tb: &Testbed, cli: &TfCli) -> TestResult {
    let fs = FaultServer::start();
    fs.route(
        "/ftp/index.yaml",
        vec![Fault::redirect(302, "ftp://127.0.0.1/pub/index.yaml")],
    );
    fs.route("/bad/index.yaml", vec![Fault::respond(400, "bad request")]);
    fs.route("/gone/index.yaml", vec![Fault::status(404)]);
    let tf = Tf::new(tb, cli);
    tf.write(&format!(
        "{}{}{}{}",
        provider(&["request_timeout = \"10s\"", "max_retries     = 4"]),
        helm_resource("ftp", &fs.url("/ftp")),
        helm_resource("bad", &fs.url("/bad")),
        helm_resource("gone", &fs.url("/gone"))
    ));
    let out = tf.apply_err()?;
    for name in ["ftp", "bad", "gone"] {
        let n = fs.requests_to(&format!("/{name}/index.yaml")).len();
        ensure(n == 1, || {
            format!(
                "{name}: expected exactly 1 request, saw {n} (gaps {:?})",
                gaps(&fs, &format!("/{name}/index.yaml"))
            )
        })?;
    }
    let block = expect_error_on(
        &out,
        "Registry Redirect Refused",
        &in_resource(HELM, "ftp"),
        "endpoint",
    )?;
    ensure(block.contains("ftp"), || {
        format!("the redirect error should name the scheme:\n{block}")
    })?;
    expect_error_on(
        &out,
        "Unexpected Registry Response",
        &in_resource(HELM, "bad"),
        "endpoint",
    )?;
    expect_error_on(
        &out,
        "Registry Index Not Found",
        &in_resource(HELM, "gone"),
        "endpoint",
    )?;
    tf.expect_empty_state()
}

// ------------------------------------------------------------------ interrupted applies

/// How long Terraform may take to exit after the signal.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

fn interrupted_apply(tb: &Testbed, cli: &TfCli, signal: Signal) -> TestResult {
    let fs = FaultServer::start();
    fs.route(
        "/stall/index.yaml",
        vec![Fault::Stall(Duration::from_secs(90))],
    );
    let tf = Tf::new(tb, cli);
    // Default request_timeout (60 s) and max_retries (4): without cancellation a stop waits
    // minutes.
    tf.write(&helm_resource("stall", &fs.url("/stall")));
    let cmd = tf.command(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    // Once the provider's request is in flight (and a moment more), the signal.
    let run = interrupt_in_flight(
        cmd,
        vec!["apply".into()],
        &cli.label,
        signal,
        EXIT_WITHIN,
        "the provider never requested the index",
        || !fs.requests_to("/stall/index.yaml").is_empty(),
    )?;
    run.exited_cleanly(EXIT_WITHIN, "apply")?;
    eprintln!(
        "{}: terraform exited {:.2} s after SIGINT ({})",
        cli.label,
        run.took.as_secs_f64(),
        match signal {
            Signal::ProcessGroup => "process group",
            Signal::TerraformOnly => "terraform only",
        }
    );
    ensure(!run.out.success(), || {
        format!("an interrupted apply must not report success:\n{}", run.out)
    })?;
    // No provider process of the group outlives terraform for long.
    run.group_gone()?;
    // Nothing half-created; the next apply creates the registration from scratch.
    tf.expect_empty_state()?;
    fs.route("/stall/index.yaml", vec![Fault::ok(INDEX)]);
    tf.apply()?;
    let attrs = tf.resource_attrs(&format!("{HELM}.stall"))?;
    ensure(
        crate::chart_state::snapshot_versions(&attrs, "demo")
            .first()
            .map(String::as_str)
            == Some("1.0.0"),
        || {
            format!(
                "after the interrupted apply, a new apply should create the registration: {attrs}"
            )
        },
    )?;
    tf.destroy()?;
    Ok(())
}
