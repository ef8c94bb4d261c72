//! The properties the fuzz targets check, one function per target, taking the fuzzer's bytes.
//!
//! Why a module of the library: the coverage-guided targets in `fuzz/fuzz_targets/` (libFuzzer,
//! `make fuzz`) and the regression test below (`cargo test --lib`, what `make test` and CI run,
//! with no fuzzing toolchain) must run the very same checks on the very same inputs: the kept
//! corpus (`fuzz/corpus/<target>/`) and every crash ever found (`fuzz/regressions/<target>/`).
//! Compiled only for tests and for fuzzing builds (`--cfg fuzzing`, set by `make fuzz` and by
//! cargo-fuzz); the provider binary has none of it. RELIABILITY.md ("Fuzzing") has the figures.
//!
//! Every check panics on a broken property; a panic is what libFuzzer reports as a crash. Beyond
//! "never panics", each target asserts what its parser promises (see each function).

use std::time::Duration;

use crate::error::Error;
use crate::registry::catalog::SemVer;
use crate::registry::chart_archive::{self, MAX_DECOMPRESSED_FILE_SIZE};
use crate::registry::helm_index::{self, ParseDeadline, ParsedIndex, MAX_SKIPPED_EXAMPLES};
use crate::registry::oci::{normalize_base_path, parse_endpoint, validate_repository_path};
use crate::registry::resolve::{self, Constraint, Dialect};
use crate::registry::snapshot::VersionRecord;

/// The targets, by name: the name of the `fuzz/fuzz_targets/<name>.rs` binary and of its corpus
/// and regression folders.
/// A target's check: the fuzzer's bytes in, a panic on a broken property.
pub type Check = fn(&[u8]);

pub const TARGETS: &[(&str, Check)] = &[
    ("helm_index", helm_index),
    ("endpoints", endpoints),
    ("constraint", constraint),
    ("chart_archive", chart_archive),
    ("chart_tar", chart_tar),
    ("archive_path", archive_path),
];

/// Where a URL is needed only for error texts.
const INDEX_URL: &str = "https://fuzz.invalid/charts/index.yaml";

/// The outcome of a parse, comparable: the index, or the error's text.
#[derive(Debug, PartialEq, Eq)]
enum IndexOutcome {
    Parsed {
        entries: Vec<(String, Vec<helm_index::IndexEntry>)>,
        skipped: usize,
        skipped_examples: Vec<String>,
    },
    Failed(String),
}

fn outcome(r: &crate::error::Result<ParsedIndex>) -> IndexOutcome {
    match r {
        Ok(p) => IndexOutcome::Parsed {
            entries: p.entries().into_iter().collect(),
            skipped: p.skipped,
            skipped_examples: p.skipped_examples.clone(),
        },
        Err(e) => IndexOutcome::Failed(e.to_string()),
    }
}

/// Every way the library parses index bytes, named. They must all give the same answer.
///
/// On main there is one parser behind two entry points (with and without a deadline), so this
/// checks that the parse is deterministic and that a far deadline changes nothing. A fast path
/// next to the full-YAML fallback adds itself here (e.g. `("fallback", parse_index_full(..))`):
/// the property "fast path and fallback agree" is then checked on every input, with no change to
/// the target or the regression test.
fn index_parses(data: &[u8]) -> Vec<(&'static str, crate::error::Result<ParsedIndex>)> {
    vec![
        ("parse_index", helm_index::parse_index(data, INDEX_URL)),
        // the fast path, when it takes a document, must agree with the full-YAML fallback
        (
            "full parser",
            helm_index::parse_index_full_parser(data, INDEX_URL),
        ),
        (
            "parse_index_until(1h)",
            helm_index::parse_index_until(
                data,
                INDEX_URL,
                ParseDeadline::after(Duration::from_secs(3600)),
            ),
        ),
    ]
}

/// Helm index parser: never panics; every parse path gives the same index or the same error; a
/// parsed index keeps its promises (charts named as `sanitize` leaves them, each version once,
/// newest first, text fields sanitised, at most [`MAX_SKIPPED_EXAMPLES`] examples) and turns into
/// a catalog with the same counts.
pub fn helm_index(data: &[u8]) {
    let parses = index_parses(data);
    let (first_name, first) = &parses[0];
    let expected = outcome(first);
    for (name, r) in &parses[1..] {
        assert_eq!(
            outcome(r),
            expected,
            "index parse paths disagree: {name} vs {first_name}"
        );
    }
    let Ok(idx) = first else { return };
    assert!(idx.skipped_examples.len() <= MAX_SKIPPED_EXAMPLES.min(idx.skipped));
    for (chart, list) in &idx.entries() {
        assert!(!chart.is_empty(), "a chart with an empty name");
        assert_eq!(
            &helm_index::sanitize(chart.clone()),
            chart,
            "a chart name that sanitize changes"
        );
        assert!(!list.is_empty(), "chart {chart:?} listed without a version");
        let mut seen = std::collections::HashSet::new();
        for e in list {
            assert!(seen.insert(&e.version), "{chart}: {:?} twice", e.version);
            for text in [&e.description, &e.app_version] {
                assert_eq!(&helm_index::sanitize(text.clone()), text, "not sanitised");
            }
        }
        for w in list.windows(2) {
            if let (Some(a), Some(b)) = (SemVer::parse(&w[0].version), SemVer::parse(&w[1].version))
            {
                assert!(a >= b, "{chart}: {} before {}", w[0].version, w[1].version);
            }
        }
    }
    let cat = idx.catalog();
    assert_eq!(cat.chart_count(), idx.chart_count());
    assert_eq!(cat.version_count(), idx.version_count());
}

/// The password of `user:password@` in `s`, when it is distinctive enough to look for in an
/// error text (4 characters or more, found once in the input).
fn userinfo_password(s: &str) -> Option<&str> {
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (password.len() >= 4 && s.matches(password).count() == 1).then_some(password)
}

fn assert_no_secret(input: &str, err: &Error) {
    if let Some(pw) = userinfo_password(input) {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(pw), "the error shows the password: {text}");
    }
}

/// Endpoint parsers: the first line is an endpoint, the rest a chart URL from an index.
///
/// - OCI (`parse_endpoint`): never panics; an endpoint is http or https, a lower-case host, a
///   path without surrounding slashes that is a valid repository path, and parsing what it prints
///   gives it back; an error never shows a password given in the endpoint.
/// - Helm (`index_url`, `resolve_chart_url`): an index URL is http(s) with a host, ends with
///   `/index.yaml`, has no fragment, and is found again from its directory; an error never shows a
///   password; a chart URL resolved against it is http(s) with a host.
/// - Base paths: `normalize_base_path` is idempotent and agrees with `validate_repository_path`.
pub fn endpoints(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (endpoint, chart_url) = text.split_once('\n').unwrap_or((text, ""));

    match parse_endpoint(endpoint) {
        Ok(e) => {
            assert!(e.scheme == "http" || e.scheme == "https", "{e:?}");
            assert!(!e.host.is_empty(), "{e:?}");
            assert!(
                !e.host.bytes().any(|b| b.is_ascii_uppercase()),
                "host not lower-case: {e:?}"
            );
            assert!(!e.path.starts_with('/') && !e.path.ends_with('/'), "{e:?}");
            assert!(validate_repository_path(&e.path).is_ok(), "{e:?}");
            let printed = format!("{}/{}", e.base_url(), e.path);
            assert_eq!(
                parse_endpoint(&printed).ok().as_ref(),
                Some(&e),
                "{printed:?} does not parse back"
            );
            let _ = (
                e.display(),
                e.repository_path(chart_url),
                e.catalog_key(chart_url),
            );
        }
        Err(err) => assert_no_secret(endpoint, &err),
    }

    match helm_index::index_url(endpoint) {
        Ok(u) => {
            assert!(matches!(u.scheme(), "http" | "https"), "{u}");
            assert!(u.host_str().is_some_and(|h| !h.is_empty()), "{u}");
            assert!(u.path().ends_with("/index.yaml"), "{u}");
            assert!(u.fragment().is_none(), "{u}");
            let mut dir = u.clone();
            let p = u.path().strip_suffix("index.yaml").unwrap_or(u.path());
            dir.set_path(p);
            assert_eq!(
                helm_index::index_url(dir.as_str()).ok().as_ref(),
                Some(&u),
                "the index URL of {dir} is not {u}"
            );
            match helm_index::resolve_chart_url(&u, chart_url) {
                Ok(c) => {
                    assert!(matches!(c.scheme(), "http" | "https"), "{c}");
                    assert!(c.host_str().is_some_and(|h| !h.is_empty()), "{c}");
                }
                Err(err) => assert_no_secret(chart_url, &err),
            }
        }
        Err(err) => assert_no_secret(endpoint, &err),
    }

    for p in [endpoint, chart_url] {
        match normalize_base_path(p) {
            Ok(n) => {
                assert_eq!(normalize_base_path(&n).as_ref(), Ok(&n), "not idempotent");
                assert!(validate_repository_path(&n).is_ok());
            }
            Err(_) => assert!(validate_repository_path(p.trim().trim_matches('/')).is_err()),
        }
    }
}

/// Version constraints (Masterminds semantics, both dialects): the first line is a constraint,
/// each further line a version (at most 64).
///
/// Never panics; parsing is deterministic; `parse_strict` accepts only what `SemVer::parse`
/// accepts; an exact strict version, as a constraint, admits itself; the version `resolve_helm`
/// picks is the one asked for or the newest version the constraint admits.
pub fn constraint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let wanted = lines.next().unwrap_or("");
    let versions: Vec<&str> = lines.take(64).collect();
    let records: Vec<VersionRecord> = versions
        .iter()
        .map(|v| VersionRecord {
            version: v.to_string(),
            ..VersionRecord::default()
        })
        .collect();

    for v in versions.iter().chain([&wanted]) {
        let parsed = SemVer::parse(v);
        if resolve::parse_strict(v).is_some() {
            assert!(parsed.is_some(), "{v:?}: strict but not lenient");
            let c = Constraint::parse(v).unwrap_or_else(|e| panic!("{v:?} as a constraint: {e}"));
            assert!(
                c.check(parsed.as_ref().unwrap()),
                "{v:?} does not admit itself"
            );
        }
        if resolve::is_exact_version(v) {
            assert!(parsed.is_some(), "{v:?}: exact but not a version");
        }
    }

    for dialect in [Dialect::Helm3, Dialect::Helm4] {
        let c = Constraint::parse_as(wanted, dialect);
        let again = Constraint::parse_as(wanted, dialect);
        assert_eq!(
            format!("{c:?}"),
            format!("{again:?}"),
            "parse is not deterministic"
        );
        let picked = resolve::resolve_helm_as(&records, Some(wanted), dialect);
        // An empty request means "the newest stable version" (`*`), as in Helm.
        let used = if wanted.is_empty() {
            Ok(Constraint::any())
        } else {
            c
        };
        if let Ok(c) = &used {
            for v in &versions {
                if let Some(sv) = SemVer::parse(v) {
                    c.check(&sv);
                }
            }
            if let Ok(r) = &picked {
                if r.version != wanted {
                    let sv = SemVer::parse(&r.version).expect("picked an unparsable version");
                    assert!(c.check(&sv), "picked {:?}, not admitted", r.version);
                    for v in &versions {
                        if let Some(other) = SemVer::parse(v).filter(|o| c.check(o)) {
                            assert!(other <= sv, "picked {:?} but {v:?} is newer", r.version);
                        }
                    }
                }
            }
        }
        let _ = resolve::resolve_oci_as(&records, Some(wanted), dialect);
    }
    let _ = resolve::resolve_helm(&records, None);
    let _ = resolve::closest_versions(&versions, Some(wanted));
    let _ = resolve::closest_names(&versions, wanted);
}

/// Chart archive reader on raw bytes (a `.tgz` as downloaded): never panics, deterministic, and
/// a chart it reads has a name, a version and files within the per-file cap.
pub fn chart_archive(data: &[u8]) {
    let url = "https://user:fuzz-archive-secret@fuzz.invalid/c/x-1.0.0.tgz?token=t0k3n-fuzz";
    let first = chart_archive::read_chart_archive(data, url);
    let again = chart_archive::read_chart_archive(data, url);
    match (&first, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the reader is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("the reader is not deterministic: {first:?} then {again:?}"),
    }
    match first {
        Ok(d) => {
            assert!(!d.name.is_empty() && !d.version.is_empty(), "{d:?}");
            for text in [&d.values, &d.values_schema].into_iter().flatten() {
                assert!(text.len() as u64 <= MAX_DECOMPRESSED_FILE_SIZE);
            }
        }
        Err(e) => {
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains("fuzz-archive-secret") && !text.contains("t0k3n-fuzz"),
                "the error shows a secret of the URL: {text}"
            );
        }
    }
}

/// Chart archive reader on a tar stream: the bytes are gzip-compressed here (so that the fuzzer
/// mutates tar headers and Chart.yaml, not deflate blocks), then read as [`chart_archive`] reads.
pub fn chart_tar(data: &[u8]) {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip into memory");
    chart_archive(&gz.finish().expect("gzip into memory"));
}

/// The archive's entry names (one a line): a name the reader accepts is relative, clean (no
/// empty, `.` or `..` component, no drive letter) and so never leaves the chart's directory.
pub fn archive_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for raw in text.split('\n') {
        let Ok(n) = chart_archive::chart_path(raw) else {
            continue;
        };
        assert!(!n.is_empty() && !n.starts_with('/'), "{raw:?} → {n:?}");
        assert!(
            n.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
            "{raw:?} → {n:?} is not clean"
        );
        let b = n.as_bytes();
        assert!(
            !(b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/'),
            "{raw:?} → {n:?} has a drive letter"
        );
        assert_eq!(
            chart_archive::chart_path(&format!("c/{n}")).as_deref(),
            Ok(n.as_str()),
            "{n:?} is not stable"
        );
    }
}

#[cfg(test)]
mod tests {
    //! The regression test: every kept input of every target through its check.

    use std::path::{Path, PathBuf};

    use super::TARGETS;

    fn inputs(dir: &Path) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = rd
            .map(|e| e.expect("read_dir entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn corpus_and_regressions_replay() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut total = 0;
        for (name, check) in TARGETS {
            let corpus = inputs(&root.join("corpus").join(name));
            assert!(
                !corpus.is_empty(),
                "fuzz/corpus/{name}/ is empty: the target has no kept input"
            );
            let regressions = inputs(&root.join("regressions").join(name));
            for file in corpus.iter().chain(&regressions) {
                let data = std::fs::read(file).expect("read a kept input");
                let run = std::panic::catch_unwind(|| check(&data));
                assert!(run.is_ok(), "{name}: {} fails its check", file.display());
                total += 1;
            }
        }
        assert!(total >= TARGETS.len());
    }
}
