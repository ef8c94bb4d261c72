//! OCI registry client (distribution spec) for Helm charts: `/v2/` challenge (Basic or Bearer
//! token), repository and tag listings with `Link` pagination, chart manifests, config blobs and
//! chart archives, and the chart catalog built from them.
//!
//! Nothing here knows about Terraform. The pieces, each in its own file:
//! - [`endpoint`]: pure parsing of `host[:port][/path]` ([`parse_endpoint`]), base paths and
//!   repository names, usable at plan time.
//! - [`auth`]: the authenticated [`Session`] (challenges, tokens per scope, retries through
//!   [`Fetcher`](crate::registry::http::Fetcher)) and the [`CredentialSource`] seam.
//! - [`listing`]: `Link` pagination, `tags/list`, and the [`RepositoryLister`] seam
//!   ([`CatalogLister`]: `_catalog`).
//! - [`chart`]: typed manifest and config documents, tag ↔ version, digests, and the downloads of
//!   config blobs and chart archives (verified, cached by digest; the config blobs in one file,
//!   `config_pack`).
//! - [`sync`]: the catalog algorithm and its reuse rules ([`OciClient::sync`]).
//!
//! [`OciClient`] ties them together: one client per configured registry. [`OciClient::ping`]
//! validates reachability, TLS and credentials; [`OciClient::sync`] builds the chart
//! [`Catalog`](crate::registry::catalog::Catalog); [`OciClient::chart_versions`] lists the semver
//! tags of one repository; [`OciClient::chart_manifest`], [`OciClient::chart_config`] and
//! [`OciClient::chart_archive`] read one chart version as `helm pull` does;
//! [`OciClient::chart_details`] reads its details (Chart.yaml, values) through the same checks.
//!
//! # Why not the `oci-client` crate
//! oras' `oci-client` was evaluated (0.18) and is not used, for these reasons:
//! - it drops the `Link` header of listings, so a registry that pages `tags/list` or `_catalog`
//!   (CNCF distribution answers short pages; Harbor pages) cannot be listed to the end;
//! - its catalog call asks a repository-scoped token, so `_catalog` answers 401 on token
//!   registries that grant `registry:catalog:*`;
//! - it does not verify Basic credentials on ping, so wrong credentials would pass validation and
//!   fail later on the first listing;
//! - it has no retries (here: 5xx, 429 and transient transport errors, with back-off);
//! - it pulls reqwest 0.13 (a second reqwest beside ours) and a second rustls crypto provider
//!   (`aws-lc-rs` beside `ring`). With two providers in the tree rustls has no process default,
//!   and tonic's server TLS config then panics under Terraform's AutoMTLS (`PLUGIN_CLIENT_CERT`,
//!   always set by Terraform): the provider would not start.
//!
//! Secrets: see [`auth`]. The password and tokens travel only in sensitive `Authorization`
//! headers, to the registry's origin and its token realm, and never into logs, errors or state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use url::Url;

use crate::error::{redact_url, Error, Result};
use crate::registry::cache::Cache;
use crate::registry::http::{Credentials, HttpSettings, TlsOptions};
use crate::registry::scrub::Secrets;

pub mod auth;
pub mod chart;
mod config_pack;
pub mod endpoint;
pub mod listing;
pub mod sync;

pub use auth::{parse_challenges, Challenge, CredentialSource, Session, StaticCredentials};
pub use chart::{
    tag_to_version, version_to_tag, ChartConfig, ChartManifest, Descriptor, Manifest,
    BLOB_CACHE_KIND, CHART_CACHE_KIND, DOCKER_MANIFEST_MEDIA_TYPE, HELM_CHART_CONTENT_MEDIA_TYPE,
    HELM_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE,
};
pub use endpoint::{normalize_base_path, parse_endpoint, validate_repository_path, OciEndpoint};
pub use listing::{parse_next_link, CatalogLister, RepositoryLister, RepositoryListing, PAGE_SIZE};
pub use sync::{catalog_digest, SyncReport};

/// Maximum number of registry requests in flight per client.
pub const CONCURRENCY: usize = 8;

/// A configured OCI registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRegistry {
    pub endpoint: OciEndpoint,
    pub credentials: Option<Credentials>,
    pub tls: TlsOptions,
}

/// A client for one OCI registry. Cheap to share (`&self` everywhere); holds the authenticated
/// [`Session`], the [`RepositoryLister`] and config blobs by digest (memory, and the disk cache).
pub struct OciClient {
    endpoint: OciEndpoint,
    session: Session,
    lister: Arc<dyn RepositoryLister>,
    blobs: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<ChartConfig>>>>,
    cache: Option<Cache>,
    /// The config blobs of the disk cache's pack (digest → bytes, unchecked), read at the first
    /// config not in memory; see [`config_pack`].
    pack: tokio::sync::OnceCell<Mutex<HashMap<String, Vec<u8>>>>,
    /// Config blobs downloaded and not yet in the pack: written in one go, off the async
    /// workers, when the sync (or [`OciClient::chart_config`]) ends, see `flush_blobs`.
    unwritten: Mutex<Vec<(String, Vec<u8>)>>,
}

impl std::fmt::Debug for OciClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciClient")
            .field("endpoint", &self.endpoint)
            .field("session", &self.session)
            .field("lister", &self.lister)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A response read in full, as [`Session::get`] gives it to every part of the client.
pub struct Reply {
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// For a non-success status: the start of the body scrubbed of every secret the client
    /// holds (see [`Secrets::excerpt`]); the only server text an error may show.
    pub excerpt: String,
    /// For a non-success status: its OCI error codes, see [`Reply::error_codes`].
    pub codes: Vec<String>,
}

impl Reply {
    /// OCI error codes of an error body (`{"errors":[{"code":…}]}`); messages are not kept, nor
    /// a code that is one of `secrets` (an alphanumeric password echoed as a "code").
    pub fn error_codes(body: &[u8], secrets: &Secrets) -> Vec<String> {
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

    /// The error for a non-success status. Bodies of auth failures are not kept.
    pub fn status_error(&self) -> Error {
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

    /// A protocol error about this reply.
    pub fn protocol(&self, detail: impl Into<String>) -> Error {
        Error::Protocol {
            url: redact_url(self.url.as_str()),
            detail: detail.into(),
        }
    }
}

impl OciClient {
    /// Build a client (no network traffic) with the registry's static credentials and the
    /// `_catalog` lister. `cache` stores config blobs and chart archives by digest (kinds
    /// [`BLOB_CACHE_KIND`], [`CHART_CACHE_KIND`]).
    pub fn new(reg: &OciRegistry, settings: &HttpSettings, cache: Option<Cache>) -> Result<Self> {
        let client = Self::with_sources(
            reg,
            settings,
            cache,
            Arc::new(StaticCredentials(reg.credentials.clone())),
            Arc::new(CatalogLister),
        )?;
        if let Some(c) = &reg.credentials {
            client.session.remember_credentials(c);
        }
        Ok(client)
    }

    /// A client whose credentials and repository listing come from elsewhere (Amazon ECR:
    /// `GetAuthorizationToken`, `DescribeRepositories`); `reg.credentials` is not used.
    pub fn with_sources(
        reg: &OciRegistry,
        settings: &HttpSettings,
        cache: Option<Cache>,
        credentials: Arc<dyn CredentialSource>,
        lister: Arc<dyn RepositoryLister>,
    ) -> Result<Self> {
        Ok(OciClient {
            endpoint: reg.endpoint.clone(),
            session: Session::new(&reg.endpoint, &reg.tls, settings, credentials)?,
            lister,
            blobs: Mutex::new(HashMap::new()),
            cache,
            pack: tokio::sync::OnceCell::new(),
            unwritten: Mutex::new(Vec::new()),
        })
    }

    pub fn endpoint(&self) -> &OciEndpoint {
        &self.endpoint
    }

    /// The authenticated session (for listers and callers that read more of the registry).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// How many token requests this client sent to a token realm (tokens are cached per scope).
    pub fn token_requests(&self) -> usize {
        self.session.token_requests()
    }

    /// How many HTTP exchanges this client sent so far (see [`Session::requests`]).
    pub fn requests(&self) -> usize {
        self.session.requests()
    }

    /// Validate reachability, TLS and credentials (see [`Session::ping`]). Wrong credentials give
    /// [`Error::Unauthorized`](crate::error::Error::Unauthorized).
    pub async fn ping(&self) -> Result<()> {
        self.session.ping().await
    }
}
