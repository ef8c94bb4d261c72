//! The catalog snapshot: every chart version a registry holds, with what resolving a chart needs
//! offline (digest, download URLs or OCI reference, app version, creation time, deprecation,
//! description and keywords for search), kept in state as one computed string attribute
//! (`catalog_snapshot`) of both registry resources.
//!
//! Why one string and not the per-version lists in `charts`: Terraform walks every element of
//! every list in state at every plan, and with real-size indexes (22k versions for 20 registries)
//! that walk was 90% of a plan's CPU. One opaque string costs Terraform nothing to walk; the data
//! sources decode it from the registry reference they are given, with synchronization on or off.
//!
//! Format: a prefix naming the format version, then base64 (standard, padded) of gzip of a JSON
//! document. Written: `chartreg-snapshot.v2:` (`snapshot/v2.rs`: each chart's versions written
//! as changes from the previous version, URLs as templates around the version, the digests in
//! one column), compressed at a fast deflate level (2) by the pure-Rust zlib-rs backend:
//! Terraform's CPU per plan grows with the bytes in state (BENCHMARKS.md, "Plan latency": ~0.25 s
//! per MB on the project machine) and the snapshot is most of a registry's state, so v2 at that level is smaller than v1
//! at the best level, and several times cheaper to write (BENCHMARKS.md, "Index parsing").
//! Read: v2, and `chartreg-snapshot.v1:` (gzip of the [`Snapshot`] JSON as serde writes it, any
//! gzip level), which states written by earlier releases hold. A decoder meeting another version
//! says so instead of guessing. The format is internal and documented as such; it may change in
//! any release (the data sources of the same release read it, and a release reads the formats of
//! the releases before it).

use std::collections::BTreeMap;
use std::io::{Read, Write};

mod v2;
pub(crate) use v2::{Encoder, Row, Strs};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The prefix of an encoded snapshot, naming the format version this release writes.
pub const PREFIX: &str = v2::PREFIX;

/// The prefix of the first format (still read: states written by earlier releases hold it).
pub const PREFIX_V1: &str = "chartreg-snapshot.v1:";

/// The deflate level of the snapshot: zlib-rs' level 2, its `deflate_fast` (level 1 is
/// `deflate_quick`, whose static Huffman codes spend 8 bits on a hex digit of the digest column:
/// larger than v1; 3-6 are `deflate_medium`, 2-4% smaller for a clear cost in time). Figures in
/// BENCHMARKS.md, "Index parsing".
const LEVEL: u32 = 2;

/// Where an [`Encoder`] writes: JSON → 64 KiB buffer → gzip → base64 → the string.
pub(crate) type Sink = std::io::BufWriter<
    flate2::write::GzEncoder<
        base64::write::EncoderStringWriter<'static, base64::engine::GeneralPurpose, String>,
    >,
>;

/// Encode a snapshot whose charts `write` gives to the encoder (in key order): the string that
/// [`Snapshot::decode`] reads. Nothing is held but the compressed form (issue 11: large indexes).
pub(crate) fn encode_with<'a>(
    kind: Kind,
    index_url: &str,
    write: impl FnOnce(&mut Encoder<'a, Sink>) -> std::io::Result<()>,
) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(PREFIX);
    let b64 = base64::write::EncoderStringWriter::from_consumer(
        out,
        &base64::engine::general_purpose::STANDARD,
    );
    let gz = flate2::write::GzEncoder::new(b64, flate2::Compression::new(LEVEL));
    let sink = std::io::BufWriter::with_capacity(64 << 10, gz);
    let done = (|| {
        let mut enc = Encoder::new(sink, kind, index_url)?;
        write(&mut enc)?;
        let mut sink = enc.finish()?;
        sink.flush()?;
        let gz = sink.into_inner().map_err(|e| e.into_error())?;
        Ok::<_, std::io::Error>(gz.finish()?.into_inner())
    })();
    done.expect("writing a snapshot to memory")
}

/// What an encoded snapshot may grow to when decoded (a state is local input, but a hand-edited
/// one must not make the plugin allocate without bound).
pub const MAX_DECODED: u64 = 512 * 1024 * 1024;

/// Which protocol the registry speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A classic Helm repository (`index.yaml`).
    #[default]
    Helm,
    /// An OCI registry.
    Oci,
}

/// One chart version, as the data sources need it without the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The version exactly as the registry writes it (Helm: the index; OCI: the tag with `_`
    /// turned back into `+`).
    #[serde(rename = "v")]
    pub version: String,
    /// sha256 (lower-case hex, no `sha256:` prefix) of the chart archive, or empty when unknown
    /// (an index entry without `digest`; an OCI version whose manifest was not read).
    #[serde(rename = "d", default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Helm: the entry's `urls` as written in the index (relative or absolute). OCI: empty.
    #[serde(rename = "u", default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// OCI: the manifest digest (`sha256:…`) when known. Helm: empty.
    #[serde(rename = "m", default, skip_serializing_if = "String::is_empty")]
    pub manifest_digest: String,
    #[serde(rename = "a", default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(rename = "k", default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// RFC 3339 as written by the registry (Helm: `created`; OCI: the manifest's
    /// `org.opencontainers.image.created` annotation when known).
    #[serde(rename = "c", default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    #[serde(rename = "x", default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One chart: its name and every version, newest first as Helm sorts, each version once (the
/// first entry of a version listed more than once, the one `helm pull --version` downloads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartRecords {
    /// The chart's own name (Helm: the index key; OCI: the last segment of the repository path,
    /// or `name` from its config when read).
    #[serde(rename = "n")]
    pub name: String,
    /// OCI: the repository path in the registry (`org/charts/nginx`). Helm: empty.
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    #[serde(rename = "vs")]
    pub versions: Vec<VersionRecord>,
}

/// Every chart of a registry, keyed as `charts` in state is (Helm: chart name; OCI: repository
/// path relative to the endpoint path).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub kind: Kind,
    /// Helm: the URL the index was downloaded from (relative chart URLs resolve against it), with
    /// no userinfo. OCI: empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub index_url: String,
    pub charts: BTreeMap<String, ChartRecords>,
}

/// Why a string is not a snapshot this release can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("the catalog snapshot is empty (the registry has not been read yet)")]
    Empty,
    #[error(
        "the catalog snapshot is in format {0:?}, which this release of chartreg does not read"
    )]
    UnknownFormat(String),
    #[error("the catalog snapshot is corrupt: {0}")]
    Corrupt(String),
}

impl Snapshot {
    /// `PREFIX` + base64(gzip(JSON)) in format v2 (`snapshot/v2.rs`).
    pub fn encode(&self) -> String {
        encode_with(self.kind, &self.index_url, |enc| {
            for (key, c) in &self.charts {
                enc.chart(key, &c.name, &c.repository)?;
                for v in &c.versions {
                    enc.row(Row::of(v))?;
                }
                enc.end_chart()?;
            }
            Ok(())
        })
    }

    pub fn decode(s: &str) -> Result<Snapshot, SnapshotError> {
        if s.is_empty() {
            return Err(SnapshotError::Empty);
        }
        let (v1, body) = match (s.strip_prefix(PREFIX), s.strip_prefix(PREFIX_V1)) {
            (Some(body), _) => (false, body),
            (None, Some(body)) => (true, body),
            (None, None) => {
                let format = s.split(':').next().unwrap_or("").chars().take(40).collect();
                return Err(SnapshotError::UnknownFormat(format));
            }
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| SnapshotError::Corrupt(format!("base64: {e}")))?;
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(MAX_DECODED + 1)
            .read_to_end(&mut json)
            .map_err(|e| SnapshotError::Corrupt(format!("gzip: {e}")))?;
        if json.len() as u64 > MAX_DECODED {
            return Err(SnapshotError::Corrupt(format!(
                "larger than {MAX_DECODED} bytes decoded"
            )));
        }
        if v1 {
            return serde_json::from_slice(&json)
                .map_err(|e| SnapshotError::Corrupt(format!("json: {e}")));
        }
        v2::decode_json(&json)
    }

    /// The records of `chart` (the state key), if the registry has it.
    pub fn chart(&self, key: &str) -> Option<&ChartRecords> {
        self.charts.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let mut charts = BTreeMap::new();
        charts.insert(
            "nginx".to_string(),
            ChartRecords {
                name: "nginx".into(),
                repository: String::new(),
                versions: vec![VersionRecord {
                    version: "15.0.0+build.1".into(),
                    digest: "ab".repeat(32),
                    urls: vec!["charts/nginx-15.0.0.tgz".into()],
                    app_version: "1.25.0".into(),
                    description: "NGINX".into(),
                    keywords: vec!["web".into()],
                    created: "2024-01-01T00:00:00Z".into(),
                    deprecated: true,
                    ..Default::default()
                }],
            },
        );
        Snapshot {
            kind: Kind::Helm,
            index_url: "https://charts.example.com/index.yaml".into(),
            charts,
        }
    }

    #[test]
    fn round_trips() {
        let s = sample();
        let enc = s.encode();
        assert!(enc.starts_with(PREFIX));
        assert_eq!(Snapshot::decode(&enc).unwrap(), s);
        assert_eq!(
            Snapshot::decode(&Snapshot::default().encode()).unwrap(),
            Snapshot::default()
        );
    }

    /// A catalog the size of a real one (versions with repeated descriptions, URLs and dates).
    fn big() -> Snapshot {
        use sha2::Digest as _;
        let mut s = sample();
        let mut versions = Vec::new();
        for i in 0..600 {
            versions.push(VersionRecord {
                version: format!("104.{}.{}+up1.{i}.0", i / 10, i % 10),
                digest: hex::encode(sha2::Sha256::digest(i.to_string())),
                urls: vec![format!(
                    "assets/nginx/nginx-104.{}.{}+up1.{i}.0.tgz",
                    i / 10,
                    i % 10
                )],
                app_version: format!("1.{i}.0"),
                description:
                    "NGINX Open Source is a web server that can be also used as a reverse proxy"
                        .into(),
                created: format!("2024-01-{:02}T00:00:00.123456789Z", i % 28 + 1),
                ..Default::default()
            });
        }
        s.charts.get_mut("nginx").unwrap().versions = versions;
        s
    }

    fn gzip_json(s: &Snapshot, level: flate2::Compression) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
        gz.write_all(&serde_json::to_vec(s).unwrap()).unwrap();
        gz.finish().unwrap()
    }

    /// v1 as earlier releases wrote it (`sample()`: gzip of the serde JSON): states hold it.
    const V1_SAMPLE: &str = "chartreg-snapshot.v1:H4sIAAAAAAACA6VPSw6CMBC9y2yFaSG66QWMG1cujIaYAg0QWiTQIkq4u9PiDUxnMe/X1y7QNl0JAmqlDURAQM0PN2hPWduPgrGiloMdUc3S9Fph8TQs2PAtjabMpoNYoKuabg4LxTcQwUTSfYGJqOSAHPkud40uMSHNN8v8v0PXOGr4PYOF2nhrQlt9IItA+m5MiSOzJXA+ns5X2lsffKncmwriU57uY57QXDgXYW5koz/Zwak1W9f1CxJnmeoyAQAA";

    #[test]
    fn reads_v1_snapshots() {
        assert_eq!(Snapshot::decode(V1_SAMPLE).unwrap(), sample());
        // At any gzip level, of any size.
        let s = big();
        for level in [flate2::Compression::fast(), flate2::Compression::best()] {
            let mut old = PREFIX_V1.to_string();
            base64::engine::general_purpose::STANDARD.encode_string(gzip_json(&s, level), &mut old);
            assert_eq!(Snapshot::decode(&old).unwrap(), s);
        }
    }

    /// v2 at its level is smaller than v1 at the best level (state bytes cost Terraform CPU
    /// at every plan).
    #[test]
    fn v2_is_smaller_than_v1_at_its_best() {
        let s = big();
        let enc = s.encode();
        assert!(enc.starts_with("chartreg-snapshot.v2:"));
        let mut v1 = PREFIX_V1.to_string();
        base64::engine::general_purpose::STANDARD
            .encode_string(gzip_json(&s, flate2::Compression::best()), &mut v1);
        assert!(enc.len() < v1.len(), "v2 {} v1 {}", enc.len(), v1.len());
        assert_eq!(Snapshot::decode(&enc).unwrap(), s);
    }

    /// Every field changing or not from one row to the next, URLs with and without the version,
    /// digests that cannot be packed, OCI charts whose name differs from the key.
    #[test]
    fn round_trips_every_change() {
        let rec = |v: &str, d: &str, u: &[&str], a: &str, k: &[&str], x: bool| VersionRecord {
            version: v.into(),
            digest: d.into(),
            urls: u.iter().map(|s| s.to_string()).collect(),
            manifest_digest: if x {
                format!("sha256:{v}")
            } else {
                String::new()
            },
            app_version: a.into(),
            description: if a.is_empty() {
                String::new()
            } else {
                format!("about {a}")
            },
            keywords: k.iter().map(|s| s.to_string()).collect(),
            created: if x {
                String::new()
            } else {
                format!("2024-{v}")
            },
            deprecated: x,
        };
        let h = |c: char| c.to_string().repeat(64);
        let mut charts = BTreeMap::new();
        charts.insert(
            "a".to_string(),
            ChartRecords {
                name: "a".into(),
                repository: String::new(),
                versions: vec![
                    rec(
                        "2.0.0",
                        &h('a'),
                        &["x/a-2.0.0.tgz", "https://m/a-2.0.0.tgz"],
                        "1",
                        &["k"],
                        false,
                    ),
                    rec(
                        "1.0.0",
                        &h('b'),
                        &["x/a-1.0.0.tgz", "https://m/a-1.0.0.tgz"],
                        "1",
                        &["k"],
                        true,
                    ),
                    rec("0.9.0", &h('c'), &["x/a-0.9.0.tgz"], "", &[], false),
                    rec("0.8.0", &h('d'), &["static.tgz"], "", &[], false),
                    rec("0.7.0", &h('e'), &["static.tgz"], "2", &["k", "l"], false),
                    rec("0.6.0", &h('f'), &[], "2", &["k", "l"], false),
                    rec("1", &h('0'), &["1/1/a-1.tgz"], "", &[], false),
                    rec("2", &h('1'), &["1/1/a-1.tgz"], "", &[], false),
                ],
            },
        );
        charts.insert(
            "org/b".to_string(),
            ChartRecords {
                name: "b".into(),
                repository: "org/b".into(),
                versions: vec![rec("1.0.0", &h('9'), &[], "\\\"\n\u{e9}", &[], true)],
            },
        );
        let s = Snapshot {
            kind: Kind::Oci,
            index_url: String::new(),
            charts,
        };
        assert_eq!(Snapshot::decode(&s.encode()).unwrap(), s);
        // One digest that is not 64 hex digits: all are written as strings.
        let mut t = s.clone();
        t.charts.get_mut("a").unwrap().versions[3].digest = String::new();
        t.charts.get_mut("org/b").unwrap().versions[0].digest = "ABC".into();
        assert_eq!(Snapshot::decode(&t.encode()).unwrap(), t);
        let mut u = s;
        u.kind = Kind::Helm;
        u.index_url = "https://h/index.yaml".into();
        assert_eq!(Snapshot::decode(&u.encode()).unwrap(), u);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(Snapshot::decode(""), Err(SnapshotError::Empty));
        assert!(matches!(
            Snapshot::decode("chartreg-snapshot.v9:xxx"),
            Err(SnapshotError::UnknownFormat(f)) if f == "chartreg-snapshot.v9"
        ));
        assert!(matches!(
            Snapshot::decode(&format!("{PREFIX}!!!")),
            Err(SnapshotError::Corrupt(_))
        ));
        assert!(matches!(
            Snapshot::decode(&format!("{PREFIX}aGVsbG8=")),
            Err(SnapshotError::Corrupt(_))
        ));
    }
}
