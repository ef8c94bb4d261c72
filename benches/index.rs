//! Parse + catalog figures for real-world Helm indexes, side by side with the real helm CLI.
//!
//! `cargo bench --bench index` (env: `CHARTREG_SHARED_DIR`, default `../shared`, holding
//! `data/indexes/`; `CHARTREG_HELM=/path/to/helm`; `BENCH_ITERS=N`). Without the indexes the
//! bench prints why and exits 0 (unit tests use the excerpts in `testdata/`); without a helm
//! binary (`CHARTREG_HELM`, else `$CHARTREG_TOOLS/bin/helm`, default `.testbed/tools`) the helm
//! half is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chartreg::registry::catalog::Catalog;
use chartreg::registry::helm_index::{parse_index, ParsedIndex};

const INDEXES: &[(&str, &str)] = &[
    ("bitnami", "bitnami-2022-06-16.yaml"),
    ("rancher", "rancher-dev-v2.9.yaml"),
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stats(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1e3;
    (ms(d[0]), ms(d[d.len() / 2]))
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `$NAME` when set and not empty, else `default`.
fn env_dir(name: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(name)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or(default)
}

fn find_helm() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHARTREG_HELM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let p = env_dir("CHARTREG_TOOLS", manifest_dir().join(".testbed/tools")).join("bin/helm");
    p.is_file().then_some(p)
}

/// HELM_* homes with the indexes already in helm's cache, as `helm repo add` leaves them.
fn helm_home(data: &Path) -> PathBuf {
    let home = std::env::temp_dir().join(format!("chartreg-bench-helm-{}", std::process::id()));
    let cache = home.join("cache/repository");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::create_dir_all(home.join("config")).unwrap();
    let mut repos =
        String::from("apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n");
    for (name, file) in INDEXES {
        std::fs::copy(data.join(file), cache.join(format!("{name}-index.yaml"))).unwrap();
        repos.push_str(&format!(
            "- name: {name}\n  url: http://127.0.0.1:9/{name}\n"
        ));
    }
    std::fs::write(home.join("config/repositories.yaml"), repos).unwrap();
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

/// Peak RSS of one helm run through `/usr/bin/time -v`.
fn helm_peak_kib(helm: &Path, home: &Path, args: &[&str]) -> Option<u64> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        return None;
    }
    let mut c = Command::new(time);
    c.arg("-v")
        .arg(helm)
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdout(Stdio::null());
    let out = c.output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("Maximum resident set size"))?;
    line.rsplit(':').next()?.trim().parse().ok()
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
    let rows: Vec<HelmRow> = serde_json::from_slice(helm_json).expect("helm JSON output");
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

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1 } else { 15 });
    let data =
        env_dir("CHARTREG_SHARED_DIR", manifest_dir().join("../shared")).join("data/indexes");
    if let Some((_, missing)) = INDEXES.iter().find(|(_, f)| !data.join(f).is_file()) {
        println!(
            "index benchmark: skipped, {} is missing (set CHARTREG_SHARED_DIR to the directory \
             holding data/indexes/)",
            data.join(missing).display()
        );
        return;
    }
    let hwm_start = vm_hwm_kib();
    println!("chartreg index benchmark ({iters} iterations, min / median)");
    println!(
        "{:<9} {:>8} {:>7} {:>9} {:>11} {:>11} {:>11}",
        "index", "size", "charts", "versions", "parse ms", "catalog ms", "total ms"
    );

    let mut parsed = Vec::new();
    for (name, file) in INDEXES {
        let bytes = std::fs::read(data.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let url = format!("https://example.invalid/{name}/index.yaml");
        let (mut tp, mut tc, mut tt) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..iters {
            let t0 = Instant::now();
            let idx = parse_index(&bytes, &url).expect("parse");
            let t1 = Instant::now();
            let cat = idx.catalog();
            // What a registry resource stores: the summaries and the encoded snapshot.
            let _charts = cat.summaries();
            let _snapshot = cat
                .to_snapshot(chartreg::registry::snapshot::Kind::Helm, &url)
                .encode();
            let t2 = Instant::now();
            tp.push(t1 - t0);
            tc.push(t2 - t1);
            tt.push(t2 - t0);
            last = Some((idx, cat));
        }
        let (idx, cat) = last.unwrap();
        let (p, c, t) = (stats(tp), stats(tc), stats(tt));
        println!(
            "{:<9} {:>6.2}MB {:>7} {:>9} {:>5.1} / {:<5.1}{:>5.1} / {:<5.1}{:>5.1} / {:<5.1}",
            name,
            bytes.len() as f64 / 1e6,
            cat.chart_count(),
            cat.version_count(),
            p.0,
            p.1,
            c.0,
            c.1,
            t.0,
            t.1
        );
        if idx.skipped > 0 {
            println!(
                "          skipped {} invalid entries: {:?}",
                idx.skipped, idx.skipped_examples
            );
        }
        parsed.push((name, idx, cat));
    }
    if let (Some(a), Some(b)) = (hwm_start, vm_hwm_kib()) {
        println!(
            "peak RSS (VmHWM) of this process: {:.1} MiB (was {:.1} MiB before parsing)",
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }

    if quick {
        println!("helm: skipped (not run by `cargo test`; use `cargo bench --bench index`)");
        return;
    }
    let Some(helm) = find_helm() else {
        println!("helm: skipped (no binary: set CHARTREG_HELM or install .testbed/tools/bin/helm)");
        return;
    };
    let home = helm_home(&data);
    let version = helm_cmd(&helm, &home, &["version", "--short"]).output();
    let version = match version {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        other => {
            println!("helm: skipped ({} does not run: {other:?})", helm.display());
            return;
        }
    };
    println!(
        "\nhelm {version} ({}), index already in helm's cache",
        helm.display()
    );
    let helm_iters = iters.clamp(1, 7);
    let mut startup = Vec::new();
    for _ in 0..helm_iters {
        let t = Instant::now();
        let _ = helm_cmd(&helm, &home, &["version", "--short"])
            .stdout(Stdio::null())
            .status();
        startup.push(t.elapsed());
    }
    let s = stats(startup);
    println!(
        "{:<44} {:>5.1} / {:<5.1} ms",
        "`helm version` (process start-up)", s.0, s.1
    );
    for (name, idx, cat) in &parsed {
        let term = format!("{name}/");
        let mut args = vec!["search", "repo", term.as_str(), "--versions", "-o", "json"];
        let mut times = Vec::new();
        for _ in 0..helm_iters {
            let t = Instant::now();
            let out = helm_cmd(&helm, &home, &args).stdout(Stdio::null()).status();
            times.push(t.elapsed());
            assert!(
                out.map(|s| s.success()).unwrap_or(false),
                "helm search failed"
            );
        }
        let s = stats(times);
        let peak = helm_peak_kib(&helm, &home, &args)
            .map(|k| format!(", peak RSS {:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_default();
        println!(
            "{:<44} {:>5.1} / {:<5.1} ms{peak}",
            format!("`helm search repo {term} --versions -o json`"),
            s.0,
            s.1
        );

        args.push("--devel");
        let out = helm_cmd(&helm, &home, &args).output().expect("helm search");
        let diffs = compare(name, idx, cat, &out.stdout);
        if diffs.is_empty() {
            println!("  agreement with `--devel`: same charts, version order, app_version and description");
        } else {
            println!("  {} differences with helm:", diffs.len());
            for d in diffs.iter().take(10) {
                println!("  - {d}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);
}
