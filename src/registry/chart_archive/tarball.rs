//! The walk over a chart archive (`.tgz`) as Helm's `archive.LoadArchiveFiles` does it: every entry
//! is checked (path safety, per-file and total size caps) and the chart's own top-level files
//! (`<chartdir>/Chart.yaml`, `values.yaml`, `values.schema.json`, `requirements.yaml`) are kept in
//! memory; every other file is read and dropped. Nothing is ever written to disk, so a hostile
//! name (`../x`, `/etc/passwd`, `c:/x`, a symbolic link) can only make the archive refused.
//!
//! Differences from Helm, each making a malformed archive an error rather than guessing:
//! - GNU long names and PAX headers are read here (the `tar` crate's raw mode) with Go's
//!   `archive/tar` limit of 1 MiB each, instead of the crate reading them whole;
//! - a PAX `size` that differs from the header's, sparse files, and header-only entries (links,
//!   devices, FIFOs, directories) that claim data are refused (Go's reader would skip or
//!   reinterpret those bytes; `helm package` never writes them);
//! - one of the four files above present twice at the top level is refused (Helm merges two
//!   `Chart.yaml`s, prints both `values.yaml`s in `helm show values` and keeps the last one
//!   elsewhere: an archive that says two things is not shown as either);
//! - the decompressed tar stream as a whole (headers and padding included, which Helm does not
//!   count) is capped at [`MAX_TAR_STREAM`], so that millions of empty entries are a bomb too.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Helm's `MaxDecompressedChartSize`: the files of a chart together, decompressed (100 MiB).
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Helm's `MaxDecompressedFileSize`: one file of a chart, decompressed (5 MiB).
pub const MAX_DECOMPRESSED_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// The whole decompressed tar stream: the files plus as much again for headers and padding.
pub const MAX_TAR_STREAM: u64 = 2 * MAX_DECOMPRESSED_CHART_SIZE;
/// Go's `archive/tar` limit on a PAX header or a GNU long name (`maxSpecialFileSize`).
const MAX_SPECIAL_FILE_SIZE: u64 = 1 << 20;

/// The chart's top-level files that chartreg reads, UTF-8 BOM removed as Helm does.
#[derive(Debug, Default)]
pub(super) struct TopFiles {
    pub chart_yaml: Option<Vec<u8>>,
    pub values_yaml: Option<Vec<u8>>,
    pub values_schema: Option<Vec<u8>>,
    pub requirements_yaml: Option<Vec<u8>>,
}

impl TopFiles {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Vec<u8>>> {
        match name {
            "Chart.yaml" => Some(&mut self.chart_yaml),
            "values.yaml" => Some(&mut self.values_yaml),
            "values.schema.json" => Some(&mut self.values_schema),
            "requirements.yaml" => Some(&mut self.requirements_yaml),
            _ => None,
        }
    }
}

/// A reader that fails once more than `left` bytes would come out of it.
struct Capped<R> {
    inner: R,
    left: u64,
    over: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.over.set(true);
            return Err(io::Error::other("decompressed stream over its cap"));
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

/// Go's `path.Clean` for a relative path (the caller has refused absolute ones).
fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// Helm's `drivePathPattern`: `^[a-zA-Z]:/`.
fn is_drive_path(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/'
}

/// The name of an entry inside the chart (its first path component dropped), checked as Helm
/// checks it.
pub(crate) fn chart_path(raw: &str) -> Result<String, String> {
    let delimiter = if raw.contains('\\') { '\\' } else { '/' };
    let parts: Vec<&str> = raw.split(delimiter).collect();
    let n = parts[1..].join("/");
    if n.starts_with('/') {
        return Err("chart illegally contains absolute paths".into());
    }
    let n = clean(&n);
    if n == "." {
        return Err(format!(
            "chart illegally contains content outside the base directory: {raw:?}"
        ));
    }
    if n.starts_with("..") {
        return Err("chart illegally references parent directory".into());
    }
    if is_drive_path(&n) {
        return Err("chart contains illegally named files".into());
    }
    if parts[0] == "Chart.yaml" {
        return Err("chart yaml not in base directory".into());
    }
    Ok(n)
}

/// Read a PAX header or GNU long name: at most [`MAX_SPECIAL_FILE_SIZE`].
fn read_special(entry: &mut impl Read, size: u64) -> Result<Vec<u8>, String> {
    if size > MAX_SPECIAL_FILE_SIZE {
        return Err(format!(
            "a PAX header or GNU long name of {size} bytes (at most {MAX_SPECIAL_FILE_SIZE})"
        ));
    }
    let mut data = Vec::with_capacity(size as usize);
    entry
        .take(size)
        .read_to_end(&mut data)
        .map_err(|e| e.to_string())?;
    Ok(data)
}

/// Go's `parsePAX`: records `"<len> <key>=<value>\n"`, `len` counting the whole record.
fn parse_pax(mut data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let bad = || "a malformed PAX header".to_string();
    let mut out = Vec::new();
    while !data.is_empty() {
        let sp = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[sp + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        out.push((
            String::from_utf8_lossy(&record[..eq]).into_owned(),
            record[eq + 1..].to_vec(),
        ));
        data = &data[len..];
    }
    Ok(out)
}

/// What the extension headers before an entry said about it.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_size: Option<u64>,
}

/// Walk `archive` (gzip of tar) and keep its top-level chart files. Errors are reasons in plain
/// words (the caller names the archive).
pub(super) fn top_files(archive: &[u8]) -> Result<TopFiles, String> {
    top_files_capped(archive, MAX_TAR_STREAM)
}

/// [`top_files`] with another cap on the decompressed stream (tests).
pub(super) fn top_files_capped(archive: &[u8], stream_cap: u64) -> Result<TopFiles, String> {
    if !archive.starts_with(b"\x1f\x8b") {
        return Err("the file is not a gzip-compressed archive (a .tgz)".into());
    }
    let over = Rc::new(Cell::new(false));
    let stream = Capped {
        inner: flate2::read::MultiGzDecoder::new(archive),
        left: stream_cap,
        over: over.clone(),
    };
    let result = walk(stream);
    if over.get() {
        return Err(format!(
            "the archive decompresses to more than {stream_cap} bytes (a compression bomb?)"
        ));
    }
    result
}

fn walk(stream: impl Read) -> Result<TopFiles, String> {
    let io_err = |e: io::Error| format!("the archive cannot be read: {e}");
    let mut tar = tar::Archive::new(stream);
    let mut files = TopFiles::default();
    let mut count = 0usize;
    let mut remaining = MAX_DECOMPRESSED_CHART_SIZE as i64;
    let mut pending = Pending::default();
    for entry in tar.entries().map_err(io_err)?.raw(true) {
        let mut entry = entry.map_err(io_err)?;
        let header = entry.header();
        let flag = header.as_old().linkflag[0];
        let size = header.entry_size().map_err(io_err)?;
        match flag {
            b'L' => {
                let mut name = read_special(&mut entry, size)?;
                if let Some(nul) = name.iter().position(|&b| b == 0) {
                    name.truncate(nul);
                }
                pending.long_name = Some(name);
                continue;
            }
            b'K' => {
                read_special(&mut entry, size)?;
                continue;
            }
            b'x' => {
                for (key, value) in parse_pax(&read_special(&mut entry, size)?)? {
                    match key.as_str() {
                        "path" => pending.pax_path = Some(value),
                        "size" => {
                            pending.pax_size = Some(
                                std::str::from_utf8(&value)
                                    .ok()
                                    .and_then(|s| s.parse().ok())
                                    .ok_or("a PAX header with an invalid size")?,
                            )
                        }
                        k if k.starts_with("GNU.sparse.") => {
                            return Err("the archive holds a sparse file (not supported)".into())
                        }
                        _ => {}
                    }
                }
                continue;
            }
            b'g' => {
                // Returned by Go's reader and skipped by Helm; it takes the pending headers along.
                read_special(&mut entry, size)?;
                pending = Pending::default();
                continue;
            }
            b'S' => return Err("the archive holds a sparse file (not supported)".into()),
            _ => {}
        }
        let p = std::mem::take(&mut pending);
        let raw_name = p
            .long_name
            .or(p.pax_path)
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let raw_name = String::from_utf8_lossy(&raw_name).into_owned();
        if p.pax_size.is_some_and(|s| s != size) {
            return Err(format!(
                "entry {raw_name:?} has a PAX size that differs from its header's (not supported)"
            ));
        }
        let mode = header.mode().unwrap_or(0);
        let is_dir =
            flag == b'5' || (mode & !0o7777) == 0o40000 || (flag == 0 && raw_name.ends_with('/'));
        let header_only = matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        if header_only && size > 0 {
            return Err(format!(
                "entry {raw_name:?} is a link, device, FIFO or directory that claims {size} bytes of data"
            ));
        }
        if is_dir {
            continue;
        }
        let name = chart_path(&raw_name)?;
        if size as i128 > remaining as i128 {
            return Err(format!(
                "decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}"
            ));
        }
        if size > MAX_DECOMPRESSED_FILE_SIZE {
            return Err(format!(
                "decompressed chart file {raw_name:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"
            ));
        }
        let mut limited = (&mut entry).take(size);
        let written = match files.slot(&name) {
            Some(slot) => {
                if slot.is_some() {
                    return Err(format!("the archive holds the chart's {name} twice"));
                }
                let mut data = Vec::with_capacity(size as usize);
                limited.read_to_end(&mut data).map_err(io_err)?;
                let n = data.len() as u64;
                if let Some(rest) = data.strip_prefix(b"\xEF\xBB\xBF") {
                    data = rest.to_vec();
                }
                *slot = Some(data);
                n
            }
            None => io::copy(&mut limited, &mut io::sink()).map_err(io_err)?,
        };
        if written < size {
            return Err(format!(
                "the archive is truncated: entry {raw_name:?} ends after {written} of its {size} bytes"
            ));
        }
        remaining -= written as i64;
        if remaining <= 0 {
            return Err(format!(
                "decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_CHART_SIZE}"
            ));
        }
        count += 1;
    }
    if pending.long_name.is_some() || pending.pax_path.is_some() || pending.pax_size.is_some() {
        return Err("the archive ends with an extension header and no entry after it".into());
    }
    if count == 0 {
        return Err("no files in chart archive".into());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        for (p, want) in [
            ("a/b", "a/b"),
            ("a//b", "a/b"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("a/..", "."),
            ("", "."),
            ("..", ".."),
            ("../a", "../a"),
            ("a/../../b", "../b"),
            ("./Chart.yaml", "Chart.yaml"),
            ("x/../..", ".."),
        ] {
            assert_eq!(clean(p), want, "{p}");
        }
    }

    #[test]
    fn chart_paths_like_helm() {
        assert_eq!(chart_path("c/Chart.yaml").unwrap(), "Chart.yaml");
        assert_eq!(chart_path("c\\Chart.yaml").unwrap(), "Chart.yaml");
        assert_eq!(chart_path("c/x/../values.yaml").unwrap(), "values.yaml");
        assert_eq!(
            chart_path("c/charts/sub/Chart.yaml").unwrap(),
            "charts/sub/Chart.yaml"
        );
        for (raw, why) in [
            ("c//etc/passwd", "absolute"),
            ("c/../../x", "parent"),
            ("c/..", "parent"),
            ("c/x/../../y", "parent"),
            ("README", "outside the base"),
            ("c/", "outside the base"),
            ("c/C:/x", "illegally named"),
            ("c\\C:\\x", "illegally named"),
            ("Chart.yaml/x", "not in base directory"),
            ("c\\..\\..\\x", "parent"),
        ] {
            let e = chart_path(raw).unwrap_err();
            assert!(e.contains(why), "{raw}: {e}");
        }
    }

    #[test]
    fn pax_records() {
        let r = parse_pax(b"30 path=some/very/long/name.x\n11 size=42\n").unwrap();
        assert_eq!(r[0], ("path".into(), b"some/very/long/name.x".to_vec()));
        assert_eq!(r[1], ("size".into(), b"42".to_vec()));
        for bad in [
            &b"5 a=b"[..],
            b"x path=a\n",
            b"99 path=a\n",
            b"6 ab\n\n",
            b"3 a\n",
        ] {
            assert!(parse_pax(bad).is_err(), "{bad:?}");
        }
    }
}
