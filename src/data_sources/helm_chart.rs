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

use crate::data_sources::dynamic::Dynamic;
use crate::data_sources::registry_ref::{self, Decoded, RegistryRef};
use crate::registry::catalog::SemVer;
use crate::registry::oci::{validate_repository_path, version_to_tag};
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

fn strings() -> T {
    T::List(Box::new(T::String))
}

pub fn data_source_schema() -> Schema {
    let details = "Null when the registry's `synchronization` is off.";
    let attrs = [
        ("registry", registry_ref::attribute("that holds the chart")),
        ("name", attr(T::String, C::Required, "Chart name (Helm repository), or repository path relative to the endpoint (OCI registry, e.g. `nginx` or `team/nginx`), as the registry's `charts` keys it.")),
        ("version", attr(T::String, C::OptionalComputed, "Chart version. Written: an exact version (`15.0.2`, `1.0.0+build.1`) or a Helm constraint (`~15.0`, `^1.2`, `>= 1.0, < 2.0`, `1.x`, `*`), resolved as `helm pull --version` resolves it: the exact string first, then the newest version the constraint allows, pre-releases only when the constraint names one. Omitted: the newest stable version, as `helm pull` without `--version`. Read: the resolved version, exact. With the registry's `synchronization` off, only an exact version is accepted (nothing is resolved without the registry).")),
        ("versions", attr(strings(), C::Computed, "Every version of the chart the registry's catalog lists, newest first (Helm's order), each once.")),
        ("repository", attr(T::String, C::Computed, "What `helm_release`'s `repository` (and `helm pull --repo`) takes: the Helm repository URL (without credentials or query string), or `oci://host[/path]` of the chart's OCI repository without its last segment.")),
        ("chart", attr(T::String, C::Computed, "What `helm_release`'s `chart` takes alongside `repository`: the chart name (Helm repository), or the last segment of the OCI repository.")),
        ("url", attr(T::String, C::Computed, "Where the chart archive is downloaded: the absolute URL of the index entry (Helm repository; a relative entry is resolved against the repository URL), or the OCI reference `oci://host/path/name:tag` (`+` written `_`).")),
        ("digest", attr(T::String, C::Computed, "SHA-256 (hex) of the chart archive, as `sha256sum` of the pulled `.tgz` prints it: the index's `digest` (Helm repository, verified against the archive when synchronization is on) or the chart layer's digest (OCI). Null when unknown (synchronization off and a version the stored catalog lacks).")),
        ("manifest_digest", attr(T::String, C::Computed, "OCI registries: digest (`sha256:…`) of the chart's manifest. Null for a Helm repository, and when unknown.")),
        ("app_version", attr(T::String, C::Computed, &format!("`appVersion` of Chart.yaml. {details}"))),
        ("description", attr(T::String, C::Computed, &format!("`description` of Chart.yaml. {details}"))),
        ("values", attr(T::String, C::Computed, &format!("The chart's `values.yaml`, verbatim (what `helm show values` prints). {details}"))),
        ("values_schema", attr(T::String, C::Computed, &format!("The chart's `values.schema.json`, verbatim; null when the chart has none. {details}"))),
        ("home", attr(T::String, C::Computed, &format!("`home` of Chart.yaml. {details}"))),
        ("icon", attr(T::String, C::Computed, &format!("`icon` of Chart.yaml. {details}"))),
        ("keywords", attr(strings(), C::Computed, &format!("`keywords` of Chart.yaml. {details}"))),
        ("sources", attr(strings(), C::Computed, &format!("`sources` of Chart.yaml. {details}"))),
        ("maintainers", attr(T::List(Box::new(T::Object(map! {"name" => T::String, "email" => T::String, "url" => T::String}))), C::Computed, &format!("`maintainers` of Chart.yaml: `name`, `email`, `url`. {details}"))),
        ("dependencies", attr(T::List(Box::new(T::Object(map! {"name" => T::String, "version" => T::String, "repository" => T::String, "condition" => T::String, "alias" => T::String}))), C::Computed, &format!("`dependencies` of Chart.yaml: `name`, `version` (a constraint, as written), `repository`, `condition`, `alias`. {details}"))),
        ("annotations", attr(T::Map(Box::new(T::String)), C::Computed, &format!("`annotations` of Chart.yaml. {details}"))),
        ("deprecated", attr(T::Bool, C::Computed, &format!("`deprecated` of Chart.yaml. {details}"))),
        ("created", attr(T::String, C::Computed, &format!("When the version was published (RFC 3339): the index entry's `created` (Helm repository) or the manifest's `org.opencontainers.image.created` annotation (OCI), null when the registry does not say. {details}"))),
        ("type", attr(T::String, C::Computed, &format!("`type` of Chart.yaml (`application` or `library`; Helm's default `application` when unset). {details}"))),
        ("kube_version", attr(T::String, C::Computed, &format!("`kubeVersion` of Chart.yaml: the Kubernetes versions the chart supports (a constraint). {details}"))),
    ];
    schema(
        "One chart version of a registered registry (`chartreg_helm_registry` or `chartreg_oci_registry`, given by reference), resolved exactly as Helm resolves it, with what `helm_release` takes (`repository`, `chart`, `version`) and, when the registry is synchronized, the chart's details read from its archive (Chart.yaml, `values.yaml`, `values.schema.json`; the archive's digest is verified and it is cached by digest in `cache_dir`, so a second plan downloads nothing). With the registry's `synchronization` off no request is made: the version must be exact and the details are null.",
        attrs.into_iter().map(|(k, a)| (k.to_string(), a)).collect(),
    )
}

/// A full `MAJOR.MINOR.PATCH[-pre][+build]` version, written as registries write them (no `v`):
/// what `synchronization = false` accepts. Anything else Helm reads as a constraint (`1.2` is
/// `1.2.x`, `v1.2.3` is `=1.2.3`).
pub fn is_exact_version(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    !v.starts_with('v') && core.split('.').count() == 3 && SemVer::parse(v).is_some()
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

/// The closest of `candidates` to `wanted`, for "not found" messages (at most 5).
fn closest(candidates: &[&str], wanted: &str) -> Vec<String> {
    let w = wanted.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .map(|c| (strsim_distance(&c.to_ascii_lowercase(), &w), *c))
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Levenshtein distance (closest-name suggestions only).
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
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

/// Pick the version `wanted` (or the newest stable one) from `records`, newest first.
/// PENDING: Helm's constraint resolution (`crate::registry::resolve`, `resolve` helper); until it
/// lands, exact strings and "newest stable" only.
fn pick<'a>(records: &'a ChartRecords, wanted: Option<&str>) -> Option<&'a VersionRecord> {
    match wanted {
        Some(w) => records.versions.iter().find(|r| r.version == w),
        None => records
            .versions
            .iter()
            .find(|r| SemVer::parse(&r.version).is_some_and(|v| !v.is_prerelease())),
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
            let version = wanted.unwrap_or_default();
            let record = records.and_then(|r| r.versions.iter().find(|v| v.version == version));
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
            let near = closest(&names, &name);
            diags.error(
                "Chart Not Found",
                format!(
                    "{} has no chart {name:?}.{}",
                    reg.display(),
                    if near.is_empty() {
                        " It has no charts.".to_string()
                    } else {
                        format!(" Closest: {}.", near.join(", "))
                    }
                ),
                at("name"),
            );
            return None;
        };
        let Some(record) = pick(records, wanted.as_deref()) else {
            let listed: Vec<&str> = records
                .versions
                .iter()
                .map(|v| v.version.as_str())
                .collect();
            let near = closest(&listed, wanted.as_deref().unwrap_or(""));
            diags.error(
                "Chart Version Not Found",
                format!(
                    "{} has no version of {name:?} matching {:?}. Closest: {}.",
                    reg.display(),
                    wanted.as_deref().unwrap_or("(newest stable)"),
                    near.join(", ")
                ),
                at("version"),
            );
            return None;
        };
        let version = record.version.clone();
        config.set_location(&reg, &loc, Some(records), Some(record), &version);
        // PENDING (archive helper): details from the archive.
        let _ = &self.shared;
        Some(config)
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
            "v1.0.0",
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

    #[test]
    fn closest_names() {
        assert_eq!(
            closest(&["nginx", "redis", "nginx-ingress"], "ngnix")[0],
            "nginx"
        );
    }
}
