//! OCI registry client (distribution spec): `/v2/` challenge (Basic or Bearer token), catalog and
//! tag listing with `Link` pagination, Helm chart manifests and config blobs.
//!
//! Nothing here knows about Terraform. The pieces:
//! - [`parse_endpoint`]: pure parsing of `host[:port][/path]` (with `https://`, `oci://` or
//!   `http://`), usable at plan time.
//! - [`OciClient`]: one client per configured registry. [`OciClient::ping`] validates
//!   reachability, TLS and credentials; [`OciClient::sync`] builds the chart [`Catalog`], reusing
//!   unchanged repositories of the previous catalog; [`OciClient::chart_versions`] lists the
//!   semver tags of one repository.
//! - [`catalog_digest`]: a stable sha256 over a catalog.
//!
//! Secrets: the password and registry tokens only ever travel in `Authorization` headers marked
//! sensitive; they are never logged, never put into errors and never persisted (tokens live in
//! memory, per scope, until they expire — at most `MAX_TOKEN_TTL`, whatever `expires_in` says).
//! Credentials go to the registry's origin and to the token realm only; redirects to another
//! origin (blob storage) drop them (see [`Fetcher::send`]). Error bodies, from the registry and
//! from the token realm alike, are shown only as an excerpt scrubbed of the credentials and of
//! every token held ([`Secrets`]); JSON parser messages lose the values they quote.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, LINK, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::error::{redact_url, Error, Result};
use crate::registry::cache::Cache;
use crate::registry::catalog::{Catalog, ChartSummary, SemVer, VersionMeta};
use crate::registry::http::{
    build_client, origin, read_body_limited, Credentials, Fetcher, HttpSettings, TlsOptions,
};
use crate::registry::scrub::{json_error, Secrets};

/// Config media type that marks an OCI artifact as a Helm chart.
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Maximum number of registry requests in flight per client.
pub const CONCURRENCY: usize = 8;
/// Page size asked for `_catalog` and `tags/list` (`?n=`). Registries may answer shorter pages:
/// only the absence of a `Link: <…>; rel="next"` header ends a listing.
pub const PAGE_SIZE: u32 = 100;
/// Kind of the on-disk [`Cache`] entries holding config blobs.
pub const BLOB_CACHE_KIND: &str = "blobs";

const MAX_PAGES: usize = 100_000;
const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;
const CONFIG_BLOB_LIMIT: u64 = 4 * 1024 * 1024;
const TOKEN_LIMIT: u64 = 1024 * 1024;
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// Token lifetime when the token service gives none (or nonsense), as the distribution spec says.
const DEFAULT_TOKEN_TTL: u64 = 60;
/// Longest a token is kept, whatever the token service says: a remote number never reaches
/// clock arithmetic unbounded, and a stale token is refetched on its first 401 anyway.
const MAX_TOKEN_TTL: u64 = 3600;
const CATALOG_SCOPE: &str = "registry:catalog:*";

// ------------------------------------------------------------------------------------------------
// Endpoint

/// A parsed `chartreg_oci_registry` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciEndpoint {
    /// `http` or `https` (`oci://` and no scheme mean `https`).
    pub scheme: String,
    /// `host[:port]`, lower-case, default port omitted, IPv6 in brackets.
    pub host: String,
    /// Repository prefix (or repository) under which charts are looked up; no leading or trailing
    /// slash, empty for the whole registry.
    pub path: String,
}

impl OciEndpoint {
    /// `scheme://host[:port]`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The registry as named in errors: `host[:port][/path]`.
    pub fn display(&self) -> String {
        if self.path.is_empty() {
            self.host.clone()
        } else {
            format!("{}/{}", self.host, self.path)
        }
    }

    /// The repository path in the registry of a path relative to the endpoint path (a base path).
    pub fn repository_path(&self, relative: &str) -> String {
        let relative = relative.trim_matches('/');
        match (self.path.is_empty(), relative.is_empty()) {
            (true, _) => relative.to_string(),
            (false, true) => self.path.clone(),
            (false, false) => format!("{}/{}", self.path, relative),
        }
    }

    /// The catalog key of a repository: its path relative to the endpoint path. A repository that
    /// *is* the endpoint path is keyed by its last path segment (`host/charts/mychart` →
    /// `mychart`), as the relative path would be empty. [`SyncReport::repositories`] maps keys
    /// back to repository paths.
    pub fn catalog_key(&self, repository: &str) -> String {
        if self.path.is_empty() {
            return repository.to_string();
        }
        if repository == self.path {
            return repository
                .rsplit('/')
                .next()
                .unwrap_or(repository)
                .to_string();
        }
        repository
            .strip_prefix(self.path.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(repository)
            .to_string()
    }
}

fn invalid(url: &str, reason: impl Into<String>) -> Error {
    Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// Parse `host[:port][/path]`, optionally prefixed by `https://` (the default), `oci://` (same as
/// https) or `http://` (plain HTTP). Pure: fit for plan-time validation. Errors are
/// [`Error::InvalidUrl`] with a message that says what to write instead. No message quotes the
/// endpoint before it is known to hold neither userinfo nor a query string (a password or a
/// token): `@`, `?` and `#` are refused first, and none of them is valid in an OCI endpoint.
pub fn parse_endpoint(s: &str) -> Result<OciEndpoint> {
    let raw = s.trim();
    if raw.is_empty() {
        return Err(invalid(
            "",
            "the endpoint is empty; expected host[:port][/path]",
        ));
    }
    if raw.contains('@') {
        return Err(invalid(
            &redact_url(raw),
            "credentials do not belong in the endpoint: set username and password instead",
        ));
    }
    if raw.contains(['?', '#']) {
        return Err(invalid(
            &redact_url(raw),
            "an OCI endpoint has no query string or fragment: write host[:port][/path]",
        ));
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((sch, rest)) => match sch.to_ascii_lowercase().as_str() {
            "https" | "oci" => ("https", rest),
            "http" => ("http", rest),
            other => {
                // Quote it only if it is a scheme, not a mistyped `user:password://…`.
                let is_scheme = other.starts_with(|c: char| c.is_ascii_alphabetic())
                    && other
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                let (url, named) = if is_scheme {
                    (raw, format!("unsupported scheme {other:?}"))
                } else {
                    (rest, "unsupported scheme".to_string())
                };
                return Err(invalid(
                    url,
                    format!("{named}: write host[:port][/path], optionally prefixed by oci://, https:// or http:// (plain HTTP)"),
                ));
            }
        },
        None => ("https", raw),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let shown = format!("{scheme}://{authority}/{path}");
    if raw.chars().any(char::is_control) {
        return Err(invalid(
            &shown,
            "the endpoint contains a tab, newline or other control character",
        ));
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(invalid(&shown, "the endpoint contains white space"));
    }
    if authority.is_empty() {
        return Err(invalid(
            &shown,
            "the endpoint has no host: expected host[:port][/path]",
        ));
    }
    let u = Url::parse(&format!("{scheme}://{authority}/"))
        .map_err(|e| invalid(&shown, format!("invalid host or port: {e}")))?;
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid(&shown, "the endpoint has no host"))?;
    if u.port() == Some(0) {
        return Err(invalid(
            &shown,
            "port 0 is not a port a registry can listen on (use 1 to 65535, or omit it)",
        ));
    }
    let host = match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let path = path.trim_matches('/');
    if let Err(reason) = validate_repository_path(path) {
        return Err(invalid(
            &shown,
            format!("invalid repository path {path:?}: {reason}"),
        ));
    }
    Ok(OciEndpoint {
        scheme: scheme.to_string(),
        host,
        path: path.to_string(),
    })
}

/// One path component of an OCI repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Check a repository path (or prefix) against the distribution spec's name grammar. The empty
/// path (the whole registry) is valid.
pub fn validate_repository_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    if path.len() > 255 {
        return Err("repository names are at most 255 characters".into());
    }
    for c in path.split('/') {
        if c.is_empty() {
            return Err("empty path segment (double slash)".into());
        }
        if !valid_component(c) {
            return Err(format!(
                "segment {c:?} is not a valid OCI repository name component (lower-case letters and digits, separated by '.', '_', '__' or dashes)"
            ));
        }
    }
    Ok(())
}

/// A base path as the resource takes it, normalised: surrounding white space and slashes
/// trimmed, then checked with [`validate_repository_path`].
pub fn normalize_base_path(p: &str) -> std::result::Result<String, String> {
    let p = p.trim().trim_matches('/');
    validate_repository_path(p)?;
    Ok(p.to_string())
}

// ------------------------------------------------------------------------------------------------
// Pure helpers: challenges, Link headers, tags

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
fn read_param_value(s: &[char], i: &mut usize, stop: impl Fn(char) -> bool) -> String {
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

/// The target of the `rel="next"` link of a `Link` header value, as written (maybe relative).
pub fn parse_next_link(header: &str) -> Option<String> {
    let s: Vec<char> = header.chars().collect();
    let mut i = 0;
    while i < s.len() {
        while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
            i += 1;
        }
        if i >= s.len() || s[i] != '<' {
            return None;
        }
        let start = i + 1;
        while i < s.len() && s[i] != '>' {
            i += 1;
        }
        let target: String = s[start..i.min(s.len())].iter().collect();
        i += 1;
        let mut next = false;
        // parameters: `; name=value` or `; name="quoted, value"`, until a `,` or the end
        loop {
            while i < s.len() && s[i].is_whitespace() {
                i += 1;
            }
            if i >= s.len() || s[i] != ';' {
                break;
            }
            i += 1;
            let ns = i;
            while i < s.len() && !matches!(s[i], '=' | ';' | ',') {
                i += 1;
            }
            let name: String = s[ns..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_ascii_lowercase();
            let mut value = String::new();
            if i < s.len() && s[i] == '=' {
                i += 1;
                while i < s.len() && s[i].is_whitespace() {
                    i += 1;
                }
                value = read_param_value(&s, &mut i, |c| matches!(c, ';' | ','));
            }
            if name == "rel"
                && value
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            {
                next = true;
            }
        }
        if next {
            return Some(target.trim().to_string());
        }
    }
    None
}

/// A tag as a chart version: Helm pushes `+` (build metadata) as `_`, which tags cannot hold.
pub fn tag_to_version(tag: &str) -> String {
    tag.replace('_', "+")
}

/// A chart version as a tag.
pub fn version_to_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The chart versions of a tag list: tags mapped with [`tag_to_version`], kept when they parse as
/// semver, deduplicated; pairs of (tag, version).
fn semver_tags(tags: &[String]) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    tags.iter()
        .filter_map(|t| {
            let v = tag_to_version(t);
            (SemVer::parse(&v).is_some() && seen.insert(v.clone())).then(|| (t.clone(), v))
        })
        .collect()
}

/// sha256 (lower-case hex) over a canonical serialization of the catalog: a JSON array, one
/// `[key, name, latest_version, app_version, description, deprecated, [versions…]]` per chart in
/// key order. Equal catalogs give equal digests, whatever built them.
pub fn catalog_digest(catalog: &Catalog) -> String {
    use sha2::Digest as _;
    let rows: Vec<_> = catalog
        .charts
        .iter()
        .map(|(k, c)| {
            (
                k,
                &c.name,
                &c.latest_version,
                &c.app_version,
                &c.description,
                c.deprecated,
                &c.versions,
            )
        })
        .collect();
    let bytes = serde_json::to_vec(&rows).expect("strings and bools serialize");
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// Check `bytes` against an OCI digest (`sha256:<hex>` or `sha512:<hex>`).
fn digest_matches(digest: &str, bytes: &[u8]) -> bool {
    use sha2::Digest as _;
    match digest.split_once(':') {
        Some(("sha256", h)) => hex::encode(sha2::Sha256::digest(bytes)) == h,
        Some(("sha512", h)) => hex::encode(sha2::Sha512::digest(bytes)) == h,
        _ => false,
    }
}

fn valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some(("sha256", h)) => {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Some(("sha512", h)) => {
            h.len() == 128
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    }
}

// ------------------------------------------------------------------------------------------------
// Client

/// A configured OCI registry.
#[derive(Debug, Clone)]
pub struct OciRegistry {
    pub endpoint: OciEndpoint,
    pub credentials: Option<Credentials>,
    pub tls: TlsOptions,
}

/// What [`OciClient::sync`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Charts keyed by repository path relative to the endpoint path ([`OciEndpoint::catalog_key`]).
    pub catalog: Catalog,
    /// Catalog key → repository path in the registry (for pulling / [`OciClient::chart_versions`]).
    pub repositories: BTreeMap<String, String>,
    /// Repositories whose tags were listed.
    pub repositories_listed: usize,
    /// Manifests downloaded.
    pub manifests_fetched: usize,
    /// Config blobs downloaded (not served by the memory or disk cache).
    pub blobs_fetched: usize,
    /// Charts taken unchanged from the previous catalog (same set of semver tags).
    pub reused: usize,
    /// Repositories found under a prefix in the catalog but not readable (`repo: reason`); they
    /// are left out of the catalog.
    pub skipped: Vec<String>,
}

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

/// The metadata of a chart config blob that the catalog keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ChartConfig {
    name: String,
    app_version: String,
    description: String,
    deprecated: bool,
}

/// A response read in full.
struct Reply {
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// For a non-success status: the start of the body scrubbed of every secret the client
    /// holds (see [`Secrets::excerpt`]); the only server text an error may show.
    excerpt: String,
    /// For a non-success status: its OCI error codes, see [`Reply::error_codes`].
    codes: Vec<String>,
}

impl Reply {
    /// OCI error codes of an error body (`{"errors":[{"code":…}]}`); messages are not kept, nor
    /// a code that is one of `secrets` (an alphanumeric password echoed as a "code").
    fn error_codes(body: &[u8], secrets: &Secrets) -> Vec<String> {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("errors")?.as_array().map(|a| {
                    a.iter()
                        .filter_map(|e| e.get("code")?.as_str())
                        .filter(|c| {
                            c.len() < 64
                                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                                && !secrets.reveals(c)
                        })
                        .map(str::to_string)
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    fn status_error(&self) -> Error {
        let url = redact_url(self.url.as_str());
        match self.status.as_u16() {
            401 | 403 => Error::Unauthorized {
                url,
                status: self.status.as_u16(),
            },
            404 => Error::NotFound { url },
            s => Error::HttpStatus {
                url,
                status: s,
                body: self.excerpt.clone(),
            },
        }
    }

    fn protocol(&self, detail: impl Into<String>) -> Error {
        Error::Protocol {
            url: redact_url(self.url.as_str()),
            detail: detail.into(),
        }
    }
}

#[derive(Default)]
struct Stats {
    listed: AtomicUsize,
    manifests: AtomicUsize,
    blobs: AtomicUsize,
    reused: AtomicUsize,
}

enum TagsOutcome {
    Tags(Vec<String>),
    NotFound,
    Denied(u16),
}

enum CatalogOutcome {
    Listed(Vec<String>),
    Refused(String),
}

enum RepoOutcome {
    Chart(ChartSummary),
    NoChart,
    Skipped(String),
}

/// A client for one OCI registry. Cheap to share (`&self` everywhere); holds the HTTP client,
/// the learned authentication scheme, tokens per scope (memory only) and config blobs by digest.
pub struct OciClient {
    endpoint: OciEndpoint,
    credentials: Option<Credentials>,
    client: reqwest::Client,
    settings: HttpSettings,
    fetcher: Fetcher,
    scheme: Mutex<AuthScheme>,
    tokens: Mutex<HashMap<String, TokenSlot>>,
    blobs: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<ChartConfig>>>>,
    cache: Option<Cache>,
    permits: tokio::sync::Semaphore,
    token_requests: AtomicUsize,
    /// The credentials and every token received, for scrubbing error bodies.
    secrets: Mutex<Secrets>,
}

impl std::fmt::Debug for OciClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciClient")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

fn repo_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

impl OciClient {
    /// Build a client (no network traffic). `cache` stores config blobs by digest (kind
    /// [`BLOB_CACHE_KIND`]).
    pub fn new(reg: &OciRegistry, settings: &HttpSettings, cache: Option<Cache>) -> Result<Self> {
        let client = build_client(settings, &reg.tls)?;
        let base = Url::parse(&format!("{}/", reg.endpoint.base_url()))
            .map_err(|e| invalid(&reg.endpoint.base_url(), e.to_string()))?;
        let fetcher = Fetcher::new(client.clone(), settings.clone(), origin(&base));
        let mut secrets = Secrets::new();
        if let Some(c) = &reg.credentials {
            secrets.add_credentials(c);
        }
        Ok(OciClient {
            endpoint: reg.endpoint.clone(),
            credentials: reg.credentials.clone(),
            client,
            settings: settings.clone(),
            fetcher,
            scheme: Mutex::new(AuthScheme::Unknown),
            tokens: Mutex::new(HashMap::new()),
            blobs: Mutex::new(HashMap::new()),
            cache,
            permits: tokio::sync::Semaphore::new(CONCURRENCY),
            token_requests: AtomicUsize::new(0),
            secrets: Mutex::new(secrets),
        })
    }

    pub fn endpoint(&self) -> &OciEndpoint {
        &self.endpoint
    }

    /// How many token requests this client sent to a token realm (tokens are cached per scope).
    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::Relaxed)
    }

    fn url(&self, path_and_query: &str) -> Result<Url> {
        let s = format!("{}{}", self.endpoint.base_url(), path_and_query);
        Url::parse(&s).map_err(|e| invalid(&redact_url(&s), e.to_string()))
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
            AuthScheme::Basic => Ok((
                self.credentials.as_ref().map(Credentials::basic_header),
                false,
            )),
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

    async fn fetch_token(
        &self,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token> {
        let realm_shown = redact_url(realm.as_str());
        if self.credentials.is_some() && realm.scheme() == "http" && self.endpoint.scheme == "https"
        {
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
        let auth = self.credentials.as_ref().map(Credentials::basic_header);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(realm = %realm_shown, ?scopes, anonymous = auth.is_none(), "requesting a registry token");
        let reply = self
            .send_raw(&fetcher, &u, &headers, auth.as_ref(), TOKEN_LIMIT)
            .await?;
        if matches!(reply.status.as_u16(), 401 | 403) {
            return Err(Error::Unauthorized {
                url: realm_shown,
                status: reply.status.as_u16(),
            });
        }
        if !reply.status.is_success() {
            let mut e = reply.status_error();
            if let Error::HttpStatus { url, .. } | Error::NotFound { url } = &mut e {
                url.clone_from(&realm_shown);
            }
            return Err(e);
        }
        // `expires_in` is any JSON (see `token_ttl`); `issued_at` is not read: the lifetime
        // counts from the answer's arrival, on our clock.
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<serde_json::Value>,
        }
        let tr: TokenResponse =
            serde_json::from_slice(&reply.body).map_err(|e| Error::Protocol {
                url: realm_shown.clone(),
                detail: format!(
                    "the token service answered invalid JSON: {}",
                    json_error(&e)
                ),
            })?;
        let tok = tr
            .token
            .filter(|t| !t.is_empty())
            .or(tr.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| Error::Protocol {
                url: realm_shown.clone(),
                detail: "the token service answered without a token".into(),
            })?;
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
                .checked_add(token_ttl(tr.expires_in.as_ref()))
                .unwrap_or(now),
        })
    }

    /// GET with authentication: sends what the learned scheme asks for, and on a 401 learns the
    /// challenge (Basic or Bearer), authenticates and retries once. Returns the final reply
    /// whatever its status; token realm failures are errors.
    async fn get(
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
        let retry_auth = if let Some(b) = challenges.iter().find(|c| c.scheme == "bearer") {
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
            h
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            *lock(&self.scheme) = AuthScheme::Basic;
            let was_basic = auth
                .as_ref()
                .is_some_and(|a| a.as_bytes().starts_with(b"Basic "));
            match &self.credentials {
                Some(c) if !was_basic => c.basic_header(),
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
        self.send_raw(&self.fetcher, url, &headers, Some(&retry_auth), limit)
            .await
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

    /// Follow a paginated listing (`_catalog` or `tags/list`) to its end. `Err(reply)` carries
    /// the first non-success answer.
    async fn list_paginated(
        &self,
        first: Url,
        scope: &str,
        field: &str,
    ) -> Result<std::result::Result<Vec<String>, Reply>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(first);
        while let Some(u) = next.take() {
            if !seen.insert(u.to_string()) || seen.len() > MAX_PAGES {
                return Err(Error::Protocol {
                    url: redact_url(u.as_str()),
                    detail: "the registry's pagination (Link header) loops".into(),
                });
            }
            let reply = self
                .get(
                    &u,
                    Some(scope),
                    Some("application/json"),
                    self.settings.max_index_size,
                )
                .await?;
            if !reply.status.is_success() {
                return Ok(Err(reply));
            }
            let v: serde_json::Value = serde_json::from_slice(&reply.body)
                .map_err(|e| reply.protocol(format!("invalid JSON listing: {}", json_error(&e))))?;
            match v.get(field) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Array(a)) => {
                    for x in a {
                        let s = x.as_str().ok_or_else(|| {
                            reply.protocol(format!("`{field}` holds a non-string"))
                        })?;
                        out.push(s.to_string());
                    }
                }
                Some(_) => return Err(reply.protocol(format!("`{field}` is not a list"))),
            }
            let link = reply
                .headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(parse_next_link);
            if let Some(l) = link {
                let n = u
                    .join(&l)
                    .map_err(|e| reply.protocol(format!("invalid Link header: {e}")))?;
                tracing::debug!(next = %redact_url(n.as_str()), "following pagination");
                next = Some(n);
            }
        }
        Ok(Ok(out))
    }

    async fn list_tags(&self, repo: &str) -> Result<(TagsOutcome, Url)> {
        let url = self.url(&format!("/v2/{repo}/tags/list?n={PAGE_SIZE}"))?;
        let outcome = match self
            .list_paginated(url.clone(), &repo_scope(repo), "tags")
            .await?
        {
            Ok(tags) => TagsOutcome::Tags(tags),
            Err(r) if r.status == StatusCode::NOT_FOUND => TagsOutcome::NotFound,
            Err(r) if matches!(r.status.as_u16(), 401 | 403) => {
                TagsOutcome::Denied(r.status.as_u16())
            }
            Err(r) => return Err(r.status_error()),
        };
        Ok((outcome, url))
    }

    async fn list_catalog(&self) -> Result<CatalogOutcome> {
        let url = self.url(&format!("/v2/_catalog?n={PAGE_SIZE}"))?;
        match self
            .list_paginated(url, CATALOG_SCOPE, "repositories")
            .await?
        {
            Ok(names) => Ok(CatalogOutcome::Listed(names)),
            Err(r) if r.status.is_client_error() || r.status == StatusCode::NOT_IMPLEMENTED => {
                let codes = if r.codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.codes.join(", "))
                };
                Ok(CatalogOutcome::Refused(format!(
                    "GET /v2/_catalog answered HTTP {}{codes}",
                    r.status.as_u16()
                )))
            }
            Err(r) => Err(r.status_error()),
        }
    }

    /// The chart versions of repository `repo` (a path in the registry, e.g. from
    /// [`SyncReport::repositories`]): its tags mapped `_`→`+`, semver only, newest first. Cheap
    /// (tag listing only): manifests are not checked, so a semver-tagged non-chart image is
    /// included; cross-check with the catalog when that matters.
    pub async fn chart_versions(&self, repo: &str) -> Result<Vec<String>> {
        let repo = normalize_base_path(repo).map_err(|r| invalid(repo, r))?;
        let (outcome, url) = self.list_tags(&repo).await?;
        let tags = match outcome {
            TagsOutcome::Tags(t) => t,
            TagsOutcome::NotFound => {
                return Err(Error::NotFound {
                    url: redact_url(url.as_str()),
                })
            }
            TagsOutcome::Denied(status) => {
                return Err(Error::Unauthorized {
                    url: redact_url(url.as_str()),
                    status,
                })
            }
        };
        let mut versions: Vec<String> = semver_tags(&tags).into_iter().map(|(_, v)| v).collect();
        crate::registry::catalog::sort_versions_desc(&mut versions, |v| v);
        Ok(versions)
    }

    /// The config of a Helm chart blob: memory map, then disk cache (checked against the
    /// digest), then the registry. A digest is downloaded at most once per client.
    async fn config_blob(&self, repo: &str, digest: &str, stats: &Stats) -> Result<ChartConfig> {
        let cell = lock(&self.blobs)
            .entry(digest.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            if let Some(bytes) = self
                .cache
                .as_ref()
                .and_then(|c| c.get(BLOB_CACHE_KIND, digest))
            {
                if digest_matches(digest, &bytes) {
                    if let Ok(cfg) = parse_config(&bytes) {
                        return Ok(cfg);
                    }
                }
                tracing::debug!(digest, "ignoring a corrupt cached blob");
            }
            let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
            stats.blobs.fetch_add(1, Ordering::Relaxed);
            let reply = self
                .get(&url, Some(&repo_scope(repo)), None, CONFIG_BLOB_LIMIT)
                .await?;
            if !reply.status.is_success() {
                return Err(reply.status_error());
            }
            if !digest_matches(digest, &reply.body) {
                return Err(reply.protocol(format!("the blob does not match its digest {digest}")));
            }
            let cfg = parse_config(&reply.body)
                .map_err(|e| reply.protocol(format!("invalid Helm chart config: {e}")))?;
            if let Some(c) = &self.cache {
                if let Err(e) = c.put(BLOB_CACHE_KIND, digest, &reply.body) {
                    tracing::debug!(error = %e, "cannot cache a config blob");
                }
            }
            Ok(cfg)
        })
        .await
        .cloned()
    }

    /// One tag: its manifest, and when it is a Helm chart its config. `None` for anything else.
    async fn chart_version(
        &self,
        repo: &str,
        tag: &str,
        version: &str,
        stats: &Stats,
    ) -> Result<Option<(VersionMeta, String)>> {
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"))?;
        stats.manifests.fetch_add(1, Ordering::Relaxed);
        let accept = format!("{OCI_MANIFEST_MEDIA_TYPE}, {DOCKER_MANIFEST_MEDIA_TYPE}");
        let reply = self
            .get(&url, Some(&repo_scope(repo)), Some(&accept), MANIFEST_LIMIT)
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            tracing::debug!(repo, tag, "tag vanished while listing");
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(reply.status_error());
        }
        let m: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| reply.protocol(format!("invalid manifest JSON: {}", json_error(&e))))?;
        let config = m.get("config");
        let media_type = config
            .and_then(|c| c.get("mediaType"))
            .and_then(|v| v.as_str());
        if media_type != Some(HELM_CONFIG_MEDIA_TYPE) {
            tracing::debug!(repo, tag, media_type, "not a Helm chart");
            return Ok(None);
        }
        let digest = config
            .and_then(|c| c.get("digest"))
            .and_then(|v| v.as_str())
            .filter(|d| valid_digest(d))
            .ok_or_else(|| reply.protocol("the manifest's config has no valid digest"))?;
        let cfg = self.config_blob(repo, digest, stats).await?;
        Ok(Some((
            VersionMeta {
                version: version.to_string(),
                app_version: cfg.app_version,
                description: cfg.description,
                deprecated: cfg.deprecated,
            },
            cfg.name,
        )))
    }

    /// One repository: reuse the previous summary when its semver tags are unchanged, else read
    /// every semver tag's manifest.
    async fn sync_repo(
        &self,
        repo: &str,
        known_tags: Option<Vec<String>>,
        previous: Option<&ChartSummary>,
        stats: &Stats,
    ) -> Result<RepoOutcome> {
        let tags = match known_tags {
            Some(t) => t,
            None => {
                stats.listed.fetch_add(1, Ordering::Relaxed);
                match self.list_tags(repo).await?.0 {
                    TagsOutcome::Tags(t) => t,
                    TagsOutcome::NotFound => {
                        return Ok(RepoOutcome::Skipped(format!(
                            "{repo}: tags/list answered HTTP 404"
                        )))
                    }
                    TagsOutcome::Denied(s) => {
                        return Ok(RepoOutcome::Skipped(format!(
                            "{repo}: tags/list answered HTTP {s}"
                        )))
                    }
                }
            }
        };
        let versions = semver_tags(&tags);
        if versions.is_empty() {
            return Ok(RepoOutcome::NoChart);
        }
        // Versions known from the previous catalog are trusted to still be Helm charts; only
        // tags that are new since then (or every tag, when a version disappeared) are read.
        let mut carried: Vec<(VersionMeta, String)> = Vec::new();
        let mut to_fetch: Vec<&(String, String)> = versions.iter().collect();
        if let Some(prev) = previous {
            let now: BTreeSet<&str> = versions.iter().map(|(_, v)| v.as_str()).collect();
            let before: BTreeSet<&str> = prev.versions.iter().map(String::as_str).collect();
            if !before.is_empty() && before.is_subset(&now) {
                to_fetch.retain(|(_, v)| !before.contains(v.as_str()));
                carried = prev
                    .versions
                    .iter()
                    .map(|v| {
                        let mut m = VersionMeta {
                            version: v.clone(),
                            ..Default::default()
                        };
                        // Only the latest version's metadata shows in a summary; with versions
                        // only added, the latest is the previous one or a new one.
                        if *v == prev.latest_version {
                            m.app_version.clone_from(&prev.app_version);
                            m.description.clone_from(&prev.description);
                            m.deprecated = prev.deprecated;
                        }
                        (m, prev.name.clone())
                    })
                    .collect();
            }
        }
        // Futures are built in a plain iterator first: closures inside stream combinators
        // defeat the compiler's proof that this future is `Send` (needed by the provider).
        let fetches: Vec<_> = to_fetch
            .into_iter()
            .map(|(tag, version)| self.chart_version(repo, tag, version, stats))
            .collect();
        let found: Vec<Option<(VersionMeta, String)>> = stream::iter(fetches)
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let found: Vec<(VersionMeta, String)> = found.into_iter().flatten().collect();
        if found.is_empty() && !carried.is_empty() {
            stats.reused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                repo,
                "no new chart version: reusing the previous catalog entry"
            );
            return Ok(RepoOutcome::Chart(
                previous.expect("carried comes from previous").clone(),
            ));
        }
        let mut found = found;
        found.extend(carried);
        if found.is_empty() {
            return Ok(RepoOutcome::NoChart);
        }
        let names: HashMap<String, String> = found
            .iter()
            .map(|(m, n)| (m.version.clone(), n.clone()))
            .collect();
        let mut summary =
            ChartSummary::from_versions("", found.into_iter().map(|(m, _)| m).collect());
        summary.name = names
            .get(&summary.latest_version)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| repo.rsplit('/').next().unwrap_or(repo).to_string());
        Ok(RepoOutcome::Chart(summary))
    }

    /// Build the chart catalog.
    ///
    /// `base_paths` are relative to the endpoint path; without any, the endpoint path itself is
    /// the base (the whole catalog when it is empty too). Each base is tried as a repository
    /// (`tags/list`) and as a prefix (`_catalog`, names equal to it or below `base/`). A base that
    /// yields no Helm chart is [`Error::EmptyBasePath`]; a prefix that cannot be listed because
    /// the registry refuses `_catalog` (and is not itself a repository) is
    /// [`Error::CatalogUnsupported`].
    ///
    /// `previous` is the catalog of the last sync of the *same* endpoint (pass `None` when the
    /// endpoint changed): the versions it lists are trusted to still be Helm charts, so a
    /// repository whose semver tags are those versions is reused without reading any manifest;
    /// when tags were only added, just the new tags' manifests are read (semver-tagged non-chart
    /// images are therefore re-read at each sync: the catalog cannot remember them); when a
    /// version disappeared, the repository is read in full. At most [`CONCURRENCY`] requests are
    /// in flight.
    pub async fn sync(
        &self,
        base_paths: &[String],
        previous: Option<&Catalog>,
    ) -> Result<SyncReport> {
        self.ping().await?;
        let registry = self.endpoint.display();
        // (label as the user wrote it, repository path)
        let mut bases: Vec<(String, String)> = Vec::new();
        if base_paths.is_empty() {
            if !self.endpoint.path.is_empty() {
                bases.push((self.endpoint.path.clone(), self.endpoint.path.clone()));
            }
        } else {
            for b in base_paths {
                let norm = normalize_base_path(b).map_err(|reason| Error::EmptyBasePath {
                    registry: registry.clone(),
                    path: b.clone(),
                    hint: format!(": it is not a valid repository path ({reason})"),
                })?;
                let full = self.endpoint.repository_path(&norm);
                if !bases.iter().any(|(_, f)| *f == full) {
                    bases.push((b.clone(), full));
                }
            }
        }
        let whole_registry = bases.iter().any(|(_, f)| f.is_empty());
        let stats = Stats::default();
        let catalog = self.list_catalog().await?;

        // repository -> tags already listed (bases probed as repositories)
        let mut known: HashMap<String, Vec<String>> = HashMap::new();
        // base index -> repositories found for it
        let mut per_base: Vec<BTreeSet<String>> = Vec::new();
        let mut repos: BTreeSet<String> = BTreeSet::new();
        if bases.is_empty() || whole_registry {
            match &catalog {
                CatalogOutcome::Listed(names) => repos.extend(names.iter().cloned()),
                CatalogOutcome::Refused(d) => {
                    return Err(Error::CatalogUnsupported {
                        registry,
                        detail: d.clone(),
                    })
                }
            }
        }
        let probes: Vec<(usize, Result<(TagsOutcome, Url)>)> = stream::iter(
            bases
                .iter()
                .enumerate()
                .filter(|(_, (_, full))| !full.is_empty())
                .map(|(i, (_, full))| async move { (i, self.list_tags(full).await) })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
        let mut probes: HashMap<usize, (TagsOutcome, Url)> = probes
            .into_iter()
            .map(|(i, r)| r.map(|x| (i, x)))
            .collect::<Result<_>>()?;
        stats.listed.fetch_add(probes.len(), Ordering::Relaxed);
        for (i, (label, full)) in bases.iter().enumerate() {
            let mut found = BTreeSet::new();
            if full.is_empty() {
                found.extend(repos.iter().cloned());
                per_base.push(found);
                continue;
            }
            let (probe, tags_url) = probes.remove(&i).expect("every non-empty base was probed");
            let in_catalog = |names: &[String]| names.iter().any(|n| n == full);
            let probe_text = match probe {
                TagsOutcome::Tags(tags) => {
                    found.insert(full.clone());
                    known.insert(full.clone(), tags);
                    String::new()
                }
                TagsOutcome::NotFound => "tags/list answered HTTP 404".to_string(),
                TagsOutcome::Denied(status) => {
                    if let CatalogOutcome::Listed(names) = &catalog {
                        if in_catalog(names) {
                            return Err(Error::Unauthorized {
                                url: redact_url(tags_url.as_str()),
                                status,
                            });
                        }
                    }
                    format!("tags/list answered HTTP {status}")
                }
            };
            match &catalog {
                CatalogOutcome::Listed(names) => {
                    let below = format!("{full}/");
                    found.extend(
                        names
                            .iter()
                            .filter(|n| *n == full || n.starts_with(&below))
                            .cloned(),
                    );
                }
                CatalogOutcome::Refused(d) if found.is_empty() => {
                    return Err(Error::CatalogUnsupported {
                        registry,
                        detail: format!(
                            "{d}; and {full:?} is not a repository readable with these credentials ({probe_text})"
                        ),
                    });
                }
                CatalogOutcome::Refused(_) => {
                    tracing::debug!(repository = %full, "the catalog is refused: repositories below this one are not looked up");
                }
            }
            if found.is_empty() {
                return Err(Error::EmptyBasePath {
                    registry,
                    path: label.clone(),
                    hint: self.empty_hint(full, "no repository has this name or starts with it"),
                });
            }
            repos.extend(found.iter().cloned());
            per_base.push(found);
        }

        let prev_by_repo: HashMap<String, &ChartSummary> = previous
            .map(|p| {
                p.charts
                    .iter()
                    .map(|(k, c)| (self.repo_of_previous_key(k), c))
                    .collect()
            })
            .unwrap_or_default();
        let stats_ref = &stats;
        let jobs: Vec<_> = repos
            .iter()
            .map(|repo| {
                let tags = known.remove(repo);
                let prev = prev_by_repo.get(repo).copied();
                async move {
                    self.sync_repo(repo, tags, prev, stats_ref)
                        .await
                        .map(|o| (repo.clone(), o))
                }
            })
            .collect();
        let results: Vec<(String, RepoOutcome)> = stream::iter(jobs)
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;

        let mut report = SyncReport::default();
        let mut charts: BTreeMap<String, ChartSummary> = BTreeMap::new();
        for (repo, outcome) in results {
            match outcome {
                RepoOutcome::Chart(c) => {
                    charts.insert(repo, c);
                }
                RepoOutcome::NoChart => {}
                RepoOutcome::Skipped(reason) => {
                    tracing::debug!(reason = %reason, "repository skipped");
                    report.skipped.push(reason);
                }
            }
        }
        report.skipped.sort();
        for (i, (label, full)) in bases.iter().enumerate() {
            let n = per_base[i]
                .iter()
                .filter(|r| charts.contains_key(*r))
                .count();
            if n == 0 {
                let what = format!(
                    "{} repositor{} found there but none holds a Helm chart with a semver tag (plain images and non-semver tags are ignored)",
                    per_base[i].len(),
                    if per_base[i].len() == 1 { "y" } else { "ies" }
                );
                return Err(Error::EmptyBasePath {
                    registry,
                    path: if label.is_empty() {
                        full.clone()
                    } else {
                        label.clone()
                    },
                    hint: self.empty_hint(full, &what),
                });
            }
        }
        // Keys relative to the endpoint; the endpoint's own repository falls back to its full
        // path if its short key collides with a repository below it.
        let mut keyed: Vec<(String, String)> = charts
            .keys()
            .map(|r| (self.endpoint.catalog_key(r), r.clone()))
            .collect();
        let taken: HashSet<String> = keyed
            .iter()
            .filter(|(_, r)| *r != self.endpoint.path)
            .map(|(k, _)| k.clone())
            .collect();
        for (k, r) in keyed.iter_mut() {
            if *r == self.endpoint.path && taken.contains(k.as_str()) {
                k.clone_from(r);
            }
        }
        for (k, r) in keyed {
            let c = charts.remove(&r).expect("key of an existing chart");
            report.catalog.charts.insert(k.clone(), c);
            report.repositories.insert(k, r);
        }
        report.repositories_listed = stats.listed.load(Ordering::Relaxed);
        report.manifests_fetched = stats.manifests.load(Ordering::Relaxed);
        report.blobs_fetched = stats.blobs.load(Ordering::Relaxed);
        report.reused = stats.reused.load(Ordering::Relaxed);
        tracing::debug!(
            registry = %self.endpoint.display(),
            charts = report.catalog.chart_count(),
            listed = report.repositories_listed,
            manifests = report.manifests_fetched,
            blobs = report.blobs_fetched,
            reused = report.reused,
            "OCI registry synchronised"
        );
        Ok(report)
    }

    /// The repository a key of a previous catalog stands for (inverse of
    /// [`OciEndpoint::catalog_key`], the endpoint's own repository included).
    fn repo_of_previous_key(&self, key: &str) -> String {
        let e = &self.endpoint.path;
        if !e.is_empty() && (key == e.rsplit('/').next().unwrap_or(e) || key == e) {
            // Ambiguous with a repository `<path>/<key>`; a wrong guess only costs a refetch
            // because reuse also needs the same set of tags.
            return e.clone();
        }
        self.endpoint.repository_path(key)
    }

    fn empty_hint(&self, full: &str, what: &str) -> String {
        format!(
            ": looked up {full:?} as a repository (exact name) and as a prefix of repositories ({full}/…); {what}. Base paths are relative to the endpoint path{}",
            if self.endpoint.path.is_empty() {
                String::new()
            } else {
                format!(" {:?}", self.endpoint.path)
            }
        )
    }
}

/// The fields of a Helm chart config blob (Chart.yaml as JSON) that the catalog keeps.
fn parse_config(bytes: &[u8]) -> std::result::Result<ChartConfig, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let s = |k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    Ok(ChartConfig {
        name: s("name"),
        app_version: s("appVersion"),
        description: s("description"),
        deprecated: v
            .get("deprecated")
            .and_then(|d| d.as_bool())
            .unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn endpoints() {
        let e = parse_endpoint("ghcr.io/org/charts/").unwrap();
        assert_eq!(
            e,
            OciEndpoint {
                scheme: "https".into(),
                host: "ghcr.io".into(),
                path: "org/charts".into()
            }
        );
        assert_eq!(
            parse_endpoint("oci://Registry.Example:5000").unwrap().host,
            "registry.example:5000"
        );
        assert_eq!(
            parse_endpoint("OCI://r.example:443/x").unwrap().host,
            "r.example"
        );
        let e = parse_endpoint("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            (e.scheme.as_str(), e.host.as_str(), e.path.as_str()),
            ("http", "127.0.0.1:5000", "")
        );
        assert_eq!(
            parse_endpoint("https://[::1]:5000/a").unwrap().host,
            "[::1]:5000"
        );
        assert_eq!(e.base_url(), "http://127.0.0.1:5000");
        for bad in [
            "",
            "ftp://h/x",
            "h/x?y=1",
            "h/x#f",
            "h/a//b",
            "h/Upper",
            "h/a b",
            "://x",
            "h:99999",
            "/path-only",
            "h/-x",
        ] {
            assert!(
                matches!(parse_endpoint(bad), Err(Error::InvalidUrl { .. })),
                "{bad:?} should be rejected"
            );
        }
        // userinfo is refused and never echoed
        let err = parse_endpoint("https://bob:s3cret@h/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret") && !err.contains("bob"), "{err}");
        assert!(err.contains("username and password"), "{err}");
        for bad in [
            "robot:S3cret@127.0.0.1:5000",
            "https://ci:S3cret@[::1/x",
            "robot:S3cret/x@127.0.0.1:5000",
            "127.0.0.1:5000/charts?token=S3cret",
            "https://[::1/x?token=S3cret",
            "robot:S3cret://h",
            "h:5000/x#S3cret",
        ] {
            let Err(Error::InvalidUrl { url, reason }) = parse_endpoint(bad) else {
                panic!("{bad:?} should be rejected");
            };
            assert!(
                !url.contains("S3cret") && !reason.contains("S3cret"),
                "{bad}: {url} {reason}"
            );
        }
        for (bad, says) in [
            ("127.0.0.1:0", "port 0"),
            ("http://h:0/charts", "port 0"),
            ("h/a\tb", "control character"),
            ("h\n/a", "control character"),
        ] {
            let err = parse_endpoint(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        // Surrounding white space is trimmed.
        assert_eq!(parse_endpoint(" h/a\n").unwrap().path, "a");
    }

    #[test]
    fn repository_names() {
        for ok in ["a", "a/b", "a.b_c__d--e/f0", "charts/my-chart"] {
            assert!(validate_repository_path(ok).is_ok(), "{ok}");
        }
        for bad in ["A", "a_", "_a", "a___b", "a.-b", "a//b", "a/", "a..b"] {
            assert!(validate_repository_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_base_path(" /team/charts/ ").unwrap(),
            "team/charts"
        );
        assert_eq!(normalize_base_path("/").unwrap(), "");
    }

    #[test]
    fn keys_relative_to_endpoint() {
        let e = parse_endpoint("host/team").unwrap();
        assert_eq!(e.catalog_key("team/charts/x"), "charts/x");
        assert_eq!(e.catalog_key("team"), "team");
        assert_eq!(e.repository_path("charts"), "team/charts");
        assert_eq!(e.repository_path(""), "team");
        let e = parse_endpoint("host").unwrap();
        assert_eq!(e.catalog_key("team/charts/x"), "team/charts/x");
        assert_eq!(e.repository_path("charts"), "charts");
        let e = parse_endpoint("host/charts/mychart").unwrap();
        assert_eq!(e.catalog_key("charts/mychart"), "mychart");
        assert_eq!(e.display(), "host/charts/mychart");
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

    #[test]
    fn link_headers() {
        assert_eq!(
            parse_next_link(r#"</v2/_catalog?last=many%2Frepo095&n=100>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=many%2Frepo095&n=100")
        );
        assert_eq!(
            parse_next_link(r#"<https://r/v2/a/tags/list?n=2&last=b>; rel="prev", <https://r/v2/a/tags/list?n=2&last=d>; rel=next"#)
                .as_deref(),
            Some("https://r/v2/a/tags/list?n=2&last=d")
        );
        assert_eq!(parse_next_link(r#"</x>; rel="prev first""#), None);
        assert_eq!(
            parse_next_link(r#"</x>; title="a, <b>"; rel="other next""#).as_deref(),
            Some("/x")
        );
        assert_eq!(parse_next_link(""), None);
    }

    #[test]
    fn tags() {
        assert_eq!(tag_to_version("1.2.3_build.4"), "1.2.3+build.4");
        assert_eq!(version_to_tag("1.2.3+build.4"), "1.2.3_build.4");
        let tags: Vec<String> = [
            "latest",
            "1.0.0",
            "1.0.1_b.1",
            "sha256-abc.sig",
            "1.0.0-rc.1",
            "v2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let v: Vec<String> = semver_tags(&tags).into_iter().map(|(_, v)| v).collect();
        assert_eq!(v, ["1.0.0", "1.0.1+b.1", "1.0.0-rc.1", "v2"]);
    }

    #[test]
    fn digests_and_configs() {
        let d = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"x"))
        );
        assert!(valid_digest(&d) && digest_matches(&d, b"x") && !digest_matches(&d, b"y"));
        assert!(!valid_digest("sha256:abc") && !valid_digest("md5:00"));
        let c = parse_config(br#"{"name":"c","version":"1.0.0","appVersion":"2","description":"d","deprecated":true}"#).unwrap();
        assert_eq!(
            c,
            ChartConfig {
                name: "c".into(),
                app_version: "2".into(),
                description: "d".into(),
                deprecated: true
            }
        );
        assert!(parse_config(b"[]").is_err());
    }

    #[test]
    fn digest_of_catalog_is_canonical() {
        let mut a = Catalog::default();
        let s = ChartSummary::from_versions(
            "c",
            vec![VersionMeta {
                version: "1.0.0".into(),
                ..Default::default()
            }],
        );
        a.charts.insert("x".into(), s.clone());
        a.charts.insert("y".into(), s.clone());
        let mut b = Catalog::default();
        b.charts.insert("y".into(), s.clone());
        b.charts.insert("x".into(), s.clone());
        assert_eq!(catalog_digest(&a), catalog_digest(&b));
        assert_eq!(catalog_digest(&a).len(), 64);
        b.charts.get_mut("x").unwrap().deprecated = true;
        assert_ne!(catalog_digest(&a), catalog_digest(&b));
        assert_ne!(catalog_digest(&Catalog::default()), catalog_digest(&a));
    }

    // The client against real registries (CNCF distribution: plain, htpasswd + TLS, bearer
    // tokens) is tested through Terraform in acceptance/oci_registry.rs, where they run.

    fn client(
        endpoint: &str,
        creds: Option<(&str, &str)>,
        ca: Option<String>,
        cache: Option<Cache>,
    ) -> OciClient {
        let reg = OciRegistry {
            endpoint: parse_endpoint(endpoint).unwrap(),
            credentials: creds.map(|(u, p)| Credentials {
                username: u.into(),
                password: p.into(),
            }),
            tls: TlsOptions {
                ca_pem: ca,
                insecure_skip_verify: false,
            },
        };
        OciClient::new(&reg, &HttpSettings::default(), cache).unwrap()
    }

    // ---- Hermetic: a tiny fake registry (Basic auth, tags paginated in short pages, `_catalog`
    // refused, blobs redirected to a storage host on another origin).

    type Seen = Arc<Mutex<Vec<crate::registry::testserver::Request>>>;

    /// A fake registry on the shared test server: `route(target, authorized)` answers.
    async fn fake_server(
        route: impl Fn(&str, bool) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync + 'static,
    ) -> (String, Seen) {
        use crate::registry::testserver::{response, serve, Request};
        let srv = serve(Arc::new(move |r: &Request| {
            let (status, headers, body) = route(&r.target, r.has_auth());
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            response(&format!("{status} X"), &headers, &body)
        }))
        .await;
        (srv.addr, srv.requests)
    }

    #[tokio::test]
    async fn a_body_cut_short_is_retried_with_its_request() {
        use crate::registry::testserver::{response, serve, Request};
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
        let c = client(&format!("http://{}", srv.addr), None, None, None);
        c.ping().await.unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn fake_registry_pagination_auth_and_redirects() {
        let config = |v: &str| {
            format!(r#"{{"name":"fake","version":"{v}","appVersion":"a{v}"}}"#).into_bytes()
        };
        let digest = |b: &[u8]| {
            format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
            )
        };
        let (storage, storage_seen) = fake_server(move |target, _| {
            let v = target.trim_start_matches("/blob/");
            (200, vec![], config(v))
        })
        .await;
        let (registry, registry_seen) = fake_server(move |target, auth| {
            let json = || vec![("Content-Type".to_string(), "application/json".to_string())];
            if !auth {
                return (401, vec![("WWW-Authenticate".into(), r#"Basic realm="fake, registry""#.into())], vec![]);
            }
            let link = |q: &str| ("Link".to_string(), format!(r#"</v2/r/tags/list?{q}>; rel="next""#));
            match target {
                "/v2/" => (200, vec![], b"{}".to_vec()),
                "/v2/_catalog?n=100" => (404, json(), br#"{"errors":[{"code":"UNSUPPORTED","message":"m"}]}"#.to_vec()),
                "/v2/r/tags/list?n=100" => (200, vec![link("last=1.0.1&n=100")], br#"{"name":"r","tags":["1.0.0","1.0.1"]}"#.to_vec()),
                "/v2/r/tags/list?last=1.0.1&n=100" => (200, vec![link("last=2.0.0&n=100")], br#"{"name":"r","tags":["2.0.0"]}"#.to_vec()),
                "/v2/r/tags/list?last=2.0.0&n=100" => (200, vec![], br#"{"name":"r","tags":["3.0.0-rc.1","latest"]}"#.to_vec()),
                t if t.starts_with("/v2/r/manifests/") => {
                    let v = t.trim_start_matches("/v2/r/manifests/");
                    let m = format!(
                        r#"{{"schemaVersion":2,"config":{{"mediaType":"{HELM_CONFIG_MEDIA_TYPE}","digest":"{}","size":1}},"layers":[]}}"#,
                        digest(&config(v))
                    );
                    (200, vec![], m.into_bytes())
                }
                t if t.starts_with("/v2/r/blobs/") => {
                    // which version is this digest? (the storage host serves by version)
                    let d = t.trim_start_matches("/v2/r/blobs/");
                    let v = ["1.0.0", "1.0.1", "2.0.0", "3.0.0-rc.1"].into_iter().find(|v| digest(&config(v)) == d).unwrap();
                    (307, vec![("Location".into(), format!("http://{storage}/blob/{v}"))], vec![])
                }
                _ => (404, vec![], br#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#.to_vec()),
            }
        })
        .await;
        let c = client(&format!("http://{registry}"), Some(("u", "p")), None, None);
        let r = c.sync(&["r".into()], None).await.unwrap();
        let chart = &r.catalog.charts["r"];
        assert_eq!(chart.versions, ["3.0.0-rc.1", "2.0.0", "1.0.1", "1.0.0"]);
        assert_eq!(
            (
                chart.latest_version.as_str(),
                chart.app_version.as_str(),
                chart.name.as_str()
            ),
            ("2.0.0", "a2.0.0", "fake")
        );
        assert_eq!((r.manifests_fetched, r.blobs_fetched), (4, 4));
        // credentials never reach the storage host
        let st = lock(&storage_seen).clone();
        assert_eq!(st.len(), 4);
        assert!(st.iter().all(|r| !r.has_auth()), "{st:?}");
        // after the first challenge, Basic is sent up front
        let rs = lock(&registry_seen).clone();
        assert_eq!(rs.iter().filter(|r| !r.has_auth()).count(), 1, "{rs:?}");
        // a base that is neither a repository nor listable
        match c.sync(&["nope".into()], None).await {
            Err(e @ Error::CatalogUnsupported { .. }) => {
                let t = e.to_string();
                assert!(
                    t.contains("HTTP 404 (UNSUPPORTED)") && t.contains("\"nope\""),
                    "{t}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            c.chart_versions("r").await.unwrap(),
            ["3.0.0-rc.1", "2.0.0", "1.0.1", "1.0.0"]
        );
    }
}
