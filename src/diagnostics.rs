//! The one bridge from [`Error`] to Terraform diagnostics: a title-case summary, an actionable
//! detail and the attribute at fault.

use tf_provider::{AttributePath, Diagnostic, Diagnostics};

use crate::error::{Culprit, Error};

/// Where each kind of culprit points in a given resource's schema.
#[derive(Debug, Clone, Copy)]
pub struct AttrMap {
    pub endpoint: &'static str,
    /// Attribute blamed for rejected credentials (`password` when a username is set).
    pub credentials: Option<&'static str>,
    pub tls: &'static str,
    pub base_paths: Option<&'static str>,
}

impl AttrMap {
    pub fn path(&self, culprit: Culprit) -> AttributePath {
        match culprit {
            Culprit::Endpoint => AttributePath::new(self.endpoint),
            Culprit::Credentials => AttributePath::new(self.credentials.unwrap_or("username")),
            Culprit::Tls => AttributePath::new(self.tls),
            Culprit::BasePaths => AttributePath::new(self.base_paths.unwrap_or(self.endpoint)),
            Culprit::Provider | Culprit::None => AttributePath::root(),
        }
    }
}

/// Title-case summary for an error.
pub fn summary(err: &Error) -> &'static str {
    match err {
        Error::InvalidUrl { .. } => "Invalid Endpoint",
        Error::Dns { .. } => "Registry Host Not Found",
        Error::Connect { .. } => "Registry Unreachable",
        Error::Tls { .. } => "Registry TLS Certificate Not Trusted",
        Error::TlsName { .. } => "Registry TLS Certificate Name Mismatch",
        Error::Timeout { .. } => "Registry Request Timed Out",
        Error::Unauthorized { .. } => "Registry Credentials Rejected",
        Error::NotFound { .. } => "Registry Index Not Found",
        Error::HttpStatus { .. } => "Unexpected Registry Response",
        Error::NotAnIndex { .. } => "Not A Helm Repository Index",
        Error::TooLarge { .. } => "Registry Index Too Large",
        Error::ParseTimeout { .. } => "Registry Index Parse Timed Out",
        Error::Redirect { .. } => "Registry Redirect Refused",
        Error::Protocol { .. } => "Registry Protocol Error",
        Error::EmptyBasePath { .. } => "No Helm Charts Under Base Path",
        Error::CatalogUnsupported { .. } => "Registry Catalog Not Listable",
        Error::Cache { .. } => "Chart Cache Not Writable",
        Error::Config(_) => "Invalid Configuration",
        Error::Transport { .. } => "Registry Request Failed",
        Error::RetryLater { .. } => "Registry Busy",
        Error::Cancelled { .. } => "Operation Cancelled",
    }
}

/// What the user can do about it.
pub fn hint(err: &Error, have_credentials: bool) -> &'static str {
    match err {
        Error::Dns { .. } => "Check the host name in `endpoint` and the machine's DNS (and HTTPS_PROXY/NO_PROXY).",
        Error::Connect { .. } | Error::Transport { .. } => {
            "Check that `endpoint` names a running server and port reachable from where Terraform runs (and HTTPS_PROXY/NO_PROXY)."
        }
        Error::Tls { .. } => {
            "Trust the registry's CA with `ca_certificate` (PEM), or, for a test registry only, set `insecure_skip_tls_verify = true`. SSL_CERT_FILE is honoured for the system roots."
        }
        Error::TlsName { .. } => {
            "The certificate is trusted but issued for other names than the host in `endpoint`: write the host as the certificate names it (see above), or have the registry's certificate reissued for this name."
        }
        Error::Timeout { .. } => "The registry did not answer in time: check it, or raise the provider's `request_timeout`.",
        Error::Unauthorized { .. } if have_credentials => "Check `username` and `password`: the registry refused them.",
        Error::Unauthorized { .. } => "The registry requires authentication (set `username` and `password`), or it denies access to everyone from here.",
        Error::NotFound { .. } => "Check `endpoint`: it must be the repository URL under which `index.yaml` is served.",
        Error::NotAnIndex { .. } => "Check `endpoint`: the URL must serve a Helm repository `index.yaml` (apiVersion v1 with entries).",
        Error::TooLarge { .. } => "Raise the provider's `max_index_size` if this index is expected to be that large.",
        Error::ParseTimeout { .. } => "The index is too large or too complex to read in time: check what `endpoint` serves, or raise the provider's `request_timeout` if the index is expected to be that large.",
        Error::Redirect { .. } => "Point `endpoint` at the final location of the repository.",
        Error::EmptyBasePath { .. } => "Check `base_content_paths`: each entry must name a repository that holds Helm charts, or a prefix of such repositories.",
        Error::CatalogUnsupported { .. } => "Name the chart repositories themselves in `base_content_paths`.",
        Error::Cache { .. } => "Set the provider's `cache_dir` to a writable directory.",
        Error::HttpStatus { .. } | Error::Protocol { .. } => "Check `endpoint` and the registry's health.",
        Error::RetryLater { .. } => "The registry asked to be retried later than chartreg waits: try again later, or raise the provider's `request_timeout` to wait that long.",
        Error::InvalidUrl { .. } | Error::Config(_) | Error::Cancelled { .. } => "",
    }
}

/// Build the diagnostic for `err` in the context of a resource.
pub fn to_diagnostic(
    err: &Error,
    attrs: &AttrMap,
    have_credentials: bool,
    context: &str,
) -> Diagnostic {
    let mut detail = format!("{context}: {err}.");
    let h = hint(err, have_credentials);
    if !h.is_empty() {
        detail.push_str("\n\n");
        detail.push_str(h);
    }
    Diagnostic::new(summary(err), detail, attrs.path(err.culprit()))
}

/// Record `err` as an error.
pub fn error(
    diags: &mut Diagnostics,
    err: &Error,
    attrs: &AttrMap,
    have_credentials: bool,
    context: &str,
) {
    diags.add_error(to_diagnostic(err, attrs, have_credentials, context));
}

/// Record `err` as a warning (e.g. a refresh that keeps the previous index).
pub fn warning(
    diags: &mut Diagnostics,
    err: &Error,
    attrs: &AttrMap,
    have_credentials: bool,
    context: &str,
) {
    diags.add_warning(to_diagnostic(err, attrs, have_credentials, context));
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: AttrMap = AttrMap {
        endpoint: "endpoint",
        credentials: Some("password"),
        tls: "ca_certificate",
        base_paths: None,
    };

    #[test]
    fn tls_error_points_at_ca_certificate() {
        let e = Error::Tls {
            url: "https://h/index.yaml".into(),
            detail: "unknown issuer".into(),
        };
        let d = to_diagnostic(&e, &A, false, "Validating registry \"x\"");
        assert_eq!(d.summary, "Registry TLS Certificate Not Trusted");
        assert!(d.detail.contains("ca_certificate"));
        assert_eq!(d.attribute, AttributePath::new("ca_certificate"));
    }

    #[test]
    fn tls_name_mismatch_points_at_endpoint() {
        let e = Error::TlsName {
            url: "https://127.0.0.1:1/index.yaml".into(),
            detail: "certificate not valid for name \"127.0.0.1\"".into(),
        };
        let d = to_diagnostic(&e, &A, false, "Validating registry \"x\"");
        assert_eq!(d.summary, "Registry TLS Certificate Name Mismatch");
        assert_eq!(d.attribute, AttributePath::new("endpoint"));
        assert!(d.detail.contains("for another name"));
        assert!(!d.detail.contains("ca_certificate"));
    }

    #[test]
    fn unauthorized_without_credentials_points_at_username() {
        let e = Error::Unauthorized {
            url: "u".into(),
            status: 401,
        };
        let a = AttrMap {
            credentials: None,
            ..A
        };
        let d = to_diagnostic(&e, &a, false, "x");
        assert_eq!(d.attribute, AttributePath::new("username"));
        assert!(d.detail.contains("requires authentication"));
    }
}
