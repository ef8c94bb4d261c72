//! One chart as both registry resources keep it in `charts` ([`ChartState`]), and the conversion
//! of a [`Catalog`] to state and back.
//!
//! Why one shape: the catalog is the same thing whatever the registry protocol (a data source
//! reads either resource's `charts` the same way), and a field that one resource drops is lost on
//! the way back: OCI charts used to have no `deprecated`, so a deprecated latest version was read
//! back from state as not deprecated and the first refresh rewrote `catalog_digest` and
//! `last_synced`. `catalog_from_state(charts_state(c)) == c` for every catalog (tested below).
//!
//! State cannot be upgraded (schema version 0, and tf-provider hands a same-version state to
//! Terraform as it is): every field added later must decode from a state written before it. Such
//! a state has the field missing, which Terraform turns into `null` for attributes of an object;
//! both decode to the field's default ([`null_as_default`]) and [`ChartState::fill_derived`]
//! recomputes what can be derived (`name` from the key, `version_count` from `versions`). The
//! field names are those of the per-chart summaries issue 9 keeps (`latest_version`,
//! `app_version`, `description`, `deprecated`, `version_count`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use tf_provider::map;

use crate::registry::catalog::{Catalog, ChartSummary};
use crate::schema_util::T;

/// One chart of a registry, as kept in state by `chartreg_helm_registry` and
/// `chartreg_oci_registry` alike.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartState {
    /// The chart's own name (Helm: the index key; OCI: `name` of the chart's config).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub latest_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub app_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Whether `latest_version` is deprecated.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deprecated: bool,
    /// Number of versions (`versions` lists them).
    #[serde(default, deserialize_with = "null_as_default")]
    pub version_count: i64,
    /// All versions, newest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
}

/// A field missing from an older state, or `null` there, decodes as its default.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ChartState {
    pub fn from_summary(s: &ChartSummary) -> ChartState {
        ChartState {
            name: s.name.clone(),
            latest_version: s.latest_version.clone(),
            app_version: s.app_version.clone(),
            description: s.description.clone(),
            deprecated: s.deprecated,
            version_count: s.versions.len() as i64,
            versions: s.versions.clone(),
        }
    }

    pub fn to_summary(&self) -> ChartSummary {
        ChartSummary {
            name: self.name.clone(),
            latest_version: self.latest_version.clone(),
            app_version: self.app_version.clone(),
            description: self.description.clone(),
            deprecated: self.deprecated,
            versions: self.versions.clone(),
        }
    }

    /// Recompute what a state written before a field existed lacks: `name` (the last segment
    /// of the key: the chart name of a Helm repository, the repository name in an OCI registry,
    /// as a sync names a chart whose config has none) and `version_count`.
    pub fn fill_derived(&mut self, key: &str) {
        if self.name.is_empty() {
            self.name = key.rsplit('/').next().unwrap_or(key).to_string();
        }
        self.version_count = self.versions.len() as i64;
    }
}

/// The schema type of one chart in `charts` (the same for both resources).
pub fn chart_type() -> T {
    T::Object(map! {
        "name" => T::String,
        "latest_version" => T::String,
        "app_version" => T::String,
        "description" => T::String,
        "deprecated" => T::Bool,
        "version_count" => T::Number,
        "versions" => T::List(Box::new(T::String))
    })
}

/// The catalog as kept in state.
pub fn charts_state(c: &Catalog) -> BTreeMap<String, ChartState> {
    c.charts
        .iter()
        .map(|(k, s)| (k.clone(), ChartState::from_summary(s)))
        .collect()
}

/// The catalog back from state (the previous catalog a refresh compares with and reuses).
pub fn catalog_from_state(m: &BTreeMap<String, ChartState>) -> Catalog {
    Catalog {
        charts: m.iter().map(|(k, s)| (k.clone(), s.to_summary())).collect(),
    }
}

/// [`ChartState::fill_derived`] on every chart.
pub fn fill_derived(m: &mut BTreeMap<String, ChartState>) {
    for (k, c) in m.iter_mut() {
        c.fill_derived(k);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::catalog::VersionMeta;

    fn meta(v: &str, deprecated: bool) -> VersionMeta {
        VersionMeta {
            version: v.into(),
            app_version: format!("app {v}"),
            description: format!("chart at {v}"),
            deprecated,
        }
    }

    /// A catalog with a deprecated latest version, a pre-release newer than it, empty texts.
    pub fn sample_catalog() -> Catalog {
        let mut c = Catalog::default();
        c.charts.insert(
            "team/old".into(),
            ChartSummary::from_versions(
                "old",
                vec![
                    meta("1.0.0", false),
                    meta("2.0.0", true),
                    meta("3.0.0-rc.1", false),
                ],
            ),
        );
        c.charts.insert(
            "plain".into(),
            ChartSummary::from_versions(
                "plain",
                vec![VersionMeta {
                    version: "0.1.0".into(),
                    ..Default::default()
                }],
            ),
        );
        assert!(c.charts["team/old"].deprecated);
        c
    }

    #[test]
    fn catalog_round_trips_through_state() {
        let c = sample_catalog();
        let state = charts_state(&c);
        assert_eq!(catalog_from_state(&state), c);
        assert_eq!(state["team/old"].version_count, 3);
        assert!(state["team/old"].deprecated);
        // And through the JSON Terraform stores.
        let json = serde_json::to_string(&state).unwrap();
        let back: BTreeMap<String, ChartState> = serde_json::from_str(&json).unwrap();
        assert_eq!(catalog_from_state(&back), c);
    }

    /// A state written by the previous release: Helm charts had no `name`, OCI charts no
    /// `deprecated`, neither had `version_count`. Missing and `null` both decode.
    #[test]
    fn previous_release_charts_decode() {
        let helm = r#"{"mychart":{"latest_version":"0.2.0","app_version":"1","description":"d","deprecated":true,"versions":["0.2.0","0.1.0"]}}"#;
        let oci = r#"{"charts/mychart":{"name":"mychart","latest_version":"0.2.0","app_version":"1","description":"d","versions":["0.2.0","0.1.0"]}}"#;
        let nulls = r#"{"charts/mychart":{"name":"mychart","latest_version":"0.2.0","app_version":"1","description":"d","deprecated":null,"version_count":null,"versions":["0.2.0","0.1.0"]}}"#;
        for (text, key, deprecated) in [
            (helm, "mychart", true),
            (oci, "charts/mychart", false),
            (nulls, "charts/mychart", false),
        ] {
            let mut m: BTreeMap<String, ChartState> =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            fill_derived(&mut m);
            let c = &m[key];
            assert_eq!(c.name, "mychart");
            assert_eq!(c.version_count, 2);
            assert_eq!(c.deprecated, deprecated);
            assert_eq!(c.versions, ["0.2.0", "0.1.0"]);
        }
    }

    #[test]
    fn schema_type_has_every_field() {
        let T::Object(fields) = chart_type() else {
            panic!("chart type is an object")
        };
        let json = serde_json::to_value(ChartState::default()).unwrap();
        let mut names: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut schema: Vec<_> = fields.keys().cloned().collect();
        names.sort();
        schema.sort();
        assert_eq!(names, schema);
    }
}
