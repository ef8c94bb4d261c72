//! Resource `chartreg_helm_registry`: a classic Helm repository (an HTTP server with
//! `index.yaml`), validated on create, whose chart index is kept in state and refreshed on read
//! when synchronization is on.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::diagnostics::{registry_attribute, ErrorMap};
use crate::registry::cache::Cache;
use crate::registry::helm_index::{self, FetchedIndex, HelmRepo, IndexFetch, Validators};
use crate::registry::request::Protocol;
use crate::resources::chart_state::{summaries_state, ChartState};
use crate::resources::common::{
    self, now_rfc3339, validate_credentials, validate_name, validate_pem, validate_required,
    with_default,
};
use crate::resources::plan::{self, Computed, Known, NotReady, Phase, RegistryPlan};
use crate::resources::shared_schema::{shared_attributes, Wording};
use crate::schema_util::{attr, schema, C, T};
use crate::settings::Shared;

/// State of `chartreg_helm_registry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HelmRegistryState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub endpoint: Value<String>,
    pub synchronization: Value<bool>,
    pub sync_trigger: Value<String>,
    pub username: Value<String>,
    pub password: Value<String>,
    pub ca_certificate: Value<String>,
    pub insecure_skip_tls_verify: Value<bool>,
    pub pass_credentials: Value<bool>,
    pub charts: Value<BTreeMap<String, ChartState>>,
    pub chart_count: Value<i64>,
    pub version_count: Value<i64>,
    pub index_digest: Value<String>,
    pub catalog_snapshot: Value<String>,
    pub last_synced: Value<String>,
}

/// Private state: HTTP validators of the index in state, for conditional refreshes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelmRegistryPrivate {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

const ERRORS: ErrorMap = ErrorMap {
    protocol: Protocol::Helm,
    at: |_, c| registry_attribute(c, "endpoint"),
};

/// Directory of the Helm repositories' cached indexes under `cache_dir` (`helm/<name>/`).
pub const CACHE_CLASS: &str = "helm";

pub struct HelmRegistryResource {
    shared: Shared,
}

impl HelmRegistryResource {
    pub fn new(shared: Shared) -> Self {
        HelmRegistryResource { shared }
    }
}

pub fn resource_schema() -> Schema {
    let mut attributes = shared_attributes(Wording {
        registry: "repository",
        registries: "repositories",
        index: "index",
        obtained: "downloaded",
        resync: "downloads the index",
        endpoint: "URL of the repository (`http://` or `https://`), under which `index.yaml` is served. A query string is kept. Changed in place and validated again.",
        username: "Username for HTTP basic authentication.",
        password: "Password for HTTP basic authentication (sensitive).",
        charts: "The repository's charts by name, one summary each: `name`, `latest_version` (the newest version that is not a pre-release, as `helm search repo` shows it and `helm pull` without `--version` takes it; `null` when every version is a pre-release, a chart `helm search repo` shows only with `--devel`), `app_version`, `description` and `deprecated` of that version (of the newest version when there is no stable one), and `version_count` (distinct versions). A version listed more than once in the index (a re-published chart) counts once; its details are those of its first entry, the one `helm pull --version` downloads (`helm search repo --versions` may show another entry's). The versions themselves are listed by the `chartreg_helm_chart` and `chartreg_helm_charts` data sources.",
        chart_count: "Number of charts in the index.",
        version_count: "Number of distinct chart versions in the index (the sum of the charts' `version_count`).",
        digest: ("index_digest", "SHA-256 (hex) of the index bytes last downloaded."),
        last_synced: "When the index in state was last downloaded (RFC 3339). A refresh answered 304 leaves it unchanged.",
    });
    attributes.insert("pass_credentials".into(), attr(T::Bool, C::OptionalComputed, "Send the credentials to chart URLs on other hosts too (default `false`, like Helm's `--pass-credentials`)."));
    schema(
        "Registers a classic Helm chart repository (an HTTP server that serves `index.yaml`). The registration is validated on create (reachable, credentials accepted, TLS trusted, a valid Helm index) and the repository's chart index is kept in state: refreshed on every read with `synchronization = true` (a conditional request: an unchanged index costs one HTTP 304), downloaded once and then used offline with `synchronization = false`. Deleting the resource only forgets the registration.",
        attributes,
    )
}

/// Plan-time check of the endpoint URL. Messages never quote the endpoint: it may carry a
/// password (userinfo) or a token (query string), and may come from a sensitive variable.
pub fn check_endpoint(e: &str) -> Result<(), String> {
    // Surrounding white space is trimmed when the index is fetched (e.g. a newline from file()).
    let e = e.trim();
    if e.chars().any(char::is_control) {
        // The url crate would silently strip tabs and newlines.
        return Err("the URL contains a tab, newline or other control character".into());
    }
    if e.chars().any(char::is_whitespace) {
        return Err("the URL contains white space (write a space in a path as %20)".into());
    }
    let u = url::Url::parse(e).map_err(|err| {
        format!(
            "it is not a valid URL ({err}); expected e.g. \"https://charts.example.com/stable\""
        )
    })?;
    if u.scheme() != "http" && u.scheme() != "https" {
        // Name the scheme only when it is really written as one (`robot:pw@host` parses with
        // the scheme "robot").
        let written = format!("{}://", u.scheme());
        let named = if e
            .as_bytes()
            .get(..written.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(written.as_bytes()))
        {
            format!("scheme {:?} is not supported", u.scheme())
        } else {
            "the URL does not start with http:// or https://".to_string()
        };
        return Err(format!(
            "{named}: use http:// or https:// (OCI registries are chartreg_oci_registry)"
        ));
    }
    if u.host_str().unwrap_or("").is_empty() {
        return Err("the URL has no host".into());
    }
    if u.port() == Some(0) {
        return Err(
            "port 0 is not a port a registry can listen on (use 1 to 65535, or omit it)".into(),
        );
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("the URL must not carry credentials: use username and password".into());
    }
    if u.fragment().is_some() {
        return Err("the URL must not have a #fragment".into());
    }
    Ok(())
}

impl RegistryPlan for HelmRegistryState {
    type Client = HelmRepo;
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
        self.synchronization = with_default(&config.synchronization, true);
        self.insecure_skip_tls_verify = with_default(&config.insecure_skip_tls_verify, false);
        self.pass_credentials = with_default(&config.pass_credentials, false);
    }
    fn client_inputs(&self) -> Result<HelmRepo, NotReady> {
        Ok(HelmRepo {
            endpoint: self
                .endpoint
                .known()?
                .as_ref_option()
                .cloned()
                .unwrap_or_default(),
            credentials: common::credentials(self.username.known()?, self.password.known()?),
            tls: common::tls(
                self.ca_certificate.known()?,
                self.insecure_skip_tls_verify.known()?,
            ),
            pass_credentials: matches!(self.pass_credentials.known()?, Value::Value(true)),
        })
    }
    fn set_computed(&mut self, to: Computed<'_, Self>) {
        self.charts = to.value(|p| &p.charts, BTreeMap::new());
        self.chart_count = to.value(|p| &p.chart_count, 0);
        self.version_count = to.value(|p| &p.version_count, 0);
        self.index_digest = to.value(|p| &p.index_digest, String::new());
        self.catalog_snapshot = to.value(|p| &p.catalog_snapshot, String::new());
        self.last_synced = to.value(|p| &p.last_synced, String::new());
    }
    fn catalog_snapshot(&self) -> &Value<String> {
        &self.catalog_snapshot
    }
}

/// The index URL as the snapshot names it (relative chart URLs resolve against it): without
/// userinfo (an endpoint cannot carry any; stripped all the same), query string kept as Helm
/// keeps it for chart URLs.
fn snapshot_index_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

impl HelmRegistryResource {
    /// Store a downloaded index into `s` and the cache; warn about skipped entries.
    fn store_index(
        &self,
        diags: &mut Diagnostics,
        s: &mut HelmRegistryState,
        f: &FetchedIndex,
    ) -> HelmRegistryPrivate {
        // Written from the parsed index directly (no catalog copy: issue 11, large indexes).
        s.chart_count = Value::Value(f.index.chart_count() as i64);
        s.version_count = Value::Value(f.index.version_count() as i64);
        s.charts = Value::Value(summaries_state(&f.index.summaries()));
        s.catalog_snapshot = Value::Value(f.index.snapshot(&snapshot_index_url(&f.url)));
        s.index_digest = Value::Value(f.digest.clone());
        s.last_synced = Value::Value(now_rfc3339());
        let name = s.name.as_ref_option().cloned().unwrap_or_default();
        if f.index.skipped > 0 {
            diags.root_warning(
                "Invalid Index Entries Skipped",
                {
                    let mut detail = format!(
                        "Helm repository {name:?}: {} chart version(s) in {} fail Helm's chart metadata validation (or have a name with control characters) and were skipped.",
                        f.index.skipped,
                        crate::error::redact_url(f.url.as_str())
                    );
                    for ex in &f.index.skipped_examples {
                        detail.push_str("\n- ");
                        detail.push_str(ex);
                    }
                    detail
                },
            );
        }
        let cache_dir = self.shared.get().cache_dir;
        let stored = Cache::registry(&cache_dir, CACHE_CLASS, &name)
            .and_then(|c| c.put_with("", &format!("sha256-{}", f.digest), |p| f.body.save_as(p)));
        if let Err(e) = stored {
            diags.root_warning(
                "Chart Cache Not Writable",
                format!("{e}. The index is kept in state only."),
            );
        }
        HelmRegistryPrivate {
            etag: f.validators.etag.clone(),
            last_modified: f.validators.last_modified.clone(),
        }
    }

    /// Download the index into `s` (for `phase`; `validators` make a refresh conditional).
    /// `None` when it failed (reported as the phase reports failures); `Some(None)` when the
    /// server answered 304.
    async fn download(
        &self,
        diags: &mut Diagnostics,
        s: &mut HelmRegistryState,
        phase: Phase,
        validators: Option<&Validators>,
    ) -> Option<Option<HelmRegistryPrivate>> {
        let name = s.name.as_ref_option().cloned().unwrap_or_default();
        let what = format!("Helm repository {name:?}");
        let repo = plan::inputs_for_apply(s, diags, phase, &ERRORS, &what)?;
        let settings = self.shared.get();
        match helm_index::fetch_index(&repo, &settings.http, validators).await {
            Ok(IndexFetch::NotModified) => {
                tracing::debug!(registry = %name, "index not modified");
                Some(None)
            }
            Ok(IndexFetch::Fetched(f)) => {
                tracing::debug!(registry = %name, digest = %f.digest, bytes = f.body.len(), "index downloaded");
                if !phase.records_unchanged()
                    && s.index_digest.as_ref_option() == Some(&f.digest)
                    && !plan::snapshot_missing(s)
                {
                    // Same bytes: nothing changes in state but the validators.
                    return Some(Some(HelmRegistryPrivate {
                        etag: f.validators.etag.clone(),
                        last_modified: f.validators.last_modified.clone(),
                    }));
                }
                Some(Some(self.store_index(diags, s, &f)))
            }
            Err(e) => {
                phase.report(diags, &e, &ERRORS, repo.credentials.is_some(), &what);
                None
            }
        }
    }
}

#[async_trait]
impl Resource for HelmRegistryResource {
    type State<'a> = Option<HelmRegistryState>;
    type PrivateState<'a> = Option<HelmRegistryPrivate>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(resource_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let Some(c) = config else { return Some(()) };
        validate_name(diags, &c.name);
        validate_required(diags, &c.endpoint, "endpoint", "Missing Endpoint");
        if let Value::Value(e) = &c.endpoint {
            if let Err(msg) = check_endpoint(e) {
                diags.error(
                    "Invalid Endpoint",
                    format!("endpoint: {msg}."),
                    AttributePath::new("endpoint"),
                );
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
        private: Self::PrivateState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Some(mut s) = state else {
            return Some((None, private));
        };
        if !matches!(s.synchronization, Value::Value(true)) {
            return Some((Some(s), private));
        }
        let validators = private
            .as_ref()
            .filter(|_| {
                s.index_digest
                    .as_ref_option()
                    .is_some_and(|d| !d.is_empty())
                    && !plan::snapshot_missing(&s)
            })
            .map(|p| Validators {
                etag: p.etag.clone(),
                last_modified: p.last_modified.clone(),
            });
        match self
            .download(diags, &mut s, Phase::Refresh, validators.as_ref())
            .await
        {
            Some(Some(p)) => Some((Some(s), Some(p))),
            _ => Some((Some(s), private)),
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        Some((Some(plan::plan_create(proposed?, config)), None))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let (s, replace) = plan::plan_update(&prior?, proposed?, config);
        Some((Some(s), private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: ValueEmpty,
    ) -> Option<Self::PrivateState<'a>> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut s = planned?;
        s.id = s.name.clone();
        let p = self.download(diags, &mut s, Phase::Create, None).await?;
        tracing::info!(registry = ?s.id, "Helm repository registered");
        Some((Some(s), p))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let prior = prior?;
        let mut s = planned?;
        if !plan::reads_again(&prior, &s) {
            return Some((Some(s), private));
        }
        match self.download(diags, &mut s, Phase::Update, None).await {
            Some(p) => Some((Some(s), p)),
            // Validation failed: the registration stays as it was.
            None => Some((Some(prior), private)),
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: ValueEmpty,
    ) -> Option<()> {
        if let Some(Value::Value(name)) = prior.map(|p| p.name) {
            common::forget_registry(diags, &self.shared, CACHE_CLASS, &name, "Helm repository");
        }
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Some((name, endpoint)) = common::split_import_id(&id) else {
            diags.root_error(
                "Invalid Import ID",
                "The import ID is not NAME=ENDPOINT (it is not quoted here: it may hold a secret), e.g. `terraform import chartreg_helm_registry.stable 'stable=https://charts.example.com/stable'`.",
            );
            return None;
        };
        // Checked exactly as a configuration, with the defaults a plan gives.
        let s = HelmRegistryState {
            name: Value::Value(name),
            endpoint: Value::Value(endpoint),
            ..Default::default()
        };
        let mut checked = Diagnostics::default();
        self.validate(&mut checked, Some(s.clone())).await;
        let s = plan::imported(diags, checked, s)?;
        // The read that follows an import downloads the index.
        Some((Some(s), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::snapshot::Kind;
    use crate::resources::chart_state::{charts_state, snapshot_state};

    #[test]
    fn endpoints() {
        assert!(check_endpoint("https://charts.example.com/stable").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/x?token=1").is_ok());
        assert!(check_endpoint("oci://r.example.com")
            .unwrap_err()
            .contains("chartreg_oci_registry"));
        assert!(check_endpoint("https://u:p@h/x")
            .unwrap_err()
            .contains("credentials"));
        assert!(check_endpoint("charts.example.com").is_err());
        assert!(check_endpoint(" http://h/x\n").is_ok());
        for bad in [
            "http://h:0/x",
            "http://h/a\tb",
            "http://h/a\nb",
            "http://h/a b",
            "ftp://h/x",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn endpoint_errors_never_quote_the_endpoint() {
        for bad in [
            "https://ci:S3cret@[::1/x",
            "https://[::1/x?token=S3cret",
            "robot:S3cret@127.0.0.1:5000",
            "S3cret:x@127.0.0.1:5000",
            "127.0.0.1:5000/charts?token=S3cret",
            "https://ci:S3cret@127.0.0.1:99999/x",
            "https://ci:S3cret@h/x?t=S3cret",
            "https://h:0/x?t=S3cret",
            "https://h/x?t=S3cret#S3cret",
        ] {
            let msg = check_endpoint(bad).unwrap_err();
            assert!(!msg.contains("S3cret"), "{bad}: {msg}");
        }
    }

    async fn import(id: &str) -> (Option<HelmRegistryState>, Diagnostics) {
        let r = HelmRegistryResource::new(Shared::default());
        let mut d = Diagnostics::default();
        let s = r.import(&mut d, id.to_string()).await.and_then(|(s, _)| s);
        (s, d)
    }

    /// Import IDs are checked as configuration: a name that is not a registry name (a path that
    /// would name a directory outside the cache) or a bad endpoint is an error, nothing imported.
    #[tokio::test]
    async fn import_checks_the_id_as_configuration() {
        for id in [
            "../..=http://127.0.0.1/ok",
            "/=http://127.0.0.1/ok",
            "/tmp/x=http://127.0.0.1/ok",
            ".=http://127.0.0.1/ok",
            "a/b=http://127.0.0.1/ok",
            "Upper=http://127.0.0.1/ok",
            "ok=ftp://127.0.0.1/ok",
            "ok=not a url",
        ] {
            let (s, d) = import(id).await;
            assert!(s.is_none(), "{id} was imported");
            assert!(!d.errors.is_empty(), "{id}");
            assert!(
                d.errors.iter().all(|e| e.summary == "Invalid Import ID"),
                "{id}: {d:?}"
            );
        }
        // An ID that is not NAME=ENDPOINT at all is never quoted back: it may hold a secret.
        for id in ["https://ci:S3cretPw@h/x", "https://h/x?token=S3cretPw"] {
            let (s, d) = import(id).await;
            assert!(s.is_none(), "{id} was imported");
            assert!(!format!("{d:?}").contains("S3cretPw"), "{d:?}");
        }
        let (s, d) = import("ok=http://127.0.0.1/ok").await;
        assert!(d.errors.is_empty(), "{d:?}");
        let s = s.unwrap();
        // Exactly what a plan of the same configuration gives, with an empty index.
        let config = HelmRegistryState {
            name: s.name.clone(),
            endpoint: s.endpoint.clone(),
            ..Default::default()
        };
        let mut planned = plan::plan_create(config.clone(), Some(config));
        planned.set_computed(Computed::Empty);
        assert_eq!(s, planned);
        assert_eq!(s.id, Value::Value("ok".into()));
        assert_eq!(s.pass_credentials, Value::Value(false));
    }

    fn st() -> HelmRegistryState {
        HelmRegistryState {
            name: Value::Value("a".into()),
            endpoint: Value::Value("https://h/x".into()),
            synchronization: Value::Value(true),
            insecure_skip_tls_verify: Value::Value(false),
            pass_credentials: Value::Value(false),
            charts: Value::Value(BTreeMap::new()),
            chart_count: Value::Value(0),
            version_count: Value::Value(0),
            index_digest: Value::Value("d".into()),
            catalog_snapshot: Value::Value("s".into()),
            last_synced: Value::Value("t".into()),
            ..Default::default()
        }
    }

    /// Plan an update from `st()` to `p` (with `p` as configuration).
    fn plan(p: HelmRegistryState) -> (HelmRegistryState, Vec<AttributePath>) {
        plan::plan_update(&st(), p.clone(), Some(p))
    }

    /// `pass_credentials` changes what is fetched (credentials follow a redirect to another
    /// host), so changing it downloads the index again: it once did not, because the
    /// re-download was decided by a hand-kept list of attributes.
    #[test]
    fn pass_credentials_change_downloads_again() {
        let (s, rep) = plan(HelmRegistryState {
            pass_credentials: Value::Value(true),
            ..st()
        });
        assert!(rep.is_empty());
        assert!(s.charts.is_unknown() && s.index_digest.is_unknown());
    }

    /// Every configurable attribute reaches the client (a change downloads again) except
    /// `synchronization` (when to read, not what).
    #[test]
    fn every_input_is_derived() {
        let base = HelmRegistryState {
            username: Value::Value("u".into()),
            password: Value::Value("p".into()),
            ..st()
        };
        plan::assert_inputs_derived(&base, &resource_schema(), &["synchronization"]);
        // Unknown inputs may change anything.
        let (s, _) = plan(HelmRegistryState {
            password: Value::Unknown,
            ..st()
        });
        assert!(s.charts.is_unknown());
    }

    /// catalog -> state -> catalog, through the JSON Terraform keeps: the summaries, and the
    /// snapshot with every version, the index URL without userinfo.
    #[test]
    fn catalog_round_trips_through_state() {
        let index = br#"apiVersion: v1
entries:
  old:
    - {name: old, version: 2.0.0, appVersion: "2", description: last, deprecated: true, urls: [old-2.0.0.tgz], digest: "sha256:AB"}
    - {name: old, version: 1.0.0, description: first, urls: [old-1.0.0.tgz]}
  new:
    - {name: new, version: 0.1.0-rc.1, urls: [new.tgz]}
"#;
        let catalog = helm_index::parse_index(index, "https://h/index.yaml")
            .unwrap()
            .catalog();
        let url = url::Url::parse("https://u:p@h/x/index.yaml?t=1").unwrap();
        let s = HelmRegistryState {
            charts: Value::Value(charts_state(&catalog)),
            catalog_snapshot: Value::Value(snapshot_state(
                &catalog,
                Kind::Helm,
                &snapshot_index_url(&url),
            )),
            ..st()
        };
        let back: HelmRegistryState =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        let Value::Value(charts) = &back.charts else {
            panic!("charts")
        };
        assert_eq!(charts["old"].name, "old");
        assert_eq!(charts["old"].version_count, 2);
        assert!(charts["old"].deprecated);
        assert_eq!(charts["new"].latest_version, None);
        let snap = crate::registry::snapshot::Snapshot::decode(
            back.catalog_snapshot.as_ref_option().unwrap(),
        )
        .unwrap();
        assert_eq!(snap.index_url, "https://h/x/index.yaml?t=1");
        assert_eq!(snap.kind, Kind::Helm);
        assert_eq!(snap.charts, catalog.charts);
        assert_eq!(snap.charts["old"].versions[0].digest, "ab");
        assert_eq!(snap.charts["old"].versions[0].urls, ["old-2.0.0.tgz"]);
    }

    /// A state written before `catalog_snapshot` existed has it `null`: the plan reads the
    /// registry again (an update), so that the data sources get a snapshot; an import's empty
    /// catalog (`""`) does not.
    #[test]
    fn a_state_without_snapshot_reads_again() {
        let prior = HelmRegistryState {
            catalog_snapshot: Value::Null,
            ..st()
        };
        let (s, rep) = plan::plan_update(&prior, st(), Some(st()));
        assert!(rep.is_empty());
        assert!(s.catalog_snapshot.is_unknown() && s.charts.is_unknown());
        let prior = HelmRegistryState {
            catalog_snapshot: Value::Value(String::new()),
            ..st()
        };
        let (s, _) = plan::plan_update(&prior, st(), Some(st()));
        assert_eq!(s.catalog_snapshot, Value::Value(String::new()));
    }

    #[test]
    fn plans() {
        // Unchanged: computed values kept.
        let (s, rep) = plan(st());
        assert!(rep.is_empty());
        assert_eq!(s.catalog_snapshot, Value::Value("s".into()));
        assert_eq!(s.index_digest, Value::Value("d".into()));
        // sync toggle only: no download, no replacement.
        let (s, rep) = plan(HelmRegistryState {
            synchronization: Value::Value(false),
            ..st()
        });
        assert!(rep.is_empty());
        assert!(!s.charts.is_unknown());
        // endpoint change: re-download (computed unknown), in place.
        let (s, rep) = plan(HelmRegistryState {
            endpoint: Value::Value("https://h/y".into()),
            ..st()
        });
        assert!(rep.is_empty());
        assert!(s.charts.is_unknown());
        // sync_trigger change: re-download.
        let (s, _) = plan(HelmRegistryState {
            sync_trigger: Value::Value("2".into()),
            ..st()
        });
        assert!(s.last_synced.is_unknown());
        // name change: replacement.
        let (_, rep) = plan(HelmRegistryState {
            name: Value::Value("b".into()),
            ..st()
        });
        assert_eq!(rep, vec![AttributePath::new("name")]);
        // removing synchronization from config brings the default back.
        let prior = HelmRegistryState {
            synchronization: Value::Value(false),
            ..st()
        };
        let config = HelmRegistryState {
            synchronization: Value::Null,
            ..st()
        };
        let (s, _) = plan::plan_update(&prior, prior.clone(), Some(config));
        assert_eq!(s.synchronization, Value::Value(true));
        // create: id known, index unknown.
        let s = plan::plan_create(
            HelmRegistryState {
                charts: Value::Null,
                ..st()
            },
            None,
        );
        assert_eq!(s.id, Value::Value("a".into()));
        assert!(s.charts.is_unknown() && s.index_digest.is_unknown());
    }
}
