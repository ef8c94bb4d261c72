//! Terraform CLIs under test and an isolated workspace runner ([`Tf`]) using `dev_overrides`
//! for the provider built by cargo (or, [`Tf::with_cli_config`], a CLI configuration of the test's:
//! mirrors that `terraform init` installs from), plus the [`lifecycle`] step runner and [`both_tf`].
//!
//! Diagnostics are asserted on the machine-readable output: run the command with `-json`
//! ([`Tf::plan_json`], [`Tf::apply_json`], [`Tf::validate_json`]; each gives a [`TfReport`]: the
//! output and its placed diagnostics) and use [`TfReport::expect_error`] (see
//! [`super::diagnostics`]). The human-output methods (`plan`,
//! `apply`, `apply_err`…) stay for the rest. Every command's output is also written to
//! `<workspace>/.tf-runs/NNN-<command>.log` (except `show -json` / `output -json`, which print
//! state values: the state file itself is what the secret sweep reads).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::Value;

use super::diagnostics::{self, Diagnostic};
use super::{redact, sweep, verbose, TestResult, Testbed};

/// One Terraform CLI under test.
#[derive(Debug, Clone)]
pub struct TfCli {
    /// `tf1.0` or `tf1.15` (trial-name suffix).
    pub label: String,
    pub path: PathBuf,
    /// (major, minor)
    pub version: (u32, u32),
}

impl TfCli {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }
}

pub fn terraform_versions(tools: &Path) -> Vec<TfCli> {
    vec![
        TfCli {
            label: "tf1.0".into(),
            path: tools.join("bin/terraform-1.0"),
            version: (1, 0),
        },
        TfCli {
            label: "tf1.15".into(),
            path: tools.join("bin/terraform-1.15"),
            version: (1, 15),
        },
    ]
}

/// Directory of the provider binary cargo built for this test target.
pub fn provider_dir() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-chartreg"));
    bin.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Output of one Terraform command. `Display` shows the command, exit code and both streams.
#[derive(Debug, Clone)]
pub struct TfOutput {
    pub args: Vec<String>,
    pub label: String,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A command's output and the diagnostics read from it, placed on their attributes (from `-json`
/// output; `import`: from its human output). Derefs to the [`TfOutput`].
#[derive(Debug, Clone)]
pub struct TfReport {
    pub output: TfOutput,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::ops::Deref for TfReport {
    type Target = TfOutput;
    fn deref(&self) -> &TfOutput {
        &self.output
    }
}

impl TfReport {
    /// `Ok(self)` when the command succeeded, else the whole report as the error.
    pub fn ok(self) -> TestResult<TfReport> {
        if self.success() {
            Ok(self)
        } else {
            Err(self.to_string())
        }
    }

    /// `Ok(self)` when the command failed (check its diagnostics), else an error.
    pub fn failed(self) -> TestResult<TfReport> {
        if self.success() {
            Err(format!("expected a failure, but it succeeded:\n{self}"))
        } else {
            Ok(self)
        }
    }
}

impl fmt::Display for TfReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.output.render(&self.diagnostics))
    }
}

/// Resource changes of a plan (`change_summary` of `-json` output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub add: u64,
    pub change: u64,
    pub remove: u64,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

impl TfOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The resource changes of a `-json` plan or apply (`None` without a `change_summary`).
    pub fn changes(&self) -> Option<Changes> {
        self.json_lines()
            .filter(|v| v["type"] == "change_summary")
            .last()
            .map(|v| {
                let n = |k: &str| v["changes"][k].as_u64().unwrap_or(0);
                Changes {
                    add: n("add"),
                    change: n("change"),
                    remove: n("remove"),
                }
            })
    }

    /// `(address, action)` of every `planned_change` of a `-json` plan (`update`, `create`…).
    pub fn planned(&self) -> Vec<(String, String)> {
        self.json_lines()
            .filter(|v| v["type"] == "planned_change")
            .map(|v| {
                let c = &v["change"];
                let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
                (s(&c["resource"]["addr"]), s(&c["action"]))
            })
            .collect()
    }

    fn json_lines(&self) -> impl Iterator<Item = Value> + '_ {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.is_object())
    }

    /// The output as a person reads it (redacted): for `-json` output the messages, then `diags`.
    fn render(&self, diags: &[Diagnostic]) -> String {
        let mut stdout = self.stdout.trim_end().to_string();
        if self.args.iter().any(|a| a == "-json") {
            let mut lines: Vec<String> = self
                .json_lines()
                .filter(|v| v["type"] != "diagnostic" && v["@message"].is_string())
                .map(|v| v["@message"].as_str().unwrap_or_default().to_string())
                .collect();
            lines.extend(diags.iter().map(|d| d.to_string()));
            if !lines.is_empty() {
                stdout = lines.join("\n");
            }
        }
        redact(&format!(
            "terraform {} ({}) exited with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.label,
            self.code,
            self.stderr.trim_end()
        ))
    }
    /// stdout + stderr
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    pub fn contains(&self, needle: &str) -> bool {
        self.stdout.contains(needle) || self.stderr.contains(needle)
    }

    /// The diagnostic blocks of the human output, each from its `Error: ` / `Warning: ` line to
    /// the next one, box drawing removed (for the text Terraform shows; [`TfReport`] for data).
    pub fn diag_blocks(&self) -> Vec<String> {
        let mut blocks: Vec<String> = Vec::new();
        for line in self.combined().lines() {
            let l = line.trim_start_matches(['│', '╷', '╵', ' ']);
            if l.starts_with("Error: ") || l.starts_with("Warning: ") {
                blocks.push(String::new());
            }
            if let Some(b) = blocks.last_mut() {
                b.push_str(l);
                b.push('\n');
            }
        }
        blocks
    }
}

impl fmt::Display for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // (without the workspace, diagnostics are shown with Terraform's address only)
        let diags = diagnostics::parse(&self.args, &self.stdout, &self.stderr, None);
        write!(f, "{}", self.render(&diags))
    }
}

const PROVIDERS_TF: &str = "_providers.tf";
const DEFAULT_PROVIDERS: &str =
    "terraform {\n  required_providers {\n    chartreg = {\n      source = \"chartreg/chartreg\"\n    }\n  }\n}\n";

/// An isolated Terraform working directory with its own CLI config (`dev_overrides` for
/// `chartreg/chartreg` → the cargo-built provider, unless [`Tf::with_cli_config`]), HOME, cache
/// and clean environment.
pub struct Tf {
    pub dir: PathBuf,
    pub cli: TfCli,
    envs: Vec<(String, String)>,
    runs: AtomicUsize,
}

impl Tf {
    /// New workspace under the testbed root. Panics on I/O errors.
    pub fn new(tb: &Testbed, cli: &TfCli) -> Tf {
        let provider = provider_dir();
        Tf::with_cli_config(
            tb,
            cli,
            &format!(
                "provider_installation {{\n  dev_overrides {{\n    \"chartreg/chartreg\" = {}\n  }}\n  direct {{}}\n}}\n",
                serde_json::to_string(&provider.display().to_string()).unwrap()
            ),
        )
    }

    /// A workspace whose CLI configuration is `cli_config` instead of the `dev_overrides` one: the
    /// provider comes from whatever it names (a mirror), installed by `terraform init` as users do.
    /// Panics on I/O errors.
    pub fn with_cli_config(tb: &Testbed, cli: &TfCli, cli_config: &str) -> Tf {
        let dir = tb.scratch_dir(&format!("tf-{}", cli.label));
        let home = dir.join(".home");
        std::fs::create_dir_all(home.join(".cache")).expect("tf home");
        let cfg = home.join("terraform.rc");
        std::fs::write(&cfg, cli_config).expect("write terraform.rc");
        let mut envs = vec![
            ("TF_CLI_CONFIG_FILE".to_string(), cfg.display().to_string()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
            ("HOME".into(), home.display().to_string()),
            (
                "XDG_CACHE_HOME".into(),
                home.join(".cache").display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        if sweep::enabled() {
            // every Terraform and provider line at TRACE, for the secret sweep at the end
            envs.push(("TF_LOG".into(), "trace".into()));
            envs.push((
                "TF_LOG_PATH".into(),
                dir.join(sweep::TRACE_LOG).display().to_string(),
            ));
        } else if std::env::var_os("CHARTREG_TF_LOG").is_some() {
            envs.push(("TF_LOG".into(), "DEBUG".into()));
            envs.push((
                "TF_LOG_PATH".into(),
                dir.join("terraform.log").display().to_string(),
            ));
        }
        Tf {
            dir,
            cli: cli.clone(),
            envs,
            runs: AtomicUsize::new(0),
        }
    }

    /// Adds an environment variable for every later command (e.g. `AWS_ENDPOINT_URL_ECR`).
    pub fn env(&mut self, k: &str, v: &str) -> &mut Self {
        self.envs.retain(|(ek, _)| ek != k);
        self.envs.push((k.into(), v.into()));
        self
    }

    /// The command with the isolated environment (`TF_*`, `AWS_*`, `RUST_BACKTRACE`, `RUST_LOG` removed).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.program(&self.cli.path);
        c.args(args);
        c
    }

    /// Another program (a script that runs Terraform itself: `TERRAFORM` names this CLI) in the
    /// workspace, with the same isolated environment as [`Tf::command`].
    pub fn program(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let ks = k.to_string_lossy();
            if ks.starts_with("TF_")
                || ks.starts_with("AWS_")
                || ks == "RUST_BACKTRACE"
                || ks == "RUST_LIB_BACKTRACE"
                || ks == "CHECKPOINT_DISABLE"
            {
                c.env_remove(&k);
            }
        }
        c.envs(self.envs.iter().map(|(k, v)| (k, v)))
            .env("TERRAFORM", &self.cli.path)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        c
    }

    /// Writes `main.tf` (replacing it). Unless `main_tf` declares `required_providers` itself,
    /// `_providers.tf` maps the local name `chartreg` to `chartreg/chartreg` (so configurations can
    /// start right at `provider "chartreg"` / resources).
    pub fn write(&self, main_tf: &str) {
        let providers = self.dir.join(PROVIDERS_TF);
        if main_tf.contains("required_providers") {
            let _ = std::fs::remove_file(providers);
        } else {
            self.write_file(PROVIDERS_TF, DEFAULT_PROVIDERS);
        }
        self.write_file("main.tf", main_tf);
    }

    /// Writes any file into the workspace. Panics on I/O errors.
    pub fn write_file(&self, name: &str, content: &str) {
        std::fs::write(self.dir.join(name), content)
            .unwrap_or_else(|e| panic!("write {}: {e}", self.dir.join(name).display()));
    }

    /// Runs terraform with `args` (add `-no-color` yourself for commands not wrapped below).
    /// Panics only if the binary cannot be started.
    pub fn run(&self, args: &[&str]) -> TfOutput {
        let o = self.run_once(args);
        // Known, not yet explained: under load a `plan` on Terraform 1.0.3 has twice failed with
        // "Plugin error … UpgradeResourceState: rpc error: code = Internal desc = unexpected EOF"
        // (the gRPC response stream ended early; the plugin did not crash). A plan changes
        // nothing, so it is run once more, loudly; any other failure, or a second one, stands.
        if args.first() == Some(&"plan")
            && !o.success()
            && o.combined()
                .contains("UpgradeResourceState: rpc error: code = Internal")
            && o.combined().contains("unexpected EOF")
        {
            eprintln!(
                "acceptance: WARNING: {} plan hit the known UpgradeResourceState 'unexpected EOF'; running it once more",
                self.cli.label
            );
            return self.run_once(args);
        }
        o
    }

    fn run_once(&self, args: &[&str]) -> TfOutput {
        let out = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.cli.path.display()));
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        let o = TfOutput {
            args,
            label: self.cli.label.clone(),
            code: out.status.code().unwrap_or(-1),
            stdout,
            stderr,
        };
        self.keep_transcript(&o);
        o
    }

    /// `.tf-runs/NNN-<command>.log`: command, exit code, stdout, stderr (not for the commands
    /// that print state values).
    fn keep_transcript(&self, o: &TfOutput) {
        let a: Vec<&str> = o.args.iter().map(String::as_str).collect();
        if matches!(a.as_slice(), ["show" | "output" | "state", ..]) && a.contains(&"-json") {
            return;
        }
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.join(".tf-runs");
        let _ = std::fs::create_dir_all(&dir);
        let sub = a.first().copied().unwrap_or("none");
        let text = format!(
            "terraform {} ({}) -> {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            o.args.join(" "),
            o.label,
            o.code,
            o.stdout,
            o.stderr
        );
        let _ = std::fs::write(dir.join(format!("{n:03}-{sub}.log")), text);
    }

    /// `run` that fails (with the whole output) on a non-zero exit.
    pub fn run_ok(&self, args: &[&str]) -> TestResult<TfOutput> {
        let o = self.run(args);
        if o.success() {
            Ok(o)
        } else {
            Err(o.to_string())
        }
    }

    /// `apply -auto-approve -input=false -no-color`
    pub fn apply(&self) -> TestResult<TfOutput> {
        self.run_ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `apply -refresh-only -auto-approve`: refresh state (reads only, no change planned).
    pub fn refresh_only(&self) -> TestResult<TfOutput> {
        self.run_ok(&[
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ])
    }

    /// Apply that must fail; returns its output (check the diagnostic in it).
    pub fn apply_err(&self) -> TestResult<TfOutput> {
        let o = self.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        if o.success() {
            Err(format!("apply was expected to fail but succeeded:\n{o}"))
        } else {
            Ok(o)
        }
    }

    /// `plan -input=false -no-color <args>` (not judged).
    pub fn plan(&self, args: &[&str]) -> TfOutput {
        let mut a = vec!["plan", "-input=false", "-no-color"];
        a.extend_from_slice(args);
        self.run(&a)
    }

    /// [`Tf::run`] and the diagnostics of its output, placed on the configuration as it is now
    /// (read at once: the configuration may be rewritten later).
    pub fn report(&self, args: &[&str]) -> TfReport {
        let output = self.run(args);
        let diagnostics = diagnostics::parse(
            &output.args,
            &output.stdout,
            &output.stderr,
            Some(&self.dir),
        );
        TfReport {
            output,
            diagnostics,
        }
    }

    /// `plan -input=false -json <args>` (not judged): check `diagnostics`, `changes()`.
    pub fn plan_json(&self, args: &[&str]) -> TfReport {
        let mut a = vec!["plan", "-input=false", "-json"];
        a.extend_from_slice(args);
        self.report(&a)
    }

    /// `apply -auto-approve -input=false -json <args>` (not judged; `.ok()?` / `.failed()?`).
    pub fn apply_json(&self, args: &[&str]) -> TfReport {
        let mut a = vec!["apply", "-auto-approve", "-input=false", "-json"];
        a.extend_from_slice(args);
        self.report(&a)
    }

    /// `validate -json` (not judged).
    pub fn validate_json(&self) -> TfReport {
        self.report(&["validate", "-json"])
    }

    /// `plan -detailed-exitcode`: Ok when there are no changes; Err with the plan otherwise.
    pub fn plan_is_empty(&self) -> TestResult {
        let o = self.plan(&["-detailed-exitcode"]);
        match o.code {
            0 => Ok(()),
            2 => Err(format!("expected an empty plan, got changes:\n{o}")),
            _ => Err(format!("plan failed:\n{o}")),
        }
    }

    /// A plan that changes no resource (output-only changes pass: Terraform 1.0 re-adds outputs
    /// that `state rm` + `import` dropped). Judged on the `-json` plan's `change_summary`.
    pub fn no_resource_changes(&self) -> TestResult {
        let p = self.plan_json(&["-detailed-exitcode"]);
        match (p.code, p.changes()) {
            (0, _) => Ok(()),
            (2, Some(c)) if c.is_empty() => Ok(()),
            (2, _) => Err(format!(
                "expected no resource changes, the plan has {:?}:\n{p}",
                p.planned()
            )),
            _ => Err(format!("plan failed:\n{p}")),
        }
    }

    /// `show -json` of the state.
    pub fn state_json(&self) -> TestResult<Value> {
        let o = self.run_ok(&["show", "-json", "-no-color"])?;
        serde_json::from_str(&o.stdout).map_err(|e| format!("show -json is not JSON ({e}):\n{o}"))
    }

    /// `values` of resource/data source `addr` (e.g. `chartreg_x.a`, `data.chartreg_y.b`,
    /// `module.m.chartreg_x.a`) from `show -json`.
    pub fn resource_attrs(&self, addr: &str) -> TestResult<Value> {
        let state = self.state_json()?;
        let mut found = Vec::new();
        fn walk<'a>(m: &'a Value, addr: &str, found: &mut Vec<String>) -> Option<&'a Value> {
            for r in m["resources"].as_array().into_iter().flatten() {
                let a = r["address"].as_str().unwrap_or_default();
                if a == addr {
                    return Some(&r["values"]);
                }
                found.push(a.to_string());
            }
            m["child_modules"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|c| walk(c, addr, found))
        }
        walk(&state["values"]["root_module"], addr, &mut found)
            .cloned()
            .ok_or_else(|| format!("{addr} not in state; state has: {}", found.join(", ")))
    }

    /// No resource in the state (`state list` and `show -json` agree).
    pub fn expect_empty_state(&self) -> TestResult {
        if !self.dir.join("terraform.tfstate").exists() {
            return Ok(()); // nothing was ever written
        }
        let list = self.run_ok(&["state", "list", "-no-color"])?;
        let state = self.state_json()?;
        let n = state["values"]["root_module"]["resources"]
            .as_array()
            .map_or(0, Vec::len);
        if list.stdout.trim().is_empty() && n == 0 {
            Ok(())
        } else {
            Err(format!(
                "the state should be empty; state list:\n{}\nshow -json: {state}",
                list.stdout
            ))
        }
    }

    /// `import -input=false -no-color ADDR ID`
    pub fn import(&self, addr: &str, id: &str) -> TestResult<TfOutput> {
        self.run_ok(&["import", "-input=false", "-no-color", addr, id])
    }

    /// An import that must fail; its diagnostics are read from the human output (import has no
    /// `-json`) and placed on `addr`.
    pub fn import_err(&self, addr: &str, id: &str) -> TestResult<TfReport> {
        self.report(&["import", "-input=false", "-no-color", addr, id])
            .failed()
    }

    /// `state rm ADDR`
    pub fn state_rm(&self, addr: &str) -> TestResult<TfOutput> {
        self.run_ok(&["state", "rm", "-no-color", addr])
    }

    /// `destroy -auto-approve -input=false -no-color`
    pub fn destroy(&self) -> TestResult<TfOutput> {
        self.run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `output -json` (an object: name → {value, type, sensitive}).
    pub fn output_json(&self) -> TestResult<Value> {
        let o = self.run_ok(&["output", "-json", "-no-color"])?;
        serde_json::from_str(&o.stdout).map_err(|e| format!("output -json is not JSON ({e}):\n{o}"))
    }

    /// Value of one output.
    pub fn output(&self, name: &str) -> TestResult<Value> {
        let all = self.output_json()?;
        all.get(name)
            .map(|o| o["value"].clone())
            .ok_or_else(|| format!("no output {name:?} in {all}"))
    }
}

/// Full resource lifecycle with `config`:
/// apply → the next plan must be empty → `state rm` + `import addr import_id` (empty id: the
/// applied `id` attribute) → the imported attributes must equal the applied ones except
/// `ignore_on_import` → the plan after import must change no resource (Terraform 1.0 re-adds
/// outputs that `state rm` dropped: output-only changes pass; see [`Tf::no_resource_changes`])
/// → destroy. Returns that plan's (human) text. On an error, a best-effort destroy runs and the
/// first error is returned.
pub fn lifecycle(
    tf: &Tf,
    config: &str,
    addr: &str,
    import_id: &str,
    ignore_on_import: &[&str],
) -> TestResult<String> {
    tf.write(config);
    let result = (|| {
        tf.apply().map_err(|e| format!("[lifecycle apply] {e}"))?;
        tf.plan_is_empty()
            .map_err(|e| format!("[lifecycle plan after apply] {e}"))?;
        let applied = tf.resource_attrs(addr)?;
        let id = if import_id.is_empty() {
            applied["id"]
                .as_str()
                .ok_or_else(|| format!("{addr} has no string id: {applied}"))?
                .to_string()
        } else {
            import_id.to_string()
        };
        tf.state_rm(addr)
            .map_err(|e| format!("[lifecycle state rm] {e}"))?;
        tf.import(addr, &id)
            .map_err(|e| format!("[lifecycle import {id}] {e}"))?;
        let imported = tf.resource_attrs(addr)?;
        let diffs = compare_attrs(&applied, &imported, ignore_on_import);
        if !diffs.is_empty() {
            return Err(redact(&format!(
                "[lifecycle import] imported attributes differ from applied ones:\n{}",
                diffs.join("\n")
            )));
        }
        let plan = tf.plan(&["-detailed-exitcode"]);
        match plan.code {
            0 => {}
            2 => tf
                .no_resource_changes()
                .map_err(|e| format!("[lifecycle plan after import] {e}"))?,
            _ => return Err(format!("[lifecycle plan after import] {plan}")),
        }
        tf.destroy()
            .map_err(|e| format!("[lifecycle destroy] {e}"))?;
        Ok(plan.stdout)
    })();
    if result.is_err() {
        let _ = tf.destroy();
    }
    result
}

/// Top-level attribute differences `key: applied != imported`, skipping `ignore`.
pub fn compare_attrs(applied: &Value, imported: &Value, ignore: &[&str]) -> Vec<String> {
    let empty = serde_json::Map::new();
    let a = applied.as_object().unwrap_or(&empty);
    let b = imported.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !ignore.contains(&k.as_str()))
        .filter_map(|k| {
            let (x, y) = (
                a.get(k).unwrap_or(&Value::Null),
                b.get(k).unwrap_or(&Value::Null),
            );
            (x != y).then(|| format!("  {k}: applied {x} != imported {y}"))
        })
        .collect()
}

/// A trial body run once per Terraform version.
pub type Body = fn(&Testbed, &TfCli) -> TestResult;

/// [`both_tf`] for each `(name, body)`: trials `PREFIX::name::tf1.0`, `…::tf1.15`.
pub fn scenarios(tb: &Arc<Testbed>, prefix: &str, list: &[(&str, Body)]) -> Vec<Trial> {
    list.iter()
        .flat_map(|(name, body)| both_tf(tb, &format!("{prefix}::{name}"), *body))
        .collect()
}

/// One trial per Terraform version: `NAME::tf1.0`, `NAME::tf1.15` (with `CHARTREG_ACC_VERBOSE`,
/// each prints its time).
pub fn both_tf<F>(tb: &Arc<Testbed>, name: &str, f: F) -> Vec<Trial>
where
    F: Fn(&Testbed, &TfCli) -> Result<(), String> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Testbed::terraform_versions()
        .into_iter()
        .map(|cli| {
            let (tb, f) = (tb.clone(), f.clone());
            let full = format!("{name}::{}", cli.label);
            Trial::test(full.clone(), move || {
                let t0 = std::time::Instant::now();
                let r = f(&tb, &cli);
                if verbose() {
                    eprintln!("{full}: {:.1} s", t0.elapsed().as_secs_f64());
                }
                r.map_err(|e| redact(&e).into())
            })
        })
        .collect()
}

/// The terraform process that runs the operation: Terraform 1.0 wraps itself (panicwrap) and its
/// outer process ignores SIGINT, leaving it to the inner one (a terminal signals both).
pub fn terraform_worker(pid: i32) -> i32 {
    let exe = |p: i32| std::fs::read_link(format!("/proc/{p}/exe")).ok();
    let me = exe(pid);
    // Children of every thread: Go forks from whichever OS thread runs the goroutine, so
    // `task/<pid>/children` alone misses the worker at random (seen under load).
    let mut children = String::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        children += &std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        children.push(' ');
    }
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<i32>().ok())
        .find(|c| me.is_some() && exe(*c) == me)
        .unwrap_or(pid)
}
