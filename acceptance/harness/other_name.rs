//! A TLS server whose certificate is signed by the test CA but names another host
//! (`other.invalid`): `openssl s_server`, for the "certificate for another name" checks
//! (`security::plan_time::tls_name_mismatch_on_endpoint`, `faults::refresh_tls`).

use super::{ServerProc, TestResult, Testbed};

/// A TLS server on 127.0.0.1 (`openssl s_server`) whose certificate is signed by the test CA but
/// only valid for `other.invalid`. Returns the server (stops on drop) and its port.
pub fn spawn_other_name_tls(tb: &Testbed) -> TestResult<(ServerProc, u16)> {
    let d = tb.scratch_dir("othername");
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    let ca_key = tb
        .ca_cert
        .parent()
        .map(|pki| pki.join("ca.key"))
        .ok_or("no pki directory")?;
    let (key, csr, crt, ext) = (p("srv.key"), p("srv.csr"), p("srv.crt"), p("srv.ext"));
    std::fs::write(
        &ext,
        "subjectAltName=DNS:other.invalid\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| e.to_string())?;
    super::run_cmd(std::process::Command::new("openssl").args([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=other.invalid",
    ]))?;
    super::run_cmd(std::process::Command::new("openssl").args([
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &tb.ca_cert.display().to_string(),
        "-CAkey",
        &ca_key.display().to_string(),
        "-CAcreateserial",
        "-CAserial",
        &p("ca.srl"),
        "-out",
        &crt,
        "-days",
        "30",
        "-extfile",
        &ext,
    ]))?;
    let port = super::servers::free_port();
    let accept = format!("127.0.0.1:{port}");
    let mut srv = ServerProc::new(
        "othername-tls",
        "openssl",
        &[
            &"s_server",
            &"-accept",
            &accept,
            &"-cert",
            &crt,
            &"-key",
            &key,
            &"-www",
            &"-quiet",
        ],
        d.join("s_server.log"),
        port,
    );
    srv.start()?;
    Ok((srv, port))
}
