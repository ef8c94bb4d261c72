//! Helm's rules for one index entry: `chart.Metadata.Validate` as `repo.loadIndex` applies it,
//! Helm's `sanitizeString` for the text fields shown to users, and the project's stricter rule
//! for chart names (see the fidelity notes of [`super`]). Kept apart from parsing because these
//! rules follow Helm's source, not the document's syntax.

use crate::registry::catalog::SemVer;
use crate::registry::helm_index::index_doc::RawEntry;

/// Go's `unicode.IsPrint` for what is not white space: letters, marks, numbers, punctuation and
/// symbols. Approximated as "not a control, format, private-use or non-character code point".
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || matches!(u,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
            | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
            | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFDD0..=0xFDEF)
        || (u & 0xFFFE) == 0xFFFE)
}

/// Helm's `sanitizeString`: white space becomes a space, non-printable characters go.
pub(crate) fn sanitize(s: String) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s;
    }
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if is_go_printable(c) {
                Some(c)
            } else {
                None
            }
        })
        .collect()
}

pub(crate) fn is_alias_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether Helm's `sanitizeString` would change `s`: a character that is not printable, or white
/// space other than a plain space.
fn needs_sanitizing(s: &str) -> bool {
    s.chars().any(|c| {
        if c.is_whitespace() {
            c != ' '
        } else {
            !is_go_printable(c)
        }
    })
}

/// `chart.Metadata.Validate` as `loadIndex` applies it to the entry listed under `chart` (the
/// "more than one dependency with name or alias" error is ignored there, so it is not checked),
/// plus the name rule of the module docs (names Helm would have to alter are refused).
pub(super) fn validate(chart: &str, e: &RawEntry) -> std::result::Result<(), String> {
    // loadIndex defaults an empty apiVersion to v1, so that check never fails.
    let _ = &e.api_version;
    if e.name.is_empty() {
        return Err("chart.metadata.name is required".into());
    }
    if needs_sanitizing(&e.name) {
        return Err("chart.metadata.name contains control or non-printable characters".into());
    }
    if needs_sanitizing(chart) {
        return Err(
            "the chart name (its key in entries) contains control or non-printable characters"
                .into(),
        );
    }
    if e.name == "." || e.name == ".." {
        return Err(format!("chart.metadata.name {:?} is not allowed", e.name));
    }
    if e.name.contains('/') {
        return Err(format!("chart.metadata.name {:?} is invalid", e.name));
    }
    if e.version.is_empty() {
        return Err("chart.metadata.version is required".into());
    }
    if SemVer::parse(&e.version).is_none() {
        return Err(format!("chart.metadata.version {:?} is invalid", e.version));
    }
    if !matches!(e.chart_type.as_str(), "" | "application" | "library") {
        return Err("chart.metadata.type must be application or library".into());
    }
    if e.maintainers.iter().flatten().any(Option::is_none) {
        return Err("maintainers must not contain empty or null nodes".into());
    }
    for d in e.dependencies.iter().flatten() {
        let Some(d) = d else {
            return Err("dependencies must not contain empty or null nodes".into());
        };
        if !d.alias.is_empty() && !is_alias_name(&d.alias) {
            return Err(format!(
                "dependency {:?} has disallowed characters in the alias",
                sanitize(d.name.clone())
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::helm_index::parse::{parse_index, MAX_SKIPPED_EXAMPLES};

    #[test]
    fn skips_and_counts_invalid_entries() {
        let doc = r#"apiVersion: v1
entries:
  c:
    - {name: c, version: 1.0.0}
    - {version: 1.0.1}
    - {name: c}
    - {name: c, version: not-semver}
    - {name: c, version: 1.2.3.4}
    - {name: c, version: 1.0.2, type: plugin}
    - {name: c, version: 1.0.3, maintainers: [null]}
    - {name: c, version: 1.0.4, dependencies: [null]}
    - {name: c, version: 1.0.5, dependencies: [{name: x, alias: "bad alias"}]}
    - {name: a/b, version: 1.0.6}
    - {name: "..", version: 1.0.7}
    - null
    - {name: c, version: v1.1, apiVersion: ""}
  empty: []
  nulls: null
  allbad:
    - {name: allbad, version: x}
"#;
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        assert_eq!(idx.skipped, 11);
        assert_eq!(idx.skipped_examples.len(), MAX_SKIPPED_EXAMPLES);
        let ex = &idx.skipped_examples;
        assert!(
            ex[0].starts_with("chart \"allbad\" version \"x\""),
            "{ex:?}"
        );
        assert!(ex[1].contains("name is required"), "{ex:?}");
        assert_eq!(idx.entries().keys().collect::<Vec<_>>(), ["c"]);
        let v: Vec<_> = idx.entries()["c"]
            .iter()
            .map(|e| e.version.clone())
            .collect();
        assert_eq!(v, ["v1.1", "1.0.0"]);
    }

    #[test]
    fn sanitizes_like_helm() {
        assert_eq!(sanitize("a\tb\nc\u{a0}d".into()), "a b c d");
        assert_eq!(
            sanitize("zero\u{200b}width\u{7}bell é日本".into()),
            "zerowidthbell é日本"
        );
        assert_eq!(sanitize("plain".into()), "plain");
    }

    #[test]
    fn skips_names_with_control_characters() {
        let doc = "apiVersion: v1\nentries:\n  \"\\e[31mevil\\e[0m\":\n    - {name: \"\\e[31mevil\\e[0m\", version: 1.0.0}\n  sneaky:\n    - {name: \"sneaky\\e]0;t\\a\", version: 1.0.0}\n  \"key\\u009b2J\":\n    - {name: key, version: 1.0.0}\n  tab:\n    - {name: \"t\\tab\", version: 1.0.0}\n  zw:\n    - {name: \"z\\u200bw\", version: 1.0.0}\n  ok:\n    - {name: \"o k\", version: 1.0.0}\n";
        let idx = parse_index(doc.as_bytes(), "u").unwrap();
        assert_eq!(idx.entries().keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(idx.skipped, 5);
        let ex = idx.skipped_examples.join("\n");
        assert!(ex.contains("chart \"\\u{1b}[31mevil\\u{1b}[0m\" version \"1.0.0\": chart.metadata.name contains control"), "{ex}");
        assert!(ex.contains("chart \"key\\u{9b}2J\" version \"1.0.0\": the chart name (its key in entries) contains control"), "{ex}");
        assert!(!ex.contains('\u{1b}') && !ex.contains('\u{9b}'), "{ex}");
        // The same in JSON.
        let json = r#"{"apiVersion":"v1","entries":{"\u001b[2Jx":[{"name":"\u001b[2Jx","version":"1.0.0"}],"y":[{"name":"y","version":"1.0.0"}]}}"#;
        let idx = parse_index(json.as_bytes(), "u").unwrap();
        assert_eq!((idx.chart_count(), idx.skipped), (1, 1));
    }
}
