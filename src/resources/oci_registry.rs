//! Resource `chartreg_oci_registry`: an OCI registry holding Helm charts (basic or bearer-token
//! auth; `authentication_type = "ecr"` is reserved for Amazon ECR), validated on create, whose chart
//! catalog is kept in state and refreshed on read when synchronization is on.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::diagnostics::{self, AttrMap};
use crate::provider::Shared;
use crate::registry::cache::Cache;
use crate::registry::oci::{self, OciClient, OciRegistry};
use crate::resources::common::{
    self, catalog_from_oci_state, changed, now_rfc3339, oci_charts_state, validate_credentials,
    validate_name, validate_pem, validate_required, with_default, OciChartState, RegistryPlan,
};
use crate::schema_util::{attr, schema, secret, C, T};

/// State of `chartreg_oci_registry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciRegistryState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub endpoint: Value<String>,
    pub authentication_type: Value<String>,
    pub base_content_paths: Value<Vec<Value<String>>>,
    pub synchronization: Value<bool>,
    pub sync_trigger: Value<String>,
    pub username: Value<String>,
    pub password: Value<String>,
    pub ca_certificate: Value<String>,
    pub insecure_skip_tls_verify: Value<bool>,
    pub charts: Value<BTreeMap<String, OciChartState>>,
    pub chart_count: Value<i64>,
    pub version_count: Value<i64>,
    pub catalog_digest: Value<String>,
    pub last_synced: Value<String>,
}

const ATTRS: AttrMap = AttrMap {
    endpoint: "endpoint",
    credentials: Some("password"),
    tls: "ca_certificate",
    base_paths: Some("base_content_paths"),
};

pub const AUTH_TYPES: [&str; 2] = ["basic", "ecr"];

/// Directory of the OCI registries' cached blobs under `cache_dir` (`oci/<name>/blobs/`).
const CACHE_CLASS: &str = "oci";

pub struct OciRegistryResource {
    shared: Shared,
}

impl OciRegistryResource {
    pub fn new(shared: Shared) -> Self {
        OciRegistryResource { shared }
    }
}

pub fn resource_schema() -> Schema {
    let chart = T::Object(map! {
        "name" => T::String,
        "latest_version" => T::String,
        "app_version" => T::String,
        "description" => T::String,
        "versions" => T::List(Box::new(T::String))
    });
    schema(
        "Registers an OCI registry that holds Helm charts (CNCF distribution, Harbor, GHCR, …), with anonymous, basic or bearer-token authentication. The registration is validated on create (`/v2/` reachable, credentials accepted, TLS trusted, every base path holds Helm charts) and the chart catalog is kept in state: refreshed on every read with `synchronization = true` (repositories whose tags did not change are not read again), listed once and then used offline with `synchronization = false`. Only Helm charts are indexed (manifests whose config media type is `application/vnd.cncf.helm.config.v1+json`); tags that are not semantic versions are ignored. Deleting the resource only forgets the registration.",
        map! {
            "id" => attr(T::String, C::Computed, "Identifier of the registration: the `name`."),
            "name" => attr(T::String, C::Required, "Name of the registration: 1 to 63 lower-case letters, digits, `-`, `_` and `.`. Changing it replaces the resource."),
            "endpoint" => attr(T::String, C::Required, "Registry as `host[:port][/path]`. HTTPS by default; `oci://` is accepted (HTTPS) and `http://` means plain HTTP. The path, if any, is a repository prefix (or a repository) under which charts are looked up."),
            "authentication_type" => attr(T::String, C::OptionalComputed, "`\"basic\"` (default: anonymous, or `username`/`password` answering the registry's Basic or Bearer-token challenge) or `\"ecr\"` (Amazon ECR, reserved for a later release)."),
            "base_content_paths" => attr(T::List(Box::new(T::String)), C::Optional, "Repositories, or repository prefixes, relative to the endpoint path, that hold charts. Each is tried as a repository (`tags/list`) and as a prefix (`_catalog`). Registries that refuse `_catalog` (GHCR, Docker Hub) need the repositories named here. Without any, the endpoint path (or the whole catalog) is listed."),
            "synchronization" => attr(T::Bool, C::OptionalComputed, "Refresh the chart catalog on every read (default `true`). With `false` the catalog listed at registration (and at each `sync_trigger` change) is used and no request is made at plan time."),
            "sync_trigger" => attr(T::String, C::Optional, "Any value; changing it lists the registry again on the next apply (a manual re-sync)."),
            "username" => attr(T::String, C::Optional, "Username. Set together with `password`, both non-empty, or neither (or both empty) for anonymous access: like Helm, chartreg sends no credentials when either is empty, so one empty and the other set is refused at plan."),
            "password" => secret(T::String, C::Optional, "Password or access token (sensitive). Registry tokens obtained with it are kept in memory only."),
            "ca_certificate" => attr(T::String, C::Optional, "PEM bundle of CA certificates trusted for this registry besides the system roots."),
            "insecure_skip_tls_verify" => attr(T::Bool, C::OptionalComputed, "Skip TLS certificate verification (default `false`); for test registries only."),
            "charts" => attr(T::Map(Box::new(chart)), C::Computed, "Chart repositories keyed by path relative to the endpoint (e.g. `library/nginx`): chart `name`, `latest_version` (newest non-pre-release), its `app_version` and `description`, and `versions` (newest first). Tags pushed by Helm with `_` for `+` are shown with `+`."),
            "chart_count" => attr(T::Number, C::Computed, "Number of chart repositories."),
            "version_count" => attr(T::Number, C::Computed, "Number of chart versions."),
            "catalog_digest" => attr(T::String, C::Computed, "SHA-256 (hex) of the catalog in state; it changes when a chart, version or description changes."),
            "last_synced" => attr(T::String, C::Computed, "When the catalog in state last changed or was listed on create, update or `sync_trigger` (RFC 3339).")
        },
    )
}

fn base_paths(s: &OciRegistryState) -> Vec<String> {
    s.base_content_paths
        .as_ref_option()
        .map(|v| {
            v.iter()
                .filter_map(|p| p.as_ref_option())
                .map(|p| p.trim().trim_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn registry_of(s: &OciRegistryState) -> Result<OciRegistry, crate::error::Error> {
    Ok(OciRegistry {
        endpoint: oci::parse_endpoint(
            s.endpoint.as_ref_option().map(String::as_str).unwrap_or(""),
        )?,
        credentials: common::credentials(&s.username, &s.password),
        tls: common::tls(&s.ca_certificate, &s.insecure_skip_tls_verify),
    })
}

impl RegistryPlan for OciRegistryState {
    fn name(&self) -> &Value<String> {
        &self.name
    }
    fn set_id(&mut self, id: Value<String>) {
        self.id = id;
    }
    fn apply_defaults(&mut self, config: &Self) {
        self.authentication_type = with_default(&config.authentication_type, "basic".to_string());
        self.synchronization = with_default(&config.synchronization, true);
        self.insecure_skip_tls_verify = with_default(&config.insecure_skip_tls_verify, false);
    }
    fn needs_sync(&self, planned: &Self) -> bool {
        changed(&self.endpoint, &planned.endpoint)
            || changed(&self.authentication_type, &planned.authentication_type)
            || changed(&self.base_content_paths, &planned.base_content_paths)
            || changed(&self.username, &planned.username)
            || changed(&self.password, &planned.password)
            || changed(&self.ca_certificate, &planned.ca_certificate)
            || changed(
                &self.insecure_skip_tls_verify,
                &planned.insecure_skip_tls_verify,
            )
            || changed(&self.sync_trigger, &planned.sync_trigger)
    }
    fn set_computed_unknown(&mut self) {
        self.charts = Value::Unknown;
        self.chart_count = Value::Unknown;
        self.version_count = Value::Unknown;
        self.catalog_digest = Value::Unknown;
        self.last_synced = Value::Unknown;
    }
    fn copy_computed_from(&mut self, prior: &Self) {
        self.charts = prior.charts.clone();
        self.chart_count = prior.chart_count;
        self.version_count = prior.version_count;
        self.catalog_digest = prior.catalog_digest.clone();
        self.last_synced = prior.last_synced.clone();
    }
}

impl OciRegistryResource {
    /// The registry's blob cache (`cache_dir/oci/<name>`), refused for a name that is not a plain
    /// directory name (see [`Cache`]).
    fn cache(&self, name: &str) -> Result<Cache, crate::error::Error> {
        Cache::registry(&self.shared.get().cache_dir, CACHE_CLASS, name)
    }

    /// List the registry into `s`. `previous` lets unchanged repositories be reused.
    async fn sync(
        &self,
        diags: &mut Diagnostics,
        s: &mut OciRegistryState,
        reuse_previous: bool,
        as_warning: bool,
    ) -> Option<()> {
        let name = s.name.as_ref_option().cloned().unwrap_or_default();
        let ctx = format!("OCI registry {name:?}");
        let have_creds = common::credentials(&s.username, &s.password).is_some();
        let report_err = |diags: &mut Diagnostics, e: &crate::error::Error| {
            if as_warning {
                diagnostics::warning(
                    diags,
                    e,
                    &ATTRS,
                    have_creds,
                    &format!("{ctx}: refresh failed, the previous catalog is kept"),
                );
            } else {
                diagnostics::error(diags, e, &ATTRS, have_creds, &ctx);
            }
        };
        let settings = self.shared.get();
        let cache = match self.cache(&name) {
            Ok(c) => Some(c),
            Err(e) => {
                diags.root_warning(
                    "Chart Cache Not Writable",
                    format!("{e}. Config blobs are not cached."),
                );
                None
            }
        };
        let client = match registry_of(s).and_then(|r| OciClient::new(&r, &settings.http, cache)) {
            Ok(c) => c,
            Err(e) => {
                report_err(diags, &e);
                return None;
            }
        };
        let previous = match (&s.charts, reuse_previous) {
            (Value::Value(m), true) => Some(catalog_from_oci_state(m)),
            _ => None,
        };
        let report = match client.sync(&base_paths(s), previous.as_ref()).await {
            Ok(r) => r,
            Err(e) => {
                report_err(diags, &e);
                return None;
            }
        };
        tracing::debug!(
            registry = %name,
            listed = report.repositories_listed,
            manifests = report.manifests_fetched,
            blobs = report.blobs_fetched,
            reused = report.reused,
            "OCI catalog synchronized"
        );
        if !report.skipped.is_empty() {
            diags.root_warning(
                "OCI Repositories Skipped",
                format!(
                    "{ctx}: {} repositor{} could not be read and {} left out: {}",
                    report.skipped.len(),
                    if report.skipped.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    },
                    if report.skipped.len() == 1 {
                        "is"
                    } else {
                        "are"
                    },
                    report.skipped.join("; ")
                ),
            );
        }
        let digest = oci::catalog_digest(&report.catalog);
        if s.catalog_digest.as_ref_option() != Some(&digest) {
            s.charts = Value::Value(oci_charts_state(&report.catalog));
            s.chart_count = Value::Value(report.catalog.chart_count() as i64);
            s.version_count = Value::Value(report.catalog.version_count() as i64);
            s.catalog_digest = Value::Value(digest);
            s.last_synced = Value::Value(now_rfc3339());
        }
        Some(())
    }
}

#[async_trait]
impl Resource for OciRegistryResource {
    type State<'a> = Option<OciRegistryState>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(resource_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let Some(c) = config else { return Some(()) };
        validate_name(diags, &c.name);
        validate_required(diags, &c.endpoint, "endpoint", "Missing Endpoint");
        if let Value::Value(e) = &c.endpoint {
            if let Err(err) = oci::parse_endpoint(e) {
                // The reason only: the endpoint may hold a secret (Terraform quotes the line,
                // or hides it when the value is sensitive).
                let msg = match &err {
                    crate::error::Error::InvalidUrl { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                diags.error(
                    "Invalid Endpoint",
                    format!("endpoint: {msg}."),
                    AttributePath::new("endpoint"),
                );
            }
        }
        match c.authentication_type.as_ref_option().map(String::as_str) {
            None | Some("basic") => {}
            Some("ecr") => diags.error(
                "Authentication Type Not Available",
                "authentication_type \"ecr\" (Amazon ECR) is reserved for a later release of chartreg; use \"basic\" with an ECR authorization token as password meanwhile.",
                AttributePath::new("authentication_type"),
            ),
            Some(other) => diags.error(
                "Invalid Authentication Type",
                format!("authentication_type {other:?} must be one of {:?}.", AUTH_TYPES),
                AttributePath::new("authentication_type"),
            ),
        }
        if let Value::Value(paths) = &c.base_content_paths {
            for (i, p) in paths.iter().enumerate() {
                let at = AttributePath::new("base_content_paths").index(i as i64);
                if p.is_null() {
                    diags.error(
                        "Invalid Base Content Path",
                        "base_content_paths entries must not be null: omit the entry, or the attribute to list the whole endpoint.",
                        at.clone(),
                    );
                }
                if let Value::Value(p) = p {
                    match oci::normalize_base_path(p) {
                        Ok(n) if n.is_empty() => diags.error(
                            "Invalid Base Content Path",
                            "base_content_paths entries must not be empty: omit the attribute to list the whole endpoint.",
                            at,
                        ),
                        Ok(_) => {}
                        Err(e) => diags.error("Invalid Base Content Path", format!("{p:?}: {e}."), at),
                    }
                }
            }
        }
        validate_credentials(diags, &c.username, &c.password);
        validate_pem(diags, &c.ca_certificate);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty)> {
        let Some(mut s) = state else {
            return Some((None, private));
        };
        if matches!(s.synchronization, Value::Value(true)) {
            let mut next = s.clone();
            if self.sync(diags, &mut next, true, true).await.is_some() {
                s = next;
            }
        }
        Some((Some(s), private))
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty)> {
        Some((Some(common::plan_create(proposed?, config)), Value::Null))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty, Vec<AttributePath>)> {
        let (s, replace) = common::plan_update(&prior?, proposed?, config);
        Some((Some(s), private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty)> {
        let mut s = planned?;
        s.id = s.name.clone();
        s.charts = Value::Null;
        s.catalog_digest = Value::Null;
        self.sync(diags, &mut s, false, false).await?;
        tracing::info!(registry = ?s.id, "OCI registry registered");
        Some((Some(s), private))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty)> {
        let prior = prior?;
        let mut s = planned?;
        if !prior.needs_sync(&s) {
            return Some((Some(s), private));
        }
        // Same endpoint: unchanged repositories may be reused from the prior catalog.
        let reuse = !changed(&prior.endpoint, &s.endpoint);
        s.charts = if reuse {
            prior.charts.clone()
        } else {
            Value::Null
        };
        // A null digest makes `sync` store the new catalog and `last_synced` unconditionally.
        s.catalog_digest = Value::Null;
        match self.sync(diags, &mut s, reuse, false).await {
            Some(()) => Some((Some(s), private)),
            // Validation failed: the registration stays as it was.
            None => Some((Some(prior), private)),
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        if let Some(Value::Value(name)) = prior.map(|p| p.name) {
            let cache_dir = self.shared.get().cache_dir;
            if let Err(e) = Cache::remove_registry(&cache_dir, CACHE_CLASS, &name) {
                diags.root_warning(
                    "Chart Cache Not Removed",
                    format!("{e}. The registration is forgotten; its cached files, if any, are left in place."),
                );
            }
            tracing::info!(registry = %name, "OCI registry forgotten");
        }
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, ValueEmpty)> {
        let parsed = common::split_import_id(&id);
        let Some((name, rest)) = parsed else {
            diags.root_error(
                "Invalid Import ID",
                "The import ID is not NAME=ENDPOINT[,BASE_PATH...] (it is not quoted here: it may hold a secret), e.g. `terraform import chartreg_oci_registry.harbor 'harbor=registry.example.com,library,team-a/charts'`.",
            );
            return None;
        };
        let mut parts = rest.split(',').map(str::trim);
        let endpoint = parts.next().unwrap_or_default().to_string();
        // Every listed base path is checked, empty ones included (`a,,b` is refused as
        // `base_content_paths = ["a", "", "b"]` would be).
        let paths: Vec<Value<String>> = parts.map(|p| Value::Value(p.to_string())).collect();
        // Checked exactly as a configuration, with the defaults a plan gives.
        let mut s = OciRegistryState {
            name: Value::Value(name),
            endpoint: Value::Value(endpoint),
            base_content_paths: if paths.is_empty() {
                Value::Null
            } else {
                Value::Value(paths)
            },
            ..Default::default()
        };
        let mut checked = Diagnostics::default();
        self.validate(&mut checked, Some(s.clone())).await;
        if !common::import_checks(diags, checked) {
            return None;
        }
        let config = s.clone();
        s.apply_defaults(&config);
        s.id = s.name.clone();
        s.charts = Value::Value(BTreeMap::new());
        s.chart_count = Value::Value(0);
        s.version_count = Value::Value(0);
        s.catalog_digest = Value::Value(String::new());
        s.last_synced = Value::Value(String::new());
        // The read that follows an import lists the registry.
        Some((Some(s), Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st() -> OciRegistryState {
        OciRegistryState {
            name: Value::Value("h".into()),
            endpoint: Value::Value("registry.example.com".into()),
            authentication_type: Value::Value("basic".into()),
            synchronization: Value::Value(true),
            insecure_skip_tls_verify: Value::Value(false),
            charts: Value::Value(BTreeMap::new()),
            chart_count: Value::Value(0),
            version_count: Value::Value(0),
            catalog_digest: Value::Value("d".into()),
            last_synced: Value::Value("t".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn validation_names_attributes() {
        let r = OciRegistryResource::new(Shared::default());
        let mut d = Diagnostics::default();
        let mut c = st();
        c.authentication_type = Value::Value("kerberos".into());
        c.base_content_paths = Value::Value(vec![
            Value::Value("ok/path".into()),
            Value::Value("Bad Path".into()),
        ]);
        c.endpoint = Value::Value("ftp://x".into());
        r.validate(&mut d, Some(c)).await;
        let at: Vec<_> = d.errors.iter().map(|e| e.attribute.clone()).collect();
        assert!(at.contains(&AttributePath::new("authentication_type")));
        assert!(at.contains(&AttributePath::new("base_content_paths").index(1)));
        assert!(at.contains(&AttributePath::new("endpoint")));
    }

    #[tokio::test]
    async fn null_entries_and_required_attributes() {
        let r = OciRegistryResource::new(Shared::default());
        let mut d = Diagnostics::default();
        let mut c = st();
        c.base_content_paths = Value::Value(vec![Value::Value("charts".into()), Value::Null]);
        r.validate(&mut d, Some(c)).await;
        assert_eq!(d.errors.len(), 1, "{d:?}");
        assert_eq!(
            d.errors[0].attribute,
            AttributePath::new("base_content_paths").index(1)
        );
        let mut d = Diagnostics::default();
        let mut c = st();
        c.name = Value::Null;
        c.endpoint = Value::Null;
        r.validate(&mut d, Some(c)).await;
        let at: Vec<_> = d.errors.iter().map(|e| e.attribute.clone()).collect();
        assert_eq!(
            at,
            vec![AttributePath::new("name"), AttributePath::new("endpoint")]
        );
    }

    /// Import IDs are checked as configuration: name, endpoint and every base path.
    #[tokio::test]
    async fn import_checks_the_id_as_configuration() {
        let r = OciRegistryResource::new(Shared::default());
        for id in [
            "../..=127.0.0.1:5000",
            "/=127.0.0.1:5000",
            "/tmp/x=127.0.0.1:5000,charts",
            "a/b=127.0.0.1:5000",
            "ok=127.0.0.1:5000,../charts",
            "ok=127.0.0.1:5000,Charts",
            "ok=127.0.0.1:5000,charts,,other",
            "ok=127.0.0.1:5000,",
            "ok=ftp://127.0.0.1",
            "robot:S3cretPw@127.0.0.1:5000",
        ] {
            let mut d = Diagnostics::default();
            let s = r.import(&mut d, id.to_string()).await;
            assert!(s.is_none(), "{id} was imported");
            assert!(!d.errors.is_empty(), "{id}");
            assert!(
                d.errors.iter().all(|e| e.summary == "Invalid Import ID"),
                "{id}: {d:?}"
            );
            assert!(!format!("{d:?}").contains("S3cretPw"), "{id}: {d:?}");
        }
        let mut d = Diagnostics::default();
        let (s, _) = r
            .import(&mut d, "ok=http://127.0.0.1:5000/x, charts ,other".into())
            .await
            .unwrap();
        assert!(d.errors.is_empty(), "{d:?}");
        let s = s.unwrap();
        assert_eq!(s.id, Value::Value("ok".into()));
        assert_eq!(s.authentication_type, Value::Value("basic".into()));
        assert_eq!(s.synchronization, Value::Value(true));
        assert_eq!(
            s.base_content_paths,
            Value::Value(vec![
                Value::Value("charts".into()),
                Value::Value("other".into())
            ])
        );
    }

    #[test]
    fn plans() {
        let plan = |p: OciRegistryState| common::plan_update(&st(), p.clone(), Some(p));
        let (s, rep) = plan(st());
        assert!(rep.is_empty());
        assert_eq!(s.catalog_digest, Value::Value("d".into()));
        let (s, rep) = plan(OciRegistryState {
            base_content_paths: Value::Value(vec![Value::Value("charts".into())]),
            ..st()
        });
        assert!(rep.is_empty());
        assert!(s.charts.is_unknown());
        let (_, rep) = plan(OciRegistryState {
            name: Value::Value("other".into()),
            ..st()
        });
        assert_eq!(rep, vec![AttributePath::new("name")]);
        let s = common::plan_create(
            OciRegistryState {
                authentication_type: Value::Null,
                ..st()
            },
            None,
        );
        assert_eq!(s.authentication_type, Value::Value("basic".into()));
    }
}
