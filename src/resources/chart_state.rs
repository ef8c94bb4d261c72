//! One chart as both registry resources keep it in `charts` ([`ChartState`], a summary), the
//! `catalog_snapshot` beside it (every version, for the data sources), and the conversions of a
//! [`Catalog`] to state and back.
//!
//! Why summaries and one snapshot: Terraform walks every element of every list in state at every
//! plan; per-version lists of real-size indexes made that walk most of a plan's CPU (issue 9).
//! `charts` keeps what people read (latest stable version and what describes it, how many
//! versions); the records that resolution and search need (version, digest, URLs, app version,
//! …) are in the one opaque [`Snapshot`](crate::registry::snapshot::Snapshot) string. A refresh
//! compares with, and reuses, the catalog read back from the snapshot
//! ([`catalog_from_snapshot`]); `charts` is derived from it, never read back.
//!
//! Why one shape: the catalog is the same thing whatever the registry protocol, and a field that
//! one resource drops is lost on the way back (OCI charts once had no `deprecated`, and the first
//! refresh rewrote `catalog_digest`).
//!
//! State cannot be upgraded (schema version 0, and tf-provider hands a same-version state to
//! Terraform as it is). Every field decodes from `null` or absence ([`null_as_default`]). A
//! state written before issue 9 (charts with a `versions` list, no `catalog_snapshot`) is
//! refused by Terraform itself when it decodes the state against this schema ("unsupported
//! attribute"); no such state was released (see CHANGELOG).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use tf_provider::map;

use crate::registry::catalog::{Catalog, ChartSummary};
use crate::registry::snapshot::{Kind, Snapshot};
use crate::schema_util::T;

/// One chart of a registry, as kept in state by `chartreg_helm_registry` and
/// `chartreg_oci_registry` alike.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartState {
    /// The chart's own name (Helm: the index key; OCI: `name` of the chart's config).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Newest stable version; `null` when every version is a pre-release.
    #[serde(default)]
    pub latest_version: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub app_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Whether the version described (`latest_version`, else the newest) is deprecated.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deprecated: bool,
    /// Number of distinct versions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub version_count: i64,
}

/// A field missing from a state, or `null` there, decodes as its default.
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
            version_count: s.version_count as i64,
        }
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
        "version_count" => T::Number
    })
}

/// The summaries `charts` keeps.
pub fn charts_state(c: &Catalog) -> BTreeMap<String, ChartState> {
    summaries_state(&c.summaries())
}

/// `charts` from summaries already made (a parsed Helm index writes them itself).
pub fn summaries_state(summaries: &BTreeMap<String, ChartSummary>) -> BTreeMap<String, ChartState> {
    summaries
        .iter()
        .map(|(k, s)| (k.clone(), ChartState::from_summary(s)))
        .collect()
}

/// The `catalog_snapshot` string of a catalog.
pub fn snapshot_state(c: &Catalog, kind: Kind, index_url: &str) -> String {
    c.to_snapshot(kind, index_url).encode()
}

/// The catalog back from `catalog_snapshot` (the previous catalog a refresh compares with and
/// reuses). `None` when there is none or it cannot be read (then everything is read again).
pub fn catalog_from_snapshot(s: Option<&String>) -> Option<Catalog> {
    let s = s.filter(|s| !s.is_empty())?;
    match Snapshot::decode(s) {
        Ok(snap) => Some(Catalog::from_snapshot(snap)),
        Err(e) => {
            tracing::debug!(error = %e, "catalog snapshot in state not readable: reading everything again");
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::catalog::chart_records;
    use crate::registry::snapshot::VersionRecord;

    fn rec(v: &str, deprecated: bool) -> VersionRecord {
        VersionRecord {
            version: v.into(),
            app_version: format!("app {v}"),
            description: format!("chart at {v}"),
            deprecated,
            ..Default::default()
        }
    }

    /// A catalog with a deprecated latest version, a pre-release newer than it, a chart with
    /// pre-releases only, empty texts.
    pub fn sample_catalog() -> Catalog {
        let mut c = Catalog::default();
        c.charts.insert(
            "team/old".into(),
            chart_records(
                "old",
                "team/old",
                vec![
                    rec("1.0.0", false),
                    rec("2.0.0", true),
                    rec("3.0.0-rc.1", false),
                ],
            ),
        );
        c.charts.insert(
            "plain".into(),
            chart_records(
                "plain",
                "plain",
                vec![VersionRecord {
                    version: "0.1.0".into(),
                    ..Default::default()
                }],
            ),
        );
        c.charts.insert(
            "devel".into(),
            chart_records("devel", "devel", vec![rec("0.1.0-rc.1", false)]),
        );
        c
    }

    #[test]
    fn catalog_round_trips_through_the_snapshot() {
        let c = sample_catalog();
        let snap = snapshot_state(&c, Kind::Oci, "");
        assert_eq!(catalog_from_snapshot(Some(&snap)), Some(c.clone()));
        assert_eq!(catalog_from_snapshot(None), None);
        assert_eq!(catalog_from_snapshot(Some(&String::new())), None);
        assert_eq!(catalog_from_snapshot(Some(&"garbage".to_string())), None);
        let state = charts_state(&c);
        assert_eq!(state["team/old"].version_count, 3);
        assert_eq!(state["team/old"].latest_version.as_deref(), Some("2.0.0"));
        assert!(state["team/old"].deprecated);
        assert_eq!(state["devel"].latest_version, None);
        assert_eq!(state["devel"].app_version, "app 0.1.0-rc.1");
        // Through the JSON Terraform stores: `null` for no latest version.
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains(r#""latest_version":null"#), "{json}");
        let back: BTreeMap<String, ChartState> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
    }

    /// Missing and `null` fields decode (a hand-edited or partial state).
    #[test]
    fn nulls_and_missing_fields_decode() {
        let text = r#"{"c":{"name":"c","latest_version":null,"app_version":null,"description":"d","deprecated":null}}"#;
        let m: BTreeMap<String, ChartState> = serde_json::from_str(text).unwrap();
        assert_eq!(m["c"].latest_version, None);
        assert_eq!(m["c"].version_count, 0);
        assert!(!m["c"].deprecated);
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
