//! Authentication against an OCI registry: the `WWW-Authenticate` challenge (Basic or Bearer),
//! tokens per scope from the registry's token realm, and the authenticated `GET` that every other
//! part of the client goes through ([`Session::get`]).
//!
//! Credentials come from a [`CredentialSource`], asked each time they are needed, so that a
//! source whose credentials expire or can be minted again (Amazon ECR's 12-hour
//! `GetAuthorizationToken` passwords) plugs in without the client knowing: after a 401 the client
//! asks again with `refresh = true` and retries once if the answer differs. The static
//! username/password of the resources is [`StaticCredentials`].
//!
//! Secrets: the password and registry tokens only ever travel in `Authorization` headers marked
//! sensitive; they are never logged, never put into errors and never persisted (tokens live in
//! memory, per scope, until they expire — at most `MAX_TOKEN_TTL`, whatever `expires_in` says).
//! Credentials go to the registry's origin and to the token realm only; redirects to another
//! origin (blob storage) drop them (see [`Fetcher::send`]). Error bodies, from the registry and
//! from the token realm alike, are shown only as an excerpt scrubbed of the credentials and of
//! every token held ([`Secrets`]); JSON parser messages lose the values they quote.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::endpoint::{invalid, OciEndpoint};
use super::{lock, Reply, CONCURRENCY};
use crate::error::{redact_url, Error, Result};
use crate::registry::http::{
    build_client, origin, read_body_limited, Credentials, Fetcher, HttpSettings, TlsOptions,
};
use crate::registry::scrub::{json_error, Secrets};

const TOKEN_LIMIT: u64 = 1024 * 1024;
/// How much of an error body is read (OCI error codes, a short message for the user).
pub const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// Token lifetime when the token service gives none (or nonsense), as the distribution spec says.
const DEFAULT_TOKEN_TTL: u64 = 60;
/// Longest a token is kept, whatever the token service says: a remote number never reaches
/// clock arithmetic unbounded, and a stale token is refetched on its first 401 anyway.
const MAX_TOKEN_TTL: u64 = 3600;

/// The token scope that pulls from repository `repo`.
pub fn repo_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

// ------------------------------------------------------------------------------------------------
// Credential source

/// Where the client gets the credentials it sends to the registry (Basic) and to its token realm.
///
/// Asked before every authenticated request (keep it cheap: cache inside), and once more with
/// `refresh = true` right after the registry or the token realm refused the credentials it gave
/// (HTTP 401): a source that can mint new credentials does so then; when it answers the same
/// credentials, the client gives up (no loop). A source whose credentials expire renews them
/// itself when asked after the expiry, whatever `refresh` says (and mints at most once per
/// expiry: a token whose expiry is already past when it arrives, as moto's ECR answers, is used
/// until the next refresh rather than minted again on every request). `Ok(None)`: anonymous.
/// Errors end the request as they are (an ECR source maps its own failures to attributes).
#[async_trait]
pub trait CredentialSource: Send + Sync + std::fmt::Debug {
    async fn credentials(&self, refresh: bool) -> Result<Option<Credentials>>;
}

/// Username and password from the configuration, or none: the same answer every time.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials(pub Option<Credentials>);

#[async_trait]
impl CredentialSource for StaticCredentials {
    async fn credentials(&self, _refresh: bool) -> Result<Option<Credentials>> {
        Ok(self.0.clone())
    }
}

// ------------------------------------------------------------------------------------------------
// Challenges

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lower-case scheme (`basic`, `bearer`).
    pub scheme: String,
    /// Parameters with lower-case names; quoted values unquoted.
    pub params: BTreeMap<String, String>,
}

/// Parse a `WWW-Authenticate` value (RFC 7235): several challenges, quoted values that may hold
/// commas and escaped quotes.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let s: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let is_tchar = |c: char| !c.is_whitespace() && c != ',' && c != '=' && c != '"';
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
            i += 1;
        }
        let start = i;
        while i < s.len() && is_tchar(s[i]) {
            i += 1;
        }
        if i == start {
            break;
        }
        let mut ch = Challenge {
            scheme: s[start..i].iter().collect::<String>().to_ascii_lowercase(),
            params: BTreeMap::new(),
        };
        loop {
            skip_ws(&mut i);
            let save = i;
            let ns = i;
            while i < s.len() && is_tchar(s[i]) {
                i += 1;
            }
            let name: String = s[ns..i].iter().collect();
            skip_ws(&mut i);
            if name.is_empty() || i >= s.len() || s[i] != '=' {
                // Not `name=`: a token68 or the next challenge's scheme.
                i = save;
                if !name.is_empty() && i < s.len() && out.is_empty() && ch.params.is_empty() {
                    // token68 (e.g. `Negotiate abc==`): skip it.
                    while i < s.len() && s[i] != ',' {
                        i += 1;
                    }
                }
                break;
            }
            i += 1; // '='
            skip_ws(&mut i);
            let value = read_param_value(&s, &mut i, |c| c == ',' || c.is_whitespace());
            ch.params.insert(name.to_ascii_lowercase(), value);
            skip_ws(&mut i);
            if i < s.len() && s[i] == ',' {
                i += 1;
            }
        }
        out.push(ch);
        if i >= s.len() {
            break;
        }
    }
    out
}

/// A header parameter value at `s[*i..]`: a quoted string (backslash escapes honoured, `*i` left
/// after the closing quote) or a token up to the first character for which `stop` holds.
pub(super) fn read_param_value(s: &[char], i: &mut usize, stop: impl Fn(char) -> bool) -> String {
    let mut value = String::new();
    if *i < s.len() && s[*i] == '"' {
        *i += 1;
        while *i < s.len() && s[*i] != '"' {
            if s[*i] == '\\' && *i + 1 < s.len() {
                *i += 1;
            }
            value.push(s[*i]);
            *i += 1;
        }
        *i += 1; // closing quote (or end)
    } else {
        while *i < s.len() && !stop(s[*i]) {
            value.push(s[*i]);
            *i += 1;
        }
    }
    value
}

// ------------------------------------------------------------------------------------------------
// Session

#[derive(Debug, Clone)]
enum AuthScheme {
    Unknown,
    Anonymous,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

/// A registry token. `Debug` never shows it.
struct Token {
    header: HeaderValue,
    expires: Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("header", &"<redacted>")
            .finish()
    }
}

type TokenSlot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// An authenticated HTTP session with one registry: the HTTP client, the learned authentication
/// scheme, tokens per scope (memory only), the credential source and the [`CONCURRENCY`]
/// permits. Cheap to share (`&self` everywhere).
pub struct Session {
    endpoint: OciEndpoint,
    client: reqwest::Client,
    settings: HttpSettings,
    fetcher: Fetcher,
    credentials: Arc<dyn CredentialSource>,
    scheme: Mutex<AuthScheme>,
    tokens: Mutex<HashMap<String, TokenSlot>>,
    permits: tokio::sync::Semaphore,
    token_requests: AtomicUsize,
    /// HTTP exchanges sent (every call of `send_raw`: registry and token realm; retries and
    /// redirects of one exchange are not counted apart).
    requests: AtomicUsize,
    /// The credentials sent and every token received, for scrubbing error bodies.
    secrets: Mutex<Secrets>,
}

/// The token of a token service's answer (a JSON document): `token`, else `access_token` (the
/// OAuth2 name), the first that is a non-empty string; else what is wrong with the answer,
/// worded for the diagnostic.
fn token_of(doc: &serde_json::Value) -> std::result::Result<String, String> {
    let Some(obj) = doc.as_object() else {
        return Err("the token service answered JSON that is not an object".into());
    };
    let mut wrong = None;
    for key in ["token", "access_token"] {
        match obj.get(key) {
            Some(serde_json::Value::String(t)) if !t.is_empty() => return Ok(t.clone()),
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(_)) => {}
            Some(_) => wrong = wrong.or(Some(key)),
        }
    }
    Err(match wrong {
        Some(key) => format!("the token service answered a token (`{key}`) that is not a string"),
        None => "the token service answered without a token".into(),
    })
}

/// How long a token is used, from the token response's `expires_in` (seconds). A number (or a
/// numeric string) of at least one second counts, capped at [`MAX_TOKEN_TTL`]; anything else
/// (absent, zero, negative, not finite, another type) is the spec's default of 60 s. A safety
/// margin of a tenth (1 to 30 s) is taken off so that a token is not sent as it expires.
fn token_ttl(expires_in: Option<&serde_json::Value>) -> Duration {
    let secs = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s >= 1.0)
    // `as` saturates, and the cap keeps it far from any overflow.
    .map(|s| (s as u64).min(MAX_TOKEN_TTL))
    .unwrap_or(DEFAULT_TOKEN_TTL);
    let margin = (secs / 10).clamp(1, 30);
    Duration::from_secs(secs.saturating_sub(margin))
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session (no network traffic).
    pub fn new(
        endpoint: &OciEndpoint,
        tls: &TlsOptions,
        settings: &HttpSettings,
        credentials: Arc<dyn CredentialSource>,
    ) -> Result<Self> {
        let client = build_client(settings, tls)?;
        let base = Url::parse(&format!("{}/", endpoint.base_url()))
            .map_err(|e| invalid(&endpoint.base_url(), e.to_string()))?;
        let fetcher = Fetcher::new(client.clone(), settings.clone(), origin(&base));
        Ok(Session {
            endpoint: endpoint.clone(),
            client,
            settings: settings.clone(),
            fetcher,
            credentials,
            scheme: Mutex::new(AuthScheme::Unknown),
            tokens: Mutex::new(HashMap::new()),
            permits: tokio::sync::Semaphore::new(CONCURRENCY),
            token_requests: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            secrets: Mutex::new(Secrets::new()),
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// How many token requests this session sent to a token realm (tokens are cached per scope).
    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// How many HTTP exchanges this session sent (to the registry and its token realm), for
    /// request counts that need no server log.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// The URL of `path_and_query` (`/v2/…`) on the registry.
    pub fn url(&self, path_and_query: &str) -> Result<Url> {
        let s = format!("{}{}", self.endpoint.base_url(), path_and_query);
        Url::parse(&s).map_err(|e| invalid(&redact_url(&s), e.to_string()))
    }

    /// Scrub `c` from every error body from now on (the source's credentials are remembered
    /// when first asked; known ones can be given before any request).
    pub fn remember_credentials(&self, c: &Credentials) {
        lock(&self.secrets).add_credentials(c);
    }

    /// The Basic header of the source's credentials, if any; they are remembered as secrets to
    /// scrub from error bodies.
    async fn basic(&self, refresh: bool) -> Result<Option<HeaderValue>> {
        let Some(c) = self.credentials.credentials(refresh).await? else {
            return Ok(None);
        };
        self.remember_credentials(&c);
        Ok(Some(c.basic_header()))
    }

    /// Send one request and read the whole body (`limit` for successes; error bodies are cut
    /// short), retrying request and body together. Holds one of the [`CONCURRENCY`] permits
    /// meanwhile.
    async fn send_raw(
        &self,
        fetcher: &Fetcher,
        url: &Url,
        headers: &HeaderMap,
        auth: Option<&HeaderValue>,
        limit: u64,
    ) -> Result<Reply> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.requests.fetch_add(1, Ordering::Relaxed);
        // Request and body are one exchange: a body that breaks off is retried like a failed
        // request (error bodies are best effort and never retried).
        let timeout = self.settings.timeout;
        let reply = fetcher
            .fetch(Method::GET, url, headers, auth, |resp| async move {
                let status = resp.status();
                let resp_headers = resp.headers().clone();
                let body = if status.is_success() {
                    read_body_limited(url, resp, limit, timeout).await?
                } else {
                    read_body_limited(url, resp, ERROR_BODY_LIMIT, timeout)
                        .await
                        .unwrap_or_default()
                };
                Ok(Reply {
                    url: url.clone(),
                    status,
                    headers: resp_headers,
                    body,
                    excerpt: String::new(),
                    codes: Vec::new(),
                })
            })
            .await?;
        Ok(self.with_scrubbed_text(reply, auth))
    }

    /// Fill a non-success reply's excerpt and error codes, scrubbed of the credentials, every
    /// token held and the `Authorization` just sent.
    fn with_scrubbed_text(&self, mut reply: Reply, sent: Option<&HeaderValue>) -> Reply {
        if reply.status.is_success() {
            return reply;
        }
        let mut secrets = lock(&self.secrets).clone();
        if let Some(a) = sent {
            secrets.add_authorization(a.as_bytes());
        }
        reply.excerpt = secrets.excerpt(&reply.body, true);
        reply.codes = Reply::error_codes(&reply.body, &secrets);
        reply
    }

    /// The Authorization header for `scope` under the scheme learned so far, and whether it is a
    /// token fetched just now.
    async fn auth_header(
        &self,
        scope: Option<&str>,
        stale: Option<&HeaderValue>,
    ) -> Result<(Option<HeaderValue>, bool)> {
        let scheme = lock(&self.scheme).clone();
        match scheme {
            AuthScheme::Unknown | AuthScheme::Anonymous => Ok((None, false)),
            AuthScheme::Basic => Ok((self.basic(false).await?, false)),
            AuthScheme::Bearer { realm, service } => {
                let scopes: Vec<String> = scope.map(str::to_string).into_iter().collect();
                let (h, fresh) = self
                    .token(&realm, service.as_deref(), &scopes, stale)
                    .await?;
                Ok((Some(h), fresh))
            }
        }
    }

    /// A token for `scopes`, from the memory cache unless missing, expired or equal to `stale`.
    /// One request per scope at a time.
    async fn token(
        &self,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
        stale: Option<&HeaderValue>,
    ) -> Result<(HeaderValue, bool)> {
        let key = format!("{} {} {}", realm, service.unwrap_or(""), scopes.join(" "));
        let slot = lock(&self.tokens).entry(key).or_default().clone();
        let mut guard = slot.lock().await;
        if let Some(t) = guard.as_ref() {
            if t.expires > Instant::now() && stale != Some(&t.header) {
                return Ok((t.header.clone(), false));
            }
        }
        let t = self.fetch_token(realm, service, scopes).await?;
        let h = t.header.clone();
        *guard = Some(t);
        Ok((h, true))
    }

    /// Ask the token realm for a token, with the source's credentials (Basic) if any. When the
    /// realm refuses them, the source is asked to refresh them and the request is sent once more
    /// if they changed.
    async fn fetch_token(
        &self,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token> {
        let realm_shown = redact_url(realm.as_str());
        let mut auth = self.basic(false).await?;
        if auth.is_some() && realm.scheme() == "http" && self.endpoint.scheme == "https" {
            return Err(Error::Protocol {
                url: realm_shown,
                detail: "the registry's token realm uses plain HTTP: refusing to send the credentials there".into(),
            });
        }
        let mut u = realm.clone();
        {
            let mut q = u.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let fetcher = Fetcher::new(self.client.clone(), self.settings.clone(), origin(realm));
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut refreshed = false;
        let reply = loop {
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(realm = %realm_shown, ?scopes, anonymous = auth.is_none(), "requesting a registry token");
            let reply = self
                .send_raw(&fetcher, &u, &headers, auth.as_ref(), TOKEN_LIMIT)
                .await?;
            if !matches!(reply.status.as_u16(), 401 | 403) {
                break reply;
            }
            if auth.is_some() && !refreshed {
                refreshed = true;
                let again = self.basic(true).await?;
                if again.is_some() && again != auth {
                    tracing::debug!(realm = %realm_shown, "the token realm refused the credentials: retrying with renewed ones");
                    auth = again;
                    continue;
                }
            }
            return Err(Error::Unauthorized {
                url: realm_shown,
                status: reply.status.as_u16(),
            });
        };
        if !reply.status.is_success() {
            let mut e = reply.status_error();
            if let Error::HttpStatus { url, .. } | Error::NotFound { url } = &mut e {
                url.clone_from(&realm_shown);
            }
            return Err(e);
        }
        // `expires_in` is any JSON (see `token_ttl`); `issued_at` is not read: the lifetime
        // counts from the answer's arrival, on our clock. Read as a JSON value first, so that
        // valid JSON of the wrong shape is described as such (not as "invalid JSON" with the
        // deserializer's wording).
        let doc: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|e| Error::Protocol {
                url: realm_shown.clone(),
                detail: format!(
                    "the token service answered invalid JSON: {}",
                    json_error(&e)
                ),
            })?;
        let tok = token_of(&doc).map_err(|detail| Error::Protocol {
            url: realm_shown.clone(),
            detail,
        })?;
        let tr_expires_in = doc.get("expires_in").cloned();
        let mut header =
            HeaderValue::from_str(&format!("Bearer {tok}")).map_err(|_| Error::Protocol {
                url: realm_shown.clone(),
                detail: "the token service answered a token that is not a valid header value"
                    .into(),
            })?;
        header.set_sensitive(true);
        lock(&self.secrets).add_token(&tok);
        let now = Instant::now();
        Ok(Token {
            header,
            expires: now
                .checked_add(token_ttl(tr_expires_in.as_ref()))
                .unwrap_or(now),
        })
    }

    /// GET with authentication: sends what the learned scheme asks for, and on a 401 learns the
    /// challenge (Basic or Bearer), authenticates and retries once; Basic credentials refused are
    /// asked once more from the source (`refresh`), and sent again only if they changed. Returns
    /// the final reply whatever its status; token realm failures are errors.
    pub async fn get(
        &self,
        url: &Url,
        scope: Option<&str>,
        accept: Option<&str>,
        limit: u64,
    ) -> Result<Reply> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(
                ACCEPT,
                HeaderValue::from_str(a).expect("static accept header"),
            );
        }
        let (auth, fresh) = self.auth_header(scope, None).await?;
        let reply = self
            .send_raw(&self.fetcher, url, &headers, auth.as_ref(), limit)
            .await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        let challenges: Vec<Challenge> = reply
            .headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let (retry_auth, may_refresh) =
            if let Some(b) = challenges.iter().find(|c| c.scheme == "bearer") {
                let realm = b
                    .params
                    .get("realm")
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| {
                        reply.protocol("the registry asks for a Bearer token but names no realm")
                    })?;
                let realm = url
                    .join(realm)
                    .map_err(|e| reply.protocol(format!("invalid token realm: {e}")))?;
                let service = b.params.get("service").cloned();
                *lock(&self.scheme) = AuthScheme::Bearer {
                    realm: realm.clone(),
                    service: service.clone(),
                };
                let was_bearer = auth
                    .as_ref()
                    .is_some_and(|a| a.as_bytes().starts_with(b"Bearer "));
                if was_bearer && fresh {
                    // A token fetched just now was refused: the credentials lack that access.
                    return Ok(reply);
                }
                let mut scopes: Vec<String> = scope.map(str::to_string).into_iter().collect();
                if let Some(s) = b.params.get("scope").filter(|s| !s.is_empty()) {
                    if !scopes.contains(s) {
                        scopes.push(s.clone());
                    }
                }
                let stale = if was_bearer { auth.as_ref() } else { None };
                let (h, _) = self
                    .token(&realm, service.as_deref(), &scopes, stale)
                    .await?;
                (h, false)
            } else if challenges.iter().any(|c| c.scheme == "basic") {
                *lock(&self.scheme) = AuthScheme::Basic;
                let was_basic = auth
                    .as_ref()
                    .is_some_and(|a| a.as_bytes().starts_with(b"Basic "));
                // Credentials sent and refused: the source may renew them (a retry only if they
                // changed). Credentials sent for the first time may be renewed after the retry.
                match self.basic(was_basic).await? {
                    Some(h) if !was_basic || auth.as_ref() != Some(&h) => (h, !was_basic),
                    _ => return Ok(reply),
                }
            } else if let Some(c) = challenges.first() {
                return Err(reply.protocol(format!(
                    "unsupported authentication scheme {:?} (chartreg speaks Basic and Bearer)",
                    c.scheme
                )));
            } else {
                return Ok(reply);
            };
        let reply = self
            .send_raw(&self.fetcher, url, &headers, Some(&retry_auth), limit)
            .await?;
        if may_refresh && reply.status == StatusCode::UNAUTHORIZED {
            if let Some(h) = self.basic(true).await?.filter(|h| *h != retry_auth) {
                tracing::debug!("the registry refused the credentials: retrying with renewed ones");
                return self
                    .send_raw(&self.fetcher, url, &headers, Some(&h), limit)
                    .await;
            }
        }
        Ok(reply)
    }

    /// Validate reachability, TLS and credentials: `GET /v2/` following the registry's challenge
    /// (with Bearer, this gets a token without scope from the realm, which checks the
    /// credentials). Wrong credentials give [`Error::Unauthorized`].
    pub async fn ping(&self) -> Result<()> {
        let url = self.url("/v2/")?;
        let reply = self
            .get(&url, None, Some("application/json"), ERROR_BODY_LIMIT)
            .await?;
        if reply.status.is_success() {
            let mut s = lock(&self.scheme);
            if matches!(*s, AuthScheme::Unknown) {
                *s = AuthScheme::Anonymous;
            }
            return Ok(());
        }
        if reply.status == StatusCode::NOT_FOUND {
            return Err(reply.protocol("this is not an OCI registry: GET /v2/ answered HTTP 404"));
        }
        Err(reply.status_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::oci::parse_endpoint;
    use crate::registry::testserver::{response, serve, Request};

    /// Valid JSON of the wrong shape is described as such, never as "invalid JSON" with the
    /// deserializer's wording (found by `faults::create::oci_token::token_is_a_number`).
    #[test]
    fn token_answers_of_the_wrong_shape() {
        let of = |s: &str| token_of(&serde_json::from_str(s).unwrap());
        assert_eq!(of(r#"{"token":"t"}"#), Ok("t".to_string()));
        assert_eq!(
            of(r#"{"token":"","access_token":"a"}"#),
            Ok("a".to_string())
        );
        assert_eq!(
            of(r#"{"token":12345,"access_token":"a"}"#),
            Ok("a".to_string())
        );
        for (doc, says) in [
            (r#"{"token":12345}"#, "(`token`) that is not a string"),
            (
                r#"{"access_token":["x"]}"#,
                "(`access_token`) that is not a string",
            ),
            (r#"{"expires_in":300}"#, "without a token"),
            (r#"{"token":null}"#, "without a token"),
            (r#"["t"]"#, "JSON that is not an object"),
            ("\"t\"", "JSON that is not an object"),
        ] {
            let e = of(doc).unwrap_err();
            assert!(e.contains(says), "{doc}: {e}");
            assert!(!e.contains("invalid type"), "{doc}: {e}");
        }
    }

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.example/token");
        assert_eq!(c[0].params["service"], "registry.example");
        assert_eq!(c[0].params["scope"], "repository:a/b:pull,push");
        assert_eq!(c[0].params["error"], "insufficient_scope");

        let c = parse_challenges(r#"Basic realm="Registry Realm""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].params["realm"], "Registry Realm");

        let c = parse_challenges(r#"Basic realm="a, \"b\"", Bearer realm=https://t/x , service=s"#);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].params["realm"], r#"a, "b""#);
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].params["realm"], "https://t/x");
        assert_eq!(c[1].params["service"], "s");

        let c = parse_challenges("Negotiate abc==, Basic realm=x");
        assert_eq!(
            c.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(),
            ["negotiate", "basic"]
        );
        assert!(parse_challenges("").is_empty());
    }

    /// A source that answers `old` until it is asked to refresh, then `new`.
    #[derive(Debug, Default)]
    struct Rotating {
        refreshed: std::sync::atomic::AtomicBool,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl CredentialSource for Rotating {
        async fn credentials(&self, refresh: bool) -> Result<Option<Credentials>> {
            self.asked.fetch_add(1, Ordering::Relaxed);
            if refresh {
                self.refreshed.store(true, Ordering::Relaxed);
            }
            let password = if self.refreshed.load(Ordering::Relaxed) {
                "new"
            } else {
                "old"
            };
            Ok(Some(Credentials {
                username: "u".into(),
                password: password.into(),
            }))
        }
    }

    /// The value of the request's Authorization header, as sent.
    fn authorization(r: &Request) -> Option<String> {
        r.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .map(|l| l["authorization:".len()..].trim().to_string())
    }

    fn session(host: &str, source: Arc<dyn CredentialSource>) -> Session {
        let endpoint = parse_endpoint(&format!("http://{host}")).unwrap();
        Session::new(
            &endpoint,
            &TlsOptions::default(),
            &HttpSettings::default(),
            source,
        )
        .unwrap()
    }

    #[test]
    fn token_lifetimes_from_remote_numbers_are_bounded() {
        let ttl =
            |raw: &str| token_ttl(serde_json::from_str::<serde_json::Value>(raw).ok().as_ref());
        let default = Duration::from_secs(DEFAULT_TOKEN_TTL - 6);
        let max = Duration::from_secs(MAX_TOKEN_TTL - 30);
        assert_eq!(ttl("300"), Duration::from_secs(270));
        assert_eq!(ttl("\"300\""), Duration::from_secs(270));
        assert_eq!(ttl("1"), Duration::ZERO);
        for huge in [
            "10000000000000000000",
            "18446744073709551615",
            "1e300",
            "1e30",
        ] {
            assert_eq!(ttl(huge), max, "{huge}");
        }
        for bad in [
            "0",
            "-5",
            "-1e300",
            "0.5",
            "\"forever\"",
            "\"NaN\"",
            "\"inf\"",
            "\"1e400\"",
            "null",
            "[]",
            "{}",
            "true",
        ] {
            assert_eq!(ttl(bad), default, "{bad}");
        }
        assert_eq!(token_ttl(None), default);
        // The real sum never overflows, whatever the clock reads.
        assert!(Instant::now().checked_add(max).is_some());
    }

    #[tokio::test]
    async fn a_body_cut_short_is_retried_with_its_request() {
        let n = Arc::new(AtomicUsize::new(0));
        let count = n.clone();
        let srv = serve(Arc::new(move |_: &Request| {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{".to_vec()
            } else {
                response("200 OK", &[], b"{}")
            }
        }))
        .await;
        let s = session(&srv.addr, Arc::new(StaticCredentials(None)));
        s.ping().await.unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn credentials_are_asked_again_after_a_401() {
        let new = Credentials {
            username: "u".into(),
            password: "new".into(),
        };
        let good = new.basic_header().to_str().unwrap().to_string();
        // Basic: the registry accepts only the renewed password.
        let accept = good.clone();
        let basic = serve(Arc::new(move |r: &Request| {
            if authorization(r).as_deref() == Some(accept.as_str()) {
                response("200 OK", &[], b"{}")
            } else {
                response("401 X", &[("WWW-Authenticate", r#"Basic realm="r""#)], b"")
            }
        }))
        .await;
        let source = Arc::new(Rotating::default());
        session(&basic.addr, source.clone()).ping().await.unwrap();
        let auths: Vec<_> = basic.seen().iter().map(authorization).collect();
        assert_eq!(auths.len(), 3, "challenge, old password, new password");
        assert_eq!(auths[2].as_deref(), Some(good.as_str()));

        // A static source that is refused is not retried: one challenge, one refusal.
        let stale = StaticCredentials(Some(Credentials {
            username: "u".into(),
            password: "old".into(),
        }));
        let before = basic.seen().len();
        let e = session(&basic.addr, Arc::new(stale))
            .ping()
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Unauthorized { status: 401, .. }),
            "{e:?}"
        );
        assert_eq!(basic.seen().len() - before, 2);

        // Bearer: the token realm refuses the old password, accepts the new one.
        let accept = good.clone();
        let realm = serve(Arc::new(move |r: &Request| {
            if authorization(r).as_deref() == Some(accept.as_str()) {
                response("200 OK", &[], br#"{"token":"tok","expires_in":300}"#)
            } else {
                response("401 X", &[], b"")
            }
        }))
        .await;
        let challenge = format!(r#"Bearer realm="{}/token",service="s""#, realm.base);
        let bearer = serve(Arc::new(move |r: &Request| {
            if authorization(r).as_deref() == Some("Bearer tok") {
                response("200 OK", &[], b"{}")
            } else {
                response("401 X", &[("WWW-Authenticate", challenge.as_str())], b"")
            }
        }))
        .await;
        let s = session(&bearer.addr, Arc::new(Rotating::default()));
        s.ping().await.unwrap();
        assert_eq!(s.token_requests(), 2, "refused once, then renewed");
        assert_eq!(realm.seen().len(), 2);
        assert!(realm.seen()[0].target.starts_with("/token?service=s"));
    }
}
