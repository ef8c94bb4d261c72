//! The chart catalog: what a registry holds, summarised per chart, with versions ordered the way
//! Helm orders them (Masterminds/semver, newest first, unparsable versions last, build metadata
//! ignored in comparisons).

use std::cmp::Ordering;
use std::collections::BTreeMap;

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

/// What the catalog keeps of one chart version (enough to summarise a chart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionMeta {
    pub version: String,
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
}

/// One chart of a registry, as kept in Terraform state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartSummary {
    /// The chart's own name (for OCI, from its config blob).
    pub name: String,
    /// Newest version that is not a pre-release (newest of all when every version is one), as
    /// `helm search repo` picks it.
    pub latest_version: String,
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
    /// All versions, newest first.
    pub versions: Vec<String>,
}

impl ChartSummary {
    /// Summarise the versions of one chart. `versions` may be in any order.
    pub fn from_versions(name: &str, mut versions: Vec<VersionMeta>) -> ChartSummary {
        sort_versions_desc(&mut versions, |v| &v.version);
        let latest = versions
            .iter()
            .find(|v| SemVer::parse(&v.version).is_some_and(|s| !s.is_prerelease()))
            .or_else(|| versions.first())
            .cloned()
            .unwrap_or_default();
        ChartSummary {
            name: name.to_string(),
            latest_version: latest.version,
            app_version: latest.app_version,
            description: latest.description,
            deprecated: latest.deprecated,
            versions: versions.into_iter().map(|v| v.version).collect(),
        }
    }
}

/// All charts of a registry, keyed by chart name (Helm repositories) or repository path (OCI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub charts: BTreeMap<String, ChartSummary>,
}

impl Catalog {
    pub fn chart_count(&self) -> usize {
        self.charts.len()
    }
    pub fn version_count(&self) -> usize {
        self.charts.values().map(|c| c.versions.len()).sum()
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

    #[test]
    fn latest_skips_prereleases() {
        let mk = |v: &str| VersionMeta {
            version: v.into(),
            app_version: format!("app-{v}"),
            ..Default::default()
        };
        let s = ChartSummary::from_versions("c", vec![mk("1.0.0"), mk("2.0.0-rc.1")]);
        assert_eq!(s.latest_version, "1.0.0");
        assert_eq!(s.app_version, "app-1.0.0");
        assert_eq!(s.versions, ["2.0.0-rc.1", "1.0.0"]);
        let s = ChartSummary::from_versions("c", vec![mk("2.0.0-rc.1")]);
        assert_eq!(s.latest_version, "2.0.0-rc.1");
    }
}
