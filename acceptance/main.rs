//! Acceptance tests: real Terraform (1.0 and 1.15) drives the provider against loopback servers
//! (nginx Helm repositories, docker-registry with no auth / basic / bearer token, moto).
//!
//!   bash acceptance/setup.sh                 # once per machine: tools into $CHARTREG_TOOLS
//!   cargo test --test acceptance             # all trials
//!   cargo test --test acceptance -- smoke    # a filter (libtest arguments work)
//!
//! The shared testbed starts once (only when at least one selected trial will run) and every
//! server it or a trial started is stopped by PID at the end, whether the trials passed, failed
//! or setup panicked. `CHARTREG_ACC_KEEP=1` keeps the run directory, `CHARTREG_ACC_VERBOSE=1`
//! prints timings, `CHARTREG_TF_LOG=1` writes `terraform.log` (TF_LOG=DEBUG) into each workspace,
//! `CHARTREG_ACC_SWEEP=1` runs Terraform at TRACE and then searches everything the run wrote
//! for the testbed's secrets (`harness::sweep`; a hit fails the run).

mod bad_input;
mod chart_archive;
mod chart_state;
mod data_sources;
mod error_wording;
mod faults;
mod harness;
mod helm_registry;
mod helm_semantics;
mod index_engine;
mod install;
mod oci_registry;
mod provider;
mod security;
mod smoke;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::{Arguments, Trial};

fn all_trials(tb: &Arc<harness::Testbed>) -> Vec<Trial> {
    let mut trials = Vec::new();
    trials.extend(smoke::tests(tb));
    trials.extend(provider::tests(tb));
    trials.extend(helm_registry::tests(tb));
    trials.extend(helm_semantics::tests(tb));
    trials.extend(index_engine::tests(tb));
    trials.extend(data_sources::tests(tb));
    trials.extend(oci_registry::tests(tb));
    trials.extend(chart_state::tests(tb));
    trials.extend(chart_archive::tests(tb));
    trials.extend(error_wording::tests(tb));
    trials.extend(security::tests(tb));
    trials.extend(install::tests(tb));
    trials.extend(bad_input::tests(tb));
    trials.extend(faults::tests(tb));
    trials
}

fn main() -> ExitCode {
    let args = Arguments::from_args();

    // Build the list against a placeholder first: no server starts for `--list` or when the
    // filter (e.g. `cargo test some_unit_test`) selects no acceptance trial.
    let placeholder = Arc::new(harness::Testbed::placeholder());
    let selected = all_trials(&placeholder)
        .iter()
        .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
        .count();
    if args.list || selected == 0 {
        return libtest_mimic::run(&args, all_trials(&placeholder)).exit_code();
    }
    drop(placeholder);

    let t0 = Instant::now();
    let started = std::panic::catch_unwind(harness::Testbed::start);
    let tb = match started {
        Ok(Ok(tb)) => Arc::new(tb),
        Ok(Err(e)) => {
            let stopped = harness::servers::stop_all_live();
            eprintln!("acceptance: testbed setup failed: {}", harness::redact(&e));
            if !stopped.is_empty() {
                eprintln!("acceptance: stopped {}", stopped.join(", "));
            }
            return ExitCode::from(1);
        }
        Err(_) => {
            harness::servers::stop_all_live();
            eprintln!("acceptance: testbed setup panicked (servers stopped)");
            return ExitCode::from(101);
        }
    };
    eprintln!(
        "acceptance: testbed up in {:.1} s (run dir {})",
        t0.elapsed().as_secs_f64(),
        tb.root.display()
    );

    let conclusion = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        libtest_mimic::run(&args, all_trials(&tb))
    }));

    // Stop everything, however the run went.
    tb.shutdown();
    let leftovers = harness::servers::stop_all_live();
    if !leftovers.is_empty() && harness::verbose() {
        eprintln!(
            "acceptance: stopped leftover servers: {}",
            leftovers.join(", ")
        );
    }
    // The secret sweep reads what the servers wrote, so it runs after they stopped.
    let swept = if harness::sweep::enabled() {
        harness::sweep::run_and_report(&tb)
    } else {
        Ok(())
    };
    if let Err(e) = &swept {
        eprintln!("acceptance: {e}");
    }
    let failed = conclusion.as_ref().map_or(true, |c| c.has_failed()) || swept.is_err();
    let keep = failed || std::env::var_os("CHARTREG_ACC_KEEP").is_some_and(|v| v != "0");
    let root = tb.root.clone();
    drop(tb);
    if keep {
        eprintln!("acceptance: logs and workspaces kept in {}", root.display());
    } else if std::env::var_os("CHARTREG_ACC_ROOT").is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    match conclusion {
        Ok(_) if swept.is_err() => ExitCode::from(1),
        Ok(c) => c.exit_code(),
        Err(_) => ExitCode::from(101),
    }
}
