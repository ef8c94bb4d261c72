//! Which object and attribute of a configuration a source position belongs to: how the harness
//! turns the `range` of a Terraform diagnostic into the attribute it is about.
//!
//! Terraform's machine-readable output names the object (`address`) but not the provider's
//! AttributePath; it gives a source range instead. Terraform 1.0.3 and 1.15 (checked against a
//! provider build with nested blocks) turn an AttributePath into a range the same way:
//! - an attribute set in the configuration: its value expression; `list[i]`: that element;
//! - `block[i].attr` in a nested block: that attribute of the i-th such block;
//! - an attribute absent from the configuration, the root path, or a step Terraform cannot
//!   follow (`block.attr` into a list block without an index): the opening `{` of the innermost
//!   block it reached (the resource itself, or the nested block);
//! - Terraform's own configuration errors: the argument name (`Unsupported argument`) or the
//!   expression.
//!
//! [`locate`] reads the configuration at that position (a small HCL scanner: strings with
//! templates, heredocs, comments and brackets) and names what contains it:
//! `chartreg_oci_registry.r` + `base_content_paths[1]`, `provider.chartreg` + `max_retries`,
//! `chartreg_x.r` + `probe[1].x`. A nested block carries its index only when its parent has
//! more than one block of that type (`ecr.role_arn`, but `probe[0].x` next to `probe[1]`).

use std::collections::HashMap;

/// What a source position belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The top-level object: `chartreg_x.r` (resource), `data.chartreg_x.r`, `provider.chartreg`,
    /// `module.m`, `var.v`, `output.o`, `local`; empty outside any block.
    pub object: String,
    /// The path inside it: `endpoint`, `base_content_paths[1]`, `probe[1].x`, `ecr` (a nested
    /// block itself); empty for the object itself.
    pub attribute: String,
}

#[derive(Debug, Clone)]
enum Frame {
    /// A block body; `id` indexes [`Scanner::blocks`].
    Block(usize),
    Attr(String),
    /// `[`, `{` or `(` inside an expression; `elem` counts the commas seen so far.
    Open {
        close: u8,
        elem: usize,
    },
    Str,
    /// `${ … }` / `%{ … }` inside a string.
    Template,
}

struct BlockInfo {
    labels: Vec<String>,
    parent: Option<usize>,
    /// Position among the blocks of the same type in the parent.
    ordinal: usize,
}

struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
    target: usize,
    stack: Vec<Frame>,
    blocks: Vec<BlockInfo>,
    /// (parent, type) → number of such blocks.
    counts: HashMap<(Option<usize>, String), usize>,
    snapshot: Option<Vec<Frame>>,
}

/// The object and attribute that contain byte offset `byte` of configuration `src`.
pub fn locate(src: &str, byte: usize) -> Location {
    let mut s = Scanner {
        src: src.as_bytes(),
        pos: 0,
        target: byte,
        stack: Vec::new(),
        blocks: Vec::new(),
        counts: HashMap::new(),
        snapshot: None,
    };
    s.run();
    let frames = s.snapshot.clone().unwrap_or_default();
    s.render(&frames)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

impl Scanner<'_> {
    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    fn in_body(&self) -> bool {
        matches!(self.stack.last(), None | Some(Frame::Block(_)))
    }

    fn snap_if(&mut self, from: usize) {
        if self.snapshot.is_none() && self.target >= from && self.target < self.pos {
            self.snapshot = Some(self.stack.clone());
        }
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            if self.in_body() && is_ident_start(self.src[self.pos]) {
                self.body_item();
                continue;
            }
            // the state before the character at the target: a range that starts at `[` is the
            // whole list, one that starts at an element is that element
            if self.snapshot.is_none() && self.target <= self.pos {
                self.snapshot = Some(self.stack.clone());
            }
            self.step();
        }
    }

    fn read_ident(&mut self) -> String {
        let start = self.pos;
        while self.pos < self.src.len() && is_ident(self.src[self.pos]) {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(0), b' ' | b'\t') {
            self.pos += 1;
        }
    }

    /// An attribute (`name =`) or a block header (`type "label" … {`) in a body.
    fn body_item(&mut self) {
        let start = self.pos;
        let ident = self.read_ident();
        self.skip_blanks();
        if self.peek(0) == b'=' && self.peek(1) != b'=' {
            self.pos += 1;
            self.stack.push(Frame::Attr(ident));
            self.snap_if(start);
            return;
        }
        let mut labels = vec![ident];
        loop {
            self.skip_blanks();
            match self.peek(0) {
                b'"' => {
                    self.pos += 1;
                    let from = self.pos;
                    while self.pos < self.src.len() && self.src[self.pos] != b'"' {
                        self.pos += if self.src[self.pos] == b'\\' { 2 } else { 1 };
                    }
                    let end = self.pos.min(self.src.len());
                    labels.push(String::from_utf8_lossy(&self.src[from..end]).into_owned());
                    self.pos += 1;
                }
                c if is_ident_start(c) => labels.push(self.read_ident()),
                b'{' => {
                    self.pos += 1;
                    let parent = self.stack.iter().rev().find_map(|f| match f {
                        Frame::Block(id) => Some(*id),
                        _ => None,
                    });
                    let n = self.counts.entry((parent, labels[0].clone())).or_insert(0);
                    let ordinal = *n;
                    *n += 1;
                    self.blocks.push(BlockInfo {
                        labels,
                        parent,
                        ordinal,
                    });
                    self.stack.push(Frame::Block(self.blocks.len() - 1));
                    self.snap_if(start);
                    return;
                }
                _ => return, // not HCL we understand: go on from here
            }
        }
    }

    /// One character (or token) outside a body item.
    fn step(&mut self) {
        let c = self.src[self.pos];
        let top = self.stack.last().cloned();
        if let Some(Frame::Str) = top {
            match c {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.stack.pop();
                    self.pos += 1;
                }
                b'$' | b'%' if self.peek(1) == c && self.peek(2) == b'{' => self.pos += 3,
                b'$' | b'%' if self.peek(1) == b'{' => {
                    self.stack.push(Frame::Template);
                    self.pos += 2;
                }
                _ => self.pos += 1,
            }
            return;
        }
        match c {
            b'#' => self.skip_line(),
            b'/' if self.peek(1) == b'/' => self.skip_line(),
            b'/' if self.peek(1) == b'*' => {
                self.pos += 2;
                while self.pos < self.src.len() && !(self.peek(0) == b'*' && self.peek(1) == b'/') {
                    self.pos += 1;
                }
                self.pos += 2;
            }
            b'}' if self.in_body() => {
                self.stack.pop();
                self.pos += 1;
            }
            _ if self.in_body() => self.pos += 1,
            b'"' => {
                self.stack.push(Frame::Str);
                self.pos += 1;
            }
            b'<' if self.peek(1) == b'<' => self.heredoc(),
            b'[' | b'{' | b'(' => {
                let close = match c {
                    b'[' => b']',
                    b'{' => b'}',
                    _ => b')',
                };
                self.stack.push(Frame::Open { close, elem: 0 });
                self.pos += 1;
            }
            b']' | b'}' | b')' => {
                match top {
                    Some(Frame::Open { close, .. }) if close == c => {
                        self.stack.pop();
                    }
                    Some(Frame::Template) if c == b'}' => {
                        self.stack.pop();
                    }
                    Some(Frame::Attr(_)) if c == b'}' => {
                        // `block { a = 1 }`: the attribute ends with its block
                        self.stack.pop();
                        return; // the body closes the block
                    }
                    _ => {}
                }
                self.pos += 1;
            }
            b',' => {
                if let Some(Frame::Open { elem, .. }) = self.stack.last_mut() {
                    *elem += 1;
                }
                self.pos += 1;
            }
            b'\n' => {
                if let Some(Frame::Attr(_)) = top {
                    self.stack.pop();
                }
                self.pos += 1;
            }
            _ => self.pos += 1,
        }
    }

    fn skip_line(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    /// `<<EOF` / `<<-EOF` … a line that is `EOF`.
    fn heredoc(&mut self) {
        self.pos += 2;
        if self.peek(0) == b'-' {
            self.pos += 1;
        }
        let tag = self.read_ident();
        self.skip_line();
        if tag.is_empty() {
            return;
        }
        while self.pos < self.src.len() {
            self.pos += 1; // the newline
            let from = self.pos;
            self.skip_line();
            let line = String::from_utf8_lossy(&self.src[from..self.pos]);
            if line.trim() == tag {
                return;
            }
        }
    }

    fn render(&self, frames: &[Frame]) -> Location {
        let mut loc = Location::default();
        let mut path: Vec<String> = Vec::new();
        let mut iter = frames.iter().peekable();
        while let Some(f) = iter.next() {
            match f {
                Frame::Block(id) => {
                    let b = &self.blocks[*id];
                    if b.parent.is_none() {
                        loc.object = object_name(&b.labels);
                    } else {
                        let many = self.counts[&(b.parent, b.labels[0].clone())] > 1;
                        path.push(if many {
                            format!("{}[{}]", b.labels[0], b.ordinal)
                        } else {
                            b.labels[0].clone()
                        });
                    }
                }
                Frame::Attr(name) => {
                    let mut a = name.clone();
                    if let Some(Frame::Open { close: b']', elem }) = iter.peek() {
                        a.push_str(&format!("[{elem}]"));
                    }
                    path.push(a);
                    break;
                }
                _ => break,
            }
        }
        loc.attribute = path.join(".");
        loc
    }
}

/// An HCL string literal of `s` (JSON escaping is valid HCL).
pub fn string(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// `resource "t" "n"` → `t.n`, `data "t" "n"` → `data.t.n`, `provider "p"` → `provider.p`…
fn object_name(labels: &[String]) -> String {
    let rest = labels[1..].join(".");
    match labels[0].as_str() {
        "resource" => rest,
        "variable" => format!("var.{rest}"),
        "locals" => "local".into(),
        kind if rest.is_empty() => kind.to_string(),
        kind => format!("{kind}.{rest}"),
    }
}

/// Checks of [`locate`] on the shapes Terraform points at (run by the `smoke::hcl_locate` trial).
pub fn self_check() -> Result<(), String> {
    let cfg = r#"provider "chartreg" {
  max_retries = -1 # a comment { [
}

resource "chartreg_oci_registry" "bad_path" {
  name               = "bad-path"
  endpoint           = "http://${var.host}/x?q={"
  base_content_paths = [
    "ok/path",
    "Bad Path",
  ]
  probe {
    x = "first"
  }
  probe {
    x = <<-EOT
      } ] "
    EOT
  }
  single { y = "s" }
}

data "chartreg_thing" "d" {
  version = "1"
}
"#;
    let at = |needle: &str, skip: usize| -> Location {
        let byte = cfg.find(needle).unwrap_or_else(|| panic!("{needle}")) + skip;
        locate(cfg, byte)
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, usize, &str, &str)> = vec![
        ("-1", 0, "provider.chartreg", "max_retries"),
        ("max_retries", 0, "provider.chartreg", "max_retries"),
        ("\"bad-path\"", 0, "chartreg_oci_registry.bad_path", "name"),
        ("{\"\n", 0, "chartreg_oci_registry.bad_path", "endpoint"),
        ("[\n    \"ok", 0, "chartreg_oci_registry.bad_path", "base_content_paths"),
        ("\"ok/path\"", 0, "chartreg_oci_registry.bad_path", "base_content_paths[0]"),
        ("\"Bad Path\"", 0, "chartreg_oci_registry.bad_path", "base_content_paths[1]"),
        ("\"first\"", 0, "chartreg_oci_registry.bad_path", "probe[0].x"),
        ("<<-EOT", 0, "chartreg_oci_registry.bad_path", "probe[1].x"),
        ("probe {\n    x = <<", 6, "chartreg_oci_registry.bad_path", "probe[1]"),
        ("\"s\"", 0, "chartreg_oci_registry.bad_path", "single.y"),
        ("\"bad_path\" {", 11, "chartreg_oci_registry.bad_path", ""),
        ("\"1\"", 0, "data.chartreg_thing.d", "version"),
    ];
    let mut errors = Vec::new();
    for (needle, skip, object, attribute) in cases {
        let got = at(needle, skip);
        if got.object != object || got.attribute != attribute {
            errors.push(format!(
                "at {needle:?}+{skip}: got {got:?}, want {object} / {attribute}"
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}
