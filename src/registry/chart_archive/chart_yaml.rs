//! `Chart.yaml` (and `requirements.yaml`, `values.yaml`) read as Helm reads them: sigs.k8s.io/yaml
//! (YAML → JSON → Go struct) into `chart.Metadata`, then `Metadata.Validate`.
//!
//! The YAML text is parsed in one place, [`yaml_documents`], into a plain tree ([`Node`]); the rest
//! works on that tree, so the parser can be swapped without touching the rules. What the rules
//! follow (Helm v4's `pkg/chart/v2/loader`, sigs.k8s.io/yaml, Go's `encoding/json`):
//! - keys match the JSON field names exactly, else case-insensitively (`AppVersion:` is
//!   `appVersion`); keys are applied in sorted order, a later match replacing an earlier one, as
//!   `json.Unmarshal` of sigs.k8s.io/yaml's sorted JSON object does; unknown keys are ignored;
//! - a number or boolean where text is expected becomes text as sigs.k8s.io/yaml writes it:
//!   integers in decimal, floats with Go's `FormatFloat(f, 'g', -1, 32)` (`appVersion: 1.10` is
//!   `"1.1"`, as `helm show chart` prints it), `true`/`false`; null leaves a field unset;
//! - any other type mismatch (a list where text is expected, text where a list is) refuses the
//!   chart, as Helm's loader does;
//! - `deprecated` takes YAML 1.1 booleans (`yes`, `on`, …) as go-yaml v2 does. Other YAML 1.1-only
//!   forms are read as YAML 1.2 (the parser's): an unquoted `yes` in a text field stays `yes`
//!   (Helm: `"true"`), `0755` is not octal;
//! - `Metadata.Validate`: text fields sanitised (white space → space, non-printable characters
//!   dropped), then apiVersion, name, version (semver), type, maintainers, dependencies (alias
//!   characters, no two with one name or alias) checked with Helm's messages.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::registry::catalog::SemVer;
use crate::registry::helm_index::yaml_guard;
use crate::registry::helm_index::{is_alias_name, sanitize};

/// A YAML node as the parser resolved it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Pairs in document order, duplicates kept.
    Map(Vec<(Node, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(i64::try_from(v).map_or(Node::UInt(v), Node::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(n) = a.next_element()? {
                    v.push(n);
                }
                Ok(Node::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    v.push(kv);
                }
                Ok(Node::Map(v))
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Node, A::Error> {
                Err(de::Error::custom("YAML tags (`!name`) are not supported"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The one place YAML text is parsed: the documents of `bytes` (at most `max` of them), after the
/// cost guard of the index parser (alias bombs, deep flow nesting).
pub(super) fn yaml_documents(bytes: &[u8], max: usize) -> Result<Vec<Node>, String> {
    yaml_guard::check(bytes, None).map_err(|r| r.to_string())?;
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_slice(bytes).take(max) {
        docs.push(Node::deserialize(doc).map_err(|e| e.to_string())?);
    }
    Ok(docs)
}

/// The first document of `bytes` (go-yaml's `Unmarshal` reads no further); null when empty.
pub(super) fn first_document(bytes: &[u8]) -> Result<Node, String> {
    Ok(yaml_documents(bytes, 1)?.pop().unwrap_or(Node::Null))
}

/// Helm's `LoadValues` check: every document is a mapping (or empty) whose keys are all usable.
pub(super) fn check_values(bytes: &[u8]) -> Result<(), String> {
    for (i, doc) in yaml_documents(bytes, usize::MAX)?.iter().enumerate() {
        match doc {
            Node::Null => {}
            Node::Map(_) => check_keys(doc)?,
            other => {
                return Err(format!(
                    "document {} is {}, not a mapping",
                    i + 1,
                    kind(other)
                ))
            }
        }
    }
    Ok(())
}

/// sigs.k8s.io/yaml refuses map keys that are not scalars, and null keys, anywhere.
fn check_keys(n: &Node) -> Result<(), String> {
    match n {
        Node::Map(pairs) => {
            for (k, v) in pairs {
                key_string(k)?;
                check_keys(v)?;
            }
            Ok(())
        }
        Node::Seq(items) => items.iter().try_for_each(check_keys),
        _ => Ok(()),
    }
}

fn kind(n: &Node) -> &'static str {
    match n {
        Node::Null => "null",
        Node::Bool(_) => "a boolean",
        Node::Int(_) | Node::UInt(_) | Node::Float(_) => "a number",
        Node::Str(_) => "text",
        Node::Seq(_) => "a list",
        Node::Map(_) => "a mapping",
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`.
pub(super) fn go_float32(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let x = f as f32;
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Shortest round-trip digits and the decimal exponent, from Rust's `{:e}` (also shortest).
    let e = format!("{:e}", x.abs());
    let (mantissa, exp) = e.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let nd = digits.len() as i32;
    // Go: %e when the exponent is < -4 or >= 6 (the precision used for shortest output).
    if !(-4..6).contains(&exp) {
        // %e: d.ddde±XX
        let mut s = format!("{sign}{}", &digits[..1]);
        if nd > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
        return s;
    }
    // %f with exactly the digits needed.
    let dp = exp + 1;
    let mut s = sign.to_string();
    if dp <= 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-dp) as usize));
        s.push_str(&digits);
    } else if dp >= nd {
        s.push_str(&digits);
        s.push_str(&"0".repeat((dp - nd) as usize));
    } else {
        s.push_str(&digits[..dp as usize]);
        s.push('.');
        s.push_str(&digits[dp as usize..]);
    }
    s
}

/// A map key as sigs.k8s.io/yaml turns it into a JSON key.
fn key_string(k: &Node) -> Result<String, String> {
    Ok(match k {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::UInt(u) => u.to_string(),
        Node::Float(f) => match go_float32(*f).as_str() {
            "+Inf" => ".inf".into(),
            "-Inf" => "-.inf".into(),
            "NaN" => ".nan".into(),
            s => s.into(),
        },
        Node::Bool(b) => b.to_string(),
        other => return Err(format!("a mapping key is {}", kind(other))),
    })
}

/// A mapping's entries with JSON keys, sorted as Go's `json.Marshal` writes them, a later
/// duplicate replacing an earlier one.
fn entries(pairs: &[(Node, Node)]) -> Result<BTreeMap<String, &Node>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        out.insert(key_string(k)?, v);
    }
    Ok(out)
}

/// Go's case folding of JSON keys against (lower-case ASCII) field names, as `encoding/json`
/// matches them: ASCII case, plus the two non-ASCII letters that fold to ASCII (Kelvin sign, long s).
fn folds_to(key: &str, field: &str) -> bool {
    let mut k = key.chars().map(|c| match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        c => c.to_ascii_lowercase(),
    });
    let mut f = field.chars().map(|c| c.to_ascii_lowercase());
    loop {
        match (k.next(), f.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The field of `fields` a JSON key lands in: exact name first, else case-insensitive.
fn field_of<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| folds_to(key, f)))
        .copied()
}

fn mismatch(what: &str, field: &str, want: &str, got: &Node) -> String {
    format!("{what}: {field} must be {want}, not {}", kind(got))
}

/// Text as sigs.k8s.io/yaml + `encoding/json` fill a Go string: `None` for null (left unset).
fn text(n: &Node, what: &str, field: &str) -> Result<Option<String>, String> {
    Ok(Some(match n {
        Node::Null => return Ok(None),
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::UInt(u) => u.to_string(),
        Node::Float(f) => go_float32(*f),
        Node::Bool(b) => b.to_string(),
        other => return Err(mismatch(what, field, "text", other)),
    }))
}

fn set_text(slot: &mut String, n: &Node, what: &str, field: &str) -> Result<(), String> {
    if let Some(s) = text(n, what, field)? {
        *slot = s;
    }
    Ok(())
}

/// A Go `[]string`: null empties it, each null item is "".
fn texts(n: &Node, what: &str, field: &str) -> Result<Vec<String>, String> {
    match n {
        Node::Null => Ok(Vec::new()),
        Node::Seq(items) => items
            .iter()
            .map(|i| Ok(text(i, what, field)?.unwrap_or_default()))
            .collect(),
        other => Err(mismatch(what, field, "a list of text", other)),
    }
}

/// A Go `bool`, with go-yaml v2's YAML 1.1 words; null leaves it unset.
fn boolean(n: &Node, what: &str, field: &str) -> Result<Option<bool>, String> {
    match n {
        Node::Null => Ok(None),
        Node::Bool(b) => Ok(Some(*b)),
        Node::Str(s) => match s.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
                Ok(Some(true))
            }
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
            | "FALSE" => Ok(Some(false)),
            _ => Err(mismatch(what, field, "true or false", n)),
        },
        other => Err(mismatch(what, field, "true or false", other)),
    }
}

/// A chart maintainer (`maintainers[*]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// A chart dependency (`dependencies[*]`, or `requirements.yaml`), the fields chartreg shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// A version or constraint, as written.
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub alias: String,
}

/// Helm's `chart.Metadata` (the fields chartreg reads, and those that can refuse a chart).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Metadata {
    pub name: String,
    pub home: String,
    pub sources: Vec<String>,
    pub version: String,
    pub description: String,
    pub keywords: Vec<String>,
    /// `None` for a null item, which `Validate` refuses.
    pub maintainers: Vec<Option<Maintainer>>,
    pub icon: String,
    pub api_version: String,
    pub condition: String,
    pub tags: String,
    pub app_version: String,
    pub deprecated: bool,
    pub annotations: Option<BTreeMap<String, String>>,
    pub kube_version: String,
    pub dependencies: Vec<Option<Dependency>>,
    pub chart_type: String,
}

const METADATA_FIELDS: &[&str] = &[
    "name",
    "home",
    "sources",
    "version",
    "description",
    "keywords",
    "maintainers",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "deprecated",
    "annotations",
    "kubeVersion",
    "dependencies",
    "type",
];

/// The pairs of a mapping node that fills a Go struct (null: nothing to fill).
fn struct_entries<'n>(
    n: &'n Node,
    what: &str,
    field: &str,
) -> Result<Option<BTreeMap<String, &'n Node>>, String> {
    match n {
        Node::Null => Ok(None),
        Node::Map(pairs) => Ok(Some(entries(pairs)?)),
        other => Err(mismatch(what, field, "a mapping", other)),
    }
}

fn maintainer(n: &Node, what: &str) -> Result<Option<Maintainer>, String> {
    let Some(map) = struct_entries(n, what, "maintainers[*]")? else {
        return Ok(None);
    };
    let mut m = Maintainer::default();
    for (k, v) in map {
        match field_of(&k, &["name", "email", "url"]) {
            Some("name") => set_text(&mut m.name, v, what, "maintainers[*].name")?,
            Some("email") => set_text(&mut m.email, v, what, "maintainers[*].email")?,
            Some("url") => set_text(&mut m.url, v, what, "maintainers[*].url")?,
            _ => {}
        }
    }
    Ok(Some(m))
}

fn dependency(n: &Node, what: &str) -> Result<Option<Dependency>, String> {
    let Some(map) = struct_entries(n, what, "dependencies[*]")? else {
        return Ok(None);
    };
    const FIELDS: &[&str] = &[
        "name",
        "version",
        "repository",
        "condition",
        "tags",
        "enabled",
        "import-values",
        "alias",
    ];
    let mut d = Dependency::default();
    for (k, v) in map {
        let f = |name: &str| format!("dependencies[*].{name}");
        match field_of(&k, FIELDS) {
            Some("name") => set_text(&mut d.name, v, what, &f("name"))?,
            Some("version") => set_text(&mut d.version, v, what, &f("version"))?,
            Some("repository") => set_text(&mut d.repository, v, what, &f("repository"))?,
            Some("condition") => set_text(&mut d.condition, v, what, &f("condition"))?,
            Some("alias") => set_text(&mut d.alias, v, what, &f("alias"))?,
            Some("tags") => drop(texts(v, what, &f("tags"))?),
            Some("enabled") => drop(boolean(v, what, &f("enabled"))?),
            Some("import-values") => match v {
                Node::Null | Node::Seq(_) => {}
                other => return Err(mismatch(what, &f("import-values"), "a list", other)),
            },
            _ => {}
        }
    }
    Ok(Some(d))
}

fn list<T>(
    n: &Node,
    what: &str,
    field: &str,
    item: impl Fn(&Node, &str) -> Result<Option<T>, String>,
) -> Result<Vec<Option<T>>, String> {
    match n {
        Node::Null => Ok(Vec::new()),
        Node::Seq(items) => items.iter().map(|i| item(i, what)).collect(),
        other => Err(mismatch(what, field, "a list", other)),
    }
}

impl Metadata {
    /// Fill from one YAML document as `yaml.Unmarshal(data, &metadata)` does (on top of what is
    /// there: `requirements.yaml` is applied after `Chart.yaml`). `what` names the file.
    pub fn apply(&mut self, doc: &Node, what: &str) -> Result<(), String> {
        let map = match doc {
            Node::Null => return Ok(()),
            Node::Map(pairs) => entries(pairs)?,
            other => return Err(format!("{what} is {}, not a mapping", kind(other))),
        };
        for (k, v) in map {
            let Some(field) = field_of(&k, METADATA_FIELDS) else {
                continue;
            };
            match field {
                "name" => set_text(&mut self.name, v, what, field)?,
                "home" => set_text(&mut self.home, v, what, field)?,
                "version" => set_text(&mut self.version, v, what, field)?,
                "description" => set_text(&mut self.description, v, what, field)?,
                "icon" => set_text(&mut self.icon, v, what, field)?,
                "apiVersion" => set_text(&mut self.api_version, v, what, field)?,
                "condition" => set_text(&mut self.condition, v, what, field)?,
                "tags" => set_text(&mut self.tags, v, what, field)?,
                "appVersion" => set_text(&mut self.app_version, v, what, field)?,
                "kubeVersion" => set_text(&mut self.kube_version, v, what, field)?,
                "type" => set_text(&mut self.chart_type, v, what, field)?,
                "sources" => self.sources = texts(v, what, field)?,
                "keywords" => self.keywords = texts(v, what, field)?,
                "deprecated" => {
                    if let Some(b) = boolean(v, what, field)? {
                        self.deprecated = b;
                    }
                }
                "maintainers" => self.maintainers = list(v, what, field, maintainer)?,
                "dependencies" => self.dependencies = list(v, what, field, dependency)?,
                "annotations" => match v {
                    // json: null sets a map to nil; an object adds to the existing map.
                    Node::Null => self.annotations = None,
                    Node::Map(pairs) => {
                        let map = self.annotations.get_or_insert_with(BTreeMap::new);
                        for (k, v) in entries(pairs)? {
                            let f = format!("annotations[{k:?}]");
                            map.insert(k, text(v, what, &f)?.unwrap_or_default());
                        }
                    }
                    other => return Err(mismatch(what, field, "a mapping", other)),
                },
                _ => unreachable!("every METADATA_FIELDS entry is handled"),
            }
        }
        Ok(())
    }

    /// Helm's `Metadata.Validate`: sanitises the text fields, then checks.
    pub fn validate(&mut self) -> Result<(), String> {
        let s = |t: &mut String| *t = sanitize(std::mem::take(t));
        for t in [
            &mut self.name,
            &mut self.description,
            &mut self.home,
            &mut self.icon,
            &mut self.condition,
            &mut self.tags,
            &mut self.app_version,
            &mut self.kube_version,
        ] {
            s(t);
        }
        self.sources.iter_mut().for_each(s);
        self.keywords.iter_mut().for_each(s);
        if self.api_version.is_empty() {
            return Err("chart.metadata.apiVersion is required".into());
        }
        if self.name.is_empty() {
            return Err("chart.metadata.name is required".into());
        }
        if self.name == "." || self.name == ".." {
            return Err(format!(
                "chart.metadata.name {:?} is not allowed",
                self.name
            ));
        }
        if self.name.contains('/') {
            return Err(format!("chart.metadata.name {:?} is invalid", self.name));
        }
        if self.version.is_empty() {
            return Err("chart.metadata.version is required".into());
        }
        if SemVer::parse(&self.version).is_none() {
            return Err(format!(
                "chart.metadata.version {:?} is invalid",
                self.version
            ));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return Err("chart.metadata.type must be application or library".into());
        }
        for m in &mut self.maintainers {
            let Some(m) = m else {
                return Err("maintainers must not contain empty or null nodes".into());
            };
            s(&mut m.name);
            s(&mut m.email);
            s(&mut m.url);
        }
        let mut seen = std::collections::HashSet::new();
        for d in &mut self.dependencies {
            let Some(d) = d else {
                return Err("dependencies must not contain empty or null nodes".into());
            };
            s(&mut d.name);
            s(&mut d.version);
            s(&mut d.repository);
            s(&mut d.condition);
            if !d.alias.is_empty() && !is_alias_name(&d.alias) {
                return Err(format!(
                    "dependency {:?} has disallowed characters in the alias",
                    d.name
                ));
            }
            let key = if d.alias.is_empty() {
                &d.name
            } else {
                &d.alias
            };
            if !seen.insert(key.clone()) {
                return Err(format!(
                    "more than one dependency with name or alias {key:?}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(yaml: &str) -> Result<Metadata, String> {
        let mut m = Metadata::default();
        m.apply(&first_document(yaml.as_bytes())?, "Chart.yaml")?;
        Ok(m)
    }

    #[test]
    fn floats_like_go_32() {
        for (f, want) in [
            (1.1, "1.1"),
            (1.10, "1.1"),
            (1.0, "1"),
            (0.1, "0.1"),
            (2.5, "2.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.5e6, "1.5e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-3.25, "-3.25"),
            (123456.0, "123456"),
            (1.23456789, "1.2345679"),
            (1e21, "1e+21"),
            (f64::INFINITY, "+Inf"),
            (0.0, "0"),
        ] {
            assert_eq!(go_float32(f), want, "{f}");
        }
    }

    #[test]
    fn scalars_become_text_as_helm_writes_them() {
        let m = md("apiVersion: v2\nname: c\nversion: 1.0\nappVersion: 1.10\ndescription: 42\nhome: true\nkeywords: [a, 1, 2.50, null, false]\n").unwrap();
        assert_eq!(m.version, "1");
        assert_eq!(m.app_version, "1.1");
        assert_eq!(m.description, "42");
        assert_eq!(m.home, "true");
        assert_eq!(m.keywords, ["a", "1", "2.5", "", "false"]);
    }

    #[test]
    fn keys_match_case_insensitively_exact_wins() {
        let m = md("Name: upper\nAPPVERSION: x\nDescription: d1\ndescription: d2\n").unwrap();
        assert_eq!((m.name.as_str(), m.app_version.as_str()), ("upper", "x"));
        // Sorted: "Description" < "description": the exact one comes last and wins.
        assert_eq!(m.description, "d2");
        let m = md("description: d2\nDescription: d1\n").unwrap();
        assert_eq!(m.description, "d2");
        // Kelvin sign folds to k.
        let m = md("\u{212A}eywords: [a]\n").unwrap();
        assert_eq!(m.keywords, ["a"]);
    }

    #[test]
    fn type_mismatches_refuse() {
        for (doc, field) in [
            ("name: [a]", "name must be text, not a list"),
            ("keywords: abc", "keywords must be a list of text, not text"),
            ("keywords: [[a]]", "keywords must be text, not a list"),
            ("deprecated: maybe", "deprecated must be true or false"),
            (
                "deprecated: 1",
                "deprecated must be true or false, not a number",
            ),
            ("maintainers: {name: x}", "maintainers must be a list"),
            (
                "maintainers: [x]",
                "maintainers[*] must be a mapping, not text",
            ),
            ("annotations: [a]", "annotations must be a mapping"),
            ("annotations: {a: [b]}", "annotations[\"a\"] must be text"),
            (
                "dependencies: [{tags: x}]",
                "dependencies[*].tags must be a list",
            ),
            ("- a", "Chart.yaml is a list, not a mapping"),
            ("? [a]\n: b", "a mapping key is a list"),
        ] {
            let e = md(doc).unwrap_err();
            assert!(e.contains(field), "{doc}: {e}");
        }
    }

    #[test]
    fn yaml11_booleans_in_deprecated_and_null_handling() {
        assert!(md("deprecated: yes").unwrap().deprecated);
        assert!(!md("deprecated: off").unwrap().deprecated);
        let m = md("name: ~\nkeywords: ~\nannotations: {a: 1, b: ~, 3: x}\n").unwrap();
        assert_eq!(m.name, "");
        let a = m.annotations.unwrap();
        assert_eq!(
            a.into_iter().collect::<Vec<_>>(),
            [
                ("3".into(), "x".into()),
                ("a".into(), "1".into()),
                ("b".into(), "".into())
            ]
        );
    }

    #[test]
    fn annotations_merge_across_documents_and_null_clears() {
        let mut m = md("annotations: {a: '1'}").unwrap();
        m.apply(&first_document(b"annotations: {b: '2'}").unwrap(), "r")
            .unwrap();
        assert_eq!(m.annotations.as_ref().unwrap().len(), 2);
        m.apply(&first_document(b"annotations: null").unwrap(), "r")
            .unwrap();
        assert!(m.annotations.is_none());
    }

    #[test]
    fn validate_like_helm() {
        let ok = "apiVersion: v2\nname: c\nversion: 1.2.3\n";
        let mut m = md(&format!("{ok}description: \"a\\tb\\u200bc\"\n")).unwrap();
        m.validate().unwrap();
        assert_eq!(m.description, "a bc");
        for (extra, want) in [
            ("name: ''", "name is required"),
            ("name: a/b", "is invalid"),
            ("name: '..'", "is not allowed"),
            ("version: x.y", "version \"x.y\" is invalid"),
            ("type: plugin", "application or library"),
            ("maintainers: [null]", "maintainers must not contain empty"),
            ("dependencies: [~]", "dependencies must not contain empty"),
            (
                "dependencies: [{name: a, alias: 'b c'}]",
                "disallowed characters",
            ),
            (
                "dependencies: [{name: a}, {name: b, alias: a}]",
                "more than one dependency with name or alias \"a\"",
            ),
        ] {
            let mut m = md(&format!("{ok}{extra}\n")).unwrap();
            let e = m.validate().unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
        let mut m = md("name: c\nversion: 1.0.0").unwrap();
        assert!(m.validate().unwrap_err().contains("apiVersion is required"));
    }

    #[test]
    fn values_documents() {
        check_values(b"a: 1\n---\nb: {c: 2}\n---\n").unwrap();
        check_values(b"").unwrap();
        check_values(b"# only a comment\n").unwrap();
        assert!(check_values(b"- a\n").unwrap_err().contains("a list"));
        assert!(check_values(b"a: 1\n---\njust text\n")
            .unwrap_err()
            .contains("document 2 is text"));
        assert!(check_values(b"a: [b\n").is_err());
        assert!(check_values(b"a:\n  ? [x]\n  : y\n").is_err());
    }
}
