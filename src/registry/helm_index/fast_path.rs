//! A hand-written reader for the block YAML that Helm (`helm repo index`, go-yaml through
//! sigs.k8s.io/yaml), ChartMuseum and similar generators write: `entries` → chart name → list of
//! mappings whose fields are plain or quoted scalars, block sequences and block mappings. It
//! reads the same entries as the full YAML parser (serde_norway) from the fields the catalog
//! needs, 5-10× faster and without holding the document: it reads line by line from any
//! [`BufRead`], so a downloaded body can be parsed from its spool file, and hands each entry to a
//! [`Sink`] as soon as it is read (the compact [`Store`](super::store::Store); the tests collect
//! them into a [`RawIndex`] to compare with the full parser's).
//!
//! Why it may never give a wrong answer: it accepts a strict subset of YAML whose meaning it knows
//! exactly, and answers [`Outcome::NotHandled`] on anything else — flow collections other than
//! `[]`/`{}`, anchors, aliases, tags, comments, directives and document markers, tabs, CR line
//! breaks, control characters and the Unicode line separators libyaml breaks lines on, quoted
//! scalars spanning lines, folded block scalars (and literal ones with `+` chomping or an
//! indentation indicator) in a field it reads, quoted keys, complex keys, a key given twice, a
//! value whose type the full parser would refuse. The caller then runs the full parser on the
//! same bytes, which gives the result or the error in plain words. The unit tests compare both
//! readers on every excerpt in `testdata/indexes/`, on crafted documents and on tens of thousands
//! of random mutations of them; the acceptance trial `helm_registry::index_fast_path_equals_full_parser`
//! and `benches/index.rs` compare them on every real index in `$CHARTREG_SHARED_DIR/data/indexes/`.
//! Every subsequent step (validation, sorting, the store, summaries and snapshot) is shared with
//! the full parser.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Instant;

use serde::de::IgnoredAny;

use crate::registry::helm_index::index_doc::{RawDependency, RawEntries, RawEntry, RawIndex};
use crate::registry::helm_index::store::Sink;

/// What the fast path made of a document.
#[derive(Debug)]
pub(crate) enum Outcome {
    Parsed(RawIndex),
    /// Outside the subset this reader knows (the reason, for the debug log): use the full parser.
    NotHandled(&'static str),
    /// The deadline passed.
    Deadline,
}

enum Stop {
    Bail(&'static str),
    Deadline,
}

type R<T> = std::result::Result<T, Stop>;

fn bail<T>(why: &'static str) -> R<T> {
    Err(Stop::Bail(why))
}

/// Block nesting deeper than this is left to the full parser (a Helm index nests ~7 levels).
const MAX_DEPTH: usize = 48;

/// How many lines are read between two looks at the clock.
const LINES_PER_DEADLINE_CHECK: u64 = 512;

/// Read `src` (the document, after any BOM) with the fast path, handing the entries to `sink` as
/// they are read. [`Outcome::Parsed`] has the document's `apiVersion` and whether `entries` is
/// there (its map is empty: the charts went to `sink`); on any other outcome what `sink` was
/// given must be dropped.
pub(crate) fn read<B: BufRead, S: Sink>(
    src: B,
    deadline: Option<Instant>,
    sink: &mut S,
) -> Outcome {
    let mut p = Lines {
        src,
        buf: Vec::with_capacity(256),
        scratch: Vec::new(),
        eof: false,
        indent: 0,
        pos: 0,
        end: 0,
        blank_before: 0,
        blank_max: 0,
        comment_before: false,
        newline: true,
        lines: 0,
        deadline,
        depth: 0,
    };
    match p.document(sink) {
        Ok(raw) => Outcome::Parsed(raw),
        Err(Stop::Bail(why)) => Outcome::NotHandled(why),
        Err(Stop::Deadline) => Outcome::Deadline,
    }
}

/// The current line of the document and where its content starts.
struct Lines<B> {
    src: B,
    /// The current line without its line break.
    buf: Vec<u8>,
    /// Reused for decoding double-quoted scalars.
    scratch: Vec<u8>,
    eof: bool,
    /// Column of the content (moved past `- ` for a mapping that starts in a sequence item).
    indent: usize,
    /// Byte offset of the content in `buf` (equal to `indent`: indentation is spaces only).
    pos: usize,
    /// End of the content, trailing spaces trimmed.
    end: usize,
    /// Blank (spaces only) lines skipped before the current line, and the longest of them.
    blank_before: usize,
    blank_max: usize,
    /// Comment lines (first character `#`) were skipped before the current line.
    comment_before: bool,
    /// The current line ended with a line break (the last line of a document may not).
    newline: bool,
    lines: u64,
    deadline: Option<Instant>,
    depth: usize,
}

/// A scalar written after `key: ` or `- ` (or its absence).
enum Scalar {
    /// A plain `null`, `Null`, `NULL`, `~`, or nothing at all.
    Null,
    Text(String),
    /// `[]` or `{}`.
    EmptySeq,
    EmptyMap,
}

const NULLS: [&[u8]; 4] = [b"null", b"Null", b"NULL", b"~"];

/// A plain scalar may not start with these (YAML indicators).
fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b'[' | b']'
            | b'{'
            | b'}'
            | b','
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// Whether `s` contains `": "`, `" #"` or ends with `:` (a key or a comment in a plain scalar).
fn has_key_or_comment(s: &[u8]) -> bool {
    s.last() == Some(&b':')
        || s.windows(2)
            .any(|w| (w[0] == b':' && w[1] == b' ') || (w[0] == b' ' && w[1] == b'#'))
}

/// Whether `c` is a character libyaml refuses or treats as a line break, or one this reader does
/// not want to reason about (C1 controls, NEL, LS, PS, BOM, non-characters).
fn odd_char(c: char) -> bool {
    let u = c as u32;
    (0x7f..=0x9f).contains(&u) || matches!(u, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF)
}

/// Text of a line already checked to be UTF-8 by [`Lines::advance`].
fn owned(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap_or_default()
}

impl<B: BufRead> Lines<B> {
    /// Move to the next line that is not blank (end of document: `eof`).
    fn advance(&mut self) -> R<()> {
        self.blank_before = 0;
        self.blank_max = 0;
        self.comment_before = false;
        loop {
            self.buf.clear();
            let n = match self.src.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(_) => return bail("read error"),
            };
            if n == 0 {
                self.eof = true;
                self.indent = 0;
                self.pos = 0;
                self.end = 0;
                return Ok(());
            }
            self.lines += 1;
            if self.lines.is_multiple_of(LINES_PER_DEADLINE_CHECK)
                && self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                return Err(Stop::Deadline);
            }
            self.newline = self.buf.last() == Some(&b'\n');
            if self.newline {
                self.buf.pop();
            }
            // One pass without branches (the compiler vectorises it): control characters
            // (tabs, CR, …) and whether the line is all ASCII.
            let (mut control, mut high) = (false, 0u8);
            for &b in &self.buf {
                control |= (b < 0x20) | (b == 0x7f);
                high |= b & 0x80;
            }
            if control {
                return bail("tab, carriage return or control character");
            }
            if high != 0 {
                match std::str::from_utf8(&self.buf) {
                    Ok(s) if !s.chars().any(odd_char) => {}
                    _ => return bail("invalid UTF-8 or an unusual character"),
                }
            }
            let indent = self.buf.iter().take_while(|&&b| b == b' ').count();
            if indent == self.buf.len() {
                self.blank_before += 1;
                self.blank_max = self.blank_max.max(indent);
                continue;
            }
            if self.buf[indent] == b'#' {
                // A comment line: transparent between nodes; where it could be part of a
                // scalar (plain or block), the readers of those refuse it.
                self.comment_before = true;
                continue;
            }
            let mut end = self.buf.len();
            while self.buf[end - 1] == b' ' {
                end -= 1;
            }
            if indent == 0
                && (self.buf.starts_with(b"---")
                    || self.buf.starts_with(b"...")
                    || self.buf[0] == b'%')
            {
                return bail("document marker or directive");
            }
            self.indent = indent;
            self.pos = indent;
            self.end = end;
            return Ok(());
        }
    }

    fn content(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Whether the current line is a sequence item (`- …`) at column `m`.
    fn is_item_at(&self, m: usize) -> bool {
        if self.eof || self.indent != m {
            return false;
        }
        let c = self.content();
        c == b"-" || c.starts_with(b"- ")
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return bail("nested too deep");
        }
        Ok(())
    }

    /// The key of the mapping line at the cursor: (start and end of the key, offset of the value)
    /// in `buf`.
    fn key(&self) -> R<(usize, usize, usize)> {
        let c = self.content();
        let first = c[0];
        if is_indicator(first) {
            return bail("key starting with an indicator (quoted, flow, anchor, tag, comment)");
        }
        if matches!(first, b'-' | b'?' | b':') && (c.len() == 1 || c[1] == b' ') {
            return bail("sequence item, complex key or empty key where a key was expected");
        }
        let mut colon = None;
        for i in 0..c.len() {
            if c[i] == b'#' && i > 0 && c[i - 1] == b' ' {
                return bail("comment");
            }
            if c[i] == b':' && (i + 1 == c.len() || c[i + 1] == b' ') {
                colon = Some(i);
                break;
            }
        }
        let Some(i) = colon else {
            return bail("a line that is not `key: value` in a mapping");
        };
        let key = &c[..i];
        if key.ends_with(b" ") || key == b"<<" {
            return bail("key with trailing space or merge key");
        }
        let mut v = self.pos + i + 1;
        while v < self.end && self.buf[v] == b' ' {
            v += 1;
        }
        Ok((self.pos, self.pos + i, v))
    }

    /// The scalar at `buf[at..end]` (or nothing when `at == end`), a value of a node at column
    /// `n`; the cursor moves past it. A block node that follows instead (`key:` then an indented
    /// block) is for the caller: this is only called when the value is written on the line, or
    /// when the caller has checked that no block follows.
    fn scalar(&mut self, at: usize, n: usize, want_text: bool) -> R<Scalar> {
        if at == self.end {
            self.advance()?;
            return Ok(Scalar::Null);
        }
        let first = self.buf[at];
        match first {
            b'"' => {
                let s = self.double_quoted(at, want_text)?;
                self.advance()?;
                Ok(Scalar::Text(s))
            }
            b'\'' => {
                let s = self.single_quoted(at, want_text)?;
                self.advance()?;
                Ok(Scalar::Text(s))
            }
            b'|' | b'>' => self.block_scalar(at, n, want_text),
            b'[' | b'{' => {
                let v = &self.buf[at..self.end];
                let s = if v == b"[]" {
                    Scalar::EmptySeq
                } else if v == b"{}" {
                    Scalar::EmptyMap
                } else {
                    return bail("flow collection");
                };
                self.advance()?;
                Ok(s)
            }
            b if is_indicator(b) => bail("anchor, alias, tag or other indicator"),
            b'-' | b'?' | b':' if at + 1 == self.end || self.buf[at + 1] == b' ' => {
                bail("indicator followed by a space")
            }
            _ => self.plain(at, n, want_text),
        }
    }

    /// After `key:` with nothing on the line, at mapping column `n`: the column of the block
    /// node that follows (`Some((column, is_sequence))`), or `None` for a null value.
    fn block_after(&self, n: usize) -> R<Option<(usize, bool)>> {
        if self.eof {
            return Ok(None);
        }
        let c = self.content();
        let item = c == b"-" || c.starts_with(b"- ");
        if self.indent > n {
            return Ok(Some((self.indent, item)));
        }
        if self.indent == n && item {
            return Ok(Some((n, true)));
        }
        Ok(None)
    }

    /// Enter the sequence item at the cursor (column `m`): the cursor moves to the item's
    /// content. `Ok(true)` when the content is a mapping (`- key: …`), whose column is then
    /// `self.indent`.
    fn enter_item(&mut self) -> R<bool> {
        let c = self.content();
        if c.len() < 3 {
            return bail("empty sequence item");
        }
        let mut p = self.pos + 1;
        while self.buf[p] == b' ' {
            p += 1;
        }
        self.indent += p - self.pos;
        self.pos = p;
        let c = self.content();
        if c[0] == b'#' {
            return bail("comment");
        }
        if c == b"-" || c.starts_with(b"- ") {
            return bail("nested sequence on one line");
        }
        if c[0] == b'"' || c[0] == b'\'' || is_indicator(c[0]) {
            return Ok(false);
        }
        // A key: `: ` or a trailing `:` (a plain scalar has neither, `plain` checks again).
        Ok(c.last() == Some(&b':') || c.windows(2).any(|w| w == b": "))
    }

    // -----------------------------------------------------------------------------------------
    // Skipping what the catalog does not read (still checked to be in the subset)
    // -----------------------------------------------------------------------------------------

    fn skip_value(&mut self, at: usize, n: usize) -> R<()> {
        if at != self.end {
            self.scalar(at, n, false)?;
            return Ok(());
        }
        self.advance()?;
        match self.block_after(n)? {
            None => Ok(()),
            Some((m, true)) => self.skip_seq(m),
            Some((m, false)) => self.skip_map(m),
        }
    }

    fn skip_map(&mut self, n: usize) -> R<()> {
        self.enter()?;
        while !self.eof && self.indent == n {
            let (_, _, at) = self.key()?;
            self.skip_value(at, n)?;
        }
        if !self.eof && self.indent > n {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(())
    }

    fn skip_seq(&mut self, m: usize) -> R<()> {
        self.enter()?;
        while self.is_item_at(m) {
            if self.enter_item()? {
                let k = self.indent;
                self.skip_map(k)?;
            } else {
                let at = self.pos;
                self.scalar(at, m, false)?;
            }
        }
        if !self.eof && self.indent > m {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Fields that are read
    // -----------------------------------------------------------------------------------------

    /// A text field (`lenient_string`): scalars as text, null as "".
    fn text(&mut self, at: usize, n: usize) -> R<String> {
        if at == self.end {
            self.advance()?;
            if self.block_after(n)?.is_some() {
                return bail("a collection where text is read");
            }
            return Ok(String::new());
        }
        match self.scalar(at, n, true)? {
            Scalar::Null => Ok(String::new()),
            Scalar::Text(s) => Ok(s),
            Scalar::EmptySeq | Scalar::EmptyMap => bail("a collection where text is read"),
        }
    }

    /// `deprecated` (`lenient_bool`).
    fn boolean(&mut self, at: usize, n: usize) -> R<bool> {
        let quoted = at < self.end && matches!(self.buf[at], b'"' | b'\'');
        let block = at < self.end && matches!(self.buf[at], b'|' | b'>');
        if block {
            return bail("block scalar for a boolean");
        }
        let s = self.text(at, n)?;
        if s.is_empty() && !quoted {
            return Ok(false);
        }
        match s.as_str() {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
                Ok(true)
            }
            "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n"
            | "N" | "" => Ok(false),
            _ => bail("a boolean the full parser may read otherwise"),
        }
    }

    /// After `key:`: the column of the block sequence that follows, or `None` (null). A value on
    /// the line must be `[]` (`Some(None)`... given as `Ok(Err(()))`) or null.
    fn seq_start(&mut self, at: usize, n: usize) -> R<SeqStart> {
        if at != self.end {
            return match self.scalar(at, n, false)? {
                Scalar::Null => Ok(SeqStart::Null),
                Scalar::EmptySeq => Ok(SeqStart::Empty),
                _ => bail("a scalar or mapping where a list is read"),
            };
        }
        self.advance()?;
        match self.block_after(n)? {
            None => Ok(SeqStart::Null),
            Some((m, true)) => Ok(SeqStart::Block(m)),
            Some((_, false)) => bail("a mapping where a list is read"),
        }
    }

    /// `urls`, `keywords` (`lenient_strings`).
    fn text_list(&mut self, at: usize, n: usize) -> R<Vec<String>> {
        let m = match self.seq_start(at, n)? {
            SeqStart::Null | SeqStart::Empty => return Ok(Vec::new()),
            SeqStart::Block(m) => m,
        };
        let mut out = Vec::new();
        while self.is_item_at(m) {
            if self.enter_item()? {
                return bail("a mapping in a list of text");
            }
            let at = self.pos;
            match self.scalar(at, m, true)? {
                Scalar::Null => out.push(String::new()),
                Scalar::Text(s) => out.push(s),
                _ => return bail("a collection in a list of text"),
            }
        }
        if !self.eof && self.indent > m {
            return bail("indentation");
        }
        Ok(out)
    }

    /// `maintainers`: any items, null ones recorded.
    fn any_list(&mut self, at: usize, n: usize) -> R<Option<Vec<Option<IgnoredAny>>>> {
        let m = match self.seq_start(at, n)? {
            SeqStart::Null => return Ok(None),
            SeqStart::Empty => return Ok(Some(Vec::new())),
            SeqStart::Block(m) => m,
        };
        self.enter()?;
        let mut out = Vec::new();
        while self.is_item_at(m) {
            if self.enter_item()? {
                let k = self.indent;
                self.skip_map(k)?;
                out.push(Some(IgnoredAny));
            } else {
                let at = self.pos;
                match self.scalar(at, m, false)? {
                    Scalar::Null => out.push(None),
                    _ => out.push(Some(IgnoredAny)),
                }
            }
        }
        if !self.eof && self.indent > m {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(Some(out))
    }

    /// `dependencies`.
    fn dependencies(&mut self, at: usize, n: usize) -> R<Option<Vec<Option<RawDependency>>>> {
        let m = match self.seq_start(at, n)? {
            SeqStart::Null => return Ok(None),
            SeqStart::Empty => return Ok(Some(Vec::new())),
            SeqStart::Block(m) => m,
        };
        self.enter()?;
        let mut out = Vec::new();
        while self.is_item_at(m) {
            if !self.enter_item()? {
                let at = self.pos;
                match self.scalar(at, m, false)? {
                    Scalar::Null => out.push(None),
                    _ => return bail("a dependency that is not a mapping"),
                }
                continue;
            }
            let k = self.indent;
            self.enter()?;
            let (mut name, mut alias) = (None, None);
            while !self.eof && self.indent == k {
                let (ks, ke, at) = self.key()?;
                let slot = match &self.buf[ks..ke] {
                    b"name" => &mut name,
                    b"alias" => &mut alias,
                    _ => {
                        self.skip_value(at, k)?;
                        continue;
                    }
                };
                if slot.is_some() {
                    return bail("a dependency field given twice");
                }
                *slot = Some(self.text(at, k)?);
            }
            if !self.eof && self.indent > k {
                return bail("indentation");
            }
            self.depth -= 1;
            out.push(Some(RawDependency {
                name: name.unwrap_or_default(),
                alias: alias.unwrap_or_default(),
            }));
        }
        if !self.eof && self.indent > m {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(Some(out))
    }

    /// One chart version: the mapping at column `k`.
    fn entry(&mut self, k: usize) -> R<RawEntry> {
        self.enter()?;
        let mut e = RawEntry::default();
        // Which fields were given (a field given twice is an error for the full parser).
        let mut seen = 0u32;
        while !self.eof && self.indent == k {
            let (ks, ke, at) = self.key()?;
            let bit = match &self.buf[ks..ke] {
                b"apiVersion" => 0,
                b"name" => 1,
                b"version" => 2,
                b"appVersion" => 3,
                b"description" => 4,
                b"deprecated" => 5,
                b"digest" => 6,
                b"urls" => 7,
                b"created" => 8,
                b"type" => 9,
                b"keywords" => 10,
                b"maintainers" => 11,
                b"dependencies" => 12,
                _ => {
                    self.skip_value(at, k)?;
                    continue;
                }
            };
            if seen & (1 << bit) != 0 {
                return bail("a field given twice");
            }
            seen |= 1 << bit;
            match bit {
                0 => e.api_version = self.text(at, k)?,
                1 => e.name = self.text(at, k)?,
                2 => e.version = self.text(at, k)?,
                3 => e.app_version = self.text(at, k)?,
                4 => e.description = self.text(at, k)?,
                5 => e.deprecated = self.boolean(at, k)?,
                6 => e.digest = self.text(at, k)?,
                7 => e.urls = self.text_list(at, k)?,
                8 => e.created = self.text(at, k)?,
                9 => e.chart_type = self.text(at, k)?,
                10 => e.keywords = self.text_list(at, k)?,
                11 => e.maintainers = self.any_list(at, k)?,
                _ => e.dependencies = self.dependencies(at, k)?,
            }
        }
        if !self.eof && self.indent > k {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(e)
    }

    /// The versions of one chart, handed to `sink` one at a time.
    fn entry_list<S: Sink>(
        &mut self,
        at: usize,
        n: usize,
        sink: &mut S,
        chart: &mut S::Chart,
    ) -> R<bool> {
        let m = match self.seq_start(at, n)? {
            SeqStart::Null => return Ok(true),
            SeqStart::Empty => return Ok(false),
            SeqStart::Block(m) => m,
        };
        self.enter()?;
        while self.is_item_at(m) {
            if self.enter_item()? {
                let k = self.indent;
                let e = self.entry(k)?;
                sink.entry(chart, Some(e));
            } else {
                let at = self.pos;
                match self.scalar(at, m, false)? {
                    Scalar::Null => sink.entry(chart, None),
                    _ => return bail("a chart version that is not a mapping"),
                }
            }
        }
        if !self.eof && self.indent > m {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(false)
    }

    /// `entries` (`Some` when a mapping, its charts handed to `sink`).
    fn entries<S: Sink>(&mut self, at: usize, sink: &mut S) -> R<Option<RawEntries>> {
        if at != self.end {
            return match self.scalar(at, 0, false)? {
                Scalar::Null => Ok(None),
                Scalar::EmptyMap => Ok(Some(RawEntries(BTreeMap::new()))),
                _ => bail("entries that are not a mapping"),
            };
        }
        self.advance()?;
        let c = match self.block_after(0)? {
            None => return Ok(None),
            Some((c, false)) => c,
            Some((_, true)) => return bail("entries that are a list"),
        };
        self.enter()?;
        while !self.eof && self.indent == c {
            let (ks, ke, at) = self.key()?;
            let chart = &self.buf[ks..ke];
            if NULLS.contains(&chart) {
                return bail("a null chart name");
            }
            // Validated as UTF-8 by `advance`.
            let mut chart = sink.begin(owned(chart));
            let null = self.entry_list(at, c, sink, &mut chart)?;
            // A later duplicate replaces an earlier one, as in the full parser (and Go's maps).
            sink.end(chart, null);
        }
        if !self.eof && self.indent > c {
            return bail("indentation");
        }
        self.depth -= 1;
        Ok(Some(RawEntries(BTreeMap::new())))
    }

    fn document<S: Sink>(&mut self, sink: &mut S) -> R<RawIndex> {
        self.advance()?;
        if self.eof || self.indent != 0 {
            return bail("empty or indented document");
        }
        let mut raw = RawIndex {
            api_version: String::new(),
            entries: None,
        };
        let (mut api, mut entries) = (false, false);
        while !self.eof && self.indent == 0 {
            let (ks, ke, at) = self.key()?;
            match &self.buf[ks..ke] {
                b"apiVersion" => {
                    if std::mem::replace(&mut api, true) {
                        return bail("apiVersion given twice");
                    }
                    raw.api_version = self.text(at, 0)?;
                }
                b"entries" => {
                    if std::mem::replace(&mut entries, true) {
                        return bail("entries given twice");
                    }
                    raw.entries = Some(self.entries(at, sink)?);
                }
                _ => self.skip_value(at, 0)?,
            }
        }
        if !self.eof {
            return bail("indentation");
        }
        Ok(raw)
    }
}

enum SeqStart {
    Null,
    Empty,
    Block(usize),
}

mod scalars;
#[cfg(test)]
mod tests;
