//! Shared HTTP plumbing: client construction (timeouts, extra CA, insecure TLS, proxies from the
//! environment), retries, manual redirects that never carry credentials to another origin, and
//! body streaming with a size cap.
//!
//! Retries ([`Fetcher::fetch`]) cover the whole exchange, request *and* body: a connection reset or
//! a body cut short is retried like a refused connection. What is retried: connection errors,
//! timeouts, bodies that fail while streaming, HTTP 408, 429 and 5xx except 501 and 505. Never
//! retried, because another attempt cannot succeed: other 4xx, DNS failures, TLS trust failures,
//! invalid URLs and redirects to anything but http(s). Between attempts the wait is the
//! registry's `Retry-After` (seconds or HTTP-date) when it sends one, else a capped exponential
//! back-off with jitter ([`backoff`]). A `Retry-After` longer than `request_timeout`, or past the
//! request's deadline, is not waited for: the request fails at once with [`Error::RetryLater`].
//! All attempts of one request and the waits between them end within
//! `(max_retries + 1) × request_timeout` ([`HttpSettings::budget`]).
//!
//! Every request also ends as soon as [`HttpSettings::cancel`] is cancelled (Terraform's
//! StopProvider, see `serve.rs`), with [`Error::Cancelled`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::{Client, Method, Response, StatusCode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::error::{from_reqwest, redact_url, Error, Result};
use crate::registry::scrub::{Secrets, SCAN_LIMIT};

/// Provider-wide HTTP settings (from the provider block). Their `Default` (the provider's
/// defaults) is implemented in `crate::settings`, where every default is written once.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Timeout of one attempt (request and body).
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_index_size: u64,
    /// Largest chart archive downloaded (a Helm repository's `.tgz`, an OCI chart layer).
    pub max_chart_size: u64,
    /// Cancelled when Terraform stops the provider: every request in flight then ends at once
    /// with [`Error::Cancelled`]. The default token is never cancelled.
    pub cancel: CancellationToken,
}

impl HttpSettings {
    /// Time budget of one request, all attempts and waits included:
    /// `(max_retries + 1) × timeout`.
    pub fn budget(&self) -> Duration {
        self.timeout
            .saturating_mul(self.max_retries.saturating_add(1))
    }
}

/// Back-off before retry number `attempt + 1` when the registry sends no `Retry-After`.
pub const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// Longest back-off between two attempts (before jitter).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Capped exponential back-off with jitter: `d = min(MAX_BACKOFF, BASE_BACKOFF × 2^attempt)`,
/// then a uniformly random wait in `[d/2, d]` ("equal jitter"), so that many registrations
/// failing together do not retry in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let d = BASE_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF);
    let half = d / 2;
    half + half.mul_f64(jitter_unit())
}

/// A random number in `[0, 1)`: std's per-instance random SipHash keys are enough for jitter.
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait a `Retry-After` value asks for: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850
/// or asctime, as RFC 9110 requires recipients to accept), relative to `now`. A date in the past
/// is a wait of zero; anything unparsable is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Saturate: a registry can send any number of digits.
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    // Normalise the three forms to `DD Mon YYYY HH:MM:SS` (the weekday is not checked).
    let words: Vec<&str> = v.split_whitespace().collect();
    let (day, month, year, clock) = match words.as_slice() {
        // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
        [wd, d, m, y, t, "GMT"] if wd.ends_with(',') => (*d, *m, (*y).to_string(), *t),
        // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
        [wd, dmy, t, "GMT"] if wd.ends_with(',') => {
            let mut parts = dmy.split('-');
            let (d, m, yy) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || yy.len() != 2 {
                return None;
            }
            let yy: i32 = yy.parse().ok()?;
            // Two-digit years: one more than 50 years ahead is in the past century (RFC 9110).
            let now_year = time::OffsetDateTime::from(now).year();
            let mut y = now_year - now_year.rem_euclid(100) + yy;
            if y > now_year + 50 {
                y -= 100;
            }
            (d, m, y.to_string(), *t)
        }
        // asctime: `Sun Nov  6 08:49:37 1994`
        [_, m, d, t, y] => (*d, *m, (*y).to_string(), *t),
        _ => return None,
    };
    let text = format!("{day:0>2} {month} {year} {clock}");
    let fmt = time::macros::format_description!(
        "[day] [month repr:short] [year] [hour]:[minute]:[second]"
    );
    let at = time::PrimitiveDateTime::parse(&text, &fmt).ok()?;
    let at = SystemTime::from(at.assume_utc());
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether an answer with this status may succeed when asked again.
pub fn retryable_status(status: StatusCode) -> bool {
    match status.as_u16() {
        408 | 429 => true,
        501 | 505 => false,
        s => (500..600).contains(&s),
    }
}

/// Whether a failed exchange (no usable status) may succeed when tried again: connection
/// trouble, timeouts and bodies that broke off. DNS, TLS, URL and redirect errors are final.
pub fn retryable_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Connect { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::RedirectTarget {
                transient: true,
                ..
            }
    )
}

/// Per-registry TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle trusted besides the system roots.
    pub ca_pem: Option<String>,
    pub insecure_skip_verify: bool,
}

/// Username and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn basic_header(&self) -> HeaderValue {
        use base64::Engine;
        let raw = format!("{}:{}", self.username, self.password);
        let mut v = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
        .expect("base64 is a valid header value");
        v.set_sensitive(true);
        v
    }
}

pub const USER_AGENT: &str = concat!("chartreg/", env!("CARGO_PKG_VERSION"));

/// What a client is built from: requests with equal keys share one client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    timeout: Duration,
    ca_pem: Option<String>,
    insecure_skip_verify: bool,
}

/// The clients this process has built, by what they were built from. Building one costs ~4.5 ms
/// of CPU (reqwest reads and parses the system's ~140 root certificates each time), and every
/// registry read and chart download asked for its own: 20 registries refreshed in one plan paid
/// it 20 times over (BENCHMARKS.md, "One HTTP client per process"). A shared client also shares its pool of
/// kept-alive connections between the registries of one Terraform run that have the same
/// settings, as Go's default transport (and so Helm) does. Credentials are not part of a client:
/// they are added per request, for the registry's own origin only ([`Fetcher::send`]).
static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, Client>>> = OnceLock::new();

/// Distinct settings kept at most (a provider has one timeout and a few CAs; past this the cache
/// starts again rather than grow).
const MAX_CLIENTS: usize = 32;

/// The client for these settings: built once per process and cloned after (a clone shares the
/// connection pool). Redirects are not followed by reqwest: see [`Fetcher::send`].
///
/// Like Go's transport (and so Helm), requests ask for `Accept-Encoding: gzip` and a gzip
/// `Content-Encoding` is decoded transparently; the length reqwest then reports is unknown, so
/// [`read_body_limited`] counts decoded bytes against its cap (a gzip bomb stops at the cap).
pub fn build_client(settings: &HttpSettings, tls: &TlsOptions) -> Result<Client> {
    let key = ClientKey {
        timeout: settings.timeout,
        ca_pem: tls.ca_pem.clone(),
        insecure_skip_verify: tls.insecure_skip_verify,
    };
    // Held while building: the registries Terraform reads at once then wait for one build
    // instead of each making its own.
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let client = new_client(settings, tls)?;
    if clients.len() >= MAX_CLIENTS {
        clients.clear();
    }
    clients.insert(key, client.clone());
    Ok(client)
}

fn new_client(settings: &HttpSettings, tls: &TlsOptions) -> Result<Client> {
    let mut b = Client::builder()
        .user_agent(USER_AGENT)
        .gzip(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
        .timeout(settings.timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30));
    if let Some(pem) = tls.ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| Error::Config(format!("ca_certificate is not a valid PEM bundle: {e}")))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// Scheme, host and port of a URL: credentials are only sent to this origin.
pub fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// What one attempt of [`Fetcher::fetch`] came to.
enum Step<T> {
    Done(Result<T>),
    /// A retryable status, with the wait its `Retry-After` asks for.
    RetryStatus(Response, Option<Duration>),
    RetryError(Error),
}

/// One HTTP endpoint family with its credentials policy.
#[derive(Debug, Clone)]
pub struct Fetcher {
    pub client: Client,
    pub settings: HttpSettings,
    /// The origin credentials belong to.
    pub auth_origin: String,
    /// Send the Authorization header to every origin (Helm's `--pass-credentials`).
    pub pass_credentials: bool,
}

impl Fetcher {
    pub fn new(client: Client, settings: HttpSettings, auth_origin: String) -> Self {
        Fetcher {
            client,
            settings,
            auth_origin,
            pass_credentials: false,
        }
    }

    /// Send a request and read its answer with `read`, retrying the whole exchange on transient
    /// failures (see the module docs): `read` is called once per attempt that got a response
    /// worth reading, with that attempt's response, and an error it returns is retried when
    /// [`retryable_error`] says so (a body that breaks off while `read` streams it). A retryable
    /// status that is out of retries is handed to `read` like any other. Redirects are followed
    /// by hand (up to 10); `auth` goes only to `auth_origin` (or everywhere with
    /// `pass_credentials`) and is dropped as soon as a redirect leaves that origin, as Go's
    /// net/http (and so Helm) does.
    pub async fn fetch<T, F, Fut>(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<&HeaderValue>,
        read: F,
    ) -> Result<T>
    where
        F: FnMut(Response) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let cancel = self.settings.cancel.clone();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                tracing::debug!(url = %redact_url(url.as_str()), "request cancelled: Terraform is stopping");
                Err(Error::Cancelled { url: redact_url(url.as_str()) })
            }
            r = self.fetch_with_retries(method, url, headers, auth, read) => r,
        }
    }

    /// [`Fetcher::fetch`] that hands back the response itself: only the request is retried, not
    /// the body the caller reads afterwards. Prefer `fetch`.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<&HeaderValue>,
    ) -> Result<Response> {
        self.fetch(method, url, headers, auth, |resp| async move { Ok(resp) })
            .await
    }

    async fn fetch_with_retries<T, F, Fut>(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<&HeaderValue>,
        mut read: F,
    ) -> Result<T>
    where
        F: FnMut(Response) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let shown = redact_url(url.as_str());
        let budget = self.settings.budget();
        let started = Instant::now();
        let deadline = started.checked_add(budget);
        let mut attempt = 0u32;
        loop {
            let retries_left = attempt < self.settings.max_retries;
            let exchange = async {
                match self.send_once(method.clone(), url, headers, auth).await {
                    Ok(resp) if retries_left && retryable_status(resp.status()) => {
                        let wait = resp
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, SystemTime::now()));
                        Step::RetryStatus(resp, wait)
                    }
                    Ok(resp) => match read(resp).await {
                        Ok(t) => Step::Done(Ok(t)),
                        Err(e) if retries_left && retryable_error(&e) => Step::RetryError(e),
                        Err(e) => Step::Done(Err(e)),
                    },
                    Err(e) if retries_left && retryable_error(&e) => Step::RetryError(e),
                    Err(e) => Step::Done(Err(e)),
                }
            };
            let step = match deadline {
                Some(d) => tokio::time::timeout_at(d, exchange)
                    .await
                    .unwrap_or_else(|_| {
                        Step::Done(Err(Error::Timeout {
                            url: shown.clone(),
                            after: budget,
                        }))
                    }),
                None => exchange.await,
            };
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let wait = match step {
                Step::Done(r) => return r,
                Step::RetryError(e) => {
                    let wait = backoff(attempt);
                    if left.is_some_and(|l| wait >= l) {
                        tracing::debug!(url = %shown, error = %e, attempt, "not retrying: the request's time budget is spent");
                        return Err(e);
                    }
                    tracing::debug!(url = %shown, error = %e, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    wait
                }
                Step::RetryStatus(resp, asked) => {
                    let status = resp.status().as_u16();
                    let timeout = self.settings.timeout;
                    // A `Retry-After` beyond request_timeout or the budget is not waited for.
                    if let Some(a) = asked.filter(|a| *a > timeout || left.is_some_and(|l| *a >= l))
                    {
                        tracing::debug!(url = %shown, status, retry_after_s = a.as_secs(), "not retrying: Retry-After is beyond what chartreg waits");
                        return Err(Error::RetryLater {
                            url: shown,
                            status,
                            after: a,
                            limit: left.map_or(timeout, |l| l.min(timeout)),
                        });
                    }
                    let wait = asked.unwrap_or_default().max(backoff(attempt));
                    if left.is_some_and(|l| wait >= l) {
                        // The back-off would overrun the budget: this answer is the answer.
                        tracing::debug!(url = %shown, status, attempt, "not retrying: the request's time budget is spent");
                        return read(resp).await;
                    }
                    tracing::debug!(url = %shown, status, attempt, wait_ms = wait.as_millis() as u64, retry_after = asked.is_some(), "retrying");
                    wait
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<&HeaderValue>,
    ) -> Result<Response> {
        let mut current = url.clone();
        let mut auth = auth.cloned();
        let mut method = method;
        for _ in 0..10 {
            let mut req = self
                .client
                .request(method.clone(), current.clone())
                .headers(headers.clone());
            if let Some(a) = &auth {
                if self.pass_credentials || origin(&current) == self.auth_origin {
                    req = req.header(AUTHORIZATION, a.clone());
                }
            }
            let resp = req.send().await.map_err(|e| {
                if e.is_builder() {
                    // Nothing was sent: the URL itself is unusable, another attempt cannot help.
                    Error::InvalidUrl {
                        url: redact_url(current.as_str()),
                        reason: "not a URL chartreg can request".into(),
                    }
                } else {
                    let err = from_reqwest(current.as_str(), &e, self.settings.timeout);
                    if origin(&current) == origin(url) {
                        err
                    } else {
                        redirect_target_error(&current, err)
                    }
                }
            })?;
            if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
                return Ok(resp);
            }
            let Some(loc) = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok()) else {
                return Ok(resp);
            };
            let next = current.join(loc).map_err(|e| Error::Redirect {
                url: redact_url(current.as_str()),
                detail: format!("invalid redirect location: {e}"),
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(Error::Redirect {
                    url: redact_url(current.as_str()),
                    detail: format!(
                        "refusing a redirect to a {}: URL (only http and https are supported)",
                        next.scheme()
                    ),
                });
            }
            if next.scheme() == "http" && current.scheme() == "https" {
                return Err(Error::Redirect {
                    url: redact_url(current.as_str()),
                    detail: "refusing a redirect from HTTPS to plain HTTP".into(),
                });
            }
            if origin(&next) != origin(&current) && !self.pass_credentials {
                auth = None;
            }
            if resp.status() == StatusCode::SEE_OTHER {
                method = Method::GET;
            }
            tracing::debug!(from = %redact_url(current.as_str()), to = %redact_url(next.as_str()), "following redirect");
            current = next;
        }
        Err(Error::Redirect {
            url: redact_url(url.as_str()),
            detail: "stopped after 10 redirects".into(),
        })
    }
}

/// A request that a redirect sent to another origin (blob storage: Amazon ECR answers blob
/// downloads with a redirect to S3) and that failed there: the error names that host, so that a
/// network that lets the registry through but not its storage is recognised.
fn redirect_target_error(target: &Url, err: Error) -> Error {
    let transient = retryable_error(&err);
    let detail = match &err {
        Error::Dns { detail, .. }
        | Error::Connect { detail, .. }
        | Error::Tls { detail, .. }
        | Error::TlsName { detail, .. }
        | Error::Transport { detail, .. } => detail.clone(),
        other => other.to_string(),
    };
    Error::RedirectTarget {
        url: redact_url(target.as_str()),
        host: target.host_str().unwrap_or_default().to_string(),
        detail,
        transient,
    }
}

/// Read a body, refusing more than `limit` bytes while streaming. The bytes counted are the
/// decoded ones: with a `Content-Encoding`, `content_length()` is unknown and only the stream
/// decides.
pub async fn read_body_limited(
    url: &Url,
    resp: Response,
    limit: u64,
    timeout: Duration,
) -> Result<Vec<u8>> {
    if let Some(len) = resp.content_length() {
        if len > limit {
            return Err(Error::TooLarge {
                url: redact_url(url.as_str()),
                limit,
            });
        }
    }
    // Pre-allocate from the server's Content-Length only up to 16 MiB: a registry announcing a
    // huge body (under a large `max_index_size`) must not make the plugin reserve it up front.
    const MAX_PREALLOC: u64 = 16 * 1024 * 1024;
    let mut out = Vec::with_capacity(
        resp.content_length()
            .unwrap_or(0)
            .min(limit)
            .min(MAX_PREALLOC) as usize,
    );
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| from_reqwest(url.as_str(), &e, timeout))?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(Error::TooLarge {
                url: redact_url(url.as_str()),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The start of an error body, for [`Secrets::excerpt`]: at most [`SCAN_LIMIT`] bytes are read
/// (never the whole of a hostile body), and whether that was all of it. A body failing midway
/// gives what arrived.
pub async fn read_error_start(resp: Response) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return (out, false);
        };
        let room = SCAN_LIMIT - out.len();
        if chunk.len() >= room {
            out.extend_from_slice(&chunk[..room]);
            return (out, false);
        }
        out.extend_from_slice(&chunk);
    }
    (out, true)
}

/// Map a non-success status to an error. Bodies of auth failures are not kept; other bodies
/// are shown as a short excerpt scrubbed of `secrets` (the credentials the request carried).
pub async fn status_error(url: &Url, resp: Response, secrets: &Secrets) -> Error {
    let status = resp.status();
    let url_s = redact_url(url.as_str());
    match status.as_u16() {
        401 | 403 => Error::Unauthorized {
            url: url_s,
            status: status.as_u16(),
        },
        404 => Error::NotFound { url: url_s },
        s => {
            let (body, complete) = read_error_start(resp).await;
            Error::HttpStatus {
                url: url_s,
                status: s,
                body: secrets.excerpt(&body, complete),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::testserver::{response, serve, Request};
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Registries with equal settings share one client; a client is never handed to settings
    /// that differ in timeout, CA or `insecure_skip_tls_verify`; a bad CA is an error every time.
    #[test]
    fn clients_are_shared_only_between_equal_settings() {
        // A timeout no other test uses, so that their clients are not counted.
        let s = HttpSettings {
            timeout: Duration::from_millis(12_345),
            ..HttpSettings::default()
        };
        let plain = TlsOptions::default();
        let insecure = TlsOptions {
            insecure_skip_verify: true,
            ..TlsOptions::default()
        };
        let bad = TlsOptions {
            ca_pem: Some(
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into(),
            ),
            ..TlsOptions::default()
        };
        for _ in 0..3 {
            build_client(&s, &plain).unwrap();
            build_client(&s, &insecure).unwrap();
            let err = build_client(&s, &bad).unwrap_err().to_string();
            assert!(err.contains("not a valid PEM bundle"), "{err}");
        }
        let ours: Vec<ClientKey> = CLIENTS
            .get()
            .unwrap()
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.timeout == s.timeout)
            .cloned()
            .collect();
        assert_eq!(ours.len(), 2, "{ours:?}");
        assert!(ours.iter().any(|k| k.insecure_skip_verify));
        assert!(ours.iter().any(|k| !k.insecure_skip_verify));
    }

    #[test]
    fn backoff_is_capped_exponential_with_jitter() {
        for attempt in 0..40 {
            let d = BASE_BACKOFF
                .saturating_mul(1u32 << attempt.min(16))
                .min(MAX_BACKOFF);
            let samples: Vec<Duration> = (0..50).map(|_| backoff(attempt)).collect();
            assert!(samples.iter().all(|b| *b >= d / 2 && *b <= d), "{attempt}");
            assert!(samples.iter().any(|b| *b != samples[0]), "no jitter");
        }
        assert!(backoff(0) <= Duration::from_millis(200));
        assert!(backoff(30) <= MAX_BACKOFF);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784111777); // Sun, 06 Nov 1994 08:49:37 GMT
        let p = |v: &str| parse_retry_after(v, now);
        assert_eq!(p("3"), Some(Duration::from_secs(3)));
        assert_eq!(p(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            p("99999999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            p("Sun, 06 Nov 1994 08:49:40 GMT"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            p("Sunday, 06-Nov-94 08:50:37 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(p("Sun Nov  6 08:49:47 1994"), Some(Duration::from_secs(10)));
        // In the past: no wait.
        assert_eq!(p("Sat, 05 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "3 s",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn what_is_retried() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 304, 400, 401, 403, 404, 410, 501, 505] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        let u = || "u".to_string();
        assert!(retryable_error(&Error::Transport {
            url: u(),
            detail: u()
        }));
        assert!(!retryable_error(&Error::Tls {
            url: u(),
            detail: u()
        }));
        assert!(!retryable_error(&Error::Redirect {
            url: u(),
            detail: u()
        }));
        assert!(!retryable_error(&Error::InvalidUrl {
            url: u(),
            reason: u()
        }));
    }

    fn fetcher(retries: u32, timeout: Duration) -> Fetcher {
        let settings = HttpSettings {
            timeout,
            max_retries: retries,
            ..HttpSettings::default()
        };
        let client = build_client(&settings, &TlsOptions::default()).unwrap();
        Fetcher::new(client, settings, String::new())
    }

    async fn get_body(f: &Fetcher, url: &str) -> Result<Vec<u8>> {
        let url = Url::parse(url).unwrap();
        let u = &url;
        f.fetch(Method::GET, u, &HeaderMap::new(), None, |resp| async move {
            if !resp.status().is_success() {
                return Err(status_error(u, resp, &Secrets::new()).await);
            }
            read_body_limited(u, resp, 1 << 20, Duration::from_secs(5)).await
        })
        .await
    }

    /// Answers request k with `script[k]` (the last one repeating).
    async fn scripted(
        script: Vec<Vec<u8>>,
    ) -> (crate::registry::testserver::TestServer, Arc<AtomicUsize>) {
        let n = Arc::new(AtomicUsize::new(0));
        let count = n.clone();
        let srv = serve(Arc::new(move |_: &Request| {
            let k = count.fetch_add(1, Ordering::SeqCst);
            script[k.min(script.len() - 1)].clone()
        }))
        .await;
        (srv, n)
    }

    #[tokio::test]
    async fn a_body_cut_short_is_retried_with_its_request() {
        let mut cut =
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100\r\n\r\n".to_vec();
        cut.extend_from_slice(b"only part of it");
        let (srv, n) = scripted(vec![cut, response("200 OK", &[], b"whole body")]).await;
        let f = fetcher(2, Duration::from_secs(5));
        let body = get_body(&f, &format!("{}/x", srv.base)).await.unwrap();
        assert_eq!(body, b"whole body");
        assert_eq!(n.load(Ordering::SeqCst), 2);
        // With send (request only), the caller's body read is not retried.
        let (srv, n) = scripted(vec![
            {
                let mut c = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
                c.extend_from_slice(b"part");
                c
            },
            response("200 OK", &[], b"whole body"),
        ])
        .await;
        let url = Url::parse(&format!("{}/x", srv.base)).unwrap();
        let resp = f
            .send(Method::GET, &url, &HeaderMap::new(), None)
            .await
            .unwrap();
        assert!(
            read_body_limited(&url, resp, 1 << 20, Duration::from_secs(5))
                .await
                .is_err()
        );
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retry_after_is_waited_for_and_capped() {
        let (srv, n) = scripted(vec![
            response("503 Service Unavailable", &[("Retry-After", "1")], b""),
            response("200 OK", &[], b"ok"),
        ])
        .await;
        let f = fetcher(3, Duration::from_secs(5));
        let t0 = std::time::Instant::now();
        assert_eq!(get_body(&f, &srv.base).await.unwrap(), b"ok");
        assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
        assert_eq!(n.load(Ordering::SeqCst), 2);

        // Longer than request_timeout: one request, an error naming the wait.
        let (srv, n) = scripted(vec![response(
            "429 Too Many Requests",
            &[("Retry-After", "120")],
            b"",
        )])
        .await;
        let t0 = std::time::Instant::now();
        let err = get_body(&f, &srv.base).await.unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert!(
            matches!(err, Error::RetryLater { status: 429, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("120 s"), "{err}");

        // Out of retries: the status itself is the answer.
        let f0 = fetcher(0, Duration::from_secs(5));
        let err = get_body(&f0, &srv.base).await.unwrap_err();
        assert!(
            matches!(err, Error::HttpStatus { status: 429, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn hopeless_answers_are_not_retried() {
        let (srv, n) = scripted(vec![response(
            "302 Found",
            &[("Location", "ftp://127.0.0.1/x")],
            b"",
        )])
        .await;
        let f = fetcher(4, Duration::from_secs(5));
        let err = get_body(&f, &srv.base).await.unwrap_err();
        assert!(matches!(err, Error::Redirect { .. }), "{err}");
        assert!(err.to_string().contains("ftp:"), "{err}");
        assert_eq!(n.load(Ordering::SeqCst), 1);
        for status in ["400 Bad Request", "404 Not Found", "501 Not Implemented"] {
            let (srv, n) = scripted(vec![response(status, &[], b"")]).await;
            assert!(get_body(&f, &srv.base).await.is_err());
            assert_eq!(n.load(Ordering::SeqCst), 1, "{status}");
        }
    }

    /// A server that accepts and never answers.
    async fn silent() -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn cancel_ends_a_request_in_flight() {
        let url = silent().await;
        let f = fetcher(4, Duration::from_secs(60));
        let cancel = f.settings.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        });
        let t0 = std::time::Instant::now();
        let err = get_body(&f, &url).await.unwrap_err();
        assert!(matches!(err, Error::Cancelled { .. }), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn all_attempts_end_within_the_budget() {
        let url = silent().await;
        // 3 attempts of 300 ms: the back-off between them comes out of the same budget.
        let f = fetcher(2, Duration::from_millis(300));
        let t0 = std::time::Instant::now();
        let err = get_body(&f, &url).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        let took = t0.elapsed();
        assert!(took <= Duration::from_millis(1000), "{took:?}");
        assert!(took >= Duration::from_millis(600), "{took:?}");
    }

    fn gzip_zeros(n: usize) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let block = vec![0u8; 1 << 20];
        for _ in 0..n >> 20 {
            e.write_all(&block).unwrap();
        }
        e.finish().unwrap()
    }

    async fn fetch(body: Vec<u8>, limit: u64) -> (Result<Vec<u8>>, String) {
        let srv = serve(Arc::new(move |_| {
            response("200 OK", &[("Content-Encoding", "gzip")], &body)
        }))
        .await;
        let settings = HttpSettings::default();
        let client = build_client(&settings, &TlsOptions::default()).unwrap();
        let url = Url::parse(&format!("{}/index.yaml", srv.base)).unwrap();
        let resp = client.get(url.clone()).send().await.unwrap();
        let got = read_body_limited(&url, resp, limit, settings.timeout).await;
        (got, srv.seen()[0].lower.clone())
    }

    #[tokio::test]
    async fn gzip_is_asked_for_and_decoded() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"apiVersion: v1\nentries: {}\n").unwrap();
        let (got, head) = fetch(e.finish().unwrap(), 1024).await;
        assert_eq!(got.unwrap(), b"apiVersion: v1\nentries: {}\n");
        assert!(head.contains("accept-encoding: gzip"), "{head}");
    }

    #[tokio::test]
    async fn gzip_bomb_stops_at_the_cap_on_decoded_bytes() {
        // 64 MiB of zeros in ~64 KB: far below the cap as sent, far above it decoded.
        let bomb = gzip_zeros(64 << 20);
        assert!(bomb.len() < 256 * 1024, "{}", bomb.len());
        let t = std::time::Instant::now();
        let (got, _) = fetch(bomb, 1 << 20).await;
        assert!(
            matches!(got, Err(Error::TooLarge { limit, .. }) if limit == 1 << 20),
            "{got:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn broken_gzip_is_an_error() {
        let (got, _) = fetch(b"\x1f\x8b\x08\x00garbage".to_vec(), 1024).await;
        let e = got.unwrap_err();
        assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    }
}
