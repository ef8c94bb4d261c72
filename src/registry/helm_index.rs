//! Classic Helm repository client: resolves `<endpoint>/index.yaml` as Helm does, fetches it with
//! conditional requests, parses YAML or JSON and validates entries with Helm's rules.
//!
//! Fidelity notes (compared with Helm v4's `repo.loadIndex` and `chart.Metadata.Validate`):
//! - A missing `apiVersion` or a missing `entries` key is [`Error::NotAnIndex`]. Helm accepts an
//!   index without `entries` (as an empty repository); we refuse it so that a random YAML file
//!   served at the endpoint gives a clear error. `entries: {}` and `entries: null` are an empty
//!   repository.
//! - Null entries are dropped; entries failing validation are skipped and counted
//!   ([`ParsedIndex::skipped`]). An entry without `apiVersion` defaults to `v1` as in Helm.
//! - Description and appVersion are sanitised like Helm's `sanitizeString` (white space
//!   becomes a space, non-printable characters are removed; "non-printable" is approximated as
//!   control, format and private-use characters).
//! - A chart name (the entry's `name` or its key in `entries`) that `sanitizeString` would
//!   change (a control character such as an ANSI escape, a format or non-printable character,
//!   white space other than a space) makes the entry invalid: it is skipped and counted. Helm
//!   instead strips those characters from `name`, keeps the entry, and keeps the key raw; but the
//!   key is what the chart is referenced by and what reaches Terraform's output, so an entry
//!   whose name must be altered to be shown cannot be one we list.
//! - Reading is bounded: [`yaml_guard`] refuses flow nesting deeper than 64 levels and alias
//!   expansion beyond 10× the document (Helm has no nesting limit; go-yaml has a similar alias
//!   limit), and [`fetch_index`] gives the parse the rest of `request_timeout` (see there).
//! - Malformed documents are explained in plain words with the chart, entry and line at fault
//!   ([`index_doc`]), not in serde's terms.
//! - Scalars keep their literal text: an unquoted `appVersion: 1.10` stays `1.10` (Helm v4.1.4
//!   refuses the whole index instead: "cannot unmarshal number into … appVersion of type string").
//! - Versions of a chart are sorted newest first with a stable sort; versions of equal precedence
//!   (differing only in build metadata) keep their index order. `helm search repo` orders such
//!   ties nondeterministically (Go map iteration followed by an unstable sort), and collapses
//!   duplicate version strings, which we keep.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{
    HeaderMap, HeaderValue, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{redact_url, Error, Result};
use crate::registry::catalog::{sort_versions_desc, Catalog, ChartSummary, SemVer, VersionMeta};
use crate::registry::http::{
    build_client, origin, read_body_limited, status_error, Credentials, Fetcher, HttpSettings,
    TlsOptions,
};
use crate::registry::index_doc::{self, RawEntry, RawIndex, Reading};
use crate::registry::scrub::Secrets;
use crate::registry::yaml_guard::{self, Refusal};

/// A classic Helm repository as configured.
#[derive(Debug, Clone)]
pub struct HelmRepo {
    /// The endpoint as the user wrote it (http or https).
    pub endpoint: String,
    pub credentials: Option<Credentials>,
    pub tls: TlsOptions,
    /// Send credentials to chart URLs on other hosts too.
    pub pass_credentials: bool,
}

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

/// One chart version of an index, with what later resolution needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
    pub digest: String,
    /// Chart URLs as written in the index (relative or absolute).
    pub urls: Vec<String>,
    pub created: String,
}

/// How many skipped entries [`ParsedIndex::skipped_examples`] describes at most.
pub const MAX_SKIPPED_EXAMPLES: usize = 5;

/// A parsed and validated index.
#[derive(Debug, Clone, Default)]
pub struct ParsedIndex {
    /// Valid entries per chart name, newest first. Charts without a valid entry are left out.
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    /// Entries skipped because they fail Helm's metadata validation.
    pub skipped: usize,
    /// Up to [`MAX_SKIPPED_EXAMPLES`] descriptions of skipped entries
    /// (`chart "x" version "y": reason`), for the warning.
    pub skipped_examples: Vec<String>,
}

impl ParsedIndex {
    pub fn catalog(&self) -> Catalog {
        let charts = self
            .entries
            .iter()
            .map(|(name, entries)| {
                let versions = entries
                    .iter()
                    .map(|e| VersionMeta {
                        version: e.version.clone(),
                        app_version: e.app_version.clone(),
                        description: e.description.clone(),
                        deprecated: e.deprecated,
                    })
                    .collect();
                (name.clone(), ChartSummary::from_versions(name, versions))
            })
            .collect();
        Catalog { charts }
    }

    pub fn chart_count(&self) -> usize {
        self.entries.len()
    }

    pub fn version_count(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    /// The entry of `chart` at exactly `version` (string equality, as written in the index).
    pub fn get(&self, chart: &str, version: &str) -> Option<&IndexEntry> {
        self.entries
            .get(chart)?
            .iter()
            .find(|e| e.version == version)
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

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

fn parse_http_url(raw: &str) -> Result<Url> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: redact_url(raw),
        reason,
    };
    let u = Url::parse(raw.trim()).map_err(|e| invalid(e.to_string()))?;
    match u.scheme() {
        "http" | "https" => {}
        s => {
            return Err(invalid(format!(
                "scheme {s:?} is not supported (use http or https)"
            )))
        }
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host".into()));
    }
    Ok(u)
}

/// `<endpoint>/index.yaml` the way Helm builds it (`repo.ResolveReferenceURL(url, "index.yaml")`):
/// one trailing slash is added to the path (an existing one is kept), `index.yaml` is resolved
/// against it, the query string is kept and the fragment dropped.
pub fn index_url(endpoint: &str) -> Result<Url> {
    let mut base = parse_http_url(endpoint)?;
    let path = format!("{}/", base.path().strip_suffix('/').unwrap_or(base.path()));
    base.set_path(&path);
    let query = base.query().map(str::to_string);
    let mut u = base.join("index.yaml").map_err(|e| Error::InvalidUrl {
        url: redact_url(endpoint),
        reason: e.to_string(),
    })?;
    u.set_query(query.as_deref());
    u.set_fragment(None);
    Ok(u)
}

/// A chart URL from the index made absolute like Helm does (`ResolveReferenceURL(repoURL,
/// chartURL)`): absolute URLs are kept as written; relative ones are resolved against the
/// repository URL (the directory of `index_url`) and get the query string of the repository URL,
/// replacing their own (Helm quirk, so signed repository URLs keep working).
pub fn resolve_chart_url(index_url: &Url, chart_url: &str) -> Result<Url> {
    let chart_url = chart_url.trim();
    let invalid = |reason: String| Error::InvalidUrl {
        url: redact_url(chart_url),
        reason,
    };
    if chart_url.is_empty() {
        return Err(invalid("the index lists an empty chart URL".into()));
    }
    match Url::parse(chart_url) {
        Ok(_) => parse_http_url(chart_url),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let mut u = index_url
                .join(chart_url)
                .map_err(|e| invalid(e.to_string()))?;
            u.set_query(index_url.query());
            Ok(u)
        }
        Err(e) => Err(invalid(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Go's `unicode.IsPrint` for what is not white space: letters, marks, numbers, punctuation and
/// symbols. Approximated as "not a control, format, private-use or non-character code point".
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || matches!(u,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
            | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
            | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFDD0..=0xFDEF)
        || (u & 0xFFFE) == 0xFFFE)
}

/// Helm's `sanitizeString`: white space becomes a space, non-printable characters go.
fn sanitize(s: String) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s;
    }
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if is_go_printable(c) {
                Some(c)
            } else {
                None
            }
        })
        .collect()
}

fn is_alias_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether Helm's `sanitizeString` would change `s`: a character that is not printable, or white
/// space other than a plain space.
fn needs_sanitizing(s: &str) -> bool {
    s.chars().any(|c| {
        if c.is_whitespace() {
            c != ' '
        } else {
            !is_go_printable(c)
        }
    })
}

/// `chart.Metadata.Validate` as `loadIndex` applies it to the entry listed under `chart` (the
/// "more than one dependency with name or alias" error is ignored there, so it is not checked),
/// plus the name rule of the module docs (names Helm would have to alter are refused).
fn validate(chart: &str, e: &RawEntry) -> std::result::Result<(), String> {
    // loadIndex defaults an empty apiVersion to v1, so that check never fails.
    let _ = &e.api_version;
    if e.name.is_empty() {
        return Err("chart.metadata.name is required".into());
    }
    if needs_sanitizing(&e.name) {
        return Err("chart.metadata.name contains control or non-printable characters".into());
    }
    if needs_sanitizing(chart) {
        return Err(
            "the chart name (its key in entries) contains control or non-printable characters"
                .into(),
        );
    }
    if e.name == "." || e.name == ".." {
        return Err(format!("chart.metadata.name {:?} is not allowed", e.name));
    }
    if e.name.contains('/') {
        return Err(format!("chart.metadata.name {:?} is invalid", e.name));
    }
    if e.version.is_empty() {
        return Err("chart.metadata.version is required".into());
    }
    if SemVer::parse(&e.version).is_none() {
        return Err(format!("chart.metadata.version {:?} is invalid", e.version));
    }
    if !matches!(e.chart_type.as_str(), "" | "application" | "library") {
        return Err("chart.metadata.type must be application or library".into());
    }
    if e.maintainers.iter().flatten().any(Option::is_none) {
        return Err("maintainers must not contain empty or null nodes".into());
    }
    for d in e.dependencies.iter().flatten() {
        let Some(d) = d else {
            return Err("dependencies must not contain empty or null nodes".into());
        };
        if !d.alias.is_empty() && !is_alias_name(&d.alias) {
            return Err(format!(
                "dependency {:?} has disallowed characters in the alias",
                sanitize(d.name.clone())
            ));
        }
    }
    Ok(())
}

fn not_an_index(url: &str, reason: impl Into<String>) -> Error {
    Error::NotAnIndex {
        url: redact_url(url),
        reason: reason.into(),
    }
}

/// A deserialisation error made short and single-line (it may quote the document).
fn short_reason(prefix: &str, err: &dyn fmt::Display) -> String {
    let msg: String = err
        .to_string()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = format!("{prefix}: ");
    if msg.chars().count() > 240 {
        out.extend(msg.chars().take(240));
        out.push('…');
    } else {
        out.push_str(&msg);
    }
    out
}

/// When a parse must be done: `at`, which is `timeout` (the provider's `request_timeout`) after
/// the request's response arrived.
#[derive(Debug, Clone, Copy)]
pub struct ParseDeadline {
    pub at: Instant,
    pub timeout: Duration,
}

impl ParseDeadline {
    /// `timeout` from now (a timeout too large to add means no deadline in practice: a year).
    pub fn after(timeout: Duration) -> ParseDeadline {
        let now = Instant::now();
        let at = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
            .unwrap_or(now);
        ParseDeadline { at, timeout }
    }
}

fn parse_timeout(url: &str, deadline: Option<ParseDeadline>) -> Error {
    Error::ParseTimeout {
        url: redact_url(url),
        after: deadline.map_or(Duration::ZERO, |d| d.timeout),
    }
}

fn deserialize_raw(bytes: &[u8], url: &str, deadline: Option<ParseDeadline>) -> Result<RawIndex> {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    let reading = Reading::start(deadline.map(|d| d.at));
    match first {
        None => return Err(not_an_index(url, "the document is empty")),
        Some(b'<') => return Err(not_an_index(
            url,
            "got an HTML or XML page instead of index.yaml (is the endpoint the repository URL?)",
        )),
        Some(b'{') => {
            // JSON is YAML, but serde_json is much faster (and linear: no aliases, nesting
            // limited to 128); anything it refuses goes to YAML.
            if let Ok(raw) = serde_json::from_slice::<RawIndex>(bytes) {
                return Ok(raw);
            }
            if reading.timed_out() {
                return Err(parse_timeout(url, deadline));
            }
            reading.restart();
        }
        _ => {}
    }
    if let Err(refusal) = yaml_guard::check(bytes, deadline.map(|d| d.at)) {
        return Err(match refusal {
            Refusal::Deadline => parse_timeout(url, deadline),
            r => not_an_index(url, r.to_string()),
        });
    }
    serde_yaml::from_slice::<RawIndex>(bytes).map_err(|e| {
        if reading.timed_out() {
            return parse_timeout(url, deadline);
        }
        let msg = e.to_string();
        let reason = if msg.contains("expected struct RawIndex") {
            "the document is not a YAML mapping".to_string()
        } else if let Some(plain) = index_doc::plain_reason(&msg, &reading.position()) {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            short_reason("invalid YAML", &format!("{plain}{at}"))
        } else {
            short_reason("invalid YAML", &e)
        };
        not_an_index(url, reason)
    })
}

/// Parse index bytes (YAML or JSON). `url` is only used (redacted) in errors.
pub fn parse_index(bytes: &[u8], url: &str) -> Result<ParsedIndex> {
    parse(bytes, url, None)
}

/// [`parse_index`] that gives up with [`Error::ParseTimeout`] once `deadline` has passed.
pub fn parse_index_until(bytes: &[u8], url: &str, deadline: ParseDeadline) -> Result<ParsedIndex> {
    parse(bytes, url, Some(deadline))
}

fn parse(bytes: &[u8], url: &str, deadline: Option<ParseDeadline>) -> Result<ParsedIndex> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let raw = deserialize_raw(bytes, url, deadline)?;
    if raw.api_version.is_empty() {
        let reason = if raw.entries.is_none() {
            "no apiVersion and no entries (not a Helm repository index)"
        } else {
            "no API version specified"
        };
        return Err(not_an_index(url, reason));
    }
    let Some(raw_entries) = raw.entries else {
        return Err(not_an_index(
            url,
            "no entries (not a Helm repository index)",
        ));
    };

    let mut out = ParsedIndex::default();
    let mut nulls = 0usize;
    for (chart, list) in raw_entries.map(|e| e.0).unwrap_or_default() {
        let mut valid = Vec::with_capacity(list.as_ref().map_or(0, Vec::len));
        for raw in list.unwrap_or_default() {
            let Some(raw) = raw else {
                nulls += 1;
                continue;
            };
            if let Err(reason) = validate(&chart, &raw) {
                out.skipped += 1;
                if out.skipped_examples.len() < MAX_SKIPPED_EXAMPLES {
                    out.skipped_examples.push(format!(
                        "chart {} version {:?}: {reason}",
                        index_doc::chart_label(&chart),
                        raw.version
                    ));
                }
                continue;
            }
            valid.push(IndexEntry {
                name: raw.name,
                version: raw.version,
                app_version: sanitize(raw.app_version),
                description: sanitize(raw.description),
                deprecated: raw.deprecated,
                digest: raw.digest,
                urls: raw.urls,
                created: raw.created,
            });
        }
        if valid.is_empty() {
            continue;
        }
        sort_versions_desc(&mut valid, |e| &e.version);
        out.entries.insert(chart, valid);
    }
    if nulls > 0 {
        tracing::debug!(url = %redact_url(url), nulls, "dropped null index entries");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------------

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
    use crate::registry::testserver::{response, serve, Request};
    use std::sync::Arc;
    use std::time::Duration;

    /// Verbatim excerpts of the real-world indexes (testdata/README.md); the whole files are
    /// compared with helm by the acceptance trials `helm_search_*` and by `benches/index.rs`.
    const BITNAMI: &[u8] = include_bytes!("../../testdata/indexes/bitnami-2022-06-16.excerpt.yaml");
    const RANCHER: &[u8] = include_bytes!("../../testdata/indexes/rancher-dev-v2.9.excerpt.yaml");

    fn versions<'a>(idx: &'a ParsedIndex, chart: &str) -> Vec<&'a str> {
        idx.entries[chart]
            .iter()
            .map(|e| e.version.as_str())
            .collect()
    }

    fn assert_sorted_desc(idx: &ParsedIndex) {
        for (name, list) in &idx.entries {
            for w in list.windows(2) {
                let (a, b) = (
                    SemVer::parse(&w[0].version).unwrap(),
                    SemVer::parse(&w[1].version).unwrap(),
                );
                assert!(a >= b, "{name}: {} before {}", w[0].version, w[1].version);
            }
        }
    }

    #[test]
    fn index_url_like_helm() {
        let cases = [
            ("https://h/charts", "https://h/charts/index.yaml"),
            ("https://h/charts/", "https://h/charts/index.yaml"),
            ("https://h/charts//", "https://h/charts//index.yaml"),
            ("https://h", "https://h/index.yaml"),
            ("https://h/", "https://h/index.yaml"),
            ("https://h/charts?x=1", "https://h/charts/index.yaml?x=1"),
            (
                "https://h/charts/?x=1&y=2#frag",
                "https://h/charts/index.yaml?x=1&y=2",
            ),
            ("http://u:p@h:8080/a/b", "http://u:p@h:8080/a/b/index.yaml"),
            ("  https://h/c  ", "https://h/c/index.yaml"),
            ("https://h/a%20b", "https://h/a%20b/index.yaml"),
        ];
        for (endpoint, want) in cases {
            assert_eq!(index_url(endpoint).unwrap().as_str(), want, "{endpoint}");
        }
        for bad in [
            "oci://h/charts",
            "ftp://h/x",
            "h/charts",
            "",
            "file:///tmp/x",
        ] {
            let err = index_url(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{bad}: {err}");
        }
        // No secrets in the error text.
        let err = index_url("ftp://user:s3cret@h/x?token=t0k")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret") && !err.contains("t0k"), "{err}");
    }

    #[test]
    fn chart_urls_like_helm() {
        let idx = index_url("https://h/charts?sig=1").unwrap();
        let r = |c: &str| resolve_chart_url(&idx, c).map(|u| u.to_string());
        assert_eq!(
            r("nginx-1.0.0.tgz").unwrap(),
            "https://h/charts/nginx-1.0.0.tgz?sig=1"
        );
        assert_eq!(
            r("sub/nginx-1.0.0.tgz").unwrap(),
            "https://h/charts/sub/nginx-1.0.0.tgz?sig=1"
        );
        assert_eq!(
            r("/abs/nginx.tgz").unwrap(),
            "https://h/abs/nginx.tgz?sig=1"
        );
        assert_eq!(
            r("../up/nginx.tgz").unwrap(),
            "https://h/up/nginx.tgz?sig=1"
        );
        // Helm replaces the query of relative chart URLs with the repository's.
        assert_eq!(
            r("nginx.tgz?other=2").unwrap(),
            "https://h/charts/nginx.tgz?sig=1"
        );
        assert_eq!(
            r("https://cdn/x/nginx.tgz?a=b").unwrap(),
            "https://cdn/x/nginx.tgz?a=b"
        );
        assert_eq!(
            r("//cdn/x/nginx.tgz").unwrap(),
            "https://cdn/x/nginx.tgz?sig=1"
        );
        let plain = index_url("http://h:8080/r/").unwrap();
        assert_eq!(
            resolve_chart_url(&plain, "c-1.tgz").unwrap().as_str(),
            "http://h:8080/r/c-1.tgz"
        );
        assert!(r("").is_err());
        assert!(r("oci://h/x").is_err());
    }

    #[test]
    fn parses_bitnami_excerpt() {
        let idx = parse_index(BITNAMI, "https://charts.bitnami.com/bitnami/index.yaml").unwrap();
        // helm v4.1.4 `search repo bitnami/ --versions --devel` on the excerpt lists the same.
        assert_eq!(
            (idx.chart_count(), idx.version_count(), idx.skipped),
            (4, 28, 0)
        );
        assert_sorted_desc(&idx);
        assert_eq!(
            versions(&idx, "orangehrm"),
            ["11.0.3", "11.0.2", "11.0.1", "11.0.0"]
        );
        assert_eq!(versions(&idx, "common").len(), 14);
        let cat = idx.catalog();
        assert_eq!((cat.chart_count(), cat.version_count()), (4, 28));
        // The newest version is the deprecated one (bitnami deprecates by a last release).
        for (chart, latest, app) in [
            ("kubewatch", "3.3.4", "0.1.0"),
            ("orangehrm", "11.0.3", "4.9.0-0"),
        ] {
            let c = &cat.charts[chart];
            assert_eq!(
                (c.latest_version.as_str(), c.app_version.as_str()),
                (latest, app)
            );
            assert!(
                c.deprecated && c.description.starts_with("DEPRECATED "),
                "{chart}"
            );
        }
        let p = &cat.charts["pinniped"];
        assert_eq!((p.latest_version.as_str(), p.deprecated), ("0.1.3", false));
        assert_eq!(p.versions, ["0.1.3", "0.1.1", "0.1.0"]);
        // A folded multi-line description becomes one line, as in `helm search`.
        assert_eq!(
            p.description,
            "Pinniped is an identity service provider for Kubernetes. Provides a consistent, \
             unified login experience across all your clusters, allowing enteprise IDP protocols."
        );
        let e = idx.get("pinniped", "0.1.3").unwrap();
        assert_eq!(e.name, "pinniped");
        assert_eq!(
            e.digest,
            "5b04dbeb92bfa0d21440648df775518c17b969ad798c3c4310d364f20af60653"
        );
        assert_eq!(
            e.urls,
            ["https://charts.bitnami.com/bitnami/pinniped-0.1.3.tgz"]
        );
        assert_eq!(e.created, "2022-06-15T07:36:28.118401349Z");
    }

    #[test]
    fn parses_rancher_excerpt() {
        let idx = parse_index(RANCHER, "https://h/index.yaml").unwrap();
        assert_eq!(
            (idx.chart_count(), idx.version_count(), idx.skipped),
            (4, 57, 0)
        );
        assert_sorted_desc(&idx);
        // Orders as helm v4.1.4 `search repo rancher/ --versions --devel`: build metadata
        // ignored, leading zeros accepted (`0.8.001`), `0.1.000` above its `0.1.0-beta*`.
        assert_eq!(versions(&idx, "rio"), ["0.8.001", "0.8.000"]);
        assert_eq!(
            versions(&idx, "rancher-wins-upgrader"),
            ["100.0.1+up0.0.1", "100.0.0+up0.0.1", "0.0.100"]
        );
        assert_eq!(
            versions(&idx, "rancher-kiali-server-crd"),
            [
                "100.0.0+up1.35.0",
                "1.35.100+up1.35.0",
                "1.32.100",
                "1.29.000",
                "1.24.003",
                "1.24.001",
                "1.23.001"
            ]
        );
        let webhook = versions(&idx, "rancher-webhook");
        assert_eq!(webhook.len(), 45);
        assert_eq!(&webhook[..2], ["104.0.3+up0.5.3", "104.0.2+up0.5.2"]);
        assert_eq!(
            &webhook[39..],
            [
                "0.1.100+up0.1.1",
                "0.1.000",
                "0.1.0-beta901",
                "0.1.0-beta900",
                "0.1.0-beta700",
                "0.1.0-beta500"
            ]
        );
        let cat = idx.catalog();
        let latest: Vec<_> = cat
            .charts
            .values()
            .map(|c| c.latest_version.as_str())
            .collect();
        assert_eq!(
            latest,
            [
                "100.0.0+up1.35.0",
                "104.0.3+up0.5.3",
                "100.0.1+up0.0.1",
                "0.8.001"
            ]
        );
        assert_eq!(cat.charts["rancher-kiali-server-crd"].app_version, "");
        let rio = idx.get("rio", "0.8.000").unwrap();
        assert_eq!(rio.urls, ["assets/rio/rio-0.8.000.tgz"]);
        assert_eq!(rio.created, "2022-02-25T11:29:46.355694991+05:30");
    }

    const SMALL: &str = r#"apiVersion: v1
generated: "2024-01-01T00:00:00Z"
serverInfo: {contextPath: /x}
entries:
  alpha:
    - name: alpha
      version: 1.2.0
      appVersion: "2.0"
      description: "Alpha\tchart\nline two"
      urls: [alpha-1.2.0.tgz]
      digest: abc
      created: 2024-01-01T00:00:00Z
      unknownField: {nested: [1, 2]}
      maintainers: [{name: me}]
    - name: alpha
      version: 1.10.0
      appVersion: 1.10
      deprecated: yes
      urls: ["https://cdn/alpha-1.10.0.tgz"]
    - name: alpha
      version: 2.0.0-rc.1
      urls: []
    - null
  beta:
    - name: beta
      version: "1"
      type: library
      dependencies: [{name: common, alias: c_1}, {name: common}, {name: common}]
"#;

    #[test]
    fn parses_yaml_details() {
        let idx = parse_index(SMALL.as_bytes(), "u").unwrap();
        assert_eq!(idx.skipped, 0);
        let a = &idx.entries["alpha"];
        let versions: Vec<_> = a.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(versions, ["2.0.0-rc.1", "1.10.0", "1.2.0"]);
        assert_eq!(a[1].app_version, "1.10");
        assert!(a[1].deprecated);
        assert_eq!(a[2].description, "Alpha chart line two");
        assert_eq!(a[2].urls, ["alpha-1.2.0.tgz"]);
        assert_eq!(a[2].created, "2024-01-01T00:00:00Z");
        assert_eq!(idx.entries["beta"][0].version, "1");
        let cat = idx.catalog();
        assert_eq!(cat.charts["alpha"].latest_version, "1.10.0");
        assert!(cat.charts["alpha"].deprecated);
        assert_eq!(
            cat.charts["alpha"].versions,
            ["2.0.0-rc.1", "1.10.0", "1.2.0"]
        );
    }

    #[test]
    fn parses_json() {
        let json = r#"{"apiVersion":"v1","entries":{"alpha":[
            {"name":"alpha","version":"1.0.0","appVersion":"1","description":"d","urls":["a.tgz"],"digest":"x","created":"2024-01-01T00:00:00Z","deprecated":false},
            {"name":"alpha","version":"1.1.0","appVersion":1.5,"description":null,"urls":null},
            null,
            {"name":"alpha","version":"bad"}]},"generated":"2024-01-01T00:00:00Z"}"#;
        let idx = parse_index(json.as_bytes(), "u").unwrap();
        assert_eq!(idx.skipped, 1);
        let a = &idx.entries["alpha"];
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].version.as_str(), a[0].app_version.as_str()),
            ("1.1.0", "1.5")
        );
        assert_eq!(a[1].urls, ["a.tgz"]);
        // Same result through the YAML parser (flow JSON with a trailing comment is not JSON).
        let yaml = format!("{json}\n# comment\n");
        let via_yaml = parse_index(yaml.as_bytes(), "u").unwrap();
        assert_eq!(via_yaml.entries, idx.entries);
    }

    fn not_an_index(doc: &str) -> String {
        match parse_index(doc.as_bytes(), "https://user:pw@h/r/index.yaml?token=t") {
            Err(e @ Error::NotAnIndex { .. }) => {
                let s = e.to_string();
                assert!(!s.contains("pw") && !s.contains("token=t"), "{s}");
                s
            }
            other => panic!("{doc:?}: {other:?}"),
        }
    }

    #[test]
    fn refuses_what_is_not_an_index() {
        assert!(not_an_index("entries: {}\n").contains("no API version"));
        assert!(not_an_index("apiVersion: v1\ngenerated: x\n").contains("no entries"));
        assert!(not_an_index("<!DOCTYPE html>\n<html><body>Hi</body></html>").contains("HTML"));
        assert!(not_an_index("  \n\t").contains("empty"));
        assert!(not_an_index("").contains("empty"));
        assert!(
            not_an_index("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 1}\n")
                .contains("no entries")
        );
        assert!(not_an_index("just some text").contains("not a YAML mapping"));
        assert!(not_an_index("- a\n- b\n").contains("not a YAML mapping"));
        assert!(not_an_index("apiVersion: v1\nentries: [1, 2]\n").contains("invalid YAML"));
        assert!(
            not_an_index("apiVersion: v1\nentries:\n  a: [{name: [x]}]\n").contains("invalid YAML")
        );
        assert!(not_an_index("key: [unclosed\n").contains("invalid YAML"));
        assert!(not_an_index("{\"apiVersion\": \"v1\"}").contains("no entries"));
        let long = format!("apiVersion: v1\nentries: \"{}\"\n", "x".repeat(5000));
        assert!(not_an_index(&long).len() < 400);
        // An empty repository is fine.
        let empty = parse_index(b"apiVersion: v1\nentries: {}\n", "u").unwrap();
        assert_eq!(empty.chart_count(), 0);
        let empty = parse_index(b"apiVersion: v1\nentries:\n", "u").unwrap();
        assert_eq!(empty.chart_count(), 0);
        let bom = parse_index(b"\xEF\xBB\xBFapiVersion: v1\nentries: {}\n", "u").unwrap();
        assert_eq!(bom.chart_count(), 0);
    }

    #[test]
    fn skips_and_counts_invalid_entries() {
        let doc = r#"apiVersion: v1
entries:
  c:
    - {name: c, version: 1.0.0}
    - {version: 1.0.1}
    - {name: c}
    - {name: c, version: not-semver}
    - {name: c, version: 1.2.3.4}
    - {name: c, version: 1.0.2, type: plugin}
    - {name: c, version: 1.0.3, maintainers: [null]}
    - {name: c, version: 1.0.4, dependencies: [null]}
    - {name: c, version: 1.0.5, dependencies: [{name: x, alias: "bad alias"}]}
    - {name: a/b, version: 1.0.6}
    - {name: "..", version: 1.0.7}
    - null
    - {name: c, version: v1.1, apiVersion: ""}
  empty: []
  nulls: null
  allbad:
    - {name: allbad, version: x}
"#;
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        assert_eq!(idx.skipped, 11);
        assert_eq!(idx.skipped_examples.len(), MAX_SKIPPED_EXAMPLES);
        let ex = &idx.skipped_examples;
        assert!(
            ex[0].starts_with("chart \"allbad\" version \"x\""),
            "{ex:?}"
        );
        assert!(ex[1].contains("name is required"), "{ex:?}");
        assert_eq!(idx.entries.keys().collect::<Vec<_>>(), ["c"]);
        let v: Vec<_> = idx.entries["c"]
            .iter()
            .map(|e| e.version.as_str())
            .collect();
        assert_eq!(v, ["v1.1", "1.0.0"]);
    }

    #[test]
    fn sanitizes_like_helm() {
        assert_eq!(sanitize("a\tb\nc\u{a0}d".into()), "a b c d");
        assert_eq!(
            sanitize("zero\u{200b}width\u{7}bell é日本".into()),
            "zerowidthbell é日本"
        );
        assert_eq!(sanitize("plain".into()), "plain");
    }

    #[test]
    fn orders_ties_stably() {
        // Neither real index lists a version twice; helm collapses such duplicates, we keep them.
        let doc = "apiVersion: v1\nentries:\n  r:\n    - {name: r, version: 1.0.0+up2}\n    - {name: r, version: 1.0.0+up1, digest: a}\n    - {name: r, version: 2.0.0+up0}\n    - {name: r, version: 1.0.0+up1, digest: b}\n";
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        let v = versions(&idx, "r");
        assert_eq!(v, ["2.0.0+up0", "1.0.0+up2", "1.0.0+up1", "1.0.0+up1"]);
        assert_eq!(
            (
                idx.entries["r"][2].digest.as_str(),
                idx.entries["r"][3].digest.as_str()
            ),
            ("a", "b")
        );
    }

    // --- fetch_index against a tiny local HTTP server --------------------------------------

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

    // --- issue 7: hostile documents (points 5, 13, 14) ------------------------------------

    fn reason(doc: &str) -> String {
        match parse_index(doc.as_bytes(), "https://h/index.yaml") {
            Err(Error::NotAnIndex { reason, .. }) => reason,
            other => panic!("{doc:.80?}: {other:?}"),
        }
    }

    #[test]
    fn refuses_nesting_that_costs_quadratic_time() {
        // The issue's document: 42 s of CPU in serde_yaml before the guard.
        let brackets = format!(
            "apiVersion: v1\nentries: {}{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let r = reason(&brackets);
        assert!(
            r.contains("nested deeper than 64 levels at line 2, column 74"),
            "{r}"
        );
        let maps = format!(
            "apiVersion: v1\nentries: {}x{}\n",
            "{a: ".repeat(50_000),
            "}".repeat(50_000)
        );
        assert!(reason(&maps).contains("nested deeper than 64"));
        // As JSON too (serde_json refuses it at depth 128, then YAML is asked).
        let json = format!(
            "{{\"apiVersion\":\"v1\",\"entries\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(reason(&json).contains("nested deeper than 64"));
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut doc = String::from(
            "apiVersion: v1\nentries:\n  c:\n    - &v {name: c, version: 1.0.0, junk: [",
        );
        doc.push_str(&"0,".repeat(60_000));
        doc.push_str("0]}\n");
        for _ in 0..40_000 {
            doc.push_str("    - *v\n");
        }
        assert!(reason(&doc).contains("aliases"), "{}", reason(&doc));
        // Modest aliasing is read as Helm reads it.
        let shared =
            "apiVersion: v1\nentries:\n  c:\n    - &v {name: c, version: 1.0.0}\n    - *v\n";
        assert_eq!(
            parse_index(shared.as_bytes(), "u").unwrap().version_count(),
            2
        );
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let mut doc = String::from("apiVersion: v1\nentries:\n  c:\n");
        for i in 0..5000 {
            doc.push_str(&format!("  - {{name: c, version: 1.0.{i}}}\n"));
        }
        let past = ParseDeadline {
            at: Instant::now(),
            timeout: Duration::from_secs(2),
        };
        // Through the guard (flow style: the event pass runs) and through the entry visitors.
        let block = doc
            .replace("{name: c, version: ", "name: c\n    version: ")
            .replace('}', "");
        for d in [&doc, &block] {
            let err =
                parse_index_until(d.as_bytes(), "https://u:p@h/index.yaml", past).unwrap_err();
            assert!(matches!(err, Error::ParseTimeout { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "reading the index https://h/index.yaml took longer than request_timeout (2s)"
            );
        }
        let later = ParseDeadline {
            at: Instant::now() + Duration::from_secs(600),
            ..past
        };
        assert_eq!(
            parse_index_until(doc.as_bytes(), "u", later)
                .unwrap()
                .version_count(),
            5000
        );
    }

    #[test]
    fn explains_malformed_entries() {
        let r = reason("apiVersion: v1\nentries:\n  mychart:\n    - {name: mychart, version: 0.1.0}\n    - 42\n");
        assert_eq!(r, "invalid YAML: chart \"mychart\", entry 2 must be a mapping (name, version, urls, …), not a number (line 5, column 7)");
        let r =
            reason("apiVersion: v1\nentries:\n  other:\n    - name: [x]\n      version: 1.0.0\n");
        assert_eq!(r, "invalid YAML: chart \"other\", entry 1: `name` must be text, not a list (line 4, column 13)");
        let r = reason("apiVersion: v1\nentries:\n  - mychart\n");
        assert_eq!(r, "invalid YAML: `entries` must be a mapping of chart names to lists of versions, not a list (line 3, column 3)");
        let r = reason("apiVersion: v1\nentries:\n  c:\n    name: c\n");
        assert_eq!(r, "invalid YAML: the versions of chart \"c\" must be a list of chart versions, not a mapping (line 4, column 5)");
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c, version: 1.0.0, urls: x}\n");
        assert!(
            r.contains("entry 1: `urls` must be a list, not text"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c, deprecated: maybe}\n");
        assert!(
            r.contains("entry 1: `deprecated` must be true or false, not text"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c}\n  - {name: c, dependencies: [{name: [d]}]}\n");
        assert!(
            r.contains("chart \"c\", entry 2: `dependencies[0].name` must be text, not a list"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  ok: []\n  [a, b]: []\n");
        assert!(
            r.contains("a chart name (a key of `entries`) must be text, not a list (line 4"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c, name: d}\n");
        assert!(
            r.starts_with("invalid YAML: chart \"c\", entry 1: `name` is given twice"),
            "{r}"
        );
        // Syntax errors keep libyaml's words, with the line.
        assert!(reason("apiVersion: v1\nentries: {a: [\n").contains("line 3"));
        // No serde internals anywhere.
        for doc in [
            "apiVersion: v1\nentries: {a: [1]}\n",
            "apiVersion: v1\nentries: {a: [{dependencies: [1]}]}\n",
            "apiVersion: v1\nentries: {a: [{maintainers: {x: 1}}]}\n",
        ] {
            let r = reason(doc);
            assert!(
                !r.contains("Raw") && !r.contains("struct") && !r.contains("expected"),
                "{r}"
            );
        }
    }

    #[test]
    fn skips_names_with_control_characters() {
        let doc = "apiVersion: v1\nentries:\n  \"\\e[31mevil\\e[0m\":\n    - {name: \"\\e[31mevil\\e[0m\", version: 1.0.0}\n  sneaky:\n    - {name: \"sneaky\\e]0;t\\a\", version: 1.0.0}\n  \"key\\u009b2J\":\n    - {name: key, version: 1.0.0}\n  tab:\n    - {name: \"t\\tab\", version: 1.0.0}\n  zw:\n    - {name: \"z\\u200bw\", version: 1.0.0}\n  ok:\n    - {name: \"o k\", version: 1.0.0}\n";
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        assert_eq!(idx.entries.keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(idx.skipped, 5);
        let ex = idx.skipped_examples.join("\n");
        assert!(ex.contains("chart \"\\u{1b}[31mevil\\u{1b}[0m\" version \"1.0.0\": chart.metadata.name contains control"), "{ex}");
        assert!(ex.contains("chart \"key\\u{9b}2J\" version \"1.0.0\": the chart name (its key in entries) contains control"), "{ex}");
        assert!(!ex.contains('\u{1b}') && !ex.contains('\u{9b}'), "{ex}");
        // The same in JSON.
        let json = r#"{"apiVersion":"v1","entries":{"\u001b[2Jx":[{"name":"\u001b[2Jx","version":"1.0.0"}],"y":[{"name":"y","version":"1.0.0"}]}}"#;
        let idx = parse_index(json.as_bytes(), "u").unwrap();
        assert_eq!((idx.chart_count(), idx.skipped), (1, 1));
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
