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
//!   config blobs and chart archives (verified, cached by digest).
//! - [`sync`]: the catalog algorithm and its reuse rules ([`OciClient::sync`]).
//!
//! [`OciClient`] ties them together: one client per configured registry. [`OciClient::ping`]
//! validates reachability, TLS and credentials; [`OciClient::sync`] builds the chart
//! [`Catalog`](crate::registry::catalog::Catalog); [`OciClient::chart_versions`] lists the semver
//! tags of one repository; [`OciClient::chart_manifest`], [`OciClient::chart_config`] and
//! [`OciClient::chart_archive`] read one chart version as `helm pull` does.
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
#[derive(Debug, Clone)]
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

    /// Validate reachability, TLS and credentials (see [`Session::ping`]). Wrong credentials give
    /// [`Error::Unauthorized`](crate::error::Error::Unauthorized).
    pub async fn ping(&self) -> Result<()> {
        self.session.ping().await
    }
}

/// Test helpers shared by the files' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn client(
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
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::test_support::client;
    use super::*;
    use crate::error::Error;

    // ---- Against real registries (CNCF distribution). Run only when CHARTREG_OCI_TEST_REGISTRY
    // (plain HTTP, no auth) is set; CHARTREG_OCI_TEST_BASIC (htpasswd + TLS), CHARTREG_OCI_TEST_TOKEN
    // (Bearer + TLS), CHARTREG_OCI_TEST_CA (CA of both) and CHARTREG_OCI_TEST_TOKEN_LOG (the
    // token server's request log) add the auth cases. User testuser, password testpass.
    // Seeding: charts/mychart 0.1.0 0.2.0 0.3.0-rc.1 0.2.1_build.7 latest(=0.2.0) + 9.9.9 (a plain
    // image), charts/other 1.0.0, team/charts/nested 2.0.0, images/app 1.0.0 (plain image);
    // on the plain registry also big/many-tags (250 tags) and many/repo000..249.

    fn env(k: &str) -> Option<String> {
        std::env::var(k).ok().filter(|v| !v.is_empty())
    }

    fn ca() -> Option<String> {
        env("CHARTREG_OCI_TEST_CA").map(|p| std::fs::read_to_string(p).unwrap())
    }

    fn check_small(r: &SyncReport, prefix: &str) {
        let c = &r.catalog.charts[&format!("{prefix}charts/mychart")];
        assert_eq!(c.name, "mychart");
        assert_eq!(
            c.versions,
            ["0.3.0-rc.1", "0.2.1+build.7", "0.2.0", "0.1.0"]
        );
        assert_eq!(c.latest_version, "0.2.1+build.7");
        assert_eq!(c.description, "Test chart mychart");
        assert_eq!(c.app_version, "1.0.0");
        assert_eq!(
            r.catalog.charts[&format!("{prefix}charts/other")].versions,
            ["1.0.0"]
        );
        assert!(!r.catalog.charts.keys().any(|k| k.contains("images")));
    }

    #[tokio::test]
    async fn real_plain_registry() {
        let Some(host) = env("CHARTREG_OCI_TEST_REGISTRY") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let c = client(&format!("http://{host}"), None, None, Some(cache.clone()));
        c.ping().await.unwrap();
        let t = Instant::now();
        let r = c.sync(&[], None).await.unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "full sync took {:?}",
            t.elapsed()
        );
        check_small(&r, "");
        assert_eq!(r.catalog.charts["team/charts/nested"].versions, ["2.0.0"]);
        let big = &r.catalog.charts["big/many-tags"];
        assert_eq!(big.versions.len(), 250);
        assert_eq!(big.latest_version, "1.0.249");
        assert_eq!(
            (1..250)
                .filter(|i| r.catalog.charts.contains_key(&format!("many/repo{i:03}")))
                .count(),
            249
        );
        assert_eq!(r.catalog.charts["many/repo007"].name, "repo007");
        assert_eq!(r.catalog.chart_count(), 4 + 250);
        // semver tags: mychart 5 (incl. the 9.9.9 image), other 1, nested 1, big 250, many 250, images/app 1
        assert_eq!(r.manifests_fetched, 508); // + images/app:1.0.0
        assert_eq!(r.blobs_fetched, 506);
        assert_eq!(r.repositories_listed, 255);
        assert_eq!(r.repositories["charts/mychart"], "charts/mychart");

        // cheap refresh: nothing changed, no chart manifest read (only the semver-tagged images
        // charts/mychart:9.9.9 and images/app:1.0.0, which the catalog cannot remember)
        let r2 = c.sync(&[], Some(&r.catalog)).await.unwrap();
        assert_eq!(r2.catalog, r.catalog);
        assert_eq!(
            (r2.manifests_fetched, r2.blobs_fetched, r2.reused),
            (2, 0, 254)
        );
        // a version vanished from a repository: it is read again in full; blobs come from memory
        let mut prev = r.catalog.clone();
        prev.charts
            .get_mut("charts/other")
            .unwrap()
            .versions
            .push("0.0.1".into());
        let r3 = c.sync(&[], Some(&prev)).await.unwrap();
        assert_eq!(r3.catalog, r.catalog);
        assert_eq!(
            (r3.manifests_fetched, r3.blobs_fetched, r3.reused),
            (3, 0, 253)
        );
        // versions added: only the new tags are read; the new latest's metadata wins
        let mut prev = r.catalog.clone();
        let m = prev.charts.get_mut("charts/mychart").unwrap();
        m.versions.retain(|v| v != "0.2.1+build.7");
        m.latest_version = "0.2.0".into();
        m.app_version = "stale".into();
        m.name = "stale".into();
        let big = prev.charts.get_mut("big/many-tags").unwrap();
        big.versions.retain(|v| v != "1.0.3");
        let r3 = c.sync(&[], Some(&prev)).await.unwrap();
        assert_eq!(r3.catalog, r.catalog);
        assert_eq!(
            (r3.manifests_fetched, r3.blobs_fetched, r3.reused),
            (4, 0, 252)
        );
        // a new client with the same disk cache downloads no blob
        let c2 = client(&format!("http://{host}"), None, None, Some(cache));
        let r4 = c2.sync(&[], None).await.unwrap();
        assert_eq!((r4.manifests_fetched, r4.blobs_fetched), (508, 0));
        assert_eq!(catalog_digest(&r4.catalog), catalog_digest(&r.catalog));

        // endpoint path as prefix / as repository; base paths relative to it
        let c = client(&format!("http://{host}/charts"), None, None, None);
        let r = c.sync(&[], None).await.unwrap();
        assert_eq!(
            r.catalog.charts.keys().collect::<Vec<_>>(),
            ["mychart", "other"]
        );
        assert_eq!(r.repositories["mychart"], "charts/mychart");
        let r = c.sync(&["mychart".into()], None).await.unwrap();
        assert_eq!(r.catalog.charts.keys().collect::<Vec<_>>(), ["mychart"]);
        let c = client(&format!("http://{host}/charts/mychart"), None, None, None);
        let r = c.sync(&[], None).await.unwrap();
        assert_eq!(r.catalog.charts.keys().collect::<Vec<_>>(), ["mychart"]);
        assert_eq!(r.catalog.charts["mychart"].versions.len(), 4);
        let c = client(&format!("http://{host}"), None, None, None);
        let r = c
            .sync(&["team".into(), "charts/other".into()], None)
            .await
            .unwrap();
        assert_eq!(
            r.catalog.charts.keys().collect::<Vec<_>>(),
            ["charts/other", "team/charts/nested"]
        );
        let r = c.sync(&["many".into()], None).await.unwrap();
        assert_eq!(r.catalog.chart_count(), 250);
        let r = c.sync(&["big/many-tags".into()], None).await.unwrap();
        assert_eq!(r.catalog.charts["big/many-tags"].versions.len(), 250);

        for (base, needle) in [
            ("nope", "no repository has this name"),
            ("images", "none holds a Helm chart"),
            ("charts/mychar", "no repository has this name"),
            ("Bad_", "not a valid repository path"),
        ] {
            match c.sync(&[base.into()], None).await {
                Err(e @ Error::EmptyBasePath { .. }) => {
                    assert!(e.to_string().contains(needle), "{e}")
                }
                other => panic!("{base}: {other:?}"),
            }
        }
        let mut v = c.chart_versions("charts/mychart").await.unwrap();
        assert_eq!(
            v,
            ["9.9.9", "0.3.0-rc.1", "0.2.1+build.7", "0.2.0", "0.1.0"]
        );
        v = c.chart_versions("big/many-tags").await.unwrap();
        assert_eq!(v.len(), 250);
        assert!(matches!(
            c.chart_versions("nope").await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn real_basic_auth_registry() {
        let Some(host) = env("CHARTREG_OCI_TEST_BASIC") else {
            return;
        };
        let good = client(&host, Some(("testuser", "testpass")), ca(), None);
        good.ping().await.unwrap();
        let r = good.sync(&["charts".into()], None).await.unwrap();
        check_small(&r, "");
        assert_eq!(good.token_requests(), 0);

        let bad = client(
            &format!("oci://{host}"),
            Some(("testuser", "wrong")),
            ca(),
            None,
        );
        let e = bad.ping().await.unwrap_err();
        assert!(
            matches!(e, Error::Unauthorized { status: 401, .. }),
            "{e:?}"
        );
        assert!(!e.to_string().contains("wrong"));
        assert!(matches!(
            bad.sync(&[], None).await,
            Err(Error::Unauthorized { .. })
        ));
        let anon = client(&host, None, ca(), None);
        assert!(matches!(anon.ping().await, Err(Error::Unauthorized { .. })));

        // unknown CA
        let untrusted = client(&host, Some(("testuser", "testpass")), None, None);
        let e = untrusted.ping().await.unwrap_err();
        assert!(matches!(e, Error::Tls { .. }), "{e:?}");
        // insecure_skip_tls_verify
        let reg = OciRegistry {
            endpoint: parse_endpoint(&host).unwrap(),
            credentials: Some(Credentials {
                username: "testuser".into(),
                password: "testpass".into(),
            }),
            tls: TlsOptions {
                ca_pem: None,
                insecure_skip_verify: true,
            },
        };
        OciClient::new(&reg, &HttpSettings::default(), None)
            .unwrap()
            .ping()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn real_token_auth_registry() {
        let Some(host) = env("CHARTREG_OCI_TEST_TOKEN") else {
            return;
        };
        let log_len =
            env("CHARTREG_OCI_TEST_TOKEN_LOG").map(|p| std::fs::read_to_string(p).unwrap().len());
        let good = client(&host, Some(("testuser", "testpass")), ca(), None);
        let r = good.sync(&[], None).await.unwrap();
        check_small(&r, "");
        assert_eq!(r.catalog.charts["team/charts/nested"].versions, ["2.0.0"]);
        // one token per scope: ping, catalog, 4 repositories
        assert_eq!(good.token_requests(), 6);
        let r2 = good.sync(&[], Some(&r.catalog)).await.unwrap();
        assert_eq!((r2.reused, r2.manifests_fetched), (3, 2));
        assert_eq!(r2.catalog, r.catalog);
        assert_eq!(good.token_requests(), 6, "tokens are cached per scope");
        if let (Some(p), Some(n)) = (env("CHARTREG_OCI_TEST_TOKEN_LOG"), log_len) {
            let log = std::fs::read_to_string(p).unwrap();
            let log = &log[n..];
            for scope in [
                "registry%3Acatalog%3A*",
                "repository%3Acharts%2Fmychart%3Apull",
                "repository%3Ateam%2Fcharts%2Fnested%3Apull",
            ] {
                assert!(
                    log.contains(&format!("scope={scope} ")),
                    "{scope} not requested:\n{log}"
                );
            }
            assert!(!log.contains("push"), "{log}");
        }

        let bad = client(&host, Some(("testuser", "wrong")), ca(), None);
        let e = bad.ping().await.unwrap_err();
        assert!(
            matches!(e, Error::Unauthorized { status: 401, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("/token"), "the realm is named: {e}");
        assert!(matches!(
            bad.sync(&["charts/mychart".into()], None).await,
            Err(Error::Unauthorized { .. })
        ));

        // anonymous: tokens without access; the catalog is refused
        let anon = client(&host, None, ca(), None);
        anon.ping().await.unwrap();
        match anon.sync(&["charts".into()], None).await {
            Err(e @ Error::CatalogUnsupported { .. }) => {
                assert!(e.to_string().contains("HTTP 401"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            anon.chart_versions("charts/mychart").await,
            Err(Error::Unauthorized { .. })
        ));

        let untrusted = client(&host, Some(("testuser", "testpass")), None, None);
        assert!(matches!(untrusted.ping().await, Err(Error::Tls { .. })));
    }
}
