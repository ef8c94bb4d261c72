//! The reader on archives made here, byte by byte (hostile ones included). The same reader on
//! archives made by the real `helm package` is checked against `helm show` in the acceptance
//! tests (`acceptance/chart_archive.rs`).

use std::io::Write;

use super::tarball::top_files_capped;
use super::*;

/// One tar entry: raw name bytes (no checks: hostile names welcome), type flag, data.
pub(crate) struct Entry<'a> {
    pub name: &'a [u8],
    pub flag: u8,
    pub data: &'a [u8],
    /// The size written in the header (defaults to `data.len()`).
    pub size: Option<u64>,
}

pub(crate) fn file<'a>(name: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        name: name.as_bytes(),
        flag: b'0',
        data,
        size: None,
    }
}

pub(crate) fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_ustar();
        let name = &mut h.as_old_mut().name;
        name[..e.name.len()].copy_from_slice(e.name);
        h.set_mode(0o644);
        h.set_size(e.size.unwrap_or(e.data.len() as u64));
        h.as_old_mut().linkflag[0] = e.flag;
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub(crate) fn tgz(entries: &[Entry]) -> Vec<u8> {
    gzip(&tar(entries))
}

const CHART: &[u8] =
    b"apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\ndescription: A demo chart\n";

fn read(archive: &[u8]) -> std::result::Result<ChartDetails, String> {
    read_chart_archive(archive, "https://u:p@h/c/demo-1.2.3.tgz?token=t").map_err(|e| {
        let s = e.to_string();
        assert!(
            matches!(e, Error::InvalidChart { .. }) && !s.contains("u:p") && !s.contains("token"),
            "{s}"
        );
        s
    })
}

fn refused(archive: &[u8], why: &str) {
    let e = read(archive).unwrap_err();
    assert!(e.contains(why), "wanted {why:?} in: {e}");
}

#[test]
fn a_full_chart() {
    let chart = b"\xEF\xBB\xBFapiVersion: v2
name: demo
version: 1.2.3
appVersion: 1.10
description: \"A\\tdemo\"
home: https://example.com
icon: https://example.com/i.png
keywords: [a, b]
sources: [https://git.example.com/demo]
maintainers:
  - {name: Ann, email: ann@example.com, url: https://ann.example.com}
  - name: Bob
dependencies:
  - {name: redis, version: ~17.0.0, repository: https://charts.example.com, condition: redis.enabled}
  - {name: common, version: 2.x.x, repository: oci://r.example.com/c, alias: lib, tags: [t], import-values: [x]}
annotations: {category: Database, licenses: Apache-2.0}
deprecated: true
type: application
kubeVersion: '>=1.22.0-0'
";
    let values = b"# Default values\nreplicaCount: 1\nimage:\n  repository: nginx\n";
    let schema =
        b"{\"$schema\": \"https://json-schema.org/draft-07/schema#\", \"type\": \"object\"}\n";
    let a = tgz(&[
        file("demo/Chart.yaml", chart),
        file("demo/values.yaml", values),
        file("demo/values.schema.json", schema),
        file("demo/templates/deployment.yaml", b"kind: Deployment\n"),
        // A subchart's files are not the chart's.
        file(
            "demo/charts/sub/Chart.yaml",
            b"apiVersion: v2\nname: sub\nversion: 9.9.9\n",
        ),
        file("demo/charts/sub/values.yaml", b"sub: true\n"),
        file("demo/charts/sub/values.schema.json", b"{}"),
    ]);
    let d = read(&a).unwrap();
    assert_eq!(
        d,
        ChartDetails {
            api_version: "v2".into(),
            name: "demo".into(),
            version: "1.2.3".into(),
            description: "A demo".into(),
            app_version: "1.1".into(),
            home: "https://example.com".into(),
            icon: "https://example.com/i.png".into(),
            keywords: vec!["a".into(), "b".into()],
            sources: vec!["https://git.example.com/demo".into()],
            maintainers: vec![
                Maintainer {
                    name: "Ann".into(),
                    email: "ann@example.com".into(),
                    url: "https://ann.example.com".into()
                },
                Maintainer {
                    name: "Bob".into(),
                    ..Maintainer::default()
                },
            ],
            dependencies: vec![
                Dependency {
                    name: "redis".into(),
                    version: "~17.0.0".into(),
                    repository: "https://charts.example.com".into(),
                    condition: "redis.enabled".into(),
                    alias: String::new(),
                },
                Dependency {
                    name: "common".into(),
                    version: "2.x.x".into(),
                    repository: "oci://r.example.com/c".into(),
                    condition: String::new(),
                    alias: "lib".into(),
                },
            ],
            annotations: [("category", "Database"), ("licenses", "Apache-2.0")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            deprecated: true,
            chart_type: "application".into(),
            kube_version: ">=1.22.0-0".into(),
            values: Some(String::from_utf8(values.to_vec()).unwrap()),
            values_schema: Some(String::from_utf8(schema.to_vec()).unwrap()),
        }
    );
}

#[test]
fn minimal_chart_and_absent_files() {
    let d = read(&tgz(&[file(
        "x/Chart.yaml",
        b"name: demo\nversion: 0.1.0\n",
    )]))
    .unwrap();
    assert_eq!(d.api_version, "v1", "Helm's default");
    assert_eq!((d.values, d.values_schema), (None, None));
    // An empty values.yaml is a chart with (empty) values.
    let d = read(&tgz(&[
        file("x/Chart.yaml", CHART),
        file("x/values.yaml", b""),
    ]))
    .unwrap();
    assert_eq!(d.values.as_deref(), Some(""));
    // The chart directory's name does not matter, nor the order of the entries.
    let d = read(&tgz(&[
        file("whatever/values.yaml", b"a: 1\n"),
        file("other-dir/Chart.yaml", CHART),
    ]))
    .unwrap();
    assert_eq!(
        (d.name.as_str(), d.values.as_deref()),
        ("demo", Some("a: 1\n"))
    );
}

#[test]
fn requirements_yaml_gives_the_dependencies_of_v1_charts() {
    let req = b"dependencies:\n  - name: mysql\n    version: 1.x\n    repository: https://charts.example.com\n    alias: db\n";
    let d = read(&tgz(&[
        file(
            "old/Chart.yaml",
            b"apiVersion: v1\nname: old\nversion: 1.0.0\n",
        ),
        file("old/requirements.yaml", req),
    ]))
    .unwrap();
    assert_eq!(d.dependencies.len(), 1);
    assert_eq!(
        (
            d.dependencies[0].name.as_str(),
            d.dependencies[0].alias.as_str()
        ),
        ("mysql", "db")
    );
    // Helm applies it on top of Chart.yaml for v2 charts too (with a warning) ...
    let d = read(&tgz(&[
        file(
            "c/Chart.yaml",
            b"apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies: [{name: a}]\n",
        ),
        file("c/requirements.yaml", req),
    ]))
    .unwrap();
    assert_eq!(d.dependencies[0].name, "mysql");
    // ... but not for v3 charts.
    let d = read(&tgz(&[
        file(
            "c/Chart.yaml",
            b"apiVersion: v3\nname: c\nversion: 1.0.0\ndependencies: [{name: a}]\n",
        ),
        file("c/requirements.yaml", req),
    ]))
    .unwrap();
    assert_eq!(d.dependencies[0].name, "a");
    refused(
        &tgz(&[
            file("c/Chart.yaml", b"apiVersion: v1\nname: c\nversion: 1.0.0\n"),
            file("c/requirements.yaml", b"dependencies: [null]\n"),
        ]),
        "dependencies must not contain empty or null nodes",
    );
}

#[test]
fn malformed_archives_are_clean_errors() {
    refused(b"", "not a gzip-compressed archive");
    refused(
        b"apiVersion: v2\nname: x\n",
        "not a gzip-compressed archive",
    );
    refused(b"\x1f\x8b\x08\x00garbage", "cannot be read");
    let good = tgz(&[
        file("c/Chart.yaml", CHART),
        file("c/values.yaml", b"a: 1\n"),
    ]);
    refused(&good[..good.len() / 2], "cannot be read");
    // A header whose checksum is wrong.
    let mut t = tar(&[file("c/Chart.yaml", CHART)]);
    t[0] ^= 1;
    refused(&gzip(&t), "cannot be read");
    // An entry that ends before its size.
    let mut t = tar(&[
        file("c/Chart.yaml", CHART),
        file("c/values.yaml", &[b'a'; 2000]),
    ]);
    t.truncate(1536);
    refused(&gzip(&t), "truncated");
    refused(&tgz(&[]), "no files in chart archive");
    refused(
        &tgz(&[file("c/values.yaml", b"a: 1\n")]),
        "Chart.yaml file is missing",
    );
    refused(
        &tgz(&[file("c/charts/sub/Chart.yaml", CHART)]),
        "Chart.yaml file is missing",
    );
}

#[test]
fn malformed_chart_files_are_clean_errors() {
    let with = |chart: &[u8], values: Option<&[u8]>| {
        let mut e = vec![file("c/Chart.yaml", chart)];
        if let Some(v) = values {
            e.push(file("c/values.yaml", v));
        }
        tgz(&e)
    };
    refused(&with(b"name: [", None), "cannot load Chart.yaml");
    refused(&with(b"- a\n", None), "Chart.yaml is a list");
    refused(
        &with(b"apiVersion: v9\nname: c\nversion: 1.0.0\n", None),
        "unsupported chart version",
    );
    refused(
        &with(b"apiVersion: v2\nversion: 1.0.0\n", None),
        "chart.metadata.name is required",
    );
    refused(
        &with(b"apiVersion: v2\nname: c\nversion: one\n", None),
        "version \"one\" is invalid",
    );
    refused(&with(b"\xff\xfe", None), "cannot load Chart.yaml");
    refused(
        &with(CHART, Some(b"- a\n- b\n")),
        "cannot load values.yaml: document 1 is a list",
    );
    refused(&with(CHART, Some(b"a: [\n")), "cannot load values.yaml");
    refused(&with(CHART, Some(b"a: \xff\n")), "values.yaml");
    // An alias bomb in Chart.yaml is refused by the index parser's guard.
    let mut bomb = String::from(
        "apiVersion: v2\nname: c\nversion: 1.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    refused(&with(bomb.as_bytes(), None), "aliases");
    let tgz_schema = tgz(&[
        file("c/Chart.yaml", CHART),
        file("c/values.schema.json", b"\xc3\x28"),
    ]);
    refused(&tgz_schema, "values.schema.json is not UTF-8");
}

#[test]
fn hostile_paths_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let before = std::env::current_dir().unwrap();
    for (name, why) in [
        ("c/../../etc/passwd", "references parent directory"),
        ("c/../x", "references parent directory"),
        ("c//etc/passwd", "absolute paths"),
        ("c/C:/Windows/x", "illegally named files"),
        ("c\\..\\..\\x", "references parent directory"),
        ("Chart.yaml", "outside the base directory"),
        ("Chart.yaml/x", "chart yaml not in base directory"),
    ] {
        refused(&tgz(&[file("c/Chart.yaml", CHART), file(name, b"x")]), why);
    }
    // A leading "../" is only the chart directory (Helm drops the first component): harmless.
    let d = read(&tgz(&[file("../Chart.yaml", CHART)])).unwrap();
    assert_eq!(d.name, "demo");
    // Links are read as the (empty) files Helm reads them as; never followed.
    let d = read(&tgz(&[
        file("c/Chart.yaml", CHART),
        Entry {
            name: b"c/values.yaml",
            flag: b'2',
            data: b"",
            size: None,
        },
    ]))
    .unwrap();
    assert_eq!(d.values.as_deref(), Some(""));
    refused(
        &tgz(&[
            file("c/Chart.yaml", CHART),
            Entry {
                name: b"c/l",
                flag: b'1',
                data: b"abc",
                size: None,
            },
        ]),
        "claims 3 bytes",
    );
    assert_eq!(std::env::current_dir().unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn duplicates_of_the_files_read_are_refused() {
    for name in [
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        "requirements.yaml",
    ] {
        let path = format!("c/{name}");
        let data: &[u8] = if name == "Chart.yaml" { CHART } else { b"{}" };
        let mut entries = vec![file("c/Chart.yaml", CHART)];
        if name != "Chart.yaml" {
            entries.push(file(&path, data));
        }
        entries.push(file(&path, data));
        refused(&tgz(&entries), &format!("holds the chart's {name} twice"));
    }
    // Other files may repeat (Helm keeps both).
    read(&tgz(&[
        file("c/Chart.yaml", CHART),
        file("c/README.md", b"a"),
        file("c/README.md", b"b"),
    ]))
    .unwrap();
}

#[test]
fn long_names_gnu_and_pax() {
    // GNU long name (what `tar` writes for names over 100 bytes).
    let dir = "d".repeat(150);
    let long = format!("{dir}/values.yaml\0");
    let d = read(&tgz(&[
        file("c/Chart.yaml", CHART),
        Entry {
            name: b"././@LongLink",
            flag: b'L',
            data: long.as_bytes(),
            size: None,
        },
        file("ignored", b"a: 1\n"),
    ]))
    .unwrap();
    assert_eq!(d.values.as_deref(), Some("a: 1\n"));
    // PAX path (what Go's writer, so `helm package`, writes for long names).
    let pax = "29 path=c/values.schema.json\n";
    assert_eq!(pax.len(), 29);
    let d = read(&tgz(&[
        file("c/Chart.yaml", CHART),
        Entry {
            name: b"PaxHeaders/x",
            flag: b'x',
            data: pax.as_bytes(),
            size: None,
        },
        file("short", b"{}"),
    ]))
    .unwrap();
    assert_eq!(d.values_schema.as_deref(), Some("{}"));
    // A PAX size that disagrees with the header; a PAX header of 2 MiB; a dangling one.
    let pax = "11 size=99\n";
    refused(
        &tgz(&[
            file("c/Chart.yaml", CHART),
            Entry {
                name: b"p",
                flag: b'x',
                data: pax.as_bytes(),
                size: None,
            },
            file("c/x", b"12"),
        ]),
        "PAX size that differs",
    );
    let big = vec![b'a'; 2 << 20];
    refused(
        &tgz(&[
            file("c/Chart.yaml", CHART),
            Entry {
                name: b"p",
                flag: b'x',
                data: &big,
                size: None,
            },
        ]),
        "PAX header or GNU long name of 2097152 bytes",
    );
    refused(
        &tgz(&[
            file("c/Chart.yaml", CHART),
            Entry {
                name: b"p",
                flag: b'L',
                data: b"c/x\0",
                size: None,
            },
        ]),
        "ends with an extension header",
    );
    refused(
        &tgz(&[
            file("c/Chart.yaml", CHART),
            Entry {
                name: b"p",
                flag: b'x',
                data: b"garbage",
                size: None,
            },
            file("c/x", b""),
        ]),
        "malformed PAX header",
    );
    refused(
        &tgz(&[
            file("c/Chart.yaml", CHART),
            Entry {
                name: b"c/sparse",
                flag: b'S',
                data: b"",
                size: None,
            },
        ]),
        "sparse",
    );
}

#[test]
fn size_caps_like_helm() {
    // A header claiming more than 5 MiB: refused before anything is read.
    let claim = tgz(&[
        file("c/Chart.yaml", CHART),
        Entry {
            name: b"c/big",
            flag: b'0',
            data: b"",
            size: Some(MAX_DECOMPRESSED_FILE_SIZE + 1),
        },
    ]);
    refused(&claim, "larger than the maximum file size 5242880");
    // Exactly 5 MiB is allowed.
    let five = vec![0u8; MAX_DECOMPRESSED_FILE_SIZE as usize];
    read(&tgz(&[file("c/Chart.yaml", CHART), file("c/five", &five)])).unwrap();
    // 20 files of 5 MiB reach 100 MiB: Helm refuses reaching the total (remaining <= 0).
    let names: Vec<String> = (0..20).map(|i| format!("c/f{i}")).collect();
    let mut entries = vec![file("c/Chart.yaml", CHART)];
    entries.extend(names.iter().map(|n| file(n, &five)));
    refused(&tgz(&entries), "larger than the maximum size 104857600");
}

#[test]
fn compression_bombs_stop_at_the_stream_cap() {
    // Many empty entries: nothing counts against Helm's caps, the stream cap stops them.
    let entries: Vec<Entry> = (0..4000).map(|_| file("c/empty", b"")).collect();
    let mut all = vec![file("c/Chart.yaml", CHART)];
    all.extend(entries);
    let a = tgz(&all);
    assert!(a.len() < 64 * 1024, "{}", a.len());
    let e = top_files_capped(&a, 1 << 20).unwrap_err();
    assert!(e.contains("decompresses to more than 1048576 bytes"), "{e}");
    assert!(top_files_capped(&a, 4 << 20).is_ok());
    // Gigabytes of zeros after a valid gzip header: the tar end marker stops the read at once.
    let t = std::time::Instant::now();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&block).unwrap();
    }
    refused(&enc.finish().unwrap(), "no files in chart archive");
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn concatenated_gzip_members_are_one_stream_as_in_go() {
    let t = tar(&[
        file("c/Chart.yaml", CHART),
        file("c/values.yaml", b"a: 1\n"),
    ]);
    let (a, b) = t.split_at(700);
    let mut two = gzip(a);
    two.extend(gzip(b));
    assert_eq!(read(&two).unwrap().values.as_deref(), Some("a: 1\n"));
}
