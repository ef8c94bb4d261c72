//! The shared servers of the [`Testbed`], started together: nginx ([`super::nginx`]), three
//! docker-registries ([`super::registry`]), the token server ([`super::tokenserver`]) and moto
//! ([`super::moto`]); the process table they live in is [`super::procs`].
//!
//! This module also keeps the paths the test modules have always used
//! (`harness::servers::free_port`, `stop_all_live`, `registry_flags`, `ServerProc`).

#[allow(unused_imports)]
pub use super::nginx::{AccessLogEntry, HelmRepoServer};
#[allow(unused_imports)]
pub use super::procs::{free_port, free_port_on, stop_all_live, ServerProc, LOOPBACK, LOOPBACK2};
#[allow(unused_imports)]
pub use super::registry::{registry_flags, Pushed, RegistryAuth, RegistryServer};

use super::procs::wait_port;
use super::{moto, nginx, registry, tokenserver, TestResult, Testbed};

/// Starts every shared server on [`LOOPBACK`] and fills `tb.helm`, `tb.oci`, `tb.token`,
/// `tb.aws.endpoint`. Everything is spawned first (from this thread: `PDEATHSIG` is tied to the
/// spawning thread), then waited for; whatever started is handed to the testbed, which stops it.
pub fn start_shared(tb: &mut Testbed) -> TestResult {
    let bind = LOOPBACK;
    let (tokens, token) = tokenserver::shared(tb, bind);
    tb.token = token;
    let (nginx, https_port, repos) = nginx::shared(tb, bind)?;
    let (registries, hosts) = registry::shared(tb, bind)?;
    let (moto, aws_endpoint) = moto::shared(tb, bind);

    let mut procs = vec![nginx];
    procs.extend(registries);
    procs.push(tokens);
    procs.push(moto);
    let mut result = procs.iter_mut().try_for_each(ServerProc::spawn);
    if result.is_ok() {
        result = procs.iter_mut().try_for_each(ServerProc::wait_ready);
    }
    if result.is_ok() {
        // the https side of nginx is the same process
        result = wait_port(bind, https_port, "nginx (https)");
    }
    for p in procs {
        tb.add_shared(p);
    }
    result?;
    tb.helm = repos;
    tb.oci = hosts;
    tb.aws.endpoint = aws_endpoint;
    Ok(())
}

/// Pushes the fixture charts into the three shared registries (real `helm push`) and seeds moto,
/// in parallel. moto's issued keys are for [`moto::Seeded::apply`].
pub(crate) fn seed_shared(tb: &Testbed) -> TestResult<moto::Seeded> {
    std::thread::scope(|s| {
        let aws = s.spawn(|| moto::seed(tb));
        let charts = registry::seed_shared(tb);
        let aws = aws
            .join()
            .map_err(|_| "moto seeding panicked".to_string())?;
        charts.and(aws)
    })
}
