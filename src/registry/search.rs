//! Chart search with `helm search repo` semantics (Helm 3.17 `cmd/helm/search_repo.go` +
//! `cmd/helm/search/search.go`, unchanged in Helm 4.1 `pkg/cmd/search*`), over a catalog
//! snapshot instead of a local repository cache, so that `chartreg_helm_charts` lists the same
//! charts in the same order as `helm search repo` on the same repository.
//!
//! What Helm does, and this module with it:
//! - Every version of every chart is indexed as one line `name \v repo/name \v description \v
//!   keywords` (Helm indexes all versions because `--version` always has a value, see below).
//! - A query is a case-insensitive substring of that line (or with `regexp`, a Go-syntax regular
//!   expression, case-sensitive, on the line as is). A hit's score is the field the match starts
//!   in (0 name … 3 keywords); no query lists everything with score 0.
//! - Hits are sorted by score, then by `repo/name`, then newest version first.
//! - Then the version constraint: `--version` if given, else `>0.0.0`, or `>0.0.0-0` with
//!   `--devel` (so a chart with only pre-releases is hidden without `devel`, and so is a chart
//!   whose only version is `0.0.0`). Without `versions`, the first hit per chart that satisfies
//!   it is kept: the lowest-scoring one, which is not always the newest version.
//!
//! Where chartreg differs (documented on the data source):
//! - `include_deprecated = false` (the default) drops the hits whose version is deprecated
//!   (`deprecated: true` in Chart.yaml); Helm shows them. Without `versions` the hit is the
//!   version Helm shows, so a chart whose shown version is deprecated is left out, not replaced
//!   by an older version. `include_deprecated = true` is exactly Helm.
//! - `repo` stands for the name `helm repo add` gave the repository: it is part of the searched
//!   text (`helm search repo stable/` matches every chart of `stable`).
//! - The snapshot lists each version once (the first of a version listed twice); Helm's search
//!   shows the last, so its description or app version may differ on such an index.
//! - Among versions of equal precedence of one chart (`1.0.0+a`, `1.0.0+b`) Helm's order is
//!   random (Go map order into an unstable sort); chartreg keeps the snapshot's order.
//! - Regular expressions use the `regex` crate: RE2 syntax as Go's `regexp`, except that `\d`,
//!   `\w`, `\s` and `\b` also match non-ASCII letters, digits and spaces.
//! - OCI registries: `helm search repo` does not search them; the same rules apply to their
//!   snapshot (name: the chart name, `repo/name`: `repo/` + the repository path).

use std::collections::{HashMap, HashSet};

use regex::RegexBuilder;

use crate::registry::catalog::{sort_versions_desc, SemVer};
use crate::registry::resolve::{Constraint, ConstraintError};
use crate::registry::snapshot::{ChartRecords, Snapshot, VersionRecord};

/// `searchMaxScore`: a match starting past this many fields is irrelevant (there are 4).
const MAX_SCORE: usize = 25;

/// The field separator of an index line (`sep`).
const SEP: char = '\u{b}';

/// Compiled-size cap of a user regular expression (the regex crate's default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// The arguments of `helm search repo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchOptions {
    /// The search terms (`helm search repo a b` searches `"a b"`); `None` or empty lists all.
    pub query: Option<String>,
    /// `--regexp`.
    pub regexp: bool,
    /// `--devel`: include pre-releases (ignored when `version` is given, as in Helm).
    pub devel: bool,
    /// `--versions`: one hit per version instead of one per chart.
    pub versions: bool,
    /// Keep hits whose version is deprecated (Helm always does).
    pub include_deprecated: bool,
    /// `--version`: a constraint the hit's version must satisfy.
    pub version: Option<String>,
    /// The repository's local name in Helm (`helm repo add <repo> URL`), part of the searched
    /// text as `repo/name`. Empty: the field is `/name`.
    pub repo: String,
}

/// One line of `helm search repo` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The snapshot key: the chart name (Helm repository) or the repository path relative to
    /// the endpoint (OCI): what `chartreg_helm_chart.name` takes.
    pub key: String,
    /// The chart's own name.
    pub name: String,
    pub version: String,
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
    pub keywords: Vec<String>,
    /// The field the match started in (0 name, 1 repo/name, 2 description, 3 keywords).
    pub score: usize,
}

/// Why a search could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("invalid regular expression {pattern:?}: {reason}")]
    Regexp { pattern: String, reason: String },
    #[error("an invalid version/constraint format: {0}")]
    Version(ConstraintError),
}

/// Go's `strings.ToLower`: `unicode.ToLower` per character (one character to one character,
/// unlike `str::to_lowercase`, so match positions stay on the same field).
fn go_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            c => {
                let mut l = c.to_lowercase();
                match (l.next(), l.next()) {
                    (Some(one), None) => one,
                    _ => c,
                }
            }
        })
        .collect()
}

/// `calcScore`: how many separators lie before the match at byte `index`.
fn calc_score(index: usize, line: &str) -> usize {
    let mut i = 0;
    for (pos, ch) in line.char_indices() {
        if ch == SEP {
            if index <= pos {
                return i;
            }
            i += 1;
        }
    }
    i
}

/// `indstr`.
fn index_line(repo: &str, chart: &ChartRecords, r: &VersionRecord) -> String {
    let mut s = String::with_capacity(
        chart.name.len() * 2 + repo.len() + r.description.len() + 8 + 16 * r.keywords.len(),
    );
    s.push_str(&chart.name);
    s.push(SEP);
    s.push_str(repo);
    s.push('/');
    s.push_str(&chart.name);
    s.push(SEP);
    s.push_str(&r.description);
    s.push(SEP);
    s.push_str(&r.keywords.join(" "));
    s
}

struct Line<'a> {
    /// `repo/key`, Helm's result name.
    full: String,
    key: &'a str,
    chart: &'a ChartRecords,
    record: &'a VersionRecord,
    semver: SemVer,
    text: String,
}

/// `helm search repo` over one registry's snapshot.
pub fn search(snapshot: &Snapshot, opts: &SearchOptions) -> Result<Vec<SearchHit>, SearchError> {
    // setupSearchedVersion / applyConstraint's constraint (checked before searching, so that a
    // bad constraint is reported whatever the query finds).
    let version = match opts.version.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => v,
        None if opts.devel => ">0.0.0-0",
        None => ">0.0.0",
    };
    let constraint = Constraint::parse(version).map_err(SearchError::Version)?;

    // AddRepo(all = true): one line per chart version, keyed by `repo/name$$version`.
    let mut lines: Vec<Line> = Vec::new();
    for (key, chart) in &snapshot.charts {
        let full = if opts.repo.is_empty() {
            key.clone()
        } else {
            format!("{}/{key}", opts.repo)
        };
        let mut records: Vec<&VersionRecord> = chart.versions.iter().collect();
        sort_versions_desc(&mut records, |r| &r.version);
        // A version listed twice is one map key in Helm: the later entry replaces the earlier.
        let mut slot: HashMap<&str, usize> = HashMap::new();
        for r in records {
            // Helm's index loader drops entries whose version is not semver.
            let Some(semver) = SemVer::parse(&r.version) else {
                continue;
            };
            let line = Line {
                full: full.clone(),
                key,
                chart,
                record: r,
                semver,
                text: index_line(&opts.repo, chart, r),
            };
            match slot.get(r.version.as_str()) {
                Some(&i) => lines[i] = line,
                None => {
                    slot.insert(&r.version, lines.len());
                    lines.push(line);
                }
            }
        }
    }

    // Search / All.
    let query = opts.query.as_deref().filter(|q| !q.is_empty());
    let mut scored: Vec<(usize, Line)> = match query {
        None => lines.into_iter().map(|l| (0, l)).collect(),
        Some(q) if opts.regexp => {
            let re = RegexBuilder::new(q)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| SearchError::Regexp {
                    pattern: q.to_string(),
                    reason: e.to_string(),
                })?;
            lines
                .into_iter()
                .filter_map(|l| {
                    let start = re.find(&l.text)?.start();
                    let score = calc_score(start, &l.text);
                    (score < MAX_SCORE).then_some((score, l))
                })
                .collect()
        }
        Some(q) => {
            let term = go_lower(q);
            lines
                .into_iter()
                .filter_map(|l| {
                    let lower = go_lower(&l.text);
                    let start = lower.find(&term)?;
                    let score = calc_score(start, &lower);
                    (score < MAX_SCORE).then_some((score, l))
                })
                .collect()
        }
    };

    // SortScore: score, then name, then newest first (stable: equal versions keep their order).
    scored.sort_by(|(sa, a), (sb, b)| {
        sa.cmp(sb)
            .then_with(|| a.full.cmp(&b.full))
            .then_with(|| b.semver.cmp(&a.semver))
    });

    // applyConstraint, then chartreg's deprecation filter.
    let mut found: HashSet<String> = HashSet::new();
    let mut hits = Vec::new();
    for (score, l) in scored {
        if !opts.versions && found.contains(&l.full) {
            continue;
        }
        if !constraint.check(&l.semver) {
            continue;
        }
        found.insert(l.full);
        if l.record.deprecated && !opts.include_deprecated {
            continue;
        }
        hits.push(SearchHit {
            key: l.key.to_string(),
            name: l.chart.name.clone(),
            version: l.record.version.clone(),
            app_version: l.record.app_version.clone(),
            description: l.record.description.clone(),
            deprecated: l.record.deprecated,
            keywords: l.record.keywords.clone(),
            score,
        });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::snapshot::Kind;
    use std::collections::BTreeMap;

    fn rec(v: &str, desc: &str, kw: &[&str]) -> VersionRecord {
        VersionRecord {
            version: v.into(),
            app_version: format!("app-{v}"),
            description: desc.into(),
            keywords: kw.iter().map(|k| k.to_string()).collect(),
            ..Default::default()
        }
    }

    fn snap(charts: Vec<(&str, Vec<VersionRecord>)>) -> Snapshot {
        let charts: BTreeMap<String, ChartRecords> = charts
            .into_iter()
            .map(|(n, vs)| {
                (
                    n.to_string(),
                    ChartRecords {
                        name: n.into(),
                        repository: String::new(),
                        versions: vs,
                    },
                )
            })
            .collect();
        Snapshot {
            kind: Kind::Helm,
            index_url: String::new(),
            charts,
        }
    }

    fn fixture() -> Snapshot {
        let mut dep = rec("2.0.0", "Old web server", &["web"]);
        dep.deprecated = true;
        snap(vec![
            (
                "nginx",
                vec![
                    rec("2.0.0-rc.1", "NGINX web server", &["web", "http"]),
                    rec("1.1.0", "NGINX web server", &["web", "http"]),
                    rec("1.0.0", "NGINX", &["ingress"]),
                ],
            ),
            (
                "ingress-nginx",
                vec![rec("4.0.0", "Ingress controller using NGINX", &["ingress"])],
            ),
            ("alpha", vec![rec("0.1.0-alpha", "Only a pre-release", &[])]),
            ("zero", vec![rec("0.0.0", "Version zero", &[])]),
            ("apache", vec![dep, rec("1.0.0", "Web server", &["web"])]),
            ("İstanbul", vec![rec("1.0.0", "Ünicode ĶEYS", &["ÄÖÜ"])]),
        ])
    }

    fn run(q: Option<&str>, f: impl FnOnce(&mut SearchOptions)) -> Vec<String> {
        let mut o = SearchOptions {
            query: q.map(str::to_string),
            repo: "fx".into(),
            include_deprecated: true,
            ..Default::default()
        };
        f(&mut o);
        search(&fixture(), &o)
            .unwrap()
            .into_iter()
            .map(|h| format!("{}@{}/{}", h.key, h.version, h.score))
            .collect()
    }

    #[test]
    fn lists_all_newest_stable_by_name() {
        assert_eq!(
            run(None, |_| {}),
            [
                "apache@2.0.0/0",
                "ingress-nginx@4.0.0/0",
                "nginx@1.1.0/0",
                "İstanbul@1.0.0/0"
            ]
        );
        assert_eq!(run(Some(""), |_| {}), run(None, |_| {}));
    }

    #[test]
    fn devel_adds_prereleases_and_zero() {
        assert_eq!(
            run(None, |o| o.devel = true),
            [
                "alpha@0.1.0-alpha/0",
                "apache@2.0.0/0",
                "ingress-nginx@4.0.0/0",
                "nginx@2.0.0-rc.1/0",
                "zero@0.0.0/0",
                "İstanbul@1.0.0/0"
            ]
        );
    }

    #[test]
    fn versions_newest_first() {
        assert_eq!(
            run(Some("nginx"), |o| o.versions = true),
            ["ingress-nginx@4.0.0/0", "nginx@1.1.0/0", "nginx@1.0.0/0",]
        );
        assert_eq!(
            run(Some("nginx"), |o| {
                o.versions = true;
                o.devel = true
            }),
            [
                "ingress-nginx@4.0.0/0",
                "nginx@2.0.0-rc.1/0",
                "nginx@1.1.0/0",
                "nginx@1.0.0/0",
            ]
        );
    }

    #[test]
    fn score_is_the_field_and_orders_first() {
        // "ingress" is in ingress-nginx's name (0) and in nginx 1.0.0's keywords (3): the older
        // nginx version is the hit, as in Helm.
        assert_eq!(
            run(Some("INGRESS"), |_| {}),
            ["ingress-nginx@4.0.0/0", "nginx@1.0.0/3"]
        );
        assert_eq!(
            run(Some("web server"), |_| {}),
            ["apache@2.0.0/2", "nginx@1.1.0/2"]
        );
        assert_eq!(run(Some("http"), |_| {}), ["nginx@1.1.0/3"]);
        // The repo name is searched text (field 1).
        assert_eq!(run(Some("fx/ngi"), |_| {}), ["nginx@1.1.0/1"]);
        assert_eq!(run(Some("x/ingress-"), |_| {}), ["ingress-nginx@4.0.0/1"]);
        // Unicode lowercase, one character for one.
        assert_eq!(run(Some("istanbul"), |_| {}), ["İstanbul@1.0.0/0"]);
        assert_eq!(run(Some("ķeys"), |_| {}), ["İstanbul@1.0.0/2"]);
        assert_eq!(run(Some("äöü"), |_| {}), ["İstanbul@1.0.0/3"]);
        assert!(run(Some("nothing-matches"), |_| {}).is_empty());
    }

    #[test]
    fn regexp_is_case_sensitive_on_the_raw_line() {
        assert_eq!(run(Some("^ngi"), |o| o.regexp = true), ["nginx@1.1.0/0"]);
        assert_eq!(
            run(Some("NGINX"), |o| o.regexp = true),
            ["ingress-nginx@4.0.0/2", "nginx@1.1.0/2"]
        );
        assert_eq!(
            run(Some("(?i)HTTP$"), |o| o.regexp = true),
            ["nginx@1.1.0/3"]
        );
        assert_eq!(
            run(Some("web\u{b}"), |o| o.regexp = true),
            Vec::<String>::new()
        );
        let err = search(
            &fixture(),
            &SearchOptions {
                query: Some("(".into()),
                regexp: true,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, SearchError::Regexp { .. }), "{err}");
    }

    #[test]
    fn deprecated_hits_are_dropped_unless_asked() {
        assert_eq!(
            run(Some("apache"), |o| o.include_deprecated = false),
            Vec::<String>::new()
        );
        assert_eq!(
            run(Some("apache"), |o| {
                o.include_deprecated = false;
                o.versions = true
            }),
            ["apache@1.0.0/0"]
        );
        assert_eq!(run(Some("apache"), |_| {}), ["apache@2.0.0/0"]);
    }

    #[test]
    fn version_constraint() {
        assert_eq!(
            run(Some("nginx"), |o| o.version = Some("<1.1".into())),
            ["nginx@1.0.0/0"]
        );
        // --devel is ignored when --version is given.
        assert_eq!(
            run(Some("nginx"), |o| {
                o.version = Some("^1".into());
                o.devel = true
            }),
            ["nginx@1.1.0/0"]
        );
        assert!(matches!(
            search(
                &fixture(),
                &SearchOptions {
                    version: Some("bad".into()),
                    ..Default::default()
                }
            ),
            Err(SearchError::Version(_))
        ));
    }

    #[test]
    fn empty_repo_name_and_oci_keys() {
        let mut s = snap(vec![("charts/web", vec![rec("1.0.0", "d", &[])])]);
        s.charts.get_mut("charts/web").unwrap().name = "web".into();
        let hits = search(
            &s,
            &SearchOptions {
                query: Some("/web".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(
            (hits[0].key.as_str(), hits[0].name.as_str()),
            ("charts/web", "web")
        );
        assert_eq!(hits[0].score, 1);
    }

    #[test]
    fn score_counts_separators_before_the_match() {
        let line = "a\u{b}b\u{b}c\u{b}d";
        assert_eq!(calc_score(0, line), 0);
        assert_eq!(calc_score(1, line), 0); // on the separator itself
        assert_eq!(calc_score(2, line), 1);
        assert_eq!(calc_score(6, line), 3);
    }
}
