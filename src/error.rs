//! The one error type of chartreg. Every variant carries the URL (redacted: no userinfo, no query)
//! or the registry it is about. Secrets never go into an error: URLs are redacted on the way in and
//! response bodies are only kept for non-auth failures, as a short excerpt scrubbed of every
//! credential the request carried (`registry::scrub`).

use std::time::Duration;

/// Which part of the configuration an error is most likely about; `diagnostics.rs` turns it into
/// an attribute path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Culprit {
    Endpoint,
    Credentials,
    Tls,
    BasePaths,
    Provider,
    /// An attribute of the `ecr` block (Amazon ECR and STS failures).
    Ecr(EcrSetting),
    None,
}

/// The `ecr` setting an Amazon ECR or STS failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrSetting {
    AccessKeyId,
    SecretAccessKey,
    RoleArn,
    Region,
    /// The block as a whole (credentials from the default chain, an endpoint override).
    Block,
}

impl EcrSetting {
    /// The attribute's name in the `ecr` block (`None`: the block itself).
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            EcrSetting::AccessKeyId => Some("access_key_id"),
            EcrSetting::SecretAccessKey => Some("secret_access_key"),
            EcrSetting::RoleArn => Some("role_arn"),
            EcrSetting::Region => Some("region"),
            EcrSetting::Block => None,
        }
    }
}

/// What went wrong with an Amazon ECR or STS call ([`Error::Aws`]); the diagnostic's summary and
/// hint come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsFailure {
    /// AWS does not know the access key ID (`InvalidClientTokenId`, `UnrecognizedClientException`).
    UnknownAccessKey,
    /// The signature does not match: the secret access key is not the key ID's.
    WrongSecretKey,
    /// Temporary credentials that expired or whose session token is invalid.
    ExpiredCredentials,
    /// The default credential chain found no credentials.
    NoCredentials,
    /// `sts:AssumeRole` was refused (trust relationship, `external_id`, permissions).
    AssumeRoleDenied,
    /// The identity may not call this action (`AccessDeniedException`).
    NotAuthorized,
    /// No region is configured nor can be derived.
    NoRegion,
    /// The region's API endpoint cannot be reached (an unknown region has no such host).
    Unreachable,
    /// The region holds no repository at all: most likely not the registry's region.
    EmptyRegion,
    /// Anything else (throttled after retries, a server error, an unreadable answer).
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `url` is redacted again when shown: a caller's slip cannot echo a secret.
    #[error("invalid URL {:?}: {reason}", redact_url(url))]
    InvalidUrl { url: String, reason: String },

    #[error("cannot resolve the host of {url}: {detail}")]
    Dns { url: String, detail: String },

    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },

    #[error("the TLS certificate of {url} is not trusted: {detail}")]
    Tls { url: String, detail: String },

    /// A certificate the client trusts, but issued for other names than the host connected to.
    #[error("the TLS certificate of {url} is for another name: {detail}")]
    TlsName { url: String, detail: String },

    #[error("request to {url} timed out after {after:?}")]
    Timeout { url: String, after: Duration },

    #[error("{url} refused the credentials (HTTP {status})")]
    Unauthorized { url: String, status: u16 },

    #[error("{url} was not found (HTTP 404)")]
    NotFound { url: String },

    #[error("{url} answered HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },

    #[error("{url} is not a Helm repository index: {reason}")]
    NotAnIndex { url: String, reason: String },

    /// `limit` is `max_index_size` for indexes and listings, a fixed cap for manifests, blobs and
    /// tokens; the diagnostic's hint says which.
    #[error("{url} is larger than the size limit ({limit} bytes)")]
    TooLarge { url: String, limit: u64 },

    #[error("reading the index {url} took longer than request_timeout ({after:?})")]
    ParseTimeout { url: String, after: Duration },

    #[error("{url}: {detail}")]
    Redirect { url: String, detail: String },

    #[error("{url}: {detail}")]
    Protocol { url: String, detail: String },

    #[error("registry {registry}: base path {path:?} holds no Helm chart{hint}")]
    EmptyBasePath {
        registry: String,
        path: String,
        hint: String,
    },

    #[error("registry {registry} does not list its catalog ({detail}); name the chart repositories in base_content_paths or in the endpoint path")]
    CatalogUnsupported { registry: String, detail: String },

    #[error("cache {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },

    #[error("{0}")]
    Config(String),

    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },

    #[error("{url} answered HTTP {status} and asked to be retried in {} s, longer than chartreg waits ({} s)", after.as_secs(), limit.as_secs_f64().ceil() as u64)]
    RetryLater {
        url: String,
        status: u16,
        /// What the registry's `Retry-After` asked for.
        after: Duration,
        /// The longest wait allowed (`request_timeout`, or what is left of the request's budget).
        limit: Duration,
    },

    #[error("the request to {url} was cancelled: Terraform is stopping")]
    Cancelled { url: String },

    /// An Amazon ECR or STS call failed. `call` says which (`Amazon ECR GetAuthorizationToken`,
    /// `AWS STS AssumeRole of arn:…`, `the AWS default credential chain`); `detail` is AWS's error
    /// code and message, scrubbed of every credential (see `registry::ecr`).
    #[error("{call} failed: {detail}")]
    Aws {
        call: String,
        failure: AwsFailure,
        setting: EcrSetting,
        detail: String,
    },

    /// The registry refused the Amazon ECR authorization token (sent as Basic `AWS:<token>`).
    #[error("{url} refused the Amazon ECR authorization token (HTTP {status})")]
    EcrTokenRefused { url: String, status: u16 },

    /// A redirect to another host (blob storage: Amazon ECR sends blobs from S3) failed there.
    /// `url` is the storage URL (redacted: the signed query is dropped).
    #[error("the registry redirected the download to {host}, which failed: {detail}")]
    RedirectTarget {
        url: String,
        host: String,
        detail: String,
        /// Whether the failure there may pass when tried again (connection trouble, timeouts).
        transient: bool,
    },
    /// A chart archive that Helm's loader would refuse, or that chartreg cannot read safely.
    #[error("{url} is not a valid Helm chart archive: {reason}")]
    InvalidChart { url: String, reason: String },

    /// A downloaded chart archive whose sha256 is not the one the registry listed; nothing of it
    /// is kept. Digests are lower-case hex with their algorithm (`sha256:…`).
    #[error("the chart archive {url} does not match its digest: the registry lists {expected}, the download is {actual}")]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    /// A chart archive over the provider's `max_chart_size` (as announced, or while streaming).
    #[error("the chart archive {url} is larger than max_chart_size ({limit} bytes)")]
    ChartTooLarge { url: String, limit: u64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The (redacted) URL of the request that failed, for errors about one request.
    pub fn url(&self) -> Option<&str> {
        match self {
            Error::InvalidUrl { url, .. }
            | Error::Dns { url, .. }
            | Error::Connect { url, .. }
            | Error::Tls { url, .. }
            | Error::TlsName { url, .. }
            | Error::Timeout { url, .. }
            | Error::Unauthorized { url, .. }
            | Error::NotFound { url }
            | Error::HttpStatus { url, .. }
            | Error::NotAnIndex { url, .. }
            | Error::TooLarge { url, .. }
            | Error::ParseTimeout { url, .. }
            | Error::Redirect { url, .. }
            | Error::Protocol { url, .. }
            | Error::Transport { url, .. }
            | Error::RetryLater { url, .. }
            | Error::EcrTokenRefused { url, .. }
            | Error::RedirectTarget { url, .. }
            | Error::InvalidChart { url, .. }
            | Error::DigestMismatch { url, .. }
            | Error::ChartTooLarge { url, .. }
            | Error::Cancelled { url } => Some(url),
            Error::Aws { .. }
            | Error::EmptyBasePath { .. }
            | Error::CatalogUnsupported { .. }
            | Error::Cache { .. }
            | Error::Config(_) => None,
        }
    }

    /// The configuration part most likely at fault.
    pub fn culprit(&self) -> Culprit {
        match self {
            Error::InvalidUrl { .. }
            | Error::Dns { .. }
            | Error::Connect { .. }
            | Error::Timeout { .. }
            | Error::NotFound { .. }
            | Error::NotAnIndex { .. }
            | Error::ParseTimeout { .. }
            | Error::Redirect { .. }
            | Error::Protocol { .. }
            | Error::HttpStatus { .. }
            | Error::Transport { .. }
            | Error::TlsName { .. }
            | Error::RetryLater { .. }
            | Error::EcrTokenRefused { .. }
            | Error::RedirectTarget { .. }
            | Error::InvalidChart { .. }
            | Error::DigestMismatch { .. }
            | Error::CatalogUnsupported { .. } => Culprit::Endpoint,
            Error::Aws { setting, .. } => Culprit::Ecr(*setting),
            Error::Tls { .. } => Culprit::Tls,
            Error::Unauthorized { .. } => Culprit::Credentials,
            Error::EmptyBasePath { .. } => Culprit::BasePaths,
            Error::TooLarge { .. } | Error::ChartTooLarge { .. } | Error::Cache { .. } => {
                Culprit::Provider
            }
            Error::Config(_) | Error::Cancelled { .. } => Culprit::None,
        }
    }

    /// Whether a retry may help (connection trouble, timeouts, bodies that broke off, HTTP 408,
    /// 429 and 5xx except 501 and 505): the policy of `registry::http`.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::HttpStatus { status, .. } => reqwest::StatusCode::from_u16(*status)
                .is_ok_and(crate::registry::http::retryable_status),
            e => crate::registry::http::retryable_error(e),
        }
    }
}

/// A URL fit for error text and logs: no userinfo, no query string, no fragment. Input that does
/// not parse as a URL with a host (`"robot:S3cret@h:5000"`, `"https://ci:pw@[::1/x"`) is redacted
/// as text: everything up to the last `@` and from the first `?` or `#` is dropped, and where the
/// two overlap (an `@` after a `?`) only the scheme is kept.
pub fn redact_url(raw: &str) -> String {
    if let Ok(mut u) = url::Url::parse(raw) {
        if u.has_host() && !u.cannot_be_a_base() {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?…");
            }
            // An `@` left in the path (`http:/h:0/x//u:pw@h2/`, where the URL parser found
            // another host first) may still be userinfo as the user meant it: redact as text.
            if s.contains('@') {
                return redact_text(raw);
            }
            return s;
        }
    }
    redact_text(raw)
}

/// [`redact_url`] for text that is not a URL with a host.
fn redact_text(raw: &str) -> String {
    let scheme = raw.split_once("://").map(|(s, _)| s).filter(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let rest = match scheme {
        Some(s) => &raw[s.len() + 3..],
        None => raw,
    };
    let cut = rest.find(['?', '#']);
    let at = rest.rfind('@');
    let kept = match (at, cut) {
        // An `@` after a `?`: a password holding `?` or a query holding `@`; keep neither side.
        (Some(a), Some(c)) if a > c => "…".to_string(),
        _ => {
            let start = at.map_or(0, |a| a + 1);
            let end = cut.unwrap_or(rest.len());
            let mut k = rest[start..end].to_string();
            if cut.is_some_and(|c| rest[c..].starts_with('?')) {
                k.push_str("?…");
            }
            k
        }
    };
    match scheme {
        Some(s) => format!("{s}://{kept}"),
        None => kept,
    }
}

/// A link of an error chain that only says which part of the HTTP stack failed
/// (hyper-util's `client error (Connect)`, `client error (SendRequest)`).
pub(crate) fn is_library_wrapper(s: &str) -> bool {
    s.starts_with("client error (") && s.ends_with(')')
}

/// Classify a transport-level `reqwest` error (no HTTP status) for `url`.
pub fn from_reqwest(url: &str, err: &reqwest::Error, timeout: Duration) -> Error {
    let url = redact_url(url);
    // Walk the source chain: reqwest wraps hyper, which wraps io/rustls/dns errors.
    let mut chain = Vec::new();
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = src {
        chain.push(e.to_string());
        src = e.source();
    }
    // reqwest's own message repeats the URL (possibly with a query): keep only inner causes,
    // without hyper's wrapper (`client error (Connect)`), which names a library, not a cause.
    let detail = chain
        .iter()
        .skip(1)
        .map(|s| s.as_str())
        .filter(|s| !is_library_wrapper(s))
        .collect::<Vec<_>>()
        .join(": ");
    let detail = if detail.is_empty() {
        "request failed".to_string()
    } else {
        detail
    };
    let lower = detail.to_ascii_lowercase();
    if err.is_timeout() {
        Error::Timeout {
            url,
            after: timeout,
        }
    } else if lower.contains("not valid for name") || lower.contains("notvalidforname") {
        // Checked after the chain: the CA is trusted, the host in the URL is not a certificate name.
        Error::TlsName { url, detail }
    } else if lower.contains("certificate")
        || lower.contains("invalidcertificate")
        || lower.contains("unknownissuer")
        || lower.contains("tls handshake")
    {
        Error::Tls { url, detail }
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        Error::Dns { url, detail }
    } else if err.is_connect() {
        Error::Connect { url, detail }
    } else {
        Error::Transport { url, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_refused_names_the_cause_not_the_library() {
        // A port nothing listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let url = format!("http://127.0.0.1:{port}/index.yaml");
        let err = reqwest::Client::new()
            .get(&url)
            .send()
            .await
            .expect_err("nothing listens there");
        match from_reqwest(&url, &err, Duration::from_secs(5)) {
            Error::Connect { detail, .. } => {
                assert!(!detail.contains("client error"), "{detail}");
                assert!(detail.contains("Connection refused"), "{detail}");
            }
            other => panic!("expected Connect, got {other:?}"),
        }
        assert!(is_library_wrapper("client error (Connect)"));
        assert!(!is_library_wrapper("tcp connect error"));
    }

    #[test]
    fn redacts_userinfo_and_query() {
        assert_eq!(
            redact_url("https://u:p@example.com/x/index.yaml?token=abc"),
            "https://example.com/x/index.yaml?…"
        );
        assert_eq!(redact_url("http://h:8080/a"), "http://h:8080/a");
    }

    #[test]
    fn redacts_what_does_not_parse() {
        let cases = [
            ("https://ci:pw@[::1/x", "https://[::1/x"),
            ("robot:S3cret@127.0.0.1:5000", "127.0.0.1:5000"),
            (
                "robot:S3/cret@127.0.0.1:5000/charts",
                "127.0.0.1:5000/charts",
            ),
            ("https://[::1/x?token=T0k", "https://[::1/x?…"),
            ("127.0.0.1:5000/c?token=T0k#f", "127.0.0.1:5000/c?…"),
            ("https://u:p?w@[::1/x", "https://…"),
            ("https://[::1/x?t=a@b", "https://…"),
            ("robot:S3cret@h://x", "h://x"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(redact_url(raw), want, "{raw}");
        }
        // Parses, but as a URL without a host ("robot" is the scheme): redacted as text.
        assert_eq!(redact_url("robot:S3cret@h:5000"), "h:5000");
        // Parses with a host found before the userinfo (found by the `endpoints` fuzz target,
        // fuzz/regressions/endpoints/): the `u:p2h4@` left in the path is redacted as text.
        let raw = "http:/27.0.0.1:0/x\u{5f2cb}p://u:p2h4@53w1/x1tgz";
        assert!(!redact_url(raw).contains("p2h4"), "{}", redact_url(raw));
        assert_eq!(redact_url("https://h/a/u:pw@b/c"), "https://b/c");
        // Idempotent.
        for raw in ["https://u:p@h/x?t=1", "https://ci:pw@[::1/x", raw] {
            assert_eq!(redact_url(&redact_url(raw)), redact_url(raw));
        }
    }

    #[test]
    fn invalid_url_display_never_echoes_secrets() {
        let e = Error::InvalidUrl {
            url: "robot:S3cret@127.0.0.1:5000?token=T0k".into(),
            reason: "r".into(),
        };
        let s = e.to_string();
        assert!(!s.contains("S3cret") && !s.contains("T0k"), "{s}");
    }

    #[test]
    fn culprits() {
        let e = Error::Unauthorized {
            url: "u".into(),
            status: 401,
        };
        assert_eq!(e.culprit(), Culprit::Credentials);
        assert!(!e.is_transient());
        let e = Error::HttpStatus {
            url: "u".into(),
            status: 503,
            body: String::new(),
        };
        assert!(e.is_transient());
    }
}
