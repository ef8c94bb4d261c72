//! Data source `chartreg_helm_charts`: search a registered registry as `helm search repo` does,
//! so that a configuration can list what a registry offers (Palette's chart picker) from the
//! registry object alone (`registry` by reference, [`super::registry_ref`]).
//!
//! The search runs on the registry's stored catalog snapshot, which its resource refreshed in
//! the same plan: no request of its own. Semantics, order and where chartreg differs from Helm
//! (deprecated charts, OCI registries) are those of [`crate::registry::search`]. A registry with
//! `synchronization = false` is refused: its catalog is a one-time copy, and searching it would
//! present a stale list as the registry's (Palette offers no search on such registries either).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::map;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::data_sources::dynamic::Dynamic;
use crate::data_sources::registry_ref::{self, Decoded, RegistryRef};
use crate::registry::catalog::ChartSummary;
use crate::registry::search::{check_pattern, search, SearchError, SearchHit, SearchOptions};
use crate::registry::snapshot::{ChartRecords, Snapshot};
use crate::schema_util::{attr, schema, C, T};
use crate::settings::Shared;

/// One entry of `charts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartHit {
    pub name: Value<String>,
    pub version: Value<String>,
    pub latest_version: Value<String>,
    pub app_version: Value<String>,
    pub description: Value<String>,
    pub deprecated: Value<bool>,
    pub keywords: Value<Vec<Value<String>>>,
}

/// State (and configuration) of `chartreg_helm_charts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HelmChartsState {
    pub registry: Dynamic,
    pub query: Value<String>,
    pub regexp: Value<bool>,
    pub devel: Value<bool>,
    pub versions: Value<bool>,
    pub include_deprecated: Value<bool>,
    pub charts: Value<Vec<Value<ChartHit>>>,
}

pub struct HelmChartsDataSource {
    _shared: Shared,
}

impl HelmChartsDataSource {
    pub fn new(shared: Shared) -> Self {
        HelmChartsDataSource { _shared: shared }
    }
}

pub fn data_source_schema() -> Schema {
    let hit = T::Object(map! {
        "name" => T::String,
        "version" => T::String,
        "latest_version" => T::String,
        "app_version" => T::String,
        "description" => T::String,
        "deprecated" => T::Bool,
        "keywords" => T::List(Box::new(T::String)),
    });
    let attrs = [
        ("registry", registry_ref::attribute("to search (its `synchronization` must be on)")),
        ("query", attr(T::String, C::Optional, "What to search for, as `helm search repo QUERY`: a case-insensitive substring of a chart's name, of `REGISTRY/name` (REGISTRY being the registry's `name`, as if `helm repo add REGISTRY` had added it), of its description or of its keywords. With `regexp`, a regular expression (Go RE2 syntax, case-sensitive unless it starts with `(?i)`). Omitted or empty: every chart.")),
        ("regexp", attr(T::Bool, C::Optional, "`query` is a regular expression, as `helm search repo --regexp`. Default false.")),
        ("devel", attr(T::Bool, C::Optional, "Include pre-release versions, as `helm search repo --devel` (the version constraint `>0.0.0-0` instead of `>0.0.0`). Without it a chart with only pre-releases is not listed, nor is a chart whose only version is `0.0.0`. Default false.")),
        ("versions", attr(T::Bool, C::Optional, "One entry per version instead of one per chart, as `helm search repo --versions`. Default false.")),
        ("include_deprecated", attr(T::Bool, C::Optional, "Keep entries whose version is deprecated (`deprecated: true` in Chart.yaml). Default false, where Helm shows them: without `versions`, a chart whose listed version is deprecated is left out (not replaced by an older version); with `versions`, its deprecated versions are. `true` lists exactly what `helm search repo` lists.")),
        ("charts", attr(T::List(Box::new(hit)), C::Computed, "What `helm search repo` lists, in its order: by where the query matched (name, then `REGISTRY/name`, then description, then keywords), then by name, then newest version first. Without `versions`, one entry per chart: the first of its versions in that order that the version constraint allows (usually the newest stable one; it can be an older version whose name or description matched where newer ones matched only by keyword, as in Helm). Each entry: `name` (the chart name of a Helm repository, or the repository path relative to the endpoint of an OCI registry: what `chartreg_helm_chart`'s `name` takes), `version` (this entry's version, Helm's CHART VERSION), `latest_version` (the chart's newest stable version, null when it has none), and of this entry's version: `app_version`, `description`, `deprecated`, `keywords`. For a version listed twice in an index, the first entry's metadata (Helm's search shows the last one's). OCI registries, which `helm search repo` does not search, are searched the same way.")),
    ];
    schema(
        "Searches a registered registry (`chartreg_helm_registry` or `chartreg_oci_registry`, given by reference) as `helm search repo` searches a repository: the same charts, versions and order for the same `query`, `regexp`, `devel` and `versions`. The search runs on the catalog the registry's resource stored when it last read the registry (refreshed in the same plan), without a request of its own; the registry's `synchronization` must be on (a registry read once and used offline is not searched: its list would be stale).",
        attrs.into_iter().map(|(k, a)| (k.to_string(), a)).collect(),
    )
}

fn at(name: &'static str) -> AttributePath {
    AttributePath::new(name)
}

fn flag(v: &Value<bool>) -> bool {
    matches!(v, Value::Value(true))
}

fn text(s: &str) -> Value<String> {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Value(s.to_string())
    }
}

fn pattern_error(diags: &mut Diagnostics, e: &SearchError) {
    diags.error(
        "Invalid Search Pattern",
        format!("{e}. With regexp = true, query is a regular expression (RE2 syntax, as `helm search repo --regexp`): escape special characters with `\\\\`, or set regexp = false to search for the text itself."),
        at("query"),
    );
}

/// Plan-time check of `query` (a regular expression that does not compile).
fn check_query(diags: &mut Diagnostics, config: &HelmChartsState) {
    if let (Value::Value(true), Value::Value(q)) = (&config.regexp, &config.query) {
        if let Err(e) = check_pattern(q) {
            pattern_error(diags, &e);
        }
    }
}

/// The refusal of a registry whose synchronization is off.
fn needs_synchronization(diags: &mut Diagnostics, reg: &RegistryRef) {
    diags.error(
        "Search Needs Synchronization",
        format!("{} has synchronization = false: its catalog was read once and is not kept current, so chartreg does not search it (a stale list would pass for the registry's). Set synchronization = true on the registry to search it, or give the chart's name and exact version to chartreg_helm_chart, which works without synchronization.", reg.display()),
        at("registry"),
    );
}

/// The chart's newest stable version (the registry's `charts[name].latest_version`).
fn latest_stable(records: Option<&ChartRecords>) -> Value<String> {
    records
        .and_then(|c| ChartSummary::of(c).latest_version)
        .map_or(Value::Null, Value::Value)
}

fn hit(snapshot: &Snapshot, h: SearchHit) -> Value<ChartHit> {
    Value::Value(ChartHit {
        latest_version: latest_stable(snapshot.chart(&h.key)),
        name: Value::Value(h.key),
        version: Value::Value(h.version),
        app_version: text(&h.app_version),
        description: text(&h.description),
        deprecated: Value::Value(h.deprecated),
        keywords: Value::Value(h.keywords.into_iter().map(Value::Value).collect()),
    })
}

#[async_trait]
impl DataSource for HelmChartsDataSource {
    type State<'a> = HelmChartsState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(data_source_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        if let Some(Decoded::Known(reg)) = registry_ref::decode_or_report(diags, &config.registry) {
            if !reg.synchronization {
                needs_synchronization(diags, &reg);
            }
        }
        check_query(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut config: Self::State<'a>,
        _meta: ValueEmpty,
    ) -> Option<Self::State<'a>> {
        check_query(diags, &config);
        let reg = match registry_ref::decode_or_report(diags, &config.registry)? {
            Decoded::Known(r) => r,
            Decoded::Unknown(_) => {
                config.charts = Value::Unknown;
                return (diags.errors.is_empty()).then_some(config);
            }
        };
        if !reg.synchronization {
            needs_synchronization(diags, &reg);
        }
        if !diags.errors.is_empty() {
            return None;
        }
        let Some(snapshot) = &reg.snapshot else {
            diags.error(
                "Registry Catalog Not Read",
                format!("{} has no stored catalog yet (imported and not refreshed?): run `terraform apply -refresh-only` or change its sync_trigger.", reg.display()),
                at("registry"),
            );
            return None;
        };
        let opts = SearchOptions {
            query: config.query.as_ref_option().cloned(),
            regexp: flag(&config.regexp),
            devel: flag(&config.devel),
            versions: flag(&config.versions),
            include_deprecated: flag(&config.include_deprecated),
            version: None,
            repo: reg.name.clone(),
        };
        let hits = match search(snapshot, &opts) {
            Ok(h) => h,
            Err(e @ SearchError::Regexp { .. }) => {
                pattern_error(diags, &e);
                return None;
            }
            Err(e) => {
                diags.error("Invalid Search", e.to_string(), at("query"));
                return None;
            }
        };
        tracing::debug!(registry = %reg.name, hits = hits.len(), versions = opts.versions, "searched the catalog");
        config.charts = Value::Value(hits.into_iter().map(|h| hit(snapshot, h)).collect());
        config.registry = registry_ref::stored(&config.registry);
        Some(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::snapshot::VersionRecord;

    fn records(vs: &[&str]) -> ChartRecords {
        ChartRecords {
            name: "c".into(),
            repository: String::new(),
            versions: vs
                .iter()
                .map(|v| VersionRecord {
                    version: v.to_string(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn latest_is_the_newest_stable_version() {
        let r = records(&["2.0.0-rc.1", "1.10.0", "1.9.0+b", "1.9.0"]);
        assert_eq!(latest_stable(Some(&r)), Value::Value("1.10.0".into()));
        let r = records(&["1.0.0", "1.0.0+b"]);
        assert_eq!(latest_stable(Some(&r)), Value::Value("1.0.0".into()));
        assert_eq!(latest_stable(Some(&records(&["1.0.0-rc.1"]))), Value::Null);
        assert_eq!(latest_stable(None), Value::Null);
    }

    #[test]
    fn schema_lists_every_state_field() {
        let s = data_source_schema();
        let names: Vec<&String> = s.block.attributes.keys().collect();
        let state = serde_json::to_value(HelmChartsState::default()).unwrap();
        for k in state.as_object().unwrap().keys() {
            assert!(names.contains(&k), "{k} not in the schema");
        }
        assert_eq!(names.len(), state.as_object().unwrap().len());
    }
}
