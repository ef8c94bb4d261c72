//! A cost guard run on an index document before serde_yaml reads it, so that a registry cannot
//! make a small document cost minutes of CPU or gigabytes of memory (issue 7, point 5).
//!
//! Why it exists: serde_yaml 0.9 (libyaml underneath) loads the whole document into events before
//! deserialising, and that load cannot be interrupted. Two shapes make it superlinear:
//! - **Flow nesting.** libyaml's scanner walks its stack of possible simple keys, one slot per
//!   open flow collection, on every token: `entries: ` + 100k `[` + 100k `]` (200 KB) costs
//!   ~42 s of CPU. Block nesting (indentation) has no such cost (8 MB nested 4000 levels deep
//!   loads in ~35 ms), so only flow depth is limited: [`MAX_FLOW_DEPTH`].
//! - **Aliases.** serde_yaml replays an anchored node for each alias that lands in a typed
//!   position (one version anchored with a 60k-item field and aliased 40k times: 2.4 billion
//!   events to replay; with a long string, that many copies of it). Its own limit (jumps ≤ 100 ×
//!   events) does not bound the size of what a jump replays. The guard computes the size of the
//!   document with every alias expanded and refuses more than [`MAX_ALIAS_EXPANSION`] times the
//!   document's size. Helm (go-yaml) has the same kind of limit ("document contains excessive
//!   aliasing"); generators such as PyYAML write aliases for shared lists, so aliases as such
//!   stay allowed. An alias to the node that contains it is refused, as go-yaml does.
//!
//! How: the exact measure needs libyaml's own tokenisation (quoted scalars, comments, block
//! scalars, plain scalars that may contain `[`), so the guard runs libyaml's event parser
//! (unsafe-libyaml, the same code serde_yaml uses) and stops at the first event beyond a limit;
//! its cost stays linear. That pass costs ~70 % of a serde_yaml load, so it only runs when it can
//! matter: when the document has more than [`MAX_FLOW_DEPTH`] `[`/`{` characters, or a `*`
//! where an alias token can start. Helm-generated (block style) indexes have neither: the
//! Bitnami and Rancher indexes skip the pass. The pass also checks the deadline every few
//! thousand events.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::time::Instant;

use unsafe_libyaml_norway as unsafe_yaml;

/// Deepest nesting of flow collections (`[…]`, `{…}`) accepted. Helm indexes nest at most ~8
/// levels (root, entries, chart, versions, version, dependencies, dependency, import-values).
pub const MAX_FLOW_DEPTH: usize = 64;

/// The document with aliases expanded may weigh this many times its size in bytes (weight: one
/// per event plus the length of each scalar), plus [`EXPANSION_SLACK`].
pub const MAX_ALIAS_EXPANSION: u64 = 10;

/// Extra weight allowed on top of the ratio, so that small documents may alias freely.
pub const EXPANSION_SLACK: u64 = 4 << 20;

/// Where the document was refused (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Flow collections nested deeper than [`MAX_FLOW_DEPTH`].
    TooDeep(Mark),
    /// Aliases would expand the document beyond [`MAX_ALIAS_EXPANSION`].
    AliasExpansion(Mark),
    /// An alias inside the node it names.
    RecursiveAlias(Mark),
    /// The deadline passed during the pass.
    Deadline,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooDeep(m) => write!(
                f,
                "collections in brackets or braces are nested deeper than {MAX_FLOW_DEPTH} levels at {m} (a Helm index needs fewer than 10)"
            ),
            Refusal::AliasExpansion(m) => write!(
                f,
                "its YAML aliases (*name) would expand it to more than {MAX_ALIAS_EXPANSION} times its size (at {m})"
            ),
            Refusal::RecursiveAlias(m) => {
                write!(f, "a YAML alias refers to the node that contains it at {m}")
            }
            Refusal::Deadline => f.write_str("the deadline passed"),
        }
    }
}

/// Refuse `doc` if reading it with serde_yaml could cost more than linear time or memory.
/// Syntax errors are not reported here (serde_yaml reports them, after a load that costs no more
/// than the prefix this pass accepted).
pub fn check(doc: &[u8], deadline: Option<Instant>) -> Result<(), Refusal> {
    if !needs_event_pass(doc) {
        return Ok(());
    }
    event_pass(doc, deadline)
}

/// Whether the document can nest flow collections deeper than the limit or contain an alias.
/// Conservative: a `[`/`{` anywhere counts (inside quotes and comments too); a `*` counts when
/// an alias token could start there (libyaml: at the start, after a blank, a line break, a BOM,
/// `[`, `{`, `,` or `:`, followed by an anchor character; anywhere else libyaml reads it as part
/// of a scalar or stops with an error before the alias is used).
fn needs_event_pass(doc: &[u8]) -> bool {
    let mut openers = 0usize;
    let mut prev = b'\n';
    for (i, &b) in doc.iter().enumerate() {
        match b {
            b'[' | b'{' => {
                openers += 1;
                if openers > MAX_FLOW_DEPTH {
                    return true;
                }
            }
            b'*' if matches!(
                prev,
                // NEL, LS and PS (line breaks for libyaml) end in 0x85, 0xA8, 0xA9; a BOM (EF BB
                // BF), which libyaml skips at the start of a line, in 0xBF.
                b' ' | b'\t'
                    | b'\r'
                    | b'\n'
                    | b'['
                    | b'{'
                    | b','
                    | b':'
                    | 0x85
                    | 0xA8
                    | 0xA9
                    | 0xBF
            ) && doc
                .get(i + 1)
                .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') =>
            {
                return true
            }
            _ => {}
        }
        prev = b;
    }
    false
}

/// Owns a libyaml parser (boxed: it must not move once initialised) and frees it on drop.
struct Parser(Box<MaybeUninit<unsafe_yaml::yaml_parser_t>>);

impl Parser {
    /// A parser reading `input`, which must outlive it (guaranteed by the caller's borrow).
    fn new(input: &[u8]) -> Option<Parser> {
        let mut p = Parser(Box::new(MaybeUninit::uninit()));
        // SAFETY: the pointer is to boxed, writable memory; initialize fills the struct or
        // fails (then nothing was allocated and the box is dropped without a delete). The input
        // slice outlives the parser: `event_pass` keeps both in one scope.
        unsafe {
            if unsafe_yaml::yaml_parser_initialize(p.0.as_mut_ptr()).fail {
                return None;
            }
            unsafe_yaml::yaml_parser_set_encoding(
                p.0.as_mut_ptr(),
                unsafe_yaml::YAML_UTF8_ENCODING,
            );
            unsafe_yaml::yaml_parser_set_input_string(
                p.0.as_mut_ptr(),
                input.as_ptr(),
                input.len() as u64,
            );
        }
        Some(p)
    }
}

impl Drop for Parser {
    fn drop(&mut self) {
        // SAFETY: initialised in `new` (a failed initialisation never builds a `Parser`).
        unsafe { unsafe_yaml::yaml_parser_delete(self.0.as_mut_ptr()) }
    }
}

/// What the pass needs from one event.
enum Ev {
    Start { flow: bool, anchor: Option<Vec<u8>> },
    End,
    Scalar { anchor: Option<Vec<u8>>, len: u64 },
    Alias(Vec<u8>),
    StreamEnd,
    Other,
}

/// A NUL-terminated libyaml string, copied.
///
/// SAFETY: `p` is null or points to a NUL-terminated string owned by a live event.
unsafe fn c_bytes(p: *const u8) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    Some(std::ffi::CStr::from_ptr(p.cast()).to_bytes().to_vec())
}

/// The next event (`None` on a syntax error) and its start mark.
fn next_event(p: &mut Parser) -> Option<(Ev, Mark)> {
    let mut event = MaybeUninit::<unsafe_yaml::yaml_event_t>::uninit();
    // SAFETY: the parser is initialised; on success libyaml fills `event`, which is read only
    // through its type tag and the union member that tag selects, then deleted once.
    unsafe {
        let e = event.as_mut_ptr();
        if unsafe_yaml::yaml_parser_parse(p.0.as_mut_ptr(), e).fail {
            return None;
        }
        let m = (*e).start_mark;
        let mark = Mark {
            line: m.line + 1,
            column: m.column + 1,
        };
        let ev = match (*e).type_ {
            unsafe_yaml::YAML_SEQUENCE_START_EVENT => Ev::Start {
                flow: (*e).data.sequence_start.style == unsafe_yaml::YAML_FLOW_SEQUENCE_STYLE,
                anchor: c_bytes((*e).data.sequence_start.anchor),
            },
            unsafe_yaml::YAML_MAPPING_START_EVENT => Ev::Start {
                flow: (*e).data.mapping_start.style == unsafe_yaml::YAML_FLOW_MAPPING_STYLE,
                anchor: c_bytes((*e).data.mapping_start.anchor),
            },
            unsafe_yaml::YAML_SEQUENCE_END_EVENT | unsafe_yaml::YAML_MAPPING_END_EVENT => Ev::End,
            unsafe_yaml::YAML_SCALAR_EVENT => Ev::Scalar {
                anchor: c_bytes((*e).data.scalar.anchor),
                len: (*e).data.scalar.length,
            },
            unsafe_yaml::YAML_ALIAS_EVENT => {
                Ev::Alias(c_bytes((*e).data.alias.anchor).unwrap_or_default())
            }
            unsafe_yaml::YAML_STREAM_END_EVENT => Ev::StreamEnd,
            _ => Ev::Other,
        };
        unsafe_yaml::yaml_event_delete(e);
        Some((ev, mark))
    }
}

/// An open collection: whether it is a flow one, its anchor, the expanded weight at its start.
struct Open {
    flow: bool,
    anchor: Option<Vec<u8>>,
    start: u64,
}

fn event_pass(doc: &[u8], deadline: Option<Instant>) -> Result<(), Refusal> {
    let Some(mut parser) = Parser::new(doc) else {
        return Ok(());
    };
    let limit = MAX_ALIAS_EXPANSION
        .saturating_mul(doc.len() as u64)
        .saturating_add(EXPANSION_SLACK);
    let mut open: Vec<Open> = Vec::new();
    let mut flow = 0usize;
    // Anchor → expanded weight of its node (`None` while the node is still open).
    let mut anchors: HashMap<Vec<u8>, Option<u64>> = HashMap::new();
    let mut expanded = 0u64;
    let mut events = 0u64;
    loop {
        events += 1;
        if events.is_multiple_of(4096) && deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Refusal::Deadline);
        }
        let Some((ev, mark)) = next_event(&mut parser) else {
            return Ok(());
        };
        match ev {
            Ev::StreamEnd => return Ok(()),
            Ev::Other => {}
            Ev::Start { flow: f, anchor } => {
                if f {
                    flow += 1;
                    if flow > MAX_FLOW_DEPTH {
                        return Err(Refusal::TooDeep(mark));
                    }
                }
                if let Some(a) = &anchor {
                    anchors.insert(a.clone(), None);
                }
                open.push(Open {
                    flow: f,
                    anchor,
                    start: expanded,
                });
                expanded = expanded.saturating_add(1);
            }
            Ev::End => {
                if let Some(o) = open.pop() {
                    if o.flow {
                        flow -= 1;
                    }
                    if let Some(a) = o.anchor {
                        anchors.insert(a, Some(expanded - o.start));
                    }
                }
            }
            Ev::Scalar { anchor, len } => {
                let w = len.saturating_add(1);
                expanded = expanded.saturating_add(w);
                if let Some(a) = anchor {
                    anchors.insert(a, Some(w));
                }
            }
            Ev::Alias(name) => {
                let w = match anchors.get(&name) {
                    Some(Some(w)) => *w,
                    Some(None) => return Err(Refusal::RecursiveAlias(mark)),
                    // serde_yaml refuses an unknown anchor.
                    None => 1,
                };
                expanded = expanded.saturating_add(w);
                if expanded > limit {
                    return Err(Refusal::AliasExpansion(mark));
                }
            }
        }
    }
}

/// An index whose one anchored version (a 60k-item field) is aliased 40k times: billions of
/// events to replay (the unit tests of this module and of `parse`).
#[cfg(test)]
pub(crate) fn alias_bomb() -> String {
    let mut doc =
        String::from("apiVersion: v1\nentries:\n  c:\n    - &v {name: c, version: 1.0.0, junk: [");
    doc.push_str(&"0,".repeat(60_000));
    doc.push_str("0]}\n");
    for _ in 0..40_000 {
        doc.push_str("    - *v\n");
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn deep(open: &str, close: &str, n: usize) -> String {
        format!(
            "apiVersion: v1\nentries: {}{}\n",
            open.repeat(n),
            close.repeat(n)
        )
    }

    #[test]
    fn refuses_deep_flow_nesting() {
        let t0 = Instant::now();
        let r = check(deep("[", "]", 100_000).as_bytes(), None);
        assert_eq!(
            r,
            Err(Refusal::TooDeep(Mark {
                line: 2,
                column: 10 + MAX_FLOW_DEPTH as u64
            }))
        );
        assert!(matches!(
            check(deep("{a: ", "}", 50_000).as_bytes(), None),
            Err(Refusal::TooDeep(_))
        ));
        assert!(matches!(
            check(deep("[{", "}]", 40).as_bytes(), None),
            Err(Refusal::TooDeep(_))
        ));
        // Unclosed: refused as it opens, not at the end.
        let unclosed = format!("apiVersion: v1\nentries: {}", "[".repeat(100_000));
        assert!(matches!(
            check(unclosed.as_bytes(), None),
            Err(Refusal::TooDeep(_))
        ));
        // A generous bound (the unfixed parse took tens of seconds): the refusal is linear.
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        // At the limit: fine.
        check(deep("[", "]", MAX_FLOW_DEPTH - 1).as_bytes(), None).unwrap();
    }

    #[test]
    fn brackets_that_are_not_collections_do_not_count() {
        // Quoted, commented, in block scalars or inside plain scalars: libyaml decides.
        let n = 200;
        let doc = format!(
            "apiVersion: v1\nentries: {{}}\n# {o}\nq: \"{o}\"\ns: '{o}'\np: text {o}\nb: |\n  {o}\n  {o}\n",
            o = "[".repeat(n)
        );
        assert!(needs_event_pass(doc.as_bytes()));
        check(doc.as_bytes(), None).unwrap();
        // Block nesting is not limited (it costs nothing more).
        let mut block = String::from("apiVersion: v1\nentries:\n");
        for i in 0..500 {
            block.push_str(&" ".repeat(i + 1));
            block.push_str("a:\n");
        }
        check(block.as_bytes(), None).unwrap();
    }

    #[test]
    fn helm_indexes_skip_the_event_pass() {
        let doc = "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: '*'\n    description: 2 * 3 is **bold** [a] {b}\n    urls: [a.tgz]\n";
        assert!(!needs_event_pass(doc.as_bytes()));
        assert!(needs_event_pass(b"a: &x 1\nb: *x\n"));
        assert!(needs_event_pass(b"a: [*x]"));
        assert!(needs_event_pass(b"a: {b:*x}"));
        assert!(needs_event_pass(b"*x : 1"));
        assert!(needs_event_pass("a: 1\n\u{feff}*x : 1".as_bytes()));
        assert!(needs_event_pass("a:\u{2028}*x".as_bytes()));
        // Conservative: an italic word may be an alias as far as this scan knows.
        assert!(needs_event_pass(b"d: it is *not* one"));
    }

    #[test]
    fn bounds_alias_expansion() {
        let doc = alias_bomb();
        assert!(matches!(
            check(doc.as_bytes(), None),
            Err(Refusal::AliasExpansion(_))
        ));
        // Billion laughs.
        let mut lol = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            lol.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(matches!(
            check(lol.as_bytes(), None),
            Err(Refusal::AliasExpansion(_))
        ));
        // A long string copied by aliases.
        let s = format!(
            "big: &s \"{}\"\nentries: [{}]\n",
            "x".repeat(1 << 20),
            "*s, ".repeat(100)
        );
        assert!(matches!(
            check(s.as_bytes(), None),
            Err(Refusal::AliasExpansion(_))
        ));
        // Recursion.
        assert!(matches!(
            check(b"a: &a [1, *a]\n", None),
            Err(Refusal::RecursiveAlias(_))
        ));
        // Shared maintainers, as PyYAML writes them: fine.
        let mut shared = String::from("apiVersion: v1\nentries:\n  c:\n");
        for i in 0..2000 {
            if i == 0 {
                shared.push_str("  - name: c\n    version: 1.0.0\n    maintainers: &id001\n    - {name: a, email: a@x}\n    - {name: b, email: b@x}\n");
            } else {
                shared.push_str(&format!(
                    "  - name: c\n    version: 1.0.{i}\n    maintainers: *id001\n"
                ));
            }
        }
        check(shared.as_bytes(), None).unwrap();
    }

    #[test]
    fn stops_at_the_deadline() {
        let doc = format!("a: [{}]\n", "[x], ".repeat(200_000));
        assert_eq!(
            check(doc.as_bytes(), Some(Instant::now())),
            Err(Refusal::Deadline)
        );
        check(doc.as_bytes(), None).unwrap();
    }

    #[test]
    fn syntax_errors_are_left_to_serde_yaml() {
        check(b"a: [1, 2\nb: {", None).unwrap();
        check(b"\x00\xff[[[[[[", None).unwrap();
        // libyaml looks ahead up to 1024 characters on a line (possible simple keys) before it
        // emits a token: an error within that window leaves no event, and serde_yaml stops there
        // just as fast. Past a line break the events flow, and the depth counts.
        let bad = format!("{}\"", "[".repeat(100));
        check(bad.as_bytes(), None).unwrap();
        let bad = format!("{}\nx\n\"", "[".repeat(100));
        assert!(matches!(
            check(bad.as_bytes(), None),
            Err(Refusal::TooDeep(_))
        ));
    }

    /// Whether libyaml produces an alias event for `doc` (before any syntax error).
    fn has_alias_event(doc: &[u8]) -> bool {
        let mut p = Parser::new(doc).unwrap();
        while let Some((ev, _)) = next_event(&mut p) {
            match ev {
                Ev::Alias(_) => return true,
                Ev::StreamEnd => return false,
                _ => {}
            }
        }
        false
    }

    #[test]
    fn the_cheap_scan_sees_every_alias() {
        // Random documents from YAML fragments: whenever libyaml reads an alias, the cheap scan
        // must have asked for the event pass.
        const FRAGMENTS: &[&str] = &[
            "*a", "*a", "&a ", "&a", " ", "  ", "\n", "\n  ", "[", "]", "{", "}", ",", ": ", ":",
            "- ", "-", "? ", "\"", "'", "\\", "#", " #", "x", "a", "|", ">", "\t", "!t ", "!",
            "\u{feff}", "\u{2028}", "\u{85}", "%", "--- ", "...", "\r\n", "@", "`", "a*a",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut aliased = 0;
        for _ in 0..40_000 {
            let n = 2 + (next() % 14) as usize;
            let doc: String = (0..n)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            if has_alias_event(doc.as_bytes()) {
                aliased += 1;
                assert!(needs_event_pass(doc.as_bytes()), "{doc:?}");
            }
        }
        assert!(aliased > 1000, "{aliased}");
    }
}
