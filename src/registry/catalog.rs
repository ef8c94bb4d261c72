//! The chart catalog: what a registry holds, summarised per chart, with versions ordered the way
//! Helm orders them (Masterminds/semver, newest first, unparsable versions last, build metadata
//! ignored in comparisons).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::registry::snapshot::{ChartRecords, Kind, Snapshot, VersionRecord};

/// A version as Masterminds/semver's lenient `NewVersion` reads it (`v` prefix, missing minor or
/// patch allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<String>,
    pub build: String,
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl SemVer {
    pub fn parse(input: &str) -> Option<SemVer> {
        let s = input.strip_prefix('v').unwrap_or(input);
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) => {
                if !b.split('.').all(is_ident) {
                    return None;
                }
                (r, b.to_string())
            }
            None => (s, String::new()),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => {
                let parts: Vec<String> = p.split('.').map(str::to_string).collect();
                if !parts.iter().all(|x| is_ident(x)) {
                    return None;
                }
                // Masterminds rejects numeric prerelease identifiers with a leading zero.
                if parts.iter().any(|x| {
                    x.len() > 1 && x.starts_with('0') && x.bytes().all(|b| b.is_ascii_digit())
                }) {
                    return None;
                }
                (c, parts)
            }
            None => (rest, Vec::new()),
        };
        let mut nums = core.split('.');
        let mut next = |required: bool| -> Option<Option<u64>> {
            match nums.next() {
                None if required => None,
                None => Some(None),
                Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                    n.parse().ok().map(Some)
                }
                Some(_) => None,
            }
        };
        let major = next(true)??;
        let minor = next(false)?.unwrap_or(0);
        let patch = next(false)?.unwrap_or(0);
        if nums.next().is_some() {
            return None;
        }
        Some(SemVer {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

fn cmp_pre_part(a: &str, b: &str) -> Ordering {
    let an = a.bytes().all(|c| c.is_ascii_digit());
    let bn = b.bytes().all(|c| c.is_ascii_digit());
    match (an, bn) {
        (true, true) => a
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .cmp(&b.parse::<u64>().unwrap_or(u64::MAX)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SemVer {
    /// Precedence as semver 2.0 (build metadata ignored), so `cmp` may say `Equal` for distinct
    /// versions.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(other.pre.iter()) {
                        let o = cmp_pre_part(a, b);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

/// Newest first as Helm sorts (`sort.Reverse(ChartVersions)`): semver descending, unparsable
/// versions last. The sort is stable, so equal versions keep their input order.
pub fn sort_versions_desc<T>(items: &mut [T], version_of: impl Fn(&T) -> &str) {
    items.sort_by_cached_key(|it| std::cmp::Reverse(SortKey(SemVer::parse(version_of(it)))));
}

#[derive(PartialEq, Eq)]
struct SortKey(Option<SemVer>);
impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        }
    }
}

/// Sort `versions` newest first as Helm does and list each version string once: of a version
/// listed more than once (a re-published chart) the first entry in input order is kept (the
/// sort is stable), which for a Helm index is the entry `helm pull --version` downloads.
/// (`helm search repo --versions` keeps one of them too, but may show the metadata of another.)
pub fn chart_records(
    name: &str,
    repository: &str,
    mut versions: Vec<VersionRecord>,
) -> ChartRecords {
    sort_versions_desc(&mut versions, |v| &v.version);
    let mut seen = std::collections::HashSet::with_capacity(versions.len());
    versions.retain(|v| seen.insert(v.version.clone()));
    ChartRecords {
        name: name.to_string(),
        repository: repository.to_string(),
        versions,
    }
}

/// Whether `version` is a stable release: a semantic version without pre-release part.
pub fn is_stable(version: &str) -> bool {
    SemVer::parse(version).is_some_and(|s| !s.is_prerelease())
}

/// One chart as `charts` in state shows it: its latest stable version and what describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartSummary {
    /// The chart's own name (for OCI, from its config blob).
    pub name: String,
    /// The newest version that is not a pre-release (the one `helm pull` and `helm install`
    /// without `--version` take, and `helm search repo` shows); `None` when every version is a
    /// pre-release (Helm hides such a chart without `--devel`).
    pub latest_version: Option<String>,
    /// `app_version`, `description` and `deprecated` of `latest_version`, or of the newest
    /// version when there is no stable one.
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
    /// Number of distinct versions.
    pub version_count: usize,
}

impl ChartSummary {
    /// Summarise one chart whose versions are sorted and unique ([`chart_records`]).
    pub fn of(c: &ChartRecords) -> ChartSummary {
        let latest = c.versions.iter().find(|v| is_stable(&v.version));
        let shown = latest.or_else(|| c.versions.first());
        ChartSummary {
            name: c.name.clone(),
            latest_version: latest.map(|v| v.version.clone()),
            app_version: shown.map(|v| v.app_version.clone()).unwrap_or_default(),
            description: shown.map(|v| v.description.clone()).unwrap_or_default(),
            deprecated: shown.is_some_and(|v| v.deprecated),
            version_count: c.versions.len(),
        }
    }
}

/// All charts of a registry with every version ([`chart_records`] order), keyed by chart name
/// (Helm repositories) or repository path relative to the endpoint path (OCI). State keeps the
/// [`ChartSummary`] of each and the whole as one [`Snapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub charts: BTreeMap<String, ChartRecords>,
}

impl Catalog {
    pub fn chart_count(&self) -> usize {
        self.charts.len()
    }

    /// Distinct versions over all charts.
    pub fn version_count(&self) -> usize {
        self.charts.values().map(|c| c.versions.len()).sum()
    }

    /// The summaries `charts` in state holds.
    pub fn summaries(&self) -> BTreeMap<String, ChartSummary> {
        self.charts
            .iter()
            .map(|(k, c)| (k.clone(), ChartSummary::of(c)))
            .collect()
    }

    /// The snapshot of this catalog (`index_url`: Helm, without userinfo; empty for OCI).
    pub fn to_snapshot(&self, kind: Kind, index_url: &str) -> Snapshot {
        Snapshot {
            kind,
            index_url: index_url.to_string(),
            charts: self.charts.clone(),
        }
    }

    pub fn from_snapshot(s: Snapshot) -> Catalog {
        Catalog { charts: s.charts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_masterminds() {
        let v = SemVer::parse("v1.2").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 2, 0));
        assert!(SemVer::parse("1.2.3-rc.1+build.5").unwrap().is_prerelease());
        assert!(SemVer::parse("1.2.3.4").is_none());
        assert!(SemVer::parse("latest").is_none());
        assert!(SemVer::parse("1.0.0-01").is_none());
        assert!(SemVer::parse("").is_none());
    }

    #[test]
    fn orders_newest_first_non_semver_last() {
        let mut v = vec![
            "1.0.0",
            "latest",
            "1.10.0",
            "1.2.0",
            "1.10.0-rc.1",
            "2.0.0-alpha",
            "1.10.0-rc.2",
        ];
        sort_versions_desc(&mut v, |s| s);
        assert_eq!(
            v,
            [
                "2.0.0-alpha",
                "1.10.0",
                "1.10.0-rc.2",
                "1.10.0-rc.1",
                "1.2.0",
                "1.0.0",
                "latest"
            ]
        );
    }

    fn rec(v: &str) -> VersionRecord {
        VersionRecord {
            version: v.into(),
            app_version: format!("app-{v}"),
            ..Default::default()
        }
    }

    #[test]
    fn latest_skips_prereleases() {
        let c = chart_records("c", "", vec![rec("1.0.0"), rec("2.0.0-rc.1")]);
        let s = ChartSummary::of(&c);
        assert_eq!(s.latest_version.as_deref(), Some("1.0.0"));
        assert_eq!(s.app_version, "app-1.0.0");
        assert_eq!(s.version_count, 2);
        let v: Vec<_> = c.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(v, ["2.0.0-rc.1", "1.0.0"]);
        // Only pre-releases: no latest version; the newest describes the chart.
        let c = chart_records("c", "", vec![rec("2.0.0-rc.1"), rec("2.0.0-rc.2")]);
        let s = ChartSummary::of(&c);
        assert_eq!(s.latest_version, None);
        assert_eq!(s.app_version, "app-2.0.0-rc.2");
        assert_eq!(
            ChartSummary::of(&ChartRecords::default()),
            ChartSummary::default()
        );
    }

    #[test]
    fn a_version_listed_twice_is_kept_once_first_wins() {
        let mut second = rec("1.0.0");
        second.digest = "b".into();
        let mut first = rec("1.0.0");
        first.digest = "a".into();
        let c = chart_records("c", "", vec![rec("0.9.0"), first, rec("1.0.0+x"), second]);
        let v: Vec<_> = c
            .versions
            .iter()
            .map(|v| (v.version.as_str(), v.digest.as_str()))
            .collect();
        assert_eq!(v, [("1.0.0", "a"), ("1.0.0+x", ""), ("0.9.0", "")]);
        assert_eq!(ChartSummary::of(&c).version_count, 3);
    }
}
