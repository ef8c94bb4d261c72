//! Data source `chartreg_helm_chart`: one chart version of a registered registry, resolved as
//! Helm resolves it, with what `helm_release` needs (`repository`, `chart`, `version`) and, when
//! the registry is synchronized, the chart's own details (Chart.yaml, values.yaml,
//! values.schema.json).
//!
//! Why it exists: a registry resource keeps one summary per chart; this is how a configuration
//! picks a chart version from it (Palette's "Add Helm Chart" layer) without retyping endpoint or
//! credentials: `registry` takes the whole registry object ([`super::registry_ref`]).
//!
//! - Synchronization on: the version is resolved against the registry's catalog snapshot (Helm's
//!   rules, `crate::registry::resolve`), and the details are read from the chart archive, whose
//!   digest is verified and which is cached by digest (`crate::registry::chart_archive`).
//! - Synchronization off: no request at all. `version` must be exact; `repository`, `chart`, `url`
//!   and `digest` come from the snapshot, or, for a version it lacks, from the registry's standard
//!   layout with a warning; the details are null.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::map;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::data_sources::chart_fetch;
use crate::data_sources::dynamic::Dynamic;
use crate::data_sources::registry_ref::{self, Decoded, RegistryRef};
use crate::diagnostics::ErrorMap;
use crate::error::{Culprit, Error};
use crate::registry::catalog::SemVer;
use crate::registry::chart_archive::{ArchiveInfo, ChartDetails};
use crate::registry::oci::{validate_repository_path, version_to_tag};
use crate::registry::request::Protocol;
use crate::registry::resolve::{self, closest_names, Constraint, ResolveError};
use crate::registry::snapshot::{ChartRecords, Kind, VersionRecord};
use crate::schema_util::{attr, schema, C, T};
use crate::settings::Shared;

/// One maintainer of the chart (Chart.yaml `maintainers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    pub name: Value<String>,
    pub email: Value<String>,
    pub url: Value<String>,
}

/// One dependency of the chart (Chart.yaml `dependencies`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: Value<String>,
    pub version: Value<String>,
    pub repository: Value<String>,
    pub condition: Value<String>,
    pub alias: Value<String>,
}

/// State (and configuration) of `chartreg_helm_chart`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HelmChartState {
    pub registry: Dynamic,
    pub name: Value<String>,
    pub version: Value<String>,
    pub versions: Value<Vec<Value<String>>>,
    pub repository: Value<String>,
    pub chart: Value<String>,
    pub url: Value<String>,
    pub digest: Value<String>,
    pub manifest_digest: Value<String>,
    pub app_version: Value<String>,
    pub description: Value<String>,
    pub values: Value<String>,
    pub values_schema: Value<String>,
    pub home: Value<String>,
    pub icon: Value<String>,
    pub keywords: Value<Vec<Value<String>>>,
    pub sources: Value<Vec<Value<String>>>,
    pub maintainers: Value<Vec<Value<Maintainer>>>,
    pub dependencies: Value<Vec<Value<Dependency>>>,
    pub annotations: Value<BTreeMap<String, Value<String>>>,
    pub deprecated: Value<bool>,
    pub created: Value<String>,
    #[serde(rename = "type")]
    pub chart_type: Value<String>,
    pub kube_version: Value<String>,
}

pub struct HelmChartDataSource {
    shared: Shared,
}

impl HelmChartDataSource {
    pub fn new(shared: Shared) -> Self {
        HelmChartDataSource { shared }
    }
}

/// Where registry errors go: what is about the registry (endpoint, credentials, TLS, base paths)
/// on `registry`; what is about the archive of the chosen version on `version`; the provider's
/// settings (size caps, cache) on the block.
fn error_map(kind: Kind) -> ErrorMap {
    ErrorMap {
        protocol: match kind {
            Kind::Helm => Protocol::Helm,
            Kind::Oci => Protocol::Oci,
        },
        at: |e, c| match (e, c) {
            (
                Error::InvalidChart { .. }
                | Error::DigestMismatch { .. }
                | Error::ChartTooLarge { .. },
                _,
            ) => AttributePath::new("version"),
            (Error::NotFound { .. }, _) => AttributePath::new("version"),
            (
                _,
                Culprit::Endpoint
                | Culprit::Credentials
                | Culprit::Tls
                | Culprit::BasePaths
                | Culprit::Ecr(_),
            ) => AttributePath::new("registry"),
            (_, Culprit::Provider | Culprit::None) => AttributePath::root(),
        },
    }
}

fn strings() -> T {
    T::List(Box::new(T::String))
}

pub fn data_source_schema() -> Schema {
    let details = "Null when the registry's `synchronization` is off.";
    let unset =
        "Null when Chart.yaml does not set it, and when the registry's `synchronization` is off.";
    let attrs = [
        ("registry", registry_ref::attribute("that holds the chart")),
        ("name", attr(T::String, C::Required, "Chart name (Helm repository), or repository path relative to the endpoint (OCI registry, e.g. `nginx` or `team/nginx`), as the registry's `charts` keys it.")),
        ("version", attr(T::String, C::OptionalComputed, "Chart version. Written: an exact version (`15.0.2`, `1.0.0+build.1`) or a Helm constraint (`~15.0`, `^1.2`, `>= 1.0, < 2.0`, `1.x`, `*`), resolved as `helm pull --version` resolves it: the exact string first, then the newest version the constraint allows, pre-releases only when the constraint names one. Omitted: the newest stable version, as `helm pull` without `--version`. Read: the resolved version, exact. With the registry's `synchronization` off, only an exact version is accepted (nothing is resolved without the registry).")),
        ("versions", attr(strings(), C::Computed, "Every version of the chart the registry's catalog lists, newest first (Helm's order), each once.")),
        ("repository", attr(T::String, C::Computed, "What `helm_release`'s `repository` (and `helm pull --repo`) takes: the Helm repository URL (without credentials or query string), or `oci://host[/path]` of the chart's OCI repository without its last segment.")),
        ("chart", attr(T::String, C::Computed, "What `helm_release`'s `chart` takes alongside `repository`: the chart name (Helm repository), or the last segment of the OCI repository.")),
        ("url", attr(T::String, C::Computed, "Where the chart archive is: the absolute URL of the index entry (Helm repository; a relative entry is resolved against the repository URL, without the endpoint's query string, which may hold a token), or the OCI reference `oci://host/path/name:tag` (`+` written `_`).")),
        ("digest", attr(T::String, C::Computed, "SHA-256 (hex) of the chart archive, as `sha256sum` of the pulled `.tgz` prints it: the index's `digest` (Helm repository, verified against the archive when synchronization is on) or the chart layer's digest (OCI). Null when unknown (synchronization off and a version the stored catalog lacks).")),
        ("manifest_digest", attr(T::String, C::Computed, "OCI registries: digest (`sha256:…`) of the chart's manifest. Null for a Helm repository, and when unknown.")),
        ("app_version", attr(T::String, C::Computed, &format!("`appVersion` of Chart.yaml. {unset}"))),
        ("description", attr(T::String, C::Computed, &format!("`description` of Chart.yaml. {unset}"))),
        ("values", attr(T::String, C::Computed, &format!("The chart's `values.yaml`, verbatim (`helm show values` prints it followed by one newline); empty when the chart has none. {details}"))),
        ("values_schema", attr(T::String, C::Computed, &format!("The chart's `values.schema.json`, verbatim; null when the chart has none. {details}"))),
        ("home", attr(T::String, C::Computed, &format!("`home` of Chart.yaml. {unset}"))),
        ("icon", attr(T::String, C::Computed, &format!("`icon` of Chart.yaml. {unset}"))),
        ("keywords", attr(strings(), C::Computed, &format!("`keywords` of Chart.yaml. {details}"))),
        ("sources", attr(strings(), C::Computed, &format!("`sources` of Chart.yaml. {details}"))),
        ("maintainers", attr(T::List(Box::new(T::Object(map! {"name" => T::String, "email" => T::String, "url" => T::String}))), C::Computed, &format!("`maintainers` of Chart.yaml: `name`, `email`, `url`. {details}"))),
        ("dependencies", attr(T::List(Box::new(T::Object(map! {"name" => T::String, "version" => T::String, "repository" => T::String, "condition" => T::String, "alias" => T::String}))), C::Computed, &format!("`dependencies` of Chart.yaml: `name`, `version` (a constraint, as written), `repository`, `condition`, `alias`. {details}"))),
        ("annotations", attr(T::Map(Box::new(T::String)), C::Computed, &format!("`annotations` of Chart.yaml. {details}"))),
        ("deprecated", attr(T::Bool, C::Computed, &format!("`deprecated` of Chart.yaml. {details}"))),
        ("created", attr(T::String, C::Computed, &format!("When the version was published (RFC 3339): the index entry's `created` (Helm repository) or the manifest's `org.opencontainers.image.created` annotation (OCI), null when the registry does not say. {details}"))),
        ("type", attr(T::String, C::Computed, &format!("`type` of Chart.yaml (`application` or `library`; Helm's default `application` when unset). {details}"))),
        ("kube_version", attr(T::String, C::Computed, &format!("`kubeVersion` of Chart.yaml: the Kubernetes versions the chart supports (a constraint). {unset}"))),
    ];
    schema(
        "One chart version of a registered registry (`chartreg_helm_registry` or `chartreg_oci_registry`, given by reference), resolved exactly as Helm resolves it, with what `helm_release` takes (`repository`, `chart`, `version`) and, when the registry is synchronized, the chart's details read from its archive (Chart.yaml, `values.yaml`, `values.schema.json`; the archive's digest is verified and it is cached by digest in `cache_dir`, so a second plan downloads nothing). With the registry's `synchronization` off no request is made: the version must be exact and the details are null. A `helm_release` (hashicorp/helm) takes `repository`, `chart` and `version` as they are, for a Helm repository and an OCI registry alike.",
        attrs.into_iter().map(|(k, a)| (k.to_string(), a)).collect(),
    )
}

/// Whether `v` is an exact version (`MAJOR.MINOR.PATCH[-pre][+build]`), what
/// `synchronization = false` accepts; anything else Helm reads as a constraint (`1.2` is `1.2.x`).
pub fn is_exact_version(v: &str) -> bool {
    resolve::is_exact_version(v)
}

/// The attribute paths of this data source's arguments.
fn at(name: &'static str) -> AttributePath {
    AttributePath::new(name)
}

/// Plan-time checks of `name` (any registry, or for a known kind).
fn check_name(diags: &mut Diagnostics, name: &Value<String>, kind: Option<Kind>) {
    match name {
        Value::Null => diags.error(
            "Missing Chart Name",
            "name is required and must not be null.",
            at("name"),
        ),
        Value::Value(n) if n.trim().is_empty() => diags.error(
            "Invalid Chart Name",
            "name must not be empty.",
            at("name"),
        ),
        Value::Value(n) if n.chars().any(char::is_control) => diags.error(
            "Invalid Chart Name",
            "name must not contain control characters.",
            at("name"),
        ),
        Value::Value(n) if kind == Some(Kind::Oci) => {
            if let Err(e) = validate_repository_path(n) {
                diags.error(
                    "Invalid Chart Name",
                    format!("name {n:?} is not an OCI repository path relative to the endpoint: {e}."),
                    at("name"),
                );
            }
        }
        Value::Value(n) if kind == Some(Kind::Helm) && n.contains('/') => diags.error(
            "Invalid Chart Name",
            format!("name {n:?}: a Helm repository's chart names have no '/' (write the chart name as `helm search repo` shows it after `repo/`)."),
            at("name"),
        ),
        _ => {}
    }
}

/// Plan-time checks of `version`: not empty, and exact when the registry is not synchronized.
fn check_version(diags: &mut Diagnostics, version: &Value<String>, sync: Option<bool>) {
    match version {
        Value::Value(v) if v.trim().is_empty() => diags.error(
            "Invalid Chart Version",
            "version must not be empty: omit it for the newest stable version.",
            at("version"),
        ),
        Value::Value(v) if SemVer::parse(v).is_none() && Constraint::parse(v).is_err() => {
            let reason = Constraint::parse(v).err().map(|e| e.reason).unwrap_or_default();
            diags.error(
                "Invalid Chart Version",
                format!("version {v:?} is neither a version nor a Helm version constraint ({reason}). Write an exact version (`1.2.3`) or a constraint such as `~1.2`, `^1.0.0`, `>= 1.0.0, < 2.0.0`, `1.x`."),
                at("version"),
            )
        }
        Value::Value(v) if sync == Some(false) && !is_exact_version(v) => diags.error(
            "Chart Version Constraint Needs Synchronization",
            format!("version {v:?} is not an exact version (MAJOR.MINOR.PATCH, as the registry lists it), and the registry's synchronization is off: without reading the registry chartreg cannot know which versions exist now, so a constraint is not resolved (a stale catalog would silently pick an old version). Write the exact version, or set synchronization = true on the registry."),
            at("version"),
        ),
        Value::Null if sync == Some(false) => diags.error(
            "Chart Version Required",
            "version is required when the registry's synchronization is off: without reading the registry chartreg cannot know which version is the newest. Write the exact version, or set synchronization = true on the registry.",
            at("version"),
        ),
        _ => {}
    }
}

/// Where a chart lives in the registry, as `helm_release` and `helm pull` take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub repository: String,
    pub chart: String,
}

/// `repository` and `chart` for the chart keyed `key`.
pub fn location(reg: &RegistryRef, key: &str, records: Option<&ChartRecords>) -> Location {
    let base = reg.repository_url();
    match reg.kind {
        Kind::Helm => Location {
            repository: base,
            chart: records.map_or(key, |r| r.name.as_str()).to_string(),
        },
        Kind::Oci => {
            let key = key.trim_matches('/');
            match key.rsplit_once('/') {
                Some((parent, last)) => Location {
                    repository: format!("{base}/{parent}"),
                    chart: last.to_string(),
                },
                None => Location {
                    repository: base,
                    chart: key.to_string(),
                },
            }
        }
    }
}

/// The archive URL of `version` by the registry's standard layout (what `helm package` +
/// `helm repo index` write, what `helm push` names).
pub fn standard_url(loc: &Location, version: &str) -> String {
    if loc.repository.starts_with("oci://") {
        format!(
            "{}/{}:{}",
            loc.repository,
            loc.chart,
            version_to_tag(version)
        )
    } else {
        format!("{}/{}-{}.tgz", loc.repository, loc.chart, version)
    }
}

/// The absolute archive URL of an index entry, as published: relative entries resolved against
/// the public repository URL (without the endpoint's query string: it may be a token), absolute
/// ones without userinfo.
pub fn published_url(reg: &RegistryRef, loc: &Location, record: &VersionRecord) -> String {
    if reg.kind == Kind::Oci {
        return standard_url(loc, &record.version);
    }
    let Some(first) = record.urls.first() else {
        return standard_url(loc, &record.version);
    };
    let base = format!("{}/index.yaml", loc.repository);
    let resolved = url::Url::parse(&base)
        .ok()
        .and_then(|b| crate::registry::helm_index::resolve_chart_url(&b, first).ok());
    match resolved {
        Some(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        None => standard_url(loc, &record.version),
    }
}

/// Resolve `wanted` among `records` as Helm does for this kind of registry.
fn resolve_version<'a>(
    kind: Kind,
    records: &'a ChartRecords,
    wanted: Option<&str>,
) -> Result<&'a VersionRecord, ResolveError> {
    match kind {
        Kind::Helm => resolve::resolve_helm(&records.versions, wanted),
        Kind::Oci => resolve::resolve_oci(&records.versions, wanted),
    }
}

impl HelmChartState {
    /// Every computed attribute unknown (the registry is not known yet).
    fn all_unknown(&mut self) {
        let version = std::mem::take(&mut self.version);
        *self = HelmChartState {
            registry: std::mem::take(&mut self.registry),
            name: std::mem::take(&mut self.name),
            version: if version.is_null() {
                Value::Unknown
            } else {
                version
            },
            versions: Value::Unknown,
            repository: Value::Unknown,
            chart: Value::Unknown,
            url: Value::Unknown,
            digest: Value::Unknown,
            manifest_digest: Value::Unknown,
            app_version: Value::Unknown,
            description: Value::Unknown,
            values: Value::Unknown,
            values_schema: Value::Unknown,
            home: Value::Unknown,
            icon: Value::Unknown,
            keywords: Value::Unknown,
            sources: Value::Unknown,
            maintainers: Value::Unknown,
            dependencies: Value::Unknown,
            annotations: Value::Unknown,
            deprecated: Value::Unknown,
            created: Value::Unknown,
            chart_type: Value::Unknown,
            kube_version: Value::Unknown,
        };
    }

    /// The outputs every read sets: version, versions, repository, chart, url, digests.
    fn set_location(
        &mut self,
        reg: &RegistryRef,
        loc: &Location,
        records: Option<&ChartRecords>,
        record: Option<&VersionRecord>,
        version: &str,
    ) {
        let text = |s: &str| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::Value(s.to_string())
            }
        };
        self.version = Value::Value(version.to_string());
        self.versions = Value::Value(
            records
                .map(|r| {
                    r.versions
                        .iter()
                        .map(|v| Value::Value(v.version.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        );
        self.repository = Value::Value(loc.repository.clone());
        self.chart = Value::Value(loc.chart.clone());
        self.url = Value::Value(match record {
            Some(r) => published_url(reg, loc, r),
            None => standard_url(loc, version),
        });
        self.digest = record.map_or(Value::Null, |r| text(&r.digest));
        self.manifest_digest = record.map_or(Value::Null, |r| text(&r.manifest_digest));
    }
}

impl HelmChartState {
    /// The outputs read from the chart archive (synchronization on).
    fn set_details(&mut self, d: &ChartDetails, info: &ArchiveInfo, record: &VersionRecord) {
        let text = |s: &str| Value::Value(s.to_string());
        let opt = |s: &str| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::Value(s.to_string())
            }
        };
        let list = |v: &[String]| Value::Value(v.iter().map(|s| Value::Value(s.clone())).collect());
        self.digest = Value::Value(info.digest.clone());
        if let Some(m) = &info.manifest_digest {
            self.manifest_digest = Value::Value(m.clone());
        }
        self.app_version = opt(&d.app_version);
        self.description = opt(&d.description);
        self.values = Value::Value(d.values.clone().unwrap_or_default());
        self.values_schema = d.values_schema.clone().map_or(Value::Null, Value::Value);
        self.home = opt(&d.home);
        self.icon = opt(&d.icon);
        self.keywords = list(&d.keywords);
        self.sources = list(&d.sources);
        self.maintainers = Value::Value(
            d.maintainers
                .iter()
                .map(|m| {
                    Value::Value(Maintainer {
                        name: opt(&m.name),
                        email: opt(&m.email),
                        url: opt(&m.url),
                    })
                })
                .collect(),
        );
        self.dependencies = Value::Value(
            d.dependencies
                .iter()
                .map(|x| {
                    Value::Value(Dependency {
                        name: opt(&x.name),
                        version: opt(&x.version),
                        repository: opt(&x.repository),
                        condition: opt(&x.condition),
                        alias: opt(&x.alias),
                    })
                })
                .collect(),
        );
        self.annotations = Value::Value(
            d.annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::Value(v.clone())))
                .collect(),
        );
        self.deprecated = Value::Value(d.deprecated);
        self.created = opt(&record.created);
        self.chart_type = text(if d.chart_type.is_empty() {
            "application"
        } else {
            &d.chart_type
        });
        self.kube_version = opt(&d.kube_version);
    }
}

#[async_trait]
impl DataSource for HelmChartDataSource {
    type State<'a> = HelmChartState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(data_source_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let (kind, sync) = match registry_ref::decode_or_report(diags, &config.registry) {
            Some(Decoded::Known(r)) => (Some(r.kind), Some(r.synchronization)),
            Some(Decoded::Unknown(k)) => (k, None),
            None => (None, None),
        };
        check_name(diags, &config.name, kind);
        check_version(diags, &config.version, sync);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut config: Self::State<'a>,
        _meta: ValueEmpty,
    ) -> Option<Self::State<'a>> {
        let reg = match registry_ref::decode_or_report(diags, &config.registry)? {
            Decoded::Known(r) => r,
            Decoded::Unknown(_) => {
                config.all_unknown();
                return Some(config);
            }
        };
        check_name(diags, &config.name, Some(reg.kind));
        check_version(diags, &config.version, Some(reg.synchronization));
        if !diags.errors.is_empty() {
            return None;
        }
        let name = config.name.as_ref_option().cloned().unwrap_or_default();
        let wanted = config.version.as_ref_option().cloned();
        let records = reg.snapshot.as_ref().and_then(|s| s.chart(&name));
        let loc = location(&reg, &name, records);
        if !reg.synchronization {
            // Exact version (checked above): from the stored catalog, else the standard layout.
            let asked = wanted.unwrap_or_default();
            let record = records.and_then(|r| resolve_version(reg.kind, r, Some(&asked)).ok());
            // A version the catalog lacks is written as registries name files and tags.
            let version = record.map_or_else(
                || match reg.kind {
                    Kind::Helm => asked.strip_prefix('v').unwrap_or(&asked).to_string(),
                    Kind::Oci => asked.clone(),
                },
                |r| r.version.clone(),
            );
            if record.is_none() {
                let known = match records {
                    Some(_) => format!("its stored catalog has no version {version:?} of {name:?}"),
                    None => format!("its stored catalog has no chart {name:?}"),
                };
                diags.warning(
                    "Chart Version Not In Stored Catalog",
                    format!("{}: synchronization is off and {known}; repository, chart and url follow the registry's standard layout ({}), and digest is null. If the chart exists, this is what `helm pull` fetches; change the registry's sync_trigger to store the current catalog.", reg.display(), standard_url(&loc, &version)),
                    at("version"),
                );
            }
            config.set_location(&reg, &loc, records, record, &version);
            config.registry = registry_ref::stored(&config.registry);
            return Some(config);
        }
        let Some(snapshot) = &reg.snapshot else {
            diags.error(
                "Registry Catalog Not Read",
                format!("{} has no stored catalog yet (imported and not refreshed?): run `terraform apply -refresh-only` or change its sync_trigger.", reg.display()),
                at("registry"),
            );
            return None;
        };
        let Some(records) = records else {
            let names: Vec<&str> = snapshot.charts.keys().map(String::as_str).collect();
            let near = closest_names(&names, &name);
            diags.error(
                "Chart Not Found",
                format!(
                    "{} has no chart {name:?}.{}",
                    reg.display(),
                    if snapshot.charts.is_empty() {
                        " Its catalog is empty.".to_string()
                    } else if near.is_empty() {
                        format!(
                            " It has {} chart(s), none with a similar name.",
                            names.len()
                        )
                    } else {
                        format!(" Closest: {}.", near.join(", "))
                    }
                ),
                at("name"),
            );
            return None;
        };
        let record = match resolve_version(reg.kind, records, wanted.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                let summary = match e {
                    ResolveError::InvalidConstraint(..) => "Invalid Chart Version",
                    ResolveError::NotFound(_) => "Chart Version Not Found",
                };
                diags.error(
                    summary,
                    format!("{} chart {name:?}: {e}.", reg.display()),
                    at("version"),
                );
                return None;
            }
        };
        config.set_location(&reg, &loc, Some(records), Some(record), &record.version);
        let settings = self.shared.get();
        match chart_fetch::chart_details(&settings, &reg, snapshot, &name, records, record).await {
            Ok((details, info)) => {
                config.set_details(&details, &info, record);
                config.registry = registry_ref::stored(&config.registry);
                Some(config)
            }
            Err(e) => {
                let context = format!(
                    "{} chart {name:?} version {:?}",
                    reg.display(),
                    record.version
                );
                crate::diagnostics::error(
                    diags,
                    &e,
                    &error_map(reg.kind),
                    reg.credentials().is_some(),
                    &context,
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_versions() {
        for ok in [
            "1.0.0",
            "15.0.2",
            "1.0.0-rc.1",
            "1.0.0+build.1",
            "0.0.1-a+b",
        ] {
            assert!(is_exact_version(ok), "{ok}");
        }
        for c in [
            "1.0",
            "1",
            "~1.0.0",
            "^1",
            ">= 1.0.0",
            "1.x",
            "*",
            "1.0.0 || 2.0.0",
            "",
        ] {
            assert!(!is_exact_version(c), "{c}");
        }
    }

    use crate::data_sources::registry_ref::ClientInputs;
    use crate::registry::helm_index::HelmRepo;
    use crate::registry::oci::{parse_endpoint, OciRegistry};
    use crate::resources::oci_registry::OciFetch;

    fn helm_ref(endpoint: &str) -> RegistryRef {
        RegistryRef {
            kind: Kind::Helm,
            name: "h".into(),
            endpoint: endpoint.into(),
            synchronization: true,
            client: ClientInputs::Helm(HelmRepo {
                endpoint: endpoint.into(),
                credentials: None,
                tls: Default::default(),
                pass_credentials: false,
            }),
            charts: Default::default(),
            snapshot: None,
            index_digest: String::new(),
        }
    }

    fn oci_ref(endpoint: &str) -> RegistryRef {
        RegistryRef {
            kind: Kind::Oci,
            client: ClientInputs::Oci(OciFetch {
                registry: OciRegistry {
                    endpoint: parse_endpoint(endpoint).unwrap(),
                    credentials: None,
                    tls: Default::default(),
                },
                base_paths: vec![],
                ecr: None,
            }),
            ..helm_ref("https://unused")
        }
    }

    /// `repository`/`chart`/`url` in the forms `helm_release` and `helm pull` take.
    #[test]
    fn locations_as_helm_takes_them() {
        let h = helm_ref("https://u:p@charts.example.com/stable/?token=t");
        let loc = location(&h, "nginx", None);
        assert_eq!(
            loc,
            Location {
                repository: "https://charts.example.com/stable".into(),
                chart: "nginx".into()
            }
        );
        assert_eq!(
            standard_url(&loc, "1.0.0+b.1"),
            "https://charts.example.com/stable/nginx-1.0.0+b.1.tgz"
        );
        let rec = |u: &str| VersionRecord {
            version: "1.0.0".into(),
            urls: vec![u.into()],
            ..Default::default()
        };
        // Relative entries resolve against the public URL (no query: it may be a token).
        assert_eq!(
            published_url(&h, &loc, &rec("charts/nginx-1.0.0.tgz")),
            "https://charts.example.com/stable/charts/nginx-1.0.0.tgz"
        );
        assert_eq!(
            published_url(&h, &loc, &rec("https://me:pw@cdn.example.com/n.tgz?sig=1")),
            "https://cdn.example.com/n.tgz?sig=1"
        );
        let o = oci_ref("ghcr.example.com/org/charts");
        let loc = location(&o, "team/nginx", None);
        assert_eq!(
            loc,
            Location {
                repository: "oci://ghcr.example.com/org/charts/team".into(),
                chart: "nginx".into()
            }
        );
        assert_eq!(
            standard_url(&loc, "1.0.0+b.1"),
            "oci://ghcr.example.com/org/charts/team/nginx:1.0.0_b.1"
        );
        let o = oci_ref("127.0.0.1:5000");
        assert_eq!(
            location(&o, "nginx", None).repository,
            "oci://127.0.0.1:5000"
        );
    }

    fn version_errors(v: Value<String>, sync: Option<bool>) -> Vec<(String, AttributePath)> {
        let mut d = Diagnostics::default();
        check_version(&mut d, &v, sync);
        d.errors
            .into_iter()
            .map(|e| (e.summary.to_string(), e.attribute))
            .collect()
    }

    #[test]
    fn version_checks_at_plan() {
        let v = |s: &str| Value::Value(s.to_string());
        let on_version = |s: &str| vec![(s.to_string(), AttributePath::new("version"))];
        assert!(version_errors(v("~1.2"), Some(true)).is_empty());
        assert!(version_errors(v("~1.2"), None).is_empty());
        assert!(version_errors(Value::Null, Some(true)).is_empty());
        assert!(version_errors(v("1.2.3"), Some(false)).is_empty());
        assert_eq!(
            version_errors(v("~1.2"), Some(false)),
            on_version("Chart Version Constraint Needs Synchronization")
        );
        assert_eq!(
            version_errors(Value::Null, Some(false)),
            on_version("Chart Version Required")
        );
        assert_eq!(
            version_errors(v(""), None),
            on_version("Invalid Chart Version")
        );
        assert_eq!(
            version_errors(v(">= banana"), None),
            on_version("Invalid Chart Version")
        );
        assert!(version_errors(Value::Unknown, Some(false)).is_empty());
    }

    #[test]
    fn name_checks_at_plan() {
        let errs = |n: &str, k: Option<Kind>| {
            let mut d = Diagnostics::default();
            check_name(&mut d, &Value::Value(n.to_string()), k);
            d.errors.len()
        };
        assert_eq!(errs("team/nginx", Some(Kind::Oci)), 0);
        assert_eq!(errs("Team//x", Some(Kind::Oci)), 1);
        assert_eq!(errs("a/b", Some(Kind::Helm)), 1);
        assert_eq!(errs("nginx", None), 0);
        assert_eq!(errs(" ", None), 1);
    }

    /// Archive problems point at `version`, registry problems at `registry`.
    #[test]
    fn errors_on_the_attribute_at_fault() {
        let m = error_map(Kind::Helm);
        let mismatch = Error::DigestMismatch {
            url: "https://h/x.tgz".into(),
            expected: "sha256:a".into(),
            actual: "sha256:b".into(),
        };
        assert_eq!(m.attribute(&mismatch), AttributePath::new("version"));
        let unauthorized = Error::Unauthorized {
            url: "https://h/x.tgz".into(),
            status: 401,
        };
        assert_eq!(m.attribute(&unauthorized), AttributePath::new("registry"));
        let big = Error::ChartTooLarge {
            url: "https://h/x.tgz".into(),
            limit: 1,
        };
        assert_eq!(m.attribute(&big), AttributePath::new("version"));
    }
}
