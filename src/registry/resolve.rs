//! Chart version resolution exactly as Helm does it, so that a data source given `version =
//! "~> 15.0"` picks the version `helm pull --version "~> 15.0"` downloads from the same
//! registry.
//!
//! - [`Constraint`]: Masterminds/semver v3 constraints (`NewConstraint` / `Check`) as Helm links
//!   them: the same regular expressions (compiled with the `regex` crate, whose leftmost-first
//!   submatch semantics are Go's), the same hyphen-range rewrite, `||` and `,`/space groups, `x`
//!   `X` `*` wildcards and the per-operator rules of `constraints.go`. Pre-releases follow
//!   [`Dialect`]: Helm 4.1 links semver v3.4.0 (a pre-release version is considered by an AND
//!   group when any comparator of that group has a pre-release, of any major.minor.patch);
//!   Helm 3.17 links v3.3.0 (only by the comparators that have one themselves, and always by a
//!   non-wildcard `!=`). chartreg resolves as Helm 4 does ([`Dialect::default`]).
//! - [`resolve_helm`]: `repo.IndexFile.Get` (what `helm pull --repo`/`helm pull repo/chart`
//!   use): an invalid constraint is an error *before* the exact-string match is tried (so a
//!   version string that is no constraint, e.g. `1.0.0_1`, fails even when the index lists it),
//!   then the exact string, then the newest version satisfying the constraint; no version means
//!   `*` (the newest stable version).
//! - [`resolve_oci`]: `registry.Client.ValidateReference` + `Tags` +
//!   `GetTagMatchingVersionOrConstraint`: a version that parses as a (lenient) semver is used as
//!   the tag itself (`+` written `_`); anything else is matched against the tags that are strict
//!   semver, exact string first, then the constraint.
//! - When nothing matches, [`NotFound`] carries the closest available versions; [`closest_names`]
//!   does the same for chart names.
//!
//! Known limit: among versions of equal precedence (`1.0.0+a` and `1.0.0+b`), Helm's choice
//! depends on Go's unstable sort of the whole list (`sort.Sort`, pdqsort past 12 entries); chartreg
//! takes the first in the snapshot's order, which is the registry's order (what Helm's insertion
//! sort keeps for charts of up to 12 versions). An exact version string is never ambiguous.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::registry::catalog::{sort_versions_desc, SemVer};
use crate::registry::snapshot::VersionRecord;

/// Which Masterminds/semver release's pre-release rule applies (the only behaviour the two
/// releases Helm links differ in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// semver v3.3.0, linked by Helm 3.17: a comparator considers a pre-release version only if
    /// its own version has a pre-release; a plain `!= 1.2.3` considers every pre-release.
    Helm3,
    /// semver v3.4.0, linked by Helm 4.1: an AND group considers pre-release versions when any
    /// of its comparators has a pre-release.
    #[default]
    Helm4,
}

/// Why a string is not a constraint: Masterminds' own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ConstraintError {
    /// The constraint as given.
    pub constraint: String,
    /// The parser's reason (`improper constraint: >= bar`, `constraint parser error`).
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

impl Op {
    fn from_str(s: &str) -> Op {
        match s {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            _ => unreachable!("the operator regex only matches these"),
        }
    }
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    con: SemVer,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

#[derive(Debug, Clone)]
struct Group {
    comparators: Vec<Comparator>,
    has_pre: bool,
}

/// A parsed version constraint.
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<Group>,
    dialect: Dialect,
}

// Go's `\s` is ASCII `[\t\n\f\r ]`; the regex crate's is Unicode.
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
const S: &str = r"[\t\n\f\r ]";

fn re(p: String) -> Regex {
    Regex::new(&p).expect("Masterminds' patterns compile")
}

static CONSTRAINT_RE: LazyLock<Regex> =
    LazyLock::new(|| re(format!(r"^{S}*({OPS}){S}*({CV}){S}*$")));
static RANGE_RE: LazyLock<Regex> = LazyLock::new(|| re(format!(r"{S}*({CV}){S}+-{S}+({CV}){S}*")));
static FIND_RE: LazyLock<Regex> = LazyLock::new(|| re(format!(r"({OPS}){S}*({CV})")));
static VALID_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(format!(
        r"^({S}*({OPS}){S}*({CV}){S}*)((?:{S}+|,{S}*)({OPS}){S}*({CV}){S}*)*$"
    ))
});

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// `rewriteRange`: `1 - 2` becomes `>= 1, <= 2 `.
fn rewrite_range(i: &str) -> String {
    let mut o = i.to_string();
    for m in RANGE_RE.captures_iter(i) {
        let whole = m.get(0).map_or("", |g| g.as_str());
        let t = format!(
            ">= {}, <= {} ",
            m.get(1).map_or("", |g| g.as_str()),
            m.get(11).map_or("", |g| g.as_str())
        );
        o = o.replacen(whole, &t, 1);
    }
    o
}

fn parse_comparator(c: &str, dialect: Dialect) -> Result<Comparator, String> {
    let m = CONSTRAINT_RE
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {c}"))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let (major, minor, patch, pre) = (g(3), g(4), g(5), g(6));
    let mut minor_dirty = false;
    let mut patch_dirty = false;
    let mut dirty = false;
    let ver = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(minor.trim_start_matches_once('.')) || minor.is_empty() {
        minor_dirty = true;
        dirty = true;
        format!("{major}.0.0{pre}")
    } else if is_x(patch.trim_start_matches_once('.')) || patch.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        g(2).to_string()
    };
    let con = SemVer::parse(&ver).ok_or_else(|| match dialect {
        Dialect::Helm3 => "constraint Parser Error".to_string(),
        Dialect::Helm4 => "constraint parser error".to_string(),
    })?;
    Ok(Comparator {
        op: Op::from_str(g(1)),
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

trait TrimOnce {
    fn trim_start_matches_once(&self, c: char) -> &str;
}
impl TrimOnce for str {
    /// Go's `strings.TrimPrefix` with a one-character prefix.
    fn trim_start_matches_once(&self, c: char) -> &str {
        self.strip_prefix(c).unwrap_or(self)
    }
}

impl Constraint {
    /// `semver.NewConstraint` as Helm 4 links it.
    pub fn parse(c: &str) -> Result<Constraint, ConstraintError> {
        Constraint::parse_as(c, Dialect::default())
    }

    /// `semver.NewConstraint` of the given semver release.
    pub fn parse_as(c: &str, dialect: Dialect) -> Result<Constraint, ConstraintError> {
        let err = |reason: String| ConstraintError {
            constraint: c.to_string(),
            reason,
        };
        let rewritten = rewrite_range(c);
        let mut groups = Vec::new();
        for v in rewritten.split("||") {
            if !VALID_RE.is_match(v) {
                return Err(err(format!("improper constraint: {v}")));
            }
            let found: Vec<&str> = FIND_RE.find_iter(v).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![v] } else { found };
            let mut comparators = Vec::with_capacity(found.len());
            let mut has_pre = false;
            for s in found {
                let pc = parse_comparator(s, dialect).map_err(err)?;
                has_pre |= pc.con.is_prerelease();
                comparators.push(pc);
            }
            groups.push(Group {
                comparators,
                has_pre,
            });
        }
        Ok(Constraint { groups, dialect })
    }

    /// The constraint Helm uses when no version is given (`*`: every stable version).
    pub fn any() -> Constraint {
        Constraint::parse("*").expect("* is a constraint")
    }

    /// `Constraints.Check`: does `v` satisfy one of the `||` groups?
    pub fn check(&self, v: &SemVer) -> bool {
        self.groups.iter().any(|g| {
            g.comparators
                .iter()
                .all(|c| c.check(v, self.dialect, g.has_pre))
        })
    }

    /// The version of the first comparator (what "closest" is measured from).
    fn anchor(&self) -> Option<&SemVer> {
        self.groups
            .first()
            .and_then(|g| g.comparators.first())
            .map(|c| &c.con)
    }
}

/// `comparePrerelease` on the pre-release strings, part by part, a missing part being `""`.
fn compare_prerelease(a: &[String], b: &[String]) -> Ordering {
    let empty = [String::new()];
    let a: &[String] = if a.is_empty() { &empty } else { a };
    let b: &[String] = if b.is_empty() { &empty } else { b };
    for i in 0..a.len().max(b.len()) {
        let s = a.get(i).map_or("", String::as_str);
        let o = b.get(i).map_or("", String::as_str);
        let d = compare_pre_part(s, o);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    let num = |x: &str| -> Option<u64> {
        if x.bytes().all(|b| b.is_ascii_digit()) {
            x.parse().ok()
        } else {
            None
        }
    };
    match (num(s), num(o)) {
        (None, None) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(a), Some(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

impl Comparator {
    fn check(&self, v: &SemVer, dialect: Dialect, group_has_pre: bool) -> bool {
        let include_pre = match dialect {
            Dialect::Helm4 => group_has_pre,
            Dialect::Helm3 => self.con.is_prerelease(),
        };
        // "If there is a pre-release on the version but the constraint isn't looking for them
        // assume that pre-releases are not compatible" (semver issue 21); Helm 3's semver skips
        // this for a `!=` without wildcard.
        let gated = v.is_prerelease() && !include_pre;
        let c = &self.con;
        match self.op {
            Op::NotEqual => {
                if gated && (dialect == Dialect::Helm4 || self.dirty) {
                    return false;
                }
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if v.is_prerelease() || c.is_prerelease() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.cmp(c) != Ordering::Equal
            }
            _ if gated => false,
            Op::Greater => {
                if !self.dirty {
                    return v > c;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v > c
                }
            }
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual => {
                if !self.dirty {
                    return v <= c;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.cmp(c) == Ordering::Equal
                }
            }
            Op::Caret => {
                if v < c {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    /// `constraintTilde` after its pre-release gate.
    fn tilde(&self, v: &SemVer) -> bool {
        let c = &self.con;
        if v < c {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// `semver.StrictNewVersion`: `X.Y.Z[-pre][+build]`, no `v`, no missing part, no leading zero.
pub fn parse_strict(s: &str) -> Option<SemVer> {
    let core_end = s.find(['-', '+']).unwrap_or(s.len());
    let core: Vec<&str> = s[..core_end].split('.').collect();
    if core.len() != 3
        || core.iter().any(|p| {
            p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
        })
    {
        return None;
    }
    SemVer::parse(s)
}

/// Is `s` an exact version (major.minor.patch, optional `v`, pre-release and build), as opposed
/// to a constraint? What a data source may take with synchronization off.
pub fn is_exact_version(s: &str) -> bool {
    let t = s.strip_prefix('v').unwrap_or(s);
    let core_end = t.find(['-', '+']).unwrap_or(t.len());
    t[..core_end].split('.').count() == 3 && SemVer::parse(s).is_some()
}

/// No version of a chart matches what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// What was asked (`None`: the newest stable version).
    pub wanted: Option<String>,
    /// Up to [`CLOSEST`] available versions, closest first (see [`closest_versions`]).
    pub closest: Vec<String>,
    /// How many versions the chart has.
    pub available: usize,
}

/// How many alternatives a [`NotFound`] (and [`closest_names`]) lists at most.
pub const CLOSEST: usize = 5;

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wanted {
            None if self.available == 0 => write!(f, "the chart has no version")?,
            None => write!(
                f,
                "the chart has no stable version (only pre-releases; give one as version)"
            )?,
            Some(w) => write!(f, "no version of the chart matches {w:?}")?,
        }
        if !self.closest.is_empty() {
            write!(f, "; closest available: {}", self.closest.join(", "))?;
        }
        Ok(())
    }
}

/// Why a version could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The version is neither an available version nor a valid constraint.
    #[error("{0:?} is not a valid version constraint: {1}")]
    InvalidConstraint(String, ConstraintError),
    #[error("{0}")]
    NotFound(NotFound),
}

fn non_empty(wanted: Option<&str>) -> Option<&str> {
    wanted.filter(|w| !w.is_empty())
}

fn not_found(versions: &[VersionRecord], wanted: Option<&str>) -> ResolveError {
    let all: Vec<&str> = versions.iter().map(|r| r.version.as_str()).collect();
    ResolveError::NotFound(NotFound {
        wanted: wanted.map(str::to_string),
        closest: closest_versions(&all, wanted),
        available: versions.len(),
    })
}

/// Newest first, as Helm sorts (stable: already sorted input is kept as it is).
fn sorted(versions: &[VersionRecord]) -> Vec<&VersionRecord> {
    let mut v: Vec<&VersionRecord> = versions.iter().collect();
    sort_versions_desc(&mut v, |r| &r.version);
    v
}

/// `repo.IndexFile.Get(name, wanted)` on one chart's versions (Helm 4).
pub fn resolve_helm<'a>(
    versions: &'a [VersionRecord],
    wanted: Option<&str>,
) -> Result<&'a VersionRecord, ResolveError> {
    resolve_helm_as(versions, wanted, Dialect::default())
}

/// `repo.IndexFile.Get` with the given semver release's rules.
pub fn resolve_helm_as<'a>(
    versions: &'a [VersionRecord],
    wanted: Option<&str>,
    dialect: Dialect,
) -> Result<&'a VersionRecord, ResolveError> {
    let wanted = non_empty(wanted);
    let constraint = match wanted {
        None => Constraint::any(),
        Some(w) => Constraint::parse_as(w, dialect)
            .map_err(|e| ResolveError::InvalidConstraint(w.to_string(), e))?,
    };
    let ordered = sorted(versions);
    if let Some(w) = wanted {
        if let Some(r) = ordered.iter().find(|r| r.version == w) {
            return Ok(r);
        }
    }
    ordered
        .into_iter()
        .find(|r| SemVer::parse(&r.version).is_some_and(|v| constraint.check(&v)))
        .ok_or_else(|| not_found(versions, wanted))
}

/// `helm pull oci://…/chart --version wanted` on one repository's versions (tags with `_`
/// turned back into `+`), Helm 4.
pub fn resolve_oci<'a>(
    versions: &'a [VersionRecord],
    wanted: Option<&str>,
) -> Result<&'a VersionRecord, ResolveError> {
    resolve_oci_as(versions, wanted, Dialect::default())
}

/// `registry.Client.ValidateReference` with the given semver release's rules.
pub fn resolve_oci_as<'a>(
    versions: &'a [VersionRecord],
    wanted: Option<&str>,
    dialect: Dialect,
) -> Result<&'a VersionRecord, ResolveError> {
    let wanted = non_empty(wanted);
    if let Some(w) = wanted {
        if SemVer::parse(w).is_some() {
            // Helm takes a version as the tag itself, without listing tags (`+` is written `_`
            // in a tag); pulling it fails when the registry does not have that tag.
            let tag = w.replace('+', "_");
            return versions
                .iter()
                .find(|r| r.version.replace('+', "_") == tag)
                .ok_or_else(|| not_found(versions, wanted));
        }
    }
    // `Tags`: only strict semver tags, newest first.
    let tags: Vec<&VersionRecord> = sorted(versions)
        .into_iter()
        .filter(|r| parse_strict(&r.version).is_some())
        .collect();
    if tags.is_empty() {
        return Err(not_found(versions, wanted));
    }
    // `GetTagMatchingVersionOrConstraint`: exact string first, then the constraint.
    let constraint = match wanted {
        None => Constraint::any(),
        Some(w) => {
            if let Some(r) = tags.iter().find(|r| r.version == w) {
                return Ok(r);
            }
            Constraint::parse_as(w, dialect)
                .map_err(|e| ResolveError::InvalidConstraint(w.to_string(), e))?
        }
    };
    tags.into_iter()
        .find(|r| SemVer::parse(&r.version).is_some_and(|v| constraint.check(&v)))
        .ok_or_else(|| not_found(versions, wanted))
}

/// Up to [`CLOSEST`] of `available` (newest first) closest to `wanted`.
///
/// Ranking: when `wanted` is a version, or a constraint (its first comparator's version), by
/// numeric distance: first |major difference|, then |minor difference|, then |patch
/// difference|, then whether the pre-release status differs (a stable version is closer to a
/// stable request), ties newest first. When `wanted` is neither (or `None`), the newest
/// versions (stable ones first when nothing was asked). Versions that do not parse come last,
/// by edit distance.
pub fn closest_versions(available: &[&str], wanted: Option<&str>) -> Vec<String> {
    let anchor = wanted.and_then(|w| {
        SemVer::parse(w).or_else(|| Constraint::parse(w).ok().and_then(|c| c.anchor().cloned()))
    });
    let mut ranked: Vec<(usize, &str)> = available.iter().copied().enumerate().collect();
    let key = |(i, v): &(usize, &str)| -> (u8, u64, u64, u64, u8, usize, usize) {
        let Some(s) = SemVer::parse(v) else {
            let d = wanted.map_or(0, |w| levenshtein(w, v));
            return (1, 0, 0, 0, 0, d, *i);
        };
        match &anchor {
            Some(a) => (
                0,
                s.major.abs_diff(a.major),
                s.minor.abs_diff(a.minor),
                s.patch.abs_diff(a.patch),
                u8::from(s.is_prerelease() != a.is_prerelease()),
                0,
                *i,
            ),
            None => (0, 0, 0, 0, u8::from(s.is_prerelease()), 0, *i),
        }
    };
    ranked.sort_by_cached_key(key);
    let mut out: Vec<String> = Vec::new();
    for (_, v) in ranked {
        if !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
        if out.len() == CLOSEST {
            break;
        }
    }
    out
}

/// Up to [`CLOSEST`] of `names` that look like `wanted`, closest first: the same name in another
/// case, then names containing `wanted` or contained in it, then by edit distance (at most a
/// third of the name's length, and at least 2), ties alphabetical. Names too far away are not
/// listed: an empty list means nothing looks close.
pub fn closest_names(names: &[&str], wanted: &str) -> Vec<String> {
    let w = wanted.to_lowercase();
    let limit = (w.chars().count() / 3).max(2);
    let mut ranked: Vec<(u8, usize, &str)> = names
        .iter()
        .filter_map(|&n| {
            let l = n.to_lowercase();
            if l == w {
                Some((0, 0, n))
            } else if !w.is_empty() && (l.contains(&w) || w.contains(&l)) {
                Some((1, l.chars().count().abs_diff(w.chars().count()), n))
            } else {
                let d = levenshtein(&l, &w);
                (d <= limit).then_some((2, d, n))
            }
        })
        .collect();
    ranked.sort();
    ranked.dedup_by(|a, b| a.2 == b.2);
    ranked
        .into_iter()
        .take(CLOSEST)
        .map(|(_, _, n)| n.to_string())
        .collect()
}

/// Edit distance in characters (insertions, deletions, substitutions).
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
