//! On-disk cache under the provider's `cache_dir`: downloaded indexes and blobs, stored by digest.
//!
//! Every path the cache touches is `cache_dir/<class>/<registry>[/<kind>]/<file>` where each part is
//! checked to be one plain path component ([`plain_component`]): no `..`, no `.`, no separator, not
//! empty, not absolute. This is a wall of its own, behind the plan-time and import checks of
//! registry names: a name that reaches the cache some other way (a state written by an earlier
//! release, a hand-edited state) can never make the provider write or delete outside `cache_dir`.
//! Directories below `cache_dir` that turn out to be symbolic links are refused too (`cache_dir`
//! itself may be one: the user chose it).

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Whether `s` is exactly one ordinary path component: not empty, not `.` or `..`, no `/`, `\`,
/// NUL or control character, not absolute. What `Path::join` can never take outside its base.
pub fn plain_component(s: &str) -> bool {
    if s.is_empty()
        || s.chars()
            .any(|c| c == '/' || c == '\\' || c == '\0' || c.is_control())
    {
        return false;
    }
    let mut comps = Path::new(s).components();
    matches!(
        (comps.next(), comps.next()),
        (Some(Component::Normal(c)), None) if c == std::ffi::OsStr::new(s)
    )
}

fn refused(base: &Path, part: &str, why: &str) -> Error {
    Error::Cache {
        path: base.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("refusing {part:?}: {why}"),
        ),
    }
}

/// `base/part`, if `part` is a plain component and `base/part` is not a symbolic link.
fn child(base: &Path, part: &str) -> Result<PathBuf> {
    if !plain_component(part) {
        return Err(refused(
            base,
            part,
            "not a plain directory name below cache_dir",
        ));
    }
    let p = base.join(part);
    if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refused(
            base,
            part,
            "a symbolic link below cache_dir is not followed",
        ));
    }
    Ok(p)
}

/// Numbers the temporary files of this process ([`Cache::put`], [`Cache::begin`]).
static TMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A cache entry being written ([`Cache::begin`]).
#[derive(Debug)]
pub struct PendingFile {
    file: Option<std::io::BufWriter<std::fs::File>>,
    tmp: PathBuf,
    dest: PathBuf,
    len: u64,
}

impl PendingFile {
    fn io_err(&self, source: std::io::Error) -> Error {
        Error::Cache {
            path: self.tmp.display().to_string(),
            source,
        }
    }

    /// Append `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let r = match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Err(std::io::Error::other("the file was already finished")),
        };
        r.map_err(|e| self.io_err(e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flush and close the temporary file; it stays pending (removed on drop) until
    /// [`PendingFile::commit`].
    pub fn finish(&mut self) -> Result<()> {
        use std::io::Write;
        if let Some(mut f) = self.file.take() {
            f.flush().map_err(|e| self.io_err(e))?;
        }
        Ok(())
    }

    /// What was written (after [`PendingFile::finish`]).
    pub fn read(&self) -> Result<Vec<u8>> {
        std::fs::read(&self.tmp).map_err(|e| self.io_err(e))
    }

    /// Make the written content the entry (rename over any previous one).
    pub fn commit(mut self) -> Result<PathBuf> {
        self.finish()?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| self.io_err(e))?;
        self.tmp = PathBuf::new();
        Ok(self.dest.clone())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A content-addressed store for one registry: `cache_dir/<class>/<name>`, holding files by digest,
/// directly or grouped by kind (`blobs`).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache of registry `name` of `class` (`helm`, `oci`), refused unless both are plain
    /// path components (see the module docs). Nothing is created yet.
    pub fn registry(cache_dir: &Path, class: &str, name: &str) -> Result<Cache> {
        let class_dir = child(cache_dir, class)?;
        Ok(Cache {
            root: child(&class_dir, name)?,
        })
    }

    /// Removes the whole cache of registry `name` of `class` (nothing if absent), refused like
    /// [`Cache::registry`]. A symbolic link is never followed.
    pub fn remove_registry(cache_dir: &Path, class: &str, name: &str) -> Result<()> {
        let c = Cache::registry(cache_dir, class, name)?;
        match std::fs::remove_dir_all(&c.root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Cache {
                path: c.root.display().to_string(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `digest` of `kind` lives: `root/<kind>/<digest>` (`root/<digest>` for an empty kind),
    /// the digest made of letters, digits and `-` only.
    fn path(&self, kind: &str, digest: &str) -> Result<PathBuf> {
        let dir = if kind.is_empty() {
            self.root.clone()
        } else {
            child(&self.root, kind)?
        };
        let clean: String = digest
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        child(&dir, &clean)
    }

    pub fn get(&self, kind: &str, digest: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(kind, digest).ok()?).ok()
    }

    /// Write atomically (temp file + rename), so a concurrent reader never sees half a file. The
    /// temporary name is unique per process and call, so two writers of one digest never share
    /// a temporary file (the last rename wins; both wrote the same content).
    pub fn put(&self, kind: &str, digest: &str, bytes: &[u8]) -> Result<PathBuf> {
        let p = self.path(kind, digest)?;
        let dir = p.parent().expect("cache path has a parent");
        let err = |source| Error::Cache {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}-{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            p.file_name().unwrap().to_string_lossy()
        ));
        let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &p));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(err)?;
        Ok(p)
    }

    /// Like [`Cache::put`] with the content written by `write` to the path it is given (which
    /// must write atomically itself, as [`IndexBody::save_as`](crate::registry::helm_index::IndexBody::save_as) does):
    /// for a body that is not in memory.
    pub fn put_with(
        &self,
        kind: &str,
        digest: &str,
        write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
    ) -> Result<PathBuf> {
        let p = self.path(kind, digest)?;
        let dir = p.parent().expect("cache path has a parent");
        write(&p).map_err(|source| Error::Cache {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(p)
    }

    /// A file for `digest` of `kind` written while its content streams in: bytes go to a
    /// temporary file beside the final name (created with `create_new`, unique per process and
    /// call), which becomes the entry only on [`PendingFile::commit`]; dropped uncommitted (an
    /// error, a digest mismatch, a cancelled request) it is removed, so no half-written file is
    /// ever found under the entry's name.
    pub fn begin(&self, kind: &str, digest: &str) -> Result<PendingFile> {
        let dest = self.path(kind, digest)?;
        let dir = dest
            .parent()
            .expect("cache path has a parent")
            .to_path_buf();
        let err = |source| Error::Cache {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}-{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            dest.file_name().unwrap().to_string_lossy()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(err)?;
        Ok(PendingFile {
            file: Some(std::io::BufWriter::with_capacity(64 << 10, file)),
            tmp,
            dest,
            len: 0,
        })
    }

    pub fn remove(&self, kind: &str, digest: &str) {
        if let Ok(p) = self.path(kind, digest) {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_remove() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::registry(d.path(), "oci", "r").unwrap();
        let p = c.put("blobs", "sha256:abc", b"hello").unwrap();
        assert_eq!(p, d.path().join("oci/r/blobs/sha256-abc"));
        assert_eq!(c.get("blobs", "sha256:abc").unwrap(), b"hello");
        c.remove("blobs", "sha256:abc");
        assert!(c.get("blobs", "sha256:abc").is_none());
        // An empty kind: straight into the registry's directory.
        let h = Cache::registry(d.path(), "helm", "h").unwrap();
        let p = h.put("", "sha256-abc", b"index").unwrap();
        assert_eq!(p, d.path().join("helm/h/sha256-abc"));
    }

    #[test]
    fn pending_files_become_entries_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::registry(dir.path(), "helm", "r").unwrap();
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(c.root().join("charts"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let mut p = c.begin("charts", "sha256:ab").unwrap();
        p.write(b"half").unwrap();
        assert_eq!(names().len(), 1);
        assert!(names()[0].starts_with(".tmp-"), "{:?}", names());
        assert!(c.get("charts", "sha256:ab").is_none());
        drop(p);
        assert_eq!(names(), Vec::<String>::new());
        let mut p = c.begin("charts", "sha256:ab").unwrap();
        p.write(b"whole ").unwrap();
        p.write(b"file").unwrap();
        assert_eq!(p.len(), 10);
        p.finish().unwrap();
        assert_eq!(p.read().unwrap(), b"whole file");
        p.commit().unwrap();
        assert_eq!(names(), vec!["sha256-ab".to_string()]);
        assert_eq!(c.get("charts", "sha256:ab").unwrap(), b"whole file");
    }

    #[test]
    fn plain_components() {
        for ok in [
            "a",
            "stable",
            "my-repo.v2",
            "x_1",
            "..a",
            "a..",
            "...",
            "A b",
        ] {
            assert!(plain_component(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "/",
            "/abs",
            "/etc/passwd",
            "a/b",
            "../x",
            "x/..",
            "./a",
            "a/",
            "a\\b",
            "a\0b",
            "a\nb",
            "\t",
        ] {
            assert!(!plain_component(bad), "{bad:?}");
        }
    }

    /// Names that escape `cache_dir` are refused: nothing written, nothing removed outside.
    #[test]
    fn registry_names_that_escape_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let cache_dir = d.path().join("cache");
        let sentinel = d.path().join("sentinel");
        std::fs::create_dir_all(&cache_dir).unwrap();
        std::fs::create_dir_all(&sentinel).unwrap();
        std::fs::write(sentinel.join("keep"), b"x").unwrap();
        let abs = sentinel.display().to_string();
        for name in [
            "..",
            "../..",
            "../../sentinel",
            "/",
            abs.as_str(),
            "",
            ".",
            "a/b",
        ] {
            for class in ["helm", "oci"] {
                let e = Cache::registry(&cache_dir, class, name).unwrap_err();
                assert!(e.to_string().contains("refusing"), "{name}: {e}");
                assert!(Cache::remove_registry(&cache_dir, class, name).is_err());
            }
            assert!(Cache::registry(&cache_dir, name, "ok").is_err(), "{name}");
        }
        assert!(sentinel.join("keep").is_file());
        assert!(cache_dir.is_dir());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }

    /// Kinds and digests cannot escape a registry's directory either.
    #[test]
    fn kinds_and_digests_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::registry(d.path(), "oci", "r").unwrap();
        for kind in ["..", "../..", "/tmp", "a/b", "."] {
            assert!(c.put(kind, "sha256:abc", b"x").is_err(), "{kind}");
            assert!(c.get(kind, "sha256:abc").is_none());
        }
        // Digests are flattened to letters, digits and '-': `../x` is the file `---x`.
        let p = c.put("blobs", "../../../x", b"x").unwrap();
        assert_eq!(p, d.path().join("oci/r/blobs/---------x"));
        assert!(c.put("blobs", "", b"x").is_err());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    /// A symbolic link below `cache_dir` (class, registry or kind directory) is not followed:
    /// neither written through nor removed through.
    #[cfg(unix)]
    #[test]
    fn symlinks_below_cache_dir_are_refused() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let cache_dir = d.path().join("cache");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(&cache_dir).unwrap();
        std::fs::create_dir_all(outside.join("r/blobs")).unwrap();
        std::fs::write(outside.join("r/keep"), b"x").unwrap();
        // cache_dir/helm -> outside: cache_dir/helm/r would be outside/r.
        symlink(&outside, cache_dir.join("helm")).unwrap();
        assert!(Cache::registry(&cache_dir, "helm", "r").is_err());
        assert!(Cache::remove_registry(&cache_dir, "helm", "r").is_err());
        // cache_dir/oci/r -> outside/r
        std::fs::create_dir_all(cache_dir.join("oci")).unwrap();
        symlink(outside.join("r"), cache_dir.join("oci/r")).unwrap();
        assert!(Cache::registry(&cache_dir, "oci", "r").is_err());
        assert!(Cache::remove_registry(&cache_dir, "oci", "r").is_err());
        // cache_dir/oci/s/blobs -> outside/r/blobs
        std::fs::create_dir_all(cache_dir.join("oci/s")).unwrap();
        symlink(outside.join("r/blobs"), cache_dir.join("oci/s/blobs")).unwrap();
        let c = Cache::registry(&cache_dir, "oci", "s").unwrap();
        assert!(c.put("blobs", "sha256:abc", b"x").is_err());
        assert_eq!(
            std::fs::read_dir(outside.join("r/blobs")).unwrap().count(),
            0
        );
        assert!(outside.join("r/keep").is_file());
        // cache_dir itself may be a link: the user chose it.
        let link = d.path().join("link");
        symlink(&cache_dir, &link).unwrap();
        assert!(Cache::registry(&link, "oci", "t").is_ok());
    }

    #[test]
    fn remove_registry_removes_only_its_directory() {
        let d = tempfile::tempdir().unwrap();
        let a = Cache::registry(d.path(), "oci", "a").unwrap();
        let b = Cache::registry(d.path(), "oci", "b").unwrap();
        a.put("blobs", "sha256:1", b"1").unwrap();
        b.put("blobs", "sha256:1", b"1").unwrap();
        Cache::remove_registry(d.path(), "oci", "a").unwrap();
        assert!(!d.path().join("oci/a").exists());
        assert!(b.get("blobs", "sha256:1").is_some());
        // Absent: fine.
        Cache::remove_registry(d.path(), "oci", "a").unwrap();
    }
}
