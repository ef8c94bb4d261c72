//! On-disk cache under the provider's `cache_dir`: downloaded indexes and blobs, stored by digest.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The user's cache directory for chartreg: `$XDG_CACHE_HOME/chartreg` or `~/.cache/chartreg`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("chartreg");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".cache").join("chartreg");
    }
    std::env::temp_dir().join("chartreg-cache")
}

/// A content-addressed store for one kind of object (`indexes`, `blobs`).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, kind: &str, digest: &str) -> PathBuf {
        let clean: String = digest
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self.root.join(kind).join(clean)
    }

    pub fn get(&self, kind: &str, digest: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(kind, digest)).ok()
    }

    /// Write atomically (temp file + rename), so a concurrent reader never sees half a file.
    pub fn put(&self, kind: &str, digest: &str, bytes: &[u8]) -> Result<PathBuf> {
        let p = self.path(kind, digest);
        let dir = p.parent().expect("cache path has a parent");
        let err = |source| Error::Cache {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            p.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&tmp, bytes).map_err(err)?;
        std::fs::rename(&tmp, &p).map_err(err)?;
        Ok(p)
    }

    pub fn remove(&self, kind: &str, digest: &str) {
        let _ = std::fs::remove_file(self.path(kind, digest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_remove() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::new(d.path());
        c.put("indexes", "sha256:abc", b"hello").unwrap();
        assert_eq!(c.get("indexes", "sha256:abc").unwrap(), b"hello");
        c.remove("indexes", "sha256:abc");
        assert!(c.get("indexes", "sha256:abc").is_none());
    }
}
