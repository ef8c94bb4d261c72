//! Helm charts stored as OCI artifacts: the typed manifest and config documents, tag ↔ version,
//! digests, and the downloads that read them (manifest, config blob, chart archive layer), each
//! checked against its digest and cached by digest.
//!
//! Why apart from the sync: the sync only needs a chart's config (name, appVersion, description,
//! deprecated) per tag; the data sources need the same manifest plus the chart archive itself
//! (`values.yaml`, `Chart.yaml`), resolved by version. Both go through the manifest and blob
//! helpers here ([`OciClient::chart_manifest`]), so a digest check or a size cap exists once.
//!
//! Remote documents are read leniently as the former untyped probing did: a field of an
//! unexpected JSON type reads as absent (a plain image's odd manifest is "not a chart", never a
//! failed sync); only invalid JSON, a Helm config that is not an object, or a missing or malformed
//! digest of a chart are errors.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::auth::repo_scope;
use super::endpoint::{invalid, normalize_base_path};
use super::Reply;
use super::{lock, OciClient};
use crate::error::{redact_url, Error, Result};
use crate::registry::catalog::SemVer;
use crate::registry::chart_archive::{
    read_off_thread, sha256_hex, ArchiveInfo, ArchiveStore, ChartDetails,
};
use crate::registry::scrub::json_error;

/// Config media type that marks an OCI artifact as a Helm chart.
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Layer media type of the chart archive (`.tgz`), as `helm push` writes it.
pub const HELM_CHART_CONTENT_MEDIA_TYPE: &str =
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Layer media type of charts pushed by Helm before 3.8 (Helm still pulls them, with a warning).
pub const LEGACY_CHART_CONTENT_MEDIA_TYPE: &str = "application/tar+gzip";
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Kind of the on-disk cache entries holding config blobs.
pub const BLOB_CACHE_KIND: &str = "blobs";
/// Kind of the on-disk cache entries holding chart archives (by the layer's digest), shared with
/// the Helm repository downloads.
pub use crate::registry::chart_archive::CHART_CACHE_KIND;

const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;
const CONFIG_BLOB_LIMIT: u64 = 4 * 1024 * 1024;

// ------------------------------------------------------------------------------------------------
// Tags and digests

/// A tag as a chart version: Helm pushes `+` (build metadata) as `_`, which tags cannot hold.
pub fn tag_to_version(tag: &str) -> String {
    tag.replace('_', "+")
}

/// A chart version as a tag.
pub fn version_to_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The chart versions of a tag list: tags mapped with [`tag_to_version`], kept when they parse as
/// semver, deduplicated; pairs of (tag, version).
pub(super) fn semver_tags(tags: &[String]) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    tags.iter()
        .filter_map(|t| {
            let v = tag_to_version(t);
            (SemVer::parse(&v).is_some() && seen.insert(v.clone())).then(|| (t.clone(), v))
        })
        .collect()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Check `bytes` against an OCI digest (`sha256:<hex>` or `sha512:<hex>`).
pub fn digest_matches(digest: &str, bytes: &[u8]) -> bool {
    use sha2::Digest as _;
    match digest.split_once(':') {
        Some(("sha256", h)) => hex::encode(sha2::Sha256::digest(bytes)) == h,
        Some(("sha512", h)) => hex::encode(sha2::Sha512::digest(bytes)) == h,
        _ => false,
    }
}

/// A digest this client accepts (and may put into a URL path or a cache file name):
/// `sha256:` + 64 or `sha512:` + 128 lower-case hex digits.
pub fn valid_digest(digest: &str) -> bool {
    let hex_of = |h: &str, n: usize| {
        h.len() == n
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match digest.split_once(':') {
        Some(("sha256", h)) => hex_of(h, 64),
        Some(("sha512", h)) => hex_of(h, 128),
        _ => false,
    }
}

/// The distribution spec's tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128
        && tag.bytes().next().is_some_and(ok)
        && tag.bytes().all(|b| ok(b) || b == b'.' || b == b'-')
}

// ------------------------------------------------------------------------------------------------
// Documents

/// Any JSON value as `T`, or `T::default()` when it has another shape.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> std::result::Result<T, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// A JSON string as it is, a number as written, anything else as the empty string (Chart.yaml
/// values such as `appVersion: 1.10` arrive as numbers).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// An OCI content descriptor (config or layer of a manifest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(deserialize_with = "lenient")]
    pub media_type: String,
    #[serde(deserialize_with = "lenient")]
    pub digest: String,
    #[serde(deserialize_with = "lenient")]
    pub size: u64,
}

/// An image manifest (OCI or Docker v2), the parts a Helm chart uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Manifest {
    #[serde(deserialize_with = "lenient")]
    pub media_type: String,
    #[serde(deserialize_with = "lenient")]
    pub config: Descriptor,
    #[serde(deserialize_with = "lenient")]
    pub layers: Vec<Descriptor>,
    /// `org.opencontainers.image.created` and the like (Helm writes them on push).
    #[serde(deserialize_with = "lenient")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Manifest {
    /// Read a manifest; any valid JSON is a manifest (one that is not an object has no config, so
    /// it is no chart).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Manifest, serde_json::Error> {
        let v: serde_json::Value = serde_json::from_slice(bytes)?;
        Ok(serde_json::from_value(v).unwrap_or_default())
    }

    pub fn is_helm_chart(&self) -> bool {
        self.config.media_type == HELM_CONFIG_MEDIA_TYPE
    }

    /// The chart archive layer: the current media type, else the pre-3.8 one (as `helm pull`).
    pub fn chart_layer(&self) -> Option<&Descriptor> {
        let of = |t: &str| self.layers.iter().find(|l| l.media_type == t);
        of(HELM_CHART_CONTENT_MEDIA_TYPE).or_else(|| of(LEGACY_CHART_CONTENT_MEDIA_TYPE))
    }
}

/// The fields of a Helm chart config blob (Chart.yaml as JSON) that the catalog keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChartConfig {
    #[serde(deserialize_with = "string_or_number")]
    pub name: String,
    #[serde(deserialize_with = "string_or_number")]
    pub version: String,
    #[serde(deserialize_with = "string_or_number")]
    pub app_version: String,
    #[serde(deserialize_with = "string_or_number")]
    pub description: String,
    #[serde(deserialize_with = "lenient")]
    pub deprecated: bool,
    #[serde(deserialize_with = "lenient")]
    pub keywords: Vec<String>,
}

impl ChartConfig {
    /// Read a config blob: a JSON object, fields of other types read as absent.
    pub fn parse(bytes: &[u8]) -> std::result::Result<ChartConfig, String> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        if !v.is_object() {
            return Err("not a JSON object".into());
        }
        serde_json::from_value(v).map_err(|e| json_error(&e))
    }
}

/// A Helm chart in an OCI registry as `helm pull oci://…:tag` sees it, before any blob is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartManifest {
    /// Repository path in the registry.
    pub repository: String,
    pub tag: String,
    /// Digest of the manifest as served (`sha256:…`, what `helm pull` prints as `Digest:`).
    pub digest: String,
    /// The parsed manifest; its config digest is valid.
    pub manifest: Manifest,
}

/// How many manifests and blobs were downloaded (not served by a cache).
#[derive(Debug, Default)]
pub(super) struct Downloads {
    pub manifests: AtomicUsize,
    pub blobs: AtomicUsize,
}

/// The answer to a manifest request.
pub(super) enum ManifestOutcome {
    Chart(ChartManifest),
    NotAChart,
    /// The tag does not exist (HTTP 404).
    Missing(String),
}

// ------------------------------------------------------------------------------------------------
// Downloads

impl OciClient {
    /// The manifest of `repo:tag`, with its config digest checked when it is a Helm chart.
    pub(super) async fn helm_manifest(
        &self,
        repo: &str,
        tag: &str,
        downloads: &Downloads,
    ) -> Result<ManifestOutcome> {
        let url = self.session.url(&format!("/v2/{repo}/manifests/{tag}"))?;
        downloads.manifests.fetch_add(1, Ordering::Relaxed);
        let accept = format!("{OCI_MANIFEST_MEDIA_TYPE}, {DOCKER_MANIFEST_MEDIA_TYPE}");
        let reply = self
            .session
            .get(&url, Some(&repo_scope(repo)), Some(&accept), MANIFEST_LIMIT)
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(ManifestOutcome::Missing(redact_url(url.as_str())));
        }
        if !reply.status.is_success() {
            return Err(reply.status_error());
        }
        let manifest = Manifest::parse(&reply.body)
            .map_err(|e| reply.protocol(format!("invalid manifest JSON: {}", json_error(&e))))?;
        if !manifest.is_helm_chart() {
            tracing::debug!(repo, tag, media_type = %manifest.config.media_type, "not a Helm chart");
            return Ok(ManifestOutcome::NotAChart);
        }
        if !valid_digest(&manifest.config.digest) {
            return Err(reply.protocol("the manifest's config has no valid digest"));
        }
        Ok(ManifestOutcome::Chart(ChartManifest {
            repository: repo.to_string(),
            tag: tag.to_string(),
            digest: sha256_digest(&reply.body),
            manifest,
        }))
    }

    /// The manifest of chart `version` in repository `repo` (a path in the registry, e.g. from
    /// [`SyncReport::repositories`](super::SyncReport::repositories)). [`Error::NotFound`] when
    /// the registry has no such tag, [`Error::Protocol`] when the tag is not a Helm chart.
    pub async fn chart_manifest(&self, repo: &str, version: &str) -> Result<ChartManifest> {
        let repo = normalize_base_path(repo).map_err(|r| invalid(repo, r))?;
        let tag = version_to_tag(version);
        if !valid_tag(&tag) {
            return Err(invalid(
                &format!("{repo}:{tag}"),
                "not a valid OCI tag (letters, digits, '_', '.', '-', at most 128)",
            ));
        }
        let url = self.session.url(&format!("/v2/{repo}/manifests/{tag}"))?;
        match self
            .helm_manifest(&repo, &tag, &Downloads::default())
            .await?
        {
            ManifestOutcome::Chart(m) => Ok(m),
            ManifestOutcome::Missing(url) => Err(Error::NotFound { url }),
            ManifestOutcome::NotAChart => Err(Error::Protocol {
                url: redact_url(url.as_str()),
                detail: format!(
                    "{repo}:{tag} is not a Helm chart (its config is not {HELM_CONFIG_MEDIA_TYPE})"
                ),
            }),
        }
    }

    /// A blob cached under `kind`, if it is there and matches `digest`.
    fn cached_blob(&self, kind: &str, digest: &str) -> Option<Vec<u8>> {
        let bytes = self.cache.as_ref()?.get(kind, digest)?;
        if digest_matches(digest, &bytes) {
            return Some(bytes);
        }
        tracing::debug!(digest, kind, "ignoring a corrupt cached blob");
        None
    }

    fn cache_blob(&self, kind: &str, digest: &str, bytes: &[u8]) {
        if let Some(c) = &self.cache {
            if let Err(e) = c.put(kind, digest, bytes) {
                tracing::debug!(error = %e, kind, "cannot cache a blob");
            }
        }
    }

    /// Download blob `digest` of `repo` (at most `limit` bytes) and check it against the digest.
    async fn blob(&self, repo: &str, digest: &str, limit: u64) -> Result<Reply> {
        let url = self.session.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let reply = self
            .session
            .get(&url, Some(&repo_scope(repo)), None, limit)
            .await?;
        if !reply.status.is_success() {
            return Err(reply.status_error());
        }
        if !digest_matches(digest, &reply.body) {
            return Err(reply.protocol(format!("the blob does not match its digest {digest}")));
        }
        Ok(reply)
    }

    /// The config of a Helm chart blob: memory map, then the disk cache's pack (checked against
    /// the digest), then the registry. A digest is downloaded at most once per client; a
    /// downloaded blob goes to the pack at the next `flush_blobs`.
    pub(super) async fn config_blob(
        &self,
        repo: &str,
        digest: &str,
        downloads: &Downloads,
    ) -> Result<ChartConfig> {
        let cell = lock(&self.blobs)
            .entry(digest.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let packed = lock(self.pack().await).get(digest).map(|bytes| {
                ChartConfig::parse(bytes)
                    .ok()
                    .filter(|_| digest_matches(digest, bytes))
            });
            match packed {
                Some(Some(cfg)) => return Ok(cfg),
                Some(None) => {
                    tracing::debug!(digest, "ignoring a cached config that does not match")
                }
                None => {}
            }
            downloads.blobs.fetch_add(1, Ordering::Relaxed);
            let reply = self.blob(repo, digest, CONFIG_BLOB_LIMIT).await?;
            let cfg = ChartConfig::parse(&reply.body)
                .map_err(|e| reply.protocol(format!("invalid Helm chart config: {e}")))?;
            if self.cache.is_some() {
                lock(&self.unwritten).push((digest.to_string(), reply.body));
            }
            Ok(cfg)
        })
        .await
        .cloned()
    }

    /// The config (Chart.yaml as JSON) of a chart found by [`OciClient::chart_manifest`].
    pub async fn chart_config(&self, chart: &ChartManifest) -> Result<ChartConfig> {
        let digest = &chart.manifest.config.digest;
        let cfg = self
            .config_blob(&chart.repository, digest, &Downloads::default())
            .await;
        self.flush_blobs().await;
        cfg
    }

    /// The chart layer of `chart`, with a valid digest.
    fn chart_layer<'m>(&self, chart: &'m ChartManifest) -> Result<&'m Descriptor> {
        let manifest_url = self
            .session
            .url(&format!("/v2/{}/manifests/{}", chart.repository, chart.tag))?;
        let protocol = |detail: String| Error::Protocol {
            url: redact_url(manifest_url.as_str()),
            detail,
        };
        let layer = chart.manifest.chart_layer().ok_or_else(|| {
            protocol(format!(
                "the manifest has no {HELM_CHART_CONTENT_MEDIA_TYPE} layer"
            ))
        })?;
        if !valid_digest(&layer.digest) {
            return Err(protocol(
                "the manifest's chart layer has no valid digest".into(),
            ));
        }
        Ok(layer)
    }

    /// Download a chart layer: at most `max_chart_size` (by the descriptor's size before any
    /// request, then while streaming), checked against its digest.
    async fn download_chart_layer(&self, repo: &str, layer: &Descriptor) -> Result<Vec<u8>> {
        let url = self
            .session
            .url(&format!("/v2/{repo}/blobs/{}", layer.digest))?;
        let limit = self.session.settings().max_chart_size;
        let too_large = || Error::ChartTooLarge {
            url: redact_url(url.as_str()),
            limit,
        };
        if layer.size > limit {
            return Err(too_large());
        }
        let reply = match self
            .session
            .get(&url, Some(&repo_scope(repo)), None, limit)
            .await
        {
            Err(Error::TooLarge { .. }) => return Err(too_large()),
            r => r?,
        };
        if !reply.status.is_success() {
            return Err(reply.status_error());
        }
        if !digest_matches(&layer.digest, &reply.body) {
            let algorithm = layer.digest.split_once(':').map_or("sha256", |(a, _)| a);
            let actual = match algorithm {
                "sha512" => {
                    use sha2::Digest as _;
                    format!("sha512:{}", hex::encode(sha2::Sha512::digest(&reply.body)))
                }
                _ => sha256_digest(&reply.body),
            };
            return Err(Error::DigestMismatch {
                url: redact_url(url.as_str()),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(reply.body)
    }

    /// The chart archive (`.tgz`) of a chart found by [`OciClient::chart_manifest`]: its chart
    /// layer, at most the provider's `max_chart_size`, checked against the layer's digest
    /// ([`Error::DigestMismatch`]), served from the disk cache (kind [`CHART_CACHE_KIND`], checked
    /// again) when there and cached once verified: a corrupt or oversized archive is never cached.
    pub async fn chart_archive(&self, chart: &ChartManifest) -> Result<Vec<u8>> {
        let layer = self.chart_layer(chart)?;
        if let Some(bytes) = self.cached_blob(CHART_CACHE_KIND, &layer.digest) {
            return Ok(bytes);
        }
        let bytes = self.download_chart_layer(&chart.repository, layer).await?;
        self.cache_blob(CHART_CACHE_KIND, &layer.digest, &bytes);
        Ok(bytes)
    }

    /// The details of chart `version` in repository `repo` (a path in the registry, as the
    /// catalog snapshot's `repository`), as `helm show chart`/`helm show values` on
    /// `oci://…/repo --version version` show them: the manifest (always asked for: a tag may
    /// move), then the chart layer from the disk cache or downloaded, verified, read
    /// ([`read_chart_archive`](crate::registry::chart_archive::read_chart_archive)) and only then
    /// cached. Concurrent reads of one layer through `store` cost one download.
    pub async fn chart_details(
        &self,
        store: &ArchiveStore,
        repo: &str,
        version: &str,
    ) -> Result<(ChartDetails, ArchiveInfo)> {
        let chart = self.chart_manifest(repo, version).await?;
        let layer = self.chart_layer(&chart)?;
        let blob_url = redact_url(
            self.session
                .url(&format!("/v2/{}/blobs/{}", chart.repository, layer.digest))?
                .as_str(),
        );
        let key = format!(
            "oci\n{}\n{}\n{}",
            self.cache
                .as_ref()
                .map_or(String::new(), |c| c.root().display().to_string()),
            self.session.url("/v2/")?,
            layer.digest
        );
        let (details, digest, downloaded) = store
            .read(key, || async {
                if let Some(bytes) = self.cached_blob(CHART_CACHE_KIND, &layer.digest) {
                    let sha = sha256_hex(&bytes);
                    let (_, details) = read_off_thread(bytes, blob_url.clone()).await?;
                    return Ok((details, sha, false));
                }
                let bytes = self.download_chart_layer(&chart.repository, layer).await?;
                let sha = sha256_hex(&bytes);
                let (bytes, details) = read_off_thread(bytes, blob_url.clone()).await?;
                self.cache_blob(CHART_CACHE_KIND, &layer.digest, &bytes);
                tracing::debug!(url = %blob_url, bytes = bytes.len(), "chart layer downloaded");
                Ok((details, sha, true))
            })
            .await?;
        Ok((
            details,
            ArchiveInfo {
                digest,
                url: blob_url,
                manifest_digest: Some(chart.digest.clone()),
                downloaded,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::registry::cache::Cache;
    use crate::registry::http::{HttpSettings, TlsOptions};
    use crate::registry::oci::{parse_endpoint, OciRegistry};
    use crate::registry::testserver::{response, serve, Request};

    #[test]
    fn tags() {
        assert_eq!(tag_to_version("1.2.3_build.4"), "1.2.3+build.4");
        assert_eq!(version_to_tag("1.2.3+build.4"), "1.2.3_build.4");
        let tags: Vec<String> = [
            "latest",
            "1.0.0",
            "1.0.1_b.1",
            "sha256-abc.sig",
            "1.0.0-rc.1",
            "v2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let v: Vec<String> = semver_tags(&tags).into_iter().map(|(_, v)| v).collect();
        assert_eq!(v, ["1.0.0", "1.0.1+b.1", "1.0.0-rc.1", "v2"]);
    }

    #[test]
    fn digests_and_configs() {
        let d = sha256_digest(b"x");
        assert!(valid_digest(&d) && digest_matches(&d, b"x") && !digest_matches(&d, b"y"));
        assert!(!valid_digest("sha256:abc") && !valid_digest("md5:00"));
        assert!(!valid_digest(&d.to_uppercase().replace("SHA256", "sha256")));
        let c = ChartConfig::parse(br#"{"name":"c","version":"1.0.0","appVersion":"2","description":"d","deprecated":true,"keywords":["web","proxy"]}"#).unwrap();
        assert_eq!(
            c,
            ChartConfig {
                name: "c".into(),
                version: "1.0.0".into(),
                app_version: "2".into(),
                description: "d".into(),
                deprecated: true,
                keywords: vec!["web".into(), "proxy".into()],
            }
        );
        assert!(ChartConfig::parse(b"[]").is_err());
        // numbers as written; other types read as absent
        let c =
            ChartConfig::parse(br#"{"name":["x"],"appVersion":1.10,"deprecated":"yes"}"#).unwrap();
        assert_eq!((c.name.as_str(), c.app_version.as_str()), ("", "1.1"));
        assert!(!c.deprecated);
    }

    #[test]
    fn manifests() {
        let m = Manifest::parse(
            format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"{HELM_CONFIG_MEDIA_TYPE}","digest":"sha256:00","size":3}},
                "layers":[{{"mediaType":"{LEGACY_CHART_CONTENT_MEDIA_TYPE}","digest":"sha256:11","size":5}},
                          {{"mediaType":"{HELM_CHART_CONTENT_MEDIA_TYPE}","digest":"sha256:22","size":7}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(m.is_helm_chart());
        assert_eq!((m.config.size, m.layers.len()), (3, 2));
        assert_eq!(
            m.chart_layer().unwrap().digest,
            "sha256:22",
            "current type first"
        );
        // odd shapes are no chart, not an error; invalid JSON is
        for odd in [
            &b"[]"[..],
            b"\"x\"",
            br#"{"config":5}"#,
            br#"{"config":{"mediaType":7}}"#,
        ] {
            assert!(!Manifest::parse(odd).unwrap().is_helm_chart());
        }
        let m = Manifest::parse(br#"{"layers":[{"mediaType":"application/tar+gzip"}]}"#).unwrap();
        assert_eq!(
            m.chart_layer().unwrap().media_type,
            LEGACY_CHART_CONTENT_MEDIA_TYPE
        );
        assert!(Manifest::parse(b"{").is_err());
    }

    /// A registry serving `charts/demo` 1.0.0+b (its chart layer is `archive`, or `served` in its
    /// place) and the plain image `charts/demo:img`.
    async fn chart_registry(
        archive: &'static [u8],
        served: &'static [u8],
    ) -> (String, Arc<Mutex<Vec<Request>>>, String) {
        let config = br#"{"name":"demo","version":"1.0.0+b","appVersion":"9"}"#;
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{HELM_CONFIG_MEDIA_TYPE}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{HELM_CHART_CONTENT_MEDIA_TYPE}","digest":"{}","size":{}}}]}}"#,
            sha256_digest(config),
            config.len(),
            sha256_digest(archive),
            archive.len()
        );
        let image = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":2},"layers":[]}"#;
        let manifest_digest = sha256_digest(manifest.as_bytes());
        let (config_path, layer_path) = (
            format!("/v2/charts/demo/blobs/{}", sha256_digest(config)),
            format!("/v2/charts/demo/blobs/{}", sha256_digest(archive)),
        );
        let srv = serve(Arc::new(move |r: &Request| match r.target.as_str() {
            "/v2/charts/demo/manifests/1.0.0_b" => response("200 OK", &[], manifest.as_bytes()),
            "/v2/charts/demo/manifests/img" => response("200 OK", &[], image.as_bytes()),
            t if t == config_path => response("200 OK", &[], config),
            t if t == layer_path => response("200 OK", &[], served),
            _ => response("404 Not Found", &[], b""),
        }))
        .await;
        (srv.addr, srv.requests, manifest_digest)
    }

    fn client(host: &str, cache: &Cache, max: u64) -> OciClient {
        let reg = OciRegistry {
            endpoint: parse_endpoint(&format!("http://{host}")).unwrap(),
            credentials: None,
            tls: TlsOptions::default(),
        };
        let settings = HttpSettings {
            max_chart_size: max,
            ..HttpSettings::default()
        };
        OciClient::new(&reg, &settings, Some(cache.clone())).unwrap()
    }

    #[tokio::test]
    async fn chart_archive_by_digest_verified_and_cached() {
        const TGZ: &[u8] = b"\x1f\x8b pretend this is a chart archive";
        let (host, seen, manifest_digest) = chart_registry(TGZ, TGZ).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let c = client(&host, &cache, 1024);
        let m = c.chart_manifest("charts/demo", "1.0.0+b").await.unwrap();
        assert_eq!(
            (m.tag.as_str(), m.digest.as_str()),
            ("1.0.0_b", manifest_digest.as_str())
        );
        assert_eq!(c.chart_config(&m).await.unwrap().app_version, "9");
        assert_eq!(c.chart_archive(&m).await.unwrap(), TGZ);
        let layer = m.manifest.chart_layer().unwrap().digest.clone();
        assert_eq!(cache.get(CHART_CACHE_KIND, &layer).unwrap(), TGZ);
        // a second client with the same cache reads the manifest only
        let before = lock(&seen).len();
        let c2 = client(&host, &cache, 1024);
        let m2 = c2.chart_manifest("charts/demo", "1.0.0+b").await.unwrap();
        assert_eq!(c2.chart_archive(&m2).await.unwrap(), TGZ);
        let after: Vec<String> = lock(&seen)[before..]
            .iter()
            .map(|r| r.target.clone())
            .collect();
        assert_eq!(after, ["/v2/charts/demo/manifests/1.0.0_b"]);
        // a corrupt cache entry is not trusted
        cache.put(CHART_CACHE_KIND, &layer, b"tampered").unwrap();
        assert_eq!(c2.chart_archive(&m2).await.unwrap(), TGZ);

        // not a tag, not found, not a chart
        for bad in ["../x", "1.0.0?x", ".1", ""] {
            assert!(
                matches!(
                    c.chart_manifest("charts/demo", bad).await,
                    Err(Error::InvalidUrl { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            c.chart_manifest("charts/demo", "2.0.0").await,
            Err(Error::NotFound { .. })
        ));
        match c.chart_manifest("charts/demo", "img").await {
            Err(e @ Error::Protocol { .. }) => {
                assert!(e.to_string().contains("not a Helm chart"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn chart_archive_refused_when_corrupt_or_too_large() {
        const TGZ: &[u8] = b"the archive the manifest names";
        let (host, seen, _) = chart_registry(TGZ, b"something else served").await;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let c = client(&host, &cache, 1024);
        let m = c.chart_manifest("charts/demo", "1.0.0+b").await.unwrap();
        let layer = m.manifest.chart_layer().unwrap().digest.clone();
        match c.chart_archive(&m).await {
            Err(e @ Error::DigestMismatch { .. }) => {
                let s = e.to_string();
                assert!(s.contains("does not match its digest"), "{s}");
                assert!(s.contains(&layer), "{s}");
                assert!(s.contains(&sha256_digest(b"something else served")), "{s}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            cache.get(CHART_CACHE_KIND, &layer).is_none(),
            "nothing cached"
        );

        // over the cap by the descriptor: refused before any download
        let small = client(&host, &cache, 8);
        let m = small
            .chart_manifest("charts/demo", "1.0.0+b")
            .await
            .unwrap();
        let before = lock(&seen).len();
        assert!(matches!(
            small.chart_archive(&m).await,
            Err(Error::ChartTooLarge { limit: 8, .. })
        ));
        assert_eq!(lock(&seen).len(), before);
        // over the cap by what is served (the descriptor lies about the size)
        let mut lying = m.clone();
        for l in &mut lying.manifest.layers {
            l.size = 1;
        }
        assert!(matches!(
            small.chart_archive(&lying).await,
            Err(Error::ChartTooLarge { limit: 8, .. })
        ));
        assert!(
            cache.get(CHART_CACHE_KIND, &layer).is_none(),
            "nothing cached"
        );
    }

    /// `chart_details`: manifest, layer verified and read as a chart, cached only then; a second
    /// client (the next plan) asks for the manifest only; concurrent reads share one download.
    #[tokio::test]
    async fn chart_details_read_verified_and_cached() {
        use crate::registry::chart_archive::tests::{file, tgz};
        let archive = tgz(&[
            file(
                "demo/Chart.yaml",
                b"apiVersion: v2\nname: demo\nversion: 1.0.0+b\nappVersion: \"9\"\n",
            ),
            file("demo/values.yaml", b"replicas: 1\n"),
        ]);
        let archive: &'static [u8] = Box::leak(archive.into_boxed_slice());
        let (host, seen, manifest_digest) = chart_registry(archive, archive).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let store = ArchiveStore::default();
        let c = client(&host, &cache, 1 << 20);
        let (d, info) = c
            .chart_details(&store, "charts/demo", "1.0.0+b")
            .await
            .unwrap();
        assert_eq!((d.name.as_str(), d.app_version.as_str()), ("demo", "9"));
        assert_eq!(d.values.as_deref(), Some("replicas: 1\n"));
        assert_eq!(info.digest, sha256_hex(archive));
        assert_eq!(
            info.manifest_digest.as_deref(),
            Some(manifest_digest.as_str())
        );
        assert!(info.downloaded);
        assert!(info
            .url
            .ends_with(&format!("/v2/charts/demo/blobs/sha256:{}", info.digest)));
        assert_eq!(store.downloads(), 1);
        assert_eq!(
            cache
                .get(CHART_CACHE_KIND, &format!("sha256:{}", info.digest))
                .unwrap(),
            archive
        );
        // The next plan: a new client and store, the same cache: only the manifest is asked for.
        let before = lock(&seen).len();
        let store2 = ArchiveStore::default();
        let c2 = client(&host, &cache, 1 << 20);
        let (d2, info2) = c2
            .chart_details(&store2, "charts/demo", "1.0.0+b")
            .await
            .unwrap();
        assert_eq!((d2, info2.downloaded, store2.downloads()), (d, false, 0));
        let after: Vec<String> = lock(&seen)[before..]
            .iter()
            .map(|r| r.target.clone())
            .collect();
        assert_eq!(after, ["/v2/charts/demo/manifests/1.0.0_b"]);
        // Ten concurrent reads with an empty cache: one layer download.
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let store3 = ArchiveStore::default();
        let c3 = client(&host, &cache, 1 << 20);
        let reads = (0..10).map(|_| c3.chart_details(&store3, "charts/demo", "1.0.0+b"));
        let all = futures::future::join_all(reads).await;
        assert!(all.iter().all(|r| r.is_ok()));
        assert_eq!(store3.downloads(), 1);
        assert_eq!(
            all.iter()
                .filter(|r| r.as_ref().unwrap().1.downloaded)
                .count(),
            1
        );
    }

    /// A layer that is no chart: a clean error, nothing cached.
    #[tokio::test]
    async fn chart_details_of_a_broken_layer() {
        const NOT_A_CHART: &[u8] = b"\x1f\x8b but not a chart";
        let (host, _, _) = chart_registry(NOT_A_CHART, NOT_A_CHART).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let c = client(&host, &cache, 1 << 20);
        match c
            .chart_details(&ArchiveStore::default(), "charts/demo", "1.0.0+b")
            .await
        {
            Err(e @ Error::InvalidChart { .. }) => {
                assert!(
                    e.to_string().contains("/v2/charts/demo/blobs/sha256:"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(cache
            .get(CHART_CACHE_KIND, &sha256_digest(NOT_A_CHART))
            .is_none());
    }
}
