//! Resource `chartreg_oci_registry`: an OCI registry holding Helm charts (basic or bearer-token
//! auth, or Amazon ECR with `authentication_type = "ecr"` and the `ecr` block of
//! [`oci_registry_ecr`](super::oci_registry_ecr)), validated on create, whose chart catalog is
//! kept in state and refreshed on read when synchronization is on.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::diagnostics::{registry_attribute, ErrorMap};
use crate::registry::cache::Cache;
use crate::registry::catalog::Catalog;
use crate::registry::ecr::{self, EcrAuth};
use crate::registry::oci::{self, OciClient, OciRegistry};
use crate::registry::request::Protocol;
use crate::registry::snapshot::Kind;
use crate::resources::chart_state::{
    catalog_from_snapshot, charts_state, snapshot_state, ChartState,
};
use crate::resources::common::{
    self, now_rfc3339, validate_credentials, validate_name, validate_pem, validate_required,
    with_default,
};
use crate::resources::oci_registry_ecr::{self as ecr_block, EcrBlock};
use crate::resources::plan::{self, Computed, Known, NotReady, Phase, RegistryPlan};
use crate::resources::shared_schema::{shared_attributes, Wording};
use crate::schema_util::{attr, schema_with_blocks, C, T};
use crate::settings::Shared;

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
    pub charts: Value<BTreeMap<String, ChartState>>,
    pub chart_count: Value<i64>,
    pub version_count: Value<i64>,
    pub catalog_digest: Value<String>,
    pub catalog_snapshot: Value<String>,
    pub last_synced: Value<String>,
    #[serde(default, with = "tf_provider::value::serde_as_vec")]
    pub ecr: Value<EcrBlock>,
}

const ERRORS: ErrorMap = ErrorMap {
    protocol: Protocol::Oci,
    at: |_, c| registry_attribute(c, "base_content_paths"),
};

/// What the OCI client receives: the registry it is built for, and the base paths its
/// [`OciClient::sync`] lists.
#[derive(Debug, Clone, PartialEq)]
pub struct OciFetch {
    pub registry: OciRegistry,
    pub base_paths: Vec<String>,
    /// Amazon ECR: the credentials and listing come from AWS (`registry.credentials` is `None`).
    pub ecr: Option<EcrAuth>,
}

pub const AUTH_TYPES: [&str; 2] = ["basic", "ecr"];

/// Directory of the OCI registries' cached blobs under `cache_dir` (`oci/<name>/blobs/`).
pub const CACHE_CLASS: &str = "oci";

pub struct OciRegistryResource {
    shared: Shared,
}

impl OciRegistryResource {
    pub fn new(shared: Shared) -> Self {
        OciRegistryResource { shared }
    }
}

pub fn resource_schema() -> Schema {
    let mut attributes = shared_attributes(Wording {
        registry: "registry",
        registries: "registries",
        index: "catalog",
        obtained: "listed",
        resync: "lists the registry",
        endpoint: "Registry as `host[:port][/path]`. HTTPS by default; `oci://` is accepted (HTTPS) and `http://` means plain HTTP. The path, if any, is a repository prefix (or a repository) under which charts are looked up.",
        username: "Username.",
        password: "Password or access token (sensitive). Registry tokens obtained with it are kept in memory only.",
        charts: "Chart repositories keyed by path relative to the endpoint (e.g. `library/nginx`), one summary each: chart `name`, `latest_version` (the newest tag that is not a pre-release, the one Helm takes without `--version`; `null` when every version is a pre-release), its `app_version`, `description` and `deprecated` (of the newest version when there is no stable one), and `version_count`. Tags pushed by Helm with `_` for `+` are read with `+`. The versions themselves are listed by the `chartreg_helm_chart` and `chartreg_helm_charts` data sources.",
        chart_count: "Number of chart repositories.",
        version_count: "Number of chart versions.",
        digest: ("catalog_digest", "SHA-256 (hex) of the catalog in state (every version record of `catalog_snapshot`); it changes when a chart, a version or anything recorded of one (digests, metadata) changes."),
        last_synced: "When the catalog in state last changed or was listed on create, update or `sync_trigger` (RFC 3339).",
    });
    attributes.insert("authentication_type".into(), attr(T::String, C::OptionalComputed, "`\"basic\"` (anonymous, or `username`/`password` answering the registry's Basic or Bearer-token challenge) or `\"ecr\"` (Amazon ECR: see the `ecr` block; without one, the AWS credential chain). Default: `\"ecr\"` when an `ecr` block is present, else `\"basic\"`."));
    attributes.insert("base_content_paths".into(), attr(T::List(Box::new(T::String)), C::Optional, "Repositories, or repository prefixes, relative to the endpoint path, that hold charts. Each is tried as a repository (`tags/list`) and as a prefix (`_catalog`; Amazon ECR: `DescribeRepositories`). Registries that refuse `_catalog` (GHCR, Docker Hub) need the repositories named here. Without any, the endpoint path (or the whole catalog) is listed."));
    schema_with_blocks(
        "Registers an OCI registry that holds Helm charts (CNCF distribution, Harbor, GHCR, Amazon ECR, …), with anonymous, basic, bearer-token or Amazon ECR authentication. The registration is validated on create (`/v2/` reachable, credentials accepted, TLS trusted, every base path holds Helm charts) and the chart catalog is kept in state: refreshed on every read with `synchronization = true` (repositories whose tags did not change are not read again), listed once and then used offline with `synchronization = false`. Only Helm charts are indexed (manifests whose config media type is `application/vnd.cncf.helm.config.v1+json`); tags that are not semantic versions are ignored. Deleting the resource only forgets the registration.",
        attributes,
        [("ecr".to_string(), ecr_block::ecr_block_schema())].into(),
    )
}

impl RegistryPlan for OciRegistryState {
    type Client = OciFetch;
    fn name(&self) -> &Value<String> {
        &self.name
    }
    fn sync_trigger(&self) -> &Value<String> {
        &self.sync_trigger
    }
    fn set_id(&mut self, id: Value<String>) {
        self.id = id;
    }
    fn apply_defaults(&mut self, config: &Self) {
        let auth = if config.ecr.is_value() {
            ecr_block::ECR
        } else {
            "basic"
        };
        self.authentication_type = with_default(&config.authentication_type, auth.to_string());
        self.synchronization = with_default(&config.synchronization, true);
        self.insecure_skip_tls_verify = with_default(&config.insecure_skip_tls_verify, false);
    }
    /// With `authentication_type = "ecr"` the `ecr` block is the input instead of
    /// `username`/`password` (which `validate` refuses then).
    fn client_inputs(&self) -> Result<OciFetch, NotReady> {
        let ecr = ecr_block::inputs(&self.authentication_type, &self.ecr)?;
        let endpoint = self.endpoint.known()?.as_ref_option().map(String::as_str);
        let mut base_paths = Vec::new();
        for p in self.base_content_paths.known()?.iter().flatten() {
            if let Value::Value(p) = p.known()? {
                base_paths.push(p.trim().trim_matches('/').to_string());
            }
        }
        Ok(OciFetch {
            registry: OciRegistry {
                endpoint: oci::parse_endpoint(endpoint.unwrap_or(""))?,
                credentials: match ecr {
                    Some(_) => None,
                    None => common::credentials(self.username.known()?, self.password.known()?),
                },
                tls: common::tls(
                    self.ca_certificate.known()?,
                    self.insecure_skip_tls_verify.known()?,
                ),
            },
            base_paths,
            ecr,
        })
    }
    fn set_computed(&mut self, to: Computed<'_, Self>) {
        self.charts = to.value(|p| &p.charts, BTreeMap::new());
        self.chart_count = to.value(|p| &p.chart_count, 0);
        self.version_count = to.value(|p| &p.version_count, 0);
        self.catalog_digest = to.value(|p| &p.catalog_digest, String::new());
        self.catalog_snapshot = to.value(|p| &p.catalog_snapshot, String::new());
        self.last_synced = to.value(|p| &p.last_synced, String::new());
    }
    fn catalog_snapshot(&self) -> &Value<String> {
        &self.catalog_snapshot
    }
}

/// The `ecr` checks of [`ecr_block::validate`] on a configuration.
fn ecr_checks(diags: &mut Diagnostics, c: &OciRegistryState) {
    let host = c
        .endpoint
        .as_ref_option()
        .and_then(|e| oci::parse_endpoint(e).ok())
        .map(|e| e.host.split(':').next().unwrap_or_default().to_string());
    ecr_block::validate(
        diags,
        &c.authentication_type,
        &c.ecr,
        &c.username,
        &c.password,
        host.as_deref(),
    );
}

/// The `ecr` checks again when planning: values from variables, unknown when Terraform validates,
/// are known now. `None` (no plan) when one fails; when the values were known at validation the
/// plan is not reached, so nothing is reported twice.
fn ecr_checks_at_plan(diags: &mut Diagnostics, config: Option<&OciRegistryState>) -> Option<()> {
    let Some(c) = config else { return Some(()) };
    let before = diags.errors.len();
    ecr_checks(diags, c);
    (diags.errors.len() == before).then_some(())
}

impl OciRegistryResource {
    /// The registry's blob cache (`cache_dir/oci/<name>`), refused for a name that is not a plain
    /// directory name (see [`Cache`]).
    fn cache(&self, name: &str) -> Result<Cache, crate::error::Error> {
        Cache::registry(&self.shared.get().cache_dir, CACHE_CLASS, name)
    }

    /// List the registry into `s` (for `phase`). The `previous` catalog (of the same endpoint)
    /// lets unchanged repositories be reused. `None` when it failed, reported as the phase
    /// reports failures.
    async fn sync(
        &self,
        diags: &mut Diagnostics,
        s: &mut OciRegistryState,
        phase: Phase,
        previous: Option<Catalog>,
    ) -> Option<()> {
        let name = s.name.as_ref_option().cloned().unwrap_or_default();
        let ctx = format!("OCI registry {name:?}");
        let inputs = plan::inputs_for_apply(s, diags, phase, &ERRORS, &ctx)?;
        let have_creds = inputs.registry.credentials.is_some() || inputs.ecr.is_some();
        let is_ecr = inputs.ecr.is_some();
        let report_err = |diags: &mut Diagnostics, e: &crate::error::Error| {
            phase.report(diags, e, &ERRORS, have_creds, &ctx);
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
        let built = match &inputs.ecr {
            None => OciClient::new(&inputs.registry, &settings.http, cache).map(|c| (c, None)),
            Some(auth) => ecr::oci_client(&inputs.registry, auth, &settings.http, cache)
                .map(|(c, e)| (c, Some(e))),
        };
        let (client, aws) = match built {
            Ok(c) => c,
            Err(e) => {
                report_err(diags, &e);
                return None;
            }
        };
        let report = match client.sync(&inputs.base_paths, previous.as_ref()).await {
            Ok(r) => r,
            // A registry that refuses `_catalog` (GHCR, Docker Hub) under an endpoint that is a
            // prefix, with synchronization off: reachable and the credentials accepted (the ping
            // passed), nothing to list. Palette registers such a registry and takes charts by name
            // and version; so does chartreg, with an empty catalog and a warning.
            Err(e @ crate::error::Error::CatalogUnsupported { .. })
                if matches!(s.synchronization, Value::Value(false))
                    && inputs.base_paths.is_empty() =>
            {
                diags.warning(
                    "Registry Catalog Not Listable",
                    format!("{ctx}: {e}. With synchronization off the registration is kept with an empty catalog: chartreg_helm_chart takes a chart by name and exact version without listing it. To list charts, name their repositories in base_content_paths."),
                    AttributePath::new("endpoint"),
                );
                oci::SyncReport::default()
            }
            Err(e) => {
                let e = if is_ecr {
                    ecr_block::client_error(e)
                } else {
                    e
                };
                report_err(diags, &e);
                return None;
            }
        };
        if let Some(aws) = &aws {
            tracing::debug!(
                registry = %name,
                tokens_minted = aws.tokens_minted(),
                roles_assumed = aws.roles_assumed(),
                repository_pages = aws.pages_listed(),
                "Amazon ECR calls"
            );
        }
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
        if phase.records_unchanged()
            || s.catalog_digest.as_ref_option() != Some(&digest)
            || plan::snapshot_missing(s)
        {
            s.charts = Value::Value(charts_state(&report.catalog));
            s.chart_count = Value::Value(report.catalog.chart_count() as i64);
            s.version_count = Value::Value(report.catalog.version_count() as i64);
            s.catalog_digest = Value::Value(digest);
            s.catalog_snapshot = Value::Value(snapshot_state(&report.catalog, Kind::Oci, ""));
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
            None | Some("basic") | Some("ecr") => {}
            Some(other) => diags.error(
                "Invalid Authentication Type",
                format!(
                    "authentication_type {other:?} must be one of {:?}.",
                    AUTH_TYPES
                ),
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
        ecr_checks(diags, &c);
        if !ecr_block::is_ecr(&c.authentication_type, &c.ecr) {
            validate_credentials(diags, &c.username, &c.password);
        }
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
            let previous = catalog_from_snapshot(s.catalog_snapshot.as_ref_option());
            if self
                .sync(diags, &mut next, Phase::Refresh, previous)
                .await
                .is_some()
            {
                s = next;
            }
        }
        Some((Some(s), private))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty)> {
        ecr_checks_at_plan(diags, config.as_ref())?;
        Some((Some(plan::plan_create(proposed?, config)), Value::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, ValueEmpty, Vec<AttributePath>)> {
        ecr_checks_at_plan(diags, config.as_ref())?;
        let (s, replace) = plan::plan_update(&prior?, proposed?, config);
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
        self.sync(diags, &mut s, Phase::Create, None).await?;
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
        if !plan::reads_again(&prior, &s) {
            return Some((Some(s), private));
        }
        // Same endpoint: unchanged repositories may be reused from the prior catalog.
        let previous = catalog_from_snapshot(prior.catalog_snapshot.as_ref_option())
            .filter(|_| !plan::changed(&prior.endpoint, &s.endpoint));
        match self.sync(diags, &mut s, Phase::Update, previous).await {
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
            common::forget_registry(diags, &self.shared, CACHE_CLASS, &name, "OCI registry");
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
        let s = OciRegistryState {
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
        let s = plan::imported(diags, checked, s)?;
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
            catalog_snapshot: Value::Value("s".into()),
            last_synced: Value::Value("t".into()),
            ..Default::default()
        }
    }

    /// catalog -> state -> catalog, through the JSON Terraform keeps: the snapshot gives the
    /// catalog back, and so its digest, which a refresh compares with `catalog_digest`.
    #[test]
    fn catalog_round_trips_through_state() {
        let catalog = crate::resources::chart_state::tests::sample_catalog();
        let s = OciRegistryState {
            charts: Value::Value(charts_state(&catalog)),
            catalog_digest: Value::Value(oci::catalog_digest(&catalog)),
            catalog_snapshot: Value::Value(snapshot_state(&catalog, Kind::Oci, "")),
            ..st()
        };
        let back: OciRegistryState =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        let read_back = catalog_from_snapshot(back.catalog_snapshot.as_ref_option()).unwrap();
        assert_eq!(read_back, catalog);
        assert_eq!(
            back.catalog_digest.as_ref_option(),
            Some(&oci::catalog_digest(&read_back))
        );
        assert_eq!(back.charts, s.charts);
    }

    /// Every configurable attribute reaches the client (a change lists the registry again)
    /// except `synchronization` (when to read, not what); so does every attribute of the `ecr`
    /// block.
    #[test]
    fn every_input_is_derived() {
        let base = OciRegistryState {
            username: Value::Value("u".into()),
            password: Value::Value("p".into()),
            ..st()
        };
        plan::assert_inputs_derived(&base, &resource_schema(), &["synchronization"]);
        let ecr = OciRegistryState {
            authentication_type: Value::Value("ecr".into()),
            ecr: Value::Value(EcrBlock::default()),
            ..st()
        };
        let schema = resource_schema();
        let tf_provider::schema::NestedBlock::Optional(block) = &schema.block.blocks["ecr"] else {
            panic!("ecr is an at-most-one block")
        };
        for name in block.attributes.keys() {
            let mut json = serde_json::to_value(&ecr).unwrap();
            json["ecr"][0][name.as_str()] = serde_json::Value::from("changed");
            let changed: OciRegistryState = serde_json::from_value(json).unwrap();
            assert!(plan::needs_sync(&ecr, &changed), "ecr.{name}");
        }
        // An ecr registration ignores username/password (refused at plan anyway).
        assert!(ecr.client_inputs().unwrap().registry.credentials.is_none());
        // Base paths are compared as the client receives them (trimmed of `/`).
        let (s, _) = plan::plan_update(
            &OciRegistryState {
                base_content_paths: Value::Value(vec![Value::Value("charts".into())]),
                ..st()
            },
            OciRegistryState {
                base_content_paths: Value::Value(vec![Value::Value("charts/".into())]),
                ..st()
            },
            None,
        );
        assert!(!s.charts.is_unknown());
    }

    /// Both resources keep charts in one shape.
    #[test]
    fn one_chart_shape() {
        let charts = |s: Schema| s.block.attributes["charts"].attr_type.clone();
        assert!(
            charts(resource_schema()) == charts(crate::resources::helm_registry::resource_schema())
        );
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
        // Exactly what a plan of the same configuration gives, with an empty catalog.
        let config = OciRegistryState {
            name: s.name.clone(),
            endpoint: s.endpoint.clone(),
            base_content_paths: s.base_content_paths.clone(),
            ..Default::default()
        };
        let mut planned = plan::plan_create(config.clone(), Some(config));
        planned.set_computed(Computed::Empty);
        assert_eq!(s, planned);
    }

    #[test]
    fn plans() {
        let plan = |p: OciRegistryState| plan::plan_update(&st(), p.clone(), Some(p));
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
        let s = plan::plan_create(
            OciRegistryState {
                authentication_type: Value::Null,
                ..st()
            },
            None,
        );
        assert_eq!(s.authentication_type, Value::Value("basic".into()));
    }
}
