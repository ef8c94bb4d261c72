//! Named cases on a shared fixture: one expensive setup (servers, an apply, a plan) per Terraform
//! version, and one trial per behaviour checked on it, so that one failure does not hide the
//! others and no Terraform command runs twice for them.
//!
//! ```ignore
//! Cases::new(tb, "helm_registry::apply_errors", |tb, cli| {
//!     let tf = Tf::new(tb, cli);
//!     tf.write(&cfg);
//!     tf.apply_json(&[]).failed()
//! })
//! .case("wrong_password", |_, out| out.expect_error("Registry Credentials Rejected", "…").map(drop))
//! .case("not_found", |_, out| …)
//! .trials()   // helm_registry::apply_errors::wrong_password::tf1.0, …::tf1.15, …
//! ```
//!
//! The first case to run builds the fixture (the others wait for it); a failed setup fails every
//! case with its error. Cases of one fixture run one at a time (they may run Terraform in its
//! workspace, which takes the state lock). The fixture is dropped, stopping its servers, after
//! the last of its cases has run.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use libtest_mimic::Trial;

use super::{redact, verbose, TestResult, Testbed, TfCli};

type Setup<T> = dyn Fn(&Testbed, &TfCli) -> TestResult<T> + Send + Sync;
type Check<T> = dyn Fn(&Testbed, &T) -> TestResult + Send + Sync;

/// A fixture and the cases checked on it; [`Cases::trials`] makes the trials.
pub struct Cases<T> {
    tb: Arc<Testbed>,
    name: String,
    setup: Arc<Setup<T>>,
    cases: Vec<(String, Arc<Check<T>>)>,
}

struct Shared<T> {
    fixture: OnceLock<Result<T, String>>,
    one_at_a_time: Mutex<()>,
    /// The thread the setup ran on, kept alive until the fixture is dropped: server processes
    /// die with the thread that spawned them (`PR_SET_PDEATHSIG`), and a trial thread may exit
    /// (no trial left to take) while other cases of its fixture still run. Dropping the sender
    /// (after `fixture`, fields drop in order) lets it end.
    keeper: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl<T: Send + Sync + 'static> Cases<T> {
    /// `setup` builds the fixture of `name` for one Terraform version.
    pub fn new(
        tb: &Arc<Testbed>,
        name: &str,
        setup: impl Fn(&Testbed, &TfCli) -> TestResult<T> + Send + Sync + 'static,
    ) -> Cases<T> {
        Cases {
            tb: tb.clone(),
            name: name.to_string(),
            setup: Arc::new(setup),
            cases: Vec::new(),
        }
    }

    /// A case `NAME::case::tfX` checking one behaviour on the fixture.
    pub fn case(
        mut self,
        case: &str,
        check: impl Fn(&Testbed, &T) -> TestResult + Send + Sync + 'static,
    ) -> Cases<T> {
        self.cases.push((case.to_string(), Arc::new(check)));
        self
    }

    /// One trial per case and Terraform version.
    pub fn trials(self) -> Vec<Trial> {
        let mut trials = Vec::new();
        for cli in Testbed::terraform_versions() {
            let shared = Arc::new(Shared {
                fixture: OnceLock::new(),
                one_at_a_time: Mutex::new(()),
                keeper: Mutex::new(None),
            });
            for (case, check) in &self.cases {
                let (tb, cli, shared, check) =
                    (self.tb.clone(), cli.clone(), shared.clone(), check.clone());
                let setup = self.setup.clone();
                let setup_name = format!("{}::{}", self.name, cli.label);
                let full = format!("{}::{case}::{}", self.name, cli.label);
                trials.push(Trial::test(full, move || {
                    let fixture = shared.fixture.get_or_init(|| {
                        let t0 = Instant::now();
                        let (done_tx, done_rx) = std::sync::mpsc::channel();
                        let (stay_tx, stay_rx) = std::sync::mpsc::channel::<()>();
                        let (tb2, cli2, setup2) = (tb.clone(), cli.clone(), setup.clone());
                        let spawned = std::thread::Builder::new()
                            .name(format!("{setup_name} (fixture)"))
                            .spawn(move || {
                                let built =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        setup2(&tb2, &cli2)
                                    }))
                                    .unwrap_or_else(|p| {
                                        Err(format!("setup panicked: {}", panic_text(&p)))
                                    });
                                let _ = done_tx.send(built);
                                // Until the fixture is dropped (the sender goes with it).
                                let _ = stay_rx.recv();
                            });
                        let built = match spawned {
                            Ok(_) => done_rx
                                .recv()
                                .unwrap_or_else(|_| Err("setup thread ended early".into())),
                            Err(e) => Err(format!("cannot start the setup thread: {e}")),
                        };
                        *shared.keeper.lock().unwrap_or_else(|e| e.into_inner()) = Some(stay_tx);
                        if verbose() {
                            eprintln!("{setup_name} (setup): {:.1} s", t0.elapsed().as_secs_f64());
                        }
                        built
                    });
                    let _one = shared
                        .one_at_a_time
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    match fixture {
                        Ok(t) => check(&tb, t),
                        Err(e) => Err(format!("[setup] {e}")),
                    }
                    .map_err(|e| redact(&e).into())
                }));
            }
        }
        trials
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}
