//! Serving the provider.
//!
//! - TCP_NODELAY: tf-provider binds its listening socket without it, and Linux copies that option
//!   from a listening socket to the sockets it accepts, so every gRPC answer would wait on Nagle +
//!   delayed ACK (~40 ms per RPC). We set TCP_NODELAY on the listener before Terraform can
//!   connect: stdout is routed through a pipe, and the handshake line (which names the listening
//!   port) is held back until the option is set.
//! - Shutdown is Terraform's to drive. Ctrl-C in a terminal sends SIGINT to the whole process
//!   group, the plugin included: it never ends the plugin ([`ignore_interrupts`] until the
//!   runtime runs, then [`cancel_on_interrupt`], below), as HashiCorp's go-plugin servers
//!   ignore it, so the plugin lives on to answer Terraform (which then stops the operation).
//!   Terraform stops a provider with the StopProvider RPC; tf-provider 0.2.2 answers it itself
//!   (it only starts a graceful shutdown of its gRPC server, which waits for the RPCs in flight)
//!   and tells the provider nothing. The only place the call is visible is the `request` span
//!   tower-http opens for every RPC, whose `uri` names the method: [`stop_layer`] watches those
//!   spans and cancels the provider's stop token on `StopProvider` (and on go-plugin's
//!   `GRPCController/Shutdown`), which ends every registry request in flight at once.
//! - Terraform does not send StopProvider for everything it runs: `terraform apply` plans (and so
//!   refreshes) without watching for an interrupt, and waits for the plan to end before it looks
//!   at a Ctrl-C. A refresh stalled on a registry would then hold Ctrl-C for
//!   `(max_retries + 1) × request_timeout`. So the SIGINT a terminal sends the plugin as well
//!   cancels the same stop token ([`cancel_on_interrupt`]): the plugin still lives on to answer
//!   Terraform, its registry requests end at once (found by `faults::interrupt`).

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};

use tf_provider::DynamicProvider;
use tokio_util::sync::CancellationToken;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::{filter, Registry};

/// gRPC methods after which no registry request is worth finishing.
const STOP_METHODS: [&str; 2] = [
    "/tfplugin6.Provider/StopProvider",
    "/plugin.GRPCController/Shutdown",
];

/// Ignore SIGINT for the life of the process: Terraform, which gets the same Ctrl-C, decides
/// how the provider stops (StopProvider, then the controller's Shutdown, then a kill).
pub fn ignore_interrupts() {
    // SAFETY: installing SIG_IGN for SIGINT, before any thread starts.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
}

/// From now on, a SIGINT (Ctrl-C in a terminal reaches the whole process group) cancels `token`
/// instead of being ignored: the registry requests in flight end, the plugin keeps serving
/// Terraform. Call inside the runtime; until then [`ignore_interrupts`] holds.
pub fn cancel_on_interrupt(token: CancellationToken) -> std::io::Result<()> {
    let mut sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::spawn(async move {
        while sig.recv().await.is_some() {
            if !token.is_cancelled() {
                tracing::debug!(
                    "interrupted (SIGINT): cancelling the registry requests in flight; Terraform drives the shutdown"
                );
                token.cancel();
            }
        }
    });
    Ok(())
}

/// Cancels `token` when a stop RPC arrives (see the module docs).
pub struct StopOnRpc {
    token: CancellationToken,
}

/// The tracing layer that turns Terraform's StopProvider into a cancelled `token`. It only sees
/// tower-http's spans (its own filter), so it neither logs nor enables anything else.
pub fn stop_layer(
    token: CancellationToken,
) -> filter::Filtered<StopOnRpc, filter::Targets, Registry> {
    StopOnRpc { token }.with_filter(filter::Targets::new().with_target("tower_http", Level::DEBUG))
}

/// The stop RPC a request span's `uri` names, if any.
pub fn stop_method(uri: &str) -> Option<&'static str> {
    STOP_METHODS.into_iter().find(|m| uri.ends_with(m))
}

struct UriVisitor(Option<&'static str>);

impl Visit for UriVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "uri" {
            self.0 = self.0.or(stop_method(&format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "uri" {
            self.0 = self.0.or(stop_method(value));
        }
    }
}

impl<S: Subscriber> Layer<S> for StopOnRpc {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() != "request" || self.token.is_cancelled() {
            return;
        }
        let mut v = UriVisitor(None);
        attrs.record(&mut v);
        if let Some(method) = v.0 {
            tracing::debug!(
                method,
                "Terraform is stopping the provider: cancelling the registry requests in flight"
            );
            self.token.cancel();
        }
    }
}

/// Set TCP_NODELAY on every listening TCP socket of this process bound to `port`.
fn set_nodelay_on_listener(port: u16) -> usize {
    let mut done = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    for entry in dir.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // SAFETY: plain socket syscalls on a descriptor we only inspect; failures are ignored.
        unsafe {
            let mut addr: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) != 0 {
                continue;
            }
            let p = match addr.ss_family as i32 {
                libc::AF_INET => {
                    u16::from_be((*(&addr as *const _ as *const libc::sockaddr_in)).sin_port)
                }
                libc::AF_INET6 => {
                    u16::from_be((*(&addr as *const _ as *const libc::sockaddr_in6)).sin6_port)
                }
                _ => continue,
            };
            if p != port {
                continue;
            }
            let one: libc::c_int = 1;
            if libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
            {
                done += 1;
            }
        }
    }
    done
}

/// Port named in a go-plugin handshake line `1|6|tcp|127.0.0.1:PORT|grpc|CERT`.
pub fn handshake_port(line: &str) -> Option<u16> {
    let addr = line.split('|').nth(3)?;
    addr.rsplit_once(':')?.1.parse().ok()
}

/// Route stdout through a pipe; a thread sets TCP_NODELAY once the handshake names the port,
/// then forwards the line (and anything after it) to the real stdout.
fn intercept_handshake() -> std::io::Result<()> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe/dup/dup2 on fresh descriptors before any other thread writes to stdout.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let real = libc::dup(1);
        if real < 0 || libc::dup2(fds[1], 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::close(fds[1]);
        let reader = std::fs::File::from_raw_fd(fds[0]);
        let mut real_out = std::fs::File::from_raw_fd(real);
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            let mut line = String::new();
            let mut first = true;
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if first {
                    first = false;
                    if let Some(port) = handshake_port(&line) {
                        let n = set_nodelay_on_listener(port);
                        tracing::debug!(
                            port,
                            sockets = n,
                            "TCP_NODELAY set on the plugin listener"
                        );
                    }
                }
                let _ = real_out.write_all(line.as_bytes());
                let _ = real_out.flush();
                line.clear();
            }
        });
    }
    Ok(())
}

/// Serve `provider` as `name` over plugin protocol 6.
pub async fn serve(name: &str, provider: Box<dyn DynamicProvider>) -> anyhow::Result<()> {
    // CHARTREG_PLUGIN_NODELAY=0 serves without the fix, to measure what it is worth.
    if std::env::var("CHARTREG_PLUGIN_NODELAY").as_deref() == Ok("0") {
        return tf_provider::serve_dynamic(name.to_string(), provider).await;
    }
    if let Err(e) = intercept_handshake() {
        tracing::warn!(error = %e, "cannot intercept the handshake; serving without TCP_NODELAY");
    }
    tf_provider::serve_dynamic(name.to_string(), provider).await
}

#[cfg(test)]
mod tests {
    use std::os::fd::RawFd;

    #[test]
    fn sets_nodelay_on_the_listener_and_accepted_sockets_inherit_it() {
        use std::os::fd::AsRawFd;
        let nodelay = |fd: RawFd| -> i32 {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt into a local int.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    &mut v as *mut _ as *mut libc::c_void,
                    &mut len,
                )
            };
            v
        };
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(nodelay(l.as_raw_fd()), 0);
        assert!(super::set_nodelay_on_listener(port) >= 1);
        assert_ne!(nodelay(l.as_raw_fd()), 0);
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (a, _) = l.accept().unwrap();
        assert_ne!(
            nodelay(a.as_raw_fd()),
            0,
            "accepted socket inherits TCP_NODELAY"
        );
    }

    /// Ctrl-C reaches the plugin: the stop token is cancelled, the process lives on.
    #[tokio::test]
    async fn sigint_cancels_the_token() {
        let token = tokio_util::sync::CancellationToken::new();
        super::cancel_on_interrupt(token.clone()).expect("a SIGINT handler");
        // SAFETY: raising a signal the handler above now catches.
        unsafe { libc::raise(libc::SIGINT) };
        tokio::time::timeout(std::time::Duration::from_secs(5), token.cancelled())
            .await
            .expect("SIGINT cancels the token");
    }

    #[test]
    fn stop_rpcs_cancel_the_token() {
        use tracing_subscriber::layer::SubscriberExt;
        assert_eq!(
            super::stop_method("http://127.0.0.1:1234/tfplugin6.Provider/StopProvider"),
            Some("/tfplugin6.Provider/StopProvider")
        );
        assert_eq!(
            super::stop_method("/tfplugin6.Provider/ApplyResourceChange"),
            None
        );
        let token = tokio_util::sync::CancellationToken::new();
        let sub = tracing_subscriber::registry().with(super::stop_layer(token.clone()));
        tracing::subscriber::with_default(sub, || {
            // tower-http's span for other RPCs, and a look-alike from another crate: no effect.
            let _a = tracing::span!(target: "tower_http::trace::make_span", tracing::Level::DEBUG, "request",
                method = %"POST", uri = %"http://127.0.0.1:1/tfplugin6.Provider/ReadResource");
            let _b = tracing::span!(target: "chartreg::x", tracing::Level::DEBUG, "request",
                uri = %"http://127.0.0.1:1/tfplugin6.Provider/StopProvider");
            assert!(!token.is_cancelled());
            let _c = tracing::span!(target: "tower_http::trace::make_span", tracing::Level::DEBUG, "request",
                method = %"POST", uri = %"http://127.0.0.1:1/tfplugin6.Provider/StopProvider");
        });
        assert!(token.is_cancelled());
    }

    #[test]
    fn parses_handshake() {
        assert_eq!(
            super::handshake_port("1|6|tcp|127.0.0.1:40123|grpc|MIIB\n"),
            Some(40123)
        );
        assert_eq!(super::handshake_port("garbage"), None);
    }
}
