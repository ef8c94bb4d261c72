//! Amazon ECR as an OCI registry: credentials from `GetAuthorizationToken` and the repository
//! listing from `DescribeRepositories`, plugged into the OCI client through its two seams
//! ([`CredentialSource`] and [`RepositoryLister`]); everything else (tags, manifests, blobs) is the
//! plain OCI client against the configured endpoint.
//!
//! Why here and not in the resource: the OCI client asks its credential source again after a
//! 401, and the ECR token expires (12 hours) — so the source mints, caches and renews tokens
//! itself; and ECR has no usable `_catalog`, so the lister asks the ECR API. Nothing here knows
//! about Terraform.
//!
//! - **Identity.** The AWS credentials are the static keys of [`EcrAuth`] if given, else the
//!   standard chain of `aws-config` (environment, shared config and profile, web identity,
//!   container and instance metadata). With `role_arn`, those are the source credentials of one
//!   STS `AssumeRole` (with `external_id` and `session_name`), reused until five minutes before
//!   they expire.
//! - **Token.** `GetAuthorizationToken` answers `base64("AWS:<password>")`: sent as Basic
//!   credentials to the configured endpoint only (its `proxyEndpoint` is ignored). Kept in memory
//!   until five minutes before `expiresAt`, minted again when the registry answers 401 (the
//!   session asks with `refresh = true`). A token whose `expiresAt` is already past when it
//!   arrives (moto answers 2015) is used until such a 401, not minted again on every request; and
//!   a token minted in the last [`MIN_REMINT`] is not minted again (concurrent 401s, or a registry
//!   that refuses a fresh token: minting cannot help), so a refusal never loops.
//! - **Listing.** `DescribeRepositories` (all pages, of the endpoint's account when its host
//!   names one), filtered to the base paths on our side (the API has no prefix filter).
//! - **Region.** `ecr.region`, else the one the endpoint host names, else the SDK's own
//!   (AWS_REGION, the profile). FIPS hosts use the FIPS API endpoints.
//! - **Endpoints and proxies.** `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ECR` and
//!   `AWS_ENDPOINT_URL_STS` are read by `aws-config` as by every AWS tool; requests go through our
//!   reqwest client ([`transport`]), so HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply as for registries.
//! - **Secrets.** Keys, session tokens, the external ID and ECR tokens are never logged (the SDK's
//!   own log events are capped at WARN in `logging.rs`), never put into errors (AWS messages are
//!   scrubbed of them and cut short) and never persisted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials as AwsCredentials;
use base64::Engine as _;

use crate::error::{AwsFailure, EcrSetting, Error, Result};
use crate::registry::cache::Cache;
use crate::registry::http::{build_client, Credentials, HttpSettings, TlsOptions};
use crate::registry::oci::{
    CredentialSource, OciClient, OciRegistry, RepositoryLister, RepositoryListing, Session,
};
use crate::registry::scrub::Secrets;

mod errors;
pub mod names;
pub mod transport;

pub use names::{parse_registry_host, RegistryHost};

/// Credentials are renewed this long before they expire (ECR tokens, assumed-role sessions).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// A token minted this recently is not minted again on a refresh (see the module doc).
pub const MIN_REMINT: Duration = Duration::from_secs(10);
/// The STS role session name when `session_name` is not set.
pub const DEFAULT_SESSION_NAME: &str = "chartreg";
/// Most `DescribeRepositories` pages read (1000 repositories each).
const MAX_PAGES: usize = 10_000;

/// The `ecr` settings of a registration. `Debug` shows no secret (nor the external ID).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EcrAuth {
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

impl std::fmt::Debug for EcrAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcrAuth")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("role_arn", &self.role_arn)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("session_name", &self.session_name)
            .finish()
    }
}

impl EcrAuth {
    fn static_keys(&self) -> Option<(&str, &str)> {
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => Some((k, s)),
            _ => None,
        }
    }

    /// The setting an authentication failure of the source credentials is about.
    fn keys_setting(&self, failure: AwsFailure) -> EcrSetting {
        match (self.static_keys(), failure) {
            (None, _) => EcrSetting::Block,
            (Some(_), AwsFailure::WrongSecretKey) => EcrSetting::SecretAccessKey,
            (Some(_), _) => EcrSetting::AccessKeyId,
        }
    }
}

/// A build of [`OciClient`] for Amazon ECR: the client, and the ECR side for its counters.
pub fn oci_client(
    reg: &OciRegistry,
    auth: &EcrAuth,
    settings: &HttpSettings,
    cache: Option<Cache>,
) -> Result<(OciClient, Arc<Ecr>)> {
    let ecr = Arc::new(Ecr::new(reg, auth, settings)?);
    let client = OciClient::with_sources(reg, settings, cache, ecr.clone(), ecr.clone())?;
    Ok((client, ecr))
}

/// What the SDK needs, built on first use (loading the AWS configuration reads the environment
/// and profile files).
struct Inner {
    sdk: SdkConfig,
    region: String,
}

/// AWS credentials in hand (static, from the chain, or assumed), with when they must be renewed.
#[derive(Clone)]
struct Identity {
    creds: AwsCredentials,
    renew_at: Option<SystemTime>,
}

/// An ECR token in hand.
struct Minted {
    credentials: Credentials,
    /// When it is renewed without being asked (`None`: it arrived already expired; kept until a
    /// refresh).
    renew_at: Option<SystemTime>,
    minted: Instant,
}

/// Whether a cached token is handed out again, or a new one minted (see the module doc).
fn reuse_token(
    refresh: bool,
    renew_at: Option<SystemTime>,
    age: Duration,
    now: SystemTime,
) -> bool {
    if age < MIN_REMINT {
        return true;
    }
    !refresh && renew_at.is_none_or(|r| now < r)
}

/// The ECR side of one registration: token source and repository lister. Cheap to share.
pub struct Ecr {
    auth: EcrAuth,
    /// The account of the endpoint host (`DescribeRepositories`' registry ID), if it names one.
    registry_id: Option<String>,
    host_region: Option<String>,
    fips: bool,
    http: transport::ReqwestClient,
    settings: HttpSettings,
    inner: tokio::sync::OnceCell<Inner>,
    identity: tokio::sync::Mutex<Option<Identity>>,
    token: tokio::sync::Mutex<Option<Minted>>,
    /// Everything secret seen, for scrubbing AWS messages.
    secrets: Mutex<Secrets>,
    tokens_minted: AtomicUsize,
    roles_assumed: AtomicUsize,
    pages_listed: AtomicUsize,
}

impl std::fmt::Debug for Ecr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ecr")
            .field("auth", &self.auth)
            .field("registry_id", &self.registry_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ecr {
    /// No network traffic: the AWS configuration is loaded on first use.
    pub fn new(reg: &OciRegistry, auth: &EcrAuth, settings: &HttpSettings) -> Result<Self> {
        let hostname = reg.endpoint.host.split(':').next().unwrap_or_default();
        let host = parse_registry_host(hostname);
        // AWS APIs are trusted with the system roots, whatever the registry's TLS settings.
        let client = build_client(settings, &TlsOptions::default())?;
        let mut secrets = Secrets::new();
        for s in [&auth.secret_access_key, &auth.external_id]
            .into_iter()
            .flatten()
        {
            secrets.add(s);
        }
        Ok(Ecr {
            auth: auth.clone(),
            registry_id: host.as_ref().map(|h| h.account.clone()),
            host_region: host.as_ref().map(|h| h.region.clone()),
            fips: host.as_ref().is_some_and(|h| h.fips),
            http: transport::ReqwestClient::new(client, settings.clone()),
            settings: settings.clone(),
            inner: tokio::sync::OnceCell::new(),
            identity: tokio::sync::Mutex::new(None),
            token: tokio::sync::Mutex::new(None),
            secrets: Mutex::new(secrets),
            tokens_minted: AtomicUsize::new(0),
            roles_assumed: AtomicUsize::new(0),
            pages_listed: AtomicUsize::new(0),
        })
    }

    /// `GetAuthorizationToken` calls made.
    pub fn tokens_minted(&self) -> usize {
        self.tokens_minted.load(Ordering::Relaxed)
    }

    /// STS `AssumeRole` calls made.
    pub fn roles_assumed(&self) -> usize {
        self.roles_assumed.load(Ordering::Relaxed)
    }

    /// `DescribeRepositories` pages read.
    pub fn pages_listed(&self) -> usize {
        self.pages_listed.load(Ordering::Relaxed)
    }

    fn errors(&self) -> errors::Context<'_> {
        errors::Context {
            auth: &self.auth,
            secrets: &self.secrets,
            cancelled: self.settings.cancel.is_cancelled(),
        }
    }

    async fn inner(&self) -> Result<&Inner> {
        self.inner
            .get_or_try_init(|| async {
                let region = self.auth.region.clone().or_else(|| self.host_region.clone());
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(self.http.clone())
                    .retry_config(
                        aws_config::retry::RetryConfig::standard()
                            .with_max_attempts(self.settings.max_retries.saturating_add(1)),
                    )
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .operation_timeout(self.settings.budget())
                            .operation_attempt_timeout(self.settings.timeout)
                            .build(),
                    );
                if let Some(r) = region {
                    loader = loader.region(Region::new(r));
                }
                if self.fips {
                    loader = loader.use_fips(true);
                }
                if let Some((k, s)) = self.auth.static_keys() {
                    loader = loader.credentials_provider(AwsCredentials::new(
                        k,
                        s,
                        None,
                        None,
                        "chartreg ecr block",
                    ));
                }
                let sdk = loader.load().await;
                let Some(region) = sdk.region().map(|r| r.to_string()) else {
                    return Err(Error::Aws {
                        call: "Amazon ECR".into(),
                        failure: AwsFailure::NoRegion,
                        setting: EcrSetting::Region,
                        detail: "no region is set, none is named by the endpoint host, and the AWS configuration (AWS_REGION, the profile) gives none".into(),
                    });
                };
                tracing::debug!(%region, keys = self.auth.static_keys().is_some(), role = ?self.auth.role_arn, registry_id = ?self.registry_id, "Amazon ECR configuration loaded");
                Ok(Inner { sdk, region })
            })
            .await
    }

    /// The credentials ECR calls are signed with: the source credentials, or the assumed role's.
    async fn identity(&self) -> Result<AwsCredentials> {
        let inner = self.inner().await?;
        let mut slot = self.identity.lock().await;
        if let Some(id) = slot.as_ref() {
            if id.renew_at.is_none_or(|r| SystemTime::now() < r) {
                return Ok(id.creds.clone());
            }
        }
        let provider = inner
            .sdk
            .credentials_provider()
            .ok_or_else(|| self.errors().no_credentials(None))?;
        let source = provider
            .provide_credentials()
            .await
            .map_err(|e| self.errors().credentials_error(&e))?;
        if let Some(t) = source.session_token() {
            lock(&self.secrets).add(t);
        }
        lock(&self.secrets).add(source.secret_access_key());
        let id = match &self.auth.role_arn {
            None => Identity {
                renew_at: source.expiry().map(|e| e - EXPIRY_MARGIN),
                creds: source,
            },
            Some(role) => self.assume_role(inner, role, source).await?,
        };
        let creds = id.creds.clone();
        *slot = Some(id);
        Ok(creds)
    }

    async fn assume_role(
        &self,
        inner: &Inner,
        role: &str,
        source: AwsCredentials,
    ) -> Result<Identity> {
        let conf = aws_sdk_sts::config::Builder::from(&inner.sdk)
            .credentials_provider(SharedCredentialsProvider::new(source))
            .build();
        let sts = aws_sdk_sts::Client::from_conf(conf);
        self.roles_assumed.fetch_add(1, Ordering::Relaxed);
        let session = self
            .auth
            .session_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
        tracing::debug!(
            role,
            session,
            external_id = self.auth.external_id.is_some(),
            "assuming the role with STS"
        );
        let out = sts
            .assume_role()
            .role_arn(role)
            .role_session_name(session)
            .set_external_id(self.auth.external_id.clone())
            .send()
            .await
            .map_err(|e| self.errors().sts(role, e))?;
        let c = out.credentials().ok_or_else(|| Error::Aws {
            call: format!("AWS STS AssumeRole of {role}"),
            failure: AwsFailure::Other,
            setting: EcrSetting::RoleArn,
            detail: "the answer holds no credentials".into(),
        })?;
        {
            let mut s = lock(&self.secrets);
            s.add(c.secret_access_key());
            s.add(c.session_token());
        }
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Identity {
            creds: AwsCredentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                expiry,
                "chartreg AssumeRole",
            ),
            renew_at: expiry.map(|e| e - EXPIRY_MARGIN),
        })
    }

    async fn ecr_client(&self) -> Result<(aws_sdk_ecr::Client, &Inner)> {
        let inner = self.inner().await?;
        let creds = self.identity().await?;
        let conf = aws_sdk_ecr::config::Builder::from(&inner.sdk)
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .build();
        Ok((aws_sdk_ecr::Client::from_conf(conf), inner))
    }

    /// One `GetAuthorizationToken` call.
    async fn mint(&self) -> Result<Minted> {
        let (client, inner) = self.ecr_client().await?;
        self.tokens_minted.fetch_add(1, Ordering::Relaxed);
        let out = client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| self.errors().ecr("GetAuthorizationToken", e))?;
        let bad = |detail: &str| Error::Aws {
            call: "Amazon ECR GetAuthorizationToken".into(),
            failure: AwsFailure::Other,
            setting: EcrSetting::Block,
            detail: detail.into(),
        };
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| bad("the answer holds no authorization data"))?;
        let raw = data
            .authorization_token()
            .ok_or_else(|| bad("the answer holds no token"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad("the token is not base64 text"))?;
        let (username, password) = decoded
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
            .ok_or_else(|| bad("the token is not `user:password`"))?;
        let credentials = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        lock(&self.secrets).add_credentials(&credentials);
        lock(&self.secrets).add(raw);
        let now = SystemTime::now();
        let expires = data
            .expires_at()
            .and_then(|t| SystemTime::try_from(*t).ok());
        let renew_at = expires
            .map(|e| e.checked_sub(EXPIRY_MARGIN).unwrap_or(e))
            .filter(|r| *r > now);
        tracing::debug!(
            region = %inner.region,
            expires_in_s = expires.and_then(|e| e.duration_since(now).ok()).map(|d| d.as_secs()),
            already_expired = renew_at.is_none(),
            "Amazon ECR authorization token minted"
        );
        Ok(Minted {
            credentials,
            renew_at,
            minted: Instant::now(),
        })
    }

    /// Every repository of the registry in the region (all `DescribeRepositories` pages).
    async fn all_repositories(&self) -> Result<Vec<String>> {
        let (client, inner) = self.ecr_client().await?;
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            self.pages_listed.fetch_add(1, Ordering::Relaxed);
            let out = client
                .describe_repositories()
                .set_registry_id(self.registry_id.clone())
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| self.errors().ecr("DescribeRepositories", e))?;
            names.extend(
                out.repositories()
                    .iter()
                    .filter_map(|r| r.repository_name())
                    .map(str::to_string),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => {
                    tracing::debug!(region = %inner.region, repositories = names.len(), "Amazon ECR repositories listed");
                    return Ok(names);
                }
            }
        }
        Err(Error::Aws {
            call: "Amazon ECR DescribeRepositories".into(),
            failure: AwsFailure::Other,
            setting: EcrSetting::Block,
            detail: format!("more than {MAX_PAGES} pages: the pagination does not end"),
        })
    }
}

/// Repositories equal to one of `prefixes` or below it (`""` is everything).
pub fn under_prefixes(names: Vec<String>, prefixes: &[String]) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| {
            prefixes.is_empty()
                || prefixes.iter().any(|p| {
                    p.is_empty()
                        || n == p
                        || (n.len() > p.len()
                            && n.starts_with(p.as_str())
                            && n.as_bytes()[p.len()] == b'/')
                })
        })
        .collect()
}

#[async_trait]
impl CredentialSource for Ecr {
    async fn credentials(&self, refresh: bool) -> Result<Option<Credentials>> {
        let mut slot = self.token.lock().await;
        if let Some(m) = slot.as_ref() {
            if reuse_token(refresh, m.renew_at, m.minted.elapsed(), SystemTime::now()) {
                return Ok(Some(m.credentials.clone()));
            }
            tracing::debug!(refresh, "renewing the Amazon ECR authorization token");
        }
        let m = self.mint().await?;
        let c = m.credentials.clone();
        *slot = Some(m);
        Ok(Some(c))
    }
}

#[async_trait]
impl RepositoryLister for Ecr {
    async fn repositories(
        &self,
        _session: &Session,
        prefixes: &[String],
    ) -> Result<RepositoryListing> {
        let all = self.all_repositories().await?;
        if all.is_empty() && prefixes.iter().any(|p| !p.is_empty()) {
            let region = self
                .inner()
                .await
                .map(|i| i.region.clone())
                .unwrap_or_default();
            return Err(Error::Aws {
                call: "Amazon ECR DescribeRepositories".into(),
                failure: AwsFailure::EmptyRegion,
                setting: EcrSetting::Region,
                detail: format!(
                    "the registry{} has no repository at all in region {region}",
                    self.registry_id
                        .as_ref()
                        .map(|a| format!(" of account {a}"))
                        .unwrap_or_default()
                ),
            });
        }
        Ok(RepositoryListing::Listed(under_prefixes(all, prefixes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_reuse_policy() {
        let now = SystemTime::now();
        let later = Some(now + Duration::from_secs(3600));
        let old = Duration::from_secs(60);
        // A valid token is reused, a refresh mints again.
        assert!(reuse_token(false, later, old, now));
        assert!(!reuse_token(true, later, old, now));
        // Past its renewal time: minted again without being asked.
        assert!(!reuse_token(
            false,
            Some(now - Duration::from_secs(1)),
            old,
            now
        ));
        // Arrived expired (moto): reused until a refresh, then minted once more.
        assert!(reuse_token(false, None, old, now));
        assert!(!reuse_token(true, None, old, now));
        // Just minted: a refresh cannot help (concurrent 401s, a refused fresh token).
        assert!(reuse_token(true, None, Duration::from_secs(1), now));
        assert!(reuse_token(true, later, Duration::ZERO, now));
    }

    #[test]
    fn prefix_filter() {
        let names = [
            "charts",
            "charts/a",
            "charts/a/b",
            "chartsx/c",
            "other/charts/d",
        ]
        .map(String::from)
        .to_vec();
        let f = |p: &[&str]| {
            under_prefixes(
                names.clone(),
                &p.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(f(&["charts"]), ["charts", "charts/a", "charts/a/b"]);
        assert_eq!(f(&["charts/a"]), ["charts/a", "charts/a/b"]);
        assert_eq!(f(&[""]).len(), 5);
        assert_eq!(f(&[]).len(), 5);
        assert_eq!(f(&["chart"]), Vec::<String>::new());
        assert_eq!(f(&["other", "chartsx"]), ["chartsx/c", "other/charts/d"]);
    }

    #[test]
    fn debug_hides_secrets() {
        let a = EcrAuth {
            access_key_id: Some("AKIDVISIBLE".into()),
            secret_access_key: Some("s3cr3t-key".into()),
            external_id: Some("ext-s3cr3t".into()),
            ..Default::default()
        };
        let d = format!("{a:?}");
        assert!(d.contains("AKIDVISIBLE"));
        assert!(!d.contains("s3cr3t"), "{d}");
    }
}
