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
    let port = free_port_on(bind);
    let pki = tb.root.join("pki");
    let ts = TokenServer {
        realm: format!("https://{bind}:{port}/token"),
        service: "chartreg-registry".into(),
        log: tb.root.join("tokenserver.log"),
        issued: pki.join("tokens-issued"),
    };
    let script = super::repo_dir().join("acceptance/tokenserver.py");
    let (host, port_s) = (bind.to_string(), port.to_string());
    let proc = ServerProc::new(
        "tokenserver",
        tb.tools.join("venv/bin/python"),
        &[
            &script,
            &"--host",
            &host,
            &"--port",
            &port_s,
            &"--key",
            &pki.join("token.key"),
            &"--cert",
            &pki.join("token.crt"),
            &"--user",
            &tb.user,
            &"--password-file",
            &pki.join("password"),
            &"--issuer",
            &"chartreg-issuer",
            &"--tls-cert",
            &tb.server_cert,
            &"--tls-key",
            &tb.server_key,
            &"--issued-file",
            &ts.issued,
        ],
        ts.log.clone(),
        port,
    )
    .on(bind);
    (proc, ts)
}
