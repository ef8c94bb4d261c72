//! The result of a parse: [`ParsedIndex`] (the compact store of the valid entries, and what was
//! skipped) and the owned forms built from it on demand ([`IndexEntry`], the catalog), or written
//! from it straight (the summaries, the encoded snapshot).

use std::collections::BTreeMap;
use std::fmt;

use crate::registry::catalog::{Catalog, ChartSummary};
use crate::registry::helm_index::store::{Store, Version};
use crate::registry::snapshot::{encode_with, ChartRecords, Kind, VersionRecord};

/// One chart version of an index, with what later resolution needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
    /// As the catalog keeps it: lower-case hex without a `sha256:` prefix (empty when unknown).
    pub digest: String,
    /// Chart URLs as written in the index (relative or absolute).
    pub urls: Vec<String>,
    pub created: String,
    /// Sanitised as Helm's `Metadata.Validate` does.
    pub keywords: Vec<String>,
}

impl IndexEntry {
    /// The entry as the catalog snapshot keeps it.
    pub fn record(&self) -> VersionRecord {
        VersionRecord {
            version: self.version.clone(),
            digest: self.digest.clone(),
            urls: self.urls.clone(),
            manifest_digest: String::new(),
            app_version: self.app_version.clone(),
            description: self.description.clone(),
            keywords: self.keywords.clone(),
            created: self.created.clone(),
            deprecated: self.deprecated,
        }
    }
}

/// How many skipped entries [`ParsedIndex::skipped_examples`] describes at most.
pub const MAX_SKIPPED_EXAMPLES: usize = 5;

/// A parsed and validated index, kept compact (`helm_index/store.rs`): the valid entries per
/// chart name, newest first, each version once (of a version listed more than once, the first
/// entry in the index: the one `helm pull --version` downloads). Charts without a valid entry are
/// left out. [`Self::entries`] and [`Self::catalog`] build the owned forms;
/// [`Self::summaries`] and [`Self::snapshot`] write what state keeps straight from it.
#[derive(Clone, Default)]
pub struct ParsedIndex {
    pub(super) store: Store,
    /// Entries skipped because they fail Helm's metadata validation.
    pub skipped: usize,
    /// Up to [`MAX_SKIPPED_EXAMPLES`] descriptions of skipped entries
    /// (`chart "x" version "y": reason`), for the warning.
    pub skipped_examples: Vec<String>,
}

impl PartialEq for ParsedIndex {
    fn eq(&self, other: &Self) -> bool {
        self.skipped == other.skipped
            && self.skipped_examples == other.skipped_examples
            && self.entries() == other.entries()
    }
}

impl Eq for ParsedIndex {}

impl fmt::Debug for ParsedIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedIndex")
            .field("entries", &self.entries())
            .field("skipped", &self.skipped)
            .field("skipped_examples", &self.skipped_examples)
            .finish()
    }
}

impl ParsedIndex {
    /// The charts with at least one valid version, in name order.
    fn charts(&self) -> impl Iterator<Item = (&String, &[Version])> {
        self.store
            .charts
            .iter()
            .filter(|(_, c)| !c.versions.is_empty())
            .map(|(k, c)| (k, c.versions.as_slice()))
    }

    /// Every chart's entries, newest first (built on demand: the index keeps them compact).
    pub fn entries(&self) -> BTreeMap<String, Vec<IndexEntry>> {
        self.charts()
            .map(|(k, vs)| {
                (
                    k.clone(),
                    vs.iter().map(|v| self.store.index_entry(v)).collect(),
                )
            })
            .collect()
    }

    /// Every chart with every version, as state keeps them (summaries and snapshot).
    /// The versions are already in [`chart_records`](crate::registry::catalog::chart_records) order (sorted, each once), so they are
    /// taken as they are.
    pub fn catalog(&self) -> Catalog {
        let charts = self
            .charts()
            .map(|(name, versions)| {
                let records = ChartRecords {
                    name: name.clone(),
                    repository: String::new(),
                    versions: versions
                        .iter()
                        .map(|v| self.store.index_entry(v).record())
                        .collect(),
                };
                (name.clone(), records)
            })
            .collect();
        Catalog { charts }
    }

    /// The summaries `charts` in state holds: what [`Catalog::summaries`] gives for
    /// [`Self::catalog`], without building it.
    pub fn summaries(&self) -> BTreeMap<String, ChartSummary> {
        self.charts()
            .map(|(name, versions)| {
                let latest = self.store.latest(versions);
                let shown = latest
                    .or_else(|| versions.first())
                    .map(|v| self.store.row(v));
                let summary = ChartSummary {
                    name: name.clone(),
                    latest_version: latest.map(|v| self.store.row(v).version.to_string()),
                    app_version: shown.map(|r| r.app_version.to_string()).unwrap_or_default(),
                    description: shown.map(|r| r.description.to_string()).unwrap_or_default(),
                    deprecated: shown.is_some_and(|r| r.deprecated),
                    version_count: versions.len(),
                };
                (name.clone(), summary)
            })
            .collect()
    }

    /// The encoded `catalog_snapshot` of [`Self::catalog`] (`index_url`: without userinfo), written
    /// straight from the compact index.
    pub fn snapshot(&self, index_url: &str) -> String {
        encode_with(Kind::Helm, index_url, |enc| {
            for (name, versions) in self.charts() {
                enc.chart(name, name, "")?;
                for v in versions {
                    enc.row(self.store.row(v))?;
                }
                enc.end_chart()?;
            }
            Ok(())
        })
    }

    pub fn chart_count(&self) -> usize {
        self.charts().count()
    }

    pub fn version_count(&self) -> usize {
        self.charts().map(|(_, v)| v.len()).sum()
    }

    /// The entry of `chart` at exactly `version` (string equality, as written in the index).
    pub fn get(&self, chart: &str, version: &str) -> Option<IndexEntry> {
        let c = self.store.charts.get(chart)?;
        c.versions
            .iter()
            .find(|v| self.store.row(v).version == version)
            .map(|v| self.store.index_entry(v))
    }
}
