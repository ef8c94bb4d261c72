//! Index load figures (issue 11, targets 1 and 3) for every real-world Helm index in
//! `$CHARTREG_SHARED_DIR/data/indexes/`, side by side with the real helm CLI, and on synthetic
//! indexes of 25, 100 and 400 MB built from them in a temporary directory.
//!
//! `cargo bench --bench index` (env: `CHARTREG_SHARED_DIR`, default `../shared`;
//! `CHARTREG_HELM=/path/to/helm`; `BENCH_ITERS=N`; `BENCH_SCALE_MB=25,100,400`, empty for none).
//! When `CHARTREG_SHARED_DIR` is set and has no index, the bench fails; when it is not set and the
//! default directory has none, it says so and exits 0. Without a helm binary (`CHARTREG_HELM`,
//! else `$CHARTREG_TOOLS/bin/helm`, default `.testbed/tools`) the helm columns say so.
//!
//! What is measured: "load" is what a registry resource does with a downloaded index — the parse
//! (fast path, falling back to the full YAML parser), validation, then the summaries
//! (`charts`) and the encoded `catalog_snapshot`. Peak memory is measured in a child process
//! (this program re-run with `--child`): its peak RSS (`VmHWM`) above its RSS before the load,
//! with the index read from its file line by line as a spooled download is. Every real index is
//! also checked: the fast path reads it and builds the same index as the full parser, and the
//! catalog equals `helm search repo NAME/ --versions --devel -o json` (charts, version order,
//! app_version, description).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chartreg::registry::catalog::Catalog;
use chartreg::registry::helm_index::{
    fast_path_reads, parse_index, parse_index_file, parse_index_full_parser, ParsedIndex,
};
use chartreg::registry::snapshot::Kind;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn median(mut d: Vec<Duration>) -> f64 {
    d.sort();
    d[d.len() / 2].as_secs_f64() * 1e3
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `$NAME` when set and not empty.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

fn find_helm() -> Option<PathBuf> {
    if let Some(p) = env_path("CHARTREG_HELM") {
        return Some(p);
    }
    let tools = env_path("CHARTREG_TOOLS").unwrap_or_else(|| manifest_dir().join(".testbed/tools"));
    let p = tools.join("bin/helm");
    p.is_file().then_some(p)
}

/// What a registry resource does with a downloaded index: the summaries (`charts`) and the
/// encoded `catalog_snapshot`, both written from the parsed index; the snapshot's length.
fn store(idx: &ParsedIndex, url: &str) -> usize {
    let charts = idx.summaries();
    let snapshot = idx.snapshot(url);
    std::hint::black_box(&charts);
    snapshot.len()
}

/// The length of the snapshot as format v1 wrote it (gzip best level of the serde JSON, base64):
/// the size comparison for the v2 format.
fn v1_snapshot_len(cat: &Catalog, url: &str) -> usize {
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    serde_json::to_writer(&mut gz, &cat.to_snapshot(Kind::Helm, url)).unwrap();
    let bytes = gz.finish().unwrap();
    "chartreg-snapshot.v1:".len()
        + base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .len()
}

/// Child mode: load `file` from disk once and print `ms peak_kib_above_baseline charts versions`.
fn child(file: &Path) -> ExitCode {
    let url = "https://example.invalid/index.yaml";
    let before = status_kib("VmRSS:").unwrap_or(0);
    let t = Instant::now();
    let idx = match parse_index_file(file, url, None) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let _ = store(&idx, url);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!(
        "{ms:.1} {} {} {}",
        peak.saturating_sub(before),
        idx.chart_count(),
        idx.version_count()
    );
    ExitCode::SUCCESS
}

struct ChildRun {
    ms: f64,
    peak_mib: f64,
    charts: usize,
    versions: usize,
}

fn run_child(file: &Path) -> Result<ChildRun, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--child")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    if f.len() != 4 {
        return Err(format!("child output {text:?}"));
    }
    Ok(ChildRun {
        ms: f[0],
        peak_mib: f[1] / 1024.0,
        charts: f[2] as usize,
        versions: f[3] as usize,
    })
}

/// HELM_* homes with `repos` (name, index file) already in helm's cache, as `helm repo add`
/// leaves them.
fn helm_home(tag: &str, repos: &[(String, PathBuf)]) -> PathBuf {
    let home =
        std::env::temp_dir().join(format!("chartreg-bench-helm-{}-{tag}", std::process::id()));
    let cache = home.join("cache/repository");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::create_dir_all(home.join("config")).unwrap();
    let mut list =
        String::from("apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n");
    for (name, file) in repos {
        let dest = cache.join(format!("{name}-index.yaml"));
        if std::fs::hard_link(file, &dest).is_err() {
            std::fs::copy(file, &dest).unwrap();
        }
        list.push_str(&format!(
            "- name: {name}\n  url: http://127.0.0.1:9/{name}\n"
        ));
    }
    std::fs::write(home.join("config/repositories.yaml"), list).unwrap();
    home
}

fn helm_cmd(helm: &Path, home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(helm);
    c.args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null());
    c
}

/// One helm run bounded in time and address space, through `/usr/bin/time -v`: wall ms and peak
/// RSS, or how it failed.
fn helm_bounded(
    helm: &Path,
    home: &Path,
    args: &[&str],
    timeout_s: u64,
    limit_mib: u64,
) -> Result<(f64, f64), String> {
    let mut script = format!(
        "ulimit -v {}; exec timeout {timeout_s} /usr/bin/time -v {}",
        limit_mib * 1024,
        helm.display()
    );
    for a in args {
        script.push(' ');
        script.push_str(a);
    }
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(&script)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let t = Instant::now();
    let out = c.output().map_err(|e| e.to_string())?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let err = String::from_utf8_lossy(&out.stderr);
    let peak = err
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
        .and_then(|l| l.rsplit(':').next()?.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |k| k / 1024.0);
    if out.status.code() == Some(124) {
        return Err(format!("killed after {timeout_s} s (timeout)"));
    }
    if !out.status.success() || err.contains("Command exited with non-zero status") {
        let why = err
            .lines()
            .find(|l| {
                l.contains("out of memory")
                    || l.starts_with("Error")
                    || l.contains("fatal error")
                    || l.contains("signal")
            })
            .unwrap_or("failed")
            .trim()
            .to_string();
        return Err(format!(
            "failed after {:.1} s under a {limit_mib} MiB address-space limit: {why}",
            ms / 1e3
        ));
    }
    Ok((ms, peak))
}

#[derive(serde::Deserialize)]
struct HelmRow {
    name: String,
    version: String,
    app_version: String,
    description: String,
}

/// Compare our catalog + entries with `helm search repo NAME/ --versions --devel -o json`.
fn compare(repo: &str, idx: &ParsedIndex, cat: &Catalog, helm_json: &[u8]) -> Vec<String> {
    let rows: Vec<HelmRow> = match serde_json::from_slice(helm_json) {
        Ok(r) => r,
        Err(e) => return vec![format!("helm JSON output: {e}")],
    };
    let mut helm: BTreeMap<String, Vec<HelmRow>> = BTreeMap::new();
    for r in rows {
        let chart = r
            .name
            .strip_prefix(&format!("{repo}/"))
            .unwrap_or(&r.name)
            .to_string();
        helm.entry(chart).or_default().push(r);
    }
    let mut diffs = Vec::new();
    let ours: Vec<_> = cat.charts.keys().collect();
    let theirs: Vec<_> = helm.keys().collect();
    if ours != theirs {
        diffs.push(format!(
            "chart names differ: ours {} / helm {}",
            ours.len(),
            theirs.len()
        ));
    }
    for (chart, rows) in &helm {
        let Some(summary) = cat.charts.get(chart) else {
            continue;
        };
        let hv: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
        let ov: Vec<&str> = summary
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        if ov != hv {
            diffs.push(format!(
                "{chart}: version order differs\n  ours {ov:?}\n  helm {hv:?}"
            ));
        }
        for r in rows {
            let Some(e) = idx.get(chart, &r.version) else {
                continue;
            };
            if e.app_version != r.app_version || e.description != r.description {
                diffs.push(format!(
                    "{chart} {}: ours ({:?}, {:?}) helm ({:?}, {:?})",
                    r.version, e.app_version, e.description, r.app_version, r.description
                ));
            }
        }
    }
    diffs
}

/// A synthetic index of about `mb` MB: the entries of `sources` repeated with renamed charts
/// (`NAME-sK`), each copy a distinct chart with the same versions. Returns the copies made.
fn synthesize(sources: &[PathBuf], mb: u64, dest: &Path) -> usize {
    let bodies: Vec<String> = sources
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            // The block between `entries:` and the next top-level key.
            let start = text
                .find("\nentries:\n")
                .map_or(0, |i| i + "\nentries:\n".len());
            let rest = &text[start..];
            let end = rest
                .match_indices('\n')
                .find(|(i, _)| {
                    rest.as_bytes()
                        .get(i + 1)
                        .is_some_and(|b| !b.is_ascii_whitespace())
                })
                .map_or(rest.len(), |(i, _)| i + 1);
            rest[..end].to_string()
        })
        .collect();
    let per_copy: usize = bodies.iter().map(String::len).sum();
    let copies = ((mb * 1_000_000) as usize).div_ceil(per_copy.max(1));
    let mut out = std::io::BufWriter::new(std::fs::File::create(dest).unwrap());
    out.write_all(b"apiVersion: v1\nentries:\n").unwrap();
    for k in 0..copies {
        for (b, body) in bodies.iter().enumerate() {
            for line in body.lines() {
                // Chart keys (`  name:`) and entry names (`    name: x`) get the copy's suffix.
                if line.len() > 3
                    && line.starts_with("  ")
                    && !line.starts_with("   ")
                    && !line.starts_with("  -")
                    && line.ends_with(':')
                {
                    writeln!(out, "{}-s{k}b{b}:", &line[..line.len() - 1]).unwrap();
                } else if let Some(n) = line.strip_prefix("    name: ") {
                    writeln!(out, "    name: {n}-s{k}b{b}").unwrap();
                } else {
                    writeln!(out, "{line}").unwrap();
                }
            }
        }
    }
    out.write_all(b"generated: \"2026-12-02T00:00:00Z\"\n")
        .unwrap();
    out.flush().unwrap();
    copies
}

struct Row {
    figure: String,
    target: String,
    chartreg: String,
    helm: String,
    ratio: String,
}

fn row(
    figure: impl Into<String>,
    target: &str,
    chartreg: String,
    helm: String,
    ratio: String,
) -> Row {
    Row {
        figure: figure.into(),
        target: target.to_string(),
        chartreg,
        helm,
        ratio,
    }
}

fn print_table(rows: &[Row]) {
    let w = |f: &dyn Fn(&Row) -> &str, h: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(h.len())
    };
    let (a, b, c, d) = (
        w(&|r| &r.figure, "figure"),
        w(&|r| &r.target, "target"),
        w(&|r| &r.chartreg, "chartreg"),
        w(&|r| &r.helm, "helm"),
    );
    println!(
        "{:<a$}  {:<b$}  {:>c$}  {:>d$}  ratio",
        "figure", "target", "chartreg", "helm"
    );
    for r in rows {
        println!(
            "{:<a$}  {:<b$}  {:>c$}  {:>d$}  {}",
            r.figure, r.target, r.chartreg, r.helm, r.ratio
        );
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(Path::new(&args[i + 1]));
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: keep that quick.
    let quick = !args.iter().any(|a| a == "--bench");
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1 } else { 15 });
    let explicit = env_path("CHARTREG_SHARED_DIR");
    let data = explicit
        .clone()
        .unwrap_or_else(|| manifest_dir().join("../shared"))
        .join("data/indexes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        let msg = format!(
            "index benchmark: no index in {} (set CHARTREG_SHARED_DIR to the directory holding data/indexes/)",
            data.display()
        );
        if explicit.is_some() {
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
        println!("{msg}: skipped");
        return ExitCode::SUCCESS;
    }
    let helm = if quick { None } else { find_helm() };
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    println!(
        "chartreg index benchmark: {} real index(es), {iters} iteration(s), medians; commit {}",
        files.len(),
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(manifest_dir())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    );

    let repos: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy().to_lowercase();
            let name: String = stem
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            (name, f.clone())
        })
        .collect();
    let home = helm.as_ref().map(|_| helm_home("real", &repos));
    for (name, file) in &repos {
        let bytes = std::fs::read(file).unwrap();
        let mb = bytes.len() as f64 / 1e6;
        let url = format!("https://example.invalid/{name}/index.yaml");
        if let Err(why) = fast_path_reads(&bytes) {
            failures.push(format!("{name}: the fast path does not read it ({why})"));
        }
        let (mut t_fast, mut t_full) = (Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..iters {
            let t = Instant::now();
            let idx = parse_index(&bytes, &url).expect("parse");
            let n = store(&idx, &url);
            t_fast.push(t.elapsed());
            last = Some((idx, n));
        }
        let (idx, snapshot_len) = last.unwrap();
        let cat = idx.catalog();
        let v1_len = v1_snapshot_len(&cat, &url);
        let full = {
            let mut r = None;
            for _ in 0..iters.clamp(1, 5) {
                let t = Instant::now();
                let f = parse_index_full_parser(&bytes, &url).expect("full parse");
                let _ = store(&f, &url);
                t_full.push(t.elapsed());
                r = Some(f);
            }
            r.unwrap()
        };
        if full != idx {
            failures.push(format!("{name}: the fast path and the full parser differ"));
        }
        let (fast_ms, full_ms) = (median(t_fast), median(t_full));
        let mem = run_child(file);
        let label = format!(
            "{name} ({mb:.1} MB, {} charts / {} versions)",
            cat.chart_count(),
            cat.version_count()
        );
        let (helm_ms, helm_peak) = match (&helm, &home) {
            (Some(h), Some(home)) => {
                let term = format!("{name}/");
                let a = ["search", "repo", term.as_str(), "--versions", "-o", "json"];
                let mut times = Vec::new();
                let mut peak = f64::NAN;
                let mut err = None;
                for _ in 0..iters.clamp(1, 5) {
                    match helm_bounded(h, home, &a, 120, 8192) {
                        Ok((ms, p)) => {
                            times.push(Duration::from_secs_f64(ms / 1e3));
                            peak = p;
                        }
                        Err(e) => err = Some(e),
                    }
                }
                let mut devel = a.to_vec();
                devel.push("--devel");
                let out = helm_cmd(h, home, &devel).output().expect("helm search");
                let diffs = compare(name, &idx, &cat, &out.stdout);
                if !diffs.is_empty() {
                    failures.push(format!(
                        "{name}: {} difference(s) with helm search --devel: {}",
                        diffs.len(),
                        diffs.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
                    ));
                } else {
                    println!("{name}: catalog equals `helm search repo {term} --versions --devel` (charts, order, app_version, description); fast path == full parser");
                }
                match err {
                    Some(e) if times.is_empty() => (Err(e), f64::NAN),
                    _ => (Ok(median(times)), peak),
                }
            }
            _ => (Err("no helm binary".to_string()), f64::NAN),
        };
        let ratio = |ours: f64, theirs: &Result<f64, String>| match theirs {
            Ok(t) => format!("{:.1}x", t / ours),
            Err(_) => "-".into(),
        };
        rows.push(row(
            format!("load {label}"),
            "<= 20 ms",
            format!("{fast_ms:.1} ms"),
            match &helm_ms {
                Ok(t) => format!("{t:.0} ms (search)"),
                Err(e) => e.clone(),
            },
            ratio(fast_ms, &helm_ms),
        ));
        rows.push(row(
            format!("  same load, full YAML parser only ({name})"),
            "-",
            format!("{full_ms:.1} ms"),
            String::new(),
            format!("fast path {:.1}x faster", full_ms / fast_ms),
        ));
        rows.push(row(
            format!("  catalog_snapshot size ({name})"),
            "<= v1",
            format!("{:.1} KB (v2)", snapshot_len as f64 / 1e3),
            format!("{:.1} KB (v1, gzip best)", v1_len as f64 / 1e3),
            format!(
                "{:.0}% smaller",
                100.0 * (1.0 - snapshot_len as f64 / v1_len as f64)
            ),
        ));
        if snapshot_len > v1_len {
            failures.push(format!(
                "{name}: the snapshot ({snapshot_len} bytes) is larger than v1's ({v1_len})"
            ));
        }
        match mem {
            Ok(m) => rows.push(row(
                format!("  peak memory above baseline ({name}, from file)"),
                "<= 25 MB",
                format!("{:.1} MiB", m.peak_mib),
                if helm_peak.is_nan() {
                    String::new()
                } else {
                    format!("{helm_peak:.0} MiB (whole process)")
                },
                if helm_peak.is_nan() {
                    "-".into()
                } else {
                    format!("{:.1}x", helm_peak / m.peak_mib.max(0.1))
                },
            )),
            Err(e) => failures.push(format!("{name}: memory child failed: {e}")),
        }
    }

    // Target 3: synthetic indexes.
    let scale: Vec<u64> = match std::env::var("BENCH_SCALE_MB") {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) if quick => Vec::new(),
        Err(_) => vec![25, 100, 400],
    };
    if !scale.is_empty() {
        let dir = std::env::temp_dir().join(format!("chartreg-bench-scale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut points = Vec::new();
        for &mb in &scale {
            let path = dir.join(format!("synthetic-{mb}mb.yaml"));
            let copies = synthesize(&files, mb, &path);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
            let runs: Vec<ChildRun> = (0..3.min(iters.max(1)))
                .filter_map(|_| match run_child(&path) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        failures.push(format!("synthetic {mb} MB: {e}"));
                        None
                    }
                })
                .collect();
            if runs.is_empty() {
                continue;
            }
            let mut ms: Vec<f64> = runs.iter().map(|r| r.ms).collect();
            ms.sort_by(f64::total_cmp);
            let ms = ms[ms.len() / 2];
            let peak = runs.iter().map(|r| r.peak_mib).fold(0.0, f64::max);
            let (charts, versions) = (runs[0].charts, runs[0].versions);
            points.push((size, ms));
            let helm_res = match &helm {
                Some(h) => {
                    let name = format!("synthetic-{mb}");
                    let home = helm_home(&format!("scale{mb}"), &[(name.clone(), path.clone())]);
                    let term = format!("{name}/");
                    let r = helm_bounded(
                        h,
                        &home,
                        &["search", "repo", &term, "--versions", "-o", "json"],
                        300,
                        6144,
                    );
                    let _ = std::fs::remove_dir_all(&home);
                    r
                }
                None => Err("no helm binary".into()),
            };
            let limit = 0.5 * size + 40.0;
            rows.push(row(
                format!("scale {size:.0} MB ({copies} copies, {charts} charts / {versions} versions): time"),
                "linear",
                format!("{ms:.0} ms ({:.0} MB/s)", size / (ms / 1e3)),
                match &helm_res {
                    Ok((t, _)) => format!("{t:.0} ms (search)"),
                    Err(e) => e.clone(),
                },
                match &helm_res {
                    Ok((t, _)) => format!("{:.1}x", t / ms),
                    Err(_) => "-".into(),
                },
            ));
            rows.push(row(
                format!("  peak memory above baseline ({size:.0} MB)"),
                &format!("<= {limit:.0} MB"),
                format!("{peak:.0} MiB"),
                match &helm_res {
                    Ok((_, p)) => format!("{p:.0} MiB"),
                    Err(_) => "-".into(),
                },
                match &helm_res {
                    Ok((_, p)) => format!("{:.1}x", p / peak.max(0.1)),
                    Err(_) => "-".into(),
                },
            ));
            if peak * 1.048_576 > limit {
                failures.push(format!(
                    "synthetic {size:.0} MB: peak {peak:.0} MiB above {limit:.0} MB"
                ));
            }
            let _ = std::fs::remove_file(&path);
        }
        if points.len() >= 2 {
            let (s0, t0) = points[0];
            let (s1, t1) = points[points.len() - 1];
            rows.push(row(
                "scale: time per MB, largest vs smallest",
                "~1.0 (linear)",
                format!("{:.2}", (t1 / s1) / (t0 / s0)),
                String::new(),
                String::new(),
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some(home) = home {
        let _ = std::fs::remove_dir_all(home);
    }
    println!();
    print_table(&rows);
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("\nFAILED:");
        for f in &failures {
            println!("- {f}");
        }
        ExitCode::FAILURE
    }
}
