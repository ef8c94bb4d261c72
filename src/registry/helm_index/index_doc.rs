//! The Helm repository index document as Go's decoders (so Helm) read it, for serde: lenient
//! scalars (null → "", literal text kept), YAML 1.1 booleans, and errors in plain words that say
//! where the document is wrong (chart, entry, field, line) rather than what serde expected
//! (`expected struct RawEntry`, issue 7 point 13).
//!
//! The position comes from a per-thread record kept by the `entries` visitors (the derived
//! field visitors cannot carry context): which chart and which entry is being read. A parse
//! runs on one thread from start to end (`Reading` resets the record), so the record seen
//! after an error is the position of that error. The same visitors check the deadline once per
//! entry, so that the deserialisation of a large index stops soon after `request_timeout`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A string field as Go's decoders fill it: null → "", scalars keep their literal text.
pub(crate) struct Str(pub String);

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Str, E> {
                Ok(Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Str, E> {
                Ok(Str(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Str, E> {
                Ok(Str(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Str, E> {
                Ok(Str(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Str, E> {
                Ok(Str(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Str, E> {
                Ok(Str(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Str, E> {
                Ok(Str(String::new()))
            }
        }
        d.deserialize_str(V)
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<Str>::deserialize(d)?
        .map(|s| s.0)
        .unwrap_or_default())
}

fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<Option<Str>>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.map(|s| s.0).unwrap_or_default())
        .collect())
}

/// A boolean as YAML 1.1 (go-yaml, so Helm) reads it: `true`, `yes`, `on`… and null → false.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<bool, E> {
            match v {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y"
                | "Y" => Ok(true),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n"
                | "N" | "" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<bool, E> {
            Ok(false)
        }
        fn visit_none<E: de::Error>(self) -> std::result::Result<bool, E> {
            Ok(false)
        }
    }
    d.deserialize_any(V)
}

/// `Some(None)` for an explicit null, `None` (through `default`) for a missing key.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?))
}

#[derive(Deserialize, Debug, PartialEq)]
pub(crate) struct RawIndex {
    #[serde(rename = "apiVersion", default, deserialize_with = "lenient_string")]
    pub api_version: String,
    #[serde(default, deserialize_with = "present")]
    pub entries: Option<Option<RawEntries>>,
}

/// `entries`: chart name → versions (`None` for an explicit null). A later duplicate chart key
/// replaces an earlier one, as in Go's maps.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RawEntries(pub BTreeMap<String, Option<Vec<Option<RawEntry>>>>);

#[derive(Deserialize, Debug, Default, PartialEq)]
#[serde(expecting = "a mapping (name, version, urls, …)")]
pub(crate) struct RawEntry {
    #[serde(rename = "apiVersion", default, deserialize_with = "lenient_string")]
    pub api_version: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: String,
    #[serde(rename = "appVersion", default, deserialize_with = "lenient_string")]
    pub app_version: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deprecated: bool,
    #[serde(default, deserialize_with = "lenient_string")]
    pub digest: String,
    #[serde(default, deserialize_with = "lenient_strings")]
    pub urls: Vec<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub created: String,
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub chart_type: String,
    #[serde(default, deserialize_with = "lenient_strings")]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub maintainers: Option<Vec<Option<IgnoredAny>>>,
    #[serde(default)]
    pub dependencies: Option<Vec<Option<RawDependency>>>,
}

#[derive(Deserialize, Debug, Default, PartialEq)]
#[serde(expecting = "a mapping (name, alias, …)")]
pub(crate) struct RawDependency {
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub alias: String,
}

// ---------------------------------------------------------------------------------------------
// Position record and deadline
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Record {
    chart: Option<String>,
    entry: Option<usize>,
    /// Reading a key of `entries` (a chart name).
    in_key: bool,
    deadline: Option<Instant>,
    timed_out: bool,
}

thread_local! {
    static RECORD: RefCell<Record> = RefCell::new(Record::default());
}

/// Message of the error the visitors return when the deadline has passed.
const DEADLINE: &str = "the deadline passed";

/// Where the reading stood when it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Position {
    pub chart: Option<String>,
    /// 0-based index in the chart's list.
    pub entry: Option<usize>,
    /// The error is in a key of `entries` (a chart name).
    pub in_key: bool,
}

/// One read of a document on this thread: resets the record on creation and on drop.
pub(crate) struct Reading(());

impl Reading {
    pub fn start(deadline: Option<Instant>) -> Reading {
        RECORD.with(|r| {
            *r.borrow_mut() = Record {
                deadline,
                ..Record::default()
            }
        });
        Reading(())
    }

    /// Whether a visitor stopped the read because the deadline passed.
    pub fn timed_out(&self) -> bool {
        RECORD.with(|r| r.borrow().timed_out)
    }

    pub fn position(&self) -> Position {
        RECORD.with(|r| {
            let r = r.borrow();
            Position {
                chart: r.chart.clone(),
                entry: r.entry,
                in_key: r.in_key,
            }
        })
    }

    /// Forget the position (between two attempts: JSON, then YAML).
    pub fn restart(&self) {
        RECORD.with(|r| {
            let mut r = r.borrow_mut();
            r.chart = None;
            r.entry = None;
            r.in_key = false;
        });
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        RECORD.with(|r| *r.borrow_mut() = Record::default());
    }
}

/// Records the chart being read (`None`: a chart name is being read).
fn set_chart(chart: Option<String>) {
    RECORD.with(|r| {
        let mut r = r.borrow_mut();
        r.in_key = chart.is_none();
        r.chart = chart;
        r.entry = None;
    });
}

/// Records entry `i` as being read; `Err` once the deadline has passed.
fn enter_entry<E: de::Error>(i: Option<usize>) -> std::result::Result<(), E> {
    RECORD.with(|r| {
        let mut r = r.borrow_mut();
        r.entry = i;
        if i.is_some() && r.deadline.is_some_and(|d| Instant::now() >= d) {
            r.timed_out = true;
            return Err(E::custom(DEADLINE));
        }
        Ok(())
    })
}

impl<'de> Deserialize<'de> for RawEntries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEntries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of chart names to lists of versions")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawEntries, A::Error> {
                let mut out = BTreeMap::new();
                loop {
                    set_chart(None);
                    let Some(Str(chart)) = map.next_key::<Str>()? else {
                        break;
                    };
                    set_chart(Some(chart.clone()));
                    let list = map.next_value::<Option<EntryList>>()?;
                    out.insert(chart, list.map(|l| l.0));
                }
                RECORD.with(|r| r.borrow_mut().in_key = false);
                Ok(RawEntries(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The versions of one chart.
struct EntryList(Vec<Option<RawEntry>>);

impl<'de> Deserialize<'de> for EntryList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntryList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of chart versions")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<EntryList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                for i in 0.. {
                    enter_entry(Some(i))?;
                    match seq.next_element::<Option<RawEntry>>()? {
                        Some(e) => out.push(e),
                        None => break,
                    }
                }
                enter_entry(None)?;
                Ok(EntryList(out))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Plain-words errors
// ---------------------------------------------------------------------------------------------

/// What serde calls an unexpected value (`serde::de::Unexpected`'s text), in plain words. Values
/// are not quoted: they may be long or hostile.
fn found(unexpected: &str) -> &'static str {
    let kind = unexpected.split([' ', '`', '"']).next().unwrap_or_default();
    match kind {
        "sequence" => "a list",
        "map" => "a mapping",
        "string" | "character" => "text",
        "integer" | "floating" => "a number",
        "boolean" => "a boolean",
        "unit" | "null" | "Option" => "null",
        "enum" => "a tagged value",
        _ => "something else",
    }
}

/// Serde's "expected" text in plain words (ours are already: see the visitors).
fn expected(exp: &str) -> &str {
    match exp {
        "a sequence" => "a list",
        "a string" => "text",
        "a map" => "a mapping",
        e => e,
    }
}

/// A chart name fit for a message: escaped, at most 64 characters.
pub(crate) fn chart_label(chart: &str) -> String {
    let short: String = chart.chars().take(64).collect();
    if short.len() < chart.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}

/// `msg` (a serde_yaml error text: `path: message at line L column C`) in plain words, using
/// `pos` for the chart and entry: `chart "x", entry 2: `name` must be text, not a list`.
/// `None` when `msg` is not about the shape of the document (syntax errors keep libyaml's words).
pub(crate) fn plain_reason(msg: &str, pos: &Position) -> Option<String> {
    let msg = msg.rsplit_once(" at line ").map_or(msg, |(m, _)| m);
    let (path, problem) = ["invalid type: ", "invalid value: ", "duplicate field "]
        .iter()
        .find_map(|k| {
            let at = msg.find(k)?;
            let path = msg[..at].strip_suffix(": ").unwrap_or(&msg[..at]);
            Some((path, &msg[at..]))
        })?;
    // The part of the path below the chart's entry (`.name`, `.urls[1]`), or the level.
    let chart_path = pos.chart.as_ref().map(|c| format!("entries.{c}"));
    let entry_path = chart_path
        .as_ref()
        .zip(pos.entry)
        .map(|(c, i)| format!("{c}[{i}]"));
    // `place`: the entry, when the path is in one; `subject`: what is wrong there or elsewhere.
    let (place, subject): (Option<String>, Option<String>) = match (&chart_path, &entry_path) {
        (_, Some(e)) if path.starts_with(e.as_str()) => {
            let chart = chart_label(pos.chart.as_deref().unwrap_or_default());
            let n = pos.entry.unwrap_or_default() + 1;
            let field = path[e.len()..].trim_start_matches('.');
            (
                Some(format!("chart {chart}, entry {n}")),
                (!field.is_empty()).then(|| format!("`{field}`")),
            )
        }
        (Some(c), _) if path == c => (
            None,
            Some(format!(
                "the versions of chart {}",
                chart_label(pos.chart.as_deref().unwrap_or_default())
            )),
        ),
        _ if pos.in_key => (None, Some("a chart name (a key of `entries`)".to_string())),
        _ if path.is_empty() => (None, None),
        _ => (None, Some(format!("`{path}`"))),
    };
    if let Some(field) = problem.strip_prefix("duplicate field ") {
        let said = format!("`{}` is given twice", field.trim().trim_matches('`'));
        return Some(match place {
            Some(p) => format!("{p}: {said}"),
            None => said,
        });
    }
    let body = problem
        .strip_prefix("invalid type: ")
        .or_else(|| problem.strip_prefix("invalid value: "))?;
    let (unexp, exp) = body.rsplit_once(", expected ")?;
    let said = format!("must be {}, not {}", expected(exp), found(unexp));
    Some(match (place, subject) {
        (Some(p), Some(s)) => format!("{p}: {s} {said}"),
        (Some(p), None) => format!("{p} {said}"),
        (None, Some(s)) => format!("{s} {said}"),
        (None, None) => format!("the document {said}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(chart: &str, entry: Option<usize>) -> Position {
        Position {
            chart: Some(chart.into()),
            entry,
            in_key: false,
        }
    }

    #[test]
    fn plain_words() {
        let p = pos("mychart", Some(1));
        assert_eq!(
            plain_reason("entries.mychart[1]: invalid type: integer `42`, expected a mapping (name, version, urls, …) at line 5 column 7", &p).unwrap(),
            "chart \"mychart\", entry 2 must be a mapping (name, version, urls, …), not a number"
        );
        let p = pos("a.b[0]", Some(0));
        assert_eq!(
            plain_reason(
                "entries.a.b[0][0].name: invalid type: sequence, expected text at line 3 column 13",
                &p
            )
            .unwrap(),
            "chart \"a.b[0]\", entry 1: `name` must be text, not a list"
        );
        assert_eq!(
            plain_reason("entries.a.b[0][0].urls: invalid type: map, expected a sequence at line 3 column 13", &p).unwrap(),
            "chart \"a.b[0]\", entry 1: `urls` must be a list, not a mapping"
        );
        assert_eq!(
            plain_reason("entries.a.b[0][0].deprecated: invalid value: string \"maybe, expected x\", expected true or false at line 3 column 13", &p).unwrap(),
            "chart \"a.b[0]\", entry 1: `deprecated` must be true or false, not text"
        );
        assert_eq!(
            plain_reason(
                "entries.c[3]: duplicate field `version` at line 9 column 5",
                &pos("c", Some(3))
            )
            .unwrap(),
            "chart \"c\", entry 4: `version` is given twice"
        );
        assert_eq!(
            plain_reason(
                "entries.c: invalid type: map, expected a list of chart versions at line 4 column 5",
                &pos("c", None)
            )
            .unwrap(),
            "the versions of chart \"c\" must be a list of chart versions, not a mapping"
        );
        assert_eq!(
            plain_reason("entries: invalid type: sequence, expected a mapping of chart names to lists of versions at line 3 column 3", &Position::default()).unwrap(),
            "`entries` must be a mapping of chart names to lists of versions, not a list"
        );
        assert_eq!(
            plain_reason(
                "apiVersion: invalid type: sequence, expected text at line 1 column 13",
                &Position::default()
            )
            .unwrap(),
            "`apiVersion` must be text, not a list"
        );
        assert!(plain_reason(
            "did not find expected node content at line 3 column 1, while parsing a flow node",
            &Position::default()
        )
        .is_none());
        // Hostile names are escaped and cut.
        let evil = format!("\u{1b}[31m{}", "x".repeat(100));
        let p = pos(&evil, Some(0));
        let s = plain_reason(
            &format!("entries.{evil}[0]: invalid type: integer `1`, expected a mapping (name, version, urls, …) at line 3 column 5"),
            &p,
        )
        .unwrap();
        assert!(
            s.starts_with("chart \"\\u{1b}[31mxxx") && s.contains("\"…, entry 1"),
            "{s}"
        );
        assert!(!s.contains('\u{1b}'));
    }
}
