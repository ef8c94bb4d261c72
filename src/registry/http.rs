//! Shared HTTP plumbing: client construction (timeouts, extra CA, insecure TLS, proxies from the
//! environment), retries with back-off, manual redirects that never carry credentials to another
//! origin, and body streaming with a size cap.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{Client, Method, Response, StatusCode};
use url::Url;

use crate::error::{from_reqwest, redact_url, Error, Result};

/// Provider-wide HTTP settings (from the provider block). Their `Default` (the provider's
/// defaults) is implemented in `crate::settings`, where every default is written once.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_index_size: u64,
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

/// Build a client. Redirects are not followed by reqwest: see [`Fetcher::send`].
pub fn build_client(settings: &HttpSettings, tls: &TlsOptions) -> Result<Client> {
    let mut b = Client::builder()
        .user_agent(USER_AGENT)
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

    /// Send a request with retries on transient failures, following up to 10 redirects by hand.
    /// `auth` goes only to `auth_origin` (or everywhere with `pass_credentials`); it is dropped
    /// as soon as a redirect leaves that origin, as Go's net/http (and so Helm) does.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<&HeaderValue>,
    ) -> Result<Response> {
        let mut attempt = 0u32;
        loop {
            match self.send_once(method.clone(), url, headers, auth).await {
                Ok(resp)
                    if (resp.status().is_server_error()
                        || resp.status() == StatusCode::TOO_MANY_REQUESTS)
                        && attempt < self.settings.max_retries =>
                {
                    tracing::debug!(url = %redact_url(url.as_str()), status = resp.status().as_u16(), attempt, "retrying");
                }
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_transient() && attempt < self.settings.max_retries => {
                    tracing::debug!(url = %redact_url(url.as_str()), error = %e, attempt, "retrying");
                }
                Err(e) => return Err(e),
            }
            let backoff =
                Duration::from_millis(100u64 << attempt.min(6)).min(Duration::from_secs(5));
            tokio::time::sleep(backoff).await;
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
            let resp = req
                .send()
                .await
                .map_err(|e| from_reqwest(current.as_str(), &e, self.settings.timeout))?;
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

/// Read a body, refusing more than `limit` bytes while streaming.
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
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit) as usize);
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

/// Map a non-success status to an error. Bodies of auth failures are not kept.
pub async fn status_error(url: &Url, resp: Response) -> Error {
    let status = resp.status();
    let url_s = redact_url(url.as_str());
    match status.as_u16() {
        401 | 403 => Error::Unauthorized {
            url: url_s,
            status: status.as_u16(),
        },
        404 => Error::NotFound { url: url_s },
        s => {
            let body = resp.text().await.unwrap_or_default();
            let mut body: String = body.chars().filter(|c| !c.is_control()).take(200).collect();
            if body.trim().is_empty() {
                body.clear();
            }
            Error::HttpStatus {
                url: url_s,
                status: s,
                body,
            }
        }
    }
}
