//! The config blobs of one OCI registry in the disk cache, kept as one file (the "pack").
//!
//! Why one file and not one per digest: a cold sync of 250 repositories × 30 tags downloads
//! 7,500 config blobs of a few hundred bytes each. Written as 7,500 files, their creation (ext4
//! inode allocation, slower right after many files were deleted) took a third of the client's
//! CPU under perf, and the client CPU of the bench's cold sync varied from 2.3 to 6.8 s with it
//! (1.9 to 2.3 s without any cache, 2.1 to 3.0 s with the pack; `cargo bench --bench oci_sync`,
//! BENCHMARKS.md "OCI sync"). The pack is read once per client, at its first config that is not
//! in memory, and written once per sync (or
//! [`OciClient::chart_config`](super::OciClient::chart_config)) that downloaded any, off the
//! async workers.
//!
//! Trust: an entry is used only if its bytes match its digest, so a corrupt, truncated or
//! hand-edited pack costs downloads, never a wrong config. Two processes writing the pack of
//! one registry at once: the last rename wins (the file is written whole, atomically) and the
//! other's new entries are downloaded again next time.
//!
//! Format: entries `<digest> <length>\n<bytes>\n`, one after the other; reading stops at the
//! first entry that is not of this shape. Entries not used by the writing client are dropped
//! once the pack would exceed [`PACK_LIMIT`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{lock, OciClient, BLOB_CACHE_KIND};

/// The pack's name in the cache (kind [`BLOB_CACHE_KIND`]): a plain
/// word, never a digest's file name (`sha256-…`).
pub(super) const PACK_KEY: &str = "configs";

/// Size above which a rewrite keeps only the entries the writing client used.
pub(super) const PACK_LIMIT: usize = 32 * 1024 * 1024;

/// The entries of a pack (see the module docs); what follows a malformed entry is ignored.
pub(super) fn decode(mut bytes: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    while !bytes.is_empty() {
        let Some(eol) = bytes.iter().position(|b| *b == b'\n') else {
            break;
        };
        let head = std::str::from_utf8(&bytes[..eol]).ok();
        let Some((digest, len)) = head.and_then(|h| h.split_once(' ')) else {
            break;
        };
        let Ok(len) = len.parse::<usize>() else {
            break;
        };
        let body = &bytes[eol + 1..];
        if body.len() <= len || body[len] != b'\n' {
            break;
        }
        out.insert(digest.to_string(), body[..len].to_vec());
        bytes = &body[len + 1..];
    }
    out
}

/// A pack of `fresh` (downloaded now) and the entries of `old` that `fresh` does not replace;
/// beyond [`PACK_LIMIT`], only the entries whose digest is in `used` are kept.
pub(super) fn encode(
    fresh: &[(String, Vec<u8>)],
    old: &HashMap<String, Vec<u8>>,
    used: &HashSet<String>,
) -> Vec<u8> {
    let new: HashSet<&str> = fresh.iter().map(|(d, _)| d.as_str()).collect();
    let mut entries: Vec<(&str, &[u8])> = fresh
        .iter()
        .map(|(d, b)| (d.as_str(), b.as_slice()))
        .collect();
    // Oldest first is unknown (a map): digest order keeps the file the same for the same set.
    let mut kept: Vec<(&str, &[u8])> = old
        .iter()
        .filter(|(d, _)| !new.contains(d.as_str()))
        .map(|(d, b)| (d.as_str(), b.as_slice()))
        .collect();
    kept.sort_unstable_by_key(|(d, _)| *d);
    entries.extend(kept);
    let size = |e: &[(&str, &[u8])]| e.iter().map(|(d, b)| d.len() + b.len() + 24).sum::<usize>();
    if size(&entries) > PACK_LIMIT {
        entries.retain(|(d, _)| new.contains(d) || used.contains(*d));
    }
    let mut out = Vec::with_capacity(size(&entries));
    for (d, b) in entries {
        out.extend_from_slice(format!("{d} {}\n", b.len()).as_bytes());
        out.extend_from_slice(b);
        out.push(b'\n');
    }
    out
}

impl OciClient {
    /// The config blobs of the disk cache's pack, read once per client (off the async
    /// workers); empty without a cache or a pack.
    pub(super) async fn pack(&self) -> &Mutex<HashMap<String, Vec<u8>>> {
        self.pack
            .get_or_init(|| async {
                let Some(cache) = self.cache.clone() else {
                    return Mutex::default();
                };
                let entries = tokio::task::spawn_blocking(move || {
                    cache
                        .get(BLOB_CACHE_KIND, PACK_KEY)
                        .map(|b| decode(&b))
                        .unwrap_or_default()
                })
                .await
                .unwrap_or_default();
                Mutex::new(entries)
            })
            .await
    }

    /// Write the config blobs downloaded since the last call to the disk cache's pack (with the
    /// pack's other entries), as one file written off the async workers. A failure only costs a
    /// download next time.
    pub(super) async fn flush_blobs(&self) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let fresh = std::mem::take(&mut *lock(&self.unwritten));
        if fresh.is_empty() {
            return;
        }
        let used: HashSet<String> = lock(&self.blobs).keys().cloned().collect();
        let n = fresh.len();
        let bytes = {
            let mut pack = lock(self.pack().await);
            let bytes = encode(&fresh, &pack, &used);
            pack.extend(fresh);
            bytes
        };
        let written =
            tokio::task::spawn_blocking(move || cache.put(BLOB_CACHE_KIND, PACK_KEY, &bytes)).await;
        match written {
            Ok(Ok(_)) => tracing::debug!(blobs = n, "config blobs cached"),
            Ok(Err(e)) => tracing::debug!(error = %e, "cannot cache the config blobs"),
            Err(e) => tracing::debug!(error = %e, "the cache writer failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_replacement() {
        let old: HashMap<String, Vec<u8>> = [
            ("sha256:aa".to_string(), b"old a".to_vec()),
            ("sha256:bb".to_string(), b"b\nwith newline\n".to_vec()),
        ]
        .into();
        let fresh = vec![
            ("sha256:aa".to_string(), b"new a".to_vec()),
            ("sha256:cc".to_string(), Vec::new()),
        ];
        let packed = encode(&fresh, &old, &HashSet::new());
        let back = decode(&packed);
        assert_eq!(back.len(), 3);
        assert_eq!(
            back["sha256:aa"], b"new a",
            "a download replaces the old entry"
        );
        assert_eq!(back["sha256:bb"], b"b\nwith newline\n");
        assert_eq!(back["sha256:cc"], b"");
        assert_eq!(encode(&fresh, &old, &HashSet::new()), packed, "stable");
    }

    #[test]
    fn malformed_tails_are_ignored() {
        let good = encode(
            &[("sha256:aa".into(), b"x".to_vec())],
            &HashMap::new(),
            &HashSet::new(),
        );
        for tail in [
            &b"sha256:bb 9\nshort\n"[..],
            b"no length\n",
            b"sha256:bb x\n",
            b"sha256:bb 1\nyz",
        ] {
            let mut bytes = good.clone();
            bytes.extend_from_slice(tail);
            let back = decode(&bytes);
            assert_eq!(back.len(), 1, "{tail:?}");
            assert_eq!(back["sha256:aa"], b"x");
        }
        assert!(decode(b"").is_empty());
        assert!(decode(&[0xff, 0xfe, b'\n']).is_empty());
    }

    #[test]
    fn over_the_limit_only_used_entries_stay() {
        let big = vec![b'x'; PACK_LIMIT / 2];
        let old: HashMap<String, Vec<u8>> = [
            ("sha256:used".to_string(), big.clone()),
            ("sha256:stale".to_string(), big.clone()),
        ]
        .into();
        let used: HashSet<String> = ["sha256:used".to_string()].into();
        let back = decode(&encode(
            &[("sha256:new".into(), b"n".to_vec())],
            &old,
            &used,
        ));
        let mut keys: Vec<&str> = back.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["sha256:new", "sha256:used"]);
    }

    /// Through the client: a download is written to the pack when the read ends; a new client
    /// (the next plan) reads it from there; an entry that no longer matches its digest is
    /// downloaded again and replaced.
    #[tokio::test]
    async fn configs_go_through_the_pack() {
        use std::sync::{Arc, Mutex};

        use crate::registry::cache::Cache;
        use crate::registry::oci::chart::sha256_digest;
        use crate::registry::oci::{
            lock, parse_endpoint, ChartManifest, Manifest, OciClient, OciRegistry, BLOB_CACHE_KIND,
        };
        use crate::registry::testserver::{response, serve, Request};

        const CONFIG: &[u8] = br#"{"name":"demo","version":"1.0.0","appVersion":"9"}"#;
        let digest = sha256_digest(CONFIG);
        let srv = serve(Arc::new(|_: &Request| response("200 OK", &[], CONFIG))).await;
        let seen: Arc<Mutex<Vec<Request>>> = srv.requests.clone();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::registry(dir.path(), "oci", "t").unwrap();
        let client = || {
            let reg = OciRegistry {
                endpoint: parse_endpoint(&format!("http://{}", srv.addr)).unwrap(),
                credentials: None,
                tls: Default::default(),
            };
            OciClient::new(&reg, &Default::default(), Some(cache.clone())).unwrap()
        };
        let mut manifest = Manifest::default();
        manifest.config.digest = digest.clone();
        let chart = ChartManifest {
            repository: "charts/demo".into(),
            tag: "1.0.0".into(),
            digest: String::new(),
            manifest,
        };
        let read = |c: OciClient| {
            let chart = chart.clone();
            async move { c.chart_config(&chart).await.unwrap().app_version }
        };
        assert_eq!(read(client()).await, "9");
        assert_eq!(lock(&seen).len(), 1);
        let pack = decode(&cache.get(BLOB_CACHE_KIND, PACK_KEY).expect("pack written"));
        assert_eq!(pack.get(&digest).map(Vec::as_slice), Some(CONFIG));
        // The next client: from the pack, no request.
        assert_eq!(read(client()).await, "9");
        assert_eq!(lock(&seen).len(), 1);
        // A pack entry that does not match its digest is not used, and is replaced.
        let tampered = encode(
            &[(digest.clone(), br#"{"appVersion":"evil"}"#.to_vec())],
            &HashMap::new(),
            &HashSet::new(),
        );
        cache.put(BLOB_CACHE_KIND, PACK_KEY, &tampered).unwrap();
        assert_eq!(read(client()).await, "9");
        assert_eq!(lock(&seen).len(), 2);
        let pack = decode(&cache.get(BLOB_CACHE_KIND, PACK_KEY).unwrap());
        assert_eq!(pack.get(&digest).map(Vec::as_slice), Some(CONFIG));
    }
}
