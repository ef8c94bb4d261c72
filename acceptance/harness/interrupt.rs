//! Interrupting a running `terraform` command the way users do: a terminal's Ctrl-C (SIGINT to the
//! whole process group, the plugin included) or a CI runner's SIGINT to terraform alone (Terraform
//! then sends StopProvider). Shared by the interrupted create of `security::transport` and the
//! interrupted refreshes of `faults::scenarios`, which differ only in what they run and check.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::terraform::terraform_worker;
use super::{ensure, TestResult, TfOutput};

/// Who receives the SIGINT.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Signal {
    /// Terraform's whole process group (the plugin included), as a terminal's Ctrl-C.
    ProcessGroup,
    /// The terraform process alone (its worker under Terraform 1.0's panicwrap), as CI runners
    /// send it: Terraform then sends StopProvider.
    TerraformOnly,
}

/// How long to wait for the provider's request before giving up.
const REQUEST_WITHIN: Duration = Duration::from_secs(60);

/// A terraform command that was sent SIGINT while the provider's request was in flight.
pub struct Interrupted {
    /// Its output; exit code -1 when it had to be killed.
    pub out: TfOutput,
    /// Whether terraform exited by itself within the allowed time after the signal.
    pub exited: bool,
    /// From the signal to terraform's exit (or to the end of the allowed time).
    pub took: Duration,
    pgid: i32,
}

/// Runs `cmd` (a [`super::Tf::command`]; `args` label its output) in its own process group with
/// piped output. Once `in_flight()` says the provider's request has reached the server (polled
/// every 50 ms, for at most 60 s), waits one more second, sends SIGINT to `signal`'s target and
/// waits up to `exit_within` for terraform to exit; the group is killed after that. Fails, with
/// `never` and terraform's output, when the request never came or terraform exited before it.
pub fn interrupt_in_flight(
    mut cmd: Command,
    args: Vec<String>,
    label: &str,
    signal: Signal,
    exit_within: Duration,
    never: &str,
    in_flight: impl Fn() -> bool,
) -> TestResult<Interrupted> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start terraform: {e}"))?;
    let pgid = child.id() as i32;
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out_t = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let err_t = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let kill_group = || {
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    };

    let t0 = Instant::now();
    while !in_flight() {
        if t0.elapsed() > REQUEST_WITHIN || child.try_wait().ok().flatten().is_some() {
            kill_group();
            let _ = child.wait();
            return Err(format!(
                "{never}:\n{}{}",
                out_t.join().unwrap_or_default(),
                err_t.join().unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));

    let target = match signal {
        Signal::ProcessGroup => -pgid,
        Signal::TerraformOnly => terraform_worker(pgid),
    };
    let sent = Instant::now();
    // SAFETY: signalling our own child (or its process group).
    unsafe { libc::kill(target, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(s);
        }
        if sent.elapsed() > exit_within {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = sent.elapsed();
    if status.is_none() {
        kill_group();
        let _ = child.wait();
    }
    Ok(Interrupted {
        out: TfOutput {
            args: args.into_iter().chain(["(interrupted)".into()]).collect(),
            label: label.to_string(),
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
        },
        exited: status.is_some(),
        took,
        pgid,
    })
}

impl Interrupted {
    /// Terraform exited within `exit_within` of the signal, and its output has nothing that
    /// reads like a crash or a lost plugin (`what` names the operation in the error).
    pub fn exited_cleanly(&self, exit_within: Duration, what: &str) -> TestResult {
        let out = &self.out;
        ensure(self.exited, || {
            format!(
                "terraform did not exit within {} s of SIGINT (killed):\n{out}",
                exit_within.as_secs()
            )
        })?;
        for bad in [
            "Plugin did not respond",
            "panic",
            "plugin exited",
            "transport is closing",
        ] {
            ensure(!out.combined().contains(bad), || {
                format!("the interrupted {what} says {bad:?}:\n{out}")
            })?;
        }
        Ok(())
    }

    /// No process of terraform's group (the provider) outlives it by more than 5 s; any left
    /// after that are killed.
    pub fn group_gone(&self) -> TestResult {
        let t1 = Instant::now();
        // SAFETY: probing (signal 0) our own child's process group.
        while unsafe { libc::kill(-self.pgid, 0) } == 0 {
            if t1.elapsed() > Duration::from_secs(5) {
                // SAFETY: signalling our own child's process group.
                unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
                return Err(
                    "a process of terraform's group (the provider) outlived it by 5 s".into(),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}
