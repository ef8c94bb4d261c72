//! Where a classic Helm repository's documents are: the repository as configured
//! ([`HelmRepo`]), its `index.yaml` URL and the absolute URL of a chart listed in it, both
//! resolved exactly as Helm's `repo.ResolveReferenceURL` does (trailing slash, query string kept,
//! fragment dropped). Kept apart from fetching so that the resolution rules can be read and
//! tested on their own, and reused by whatever downloads a chart.

use url::Url;

use crate::error::{redact_url, Error, Result};
use crate::registry::http::{Credentials, TlsOptions};

/// A classic Helm repository as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmRepo {
    /// The endpoint as the user wrote it (http or https).
    pub endpoint: String,
    pub credentials: Option<Credentials>,
    pub tls: TlsOptions,
    /// Send credentials to chart URLs on other hosts too.
    pub pass_credentials: bool,
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
