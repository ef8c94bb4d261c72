//! The validated versions of an index, kept compact while the document is read: every text in
//! one arena (a field equal to the same field of the chart's previous entry is kept once), each
//! version a few spans into it. Both readers (the fast path and the full parser) hand their
//! entries here one at a time ([`Store::entry`]), so no parsed copy of the whole document is held
//! (issue 11, target 3: a 400 MB index in ~100 MB); the catalog's summaries and the encoded
//! snapshot are written from it directly, and the owned forms ([`IndexEntry`],
//! [`Catalog`](crate::registry::catalog::Catalog)) are built only on demand.

use std::collections::{BTreeMap, HashSet};

use crate::registry::catalog::{is_stable, SemVer};
use crate::registry::helm_index::index_doc::{self, RawEntry};
use crate::registry::helm_index::parse::{IndexEntry, MAX_SKIPPED_EXAMPLES};
use crate::registry::helm_index::validate::{sanitize, validate};
use crate::registry::snapshot::{Row, Strs};

/// `(start, end)` in the arena.
pub(crate) type Span = (u32, u32);

/// One valid version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    name: Span,
    version: Span,
    digest: Span,
    app_version: Span,
    description: Span,
    created: Span,
    /// `(start, end)` in `Store::lists`.
    urls: Span,
    keywords: Span,
    deprecated: bool,
}

/// One chart: its versions (while reading: in index order; once ended: newest first, each
/// version once) and the entries of it that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chart {
    pub versions: Vec<Version>,
    pub skipped: usize,
    pub examples: Vec<String>,
    pub nulls: usize,
    pub duplicates: usize,
}

/// The arena and the charts read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Store {
    text: String,
    lists: Vec<Span>,
    pub charts: BTreeMap<String, Chart>,
    /// The text outgrew 4 GiB (spans are 32-bit).
    pub overflow: bool,
}

impl Store {
    pub fn str(&self, s: Span) -> &str {
        &self.text[s.0 as usize..s.1 as usize]
    }

    fn list(&self, l: Span) -> &[Span] {
        &self.lists[l.0 as usize..l.1 as usize]
    }

    fn pos(&mut self) -> u32 {
        u32::try_from(self.text.len()).unwrap_or_else(|_| {
            self.overflow = true;
            0
        })
    }

    /// `s` into the arena, or `prev` when it holds the same text.
    fn put(&mut self, s: &str, prev: Option<Span>) -> Span {
        if let Some(p) = prev {
            if self.str(p) == s {
                return p;
            }
        }
        if s.is_empty() {
            return (0, 0);
        }
        let start = self.pos();
        self.text.push_str(s);
        let end = self.pos();
        if self.overflow {
            return (0, 0);
        }
        (start, end)
    }

    fn put_list(&mut self, items: &[String], prev: Option<Span>) -> Span {
        if let Some(p) = prev {
            let same = {
                let l = self.list(p);
                l.len() == items.len() && l.iter().zip(items).all(|(s, i)| self.str(*s) == i)
            };
            if same {
                return p;
            }
        }
        let spans: Vec<Span> = items.iter().map(|i| self.put(i, None)).collect();
        let start = self.lists.len() as u32;
        self.lists.extend(spans);
        (start, self.lists.len() as u32)
    }

    /// One entry of the chart being read (`None`: a null entry), validated as Helm does.
    pub fn entry(&mut self, c: &mut ChartReading, raw: Option<RawEntry>) {
        let Some(raw) = raw else {
            c.chart.nulls += 1;
            return;
        };
        if let Err(reason) = validate(&c.key, &raw) {
            c.chart.skipped += 1;
            if c.chart.examples.len() < MAX_SKIPPED_EXAMPLES {
                c.chart.examples.push(format!(
                    "chart {} version {:?}: {reason}",
                    index_doc::chart_label(&c.key),
                    raw.version
                ));
            }
            return;
        }
        let prev = c.chart.versions.last().copied();
        let digest = raw.digest.trim();
        let digest = digest.strip_prefix("sha256:").unwrap_or(digest);
        let digest = if digest.bytes().any(|b| b.is_ascii_uppercase()) {
            self.put(&digest.to_ascii_lowercase(), None)
        } else {
            self.put(digest, None)
        };
        let keywords: Vec<String> = if raw.keywords.iter().all(|k| is_plain(k)) {
            raw.keywords
        } else {
            raw.keywords.into_iter().map(sanitize).collect()
        };
        let v = Version {
            name: self.put(&raw.name, prev.map(|p| p.name)),
            version: self.put(&raw.version, None),
            digest,
            app_version: self.put(&sanitize(raw.app_version), prev.map(|p| p.app_version)),
            description: self.put(&sanitize(raw.description), prev.map(|p| p.description)),
            created: self.put(&raw.created, prev.map(|p| p.created)),
            urls: self.put_list(&raw.urls, prev.map(|p| p.urls)),
            keywords: self.put_list(&keywords, prev.map(|p| p.keywords)),
            deprecated: raw.deprecated,
        };
        c.chart.versions.push(v);
    }

    /// The chart's versions sorted newest first (stable: of equal version strings the first in
    /// the index comes first) and each version once; the chart kept (replacing one of the same
    /// name read before), even without a valid version (its skipped entries count).
    pub fn end(&mut self, c: ChartReading) {
        let ChartReading { key, mut chart } = c;
        let keys: Vec<_> = chart
            .versions
            .iter()
            .map(|v| std::cmp::Reverse(SortKey(SemVer::parse(self.str(v.version)))))
            .collect();
        let mut order: Vec<usize> = (0..chart.versions.len()).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut seen = HashSet::with_capacity(order.len());
        let listed = order.len();
        let mut versions = Vec::with_capacity(listed);
        for i in order {
            let v = chart.versions[i];
            if seen.insert(self.str(v.version)) {
                versions.push(v);
            }
        }
        chart.duplicates = listed - versions.len();
        chart.versions = versions;
        self.charts.insert(key, chart);
    }

    pub fn index_entry(&self, v: &Version) -> IndexEntry {
        let strings = |l: Span| {
            self.list(l)
                .iter()
                .map(|s| self.str(*s).to_string())
                .collect()
        };
        IndexEntry {
            name: self.str(v.name).to_string(),
            version: self.str(v.version).to_string(),
            app_version: self.str(v.app_version).to_string(),
            description: self.str(v.description).to_string(),
            deprecated: v.deprecated,
            digest: self.str(v.digest).to_string(),
            urls: strings(v.urls),
            created: self.str(v.created).to_string(),
            keywords: strings(v.keywords),
        }
    }

    /// The version as the snapshot encoder reads it.
    pub fn row(&self, v: &Version) -> Row<'_> {
        Row {
            version: self.str(v.version),
            digest: self.str(v.digest),
            urls: Strs::Spans(&self.text, self.list(v.urls)),
            manifest_digest: "",
            app_version: self.str(v.app_version),
            description: self.str(v.description),
            keywords: Strs::Spans(&self.text, self.list(v.keywords)),
            created: self.str(v.created),
            deprecated: v.deprecated,
        }
    }

    /// The newest stable version of a chart (sorted), as [`ChartSummary`](crate::registry::catalog::ChartSummary) picks it.
    pub fn latest<'a>(&self, versions: &'a [Version]) -> Option<&'a Version> {
        versions.iter().find(|v| is_stable(self.str(v.version)))
    }
}

/// Whether `s` is printable ASCII (what `sanitize` leaves as it is, without looking further).
fn is_plain(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// A chart whose entries are being read.
pub(crate) struct ChartReading {
    key: String,
    chart: Chart,
}

#[derive(PartialEq, Eq)]
struct SortKey(Option<SemVer>);
impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        }
    }
}

/// Where a reader of the document hands the charts of `entries`, one at a time, in document
/// order: [`Store`] (validated, compact) or [`Collect`] (the entries as read, for the tests that
/// compare the readers).
pub(crate) trait Sink {
    type Chart;
    /// A key of `entries`; its entries follow, then [`Sink::end`].
    fn begin(&mut self, key: String) -> Self::Chart;
    /// An entry of the chart (`None`: a null entry).
    fn entry(&mut self, chart: &mut Self::Chart, e: Option<RawEntry>);
    /// The end of the chart's list (`null`: the list was null, so no entry came). A later chart
    /// of the same name replaces an earlier one, as in Go's maps.
    fn end(&mut self, chart: Self::Chart, null: bool);
}

impl Sink for Store {
    type Chart = ChartReading;
    fn begin(&mut self, key: String) -> ChartReading {
        ChartReading {
            key,
            chart: Chart::default(),
        }
    }
    fn entry(&mut self, chart: &mut ChartReading, e: Option<RawEntry>) {
        Store::entry(self, chart, e)
    }
    fn end(&mut self, chart: ChartReading, _null: bool) {
        Store::end(self, chart)
    }
}

/// The charts as read, as the full parser's [`RawEntries`](index_doc::RawEntries) holds them.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Collect(pub index_doc::RawEntries);

#[cfg(test)]
impl Sink for Collect {
    type Chart = (String, Vec<Option<RawEntry>>);
    fn begin(&mut self, key: String) -> Self::Chart {
        (key, Vec::new())
    }
    fn entry(&mut self, chart: &mut Self::Chart, e: Option<RawEntry>) {
        chart.1.push(e);
    }
    fn end(&mut self, (key, list): Self::Chart, null: bool) {
        self.0 .0.insert(key, (!null).then_some(list));
    }
}
