//! The download of a repository's `index.yaml`: a conditional request when the last
//! [`Validators`] are known, retries and redirects through [`Fetcher::fetch`], the
//! `max_index_size` cap while streaming, the parse off the async workers under the deadline of
//! the response, and every error or example that may quote the server scrubbed of the request's
//! secrets. The only part of the Helm client that does network I/O.

use std::time::Instant;

use reqwest::header::{
    HeaderMap, HeaderValue, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{from_reqwest, redact_url, Error, Result};
use crate::registry::helm_index::parse::{
    parse_index_file, parse_index_until, ParseDeadline, ParsedIndex,
};
use crate::registry::helm_index::urls::{index_url, HelmRepo};
use crate::registry::http::{
    build_client, origin, status_error, Credentials, Fetcher, HttpSettings,
};
use crate::registry::scrub::Secrets;

/// HTTP cache validators of the index last downloaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether there is anything to send in a conditional request.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// Bodies up to this size are kept in memory; a larger one is spooled to a temporary file as
/// it arrives and parsed from there line by line (issue 11, target 3: a 400 MB index must not be
/// held in memory beside its parse).
pub const SPOOL_THRESHOLD: usize = 16 << 20;

/// The bytes of a downloaded index.
#[derive(Debug)]
pub enum IndexBody {
    Memory(Vec<u8>),
    /// In a temporary file, removed when this is dropped.
    Spooled(SpoolFile),
}

/// A temporary file holding a large body; removed on drop.
#[derive(Debug)]
pub struct SpoolFile {
    pub path: std::path::PathBuf,
    pub len: u64,
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl IndexBody {
    pub fn len(&self) -> u64 {
        match self {
            IndexBody::Memory(b) => b.len() as u64,
            IndexBody::Spooled(f) => f.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write the body to `dest` (through a temporary name in its directory, then renamed).
    pub fn save_as(&self, dest: &std::path::Path) -> std::io::Result<()> {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = dest.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}-index",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let written = match self {
            IndexBody::Memory(b) => std::fs::write(&tmp, b),
            IndexBody::Spooled(f) => std::fs::copy(&f.path, &tmp).map(drop),
        }
        .and_then(|()| std::fs::rename(&tmp, dest));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// A downloaded index.
#[derive(Debug)]
pub struct FetchedIndex {
    pub url: Url,
    pub body: IndexBody,
    /// Lower-case hex sha256 of the body, computed as it arrived.
    pub digest: String,
    pub validators: Validators,
    pub index: ParsedIndex,
}

#[derive(Debug)]
pub enum IndexFetch {
    NotModified,
    Fetched(Box<FetchedIndex>),
}

fn header_string(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// What an error body must not show: the credentials and the query string's values (a token in
/// `?token=…`).
fn request_secrets(repo: &HelmRepo, url: &Url) -> Secrets {
    let mut secrets = Secrets::new();
    if let Some(c) = &repo.credentials {
        secrets.add_credentials(c);
    }
    if let Some(q) = url.query() {
        secrets.add_token(q);
        for (_, v) in url.query_pairs() {
            secrets.add(&v);
        }
    }
    secrets
}

/// What the index request came to: a body read in full (and its digest), or a status answered
/// without one.
enum Answer {
    /// With the deadline of the parse (see `fetch_index`).
    Body(StatusCode, Validators, IndexBody, String, ParseDeadline),
    Status(StatusCode, reqwest::Response),
}

/// The body, at most `limit` bytes, hashed as it arrives: in memory up to [`SPOOL_THRESHOLD`],
/// beyond that in a temporary file (the memory part is written out first).
async fn read_body_spooled(
    url: &Url,
    resp: reqwest::Response,
    limit: u64,
    timeout: std::time::Duration,
) -> Result<(IndexBody, String)> {
    use futures::StreamExt;
    use std::io::Write;
    let too_large = || Error::TooLarge {
        url: redact_url(url.as_str()),
        limit,
    };
    if resp.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let spool_err = |e: std::io::Error| Error::Protocol {
        url: redact_url(url.as_str()),
        detail: format!("spooling the index to a temporary file: {e}"),
    };
    let prealloc = resp
        .content_length()
        .unwrap_or(0)
        .min(limit)
        .min(SPOOL_THRESHOLD as u64) as usize;
    let mut mem = Vec::with_capacity(prealloc);
    let mut file: Option<(SpoolFile, std::io::BufWriter<std::fs::File>)> = None;
    let mut hash = Sha256::new();
    let mut len = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| from_reqwest(url.as_str(), &e, timeout))?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(too_large());
        }
        hash.update(&chunk);
        if file.is_none() && mem.len() + chunk.len() > SPOOL_THRESHOLD {
            static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "chartreg-index-{}-{}.yaml",
                std::process::id(),
                SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            // create_new: never through a file or link someone else put at that name
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(spool_err)?;
            let spool = SpoolFile { path, len: 0 };
            let mut w = std::io::BufWriter::with_capacity(256 << 10, f);
            w.write_all(&mem).map_err(spool_err)?;
            mem = Vec::new();
            file = Some((spool, w));
        }
        match &mut file {
            Some((_, w)) => w.write_all(&chunk).map_err(spool_err)?,
            None => mem.extend_from_slice(&chunk),
        }
    }
    let digest = hex::encode(hash.finalize());
    let body = match file {
        None => IndexBody::Memory(mem),
        Some((mut spool, w)) => {
            // flushed, not synced: the file is read back by this process and then removed
            w.into_inner().map_err(|e| spool_err(e.into_error()))?;
            spool.len = len;
            IndexBody::Spooled(spool)
        }
    };
    Ok((body, digest))
}

/// Download the index; with `validators`, a conditional request that may answer `NotModified`.
pub async fn fetch_index(
    repo: &HelmRepo,
    settings: &HttpSettings,
    validators: Option<&Validators>,
) -> Result<IndexFetch> {
    let url = index_url(&repo.endpoint)?;
    let shown = redact_url(url.as_str());
    let client = build_client(settings, &repo.tls)?;
    let mut fetcher = Fetcher::new(client, settings.clone(), origin(&url));
    fetcher.pass_credentials = repo.pass_credentials;
    let auth = repo.credentials.as_ref().map(Credentials::basic_header);
    let secrets = request_secrets(repo, &url);

    let validators = validators.filter(|v| !v.is_empty());
    let mut headers = HeaderMap::new();
    if let Some(v) = validators {
        if let Some(etag) = v
            .etag
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok())
        {
            headers.insert(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = v
            .last_modified
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok())
        {
            headers.insert(IF_MODIFIED_SINCE, lm);
        }
    }

    let started = Instant::now();
    tracing::debug!(url = %shown, conditional = validators.is_some(), authenticated = auth.is_some(), "fetching Helm repository index");
    // Request and body are one exchange: a body that breaks off is retried like a failed request.
    let answer = {
        let (url, limit, timeout) = (&url, settings.max_index_size, settings.timeout);
        fetcher
            .fetch(
                Method::GET,
                url,
                &headers,
                auth.as_ref(),
                |resp| async move {
                    // request_timeout bounds the request (reqwest: connect to end of body) and,
                    // counted from the response, the body and its parse together: a document
                    // that is slow to read gives up then.
                    let deadline = ParseDeadline::after(timeout);
                    let status = resp.status();
                    if status == StatusCode::NOT_MODIFIED || !status.is_success() {
                        return Ok(Answer::Status(status, resp));
                    }
                    let validators = Validators {
                        etag: header_string(resp.headers(), ETAG),
                        last_modified: header_string(resp.headers(), LAST_MODIFIED),
                    };
                    let (body, digest) = read_body_spooled(url, resp, limit, timeout).await?;
                    Ok(Answer::Body(status, validators, body, digest, deadline))
                },
            )
            .await?
    };
    let (status, new_validators, body, digest, deadline) = match answer {
        Answer::Body(status, validators, body, digest, deadline) => {
            (status, validators, body, digest, deadline)
        }
        Answer::Status(status, _) if status == StatusCode::NOT_MODIFIED => {
            if validators.is_none() {
                return Err(Error::Protocol {
                    url: shown,
                    detail: "answered 304 Not Modified to an unconditional request".into(),
                });
            }
            tracing::debug!(url = %shown, elapsed_ms = started.elapsed().as_millis() as u64, "index not modified");
            return Ok(IndexFetch::NotModified);
        }
        Answer::Status(status, resp) => {
            let err = status_error(&url, resp, &secrets).await;
            tracing::debug!(url = %shown, status = status.as_u16(), error = %err, "index request failed");
            return Err(err);
        }
    };
    let downloaded_ms = started.elapsed().as_millis() as u64;

    // Hashing and parsing a multi-megabyte index is CPU work: keep it off the async workers. At
    // the deadline the answer is a timeout even if the parse is still running; the parse itself
    // stops soon after (yaml_guard and the entry visitors check the deadline) or, in serde_yaml's
    // load that cannot be interrupted, after linear work (yaml_guard bounds it).
    let parse_url = url.to_string();
    let task = tokio::task::spawn_blocking(move || {
        let parsed = match &body {
            IndexBody::Memory(bytes) => parse_index_until(bytes, &parse_url, deadline),
            IndexBody::Spooled(f) => parse_index_file(&f.path, &parse_url, Some(deadline)),
        };
        (body, parsed)
    });
    let waited = tokio::select! {
        biased;
        _ = settings.cancel.cancelled() => {
            tracing::debug!(url = %shown, "index parse abandoned: Terraform is stopping");
            return Err(Error::Cancelled { url: shown });
        }
        w = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline.at), task) => w,
    };
    let (body, parsed) = match waited {
        Err(_) => {
            tracing::debug!(url = %shown, timeout = ?settings.timeout, "index parse timed out");
            return Err(Error::ParseTimeout {
                url: shown,
                after: settings.timeout,
            });
        }
        Ok(joined) => joined.map_err(|e| Error::Protocol {
            url: shown.clone(),
            detail: format!("index parsing was aborted: {e}"),
        })?,
    };
    // Parser messages and skipped-entry examples quote the document, which may echo the request.
    let mut index = parsed.map_err(|e| secrets.scrub_error(e))?;
    for ex in &mut index.skipped_examples {
        *ex = secrets.scrub(ex);
    }
    tracing::debug!(
        url = %shown,
        status = status.as_u16(),
        bytes = body.len(),
        spooled = matches!(body, IndexBody::Spooled(_)),
        charts = index.chart_count(),
        versions = index.version_count(),
        skipped = index.skipped,
        downloaded_ms,
        total_ms = started.elapsed().as_millis() as u64,
        "index fetched"
    );
    Ok(IndexFetch::Fetched(Box::new(FetchedIndex {
        url,
        body,
        digest,
        validators: new_validators,
        index,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::helm_index::urls::resolve_chart_url;
    use crate::registry::http::TlsOptions;
    use crate::registry::testserver::{response, serve, Request};
    use std::sync::Arc;
    use std::time::Duration;

    fn settings() -> HttpSettings {
        HttpSettings {
            timeout: Duration::from_secs(10),
            max_retries: 0,
            max_index_size: 1 << 20,
            ..HttpSettings::default()
        }
    }

    fn repo(endpoint: &str, creds: bool) -> HelmRepo {
        HelmRepo {
            endpoint: endpoint.to_string(),
            credentials: creds.then(|| Credentials {
                username: "alice".into(),
                password: "s3cr3t-pw".into(),
            }),
            tls: TlsOptions::default(),
            pass_credentials: false,
        }
    }

    const TINY: &str =
        "apiVersion: v1\nentries:\n  a:\n    - {name: a, version: 1.0.0, urls: [a-1.0.0.tgz]}\n";

    #[tokio::test]
    async fn fetch_then_not_modified() {
        let srv = serve(Arc::new(|r: &Request| {
            let head = &r.lower;
            if head.contains("if-none-match: \"v1\"") {
                response("304 Not Modified", &[("ETag", "\"v1\"")], b"")
            } else {
                response(
                    "200 OK",
                    &[
                        ("ETag", "\"v1\""),
                        ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
                    ],
                    TINY.as_bytes(),
                )
            }
        }))
        .await;
        let r = repo(&format!("{}/charts?x=1", srv.base), true);
        let IndexFetch::Fetched(f) = fetch_index(&r, &settings(), None).await.unwrap() else {
            panic!("expected a body")
        };
        assert_eq!(
            f.url.as_str(),
            format!("{}/charts/index.yaml?x=1", srv.base)
        );
        assert_eq!(f.digest, hex::encode(Sha256::digest(TINY.as_bytes())));
        assert!(matches!(&f.body, IndexBody::Memory(b) if b == TINY.as_bytes()));
        assert_eq!(f.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(
            f.validators.last_modified.as_deref(),
            Some("Mon, 01 Jan 2024 00:00:00 GMT")
        );
        assert_eq!(f.index.version_count(), 1);
        assert_eq!(
            resolve_chart_url(&f.url, &f.index.entries()["a"][0].urls[0])
                .unwrap()
                .as_str(),
            format!("{}/charts/a-1.0.0.tgz?x=1", srv.base)
        );
        let again = fetch_index(&r, &settings(), Some(&f.validators))
            .await
            .unwrap();
        assert!(matches!(again, IndexFetch::NotModified));
        let reqs: Vec<String> = srv.seen().into_iter().map(|r| r.lower).collect();
        assert_eq!(reqs.len(), 2);
        assert!(
            reqs[0].starts_with("get /charts/index.yaml?x=1 http/1.1"),
            "{}",
            reqs[0]
        );
        assert!(reqs[0].contains("authorization: basic "));
        assert!(!reqs[0].contains("if-none-match"));
        assert!(reqs[1].contains("if-modified-since: mon, 01 jan 2024 00:00:00 gmt"));
    }

    #[tokio::test]
    async fn fetch_status_errors() {
        let srv = serve(Arc::new(|r: &Request| {
            let head = &r.lower;
            if head.starts_with("get /private/") {
                response(
                    "401 Unauthorized",
                    &[("WWW-Authenticate", "Basic realm=x")],
                    b"secret body",
                )
            } else if head.starts_with("get /forbidden/") {
                response("403 Forbidden", &[], b"")
            } else if head.starts_with("get /html/") {
                response(
                    "200 OK",
                    &[("Content-Type", "text/html")],
                    b"<html><body>login</body></html>",
                )
            } else if head.starts_with("get /teapot/") {
                response("418 I'm a teapot", &[], b"short and stout")
            } else {
                response("404 Not Found", &[], b"nope")
            }
        }))
        .await;
        let s = settings();
        let err = fetch_index(
            &repo(&format!("{}/private?token=abc", srv.base), true),
            &s,
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::Unauthorized { status: 401, .. }),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("s3cr3t")
                && !text.contains("token=abc")
                && !text.contains("secret body"),
            "{text}"
        );
        let err = fetch_index(&repo(&format!("{}/forbidden", srv.base), true), &s, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Unauthorized { status: 403, .. }),
            "{err:?}"
        );
        let err = fetch_index(&repo(&format!("{}/missing", srv.base), false), &s, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        let err = fetch_index(&repo(&format!("{}/html", srv.base), false), &s, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotAnIndex { .. }), "{err:?}");
        let err = fetch_index(&repo(&format!("{}/teapot", srv.base), false), &s, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::HttpStatus { status: 418, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn redirect_to_other_origin_drops_credentials() {
        let other = serve(Arc::new(|_: &Request| {
            response("200 OK", &[], TINY.as_bytes())
        }))
        .await;
        let target = format!("{}/moved/index.yaml", other.base);
        let srv = serve(Arc::new(move |_: &Request| {
            response("302 Found", &[("Location", target.as_str())], b"")
        }))
        .await;
        let mut r = repo(&srv.base, true);
        let IndexFetch::Fetched(f) = fetch_index(&r, &settings(), None).await.unwrap() else {
            panic!()
        };
        assert_eq!(f.index.version_count(), 1);
        assert!(srv.seen()[0].lower.contains("authorization: basic "));
        assert!(!other.seen()[0].lower.contains("authorization"));
        // With pass_credentials the other origin gets them too (Helm's --pass-credentials).
        r.pass_credentials = true;
        fetch_index(&r, &settings(), None).await.unwrap();
        assert!(other.seen()[1].lower.contains("authorization: basic "));
    }

    #[tokio::test]
    async fn body_over_the_limit_is_too_large() {
        let big = format!("apiVersion: v1\nentries: {{}}\n#{}\n", "x".repeat(4000));
        let srv = serve(Arc::new(move |r: &Request| {
            let head = &r.lower;
            if head.starts_with("get /nolength/") {
                // No Content-Length: the limit applies while streaming.
                let mut out = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
                out.extend_from_slice(big.as_bytes());
                out
            } else {
                response("200 OK", &[], big.as_bytes())
            }
        }))
        .await;
        let s = HttpSettings {
            max_index_size: 1000,
            ..settings()
        };
        for path in ["/withlength", "/nolength"] {
            let err = fetch_index(&repo(&format!("{}{path}", srv.base), false), &s, None)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::TooLarge { limit: 1000, .. }),
                "{path}: {err:?}"
            );
        }
        let ok = fetch_index(
            &repo(&format!("{}/withlength", srv.base), false),
            &settings(),
            None,
        )
        .await;
        assert!(matches!(ok, Ok(IndexFetch::Fetched(_))));
    }

    #[tokio::test]
    async fn a_large_body_is_spooled_hashed_and_parsed_from_its_file() {
        let mut doc = String::from("apiVersion: v1\nentries:\n");
        let mut n = 0;
        while doc.len() <= SPOOL_THRESHOLD + 4096 {
            doc.push_str(&format!(
                "  c{n}:\n  - name: c{n}\n    version: 1.0.{n}\n    description: {}\n    urls:\n    - c{n}-1.0.{n}.tgz\n",
                "x".repeat(200)
            ));
            n += 1;
        }
        let body = doc.clone();
        let srv = serve(Arc::new(move |_: &Request| {
            response("200 OK", &[], body.as_bytes())
        }))
        .await;
        // A generous timeout: an unoptimised build on a loaded machine reads 16 MB slowly.
        let s = HttpSettings {
            max_index_size: 64 << 20,
            timeout: Duration::from_secs(300),
            ..settings()
        };
        let IndexFetch::Fetched(f) = fetch_index(&repo(&srv.base, false), &s, None)
            .await
            .unwrap()
        else {
            panic!("expected a body")
        };
        assert_eq!(f.digest, hex::encode(Sha256::digest(doc.as_bytes())));
        assert_eq!(f.index.chart_count(), n);
        assert_eq!(f.body.len(), doc.len() as u64);
        let IndexBody::Spooled(spool) = &f.body else {
            panic!("a body above SPOOL_THRESHOLD stays in memory")
        };
        let path = spool.path.clone();
        assert!(path.is_file());
        let d = std::env::temp_dir().join(format!("chartreg-spool-test-{}", std::process::id()));
        let dest = d.join("index");
        f.body.save_as(&dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), doc.as_bytes());
        drop(f);
        assert!(!path.exists(), "the spool file is removed with the body");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn fetch_gives_up_at_request_timeout() {
        // 600k flow versions (15 MB, 3.6M events): reading them takes ~5 s here (~1 s in a
        // release build), more than the 1 s request_timeout; the download takes milliseconds.
        let mut doc = String::from("apiVersion: v1\nentries:\n  c:\n");
        for _ in 0..600_000 {
            doc.push_str("  - {name: c, version: x}\n");
        }
        let srv = serve(Arc::new(move |_: &Request| {
            response("200 OK", &[], doc.as_bytes())
        }))
        .await;
        let s = HttpSettings {
            timeout: Duration::from_secs(1),
            max_index_size: 64 << 20,
            ..settings()
        };
        let t0 = Instant::now();
        let err = fetch_index(&repo(&srv.base, false), &s, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ParseTimeout { .. }), "{err:?}");
        // The answer does not wait for the parse (generous bound: loaded machines).
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert!(!err.is_transient());
    }
}
