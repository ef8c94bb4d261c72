//! The token server (`acceptance/tokenserver.py`) that issues the bearer tokens of the shared
//! token registry (`tb.oci.token`): RS256 JWTs for `user`/`password`, one log line per request
//! (`token: GET user=… service=… scopes=… -> 200`), and every issued token appended to a file
//! of its own so that the secret sweep can look for them.

use std::net::IpAddr;
use std::path::PathBuf;

use super::procs::{free_port_on, ServerProc};
use super::Testbed;

/// The shared token server.
#[derive(Debug, Clone, Default)]
pub struct TokenServer {
    /// `https://127.0.0.1:P/token`.
    pub realm: String,
    /// The `service` the token registries expect.
    pub service: String,
    /// Log of the token server (one line per token request).
    pub log: PathBuf,
    /// Every token issued, one per line (a credential store: the sweep skips it).
    pub issued: PathBuf,
}

impl TokenServer {
    /// The tokens issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        std::fs::read_to_string(&self.issued)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The token server process (not started) on `bind`, and its description.
pub(crate) fn shared(tb: &Testbed, bind: IpAddr) -> (ServerProc, TokenServer) {
    token_proc(
        tb,
        bind,
        "tokenserver",
        &tb.root.join("tokenserver.log"),
        &[],
    )
}

/// A dedicated token server shaped like GHCR's and Docker Hub's: anonymous requests get `pull`
/// on repositories (public charts), nobody gets the catalog scope. Its tokens are recorded with
/// the shared server's (the secret sweep reads them). Stops when dropped.
pub struct GhcrTokenServer {
    pub server: TokenServer,
    _proc: ServerProc,
}

pub fn spawn_ghcr_token_server(tb: &Testbed) -> super::TestResult<GhcrTokenServer> {
    let dir = tb.scratch_dir("ghcr-token");
    let (mut proc, server) = token_proc(
        tb,
        super::LOOPBACK,
        "ghcr-tokenserver",
        &dir.join("tokenserver.log"),
        &["--anonymous-pull", "--refuse-catalog"],
    );
    proc.start()?;
    Ok(GhcrTokenServer {
        server,
        _proc: proc,
    })
}

fn token_proc(
    tb: &Testbed,
    bind: IpAddr,
    name: &str,
    log: &std::path::Path,
    flags: &[&str],
) -> (ServerProc, TokenServer) {
    let port = free_port_on(bind);
    let pki = tb.root.join("pki");
    let ts = TokenServer {
        realm: format!("https://{bind}:{port}/token"),
        service: "chartreg-registry".into(),
        log: log.to_path_buf(),
        issued: pki.join("tokens-issued"),
    };
    let script = super::repo_dir().join("acceptance/tokenserver.py");
    let (host, port_s) = (bind.to_string(), port.to_string());
    let (key, cert, password) = (
        pki.join("token.key"),
        pki.join("token.crt"),
        pki.join("password"),
    );
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &script,
        &"--host",
        &host,
        &"--port",
        &port_s,
        &"--key",
        &key,
        &"--cert",
        &cert,
        &"--user",
        &tb.user,
        &"--password-file",
        &password,
        &"--issuer",
        &"chartreg-issuer",
        &"--tls-cert",
        &tb.server_cert,
        &"--tls-key",
        &tb.server_key,
        &"--issued-file",
        &ts.issued,
    ];
    for f in flags {
        args.push(f);
    }
    let proc = ServerProc::new(
        name,
        tb.tools.join("venv/bin/python"),
        &args,
        ts.log.clone(),
        port,
    )
    .on(bind);
    (proc, ts)
}
