//! The chart archive reader (`chartreg::registry::chart_archive`) against the real Helm CLI: on
//! archives written by `helm package` (the testbed's detail charts) and on hand-made ones packed
//! by the system `tar` (odd Chart.yaml spellings that `helm package` would rewrite), what the
//! library reads equals what `helm show chart` and `helm show values` print, with Helm v4 and v3;
//! and an archive Helm refuses, the library refuses too.
//!
//! No Terraform here: this checks the library the `chartreg_helm_chart` data source calls.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chartreg::error::Error;
use chartreg::registry::cache::Cache;
use chartreg::registry::chart_archive::{
    helm_chart_details, read_chart_archive, sha256_hex, ArchiveStore, ChartDetails,
};
use chartreg::registry::helm_index::{fetch_index, HelmRepo, IndexFetch};
use chartreg::registry::http::{Credentials, HttpSettings, TlsOptions};
use chartreg::registry::oci::{parse_endpoint, OciClient, OciRegistry};
use chartreg::registry::snapshot::{Kind, Snapshot, VersionRecord};
use libtest_mimic::Trial;
use serde_json::{json, Map, Value};

use crate::harness::fixtures::index_repo_dir;
use crate::harness::{self, ensure, run_cmd, RegistryAuth, TestResult, Testbed};

fn trial(tb: &Arc<Testbed>, name: &str, f: fn(&Testbed) -> TestResult) -> Trial {
    let tb = tb.clone();
    Trial::test(format!("chart_archive::{name}"), move || {
        f(&tb).map_err(|e| harness::redact(&e).into())
    })
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    vec![
        trial(tb, "helm_show_equals_details::with_schema", |tb| {
            let d = &tb.charts.details;
            let got = same_as_helm(tb, &d.with_schema)?;
            ensure(
                got.values_schema.as_deref() == Some(d.schema_json.as_str()),
                || format!("values_schema: {:?}", got.values_schema),
            )?;
            ensure(
                got.maintainers.len() == 2 && got.annotations.len() == 2,
                || format!("{got:?}"),
            )
        }),
        trial(tb, "helm_show_equals_details::with_deps", |tb| {
            let got = same_as_helm(tb, &tb.charts.details.with_deps)?;
            // The subchart in charts/ has a schema; the chart itself has none.
            ensure(got.values_schema.is_none(), || {
                "values_schema of the subchart".into()
            })?;
            ensure(
                got.dependencies.len() == 2 && got.dependencies[1].alias == "extra",
                || format!("{:?}", got.dependencies),
            )
        }),
        trial(
            tb,
            "helm_show_equals_details::legacy_v1_requirements",
            |tb| {
                let got = same_as_helm(tb, &tb.charts.details.legacy_v1)?;
                ensure(
                    got.api_version == "v1"
                        && got.dependencies.len() == 2
                        && got.dependencies[1].alias == "cache",
                    || format!("{got:?}"),
                )
            },
        ),
        trial(tb, "hand_made_archives_as_helm_reads_them", hand_made),
        trial(tb, "download_helm_repo_tls_auth", download_helm_repo),
        trial(tb, "download_oci_basic", download_oci),
    ]
}

/// `helm show <what> <tgz>` with Helm v4 or v3: stdout, or the error text.
fn helm_show(tb: &Testbed, v3: bool, what: &str, tgz: &Path) -> Result<String, String> {
    let mut cmd = if v3 { tb.helm3() } else { tb.helm() };
    cmd.args(["show", what]).arg(tgz);
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `details` in the shape `helm show chart` prints (Go's `omitempty`: empty text, lists and maps
/// and `false` left out; a dependency's `name` and `repository` always there).
fn helm_shape(d: &ChartDetails) -> Value {
    let mut m = Map::new();
    let text = |m: &mut Map<String, Value>, k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    text(&mut m, "apiVersion", &d.api_version);
    text(&mut m, "name", &d.name);
    text(&mut m, "version", &d.version);
    text(&mut m, "description", &d.description);
    text(&mut m, "appVersion", &d.app_version);
    text(&mut m, "home", &d.home);
    text(&mut m, "icon", &d.icon);
    text(&mut m, "type", &d.chart_type);
    text(&mut m, "kubeVersion", &d.kube_version);
    if !d.keywords.is_empty() {
        m.insert("keywords".into(), json!(d.keywords));
    }
    if !d.sources.is_empty() {
        m.insert("sources".into(), json!(d.sources));
    }
    if !d.annotations.is_empty() {
        m.insert("annotations".into(), json!(d.annotations));
    }
    if d.deprecated {
        m.insert("deprecated".into(), json!(true));
    }
    if !d.maintainers.is_empty() {
        let list: Vec<Value> = d
            .maintainers
            .iter()
            .map(|x| {
                let mut o = Map::new();
                text(&mut o, "name", &x.name);
                text(&mut o, "email", &x.email);
                text(&mut o, "url", &x.url);
                Value::Object(o)
            })
            .collect();
        m.insert("maintainers".into(), Value::Array(list));
    }
    if !d.dependencies.is_empty() {
        let list: Vec<Value> = d
            .dependencies
            .iter()
            .map(|x| {
                let mut o = Map::new();
                o.insert("name".into(), json!(x.name));
                o.insert("repository".into(), json!(x.repository));
                text(&mut o, "version", &x.version);
                text(&mut o, "condition", &x.condition);
                text(&mut o, "alias", &x.alias);
                Value::Object(o)
            })
            .collect();
        m.insert("dependencies".into(), Value::Array(list));
    }
    Value::Object(m)
}

/// What `helm show chart` printed, without the fields chartreg does not show (the chart's
/// `condition`/`tags`, a dependency's `tags`/`enabled`/`import-values`).
fn shown_by_helm(yaml: &str) -> Result<Value, String> {
    let mut v: Value =
        serde_norway::from_str(yaml).map_err(|e| format!("helm show chart output: {e}\n{yaml}"))?;
    if let Some(m) = v.as_object_mut() {
        m.remove("condition");
        m.remove("tags");
        if let Some(deps) = m.get_mut("dependencies").and_then(Value::as_array_mut) {
            for d in deps.iter_mut().filter_map(Value::as_object_mut) {
                for k in ["tags", "enabled", "import-values"] {
                    d.remove(k);
                }
            }
        }
    }
    Ok(v)
}

/// The library's details of `tgz` equal `helm show chart` and `helm show values` (v4 and v3).
fn same_as_helm(tb: &Testbed, tgz: &Path) -> TestResult<ChartDetails> {
    let bytes = std::fs::read(tgz).map_err(|e| format!("{}: {e}", tgz.display()))?;
    let got = read_chart_archive(&bytes, &tgz.display().to_string()).map_err(|e| e.to_string())?;
    for v3 in [false, true] {
        let helm = if v3 { "helm3" } else { "helm4" };
        let chart = shown_by_helm(&helm_show(tb, v3, "chart", tgz)?)?;
        ensure(chart == helm_shape(&got), || {
            format!(
                "{}: {helm} show chart:\n{chart:#}\nchartreg:\n{:#}",
                tgz.display(),
                helm_shape(&got)
            )
        })?;
        let values = helm_show(tb, v3, "values", tgz)?;
        let ours = got
            .values
            .as_ref()
            .map_or(String::new(), |v| format!("{v}\n"));
        ensure(values == ours, || {
            format!(
                "{}: {helm} show values differs from values + \"\\n\":\n{values:?}\n{ours:?}",
                tgz.display()
            )
        })?;
    }
    Ok(got)
}

/// Pack `files` (path under the chart directory `odd`, text) with the system `tar`.
fn pack(dir: &Path, name: &str, files: &[(&str, &str)]) -> TestResult<std::path::PathBuf> {
    let src = dir.join(name);
    for (path, text) in files {
        let p = src.join("odd").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
    }
    let tgz = dir.join(format!("{name}.tgz"));
    run_cmd(
        Command::new("tar")
            .arg("czf")
            .arg(&tgz)
            .arg("-C")
            .arg(&src)
            .arg("odd"),
    )?;
    Ok(tgz)
}

/// Chart.yaml spellings `helm package` would normalise, read by Helm and by the library from
/// archives packed by `tar`: accepted ones read the same, refused ones are refused by both.
fn hand_made(tb: &Testbed) -> TestResult {
    let dir = tb.scratch_dir("hand-made-charts");
    let accepted: &[(&str, &[(&str, &str)])] = &[
        (
            "scalars",
            &[(
                "Chart.yaml",
                "apiVersion: v2\nname: odd\nversion: 1.0\nappVersion: 1.10\nhome: 1e6\nicon: 0.00001\nkubeVersion: 12345678901234567890\nkeywords: [1, 2.50, null, true]\nannotations: {a: 1, b: ~, 3: x, 1.5: 'y'}\ndeprecated: yes\n",
            )],
        ),
        (
            "key_case",
            &[
                (
                    "Chart.yaml",
                    "ApiVersion: v2\nName: odd\nVERSION: 2.0.0\nDescription: upper\ndescription: lower\nmaintainers: [{NAME: a, Email: b}]\n",
                ),
                ("values.yaml", "# no values, a comment\n"),
            ],
        ),
        (
            "sanitised_and_bom",
            &[
                (
                    "Chart.yaml",
                    "\u{feff}apiVersion: v2\nname: odd\nversion: 1.0.0\ndescription: \"tab\\there, newline\\nthere, zero\\u200bwidth\"\nkeywords: [\"a\\tb\"]\n",
                ),
                ("values.yaml", "\u{feff}a: 1\n---\nb: 2\n"),
                ("values.schema.json", "{}"),
            ],
        ),
        (
            "no_api_version_and_requirements",
            &[
                ("Chart.yaml", "name: odd\nversion: 0.0.1\n"),
                (
                    "requirements.yaml",
                    "dependencies:\n- name: x\n  repository: ''\n  version: 1.0.0\n",
                ),
            ],
        ),
        (
            "subchart_values_ignored",
            &[
                ("Chart.yaml", "apiVersion: v2\nname: odd\nversion: 1.0.0\n"),
                ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 1.0.0\n"),
                ("charts/sub/values.yaml", "sub: 1\n"),
            ],
        ),
    ];
    for (name, files) in accepted {
        let tgz = pack(&dir, name, files)?;
        let got = same_as_helm(tb, &tgz).map_err(|e| format!("{name}: {e}"))?;
        if *name == "sanitised_and_bom" {
            ensure(got.values_schema.as_deref() == Some("{}"), || {
                format!("{got:?}")
            })?;
        }
    }
    // Refused by Helm (`helm show`, or for the apiVersion `helm template`) and by the library.
    let refused: &[(&str, &str, &str)] = &[
        ("list_keywords", "apiVersion: v2\nname: odd\nversion: 1.0.0\nkeywords: abc\n", "keywords"),
        ("no_version", "apiVersion: v2\nname: odd\n", "version is required"),
        ("bad_version", "apiVersion: v2\nname: odd\nversion: x.y.z\n", "is invalid"),
        ("slash_name", "apiVersion: v2\nname: a/b\nversion: 1.0.0\n", "is invalid"),
        ("bad_type", "apiVersion: v2\nname: odd\nversion: 1.0.0\ntype: plugin\n", "application or library"),
        ("null_maintainer", "apiVersion: v2\nname: odd\nversion: 1.0.0\nmaintainers: [~]\n", "maintainers must not contain"),
        ("bad_alias", "apiVersion: v2\nname: odd\nversion: 1.0.0\ndependencies: [{name: a, repository: r, alias: 'a b'}]\n", "disallowed characters"),
        ("unsupported_api", "apiVersion: v9\nname: odd\nversion: 1.0.0\n", "unsupported chart version"),
    ];
    for (name, chart, why) in refused {
        let tgz = pack(&dir, name, &[("Chart.yaml", chart)])?;
        let helm = if *name == "unsupported_api" {
            let out = run_cmd(tb.helm().args(["template", "x"]).arg(&tgz));
            out.map(drop).map_err(|e| e.to_string())
        } else {
            helm_show(tb, false, "chart", &tgz).map(drop)
        };
        let helm_err = helm
            .err()
            .ok_or_else(|| format!("{name}: Helm accepted it"))?;
        let bytes = std::fs::read(&tgz).map_err(|e| e.to_string())?;
        let ours = read_chart_archive(&bytes, name)
            .map(drop)
            .map_err(|e| e.to_string());
        let ours = ours
            .err()
            .ok_or_else(|| format!("{name}: chartreg accepted what Helm refuses: {helm_err}"))?;
        ensure(ours.contains(why), || {
            format!("{name}: {ours} (Helm: {helm_err})")
        })?;
    }
    // Helm refuses a values.yaml that is not YAML mappings: so does the library.
    let tgz = pack(
        &dir,
        "values_list",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: odd\nversion: 1.0.0\n"),
            ("values.yaml", "- a\n"),
        ],
    )?;
    ensure(helm_show(tb, false, "values", &tgz).is_err(), || {
        "Helm accepted a list as values".into()
    })?;
    let bytes = std::fs::read(&tgz).map_err(|e| e.to_string())?;
    let e = read_chart_archive(&bytes, "values_list")
        .map(drop)
        .map_err(|e| e.to_string())
        .err();
    ensure(
        e.as_deref().is_some_and(|e| e.contains("values.yaml")),
        || format!("{e:?}"),
    )
}

fn runtime() -> TestResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn credentials(tb: &Testbed) -> Credentials {
    Credentials {
        username: tb.user.clone(),
        password: tb.password.clone(),
    }
}

/// The library downloads `withschema` 0.3.0 from a real nginx repository over TLS (test CA) with
/// basic auth: the details equal the reader's on the file `helm package` wrote, the digest is the
/// file's sha256 (what `helm pull` downloads), one GET with the user; the next read (a new
/// process: a new store, the same cache) sends no request; a corrupted archive on the server is
/// a digest mismatch and nothing is cached.
fn download_helm_repo(tb: &Testbed) -> TestResult {
    let srv = tb.try_spawn_helm_repo("archive-dl", true, true)?;
    let tgz = &tb.charts.details.with_schema;
    index_repo_dir(tb.helm_cli(), &srv.dir, &[tgz])?;
    let file = std::fs::read(tgz).map_err(|e| e.to_string())?;
    let want = read_chart_archive(&file, "local").map_err(|e| e.to_string())?;
    let repo = HelmRepo {
        endpoint: srv.url.clone(),
        credentials: Some(credentials(tb)),
        tls: TlsOptions {
            ca_pem: Some(tb.ca_pem.clone()),
            insecure_skip_verify: false,
        },
        pass_credentials: false,
    };
    let settings = HttpSettings::default();
    let rt = runtime()?;
    let IndexFetch::Fetched(index) = rt
        .block_on(fetch_index(&repo, &settings, None))
        .map_err(|e| e.to_string())?
    else {
        return Err("index not fetched".into());
    };
    let entry = index.index.entries()["withschema"][0].clone();
    let snapshot = Snapshot {
        kind: Kind::Helm,
        index_url: index.url.to_string(),
        charts: Default::default(),
    };
    let record = VersionRecord {
        version: entry.version.clone(),
        digest: entry.digest.clone(),
        urls: entry.urls.clone(),
        ..Default::default()
    };
    let cache_dir = tb.scratch_dir("archive-dl-cache");
    let cache = Cache::registry(&cache_dir, "helm", "r").map_err(|e| e.to_string())?;
    let read = |store: &ArchiveStore, cache: &Cache| {
        rt.block_on(helm_chart_details(
            store,
            &repo,
            &settings,
            Some(cache),
            &snapshot,
            &record,
        ))
    };
    let store = ArchiveStore::default();
    let (got, info) = read(&store, &cache).map_err(|e| e.to_string())?;
    ensure(got == want, || format!("{got:?}\n{want:?}"))?;
    ensure(
        info.digest == sha256_hex(&file) && info.digest == entry.digest,
        || format!("{info:?} / index digest {}", entry.digest),
    )?;
    ensure(
        info.url == format!("{}/withschema-0.3.0.tgz", srv.url),
        || info.url.clone(),
    )?;
    let gets = || srv.requests_to("/withschema-0.3.0.tgz");
    let users: Vec<_> = gets().into_iter().map(|e| (e.status, e.user)).collect();
    ensure(users == [(200, Some(tb.user.clone()))], || {
        format!("{users:?}")
    })?;
    let (again, info) = read(&ArchiveStore::default(), &cache).map_err(|e| e.to_string())?;
    ensure(
        again == want && !info.downloaded && gets().len() == 1,
        || format!("second read: {info:?}, {} GETs", gets().len()),
    )?;
    // Corrupted on the server after indexing: refused, nothing cached.
    let other = std::fs::read(&tb.charts.details.with_deps).map_err(|e| e.to_string())?;
    std::fs::write(srv.dir.join("withschema-0.3.0.tgz"), &other).map_err(|e| e.to_string())?;
    let fresh = Cache::registry(&cache_dir, "helm", "fresh").map_err(|e| e.to_string())?;
    match read(&ArchiveStore::default(), &fresh) {
        Err(e @ Error::DigestMismatch { .. }) => {
            let s = e.to_string();
            ensure(
                s.contains(&entry.digest) && s.contains(&sha256_hex(&other)),
                || s.clone(),
            )?;
        }
        other => return Err(format!("corrupted archive: {other:?}")),
    }
    // The download streamed into a temporary file of the cache, removed on the mismatch: no
    // file is left (directories made for it may stay).
    let left = files_below(fresh.root());
    ensure(left.is_empty(), || {
        format!("a corrupted archive was cached: {left:?}")
    })
}

/// Every file (not directory) below `dir`, recursively; none when it does not exist.
fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                _ => out.push(e.path()),
            }
        }
    }
    out
}

/// The library reads `withschema` 0.3.0 pushed by `helm push` to a real docker-registry (TLS,
/// htpasswd): the details equal the reader's on the pushed file, the manifest digest is the one
/// `helm push` printed, the archive digest the file's sha256; the next read only asks for the
/// manifest (the layer comes from the cache).
fn download_oci(tb: &Testbed) -> TestResult {
    let reg = tb.try_spawn_registry(RegistryAuth::Basic)?;
    let tgz = &tb.charts.details.with_schema;
    let pushed = reg.push(tgz, "details")?;
    let file = std::fs::read(tgz).map_err(|e| e.to_string())?;
    let want = read_chart_archive(&file, "local").map_err(|e| e.to_string())?;
    let registry = OciRegistry {
        endpoint: parse_endpoint(&reg.host).map_err(|e| format!("{e:?}"))?,
        credentials: Some(credentials(tb)),
        tls: TlsOptions {
            ca_pem: Some(tb.ca_pem.clone()),
            insecure_skip_verify: false,
        },
    };
    let cache_dir = tb.scratch_dir("archive-oci-cache");
    let cache = Cache::registry(&cache_dir, "oci", "r").map_err(|e| e.to_string())?;
    let rt = runtime()?;
    let settings = HttpSettings::default();
    let read = || {
        let client = OciClient::new(&registry, &settings, Some(cache.clone()))?;
        rt.block_on(client.chart_details(&ArchiveStore::default(), "details/withschema", "0.3.0"))
    };
    let (got, info) = read().map_err(|e| e.to_string())?;
    ensure(got == want, || format!("{got:?}\n{want:?}"))?;
    ensure(
        info.digest == sha256_hex(&file)
            && info.manifest_digest.as_deref() == Some(pushed.digest.as_str())
            && info.downloaded,
        || format!("{info:?} / pushed {}", pushed.digest),
    )?;
    let (again, info) = read().map_err(|e| e.to_string())?;
    ensure(again == want && !info.downloaded, || {
        format!("second read: {info:?}")
    })
}
