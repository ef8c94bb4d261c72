//! A chart's details read from its archive (`.tgz`), as `helm show chart` / `helm show values`
//! show them: why this module exists is the `chartreg_helm_chart` data source, which shows what
//! is inside a chart (Chart.yaml, values.yaml, values.schema.json), not only what an index says.
//!
//! # API (stable: the data source calls it)
//! - [`read_chart_archive`]`(archive: &[u8], url: &str) -> Result<ChartDetails>`: the reader.
//!   `url` names the archive in errors (redacted). Every malformed input is
//!   [`Error::InvalidChart`] with a reason in plain words.
//! - [`ChartDetails`], [`Maintainer`], [`Dependency`]: what it returns.
//! - Helm repository: [`helm_chart_details`]`(store: &ArchiveStore, repo: &HelmRepo, settings:
//!   &HttpSettings, cache: Option<&Cache>, snapshot: &Snapshot, record: &VersionRecord) ->
//!   Result<(ChartDetails, ArchiveInfo)>`; `cache` is `Cache::registry(cache_dir, "helm", name)`.
//!   [`helm_chart_url`] gives the URL alone (no request), for synchronization off.
//! - OCI registry: [`OciClient::chart_details`](crate::registry::oci::OciClient::chart_details)`(
//!   store, repository, version) -> Result<(ChartDetails, ArchiveInfo)>` (the client holds its
//!   cache); `repository` is the snapshot's `ChartRecords::repository`.
//! - [`ArchiveInfo`] `{ digest, url, manifest_digest, downloaded }`: the archive's sha256 (hex,
//!   verified), where it is downloaded from, the OCI manifest digest, and whether this call
//!   downloaded it. [`ArchiveStore::global`] is the process's store: concurrent reads of one
//!   archive share one download; [`ArchiveStore::downloads`] counts downloads (tests make their
//!   own store).
//! - Errors besides the transport ones: [`Error::DigestMismatch`],
//!   [`Error::ChartTooLarge`] (`max_chart_size`),
//!   [`Error::InvalidChart`]; nothing is cached after any of them.
//!
//! # What is read, as Helm's loader (v4 `pkg/chart/loader`, `pkg/chart/v2/loader`) reads it
//! - Only the chart's own top-level files: `<chartdir>/Chart.yaml`, `values.yaml`,
//!   `values.schema.json`, `requirements.yaml` (the first path component of every entry is the
//!   chart directory, whatever its name; `charts/<sub>/…` are subcharts and are not read).
//! - Every entry is still checked: path safety, Helm's caps ([`MAX_DECOMPRESSED_FILE_SIZE`] per
//!   file, [`MAX_DECOMPRESSED_CHART_SIZE`] in all) and a cap on the whole decompressed stream
//!   ([`MAX_TAR_STREAM`]): see `tarball.rs`. Nothing is ever written to disk.
//! - `Chart.yaml` is read as Helm reads it (see `chart_yaml.rs`), apiVersion defaulting to `v1`.
//!   An apiVersion other than v1, v2 or v3 is refused ("unsupported chart version", as
//!   `helm install`/`helm template` refuse it; `helm show` alone does not check it).
//! - Dependencies: `dependencies` of Chart.yaml; a `requirements.yaml` (apiVersion v1 charts) is
//!   applied on top of Chart.yaml as Helm's v2 loader does (its `dependencies` replace Chart.yaml's;
//!   Helm does this for v2 charts too, with a warning; v3 charts ignore the file).
//! - `values`: the text of `values.yaml` (UTF-8 BOM removed), or `None` without one. It must be
//!   YAML whose documents are mappings, or Helm refuses the chart (and so does this reader).
//!   `helm show values` prints exactly this text followed by one newline (Go's `Fprintln`), and
//!   prints nothing for a chart without values.yaml.
//! - `values_schema`: the text of `values.schema.json`, not validated (Helm validates it against
//!   values only at install time).
//! - Text that Terraform cannot hold (values or schema that are not UTF-8) is refused.

mod chart_yaml;
mod download;
mod tarball;

use std::collections::BTreeMap;

pub use chart_yaml::{Dependency, Maintainer};
pub(crate) use download::read_off_thread;
pub use download::{
    helm_chart_details, helm_chart_url, sha256_hex, ArchiveInfo, ArchiveStore, CHART_CACHE_KIND,
};
/// The entry-name check, for the fuzz target `archive_path` (src/fuzzing.rs).
#[cfg(any(test, fuzzing))]
pub(crate) use tarball::chart_path;
pub use tarball::{MAX_DECOMPRESSED_CHART_SIZE, MAX_DECOMPRESSED_FILE_SIZE, MAX_TAR_STREAM};

use crate::error::{redact_url, Error, Result};
use chart_yaml::{check_values, first_document, Metadata};

/// Everything the `chartreg_helm_chart` data source shows from inside a chart archive. Text
/// fields are empty when Chart.yaml does not set them (Helm makes no difference between absent
/// and empty); they are sanitised as Helm's `Metadata.Validate` leaves them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartDetails {
    /// `v1` when Chart.yaml has none (Helm's default).
    pub api_version: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub app_version: String,
    pub home: String,
    pub icon: String,
    pub keywords: Vec<String>,
    pub sources: Vec<String>,
    pub maintainers: Vec<Maintainer>,
    pub dependencies: Vec<Dependency>,
    pub annotations: BTreeMap<String, String>,
    pub deprecated: bool,
    /// Chart.yaml's `type` (`application`, `library`, or empty: an application).
    pub chart_type: String,
    pub kube_version: String,
    /// The text of values.yaml; `None` when the chart has none.
    pub values: Option<String>,
    /// The text of values.schema.json; `None` when the chart has none.
    pub values_schema: Option<String>,
}

/// Read a chart archive (`.tgz`). `url` is where it came from, for errors (redacted here).
pub fn read_chart_archive(archive: &[u8], url: &str) -> Result<ChartDetails> {
    read(archive).map_err(|reason| Error::InvalidChart {
        url: redact_url(url),
        reason,
    })
}

fn utf8(bytes: Vec<u8>, file: &str) -> std::result::Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{file} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn read(archive: &[u8]) -> std::result::Result<ChartDetails, String> {
    let files = tarball::top_files(archive)?;
    let chart_yaml = files
        .chart_yaml
        .ok_or("Chart.yaml file is missing (the archive has no <chart>/Chart.yaml)")?;
    let mut md = Metadata::default();
    let doc = first_document(&chart_yaml).map_err(|e| format!("cannot load Chart.yaml: {e}"))?;
    md.apply(&doc, "Chart.yaml")
        .map_err(|e| format!("cannot load Chart.yaml: {e}"))?;
    if !matches!(md.api_version.as_str(), "" | "v1" | "v2" | "v3") {
        return Err(format!(
            "unsupported chart version: apiVersion {:?} (Helm reads v1, v2 and v3)",
            md.api_version
        ));
    }
    if md.api_version.is_empty() {
        md.api_version = "v1".into();
    }
    if let Some(req) = files.requirements_yaml.filter(|_| md.api_version != "v3") {
        let doc =
            first_document(&req).map_err(|e| format!("cannot load requirements.yaml: {e}"))?;
        md.apply(&doc, "requirements.yaml")
            .map_err(|e| format!("cannot load requirements.yaml: {e}"))?;
    }
    let values = match files.values_yaml {
        Some(v) => {
            check_values(&v).map_err(|e| format!("cannot load values.yaml: {e}"))?;
            Some(utf8(v, "values.yaml")?)
        }
        None => None,
    };
    let values_schema = files
        .values_schema
        .map(|s| utf8(s, "values.schema.json"))
        .transpose()?;
    md.validate()?;
    Ok(ChartDetails {
        api_version: md.api_version,
        name: md.name,
        version: md.version,
        description: md.description,
        app_version: md.app_version,
        home: md.home,
        icon: md.icon,
        keywords: md.keywords,
        sources: md.sources,
        maintainers: md.maintainers.into_iter().flatten().collect(),
        dependencies: md.dependencies.into_iter().flatten().collect(),
        annotations: md.annotations.unwrap_or_default(),
        deprecated: md.deprecated,
        chart_type: md.chart_type,
        kube_version: md.kube_version,
        values,
        values_schema,
    })
}

#[cfg(test)]
pub(crate) mod tests;
