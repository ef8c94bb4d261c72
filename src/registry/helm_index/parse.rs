//! Index bytes (YAML or JSON) → [`ParsedIndex`]: the document read through [`yaml_guard`] and
//! [`index_doc`], entries validated ([`validate`](super::validate)), sorted newest first, and
//! the whole bounded by a [`ParseDeadline`] so that a hostile or huge document gives up at
//! `request_timeout`. No I/O here: the parse runs on bytes already downloaded, also in the bench.

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{redact_url, Error, Result};
use crate::registry::helm_index::fast_path::{self, Outcome};
use crate::registry::helm_index::index_doc::{self, RawIndex, Reading};
use crate::registry::helm_index::store::{Sink, Store};
use crate::registry::helm_index::yaml_guard::{self, Refusal};

pub use crate::registry::helm_index::parsed::{IndexEntry, ParsedIndex, MAX_SKIPPED_EXAMPLES};

fn not_an_index(url: &str, reason: impl Into<String>) -> Error {
    Error::NotAnIndex {
        url: redact_url(url),
        reason: reason.into(),
    }
}

/// A deserialisation error made short and single-line (it may quote the document).
fn short_reason(prefix: &str, err: &dyn fmt::Display) -> String {
    let msg: String = err
        .to_string()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = format!("{prefix}: ");
    if msg.chars().count() > 240 {
        out.extend(msg.chars().take(240));
        out.push('…');
    } else {
        out.push_str(&msg);
    }
    out
}

/// When a parse must be done: `at`, which is `timeout` (the provider's `request_timeout`) after
/// the request's response arrived.
#[derive(Debug, Clone, Copy)]
pub struct ParseDeadline {
    pub at: Instant,
    pub timeout: Duration,
}

impl ParseDeadline {
    /// `timeout` from now (a timeout too large to add means no deadline in practice: a year).
    pub fn after(timeout: Duration) -> ParseDeadline {
        let now = Instant::now();
        let at = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
            .unwrap_or(now);
        ParseDeadline { at, timeout }
    }
}

fn parse_timeout(url: &str, deadline: Option<ParseDeadline>) -> Error {
    Error::ParseTimeout {
        url: redact_url(url),
        after: deadline.map_or(Duration::ZERO, |d| d.timeout),
    }
}

fn deserialize_raw(bytes: &[u8], url: &str, deadline: Option<ParseDeadline>) -> Result<RawIndex> {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    let reading = Reading::start(deadline.map(|d| d.at));
    match first {
        None => return Err(not_an_index(url, "the document is empty")),
        Some(b'<') => return Err(not_an_index(
            url,
            "got an HTML or XML page instead of index.yaml (is the endpoint the repository URL?)",
        )),
        Some(b'{') => {
            // JSON is YAML, but serde_json is much faster (and linear: no aliases, nesting
            // limited to 128); anything it refuses goes to YAML.
            if let Ok(raw) = serde_json::from_slice::<RawIndex>(bytes) {
                return Ok(raw);
            }
            if reading.timed_out() {
                return Err(parse_timeout(url, deadline));
            }
            reading.restart();
        }
        _ => {}
    }
    if let Err(refusal) = yaml_guard::check(bytes, deadline.map(|d| d.at)) {
        return Err(match refusal {
            Refusal::Deadline => parse_timeout(url, deadline),
            r => not_an_index(url, r.to_string()),
        });
    }
    serde_norway::from_slice::<RawIndex>(bytes).map_err(|e| {
        if reading.timed_out() {
            return parse_timeout(url, deadline);
        }
        let msg = e.to_string();
        let reason = if msg.contains("expected struct RawIndex") {
            "the document is not a YAML mapping".to_string()
        } else if let Some(plain) = index_doc::plain_reason(&msg, &reading.position()) {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            short_reason("invalid YAML", &format!("{plain}{at}"))
        } else {
            short_reason("invalid YAML", &e)
        };
        not_an_index(url, reason)
    })
}

/// Parse index bytes (YAML or JSON). `url` is only used (redacted) in errors.
pub fn parse_index(bytes: &[u8], url: &str) -> Result<ParsedIndex> {
    parse(bytes, url, None)
}

/// [`parse_index`] that gives up with [`Error::ParseTimeout`] once `deadline` has passed.
pub fn parse_index_until(bytes: &[u8], url: &str, deadline: ParseDeadline) -> Result<ParsedIndex> {
    parse(bytes, url, Some(deadline))
}

fn parse(bytes: &[u8], url: &str, deadline: Option<ParseDeadline>) -> Result<ParsedIndex> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut store = Store::default();
    match fast_path::read(bytes, deadline.map(|d| d.at), &mut store) {
        Outcome::Parsed(raw) => build(raw, store, url),
        Outcome::Deadline => Err(parse_timeout(url, deadline)),
        Outcome::NotHandled(why) => {
            tracing::debug!(url = %redact_url(url), why, "index outside the fast path's subset: full YAML parser");
            drop(store);
            full(deserialize_raw(bytes, url, deadline)?, url)
        }
    }
}

/// [`parse_index_until`] on a document in a file (a spooled download), read line by line by the
/// fast path: only the result is held in memory. A document the fast path does not handle is
/// read whole and given to the full parser.
pub fn parse_index_file(
    path: &std::path::Path,
    url: &str,
    deadline: Option<ParseDeadline>,
) -> Result<ParsedIndex> {
    use std::io::BufRead;
    let io_err = |e: std::io::Error| Error::Protocol {
        url: redact_url(url),
        detail: format!("reading the downloaded index: {e}"),
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut reader = std::io::BufReader::with_capacity(256 << 10, file);
    if reader
        .fill_buf()
        .map_err(io_err)?
        .starts_with(b"\xEF\xBB\xBF")
    {
        reader.consume(3);
    }
    let mut store = Store::default();
    match fast_path::read(reader, deadline.map(|d| d.at), &mut store) {
        Outcome::Parsed(raw) => build(raw, store, url),
        Outcome::Deadline => Err(parse_timeout(url, deadline)),
        Outcome::NotHandled(why) => {
            tracing::debug!(url = %redact_url(url), why, "index outside the fast path's subset: full YAML parser");
            drop(store);
            let bytes = std::fs::read(path).map_err(io_err)?;
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
            full(deserialize_raw(bytes, url, deadline)?, url)
        }
    }
}

/// The full YAML parser's reading of `bytes` (BOM stripped), for the tests that compare it with
/// the fast path.
#[cfg(test)]
pub(crate) fn full_parser_raw(bytes: &[u8]) -> Result<RawIndex> {
    deserialize_raw(bytes, "u", None)
}

/// [`parse_index`] without the fast path: the full YAML parser only. For the equality checks
/// (acceptance trial, bench) that compare both readers on real indexes.
pub fn parse_index_full_parser(bytes: &[u8], url: &str) -> Result<ParsedIndex> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    full(deserialize_raw(bytes, url, None)?, url)
}

/// Whether the fast path reads `bytes` itself (`Err` with its reason when it leaves the document
/// to the full parser). For the equality checks: a comparison on a document the fast path does
/// not read would compare the full parser with itself.
pub fn fast_path_reads(bytes: &[u8]) -> std::result::Result<(), &'static str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match fast_path::read(bytes, None, &mut Store::default()) {
        Outcome::Parsed(_) => Ok(()),
        Outcome::NotHandled(why) => Err(why),
        Outcome::Deadline => Err("deadline"),
    }
}

/// The full parser's document handed to a store as the fast path hands its charts.
fn full(mut raw: RawIndex, url: &str) -> Result<ParsedIndex> {
    let mut store = Store::default();
    if let Some(Some(entries)) = &mut raw.entries {
        for (chart, list) in std::mem::take(&mut entries.0) {
            let mut c = store.begin(chart);
            let null = list.is_none();
            for e in list.unwrap_or_default() {
                store.entry(&mut c, e);
            }
            Sink::end(&mut store, c, null);
        }
    }
    build(raw, store, url)
}

/// The document's entries validated, sorted and deduplicated (both readers end here): `raw` has
/// the document's `apiVersion` and whether it has `entries`, `store` its charts.
fn build(raw: RawIndex, store: Store, url: &str) -> Result<ParsedIndex> {
    if raw.api_version.is_empty() {
        let reason = if raw.entries.is_none() {
            "no apiVersion and no entries (not a Helm repository index)"
        } else {
            "no API version specified"
        };
        return Err(not_an_index(url, reason));
    }
    if raw.entries.is_none() {
        return Err(not_an_index(
            url,
            "no entries (not a Helm repository index)",
        ));
    }
    if store.overflow {
        return Err(not_an_index(url, "the index holds more than 4 GiB of text"));
    }
    let mut out = ParsedIndex::default();
    let (mut nulls, mut duplicates) = (0usize, 0usize);
    for c in store.charts.values() {
        nulls += c.nulls;
        duplicates += c.duplicates;
        out.skipped += c.skipped;
        for ex in &c.examples {
            if out.skipped_examples.len() < MAX_SKIPPED_EXAMPLES {
                out.skipped_examples.push(ex.clone());
            }
        }
    }
    out.store = store;
    if nulls > 0 {
        tracing::debug!(url = %redact_url(url), nulls, "dropped null index entries");
    }
    if duplicates > 0 {
        tracing::debug!(url = %redact_url(url), duplicates, "versions listed more than once: the first entry of each kept");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalog::Catalog;
    use crate::registry::catalog::SemVer;
    use crate::registry::snapshot::Kind;

    /// Verbatim excerpts of the real-world indexes (testdata/README.md); the whole files are
    /// compared with helm by the acceptance trials `helm_search_*` and by `benches/index.rs`.
    const BITNAMI: &[u8] =
        include_bytes!("../../../testdata/indexes/bitnami-2022-06-16.excerpt.yaml");
    const RANCHER: &[u8] =
        include_bytes!("../../../testdata/indexes/rancher-dev-v2.9.excerpt.yaml");

    fn versions(idx: &ParsedIndex, chart: &str) -> Vec<String> {
        idx.entries()[chart]
            .iter()
            .map(|e| e.version.clone())
            .collect()
    }

    fn assert_sorted_desc(idx: &ParsedIndex) {
        for (name, list) in &idx.entries() {
            for w in list.windows(2) {
                let (a, b) = (
                    SemVer::parse(&w[0].version).unwrap(),
                    SemVer::parse(&w[1].version).unwrap(),
                );
                assert!(a >= b, "{name}: {} before {}", w[0].version, w[1].version);
            }
        }
    }

    #[test]
    fn parses_bitnami_excerpt() {
        let idx = parse_index(BITNAMI, "https://charts.bitnami.com/bitnami/index.yaml").unwrap();
        // helm v4.1.4 `search repo bitnami/ --versions --devel` on the excerpt lists the same.
        assert_eq!(
            (idx.chart_count(), idx.version_count(), idx.skipped),
            (4, 28, 0)
        );
        assert_sorted_desc(&idx);
        assert_eq!(
            versions(&idx, "orangehrm"),
            ["11.0.3", "11.0.2", "11.0.1", "11.0.0"]
        );
        assert_eq!(versions(&idx, "common").len(), 14);
        let cat = idx.catalog();
        assert_eq!((cat.chart_count(), cat.version_count()), (4, 28));
        let sum = cat.summaries();
        // The newest version is the deprecated one (bitnami deprecates by a last release).
        for (chart, latest, app) in [
            ("kubewatch", "3.3.4", "0.1.0"),
            ("orangehrm", "11.0.3", "4.9.0-0"),
        ] {
            let c = &sum[chart];
            assert_eq!(
                (c.latest_version.as_deref(), c.app_version.as_str()),
                (Some(latest), app)
            );
            assert!(
                c.deprecated && c.description.starts_with("DEPRECATED "),
                "{chart}"
            );
        }
        let p = &sum["pinniped"];
        assert_eq!(
            (p.latest_version.as_deref(), p.deprecated, p.version_count),
            (Some("0.1.3"), false, 3)
        );
        assert_eq!(
            record_versions(&cat, "pinniped"),
            ["0.1.3", "0.1.1", "0.1.0"]
        );
        // A folded multi-line description becomes one line, as in `helm search`.
        assert_eq!(
            p.description,
            "Pinniped is an identity service provider for Kubernetes. Provides a consistent, \
             unified login experience across all your clusters, allowing enteprise IDP protocols."
        );
        let e = idx.get("pinniped", "0.1.3").unwrap();
        assert_eq!(e.name, "pinniped");
        assert_eq!(
            e.digest,
            "5b04dbeb92bfa0d21440648df775518c17b969ad798c3c4310d364f20af60653"
        );
        assert_eq!(
            e.urls,
            ["https://charts.bitnami.com/bitnami/pinniped-0.1.3.tgz"]
        );
        assert_eq!(e.created, "2022-06-15T07:36:28.118401349Z");
        // The snapshot's record: the digest without `sha256:`, the URLs as written.
        let r = &cat.charts["pinniped"].versions[0];
        assert_eq!(r.digest, e.digest);
        assert_eq!(r.urls, e.urls);
        assert_eq!(
            (r.created.as_str(), r.app_version.as_str()),
            (e.created.as_str(), e.app_version.as_str())
        );
        assert!(cat.charts["common"]
            .versions
            .iter()
            .all(|v| v.digest.len() == 64 && !v.digest.contains(':')));
    }

    fn record_versions<'a>(cat: &'a Catalog, chart: &str) -> Vec<&'a str> {
        cat.charts[chart]
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect()
    }

    /// What state keeps is written from the compact index: the same as from its catalog.
    #[test]
    fn summaries_and_snapshot_equal_the_catalogs() {
        use crate::registry::snapshot::Snapshot;
        for doc in [BITNAMI, RANCHER, SMALL.as_bytes()] {
            let idx = parse_index(doc, "u").unwrap();
            let cat = idx.catalog();
            assert_eq!(idx.summaries(), cat.summaries());
            let url = "https://h/index.yaml";
            let snap = Snapshot::decode(&idx.snapshot(url)).unwrap();
            assert_eq!(snap, cat.to_snapshot(Kind::Helm, url));
            assert_eq!(idx.snapshot(url), cat.to_snapshot(Kind::Helm, url).encode());
        }
    }

    #[test]
    fn the_catalog_keeps_the_order_chart_records_gives() {
        for doc in [BITNAMI, RANCHER, SMALL.as_bytes()] {
            let cat = parse_index(doc, "u").unwrap().catalog();
            for (name, c) in &cat.charts {
                let again = crate::registry::catalog::chart_records(name, "", c.versions.clone());
                assert_eq!(&again, c, "{name}");
            }
        }
    }

    #[test]
    fn parses_rancher_excerpt() {
        let idx = parse_index(RANCHER, "https://h/index.yaml").unwrap();
        assert_eq!(
            (idx.chart_count(), idx.version_count(), idx.skipped),
            (4, 57, 0)
        );
        assert_sorted_desc(&idx);
        // Orders as helm v4.1.4 `search repo rancher/ --versions --devel`: build metadata
        // ignored, leading zeros accepted (`0.8.001`), `0.1.000` above its `0.1.0-beta*`.
        assert_eq!(versions(&idx, "rio"), ["0.8.001", "0.8.000"]);
        assert_eq!(
            versions(&idx, "rancher-wins-upgrader"),
            ["100.0.1+up0.0.1", "100.0.0+up0.0.1", "0.0.100"]
        );
        assert_eq!(
            versions(&idx, "rancher-kiali-server-crd"),
            [
                "100.0.0+up1.35.0",
                "1.35.100+up1.35.0",
                "1.32.100",
                "1.29.000",
                "1.24.003",
                "1.24.001",
                "1.23.001"
            ]
        );
        let webhook = versions(&idx, "rancher-webhook");
        assert_eq!(webhook.len(), 45);
        assert_eq!(&webhook[..2], ["104.0.3+up0.5.3", "104.0.2+up0.5.2"]);
        assert_eq!(
            &webhook[39..],
            [
                "0.1.100+up0.1.1",
                "0.1.000",
                "0.1.0-beta901",
                "0.1.0-beta900",
                "0.1.0-beta700",
                "0.1.0-beta500"
            ]
        );
        let cat = idx.catalog();
        let sum = cat.summaries();
        let latest: Vec<_> = sum
            .values()
            .map(|c| c.latest_version.as_deref().unwrap_or("-"))
            .collect();
        assert_eq!(
            latest,
            [
                "100.0.0+up1.35.0",
                "104.0.3+up0.5.3",
                "100.0.1+up0.0.1",
                "0.8.001"
            ]
        );
        assert_eq!(sum["rancher-kiali-server-crd"].app_version, "");
        let rio = idx.get("rio", "0.8.000").unwrap();
        assert_eq!(rio.urls, ["assets/rio/rio-0.8.000.tgz"]);
        assert_eq!(rio.created, "2022-02-25T11:29:46.355694991+05:30");
    }

    const SMALL: &str = r#"apiVersion: v1
generated: "2024-01-01T00:00:00Z"
serverInfo: {contextPath: /x}
entries:
  alpha:
    - name: alpha
      version: 1.2.0
      appVersion: "2.0"
      description: "Alpha\tchart\nline two"
      urls: [alpha-1.2.0.tgz]
      digest: abc
      created: 2024-01-01T00:00:00Z
      unknownField: {nested: [1, 2]}
      maintainers: [{name: me}]
    - name: alpha
      version: 1.10.0
      appVersion: 1.10
      deprecated: yes
      urls: ["https://cdn/alpha-1.10.0.tgz"]
    - name: alpha
      version: 2.0.0-rc.1
      urls: []
    - null
  beta:
    - name: beta
      version: "1"
      type: library
      dependencies: [{name: common, alias: c_1}, {name: common}, {name: common}]
"#;

    #[test]
    fn parses_yaml_details() {
        let idx = parse_index(SMALL.as_bytes(), "u").unwrap();
        assert_eq!(idx.skipped, 0);
        let a = &idx.entries()["alpha"];
        let versions: Vec<_> = a.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(versions, ["2.0.0-rc.1", "1.10.0", "1.2.0"]);
        assert_eq!(a[1].app_version, "1.10");
        assert!(a[1].deprecated);
        assert_eq!(a[2].description, "Alpha chart line two");
        assert_eq!(a[2].urls, ["alpha-1.2.0.tgz"]);
        assert_eq!(a[2].created, "2024-01-01T00:00:00Z");
        assert_eq!(idx.entries()["beta"][0].version, "1");
        let cat = idx.catalog();
        let sum = cat.summaries();
        assert_eq!(sum["alpha"].latest_version.as_deref(), Some("1.10.0"));
        assert!(sum["alpha"].deprecated);
        assert_eq!(
            record_versions(&cat, "alpha"),
            ["2.0.0-rc.1", "1.10.0", "1.2.0"]
        );
    }

    #[test]
    fn parses_json() {
        let json = r#"{"apiVersion":"v1","entries":{"alpha":[
            {"name":"alpha","version":"1.0.0","appVersion":"1","description":"d","urls":["a.tgz"],"digest":"x","created":"2024-01-01T00:00:00Z","deprecated":false},
            {"name":"alpha","version":"1.1.0","appVersion":1.5,"description":null,"urls":null},
            null,
            {"name":"alpha","version":"bad"}]},"generated":"2024-01-01T00:00:00Z"}"#;
        let idx = parse_index(json.as_bytes(), "u").unwrap();
        assert_eq!(idx.skipped, 1);
        let a = &idx.entries()["alpha"];
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].version.as_str(), a[0].app_version.as_str()),
            ("1.1.0", "1.5")
        );
        assert_eq!(a[1].urls, ["a.tgz"]);
        // Same result through the YAML parser (flow JSON with a trailing comment is not JSON).
        let yaml = format!("{json}\n# comment\n");
        let via_yaml = parse_index(yaml.as_bytes(), "u").unwrap();
        assert_eq!(via_yaml.entries(), idx.entries());
    }

    fn not_an_index(doc: &str) -> String {
        match parse_index(doc.as_bytes(), "https://user:pw@h/r/index.yaml?token=t") {
            Err(e @ Error::NotAnIndex { .. }) => {
                let s = e.to_string();
                assert!(!s.contains("pw") && !s.contains("token=t"), "{s}");
                s
            }
            other => panic!("{doc:?}: {other:?}"),
        }
    }

    #[test]
    fn refuses_what_is_not_an_index() {
        assert!(not_an_index("entries: {}\n").contains("no API version"));
        assert!(not_an_index("apiVersion: v1\ngenerated: x\n").contains("no entries"));
        assert!(not_an_index("<!DOCTYPE html>\n<html><body>Hi</body></html>").contains("HTML"));
        assert!(not_an_index("  \n\t").contains("empty"));
        assert!(not_an_index("").contains("empty"));
        assert!(
            not_an_index("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 1}\n")
                .contains("no entries")
        );
        assert!(not_an_index("just some text").contains("not a YAML mapping"));
        assert!(not_an_index("- a\n- b\n").contains("not a YAML mapping"));
        assert!(not_an_index("apiVersion: v1\nentries: [1, 2]\n").contains("invalid YAML"));
        assert!(
            not_an_index("apiVersion: v1\nentries:\n  a: [{name: [x]}]\n").contains("invalid YAML")
        );
        assert!(not_an_index("key: [unclosed\n").contains("invalid YAML"));
        assert!(not_an_index("{\"apiVersion\": \"v1\"}").contains("no entries"));
        let long = format!("apiVersion: v1\nentries: \"{}\"\n", "x".repeat(5000));
        assert!(not_an_index(&long).len() < 400);
        // An empty repository is fine.
        let empty = parse_index(b"apiVersion: v1\nentries: {}\n", "u").unwrap();
        assert_eq!(empty.chart_count(), 0);
        let empty = parse_index(b"apiVersion: v1\nentries:\n", "u").unwrap();
        assert_eq!(empty.chart_count(), 0);
        let bom = parse_index(b"\xEF\xBB\xBFapiVersion: v1\nentries: {}\n", "u").unwrap();
        assert_eq!(bom.chart_count(), 0);
    }

    #[test]
    fn orders_ties_stably_and_lists_a_version_once() {
        // Equal precedence (build metadata) keeps index order; a version listed twice is kept
        // once, its first entry (the one `helm pull --version` downloads).
        let doc = "apiVersion: v1\nentries:\n  r:\n    - {name: r, version: 1.0.0+up2}\n    - {name: r, version: 1.0.0+up1, digest: a}\n    - {name: r, version: 2.0.0+up0}\n    - {name: r, version: 1.0.0+up1, digest: b}\n";
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        let v = versions(&idx, "r");
        assert_eq!(v, ["2.0.0+up0", "1.0.0+up2", "1.0.0+up1"]);
        assert_eq!(idx.entries()["r"][2].digest, "a");
        assert_eq!(idx.get("r", "1.0.0+up1").unwrap().digest, "a");
        assert_eq!(idx.version_count(), 3);
        assert_eq!(idx.catalog().version_count(), 3);
    }

    #[test]
    fn keywords_are_kept_and_sanitised() {
        let doc = "apiVersion: v1\nentries:\n  k:\n    - {name: k, version: 1.0.0, keywords: [web, \"a\\tb\", 12, null]}\n";
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        assert_eq!(idx.entries()["k"][0].keywords, ["web", "a b", "12", ""]);
        assert_eq!(
            idx.catalog().charts["k"].versions[0].keywords,
            ["web", "a b", "12", ""]
        );
    }

    // --- issue 7: hostile documents (points 5, 13, 14) ------------------------------------

    fn reason(doc: &str) -> String {
        match parse_index(doc.as_bytes(), "https://h/index.yaml") {
            Err(Error::NotAnIndex { reason, .. }) => reason,
            other => panic!("{doc:.80?}: {other:?}"),
        }
    }

    #[test]
    fn refuses_nesting_that_costs_quadratic_time() {
        // The issue's document: 42 s of CPU in serde_yaml before the guard.
        let brackets = format!(
            "apiVersion: v1\nentries: {}{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let r = reason(&brackets);
        assert!(
            r.contains("nested deeper than 64 levels at line 2, column 74"),
            "{r}"
        );
        let maps = format!(
            "apiVersion: v1\nentries: {}x{}\n",
            "{a: ".repeat(50_000),
            "}".repeat(50_000)
        );
        assert!(reason(&maps).contains("nested deeper than 64"));
        // As JSON too (serde_json refuses it at depth 128, then YAML is asked).
        let json = format!(
            "{{\"apiVersion\":\"v1\",\"entries\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(reason(&json).contains("nested deeper than 64"));
    }

    #[test]
    fn refuses_alias_bombs() {
        let doc = yaml_guard::alias_bomb();
        assert!(reason(&doc).contains("aliases"), "{}", reason(&doc));
        // Modest aliasing is read as Helm reads it.
        let shared = "apiVersion: v1\nentries:\n  c:\n    - &v {name: &n c, version: 1.0.0}\n    - *v\n    - {name: *n, version: 2.0.0}\n";
        let idx = parse_index(shared.as_bytes(), "u").unwrap();
        // The aliased entry is the same version listed twice: once.
        assert_eq!(versions(&idx, "c"), ["2.0.0", "1.0.0"]);
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let mut doc = String::from("apiVersion: v1\nentries:\n  c:\n");
        for i in 0..5000 {
            doc.push_str(&format!("  - {{name: c, version: 1.0.{i}}}\n"));
        }
        let past = ParseDeadline {
            at: Instant::now(),
            timeout: Duration::from_secs(2),
        };
        // Through the guard (flow style: the event pass runs) and through the entry visitors.
        let block = doc
            .replace("{name: c, version: ", "name: c\n    version: ")
            .replace('}', "");
        for d in [&doc, &block] {
            let err =
                parse_index_until(d.as_bytes(), "https://u:p@h/index.yaml", past).unwrap_err();
            assert!(matches!(err, Error::ParseTimeout { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "reading the index https://h/index.yaml took longer than request_timeout (2s)"
            );
        }
        let later = ParseDeadline {
            at: Instant::now() + Duration::from_secs(600),
            ..past
        };
        assert_eq!(
            parse_index_until(doc.as_bytes(), "u", later)
                .unwrap()
                .version_count(),
            5000
        );
    }

    #[test]
    fn explains_malformed_entries() {
        let r = reason("apiVersion: v1\nentries:\n  mychart:\n    - {name: mychart, version: 0.1.0}\n    - 42\n");
        assert_eq!(r, "invalid YAML: chart \"mychart\", entry 2 must be a mapping (name, version, urls, …), not a number (line 5, column 7)");
        let r =
            reason("apiVersion: v1\nentries:\n  other:\n    - name: [x]\n      version: 1.0.0\n");
        assert_eq!(r, "invalid YAML: chart \"other\", entry 1: `name` must be text, not a list (line 4, column 13)");
        let r = reason("apiVersion: v1\nentries:\n  - mychart\n");
        assert_eq!(r, "invalid YAML: `entries` must be a mapping of chart names to lists of versions, not a list (line 3, column 3)");
        let r = reason("apiVersion: v1\nentries:\n  c:\n    name: c\n");
        assert_eq!(r, "invalid YAML: the versions of chart \"c\" must be a list of chart versions, not a mapping (line 4, column 5)");
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c, version: 1.0.0, urls: x}\n");
        assert!(
            r.contains("entry 1: `urls` must be a list, not text"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c, deprecated: maybe}\n");
        assert!(
            r.contains("entry 1: `deprecated` must be true or false, not text"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c}\n  - {name: c, dependencies: [{name: [d]}]}\n");
        assert!(
            r.contains("chart \"c\", entry 2: `dependencies[0].name` must be text, not a list"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  ok: []\n  [a, b]: []\n");
        assert!(
            r.contains("a chart name (a key of `entries`) must be text, not a list (line 4"),
            "{r}"
        );
        let r = reason("apiVersion: v1\nentries:\n  c:\n  - {name: c, name: d}\n");
        assert!(
            r.starts_with("invalid YAML: chart \"c\", entry 1: `name` is given twice"),
            "{r}"
        );
        // Syntax errors keep libyaml's words, with the line.
        assert!(reason("apiVersion: v1\nentries: {a: [\n").contains("line 3"));
        // No serde internals anywhere.
        for doc in [
            "apiVersion: v1\nentries: {a: [1]}\n",
            "apiVersion: v1\nentries: {a: [{dependencies: [1]}]}\n",
            "apiVersion: v1\nentries: {a: [{maintainers: {x: 1}}]}\n",
        ] {
            let r = reason(doc);
            assert!(
                !r.contains("Raw") && !r.contains("struct") && !r.contains("expected"),
                "{r}"
            );
        }
    }
}
