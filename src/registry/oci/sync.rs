//! The catalog algorithm: which repositories the base paths name (each tried as a repository and
//! as a prefix of repositories), which of their tags are Helm charts, and what of the previous
//! catalog can be reused without reading a manifest again.
//!
//! Apart from the transport (auth), the listings and the chart documents, because this is the
//! policy part: the rules of reuse and the errors that say which base path is empty and why are
//! what a user sees, and they stay the same whatever lists the repositories (`_catalog` or ECR's
//! `DescribeRepositories`, see [`RepositoryLister`](super::RepositoryLister)).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{stream, StreamExt, TryStreamExt};
use url::Url;

use super::chart::{semver_tags, Downloads, ManifestOutcome};
use super::endpoint::normalize_base_path;
use super::listing::{list_tags, RepositoryListing, TagsOutcome};
use super::{OciClient, CONCURRENCY};
use crate::error::{redact_url, Error, Result};
use crate::registry::catalog::{chart_records, is_stable, Catalog};
use crate::registry::snapshot::{ChartRecords, VersionRecord};

/// What [`OciClient::sync`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Charts keyed by repository path relative to the endpoint path
    /// ([`OciEndpoint::catalog_key`](super::OciEndpoint::catalog_key)).
    pub catalog: Catalog,
    /// Catalog key → repository path in the registry (for [`OciClient::chart_versions`] and
    /// [`OciClient::chart_manifest`]).
    pub repositories: BTreeMap<String, String>,
    /// Repositories whose tags were listed.
    pub repositories_listed: usize,
    /// Manifests downloaded.
    pub manifests_fetched: usize,
    /// Config blobs downloaded (not served by the memory or disk cache).
    pub blobs_fetched: usize,
    /// Charts taken unchanged from the previous catalog (same set of semver tags).
    pub reused: usize,
    /// Repositories found under a prefix in the catalog but not readable (`repo: reason`); they
    /// are left out of the catalog.
    pub skipped: Vec<String>,
}

#[derive(Default)]
struct Stats {
    listed: AtomicUsize,
    reused: AtomicUsize,
    downloads: Downloads,
}

/// A base to look under: as the user wrote it, and as a repository path in the registry.
struct Base {
    label: String,
    full: String,
}

/// The repositories the bases name.
#[derive(Default)]
struct Found {
    /// Every repository to read.
    repos: BTreeSet<String>,
    /// Per base (in order), the repositories found for it.
    per_base: Vec<BTreeSet<String>>,
    /// Repository → tags already listed (bases probed as repositories).
    known: HashMap<String, Vec<String>>,
}

enum RepoOutcome {
    Chart(ChartRecords),
    NoChart,
    Skipped(String),
}

/// sha256 (lower-case hex) over a canonical serialization of the catalog: the JSON of every
/// chart's records (the snapshot's `charts`) in key order. Equal catalogs give equal digests,
/// whatever built them; a change of anything the snapshot holds changes it.
pub fn catalog_digest(catalog: &Catalog) -> String {
    use sha2::Digest as _;
    let bytes = serde_json::to_vec(&catalog.charts).expect("strings and bools serialize");
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// What the catalog knows of one OCI chart version: the version (from the tag, `_` read as
/// `+`), the manifest digest, the chart layer's digest (the archive's sha256), `app_version`,
/// `description`, `keywords` and `deprecated` from the config blob (Chart.yaml as JSON), and
/// `created` from the manifest's `org.opencontainers.image.created` annotation (Helm writes it on
/// push; empty when absent). No download URL: the archive is the layer of the manifest.
fn record(version: &str, chart: &super::ChartManifest, cfg: super::ChartConfig) -> VersionRecord {
    let layer = chart
        .manifest
        .chart_layer()
        .map(|l| l.digest.as_str())
        .unwrap_or("");
    VersionRecord {
        version: version.to_string(),
        digest: layer.strip_prefix("sha256:").unwrap_or("").to_string(),
        urls: Vec::new(),
        manifest_digest: chart.digest.clone(),
        app_version: cfg.app_version,
        description: cfg.description,
        keywords: cfg.keywords,
        created: chart
            .manifest
            .annotations
            .get("org.opencontainers.image.created")
            .cloned()
            .unwrap_or_default(),
        deprecated: cfg.deprecated,
    }
}

impl OciClient {
    /// One tag: its manifest, and when it is a Helm chart its config. `None` for anything else.
    /// The record has what the manifest and config say (see [`record`]); the chart's name comes
    /// along.
    async fn chart_version(
        &self,
        repo: &str,
        tag: &str,
        version: &str,
        stats: &Stats,
    ) -> Result<Option<(VersionRecord, String)>> {
        let chart = match self.helm_manifest(repo, tag, &stats.downloads).await? {
            ManifestOutcome::Chart(c) => c,
            ManifestOutcome::NotAChart => return Ok(None),
            ManifestOutcome::Missing(_) => {
                tracing::debug!(repo, tag, "tag vanished while listing");
                return Ok(None);
            }
        };
        let cfg = self
            .config_blob(repo, &chart.manifest.config.digest, &stats.downloads)
            .await?;
        let name = cfg.name.clone();
        Ok(Some((record(version, &chart, cfg), name)))
    }

    /// One repository: reuse the previous records when its semver tags are unchanged, else read
    /// the manifest of every semver tag the previous records do not cover.
    async fn sync_repo(
        &self,
        repo: &str,
        known_tags: Option<Vec<String>>,
        previous: Option<&ChartRecords>,
        stats: &Stats,
    ) -> Result<RepoOutcome> {
        let tags = match known_tags {
            Some(t) => t,
            None => {
                stats.listed.fetch_add(1, Ordering::Relaxed);
                match list_tags(&self.session, repo).await?.0 {
                    TagsOutcome::Tags(t) => t,
                    TagsOutcome::NotFound => {
                        return Ok(RepoOutcome::Skipped(format!(
                            "{repo}: tags/list answered HTTP 404"
                        )))
                    }
                    TagsOutcome::Denied(s) => {
                        return Ok(RepoOutcome::Skipped(format!(
                            "{repo}: tags/list answered HTTP {s}"
                        )))
                    }
                }
            }
        };
        let versions = semver_tags(&tags);
        if versions.is_empty() {
            return Ok(RepoOutcome::NoChart);
        }
        // Versions known from the previous catalog are trusted to still be Helm charts (with the
        // records read then); only tags that are new since then (or every tag, when a version
        // disappeared) are read.
        let mut carried: Vec<VersionRecord> = Vec::new();
        let mut to_fetch: Vec<&(String, String)> = versions.iter().collect();
        if let Some(prev) = previous {
            let now: BTreeSet<&str> = versions.iter().map(|(_, v)| v.as_str()).collect();
            let before: BTreeSet<&str> = prev.versions.iter().map(|v| v.version.as_str()).collect();
            if !before.is_empty() && before.is_subset(&now) {
                to_fetch.retain(|(_, v)| !before.contains(v.as_str()));
                carried.clone_from(&prev.versions);
            }
        }
        // Futures are built in a plain iterator first: closures inside stream combinators
        // defeat the compiler's proof that this future is `Send` (needed by the provider).
        let fetches: Vec<_> = to_fetch
            .into_iter()
            .map(|(tag, version)| self.chart_version(repo, tag, version, stats))
            .collect();
        let found: Vec<Option<(VersionRecord, String)>> = stream::iter(fetches)
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let found: Vec<(VersionRecord, String)> = found.into_iter().flatten().collect();
        if found.is_empty() && !carried.is_empty() {
            stats.reused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                repo,
                "no new chart version: reusing the previous catalog entry"
            );
            let mut kept = previous.expect("carried comes from previous").clone();
            kept.repository = repo.to_string();
            return Ok(RepoOutcome::Chart(kept));
        }
        if found.is_empty() {
            return Ok(RepoOutcome::NoChart);
        }
        let mut names: HashMap<String, String> = found
            .iter()
            .map(|(r, n)| (r.version.clone(), n.clone()))
            .collect();
        let previous_name = previous.map(|p| p.name.clone()).unwrap_or_default();
        for r in &carried {
            names.insert(r.version.clone(), previous_name.clone());
        }
        let mut records: Vec<VersionRecord> = found.into_iter().map(|(r, _)| r).collect();
        records.extend(carried);
        let mut chart = chart_records("", repo, records);
        // Named as its latest version (else its newest) names itself, else by the repository.
        let shown = chart
            .versions
            .iter()
            .find(|v| is_stable(&v.version))
            .or_else(|| chart.versions.first())
            .map(|v| v.version.clone())
            .unwrap_or_default();
        chart.name = names
            .get(&shown)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| repo.rsplit('/').next().unwrap_or(repo).to_string());
        Ok(RepoOutcome::Chart(chart))
    }

    /// Build the chart catalog.
    ///
    /// `base_paths` are relative to the endpoint path; without any, the endpoint path itself is
    /// the base (the whole catalog when it is empty too). Each base is tried as a repository
    /// (`tags/list`) and as a prefix (`_catalog`, names equal to it or below `base/`). A base that
    /// yields no Helm chart is [`Error::EmptyBasePath`]; a prefix that cannot be listed because
    /// the registry refuses `_catalog` (and is not itself a repository) is
    /// [`Error::CatalogUnsupported`].
    ///
    /// `previous` is the catalog of the last sync of the *same* endpoint (pass `None` when the
    /// endpoint changed): the versions it lists are trusted to still be Helm charts, so a
    /// repository whose semver tags are those versions is reused without reading any manifest;
    /// when tags were only added, just the new tags' manifests are read (semver-tagged non-chart
    /// images are therefore re-read at each sync: the catalog cannot remember them); when a
    /// version disappeared, the repository is read in full. At most [`CONCURRENCY`] requests are
    /// in flight.
    pub async fn sync(
        &self,
        base_paths: &[String],
        previous: Option<&Catalog>,
    ) -> Result<SyncReport> {
        let report = self.sync_catalog(base_paths, previous).await;
        // What was downloaded is cached even when the sync failed later on.
        self.flush_blobs().await;
        report
    }

    async fn sync_catalog(
        &self,
        base_paths: &[String],
        previous: Option<&Catalog>,
    ) -> Result<SyncReport> {
        self.ping().await?;
        let bases = self.bases(base_paths)?;
        let stats = Stats::default();
        let mut found = self.find_repositories(&bases, &stats).await?;
        let prev_by_repo: HashMap<String, &ChartRecords> = previous
            .map(|p| {
                p.charts
                    .iter()
                    .map(|(k, c)| (self.repo_of_previous_key(k), c))
                    .collect()
            })
            .unwrap_or_default();
        let stats_ref = &stats;
        let jobs: Vec<_> = found
            .repos
            .iter()
            .map(|repo| {
                let tags = found.known.remove(repo);
                let prev = prev_by_repo.get(repo).copied();
                async move {
                    self.sync_repo(repo, tags, prev, stats_ref)
                        .await
                        .map(|o| (repo.clone(), o))
                }
            })
            .collect();
        let results: Vec<(String, RepoOutcome)> = stream::iter(jobs)
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;

        let mut report = SyncReport::default();
        let mut charts: BTreeMap<String, ChartRecords> = BTreeMap::new();
        for (repo, outcome) in results {
            match outcome {
                RepoOutcome::Chart(c) => {
                    charts.insert(repo, c);
                }
                RepoOutcome::NoChart => {}
                RepoOutcome::Skipped(reason) => {
                    tracing::debug!(reason = %reason, "repository skipped");
                    report.skipped.push(reason);
                }
            }
        }
        report.skipped.sort();
        self.check_bases_hold_charts(&bases, &found.per_base, &charts)?;
        for (k, r) in self.catalog_keys(charts.keys()) {
            let c = charts.remove(&r).expect("key of an existing chart");
            report.catalog.charts.insert(k.clone(), c);
            report.repositories.insert(k, r);
        }
        report.repositories_listed = stats.listed.load(Ordering::Relaxed);
        report.manifests_fetched = stats.downloads.manifests.load(Ordering::Relaxed);
        report.blobs_fetched = stats.downloads.blobs.load(Ordering::Relaxed);
        report.reused = stats.reused.load(Ordering::Relaxed);
        tracing::debug!(
            registry = %self.endpoint.display(),
            charts = report.catalog.chart_count(),
            listed = report.repositories_listed,
            manifests = report.manifests_fetched,
            blobs = report.blobs_fetched,
            reused = report.reused,
            "OCI registry synchronised"
        );
        Ok(report)
    }

    /// The bases to look under: the base paths normalised and made repository paths (duplicates
    /// dropped), or without any the endpoint path (none at all for a bare registry: the whole
    /// catalog).
    fn bases(&self, base_paths: &[String]) -> Result<Vec<Base>> {
        let mut bases: Vec<Base> = Vec::new();
        if base_paths.is_empty() {
            if !self.endpoint.path.is_empty() {
                bases.push(Base {
                    label: self.endpoint.path.clone(),
                    full: self.endpoint.path.clone(),
                });
            }
            return Ok(bases);
        }
        for b in base_paths {
            let norm = normalize_base_path(b).map_err(|reason| Error::EmptyBasePath {
                registry: self.endpoint.display(),
                path: b.clone(),
                hint: format!(": it is not a valid repository path ({reason})"),
            })?;
            let full = self.endpoint.repository_path(&norm);
            if !bases.iter().any(|x| x.full == full) {
                bases.push(Base {
                    label: b.clone(),
                    full,
                });
            }
        }
        Ok(bases)
    }

    /// The repositories of every base: asks the [`RepositoryLister`](super::RepositoryLister)
    /// once and probes each base as a repository (`tags/list`, whose tags are kept). A base that
    /// is no repository and matches nothing is [`Error::EmptyBasePath`]; one that cannot be
    /// listed is [`Error::CatalogUnsupported`]; a base the lister knows but whose tags are denied
    /// is [`Error::Unauthorized`].
    async fn find_repositories(&self, bases: &[Base], stats: &Stats) -> Result<Found> {
        let registry = self.endpoint.display();
        let whole_registry = bases.iter().any(|b| b.full.is_empty());
        let prefixes: Vec<String> = if bases.is_empty() {
            vec![String::new()]
        } else {
            bases.iter().map(|b| b.full.clone()).collect()
        };
        let catalog = self.lister.repositories(&self.session, &prefixes).await?;
        let mut found = Found::default();
        if bases.is_empty() || whole_registry {
            match &catalog {
                RepositoryListing::Listed(names) => found.repos.extend(names.iter().cloned()),
                RepositoryListing::Refused(d) => {
                    return Err(Error::CatalogUnsupported {
                        registry,
                        detail: d.clone(),
                    })
                }
            }
        }
        let probes: Vec<(usize, Result<(TagsOutcome, Url)>)> = stream::iter(
            bases
                .iter()
                .enumerate()
                .filter(|(_, b)| !b.full.is_empty())
                .map(|(i, b)| async move { (i, list_tags(&self.session, &b.full).await) })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
        let mut probes: HashMap<usize, (TagsOutcome, Url)> = probes
            .into_iter()
            .map(|(i, r)| r.map(|x| (i, x)))
            .collect::<Result<_>>()?;
        stats.listed.fetch_add(probes.len(), Ordering::Relaxed);
        for (i, Base { label, full }) in bases.iter().enumerate() {
            let mut here = BTreeSet::new();
            if full.is_empty() {
                here.extend(found.repos.iter().cloned());
                found.per_base.push(here);
                continue;
            }
            let (probe, tags_url) = probes.remove(&i).expect("every non-empty base was probed");
            let in_catalog = |names: &[String]| names.iter().any(|n| n == full);
            let probe_text = match probe {
                TagsOutcome::Tags(tags) => {
                    here.insert(full.clone());
                    found.known.insert(full.clone(), tags);
                    String::new()
                }
                TagsOutcome::NotFound => "tags/list answered HTTP 404".to_string(),
                TagsOutcome::Denied(status) => {
                    if let RepositoryListing::Listed(names) = &catalog {
                        if in_catalog(names) {
                            return Err(Error::Unauthorized {
                                url: redact_url(tags_url.as_str()),
                                status,
                            });
                        }
                    }
                    format!("tags/list answered HTTP {status}")
                }
            };
            match &catalog {
                RepositoryListing::Listed(names) => {
                    let below = format!("{full}/");
                    here.extend(
                        names
                            .iter()
                            .filter(|n| *n == full || n.starts_with(&below))
                            .cloned(),
                    );
                }
                RepositoryListing::Refused(d) if here.is_empty() => {
                    return Err(Error::CatalogUnsupported {
                        registry,
                        detail: format!(
                            "{d}; and {full:?} is not a repository readable with these credentials ({probe_text})"
                        ),
                    });
                }
                RepositoryListing::Refused(_) => {
                    tracing::debug!(repository = %full, "the catalog is refused: repositories below this one are not looked up");
                }
            }
            if here.is_empty() {
                return Err(Error::EmptyBasePath {
                    registry,
                    path: label.clone(),
                    hint: self.empty_hint(full, "no repository has this name or starts with it"),
                });
            }
            found.repos.extend(here.iter().cloned());
            found.per_base.push(here);
        }
        Ok(found)
    }

    /// Every base must hold at least one chart: [`Error::EmptyBasePath`] names the first that
    /// does not, with how many repositories were found there.
    fn check_bases_hold_charts(
        &self,
        bases: &[Base],
        per_base: &[BTreeSet<String>],
        charts: &BTreeMap<String, ChartRecords>,
    ) -> Result<()> {
        for (Base { label, full }, repos) in bases.iter().zip(per_base) {
            if repos.iter().any(|r| charts.contains_key(r)) {
                continue;
            }
            let what = format!(
                "{} repositor{} found there but none holds a Helm chart with a semver tag (plain images and non-semver tags are ignored)",
                repos.len(),
                if repos.len() == 1 { "y" } else { "ies" }
            );
            return Err(Error::EmptyBasePath {
                registry: self.endpoint.display(),
                path: if label.is_empty() {
                    full.clone()
                } else {
                    label.clone()
                },
                hint: self.empty_hint(full, &what),
            });
        }
        Ok(())
    }

    /// (catalog key, repository) of the repositories holding charts: keys relative to the
    /// endpoint; the endpoint's own repository falls back to its full path if its short key
    /// collides with a repository below it.
    fn catalog_keys<'a>(&self, repos: impl Iterator<Item = &'a String>) -> Vec<(String, String)> {
        let mut keyed: Vec<(String, String)> = repos
            .map(|r| (self.endpoint.catalog_key(r), r.clone()))
            .collect();
        let taken: HashSet<String> = keyed
            .iter()
            .filter(|(_, r)| *r != self.endpoint.path)
            .map(|(k, _)| k.clone())
            .collect();
        for (k, r) in keyed.iter_mut() {
            if *r == self.endpoint.path && taken.contains(k.as_str()) {
                k.clone_from(r);
            }
        }
        keyed
    }

    /// The repository a key of a previous catalog stands for (inverse of
    /// [`OciEndpoint::catalog_key`](super::OciEndpoint::catalog_key), the endpoint's own
    /// repository included).
    fn repo_of_previous_key(&self, key: &str) -> String {
        let e = &self.endpoint.path;
        if !e.is_empty() && (key == e.rsplit('/').next().unwrap_or(e) || key == e) {
            // Ambiguous with a repository `<path>/<key>`; a wrong guess only costs a refetch
            // because reuse also needs the same set of tags.
            return e.clone();
        }
        self.endpoint.repository_path(key)
    }

    fn empty_hint(&self, full: &str, what: &str) -> String {
        format!(
            ": looked up {full:?} as a repository (exact name) and as a prefix of repositories ({full}/…); {what}. Base paths are relative to the endpoint path{}",
            if self.endpoint.path.is_empty() {
                String::new()
            } else {
                format!(" {:?}", self.endpoint.path)
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::registry::oci::auth::Session;
    use crate::registry::oci::listing::RepositoryLister;
    use crate::registry::oci::{lock, HELM_CONFIG_MEDIA_TYPE};
    #[test]
    fn digest_of_catalog_is_canonical() {
        let mut a = Catalog::default();
        let s = chart_records(
            "c",
            "c",
            vec![VersionRecord {
                version: "1.0.0".into(),
                ..Default::default()
            }],
        );
        a.charts.insert("x".into(), s.clone());
        a.charts.insert("y".into(), s.clone());
        let mut b = Catalog::default();
        b.charts.insert("y".into(), s.clone());
        b.charts.insert("x".into(), s.clone());
        assert_eq!(catalog_digest(&a), catalog_digest(&b));
        assert_eq!(catalog_digest(&a).len(), 64);
        // Anything the snapshot holds counts, not only what the summaries show.
        for change in [
            |r: &mut VersionRecord| r.deprecated = true,
            |r: &mut VersionRecord| r.digest = "ab".into(),
            |r: &mut VersionRecord| r.manifest_digest = "sha256:ab".into(),
            |r: &mut VersionRecord| r.keywords = vec!["k".into()],
            |r: &mut VersionRecord| r.created = "2024-01-01T00:00:00Z".into(),
        ] {
            let mut b = a.clone();
            change(&mut b.charts.get_mut("x").unwrap().versions[0]);
            assert_ne!(catalog_digest(&a), catalog_digest(&b));
        }
        assert_ne!(catalog_digest(&Catalog::default()), catalog_digest(&a));
    }

    // The client against real registries (CNCF distribution: plain, htpasswd + TLS, bearer
    // tokens) is tested through Terraform in acceptance/oci_registry.rs, where they run.

    fn client(endpoint: &str, creds: Option<(&str, &str)>) -> OciClient {
        let reg = crate::registry::oci::OciRegistry {
            endpoint: crate::registry::oci::parse_endpoint(endpoint).unwrap(),
            credentials: creds.map(|(u, p)| crate::registry::http::Credentials {
                username: u.into(),
                password: p.into(),
            }),
            tls: Default::default(),
        };
        OciClient::new(&reg, &Default::default(), None).unwrap()
    }

    // ---- Hermetic: a tiny fake registry (Basic auth, tags paginated in short pages, `_catalog`
    // refused, blobs redirected to a storage host on another origin).

    type Seen = Arc<Mutex<Vec<crate::registry::testserver::Request>>>;

    /// A fake registry on the shared test server: `route(target, authorized)` answers.
    async fn fake_server(
        route: impl Fn(&str, bool) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync + 'static,
    ) -> (String, Seen) {
        use crate::registry::testserver::{response, serve, Request};
        let srv = serve(Arc::new(move |r: &Request| {
            let (status, headers, body) = route(&r.target, r.has_auth());
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            response(&format!("{status} X"), &headers, &body)
        }))
        .await;
        (srv.addr, srv.requests)
    }

    #[tokio::test]
    async fn fake_registry_pagination_auth_and_redirects() {
        let config = |v: &str| {
            format!(r#"{{"name":"fake","version":"{v}","appVersion":"a{v}"}}"#).into_bytes()
        };
        let digest = |b: &[u8]| {
            format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
            )
        };
        let (storage, storage_seen) = fake_server(move |target, _| {
            let v = target.trim_start_matches("/blob/");
            (200, vec![], config(v))
        })
        .await;
        let (registry, registry_seen) = fake_server(move |target, auth| {
            let json = || vec![("Content-Type".to_string(), "application/json".to_string())];
            if !auth {
                return (401, vec![("WWW-Authenticate".into(), r#"Basic realm="fake, registry""#.into())], vec![]);
            }
            let link = |q: &str| ("Link".to_string(), format!(r#"</v2/r/tags/list?{q}>; rel="next""#));
            match target {
                "/v2/" => (200, vec![], b"{}".to_vec()),
                "/v2/_catalog?n=100" => (404, json(), br#"{"errors":[{"code":"UNSUPPORTED","message":"m"}]}"#.to_vec()),
                "/v2/r/tags/list?n=100" => (200, vec![link("last=1.0.1&n=100")], br#"{"name":"r","tags":["1.0.0","1.0.1"]}"#.to_vec()),
                "/v2/r/tags/list?last=1.0.1&n=100" => (200, vec![link("last=2.0.0&n=100")], br#"{"name":"r","tags":["2.0.0"]}"#.to_vec()),
                "/v2/r/tags/list?last=2.0.0&n=100" => (200, vec![], br#"{"name":"r","tags":["3.0.0-rc.1","latest"]}"#.to_vec()),
                t if t.starts_with("/v2/r/manifests/") => {
                    let v = t.trim_start_matches("/v2/r/manifests/");
                    let m = format!(
                        r#"{{"schemaVersion":2,"config":{{"mediaType":"{HELM_CONFIG_MEDIA_TYPE}","digest":"{}","size":1}},"layers":[]}}"#,
                        digest(&config(v))
                    );
                    (200, vec![], m.into_bytes())
                }
                t if t.starts_with("/v2/r/blobs/") => {
                    // which version is this digest? (the storage host serves by version)
                    let d = t.trim_start_matches("/v2/r/blobs/");
                    let v = ["1.0.0", "1.0.1", "2.0.0", "3.0.0-rc.1"].into_iter().find(|v| digest(&config(v)) == d).unwrap();
                    (307, vec![("Location".into(), format!("http://{storage}/blob/{v}"))], vec![])
                }
                _ => (404, vec![], br#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#.to_vec()),
            }
        })
        .await;
        let c = client(&format!("http://{registry}"), Some(("u", "p")));
        let r = c.sync(&["r".into()], None).await.unwrap();
        let chart = &r.catalog.charts["r"];
        let versions: Vec<_> = chart.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(versions, ["3.0.0-rc.1", "2.0.0", "1.0.1", "1.0.0"]);
        assert_eq!(chart.repository, "r");
        let summary = crate::registry::catalog::ChartSummary::of(chart);
        assert_eq!(
            (
                summary.latest_version.as_deref(),
                summary.app_version.as_str(),
                summary.name.as_str()
            ),
            (Some("2.0.0"), "a2.0.0", "fake")
        );
        assert!(chart.versions[1].manifest_digest.starts_with("sha256:"));
        assert_eq!(chart.versions[1].app_version, "a2.0.0");
        assert_eq!((r.manifests_fetched, r.blobs_fetched), (4, 4));
        // credentials never reach the storage host
        let st = lock(&storage_seen).clone();
        assert_eq!(st.len(), 4);
        assert!(st.iter().all(|r| !r.has_auth()), "{st:?}");
        // after the first challenge, Basic is sent up front
        let rs = lock(&registry_seen).clone();
        assert_eq!(rs.iter().filter(|r| !r.has_auth()).count(), 1, "{rs:?}");
        // a base that is neither a repository nor listable
        match c.sync(&["nope".into()], None).await {
            Err(e @ Error::CatalogUnsupported { .. }) => {
                let t = e.to_string();
                assert!(
                    t.contains("HTTP 404 (UNSUPPORTED)") && t.contains("\"nope\""),
                    "{t}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            c.chart_versions("r").await.unwrap(),
            ["3.0.0-rc.1", "2.0.0", "1.0.1", "1.0.0"]
        );

        // Another lister replaces `_catalog` (which this registry refuses): the whole registry
        // is listed through it, with the same credentials and reuse rules.
        #[derive(Debug)]
        struct Fixed(std::sync::Mutex<Vec<Vec<String>>>);
        #[async_trait::async_trait]
        impl RepositoryLister for Fixed {
            async fn repositories(
                &self,
                _session: &Session,
                prefixes: &[String],
            ) -> Result<RepositoryListing> {
                lock(&self.0).push(prefixes.to_vec());
                Ok(RepositoryListing::Listed(vec!["r".into(), "gone".into()]))
            }
        }
        let fixed = Arc::new(Fixed(Default::default()));
        let reg = crate::registry::oci::OciRegistry {
            endpoint: crate::registry::oci::parse_endpoint(&format!("http://{registry}")).unwrap(),
            credentials: None,
            tls: Default::default(),
        };
        let creds =
            crate::registry::oci::StaticCredentials(Some(crate::registry::http::Credentials {
                username: "u".into(),
                password: "p".into(),
            }));
        let c = OciClient::with_sources(
            &reg,
            &Default::default(),
            None,
            Arc::new(creds),
            fixed.clone(),
        )
        .unwrap();
        let before = lock(&registry_seen).len();
        let r2 = c.sync(&[], Some(&r.catalog)).await.unwrap();
        assert_eq!(r2.catalog, r.catalog);
        assert_eq!((r2.reused, r2.manifests_fetched), (1, 0));
        assert_eq!(r2.skipped, ["gone: tags/list answered HTTP 404"]);
        assert_eq!(
            *lock(&fixed.0),
            [[String::new()]],
            "asked once, for the whole registry"
        );
        let seen = lock(&registry_seen)[before..].to_vec();
        assert!(
            seen.iter().all(|q| !q.target.contains("_catalog")),
            "{seen:?}"
        );
    }
}
