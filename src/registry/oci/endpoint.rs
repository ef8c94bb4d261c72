//! The endpoint of an OCI registry as the user writes it (`host[:port][/path]`, with `https://`,
//! `oci://` or `http://`), the repository paths below it and the catalog keys relative to it.
//!
//! Pure: no I/O, so the resources run all of it at plan time (`validate`) and put the error on the
//! attribute at fault. Kept apart from the client because the data sources and the ECR endpoint
//! parsing (region from the host) build on the same [`OciEndpoint`].

use url::Url;

use crate::error::{redact_url, Error, Result};

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
    ///
    /// [`SyncReport::repositories`]: super::SyncReport::repositories
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

pub(super) fn invalid(url: &str, reason: impl Into<String>) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
