//! The download of a chart archive from a classic Helm repository, verified, capped and cached
//! by digest; and the in-process store that makes concurrent reads of one archive one download.
//!
//! - URL: the version's first `urls` entry, resolved against the snapshot's `index_url` as Helm
//!   resolves it ([`resolve_chart_url`]).
//! - Credentials go only to the repository's own scheme, host and port (Helm's `HTTPGetter`:
//!   same scheme and `host:port` as the repository URL; an explicit default port counts as the
//!   same port here), or everywhere with `pass_credentials` (Helm's `--pass-credentials`); a
//!   redirect to another origin drops them ([`Fetcher`]). Retries, timeouts and TLS settings are
//!   the registry's, as for its index.
//! - Size: refused above `max_chart_size` as announced (`Content-Length`) or while streaming
//!   ([`Error::ChartTooLarge`]); sha256 computed while streaming and compared with the index's
//!   `digest` ([`Error::DigestMismatch`]); then read as a chart ([`read_chart_archive`]).
//! - Cache: `<cache>/charts/sha256-<hex>` (the registry's [`Cache`]). With a cache and a listed
//!   digest the body streams into a temporary file beside that name while it is hashed
//!   ([`Sink::File`], [`Cache::begin`]); the file becomes the entry (rename) only once the digest
//!   matched and the archive read as a chart, and is removed on any failure (a mismatch, a body
//!   over the cap, a reset, a retry's failed attempt), so no half-written or unverified file is
//!   ever found under an entry's name. The chunks are written on the async worker through a
//!   64 KiB buffer (page-cache writes; the reading back and the chart reader run off it). A
//!   cached file is hashed again before use and dropped when it does not match. A second read
//!   of the same digest sends no request.
//! - A version whose index entry has no `digest`: downloaded, its sha256 computed and returned,
//!   nothing written to the disk cache (there is no listed digest to find it by next time, and a
//!   computed one proves nothing); within one provider process it is read once per URL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::Method;
use sha2::{Digest, Sha256};
use url::Url;

use super::{read_chart_archive, ChartDetails};
use crate::error::{from_reqwest, redact_url, Error, Result};
use crate::registry::cache::{Cache, PendingFile};
use crate::registry::helm_index::{index_url, resolve_chart_url, HelmRepo};
use crate::registry::http::{
    build_client, origin, status_error, Credentials, Fetcher, HttpSettings,
};
use crate::registry::scrub::Secrets;
use crate::registry::snapshot::{Snapshot, VersionRecord};

/// Kind of the cache entries holding chart archives, by `sha256:<hex>` (the OCI client's
/// [`CHART_CACHE_KIND`](crate::registry::oci::CHART_CACHE_KIND) too).
pub const CHART_CACHE_KIND: &str = "charts";

/// Where a chart's details came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// sha256 of the archive, lower-case hex without prefix (as `sha256sum` and Helm indexes
    /// write it): verified against the index `digest` or the OCI layer descriptor, or computed
    /// from the download when the index lists none.
    pub digest: String,
    /// Where the archive is downloaded from, without userinfo. Helm: the resolved chart URL, its
    /// query string kept (Helm sends it); OCI: the layer's blob URL.
    pub url: String,
    /// OCI: the manifest digest (`sha256:…`, what `helm pull` prints as `Digest:`). Helm: `None`.
    pub manifest_digest: Option<String>,
    /// Whether this call downloaded the archive (false: from the disk cache, or read by another
    /// call of this process).
    pub downloaded: bool,
}

/// What one archive gave, shared by the callers that asked for it.
#[derive(Debug)]
struct Read {
    details: ChartDetails,
    digest: String,
}

type Cell = Arc<tokio::sync::OnceCell<Arc<Read>>>;

/// The chart archives this process has read, by registry and digest (or URL when no digest is
/// listed), so that concurrent reads of one archive cost one download; and how many archives
/// were downloaded. One per provider process ([`ArchiveStore::global`]); tests make their own.
#[derive(Debug, Default)]
pub struct ArchiveStore {
    reads: Mutex<HashMap<String, Cell>>,
    downloads: AtomicUsize,
}

impl ArchiveStore {
    /// The store of this process.
    pub fn global() -> &'static ArchiveStore {
        static STORE: std::sync::OnceLock<ArchiveStore> = std::sync::OnceLock::new();
        STORE.get_or_init(ArchiveStore::default)
    }

    /// How many chart archives were downloaded through this store (cache and memory hits not
    /// counted).
    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::Relaxed)
    }

    fn cell(&self, key: String) -> Cell {
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    /// The details under `key`, computed by `load` once (concurrent callers wait for it; after a
    /// failure the next caller tries again). The flag says whether this call ran `load` and it
    /// downloaded.
    pub(crate) async fn read<F, Fut>(
        &self,
        key: String,
        load: F,
    ) -> Result<(ChartDetails, String, bool)>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(ChartDetails, String, bool)>>,
    {
        let cell = self.cell(key);
        let mut downloaded = false;
        let read = cell
            .get_or_try_init(|| async {
                let (details, digest, d) = load().await?;
                if d {
                    self.downloads.fetch_add(1, Ordering::Relaxed);
                }
                downloaded = d;
                Ok::<_, Error>(Arc::new(Read { details, digest }))
            })
            .await?;
        Ok((read.details.clone(), read.digest.clone(), downloaded))
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A listed digest as this module compares it: trimmed, `sha256:` prefix dropped, lower case.
fn normalize_digest(d: &str) -> String {
    let d = d.trim();
    d.strip_prefix("sha256:").unwrap_or(d).to_ascii_lowercase()
}

fn is_sha256_hex(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A cached archive of `digest` (hex), if there and still matching it.
pub(crate) fn cached_archive(cache: Option<&Cache>, digest: &str) -> Option<Vec<u8>> {
    let cache = cache?;
    let key = format!("sha256:{digest}");
    let bytes = cache.get(CHART_CACHE_KIND, &key)?;
    if sha256_hex(&bytes) == digest {
        return Some(bytes);
    }
    tracing::debug!(
        digest,
        "dropping a cached chart archive that does not match its digest"
    );
    cache.remove(CHART_CACHE_KIND, &key);
    None
}

/// Cache a verified archive; a cache that cannot be written only costs a download next time.
pub(crate) fn cache_archive(cache: Option<&Cache>, digest: &str, bytes: &[u8]) {
    if let Some(c) = cache {
        if let Err(e) = c.put(CHART_CACHE_KIND, &format!("sha256:{digest}"), bytes) {
            tracing::debug!(error = %e, "cannot cache a chart archive");
        }
    }
}

/// [`read_chart_archive`] off the async workers (a chart may decompress to 200 MiB).
pub(crate) async fn read_off_thread(
    bytes: Vec<u8>,
    url: String,
) -> Result<(Vec<u8>, ChartDetails)> {
    tokio::task::spawn_blocking(move || {
        let r = read_chart_archive(&bytes, &url);
        r.map(|d| (bytes, d))
    })
    .await
    .map_err(|e| Error::Config(format!("reading a chart archive was aborted: {e}")))?
}

/// What an error body must not show: the credentials and the query string's values.
fn request_secrets(repo: &HelmRepo, url: &Url) -> Secrets {
    let mut secrets = Secrets::new();
    if let Some(c) = &repo.credentials {
        secrets.add_credentials(c);
    }
    if let Some(q) = url.query() {
        secrets.add_token(q);
        for (_, v) in url.query_pairs() {
            secrets.add(&v);
        }
    }
    secrets
}

/// The chart URL of `record` as Helm resolves it against the snapshot's index URL (or, for a
/// snapshot without one, the repository's).
pub fn helm_chart_url(repo: &HelmRepo, snapshot: &Snapshot, record: &VersionRecord) -> Result<Url> {
    let index = if snapshot.index_url.is_empty() {
        index_url(&repo.endpoint)?
    } else {
        Url::parse(&snapshot.index_url).map_err(|e| Error::InvalidUrl {
            url: redact_url(&snapshot.index_url),
            reason: e.to_string(),
        })?
    };
    let first = record.urls.first().ok_or_else(|| Error::Protocol {
        url: redact_url(index.as_str()),
        detail: format!(
            "the index lists no download URL for version {:?}",
            record.version
        ),
    })?;
    resolve_chart_url(&index, first)
}

/// Where a download's bytes go while they stream in.
#[derive(Debug)]
pub(crate) enum Sink {
    /// Held in memory (no cache, or no listed digest to file the archive under).
    Memory(Vec<u8>),
    /// Written to the cache under the listed digest as they arrive, the entry made only once
    /// the digest matched and the archive read as a chart ([`PendingFile`]).
    File(PendingFile),
}

impl Sink {
    /// A sink for one attempt: the cache's pending entry for `sha256:<digest>` when both are
    /// given, else memory (also when the cache cannot be written: that only costs a download
    /// next time).
    pub(crate) fn new(cache: Option<(&Cache, &str)>, capacity: usize) -> Sink {
        if let Some((c, digest)) = cache {
            match c.begin(CHART_CACHE_KIND, &format!("sha256:{digest}")) {
                Ok(f) => return Sink::File(f),
                Err(e) => tracing::debug!(error = %e, "cannot cache a chart archive"),
            }
        }
        Sink::Memory(Vec::with_capacity(capacity))
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            Sink::Memory(v) => v.len() as u64,
            Sink::File(f) => f.len(),
        }
    }

    /// Append a chunk. A cache file that cannot be written is an error of this attempt (the
    /// disk is full or gone): the download is not silently kept in memory instead.
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<()> {
        match self {
            Sink::Memory(v) => {
                v.extend_from_slice(chunk);
                Ok(())
            }
            Sink::File(f) => f.write(chunk),
        }
    }
}

/// Read a verified download as a chart, off the async workers, and make a cache file of it an
/// entry only when it reads as one: the bytes, and the details.
pub(crate) async fn read_sink(body: Sink, url: String) -> Result<(Vec<u8>, ChartDetails)> {
    match body {
        Sink::Memory(bytes) => read_off_thread(bytes, url).await,
        Sink::File(mut pending) => tokio::task::spawn_blocking(move || {
            pending.finish()?;
            let bytes = pending.read()?;
            let details = read_chart_archive(&bytes, &url)?;
            if let Err(e) = pending.commit() {
                tracing::debug!(error = %e, "cannot cache a chart archive");
            }
            Ok((bytes, details))
        })
        .await
        .map_err(|e| Error::Config(format!("reading a chart archive was aborted: {e}")))?,
    }
}

/// Download `url` (GET, the repository's credentials policy), at most `settings.max_chart_size`
/// bytes, hashing while streaming into `cache` (the registry's cache and the listed digest, when
/// both are known) or memory: the body and its lower-case hex sha256. Each attempt starts a new
/// sink; a failed attempt's cache file is removed.
async fn download(
    repo: &HelmRepo,
    settings: &HttpSettings,
    url: &Url,
    cache: Option<(&Cache, &str)>,
) -> Result<(Sink, String)> {
    let client = build_client(settings, &repo.tls)?;
    let mut fetcher = Fetcher::new(
        client,
        settings.clone(),
        origin(&index_url(&repo.endpoint)?),
    );
    fetcher.pass_credentials = repo.pass_credentials;
    let auth = repo.credentials.as_ref().map(Credentials::basic_header);
    let secrets = request_secrets(repo, url);
    let (limit, timeout) = (settings.max_chart_size, settings.timeout);
    let shown = redact_url(url.as_str());
    let too_large = || Error::ChartTooLarge {
        url: shown.clone(),
        limit,
    };
    let (too_large, secrets) = (&too_large, &secrets);
    tracing::debug!(url = %shown, authenticated = auth.is_some(), "downloading chart archive");
    fetcher
        .fetch(
            Method::GET,
            url,
            &HeaderMap::new(),
            auth.as_ref(),
            |resp| async move {
                if !resp.status().is_success() {
                    return Err(status_error(url, resp, secrets).await);
                }
                if resp.content_length().is_some_and(|n| n > limit) {
                    return Err(too_large());
                }
                const MAX_PREALLOC: u64 = 16 * 1024 * 1024;
                let capacity = resp
                    .content_length()
                    .unwrap_or(0)
                    .min(limit)
                    .min(MAX_PREALLOC) as usize;
                let mut body = Sink::new(cache, capacity);
                let mut hasher = Sha256::new();
                let mut stream = resp.bytes_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| from_reqwest(url.as_str(), &e, timeout))?;
                    if body.len() + chunk.len() as u64 > limit {
                        return Err(too_large());
                    }
                    hasher.update(&chunk);
                    body.write(&chunk)?;
                }
                Ok((body, hex::encode(hasher.finalize())))
            },
        )
        .await
}

/// The details of chart version `record` of a Helm repository: from the disk cache by digest,
/// else downloaded, verified and cached (see the module docs). `cache` is the registry's cache
/// (`Cache::registry(cache_dir, "helm", name)`); `store` is usually [`ArchiveStore::global`].
pub async fn helm_chart_details(
    store: &ArchiveStore,
    repo: &HelmRepo,
    settings: &HttpSettings,
    cache: Option<&Cache>,
    snapshot: &Snapshot,
    record: &VersionRecord,
) -> Result<(ChartDetails, ArchiveInfo)> {
    let url = helm_chart_url(repo, snapshot, record)?;
    let expected = Some(normalize_digest(&record.digest)).filter(|d| !d.is_empty());
    let user = repo
        .credentials
        .as_ref()
        .map_or("", |c| c.username.as_str());
    let key = format!(
        "helm\n{}\n{user}\n{}",
        cache.map_or(String::new(), |c| c.root().display().to_string()),
        expected.as_deref().unwrap_or(url.as_str())
    );
    let shown = redact_url(url.as_str());
    let (details, digest, downloaded) = store
        .read(key, || async {
            if let Some(exp) = expected.as_deref().filter(|d| is_sha256_hex(d)) {
                if let Some(bytes) = cached_archive(cache, exp) {
                    tracing::debug!(url = %shown, digest = exp, "chart archive from the cache");
                    let (_, details) = read_off_thread(bytes, url.to_string()).await?;
                    return Ok((details, exp.to_string(), false));
                }
            }
            let sink = cache.zip(expected.as_deref().filter(|d| is_sha256_hex(d)));
            let (body, actual) = download(repo, settings, &url, sink).await?;
            if let Some(exp) = &expected {
                if *exp != actual {
                    tracing::debug!(url = %shown, expected = %exp, %actual, "chart archive digest mismatch");
                    return Err(Error::DigestMismatch {
                        url: shown.clone(),
                        expected: format!("sha256:{exp}"),
                        actual: format!("sha256:{actual}"),
                    });
                }
            }
            let streamed = matches!(body, Sink::File(_));
            let (bytes, details) = read_sink(body, url.to_string()).await?;
            if expected.is_some() {
                if !streamed {
                    cache_archive(cache, &actual, &bytes);
                }
            } else {
                tracing::debug!(url = %shown, digest = %actual, "the index lists no digest: chart archive not cached");
            }
            tracing::debug!(url = %shown, bytes = bytes.len(), "chart archive downloaded");
            Ok((details, actual, true))
        })
        .await?;
    let mut shown_url = url.clone();
    let _ = shown_url.set_username("");
    let _ = shown_url.set_password(None);
    Ok((
        details,
        ArchiveInfo {
            digest,
            url: shown_url.to_string(),
            manifest_digest: None,
            downloaded,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::registry::chart_archive::tests::{file, tgz};
    use crate::registry::snapshot::Kind;
    use crate::registry::testserver::{response, serve, Request, TestServer};

    fn chart(version: &str) -> Vec<u8> {
        tgz(&[
            file(
                "demo/Chart.yaml",
                format!("apiVersion: v2\nname: demo\nversion: {version}\n").as_bytes(),
            ),
            file("demo/values.yaml", b"replicas: 1\n"),
        ])
    }

    /// Serves `body` at `/charts/demo-1.0.0.tgz` (with `headers`), 404 elsewhere.
    async fn server(body: Vec<u8>, headers: &'static [(&'static str, &'static str)]) -> TestServer {
        serve(Arc::new(move |r: &Request| {
            if r.target.starts_with("/charts/demo-1.0.0.tgz") {
                response("200 OK", headers, &body)
            } else {
                response("404 Not Found", &[], b"")
            }
        }))
        .await
    }

    fn repo(endpoint: &str, pass: bool) -> HelmRepo {
        HelmRepo {
            endpoint: endpoint.into(),
            credentials: Some(Credentials {
                username: "ci".into(),
                password: "s3cret".into(),
            }),
            tls: Default::default(),
            pass_credentials: pass,
        }
    }

    fn snapshot(endpoint: &str) -> Snapshot {
        Snapshot {
            kind: Kind::Helm,
            index_url: format!("{endpoint}/index.yaml"),
            charts: Default::default(),
        }
    }

    fn record(url: &str, digest: &str) -> VersionRecord {
        VersionRecord {
            version: "1.0.0".into(),
            digest: digest.into(),
            urls: vec![url.into()],
            ..Default::default()
        }
    }

    fn settings(max: u64) -> HttpSettings {
        HttpSettings {
            max_chart_size: max,
            max_retries: 0,
            ..HttpSettings::default()
        }
    }

    #[tokio::test]
    async fn downloaded_verified_cached_and_read_once() {
        let archive = chart("1.0.0");
        let digest = sha256_hex(&archive);
        let srv = server(archive.clone(), &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "helm", "r").unwrap();
        let store = ArchiveStore::default();
        let (repo, snap) = (repo(&endpoint, false), snapshot(&endpoint));
        // The index's digest as Helm writes it (hex); with a prefix or in upper case it is the same.
        for listed in [digest.clone(), format!("sha256:{}", digest.to_uppercase())] {
            let rec = record("demo-1.0.0.tgz", &listed);
            let (d, info) =
                helm_chart_details(&store, &repo, &settings(1 << 20), Some(&cache), &snap, &rec)
                    .await
                    .unwrap();
            assert_eq!(
                (d.name.as_str(), d.values.as_deref()),
                ("demo", Some("replicas: 1\n"))
            );
            assert_eq!(info.digest, digest);
            assert_eq!(info.url, format!("{endpoint}/demo-1.0.0.tgz"));
            assert_eq!(info.manifest_digest, None);
        }
        // One download, the credentials sent (same origin as the repository).
        let seen = srv.seen();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].has_auth());
        assert_eq!(store.downloads(), 1);
        assert_eq!(
            cache
                .get(CHART_CACHE_KIND, &format!("sha256:{digest}"))
                .unwrap(),
            archive
        );
        // The next plan (a new process: a new store), same cache: no request at all.
        let store2 = ArchiveStore::default();
        let rec = record("demo-1.0.0.tgz", &digest);
        let (_, info) = helm_chart_details(
            &store2,
            &repo,
            &settings(1 << 20),
            Some(&cache),
            &snap,
            &rec,
        )
        .await
        .unwrap();
        assert!(!info.downloaded);
        assert_eq!((srv.seen().len(), store2.downloads()), (1, 0));
        // A cached file that was tampered with is not used: downloaded and cached again.
        cache
            .put(CHART_CACHE_KIND, &format!("sha256:{digest}"), b"tampered")
            .unwrap();
        let store3 = ArchiveStore::default();
        let (_, info) = helm_chart_details(
            &store3,
            &repo,
            &settings(1 << 20),
            Some(&cache),
            &snap,
            &rec,
        )
        .await
        .unwrap();
        assert!(info.downloaded);
        assert_eq!(srv.seen().len(), 2);
        assert_eq!(
            cache
                .get(CHART_CACHE_KIND, &format!("sha256:{digest}"))
                .unwrap(),
            archive
        );
    }

    #[tokio::test]
    async fn concurrent_reads_of_one_version_are_one_download() {
        let archive = chart("1.0.0");
        let digest = sha256_hex(&archive);
        let srv = server(archive, &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "helm", "r").unwrap();
        let store = ArchiveStore::default();
        let (repo, snap, rec) = (
            repo(&endpoint, false),
            snapshot(&endpoint),
            record("demo-1.0.0.tgz", &digest),
        );
        let s = settings(1 << 20);
        let reads =
            (0..20).map(|_| helm_chart_details(&store, &repo, &s, Some(&cache), &snap, &rec));
        let all = futures::future::join_all(reads).await;
        assert!(all.iter().all(|r| r.is_ok()));
        assert_eq!((srv.seen().len(), store.downloads()), (1, 1));
        assert_eq!(
            all.iter()
                .filter(|r| r.as_ref().unwrap().1.downloaded)
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn credentials_only_to_the_repository_origin_unless_pass_credentials() {
        let archive = chart("1.0.0");
        let digest = sha256_hex(&archive);
        let cdn = server(archive, &[]).await;
        let repo_srv = server(Vec::new(), &[]).await;
        let endpoint = format!("{}/charts", repo_srv.base);
        let rec = record(&format!("{}/charts/demo-1.0.0.tgz", cdn.base), &digest);
        for (pass, sent) in [(false, false), (true, true)] {
            let store = ArchiveStore::default();
            helm_chart_details(
                &store,
                &repo(&endpoint, pass),
                &settings(1 << 20),
                None,
                &snapshot(&endpoint),
                &rec,
            )
            .await
            .unwrap();
            let last = cdn.seen().pop().unwrap();
            assert_eq!(last.has_auth(), sent, "pass_credentials = {pass}");
        }
        assert!(repo_srv.seen().is_empty());
    }

    #[tokio::test]
    async fn digest_mismatch_is_an_error_and_nothing_is_cached() {
        let archive = chart("1.0.0");
        let actual = sha256_hex(&archive);
        let srv = server(archive, &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "helm", "r").unwrap();
        let listed = sha256_hex(b"what the index was made from");
        for l in [listed.as_str(), "not-a-digest"] {
            let err = helm_chart_details(
                &ArchiveStore::default(),
                &repo(&endpoint, false),
                &settings(1 << 20),
                Some(&cache),
                &snapshot(&endpoint),
                &record("demo-1.0.0.tgz", l),
            )
            .await
            .unwrap_err();
            let s = err.to_string();
            assert!(matches!(err, Error::DigestMismatch { .. }), "{s}");
            assert!(
                s.contains(&format!("sha256:{l}")) && s.contains(&format!("sha256:{actual}")),
                "{s}"
            );
        }
        assert!(
            !cache.root().join(CHART_CACHE_KIND).exists()
                || std::fs::read_dir(cache.root().join(CHART_CACHE_KIND))
                    .unwrap()
                    .count()
                    == 0
        );
    }

    #[tokio::test]
    async fn too_large_as_announced_or_while_streaming() {
        let archive = chart("1.0.0");
        let digest = sha256_hex(&archive);
        // Announced by Content-Length.
        let srv = server(archive.clone(), &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "helm", "r").unwrap();
        let read = |endpoint: String, max: u64| {
            let cache = cache.clone();
            let digest = digest.clone();
            async move {
                helm_chart_details(
                    &ArchiveStore::default(),
                    &repo(&endpoint, false),
                    &settings(max),
                    Some(&cache),
                    &snapshot(&endpoint),
                    &record("demo-1.0.0.tgz", &digest),
                )
                .await
            }
        };
        let limit = archive.len() as u64 - 1;
        let err = read(endpoint.clone(), limit).await.unwrap_err();
        assert_eq!(cache_files(&cache), Vec::<String>::new());
        assert!(
            matches!(err, Error::ChartTooLarge { limit: l, .. } if l == limit),
            "{err}"
        );
        assert!(err.to_string().contains("max_chart_size"), "{err}");
        // Not announced (gzip transfer encoding: the length is the decoded stream's).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&archive).unwrap();
        let srv = server(gz.finish().unwrap(), &[("Content-Encoding", "gzip")]).await;
        let endpoint = format!("{}/charts", srv.base);
        let err = read(endpoint.clone(), limit).await.unwrap_err();
        assert!(matches!(err, Error::ChartTooLarge { .. }), "{err}");
        // Cut off while streaming into the cache: the temporary file is gone too.
        assert_eq!(cache_files(&cache), Vec::<String>::new());
        // At the limit: fine, streamed into the cache under its digest, nothing else left.
        read(endpoint, archive.len() as u64).await.unwrap();
        assert_eq!(
            cache
                .get(CHART_CACHE_KIND, &format!("sha256:{digest}"))
                .as_deref(),
            Some(archive.as_slice())
        );
        assert_eq!(cache_files(&cache), vec![format!("sha256-{digest}")]);
    }

    /// The file names in the registry's chart cache, sorted (temporary files included).
    fn cache_files(cache: &Cache) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(cache.root().join(CHART_CACHE_KIND))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[tokio::test]
    async fn verified_but_not_a_chart_is_an_error_and_nothing_is_cached() {
        let body = b"these bytes match the listed digest but are no chart".to_vec();
        let digest = sha256_hex(&body);
        let srv = server(body, &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "helm", "r").unwrap();
        let err = helm_chart_details(
            &ArchiveStore::default(),
            &repo(&endpoint, false),
            &settings(1 << 20),
            Some(&cache),
            &snapshot(&endpoint),
            &record("demo-1.0.0.tgz", &digest),
        )
        .await
        .unwrap_err();
        assert!(!matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert_eq!(cache_files(&cache), Vec::<String>::new());
    }

    #[tokio::test]
    async fn without_a_listed_digest_computed_and_not_cached() {
        let archive = chart("1.0.0");
        let srv = server(archive.clone(), &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "helm", "r").unwrap();
        for n in 1..=2 {
            let (_, info) = helm_chart_details(
                &ArchiveStore::default(),
                &repo(&endpoint, false),
                &settings(1 << 20),
                Some(&cache),
                &snapshot(&endpoint),
                &record("demo-1.0.0.tgz", ""),
            )
            .await
            .unwrap();
            assert_eq!(info.digest, sha256_hex(&archive));
            assert!(info.downloaded);
            assert_eq!(srv.seen().len(), n);
        }
        assert!(!cache.root().exists());
    }

    #[tokio::test]
    async fn missing_archive_and_missing_url_are_clean_errors() {
        let srv = server(Vec::new(), &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let err = helm_chart_details(
            &ArchiveStore::default(),
            &repo(&endpoint, false),
            &settings(1 << 20),
            None,
            &snapshot(&endpoint),
            &record("gone-1.0.0.tgz", &sha256_hex(b"x")),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        let mut rec = record("x", "");
        rec.urls.clear();
        let err = helm_chart_details(
            &ArchiveStore::default(),
            &repo(&endpoint, false),
            &settings(1 << 20),
            None,
            &snapshot(&endpoint),
            &rec,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("no download URL"), "{err}");
        // A served file that is no chart.
        let srv = server(b"<html>not a chart</html>".to_vec(), &[]).await;
        let endpoint = format!("{}/charts", srv.base);
        let err = helm_chart_details(
            &ArchiveStore::default(),
            &repo(&endpoint, false),
            &settings(1 << 20),
            None,
            &snapshot(&endpoint),
            &record("demo-1.0.0.tgz", ""),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidChart { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret"));
    }
}
