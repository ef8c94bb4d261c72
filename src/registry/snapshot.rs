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
//! Format: `chartreg-snapshot.v1:` then base64 (standard, padded) of gzip of a JSON document
//! ([`Snapshot`]), written at gzip's best compression: Terraform's CPU per plan grows with the
//! bytes in state (BENCHMARKS.md, "Plan latency": ~0.25 s per MB on the project machine), the
//! snapshot is most of a registry's state, and it is encoded only when the catalog changes (level
//! 9 costs ~10 ms more per MB of JSON there, and makes a Rancher snapshot 14% smaller than level
//! 1). The decoder reads any gzip level.
//! ([`Snapshot`]). The prefix names the format version: a decoder meeting another version says so
//! instead of guessing. The format is internal and documented as such; it may change in any
//! release (the data sources of the same release read it).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The prefix of an encoded snapshot, naming its format version.
pub const PREFIX: &str = "chartreg-snapshot.v1:";

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
    /// `PREFIX` + base64(gzip(JSON)).
    /// The JSON is written straight into the compressor (through a 64 KiB buffer): the whole
    /// document is never held, only its compressed form (issue 11: large indexes).
    pub fn encode(&self) -> String {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut w = std::io::BufWriter::with_capacity(64 << 10, gz);
        serde_json::to_writer(&mut w, self).expect("a snapshot always serialises");
        w.flush().expect("writing to memory");
        let gz = w.into_inner().map_err(|_| ()).expect("writing to memory");
        let bytes = gz.finish().expect("writing to memory");
        let mut out = String::with_capacity(PREFIX.len() + bytes.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        base64::engine::general_purpose::STANDARD.encode_string(&bytes, &mut out);
        out
    }

    pub fn decode(s: &str) -> Result<Snapshot, SnapshotError> {
        if s.is_empty() {
            return Err(SnapshotError::Empty);
        }
        let Some(body) = s.strip_prefix(PREFIX) else {
            let format = s.split(':').next().unwrap_or("").chars().take(40).collect();
            return Err(SnapshotError::UnknownFormat(format));
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
        serde_json::from_slice(&json).map_err(|e| SnapshotError::Corrupt(format!("json: {e}")))
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

    /// The snapshot is written at gzip's best level (state bytes cost Terraform CPU at every
    /// plan), and one written at another level (the fast level earlier builds wrote) still reads.
    #[test]
    fn written_at_best_compression_read_at_any() {
        let s = big();
        let enc = s.encode();
        let body = base64::engine::general_purpose::STANDARD
            .decode(enc.strip_prefix(PREFIX).unwrap())
            .unwrap();
        let best = gzip_json(&s, flate2::Compression::best());
        let fast = gzip_json(&s, flate2::Compression::fast());
        // streamed in 64 KiB writes: within a few bytes of one best-level write, below fast
        assert!(body.len() < fast.len() && body.len().abs_diff(best.len()) * 100 < best.len());
        assert!(
            best.len() < fast.len(),
            "best {} fast {}",
            best.len(),
            fast.len()
        );
        let mut old = PREFIX.to_string();
        base64::engine::general_purpose::STANDARD.encode_string(&fast, &mut old);
        assert_eq!(Snapshot::decode(&old).unwrap(), s);
        assert_eq!(Snapshot::decode(&enc).unwrap(), s);
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
