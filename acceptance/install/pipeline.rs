//! The CI recipe (docs/guides/ci-pipeline.md): `examples/pipeline/ci.sh` run as the jobs of a
//! pipeline would run it. Each job is a fresh checkout (the configuration, its committed lock
//! file and the environment's backend settings; no `.terraform`), on a runner whose CLI
//! configuration installs providers from the packed filesystem mirror, with the registry
//! credentials given as `TF_VAR_*` (the CI secret store); the jobs share the state through the
//! backend, here a local path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::Trial;

use super::{read_lock, release, tf_filesystem, Release};
use crate::harness::{self, ensure, TestResult, Testbed, Tf, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "install::pipeline",
        &[("pull_request_then_merge", pull_request_then_merge)],
    )
}

fn example(name: &str) -> PathBuf {
    harness::repo_dir().join("examples/pipeline").join(name)
}

/// One job: a fresh checkout of `repo` with the runner's mirror and the job's secrets.
fn checkout(tb: &Testbed, cli: &TfCli, rel: &Release, repo: &Path) -> TestResult<Tf> {
    let mut tf = tf_filesystem(tb, cli, &rel.filesystem_mirror());
    for f in ["main.tf", ".terraform.lock.hcl", "backend.hcl"] {
        std::fs::copy(repo.join(f), tf.dir.join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    tf.env("TF_BACKEND_CONFIG", "backend.hcl")
        .env("TF_VAR_charts_url", &tb.helm.https_auth)
        .env("TF_VAR_charts_username", &tb.user)
        .env("TF_VAR_charts_password", &tb.password)
        .env("SSL_CERT_FILE", &tb.ca_cert.display().to_string());
    Ok(tf)
}

/// `sh ci.sh STAGE` in the checkout, without the variables in `unset`: (exit code, stdout +
/// stderr).
fn ci(tf: &Tf, stage: &str, unset: &[&str]) -> TestResult<(i32, String)> {
    let mut cmd = tf.program("sh");
    for k in unset {
        cmd.env_remove(k);
    }
    let out = cmd
        .arg(example("ci.sh"))
        .arg(stage)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("sh ci.sh: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code().unwrap_or(-1), harness::redact(&text)))
}

fn read(p: &Path) -> TestResult<String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// A developer inits once and commits the lock; the pull-request job plans (-detailed-exitcode
/// 2: changes) into a saved plan and its text, without the password in it; without the secret
/// it fails at once (exit 1, no prompt); the merge job applies its saved plan; the next
/// pull-request job finds nothing to change (exit code 0). The lock file is never rewritten.
fn pull_request_then_merge(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    // the repository: the example, its lock file (a developer's `terraform init`), the backend
    // settings of this environment
    let repo = tb.scratch_dir("pipeline-repo");
    let state = tb.scratch_dir("pipeline-state").join("terraform.tfstate");
    std::fs::copy(example("main.tf"), repo.join("main.tf")).map_err(|e| e.to_string())?;
    std::fs::write(
        repo.join("backend.hcl"),
        format!("path = {}\n", super::q(&state.display().to_string())),
    )
    .map_err(|e| e.to_string())?;
    let dev = tf_filesystem(tb, cli, &rel.filesystem_mirror());
    std::fs::copy(repo.join("main.tf"), dev.dir.join("main.tf")).map_err(|e| e.to_string())?;
    dev.run_ok(&["init", "-input=false", "-no-color", "-backend=false"])?;
    std::fs::copy(
        dev.dir.join(".terraform.lock.hcl"),
        repo.join(".terraform.lock.hcl"),
    )
    .map_err(|e| e.to_string())?;
    let committed = read(&repo.join(".terraform.lock.hcl"))?;
    ensure(read_lock(&repo)?.hashes == [rel.h1.clone()], || {
        committed.clone()
    })?;

    // pull request
    let pr = checkout(tb, cli, rel, &repo)?;
    let (code, out) = ci(&pr, "plan", &[])?;
    ensure(code == 0, || format!("ci.sh plan exited {code}:\n{out}"))?;
    ensure(read(&pr.dir.join("plan.exitcode"))?.trim() == "2", || {
        format!("the plan must have changes (-detailed-exitcode 2):\n{out}")
    })?;
    ensure(pr.dir.join("tfplan").is_file(), || "no saved plan".into())?;
    let text = read(&pr.dir.join("plan.txt"))?;
    ensure(
        text.contains("chartreg_helm_registry.internal will be created"),
        || text.clone(),
    )?;
    ensure(
        !text.contains(&tb.password) && text.contains("(sensitive value)"),
        || harness::redact(&text),
    )?;
    ensure(
        read(&pr.dir.join(".terraform.lock.hcl"))? == committed,
        || "the pull-request job rewrote the lock file".into(),
    )?;

    // the same job when the secret is missing: an error at once, not a prompt
    let (code, out) = ci(&pr, "plan", &["TF_VAR_charts_password"])?;
    ensure(
        code == 1 && out.contains("No value for required variable"),
        || format!("without TF_VAR_charts_password ci.sh plan must fail with exit 1:\n{out}"),
    )?;

    // merge
    let merge = checkout(tb, cli, rel, &repo)?;
    let (code, out) = ci(&merge, "apply", &[])?;
    ensure(
        code == 0 && out.contains("Apply complete! Resources: 1 added"),
        || format!("ci.sh apply exited {code}:\n{out}"),
    )?;
    ensure(read(&state)?.contains("chartreg_helm_registry"), || {
        "the shared state does not hold the registration".into()
    })?;

    // the next pull request: nothing to change
    let next = checkout(tb, cli, rel, &repo)?;
    let (code, out) = ci(&next, "plan", &[])?;
    ensure(code == 0, || format!("ci.sh plan exited {code}:\n{out}"))?;
    ensure(read(&next.dir.join("plan.exitcode"))?.trim() == "0", || {
        format!("the plan after the merge must be empty (-detailed-exitcode 0):\n{out}")
    })?;
    let (code, out) = ci(&next, "apply", &[])?;
    ensure(code == 0 && out.contains("ci: nothing to apply"), || {
        format!("ci.sh apply after the merge exited {code}:\n{out}")
    })?;
    ensure(
        read(&next.dir.join(".terraform.lock.hcl"))? == committed,
        || "a job rewrote the lock file".into(),
    )
}
