//! The chart archive behind a resolved version, and its details, for `chartreg_helm_chart` with
//! synchronization on.
//!
//! Why a layer of its own: the data source gets a registry *reference*, and this is where it
//! becomes the registry's client calls, built as the resource builds them
//! ([`RegistryRef`]: credentials, TLS, `pass_credentials`, the resource's cache directory).
//! The downloads are `crate::registry::chart_archive`'s ([`helm_chart_details`]) and the OCI
//! client's ([`OciClient::chart_details`](crate::registry::oci::OciClient::chart_details)):
//! verified against the listed digest, capped, cached by digest once verified, and shared by
//! concurrent readers of this provider process through [`ArchiveStore::global`] (20 data sources
//! naming one version cost one download).
//!
//! One thing is added for OCI: an archive the registry's disk cache holds under the layer digest
//! the catalog snapshot lists is read from there without any request (the OCI client would ask
//! the registry for the manifest first), so a second plan makes no request for it at all.

use crate::data_sources::registry_ref::RegistryRef;
use crate::error::{Error, Result};
use crate::registry::cache::Cache;
use crate::registry::chart_archive::{
    helm_chart_details, read_off_thread, sha256_hex, ArchiveInfo, ArchiveStore, ChartDetails,
    CHART_CACHE_KIND,
};
use crate::registry::snapshot::{ChartRecords, Kind, Snapshot, VersionRecord};
use crate::settings::Settings;

/// The details of `record`, version of chart `records` (keyed `key`) of `reg`, and where they
/// came from.
pub async fn chart_details(
    settings: &Settings,
    reg: &RegistryRef,
    snapshot: &Snapshot,
    key: &str,
    records: &ChartRecords,
    record: &VersionRecord,
) -> Result<(ChartDetails, ArchiveInfo)> {
    let store = ArchiveStore::global();
    let cache = match reg.cache(&settings.cache_dir) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::debug!(error = %e, "no chart cache for this registry");
            None
        }
    };
    match reg.kind {
        Kind::Helm => {
            let repo = reg.helm().expect("a Helm repository reference");
            helm_chart_details(
                store,
                repo,
                &settings.http,
                cache.as_ref(),
                snapshot,
                record,
            )
            .await
        }
        Kind::Oci => {
            let repo = oci_repository(reg, key, records);
            if let Some(found) = from_cache(cache.as_ref(), reg, &repo, record).await {
                return found;
            }
            let client = reg
                .oci_client(&settings.http, cache)
                .expect("an OCI registry reference")?;
            let (details, info) = client.chart_details(store, &repo, &record.version).await?;
            if !record.digest.is_empty() && info.digest != record.digest {
                // The tag was pushed again since the catalog was read: not the archive listed.
                return Err(Error::DigestMismatch {
                    url: info.url,
                    expected: format!("sha256:{}", record.digest),
                    actual: format!("sha256:{}", info.digest),
                });
            }
            Ok((details, info))
        }
    }
}

/// The OCI repository path of a chart: the snapshot's, else the endpoint path joined with the key.
fn oci_repository(reg: &RegistryRef, key: &str, records: &ChartRecords) -> String {
    if !records.repository.is_empty() {
        return records.repository.clone();
    }
    let base = reg
        .oci()
        .map(|o| o.registry.endpoint.path.trim_matches('/').to_string())
        .unwrap_or_default();
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}/{key}")
    }
}

/// An OCI chart archive from the disk cache by the listed layer digest, verified again.
async fn from_cache(
    cache: Option<&Cache>,
    reg: &RegistryRef,
    repo: &str,
    record: &VersionRecord,
) -> Option<Result<(ChartDetails, ArchiveInfo)>> {
    if record.digest.is_empty() {
        return None;
    }
    let digest = format!("sha256:{}", record.digest);
    let bytes = cache?.get(CHART_CACHE_KIND, &digest)?;
    if sha256_hex(&bytes) != record.digest {
        return None;
    }
    let host = reg
        .oci()
        .map(|o| o.registry.endpoint.base_url())
        .unwrap_or_default();
    let url = format!("{host}/v2/{repo}/blobs/{digest}");
    tracing::debug!(registry = %reg.name, %url, "chart archive from the cache");
    Some(
        read_off_thread(bytes, url.clone())
            .await
            .map(|(_, details)| {
                (
                    details,
                    ArchiveInfo {
                        digest: record.digest.clone(),
                        url,
                        manifest_digest: (!record.manifest_digest.is_empty())
                            .then(|| record.manifest_digest.clone()),
                        downloaded: false,
                    },
                )
            }),
    )
}
