//! The one bridge from [`Error`] to Terraform diagnostics: a title-case summary, an actionable
//! detail and the attribute at fault.
//!
//! Each Terraform object describes itself with an [`ErrorMap`]: the kind of registry it reads
//! (summaries and hints are worded for what was being fetched there: a Helm index, an OCI
//! manifest, config blob, listing or token) and a function from an error to any attribute path
//! of its own schema (`endpoint`, `base_content_paths`, a nested `ecr.role_arn`, a data source's
//! `version`).

use tf_provider::{AttributePath, Diagnostic, Diagnostics};

use crate::error::{AwsFailure, Culprit, EcrSetting, Error};
use crate::registry::request::{Protocol, Request};

/// How one Terraform object turns errors into diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct ErrorMap {
    /// The kind of registry the object reads.
    pub protocol: Protocol,
    /// The attribute an error is about, given the error and its [`ErrorMap::culprit`]: any path
    /// of the object's schema; the root (the whole block) when none fits.
    pub at: fn(&Error, Culprit) -> AttributePath,
}

impl ErrorMap {
    /// What a refresh keeps when it fails.
    pub fn kept_on_refresh(&self) -> &'static str {
        match self.protocol {
            Protocol::Helm => "index",
            Protocol::Oci => "catalog",
        }
    }

    /// What the failed request was for (`None` for errors not about one request).
    pub fn request(&self, err: &Error) -> Option<Request> {
        err.url().map(|u| Request::of(self.protocol, u))
    }

    /// [`Error::culprit`], knowing what was fetched: only indexes and listings are limited by
    /// the provider's `max_index_size`; an oversized manifest, blob or token is the registry's.
    pub fn culprit(&self, err: &Error) -> Culprit {
        match (err, self.request(err)) {
            (
                Error::TooLarge { .. },
                Some(Request::Manifest | Request::Blob | Request::Token | Request::Ping),
            ) => Culprit::Endpoint,
            _ => err.culprit(),
        }
    }

    /// The attribute `err` is about.
    pub fn attribute(&self, err: &Error) -> AttributePath {
        (self.at)(err, self.culprit(err))
    }
}

/// The attribute of the registry resources' own schemas each culprit points at (a helper for
/// [`ErrorMap::at`]): `endpoint`, `password`, `ca_certificate`, and `base_paths` (the attribute
/// holding the base paths, or `endpoint` when the object has none).
pub fn registry_attribute(culprit: Culprit, base_paths: &'static str) -> AttributePath {
    match culprit {
        Culprit::Endpoint => AttributePath::new("endpoint"),
        Culprit::Credentials => AttributePath::new("password"),
        Culprit::Tls => AttributePath::new("ca_certificate"),
        Culprit::BasePaths => AttributePath::new(base_paths),
        Culprit::Ecr(s) => ecr_attribute(s),
        Culprit::Provider | Culprit::None => AttributePath::root(),
    }
}

/// The path of an `ecr` block setting (the block has at most one instance: `ecr[0].region`); the
/// block itself for [`EcrSetting::Block`]. Terraform points a path that the configuration does not
/// write (credentials from the default chain) at the enclosing block.
pub fn ecr_attribute(s: EcrSetting) -> AttributePath {
    let block = AttributePath::new("ecr").index(0);
    match s.attribute() {
        Some(a) => block.attribute(a),
        None => block,
    }
}

/// Title-case summary for an error met by an object that reads `map.protocol`.
pub fn summary(err: &Error, map: &ErrorMap) -> &'static str {
    let req = map.request(err);
    match err {
        Error::InvalidUrl { .. } => "Invalid Endpoint",
        Error::Dns { .. } => "Registry Host Not Found",
        Error::Connect { .. } => "Registry Unreachable",
        Error::Tls { .. } => "Registry TLS Certificate Not Trusted",
        Error::TlsName { .. } => "Registry TLS Certificate Name Mismatch",
        Error::Timeout { .. } => "Registry Request Timed Out",
        Error::Unauthorized { .. } => "Registry Credentials Rejected",
        Error::NotFound { .. } => match req {
            Some(Request::Index) => "Registry Index Not Found",
            Some(Request::Archive) => "Chart Archive Not Found",
            Some(Request::Ping) => "Registry API Not Found",
            Some(Request::Catalog) => "Registry Catalog Not Found",
            Some(Request::Tags) => "Chart Repository Not Found",
            Some(Request::Manifest) => "Chart Manifest Not Found",
            Some(Request::Blob) => "Chart Blob Not Found",
            Some(Request::Token) => "Registry Token Service Not Found",
            None => "Registry Resource Not Found",
        },
        Error::HttpStatus { .. } => "Unexpected Registry Response",
        Error::NotAnIndex { .. } => "Not A Helm Repository Index",
        Error::TooLarge { .. } => match req {
            Some(Request::Index) | None => "Registry Index Too Large",
            Some(Request::Archive) => "Chart Archive Too Large",
            Some(Request::Catalog | Request::Tags) => "Registry Listing Too Large",
            Some(Request::Ping) => "Registry Response Too Large",
            Some(Request::Manifest) => "Chart Manifest Too Large",
            Some(Request::Blob) => "Chart Blob Too Large",
            Some(Request::Token) => "Registry Token Too Large",
        },
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
        Error::Aws { failure, .. } => match failure {
            AwsFailure::UnknownAccessKey => "AWS Access Key Not Recognised",
            AwsFailure::WrongSecretKey => "AWS Secret Access Key Rejected",
            AwsFailure::ExpiredCredentials => "AWS Credentials Expired",
            AwsFailure::NoCredentials => "AWS Credentials Not Found",
            AwsFailure::AssumeRoleDenied => "AWS AssumeRole Denied",
            AwsFailure::NotAuthorized => "AWS Action Not Authorized",
            AwsFailure::NoRegion => "AWS Region Missing",
            AwsFailure::Unreachable => "AWS API Unreachable",
            AwsFailure::EmptyRegion => "No ECR Repository In Region",
            AwsFailure::Other => "AWS Request Failed",
        },
        Error::EcrTokenRefused { .. } => "Registry Refused The ECR Token",
        Error::RedirectTarget { .. } => "Blob Storage Unreachable",
        Error::InvalidChart { .. } => "Invalid Chart Archive",
        Error::DigestMismatch { .. } => "Chart Archive Digest Mismatch",
        Error::ChartTooLarge { .. } => "Chart Archive Too Large",
    }
}

/// What the user can do about it.
pub fn hint(err: &Error, map: &ErrorMap, have_credentials: bool) -> &'static str {
    let req = map.request(err);
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
        Error::NotFound { .. } => match req {
            Some(Request::Index) => "Check `endpoint`: it must be the repository URL under which `index.yaml` is served.",
            Some(Request::Archive) => "The index lists a chart archive the server does not have: the repository is inconsistent (re-index it).",
            Some(Request::Tags) => "Check `endpoint` and `base_content_paths`: the registry has no repository of that name.",
            Some(Request::Manifest) => "A tag the registry listed has no manifest (deleted while listing?): run again; if it persists, the registry is inconsistent.",
            Some(Request::Blob) => "The registry lists the chart but has no blob its manifest names: its storage is inconsistent; push the chart again.",
            Some(Request::Token) => "The token service the registry names in its challenge answered 404: check the registry's authentication setup.",
            Some(Request::Ping | Request::Catalog) | None => "Check `endpoint`: it must name an OCI registry (its `/v2/` API).",
        },
        Error::NotAnIndex { .. } => "Check `endpoint`: the URL must serve a Helm repository `index.yaml` (apiVersion v1 with entries).",
        Error::TooLarge { .. } => match req {
            Some(Request::Index | Request::Catalog | Request::Tags) | None => "Raise the provider's `max_index_size` if this is expected to be that large.",
            _ => "This is far larger than a Helm chart's; check what the registry stores there.",
        },
        Error::ParseTimeout { .. } => "The index is too large or too complex to read in time: check what `endpoint` serves, or raise the provider's `request_timeout` if the index is expected to be that large.",
        Error::Redirect { .. } => "Point `endpoint` at the final location of the repository.",
        Error::EmptyBasePath { .. } => "Check `base_content_paths`: each entry must name a repository that holds Helm charts, or a prefix of such repositories.",
        Error::CatalogUnsupported { .. } => "Name the chart repositories themselves in `base_content_paths`.",
        Error::Cache { .. } => "Set the provider's `cache_dir` to a writable directory.",
        Error::HttpStatus { .. } | Error::Protocol { .. } => "Check `endpoint` and the registry's health.",
        Error::RetryLater { .. } => "The registry asked to be retried later than chartreg waits: try again later, or raise the provider's `request_timeout` to wait that long.",
        Error::InvalidChart { .. } => "The registry serves a chart archive Helm could not load either: check the chart (`helm show chart` on the downloaded archive) and publish a valid one.",
        Error::DigestMismatch { .. } => "The archive changed after the registry listed it, or the server corrupts it on the way: nothing was cached. Re-index the repository (or push the chart again) if the chart was re-published, else check the server and any proxy in between.",
        Error::ChartTooLarge { .. } => "Raise the provider's `max_chart_size` if the chart is expected to be that large.",
        Error::InvalidUrl { .. } | Error::Config(_) | Error::Cancelled { .. } => "",
        Error::Aws { failure, .. } => aws_hint(*failure),
        Error::EcrTokenRefused { .. } => "The token was minted, but the registry in `endpoint` does not accept it: check that `endpoint` is the ECR registry of the account and region the credentials are for (`<account>.dkr.ecr.<region>.amazonaws.com`, region in `ecr.region`), and that the identity may pull there (ecr:ListImages, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer; a repository policy for another account).",
        Error::RedirectTarget { .. } => "The registry stores blobs on another host and redirects downloads there (Amazon ECR: `prod-<region>-starport-layer-bucket.s3.<region>.amazonaws.com`). Networks that restrict outbound traffic (firewalls, proxies: HTTPS_PROXY/NO_PROXY) must allow that host as well as the registry. The registry's credentials are not sent there.",
    }
}

fn aws_hint(f: AwsFailure) -> &'static str {
    match f {
        AwsFailure::UnknownAccessKey => "Check `ecr.access_key_id` (or the AWS credentials of the environment when it is not set): AWS does not know this access key; it may have been deleted or deactivated.",
        AwsFailure::WrongSecretKey => "Check `ecr.secret_access_key`: it is not the secret of the access key in `ecr.access_key_id` (or of the environment's credentials).",
        AwsFailure::ExpiredCredentials => "The temporary AWS credentials (session token) expired or are invalid: renew them (AWS_SESSION_TOKEN, the profile's SSO session), or use long-term keys or a role.",
        AwsFailure::NoCredentials => "Set `ecr.access_key_id` and `ecr.secret_access_key`, or provide credentials the way every AWS tool finds them: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/config, web identity (AWS_WEB_IDENTITY_TOKEN_FILE), or container / instance metadata.",
        AwsFailure::AssumeRoleDenied => "Check `ecr.role_arn`: the role's trust relationship must allow these source credentials to call sts:AssumeRole, with the `ecr.external_id` it requires (sts:ExternalId condition), and the source identity needs sts:AssumeRole permission on the role.",
        AwsFailure::NotAuthorized => "Grant the identity (the role in `ecr.role_arn`, or the user of the keys) the Amazon ECR actions chartreg calls: ecr:GetAuthorizationToken, ecr:DescribeRepositories, ecr:ListImages, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer (and sts:AssumeRole on the role for `role_arn`).",
        AwsFailure::NoRegion => "Set `ecr.region`, or write `endpoint` as the registry host that names it (`<account>.dkr.ecr.<region>.amazonaws.com`), or set AWS_REGION.",
        AwsFailure::Unreachable => "Check `ecr.region` (an unknown region has no API endpoint) and that the network allows the regional Amazon ECR and STS endpoints (HTTPS_PROXY/NO_PROXY); AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECR and AWS_ENDPOINT_URL_STS override them.",
        AwsFailure::EmptyRegion => "Check `ecr.region`: it must be the region of the registry in `endpoint`; Amazon ECR lists no repository at all for these credentials there.",
        AwsFailure::Other => "Check the AWS service's health and `ecr` settings; the AWS error is quoted above.",
    }
}

/// Build the diagnostic for `err` in the context of an object.
pub fn to_diagnostic(
    err: &Error,
    map: &ErrorMap,
    have_credentials: bool,
    context: &str,
) -> Diagnostic {
    // One full stop: an error that quotes a registry's or AWS's sentence may end with its own.
    let text = err.to_string();
    let stop = if text.ends_with('.') { "" } else { "." };
    let mut detail = format!("{context}: {text}{stop}");
    let h = hint(err, map, have_credentials);
    if !h.is_empty() {
        detail.push_str("\n\n");
        detail.push_str(h);
    }
    Diagnostic::new(summary(err, map), detail, map.attribute(err))
}

/// Record `err` as an error.
pub fn error(
    diags: &mut Diagnostics,
    err: &Error,
    map: &ErrorMap,
    have_credentials: bool,
    context: &str,
) {
    diags.add_error(to_diagnostic(err, map, have_credentials, context));
}

/// Record `err` as a warning (e.g. a refresh that keeps the previous index).
pub fn warning(
    diags: &mut Diagnostics,
    err: &Error,
    map: &ErrorMap,
    have_credentials: bool,
    context: &str,
) {
    diags.add_warning(to_diagnostic(err, map, have_credentials, context));
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ErrorMap = ErrorMap {
        protocol: Protocol::Helm,
        at: |_, c| registry_attribute(c, "endpoint"),
    };
    const OCI: ErrorMap = ErrorMap {
        protocol: Protocol::Oci,
        at: |_, c| registry_attribute(c, "base_content_paths"),
    };

    #[test]
    fn one_full_stop_after_a_quoted_sentence() {
        // AWS's messages end with a full stop (bad_input::apply_time::remote::ecr_unknown_access_key).
        // First line only: under `cargo test` with RUST_BACKTRACE set, tf-provider appends a
        // backtrace (the plugin binary removes the variable).
        let first = |e: Error| {
            let d = to_diagnostic(&e, &A, false, "OCI registry \"x\"");
            d.detail.lines().next().unwrap_or_default().to_string()
        };
        assert_eq!(
            first(Error::Config("the token is invalid.".into())),
            "OCI registry \"x\": the token is invalid."
        );
        assert_eq!(
            first(Error::Config("no full stop".into())),
            "OCI registry \"x\": no full stop."
        );
    }

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

    /// An object maps errors to any path of its schema: a nested block's attribute, a data
    /// source's argument, by culprit or by the error itself.
    #[test]
    fn any_attribute_path() {
        const ECR: ErrorMap = ErrorMap {
            protocol: Protocol::Oci,
            at: |e, c| match c {
                Culprit::Credentials => AttributePath::new("ecr").attribute("role_arn"),
                Culprit::Endpoint if matches!(e, Error::NotFound { .. }) => {
                    AttributePath::new("version")
                }
                c => registry_attribute(c, "base_content_paths"),
            },
        };
        let e = Error::Unauthorized {
            url: "https://r/v2/".into(),
            status: 403,
        };
        let d = to_diagnostic(&e, &ECR, false, "x");
        assert_eq!(d.attribute, AttributePath::new("ecr").attribute("role_arn"));
        assert!(d.detail.contains("requires authentication"));
        let e = Error::NotFound {
            url: "https://r/v2/charts/x/manifests/9.9.9".into(),
        };
        let d = to_diagnostic(&e, &ECR, false, "x");
        assert_eq!(d.attribute, AttributePath::new("version"));
        let e = Error::EmptyBasePath {
            registry: "r".into(),
            path: "p".into(),
            hint: String::new(),
        };
        assert_eq!(
            to_diagnostic(&e, &ECR, false, "x").attribute,
            AttributePath::new("base_content_paths")
        );
    }

    /// Summaries and hints name what was fetched: an OCI config blob's 404 is not a missing
    /// Helm index, and only listings are limited by `max_index_size`.
    #[test]
    fn worded_for_what_was_fetched() {
        let nf = |url: &str| Error::NotFound { url: url.into() };
        let d = to_diagnostic(&nf("https://h/stable/index.yaml"), &A, false, "x");
        assert_eq!(d.summary, "Registry Index Not Found");
        assert!(d.detail.contains("index.yaml"));
        for (url, summary) in [
            ("https://r/v2/c/x/blobs/sha256:00", "Chart Blob Not Found"),
            (
                "https://r/v2/c/x/manifests/1.0.0",
                "Chart Manifest Not Found",
            ),
            ("https://r/v2/c/x/tags/list?…", "Chart Repository Not Found"),
            ("https://r/v2/_catalog?…", "Registry Catalog Not Found"),
            ("https://auth.r/token?…", "Registry Token Service Not Found"),
        ] {
            let d = to_diagnostic(&nf(url), &OCI, false, "x");
            assert_eq!(d.summary, summary, "{url}");
            assert!(!d.detail.contains("index.yaml"), "{url}: {}", d.detail);
        }
        let big = |url: &str| Error::TooLarge {
            url: url.into(),
            limit: 4,
        };
        let d = to_diagnostic(&big("https://r/v2/c/x/manifests/1"), &OCI, false, "x");
        assert_eq!(d.summary, "Chart Manifest Too Large");
        assert!(!d.detail.contains("max_index_size"), "{}", d.detail);
        // The registry's content, not the provider's setting, is at fault.
        assert_eq!(d.attribute, AttributePath::new("endpoint"));
        let d = to_diagnostic(&big("https://r/v2/c/x/tags/list"), &OCI, false, "x");
        assert_eq!(d.summary, "Registry Listing Too Large");
        assert!(d.detail.contains("max_index_size"));
        let d = to_diagnostic(&big("https://h/index.yaml"), &A, false, "x");
        assert_eq!(d.summary, "Registry Index Too Large");
        assert!(d.detail.contains("max_index_size"));
    }
}
