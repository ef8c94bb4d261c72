//! `faults::scale::parallelism_30`: 100 Helm repositories created at `-parallelism=30`, each
//! behind its own proxy in front of the shared nginx: a quarter stall, a quarter reset the
//! connection, a quarter answer 503, all for good; a quarter answer 503 once and then the real
//! index. The apply must end within the bound the settings imply:
//!
//! `ceil(N / parallelism) × (max_retries + 1) × request_timeout + OVERHEAD`
//!
//! where `(max_retries + 1) × request_timeout` is the time budget of one request, attempts and
//! back-offs (capped at 10 s, and never beyond the budget) included, and `OVERHEAD` is Terraform's
//! own work (start, plan, provider start, state) on a loaded 2-core machine. Every faulty one is
//! an error on its resource, every transient one is in state with its whole catalog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;

use super::{host_port, provider_block, q, HELM, MAX_RETRIES, REQUEST_TIMEOUT_S};
use crate::harness::{self, ensure, Fault, FaultServer, Severity, TestResult, Testbed, Tf, TfCli};

const N: usize = 100;
const PARALLELISM: usize = 30;
/// Terraform's own work, allowed on top of the requests' budgets.
const OVERHEAD_S: f64 = 30.0;

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(tb, "faults::scale", &[("parallelism_30", parallelism_30)])
}

fn parallelism_30(tb: &Testbed, cli: &TfCli) -> TestResult {
    let upstream = host_port(&tb.helm.http);
    let proxies: Vec<FaultServer> = (0..N)
        .map(|i| {
            let p = FaultServer::proxy(&upstream);
            let script = match i % 4 {
                0 => vec![Fault::Stall(Duration::from_secs(10))],
                1 => vec![Fault::Reset],
                2 => vec![Fault::status(503)],
                _ => vec![Fault::status(503), Fault::Forward],
            };
            p.route("/public/index.yaml", script);
            p
        })
        .collect();
    let tf = Tf::new(tb, cli);
    let mut cfg = provider_block(&tf.dir.join("cache"), "");
    for (i, p) in proxies.iter().enumerate() {
        cfg.push_str(&format!(
            "resource {HELM:?} \"r{i}\" {{\n  name     = \"r{i}\"\n  endpoint = {}\n}}\n\n",
            q(&p.url("/public"))
        ));
    }
    tf.write(&cfg);
    let budget = (MAX_RETRIES as f64 + 1.0) * REQUEST_TIMEOUT_S;
    let waves = N.div_ceil(PARALLELISM) as f64;
    let bound = waves * budget + OVERHEAD_S;
    let t0 = Instant::now();
    let out = tf
        .apply_json(&[&format!("-parallelism={PARALLELISM}")])
        .failed()?;
    let took = t0.elapsed().as_secs_f64();
    let attempts: usize = proxies
        .iter()
        .map(|p| p.requests_to("/public/index.yaml").len())
        .sum();
    let injected: usize = proxies.iter().map(FaultServer::faults_injected).sum();
    eprintln!(
        "faults::scale::{}: {N} registries at -parallelism={PARALLELISM}: {took:.1} s, bound {bound:.1} s ({waves} waves × {budget:.0} s budget + {OVERHEAD_S:.0} s); {injected} faults injected, {attempts} attempts",
        cli.label
    );
    ensure(took < bound, || {
        format!("the apply took {took:.1} s, beyond the bound of {bound:.1} s")
    })?;
    let state = tf.state_json()?;
    let in_state: Vec<String> = state["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["values"]["version_count"] == 3)
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    for i in 0..N {
        let name = format!("r{i}");
        let addr = format!("{HELM}.{name}");
        let errors = out
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error && d.object == addr)
            .count();
        if i % 4 == 3 {
            ensure(errors == 0 && in_state.contains(&name), || {
                format!("{addr} (503 once) should be created with its catalog:\n{out}")
            })?;
        } else {
            ensure(errors == 1 && !in_state.contains(&name), || {
                format!(
                    "{addr} should fail with one error and be absent from state ({errors} errors)"
                )
            })?;
        }
    }
    Ok(())
}
