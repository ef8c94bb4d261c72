//! The fast path against the full parser: on every excerpt of a real index, on crafted
//! documents at the edges of its subset, and on random mutations of them. The invariant: when
//! the fast path answers, the full parser reads the document too and builds the same value.

use super::Outcome;
use crate::registry::helm_index::parse::full_parser_raw;
use crate::registry::helm_index::store::Collect;

/// The fast path's reading of `doc`, its entries collected as the full parser holds them.
fn read<B: std::io::BufRead>(doc: B, deadline: Option<std::time::Instant>) -> Outcome {
    let mut sink = Collect::default();
    match super::read(doc, deadline, &mut sink) {
        Outcome::Parsed(mut raw) => {
            if let Some(Some(e)) = &mut raw.entries {
                *e = sink.0;
            }
            Outcome::Parsed(raw)
        }
        other => other,
    }
}

const EXCERPTS: &[(&str, &[u8])] = &[
    (
        "bitnami",
        include_bytes!("../../../../testdata/indexes/bitnami-2022-06-16.excerpt.yaml"),
    ),
    (
        "rancher",
        include_bytes!("../../../../testdata/indexes/rancher-dev-v2.9.excerpt.yaml"),
    ),
    (
        "ingress-nginx",
        include_bytes!("../../../../testdata/indexes/ingress-nginx-2026-03-19.excerpt.yaml"),
    ),
    (
        "grafana",
        include_bytes!("../../../../testdata/indexes/grafana-2026-08-20.excerpt.yaml"),
    ),
    (
        "datadog",
        include_bytes!("../../../../testdata/indexes/datadog-2026-08-21.excerpt.yaml"),
    ),
    (
        "rke2",
        include_bytes!("../../../../testdata/indexes/rke2-charts-2026-08-19.excerpt.yaml"),
    ),
];

/// `Some(true)` when the fast path read `doc` (and agreed), `Some(false)` when it left it to the
/// full parser. Panics when the fast path answers something the full parser does not.
fn agrees(doc: &[u8]) -> bool {
    match read(doc, None) {
        Outcome::Parsed(fast) => match full_parser_raw(doc) {
            Ok(full) => {
                assert_eq!(
                    fast,
                    full,
                    "fast path and full parser differ on {:?}",
                    String::from_utf8_lossy(doc)
                );
                true
            }
            Err(e) => panic!(
                "the fast path read a document the full parser refuses ({e}): {:?}",
                String::from_utf8_lossy(doc)
            ),
        },
        Outcome::NotHandled(_) => false,
        Outcome::Deadline => panic!("no deadline was given"),
    }
}

#[test]
fn reads_every_excerpt_as_the_full_parser_does() {
    for (name, doc) in EXCERPTS {
        assert!(agrees(doc), "{name}: the fast path did not handle it");
        let Outcome::Parsed(raw) = read(*doc, None) else {
            unreachable!()
        };
        assert!(
            raw.entries.unwrap().unwrap().0.values().flatten().count() > 0,
            "{name}"
        );
    }
}

/// Documents the fast path reads (`true`) or leaves to the full parser (`false`).
const CASES: &[(&str, bool)] = &[
    ("apiVersion: v1\nentries: {}\n", true),
    ("apiVersion: v1\nentries:\n", true),
    ("apiVersion: v1\n", true),
    ("entries:\n  a: []\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n", true),
    ("apiVersion: v1\nentries:\n  a:\n    - name: a\n      version: 1.0.0\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  -   name: a\n      version: 1.0.0\n", true),
    // Literal text of plain scalars, nulls, YAML 1.1 booleans.
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.10\n    appVersion: 1.10\n    deprecated: yes\n    digest: ~\n    created: 2024-01-01T00:00:00Z\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    deprecated: \"on\"\n  - name: a\n    deprecated: False\n  - name: a\n    deprecated:\n  - name: a\n    deprecated: null\n  - name: a\n    deprecated: ''\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    deprecated: 1\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    deprecated: maybe\n", false),
    ("apiVersion: v1\nentries:\n  123:\n  - name: \"123\"\n    version: 0x10\n  true:\n  - name: 'true'\n    version: 1e3\n", true),
    ("apiVersion: 1\nentries:\n  a:\n  - null\n  - ~\n  - name: a\n", true),
    ("apiVersion: v1\nentries:\n  a: null\n  b: ~\n  c:\n  d: []\n", true),
    ("apiVersion: v1\nentries:\n  null: []\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n  a:\n  - name: b\n", true),
    // Multi-line plain scalars (go-yaml folds at 80 columns).
    ("apiVersion: v1\nentries:\n  a:\n  - description: one two\n      three   four\n      five\n    name: a\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - description: one\n\n      two\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: one\n      two: x\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: one\n      # two\n    name: a\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - description: |\n      x", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: one\n      - two\n    name: a\n", false),
    // Quoted scalars and escapes.
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"tab\\there \\\"q\\\" \\u00e9\\x41\\U0001F600 \\\\ \\/ \\N\\_\\L\\P\\0\\e\"\n    name: 'it''s'\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"bad \\q\"\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"two\n      lines\"\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: 'two\n      lines'\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"x\" # c\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"x\"y\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"\\ud800\"\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: \"caf\u{e9} \u{65e5}\u{672c}\"\n    name: \u{e9}t\u{e9}\n", true),
    // Block scalars: literal read exactly, any style skipped.
    ("apiVersion: v1\nentries:\n  a:\n  - description: |\n      line one\n        indented  \n\n      after blank\n    name: a\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - description: |-\n      x\n    name: a\n  - description: |\n    name: a\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - description: >\n      folded\n      text\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: |+\n      x\n\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - description: |2\n      x\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - annotations:\n      links: |\n        - name: x # not a comment\n          url: \"y\n\n        {[&*!\n      other: >-\n        folded\n    name: a\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - annotations:\n      links: |\n          deep\n        shallow\n    name: a\n", false),
    // Lists.
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    urls:\n    - x.tgz\n    - \"y.tgz\"\n    - null\n    keywords: []\n    maintainers:\n    - name: me\n      email: m@x\n    - null\n    - text\n    - []\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    urls:\n      - x.tgz\n    keywords:\n    maintainers: []\n    dependencies:\n    - name: common\n      alias: c_1\n      tags:\n      - t\n      import-values:\n      - child: a\n        parent: b\n    - null\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    urls: x.tgz\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    urls:\n      x: y\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    urls: [x.tgz]\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    dependencies:\n    - common\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    dependencies:\n    - name: x\n      name: y\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    maintainers: {}\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name:\n    - x\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name:\n      x: y\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    name: b\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - 42\n", false),
    ("apiVersion: v1\nentries:\n  a:\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n- a\n", false),
    ("apiVersion: v1\napiVersion: v2\nentries: {}\n", false),
    // Top-level fields that are not read.
    ("apiVersion: v1\ngenerated: \"2024-01-01T00:00:00Z\"\nserverInfo: {}\nentries: {}\nextra:\n  deep:\n    deeper:\n    - [x]\n", false),
    ("apiVersion: v1\ngenerated: \"2024-01-01T00:00:00Z\"\nserverInfo:\n  contextPath: /x\nentries: {}\n", true),
    // What the fast path never reads.
    ("# comment\napiVersion: v1\nentries: {}\n", true),
    ("apiVersion: v1\nentries:\n  # c\n  a:\n  # c\n  - name: a\n  # c\n    version: 1\n#\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    description: x\n    # c\n      y\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    description: |\n      x\n      # c\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n    x: |\n    # c\n      y\n", false),
    ("apiVersion: v1 # comment\nentries: {}\n", false),
    ("---\napiVersion: v1\nentries: {}\n", false),
    ("%YAML 1.1\n---\napiVersion: v1\nentries: {}\n", false),
    ("apiVersion: v1\nentries: {}\n...\n", false),
    ("apiVersion: &a v1\nentries: {}\n", false),
    ("apiVersion: !!str v1\nentries: {}\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - &e {name: a}\n  - *e\n", false),
    ("apiVersion: v1\r\nentries: {}\r\n", false),
    ("apiVersion: v1\nentries:\n\ta: []\n", false),
    ("apiVersion:\tv1\nentries: {}\n", false),
    ("{\"apiVersion\": \"v1\", \"entries\": {}}", false),
    ("\"apiVersion\": v1\nentries: {}\n", false),
    ("? apiVersion\n: v1\nentries: {}\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n     version: 1\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n   version: 1\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\n  version: 1\n", false),
    ("  apiVersion: v1\n  entries: {}\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\u{85}b\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\u{2028}b\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a\u{7f}\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - <<: {name: a}\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: a: b\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: -\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - name: -a\n    version: ?b\n    appVersion: :c\n", true),
    ("apiVersion: v1\nentries:\n  a:\n  -\n    name: a\n", false),
    ("apiVersion: v1\nentries:\n  a:\n  - - x\n", false),
    ("", false),
    ("just text", false),
];

#[test]
fn reads_the_subset_and_leaves_the_rest() {
    for (doc, handled) in CASES {
        assert_eq!(agrees(doc.as_bytes()), *handled, "{doc:?}");
    }
}

#[test]
fn reads_what_the_fast_path_reads_line_by_line() {
    // Through a reader with a tiny buffer: lines longer than the buffer are read whole.
    let doc = EXCERPTS[0].1;
    let Outcome::Parsed(whole) = read(doc, None) else {
        panic!()
    };
    let Outcome::Parsed(small) = read(std::io::BufReader::with_capacity(7, doc), None) else {
        panic!()
    };
    assert_eq!(whole, small);
}

#[test]
fn stops_at_the_deadline() {
    let mut doc = String::from("apiVersion: v1\nentries:\n  c:\n");
    for i in 0..2000 {
        doc.push_str(&format!("  - name: c\n    version: 1.0.{i}\n"));
    }
    assert!(matches!(
        read(doc.as_bytes(), Some(std::time::Instant::now())),
        Outcome::Deadline
    ));
}

/// Random edits of small documents: wherever the fast path answers, it agrees.
#[test]
fn random_mutations_never_give_a_different_answer() {
    const FRAGMENTS: &[&str] = &[
        " ",
        "  ",
        "\n",
        "\n  ",
        "\n    ",
        "\n      ",
        "- ",
        "-",
        ": ",
        ":",
        "#",
        " #",
        "\n#",
        "\"",
        "'",
        "\\",
        "\\n",
        "|",
        "|-",
        ">",
        "[",
        "]",
        "{",
        "}",
        "[]",
        "{}",
        ",",
        "&a ",
        "*a",
        "!",
        "?",
        "null",
        "~",
        "yes",
        "1.0",
        "0x1",
        "name: ",
        "version: ",
        "urls:",
        "deprecated: ",
        "dependencies:\n    - ",
        "\t",
        "\r",
        "\u{e9}",
        "\u{85}",
        "%",
        "---",
        "x",
        "''",
    ];
    let mut docs: Vec<String> = CASES
        .iter()
        .filter(|(_, handled)| *handled)
        .map(|(d, _)| d.to_string())
        .collect();
    // Heads of the excerpts (a few entries each).
    for (_, doc) in EXCERPTS {
        let text = String::from_utf8_lossy(doc);
        docs.push(text.lines().take(60).collect::<Vec<_>>().join("\n") + "\n");
    }
    // CHARTREG_FUZZ_ROUNDS and CHARTREG_FUZZ_SEED make a longer or another run.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let rounds = env("CHARTREG_FUZZ_ROUNDS").unwrap_or(30_000) as usize;
    let mut seed = env("CHARTREG_FUZZ_SEED").unwrap_or(0x2545_f491_4f6c_dd1d) | 1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut handled, mut total) = (0, 0);
    for round in 0..rounds {
        let base = &docs[round % docs.len()];
        let mut doc = base.clone();
        for _ in 0..1 + next() % 3 {
            let mut at = (next() % (doc.len() as u64 + 1)) as usize;
            while !doc.is_char_boundary(at) {
                at -= 1;
            }
            match next() % 3 {
                0 => doc.insert_str(at, FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize]),
                1 => {
                    let mut end = (at + 1 + (next() % 4) as usize).min(doc.len());
                    while !doc.is_char_boundary(end) {
                        end += 1;
                    }
                    doc.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 1).min(doc.len());
                    while !doc.is_char_boundary(end) {
                        end += 1;
                    }
                    let f = FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize];
                    doc.replace_range(at..end, f);
                }
            }
        }
        total += 1;
        if agrees(doc.as_bytes()) {
            handled += 1;
        }
    }
    // Most mutations stay in the subset (the test must exercise the comparison).
    assert!(handled > total / 5, "{handled} of {total}");
}
