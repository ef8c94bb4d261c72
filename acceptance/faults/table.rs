//! The fault matrix: which fault on which request of which surface, and what must come of it.
//!
//! The provider block of every phase has `request_timeout = 2s` and `max_retries = 2`, so a fault
//! that persists is seen `max_retries + 1` = 3 times (a stall: 2 or 3, the time budget
//! `(max_retries + 1) × request_timeout` cuts the last one short), a transient one twice, and one a
//! retry cannot help (malformed content, too large, a redirect loop's 10 hops) once.

use std::io::Write;
use std::time::Duration;

use super::matrix::{Outcome, PhaseKind, Spec, Surface, CHART_BLOB};
use super::SIZE_CAP;
use crate::harness::{Fault, Mangle};

const INDEX: &str = "/public/index.yaml";
const ARCHIVE: &str = "/public/mychart-0.2.0.tgz";
const CATALOG: &str = "/v2/_catalog";
const TAGS: &str = "/v2/charts/mychart/tags/list";
const MANIFEST: &str = "/v2/charts/mychart/manifests/0.2.0";
const TOKEN: &str = "/token";

/// Attempts of a fault that persists, of one that clears after the first request, of one no retry
/// can help, of a stall that persists.
const PERSISTENT: (usize, usize) = (3, 3);
const TRANSIENT: (usize, usize) = (2, 2);
const ONCE: (usize, usize) = (1, 1);
const STALLED: (usize, usize) = (2, 3);

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

/// ~16 MiB of zeros in a few KiB of gzip, sent as `Content-Encoding: gzip`.
fn bomb() -> Fault {
    Fault::ok(gzip(&vec![0u8; 16 << 20])).header("Content-Encoding", "gzip")
}

fn stall() -> Fault {
    Fault::Stall(Duration::from_secs(8))
}

fn slow_drip() -> Fault {
    // 4 bytes every 300 ms: even a 50-byte tags list takes beyond request_timeout
    Fault::Upstream(Mangle::Drip {
        chunk: 4,
        every: Duration::from_millis(300),
    })
}

fn quick_drip() -> Fault {
    Fault::Upstream(Mangle::Drip {
        chunk: 256,
        every: Duration::from_millis(40),
    })
}

fn over_cap() -> Fault {
    Fault::ok(vec![b'#'; SIZE_CAP + 4096])
}

/// Over the fixed cap of a manifest (4 MiB, not a setting).
fn manifest_over_cap() -> Fault {
    Fault::ok(vec![b'#'; (4 << 20) + 4096])
}

fn retry_after(status: u16) -> Fault {
    Fault::status(status).header("Retry-After", "1")
}

fn html() -> Fault {
    Fault::ok("<!doctype html><html><body><form action=/login>Sign in</form></body></html>")
        .header("Content-Type", "text/html; charset=utf-8")
}

/// Builders, so that the tables read as one line per case.
struct T {
    v: Vec<Spec>,
    surface: Surface,
    prefix: &'static str,
    /// `endpoint` for registries, `registry` for the data source.
    reg_attr: &'static str,
}

impl T {
    fn ok(
        &mut self,
        name: &str,
        path: &'static str,
        faults: Vec<Fault>,
        n: (usize, usize),
    ) -> &mut Spec {
        self.push(name, path, faults, Outcome::Ok, n)
    }
    fn fail(
        &mut self,
        name: &str,
        path: &'static str,
        faults: Vec<Fault>,
        summary: &'static str,
        attr: &'static str,
        n: (usize, usize),
    ) -> &mut Spec {
        self.push(name, path, faults, Outcome::Fail(summary, attr), n)
    }
    fn push(
        &mut self,
        name: &str,
        path: &'static str,
        faults: Vec<Fault>,
        o: Outcome,
        n: (usize, usize),
    ) -> &mut Spec {
        let name = format!("{}::{name}", self.prefix);
        self.v
            .push(Spec::new(&name, self.surface, path, faults, o, n));
        self.v.last_mut().expect("just pushed")
    }
    fn refused(&mut self, path: &'static str) {
        let a = self.reg_attr;
        let s = self.fail(
            "connection_refused",
            path,
            vec![Fault::Forward],
            "Registry Unreachable",
            a,
            (0, 0),
        );
        s.down = true;
    }
}

/// The Helm index cases (create and refresh alike).
fn helm_index(t: &mut T, kind: PhaseKind) {
    let ep = "endpoint";
    t.refused(INDEX);
    t.ok(
        "reset_mid_body_transient",
        INDEX,
        vec![Fault::Upstream(Mangle::ResetMidBody), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "reset_mid_body",
        INDEX,
        vec![Fault::Upstream(Mangle::ResetMidBody)],
        "Registry Request Failed",
        ep,
        PERSISTENT,
    );
    t.ok(
        "truncated_transient",
        INDEX,
        vec![Fault::Upstream(Mangle::Truncate), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "truncated",
        INDEX,
        vec![Fault::Upstream(Mangle::Truncate)],
        "Registry Request Failed",
        ep,
        PERSISTENT,
    );
    t.fail(
        "stall",
        INDEX,
        vec![stall()],
        "Registry Request Timed Out",
        ep,
        STALLED,
    );
    t.ok(
        "stall_transient",
        INDEX,
        vec![stall(), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "slow_drip",
        INDEX,
        vec![slow_drip()],
        "Registry Request Timed Out",
        ep,
        STALLED,
    );
    t.ok("drip_within_timeout", INDEX, vec![quick_drip()], ONCE);
    t.fail(
        "malformed_yaml",
        INDEX,
        vec![Fault::ok(
            "apiVersion: v1\nentries:\n  mychart: [ {name: mychart, version: \n",
        )],
        "Not A Helm Repository Index",
        ep,
        ONCE,
    );
    t.fail(
        "html_login_page",
        INDEX,
        vec![html()],
        "Not A Helm Repository Index",
        ep,
        ONCE,
    );
    t.ok(
        "wrong_content_type",
        INDEX,
        vec![Fault::Upstream(Mangle::ContentType(
            "application/octet-stream".into(),
        ))],
        ONCE,
    );
    t.fail(
        "http_500",
        INDEX,
        vec![Fault::status(500)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    t.ok(
        "http_502_transient",
        INDEX,
        vec![Fault::status(502), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "http_503",
        INDEX,
        vec![Fault::status(503)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    t.ok(
        "http_429_retry_after_transient",
        INDEX,
        vec![retry_after(429), Fault::Forward],
        TRANSIENT,
    )
    .min_gap = Some(1.0);
    t.fail(
        "http_429_retry_after",
        INDEX,
        vec![retry_after(429)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    t.fail(
        "redirect_loop",
        INDEX,
        vec![Fault::redirect(302, INDEX)],
        "Registry Redirect Refused",
        ep,
        (10, 10),
    );
    t.fail(
        "over_cap",
        INDEX,
        vec![over_cap()],
        "Registry Index Too Large",
        "",
        ONCE,
    );
    t.fail(
        "gzip_bomb",
        INDEX,
        vec![bomb()],
        "Registry Index Too Large",
        "",
        ONCE,
    );
    if kind == PhaseKind::Create {
        t.ok(
            "cross_host_redirect",
            INDEX,
            vec![Fault::redirect(302, "{second}/public/index.yaml")],
            ONCE,
        )
        .credentials = true;
    }
}

fn oci(t: &mut T) {
    let ep = "endpoint";
    t.refused(CATALOG);
    t.ok(
        "catalog_http_503_transient",
        CATALOG,
        vec![Fault::status(503), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "catalog_http_500",
        CATALOG,
        vec![Fault::status(500)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    t.ok(
        "catalog_reset_transient",
        CATALOG,
        vec![Fault::Upstream(Mangle::ResetMidBody), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "catalog_truncated",
        CATALOG,
        vec![Fault::Upstream(Mangle::Truncate)],
        "Registry Request Failed",
        ep,
        PERSISTENT,
    );
    t.fail(
        "catalog_malformed_json",
        CATALOG,
        vec![Fault::ok("{\"repositories\": [\"charts/mychart\", ")
            .header("Content-Type", "application/json")],
        "Registry Protocol Error",
        ep,
        ONCE,
    );
    t.ok(
        "catalog_wrong_content_type",
        CATALOG,
        vec![Fault::Upstream(Mangle::ContentType("text/html".into()))],
        ONCE,
    );
    t.fail(
        "catalog_html",
        CATALOG,
        vec![html()],
        "Registry Protocol Error",
        ep,
        ONCE,
    );
    t.fail(
        "catalog_stall",
        CATALOG,
        vec![stall()],
        "Registry Request Timed Out",
        ep,
        STALLED,
    );
    t.fail(
        "catalog_over_cap",
        CATALOG,
        vec![over_cap().header("Content-Type", "application/json")],
        "Registry Listing Too Large",
        "",
        ONCE,
    );
    t.fail(
        "catalog_gzip_bomb",
        CATALOG,
        vec![bomb()],
        "Registry Listing Too Large",
        "",
        ONCE,
    );
    t.ok(
        "tags_http_429_retry_after_transient",
        TAGS,
        vec![retry_after(429), Fault::Forward],
        TRANSIENT,
    )
    .min_gap = Some(1.0);
    t.fail(
        "tags_http_502",
        TAGS,
        vec![Fault::status(502)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    t.fail(
        "tags_reset",
        TAGS,
        vec![Fault::Reset],
        "Registry Request Failed",
        ep,
        PERSISTENT,
    );
    t.ok("tags_drip_within_timeout", TAGS, vec![quick_drip()], ONCE);
    t.fail(
        "tags_slow_drip",
        TAGS,
        vec![slow_drip()],
        "Registry Request Timed Out",
        ep,
        STALLED,
    );
    t.fail(
        "tags_redirect_loop",
        TAGS,
        vec![Fault::redirect(307, TAGS)],
        "Registry Redirect Refused",
        ep,
        (10, 10),
    );
}

/// Manifests, and redirects to a second host: on create only (a refresh with unchanged tags reads
/// no manifest).
fn oci_create_only(t: &mut T) {
    let ep = "endpoint";
    t.ok(
        "tags_cross_host_redirect",
        TAGS,
        vec![Fault::redirect(307, "{second}/v2/charts/mychart/tags/list")],
        ONCE,
    )
    .credentials = true;
    t.ok(
        "manifest_wrong_content_type",
        MANIFEST,
        vec![Fault::Upstream(Mangle::ContentType("text/plain".into()))],
        ONCE,
    );
    t.ok(
        "manifest_http_502_transient",
        MANIFEST,
        vec![Fault::status(502), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "manifest_http_503",
        MANIFEST,
        vec![Fault::status(503)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    t.ok(
        "manifest_truncated_transient",
        MANIFEST,
        vec![Fault::Upstream(Mangle::Truncate), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "manifest_reset",
        MANIFEST,
        vec![Fault::Upstream(Mangle::ResetMidBody)],
        "Registry Request Failed",
        ep,
        PERSISTENT,
    );
    t.fail(
        "manifest_stall",
        MANIFEST,
        vec![stall()],
        "Registry Request Timed Out",
        ep,
        STALLED,
    );
    t.fail(
        "manifest_malformed_json",
        MANIFEST,
        vec![Fault::ok("{\"schemaVersion\": 2, \"config\": {")
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        "Registry Protocol Error",
        ep,
        ONCE,
    );
    t.fail(
        "manifest_over_cap",
        MANIFEST,
        vec![manifest_over_cap()
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        "Chart Manifest Too Large",
        ep,
        ONCE,
    );
    t.fail(
        "manifest_gzip_bomb",
        MANIFEST,
        vec![bomb()],
        "Chart Manifest Too Large",
        ep,
        ONCE,
    );
}

/// A token answer (200, JSON).
pub fn token_answer(s: &str) -> Fault {
    Fault::respond(200, s.to_string()).header("Content-Type", "application/json")
}

/// The bearer-token service of an OCI registry (create and refresh alike).
fn oci_token(t: &mut T) {
    let ep = "endpoint";
    let tok = token_answer;
    let mut tt = T {
        v: std::mem::take(&mut t.v),
        surface: Surface::OciToken,
        prefix: "oci_token",
        reg_attr: ep,
    };
    // a clean sync asks for several tokens (one per scope): the 503 costs one more
    tt.ok(
        "http_503_transient",
        TOKEN,
        vec![
            Fault::status(503),
            tok(r#"{"token":"faults-token","expires_in":300}"#),
        ],
        (2, 10),
    );
    tt.fail(
        "http_500",
        TOKEN,
        vec![Fault::status(500)],
        "Unexpected Registry Response",
        ep,
        PERSISTENT,
    );
    tt.fail(
        "reset",
        TOKEN,
        vec![Fault::Reset],
        "Registry Request Failed",
        ep,
        PERSISTENT,
    );
    tt.fail(
        "stall",
        TOKEN,
        vec![stall()],
        "Registry Request Timed Out",
        ep,
        STALLED,
    );
    tt.fail(
        "not_json",
        TOKEN,
        vec![tok("<html>token service</html>")],
        "Registry Protocol Error",
        ep,
        ONCE,
    );
    tt.fail(
        "no_token_in_json",
        TOKEN,
        vec![tok(r#"{"expires_in":300,"note":"no token here"}"#)],
        "Registry Protocol Error",
        ep,
        ONCE,
    );
    tt.fail(
        "token_is_a_number",
        TOKEN,
        vec![tok(r#"{"token":12345}"#)],
        "Registry Protocol Error",
        ep,
        ONCE,
    );
    tt.fail(
        "over_cap",
        TOKEN,
        vec![over_cap()],
        "Registry Token Too Large",
        ep,
        ONCE,
    );
    t.v = tt.v;
}

fn archive(t: &mut T) {
    let reg = "registry";
    t.ok(
        "http_503_transient",
        ARCHIVE,
        vec![Fault::status(503), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "http_500",
        ARCHIVE,
        vec![Fault::status(500)],
        "Unexpected Registry Response",
        reg,
        PERSISTENT,
    );
    t.ok(
        "reset_mid_body_transient",
        ARCHIVE,
        vec![Fault::Upstream(Mangle::ResetMidBody), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "reset_mid_body",
        ARCHIVE,
        vec![Fault::Upstream(Mangle::ResetMidBody)],
        "Registry Request Failed",
        reg,
        PERSISTENT,
    );
    t.fail(
        "truncated",
        ARCHIVE,
        vec![Fault::Upstream(Mangle::Truncate)],
        "Registry Request Failed",
        reg,
        PERSISTENT,
    );
    t.fail(
        "stall",
        ARCHIVE,
        vec![stall()],
        "Registry Request Timed Out",
        reg,
        STALLED,
    );
    t.fail(
        "slow_drip",
        ARCHIVE,
        vec![slow_drip()],
        "Registry Request Timed Out",
        reg,
        STALLED,
    );
    t.ok(
        "http_429_retry_after_transient",
        ARCHIVE,
        vec![retry_after(429), Fault::Forward],
        TRANSIENT,
    )
    .min_gap = Some(1.0);
    t.ok(
        "wrong_content_type",
        ARCHIVE,
        vec![Fault::Upstream(Mangle::ContentType("text/html".into()))],
        ONCE,
    );
    t.fail(
        "not_the_archive",
        ARCHIVE,
        vec![html()],
        "Chart Archive Digest Mismatch",
        "version",
        ONCE,
    );
    t.fail(
        "over_cap",
        ARCHIVE,
        vec![over_cap()],
        "Chart Archive Too Large",
        "version",
        ONCE,
    );
    t.fail(
        "gzip_bomb",
        ARCHIVE,
        vec![bomb()],
        "Chart Archive Too Large",
        "version",
        ONCE,
    );
    t.fail(
        "redirect_loop",
        ARCHIVE,
        vec![Fault::redirect(302, ARCHIVE)],
        "Registry Redirect Refused",
        reg,
        (10, 10),
    );
    t.ok(
        "cross_host_redirect",
        ARCHIVE,
        vec![Fault::redirect(302, "{second}/public/mychart-0.2.0.tgz")],
        ONCE,
    )
    .credentials = true;
    t.refused(ARCHIVE);
}

/// `chartreg_helm_chart` on an OCI registry: the chart layer blob.
fn archive_oci(t: &mut T) {
    let reg = "registry";
    t.ok(
        "blob_http_503_transient",
        CHART_BLOB,
        vec![Fault::status(503), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "blob_http_500",
        CHART_BLOB,
        vec![Fault::status(500)],
        "Unexpected Registry Response",
        reg,
        PERSISTENT,
    );
    t.ok(
        "blob_reset_transient",
        CHART_BLOB,
        vec![Fault::Upstream(Mangle::ResetMidBody), Fault::Forward],
        TRANSIENT,
    );
    t.fail(
        "blob_truncated",
        CHART_BLOB,
        vec![Fault::Upstream(Mangle::Truncate)],
        "Registry Request Failed",
        reg,
        PERSISTENT,
    );
    t.fail(
        "blob_stall",
        CHART_BLOB,
        vec![stall()],
        "Registry Request Timed Out",
        reg,
        STALLED,
    );
    t.fail(
        "blob_not_the_archive",
        CHART_BLOB,
        vec![html()],
        "Chart Archive Digest Mismatch",
        "version",
        ONCE,
    );
    t.fail(
        "blob_over_cap",
        CHART_BLOB,
        vec![over_cap()],
        "Chart Archive Too Large",
        "version",
        ONCE,
    );
    t.fail(
        "blob_gzip_bomb",
        CHART_BLOB,
        vec![bomb()],
        "Chart Archive Too Large",
        "version",
        ONCE,
    );
    t.ok(
        "blob_cross_host_redirect",
        CHART_BLOB,
        vec![Fault::redirect(307, "{second}{chart_blob}")],
        ONCE,
    );
}

/// A registry whose TLS certificate (from the trusted test CA) names other hosts than the one in
/// `endpoint`: never retried, nothing to count.
fn tls_other_name(prefix: &str, surface: Surface) -> Spec {
    Spec {
        name: format!("{prefix}::tls_certificate_for_another_name"),
        surface,
        script: Vec::new(),
        down: false,
        expect: Outcome::Fail("Registry TLS Certificate Name Mismatch", "endpoint"),
        attempts: None,
        min_gap: None,
        credentials: false,
    }
}

/// The cases of a phase (called for the trial names, then in the fixture).
pub fn cases(kind: PhaseKind) -> Vec<Spec> {
    let mut t = T {
        v: Vec::new(),
        surface: Surface::Helm,
        prefix: "helm_index",
        reg_attr: "endpoint",
    };
    match kind {
        PhaseKind::Create | PhaseKind::Refresh => {
            helm_index(&mut t, kind);
            if kind == PhaseKind::Create {
                t.v.push(tls_other_name("helm_index", Surface::HelmTlsOtherName));
                t.v.push(tls_other_name("oci", Surface::OciTlsOtherName));
            }
            t.surface = Surface::Oci;
            t.prefix = "oci";
            oci(&mut t);
            if kind == PhaseKind::Create {
                oci_create_only(&mut t);
            }
            oci_token(&mut t);
        }
        PhaseKind::Archive => {
            t.surface = Surface::Archive;
            t.prefix = "archive";
            t.reg_attr = "registry";
            archive(&mut t);
            t.surface = Surface::ArchiveOci;
            t.prefix = "archive_oci";
            archive_oci(&mut t);
        }
    }
    t.v
}
