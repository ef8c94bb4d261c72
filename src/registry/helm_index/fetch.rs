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

use crate::error::{redact_url, Error, Result};
use crate::registry::helm_index::parse::{parse_index_until, ParseDeadline, ParsedIndex};
use crate::registry::helm_index::urls::{index_url, HelmRepo};
use crate::registry::http::{
    build_client, origin, read_body_limited, status_error, Credentials, Fetcher, HttpSettings,
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

/// A downloaded index.
#[derive(Debug, Clone)]
pub struct FetchedIndex {
    pub url: Url,
    pub bytes: Vec<u8>,
    /// Lower-case hex sha256 of `bytes`.
    pub digest: String,
    pub validators: Validators,
    pub index: ParsedIndex,
}

#[derive(Debug, Clone)]
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

/// What the index request came to: a body read in full, or a status answered without one.
enum Answer {
    /// With the deadline of the parse (see `fetch_index`).
    Body(StatusCode, Validators, Vec<u8>, ParseDeadline),
    Status(StatusCode, reqwest::Response),
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
                    let bytes = read_body_limited(url, resp, limit, timeout).await?;
                    Ok(Answer::Body(status, validators, bytes, deadline))
                },
            )
            .await?
    };
    let (status, new_validators, bytes, deadline) = match answer {
        Answer::Body(status, validators, bytes, deadline) => (status, validators, bytes, deadline),
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
        let digest = hex::encode(Sha256::digest(&bytes));
        let parsed = parse_index_until(&bytes, &parse_url, deadline);
        (bytes, digest, parsed)
    });
    let waited = tokio::select! {
        biased;
        _ = settings.cancel.cancelled() => {
            tracing::debug!(url = %shown, "index parse abandoned: Terraform is stopping");
            return Err(Error::Cancelled { url: shown });
        }
        w = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline.at), task) => w,
    };
    let (bytes, digest, parsed) = match waited {
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
        bytes = bytes.len(),
        charts = index.chart_count(),
        versions = index.version_count(),
        skipped = index.skipped,
        downloaded_ms,
        total_ms = started.elapsed().as_millis() as u64,
        "index fetched"
    );
    Ok(IndexFetch::Fetched(Box::new(FetchedIndex {
        url,
        bytes,
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
        assert_eq!(f.bytes, TINY.as_bytes());
        assert_eq!(f.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(
            f.validators.last_modified.as_deref(),
            Some("Mon, 01 Jan 2024 00:00:00 GMT")
        );
        assert_eq!(f.index.version_count(), 1);
        assert_eq!(
            resolve_chart_url(&f.url, &f.index.entries["a"][0].urls[0])
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
