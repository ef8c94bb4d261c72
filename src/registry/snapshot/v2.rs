//! Format v2 of the catalog snapshot (`chartreg-snapshot.v2:`): base64 of gzip of a JSON document
//! laid out so that what repeats from one version of a chart to the next is written once, and the
//! part that cannot compress (the sha256 digests) sits in one column of its own:
//!
//! ```text
//! {"kind":"helm","index_url":"…",
//!  "charts":[{"key":"nginx","n":"nginx","r":"…","vs":[ROW, ROW, …]}, …],
//!  "d":"<64 hex digits per version, in the order of the rows>"}
//! ```
//!
//! - `charts` in key order; `n` (the chart's name) is left out when it equals `key`, `r`
//!   (repository) when empty.
//! - A ROW is `{"v":VERSION,"u":…,"m":…,"a":…,"t":…,"k":…,"c":…,"x":…}` with the meaning of v1
//!   ([`VersionRecord`]'s short names), except that a field left out has **the value of the
//!   previous row of the same chart** (for the first row: empty, `false`). A field that becomes
//!   empty is written empty (`"a":""`, `"u":[]`).
//! - An entry of `u` is either a URL (`"a/x-1.0.0.tgz"`) or a pair `["a/x-", ".tgz"]` meaning
//!   prefix + the row's version + suffix (the version's last occurrence in the URL), so that the
//!   URLs of a chart's versions, which differ only by the version, are written once.
//! - `d`: the digests of every row (charts in order, rows in order), 64 lower-case hex digits each,
//!   when every digest is exactly that; otherwise `"ds":[…]`, one string per row.
//!
//! What it buys (BENCHMARKS.md, "Index parsing"): with the redundancy gone before compression, the
//! fast deflate level gives a smaller string than v1 at the best level, in a fraction of the time.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::{ChartRecords, Kind, Snapshot, SnapshotError, VersionRecord};

pub const PREFIX: &str = "chartreg-snapshot.v2:";

/// A list of strings of a row, borrowed from where the catalog keeps them.
#[derive(Clone, Copy)]
pub(crate) enum Strs<'a> {
    Owned(&'a [String]),
    /// Spans `(start, end)` of `text`.
    Spans(&'a str, &'a [(u32, u32)]),
}

impl<'a> Strs<'a> {
    pub fn len(&self) -> usize {
        match self {
            Strs::Owned(v) => v.len(),
            Strs::Spans(_, s) => s.len(),
        }
    }

    pub fn get(&self, i: usize) -> &'a str {
        match *self {
            Strs::Owned(v) => &v[i],
            Strs::Spans(t, s) => &t[s[i].0 as usize..s[i].1 as usize],
        }
    }

    fn same(&self, other: &Strs<'_>) -> bool {
        self.len() == other.len() && (0..self.len()).all(|i| self.get(i) == other.get(i))
    }
}

/// One version as the encoder reads it.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    pub version: &'a str,
    /// Already normalised (lower-case hex, no `sha256:`), as [`VersionRecord::digest`].
    pub digest: &'a str,
    pub urls: Strs<'a>,
    pub manifest_digest: &'a str,
    pub app_version: &'a str,
    pub description: &'a str,
    pub keywords: Strs<'a>,
    pub created: &'a str,
    pub deprecated: bool,
}

impl<'a> Row<'a> {
    pub fn of(v: &'a VersionRecord) -> Row<'a> {
        Row {
            version: &v.version,
            digest: &v.digest,
            urls: Strs::Owned(&v.urls),
            manifest_digest: &v.manifest_digest,
            app_version: &v.app_version,
            description: &v.description,
            keywords: Strs::Owned(&v.keywords),
            created: &v.created,
            deprecated: v.deprecated,
        }
    }
}

fn is_packable(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A URL of a row as written: `(prefix, Some(suffix))` for prefix + version + suffix, or
/// `(url, None)`.
fn template<'s>(url: &'s str, version: &str) -> (&'s str, Option<&'s str>) {
    match url.rfind(version).filter(|_| !version.is_empty()) {
        Some(at) => (&url[..at], Some(&url[at + version.len()..])),
        None => (url, None),
    }
}

fn same_urls(a: &Row<'_>, b: &Row<'_>) -> bool {
    a.urls.len() == b.urls.len()
        && (0..a.urls.len())
            .all(|i| template(a.urls.get(i), a.version) == template(b.urls.get(i), b.version))
}

/// Writes the JSON document into `w`, chart by chart and row by row (nothing is held but a
/// reference to each digest, for the column written last).
pub(crate) struct Encoder<'a, W: Write> {
    w: W,
    first_chart: bool,
    prev: Option<Row<'a>>,
    digests: Vec<&'a str>,
}

fn json_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *w, s).map_err(io::Error::other)
}

const EMPTY: Row<'static> = Row {
    version: "",
    digest: "",
    urls: Strs::Owned(&[]),
    manifest_digest: "",
    app_version: "",
    description: "",
    keywords: Strs::Owned(&[]),
    created: "",
    deprecated: false,
};

impl<'a, W: Write> Encoder<'a, W> {
    pub fn new(mut w: W, kind: Kind, index_url: &str) -> io::Result<Self> {
        let head: &[u8] = match kind {
            Kind::Helm => b"{\"kind\":\"helm\"",
            Kind::Oci => b"{\"kind\":\"oci\"",
        };
        w.write_all(head)?;
        if !index_url.is_empty() {
            w.write_all(b",\"index_url\":")?;
            json_str(&mut w, index_url)?;
        }
        w.write_all(b",\"charts\":[")?;
        Ok(Encoder {
            w,
            first_chart: true,
            prev: None,
            digests: Vec::new(),
        })
    }

    /// Start a chart (charts must come in key order); its rows follow, then [`Self::end_chart`].
    pub fn chart(&mut self, key: &str, name: &str, repository: &str) -> io::Result<()> {
        if !self.first_chart {
            self.w.write_all(b",")?;
        }
        self.first_chart = false;
        self.prev = None;
        self.w.write_all(b"{\"key\":")?;
        json_str(&mut self.w, key)?;
        if name != key {
            self.w.write_all(b",\"n\":")?;
            json_str(&mut self.w, name)?;
        }
        if !repository.is_empty() {
            self.w.write_all(b",\"r\":")?;
            json_str(&mut self.w, repository)?;
        }
        self.w.write_all(b",\"vs\":[")
    }

    pub fn end_chart(&mut self) -> io::Result<()> {
        self.w.write_all(b"]}")
    }

    fn field(&mut self, key: &[u8], value: &str, prev: &str) -> io::Result<()> {
        if value == prev {
            return Ok(());
        }
        self.w.write_all(key)?;
        json_str(&mut self.w, value)
    }

    fn list(&mut self, key: &[u8], value: Strs<'_>) -> io::Result<()> {
        self.w.write_all(key)?;
        self.w.write_all(b"[")?;
        for i in 0..value.len() {
            if i > 0 {
                self.w.write_all(b",")?;
            }
            json_str(&mut self.w, value.get(i))?;
        }
        self.w.write_all(b"]")
    }

    /// One version of the current chart, in the chart's order.
    pub fn row(&mut self, row: Row<'a>) -> io::Result<()> {
        let first = self.prev.is_none();
        let prev = self.prev.unwrap_or(EMPTY);
        let head: &[u8] = if first { b"{\"v\":" } else { b",{\"v\":" };
        self.w.write_all(head)?;
        json_str(&mut self.w, row.version)?;
        if !same_urls(&row, &prev) {
            self.w.write_all(b",\"u\":[")?;
            for i in 0..row.urls.len() {
                if i > 0 {
                    self.w.write_all(b",")?;
                }
                match template(row.urls.get(i), row.version) {
                    (pre, Some(suf)) => {
                        self.w.write_all(b"[")?;
                        json_str(&mut self.w, pre)?;
                        self.w.write_all(b",")?;
                        json_str(&mut self.w, suf)?;
                        self.w.write_all(b"]")?;
                    }
                    (url, None) => json_str(&mut self.w, url)?,
                }
            }
            self.w.write_all(b"]")?;
        }
        self.field(b",\"m\":", row.manifest_digest, prev.manifest_digest)?;
        self.field(b",\"a\":", row.app_version, prev.app_version)?;
        self.field(b",\"t\":", row.description, prev.description)?;
        if !row.keywords.same(&prev.keywords) {
            self.list(b",\"k\":", row.keywords)?;
        }
        self.field(b",\"c\":", row.created, prev.created)?;
        if row.deprecated != prev.deprecated {
            let x: &[u8] = if row.deprecated {
                b",\"x\":true"
            } else {
                b",\"x\":false"
            };
            self.w.write_all(x)?;
        }
        self.w.write_all(b"}")?;
        self.digests.push(row.digest);
        self.prev = Some(row);
        Ok(())
    }

    /// The digest column and the end of the document; the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(b"]")?;
        if self.digests.iter().all(|d| is_packable(d)) {
            self.w.write_all(b",\"d\":\"")?;
            for d in &self.digests {
                self.w.write_all(d.as_bytes())?;
            }
            self.w.write_all(b"\"}")?;
        } else {
            self.w.write_all(b",\"ds\":")?;
            self.list_owned()?;
            self.w.write_all(b"}")?;
        }
        Ok(self.w)
    }

    fn list_owned(&mut self) -> io::Result<()> {
        self.w.write_all(b"[")?;
        for i in 0..self.digests.len() {
            if i > 0 {
                self.w.write_all(b",")?;
            }
            json_str(&mut self.w, self.digests[i])?;
        }
        self.w.write_all(b"]")
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Doc {
    kind: Kind,
    #[serde(default)]
    index_url: String,
    charts: Vec<DocChart>,
    #[serde(default)]
    d: Option<String>,
    #[serde(default)]
    ds: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct DocChart {
    key: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    r: String,
    vs: Vec<DocRow>,
}

#[derive(Deserialize)]
struct DocRow {
    v: String,
    #[serde(default)]
    u: Option<Vec<DocUrl>>,
    #[serde(default)]
    m: Option<String>,
    #[serde(default)]
    a: Option<String>,
    #[serde(default)]
    t: Option<String>,
    #[serde(default)]
    k: Option<Vec<String>>,
    #[serde(default)]
    c: Option<String>,
    #[serde(default)]
    x: Option<bool>,
}

/// A URL, or `[prefix, suffix]` around the row's version.
enum DocUrl {
    Url(String),
    Around(String, String),
}

impl<'de> Deserialize<'de> for DocUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DocUrl;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL or [prefix, suffix]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DocUrl, E> {
                Ok(DocUrl::Url(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<DocUrl, E> {
                Ok(DocUrl::Url(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DocUrl, A::Error> {
                let pre: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let suf: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(DocUrl::Around(pre, suf))
            }
        }
        d.deserialize_any(V)
    }
}

/// The JSON document of a v2 snapshot back to a [`Snapshot`].
pub(crate) fn decode_json(json: &[u8]) -> Result<Snapshot, SnapshotError> {
    let doc: Doc =
        serde_json::from_slice(json).map_err(|e| SnapshotError::Corrupt(format!("json: {e}")))?;
    let rows: usize = doc.charts.iter().map(|c| c.vs.len()).sum();
    let corrupt = |m: &str| SnapshotError::Corrupt(m.to_string());
    let mut digests: Box<dyn Iterator<Item = String>> = match (doc.d, doc.ds) {
        (Some(d), None) => {
            if d.len() != rows * 64 || !d.is_ascii() {
                return Err(corrupt("digest column of the wrong length"));
            }
            let mut out = Vec::with_capacity(rows);
            for i in 0..rows {
                out.push(d[i * 64..(i + 1) * 64].to_string());
            }
            Box::new(out.into_iter())
        }
        (None, Some(ds)) if ds.len() == rows => Box::new(ds.into_iter()),
        _ => return Err(corrupt("digest column missing or of the wrong length")),
    };
    let mut charts = BTreeMap::new();
    for c in doc.charts {
        let empty = VersionRecord::default();
        let mut versions: Vec<VersionRecord> = Vec::with_capacity(c.vs.len());
        for r in c.vs {
            let prev = versions.last().unwrap_or(&empty);
            let urls = match r.u {
                Some(us) => us
                    .into_iter()
                    .map(|u| match u {
                        DocUrl::Url(u) => u,
                        DocUrl::Around(pre, suf) => format!("{pre}{}{suf}", r.v),
                    })
                    .collect(),
                // The previous row's URLs, its version replaced by this one's.
                None => prev
                    .urls
                    .iter()
                    .map(|u| match template(u, &prev.version) {
                        (pre, Some(suf)) => format!("{pre}{}{suf}", r.v),
                        (u, None) => u.to_string(),
                    })
                    .collect(),
            };
            let v = VersionRecord {
                digest: digests.next().unwrap_or_default(),
                urls,
                manifest_digest: r.m.unwrap_or_else(|| prev.manifest_digest.clone()),
                app_version: r.a.unwrap_or_else(|| prev.app_version.clone()),
                description: r.t.unwrap_or_else(|| prev.description.clone()),
                keywords: r.k.unwrap_or_else(|| prev.keywords.clone()),
                created: r.c.unwrap_or_else(|| prev.created.clone()),
                deprecated: r.x.unwrap_or(prev.deprecated),
                version: r.v,
            };
            versions.push(v);
        }
        let name = c.n.unwrap_or_else(|| c.key.clone());
        charts.insert(
            c.key,
            ChartRecords {
                name,
                repository: c.r,
                versions,
            },
        );
    }
    Ok(Snapshot {
        kind: doc.kind,
        index_url: doc.index_url,
        charts,
    })
}
