//! The scalar readers of the fast path: plain (folded over continuation lines), double- and
//! single-quoted on one line, and block scalars (literal ones read exactly, any style skipped).
//! Each refuses ([`bail`]) what it cannot read exactly.

use std::io::BufRead;

use super::{bail, has_key_or_comment, is_indicator, owned, Lines, Scalar, NULLS, R};

impl<B: BufRead> Lines<B> {
    /// A plain scalar, continued on more indented lines (folded with single spaces); its text
    /// only `if want` (else empty).
    pub(super) fn plain(&mut self, at: usize, n: usize, want: bool) -> R<Scalar> {
        let first = &self.buf[at..self.end];
        if has_key_or_comment(first) {
            return bail("`: ` or ` #` in a plain scalar");
        }
        let mut text = if want { owned(first) } else { String::new() };
        let single = NULLS.contains(&first);
        self.advance()?;
        let mut continued = false;
        while !self.eof && self.indent > n {
            if self.blank_before > 0 || self.comment_before {
                return bail("blank or comment line in a plain scalar");
            }
            let c = self.content();
            if is_indicator(c[0]) || matches!(c[0], b'-' | b'?' | b':') || has_key_or_comment(c) {
                return bail("continuation line that might not be text");
            }
            if want {
                text.push(' ');
                text.push_str(std::str::from_utf8(c).unwrap_or_default());
            }
            continued = true;
            self.advance()?;
        }
        if single && !continued {
            return Ok(Scalar::Null);
        }
        Ok(Scalar::Text(text))
    }

    /// A double-quoted scalar on one line; its text only `if want` (else empty).
    pub(super) fn double_quoted(&mut self, at: usize, want: bool) -> R<String> {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let r = self.decode_double(at, &mut out);
        let text = match r {
            Ok(()) if want => String::from_utf8(out.clone()).or_else(|_| bail("invalid UTF-8")),
            Ok(()) => std::str::from_utf8(&out)
                .map(|_| String::new())
                .or_else(|_| bail("invalid UTF-8")),
            Err(e) => Err(e),
        };
        self.scratch = out;
        text
    }

    fn decode_double(&self, at: usize, out: &mut Vec<u8>) -> R<()> {
        let s = &self.buf[at + 1..self.end];
        let mut i = 0;
        loop {
            let Some(&b) = s.get(i) else {
                return bail("double-quoted scalar continued on the next line");
            };
            match b {
                b'"' => {
                    if i + 1 != s.len() {
                        return bail("text after a double-quoted scalar");
                    }
                    break;
                }
                b'\\' => {
                    let Some(&e) = s.get(i + 1) else {
                        return bail("escaped line break");
                    };
                    i += 2;
                    let simple = match e {
                        b'0' => Some(0u8),
                        b'a' => Some(7),
                        b'b' => Some(8),
                        b't' => Some(9),
                        b'n' => Some(10),
                        b'v' => Some(11),
                        b'f' => Some(12),
                        b'r' => Some(13),
                        b'e' => Some(27),
                        b' ' => Some(b' '),
                        b'"' => Some(b'"'),
                        b'/' => Some(b'/'),
                        b'\\' => Some(b'\\'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        continue;
                    }
                    let (len, special) = match e {
                        b'x' => (2, None),
                        b'u' => (4, None),
                        b'U' => (8, None),
                        b'N' => (0, Some('\u{85}')),
                        b'_' => (0, Some('\u{a0}')),
                        b'L' => (0, Some('\u{2028}')),
                        b'P' => (0, Some('\u{2029}')),
                        _ => return bail("unknown escape"),
                    };
                    let c = match special {
                        Some(c) => c,
                        None => {
                            let Some(hex) = s.get(i..i + len) else {
                                return bail("short escape");
                            };
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return bail("bad escape");
                            }
                            i += len;
                            let v =
                                u32::from_str_radix(std::str::from_utf8(hex).unwrap_or("x"), 16)
                                    .unwrap_or(u32::MAX);
                            match char::from_u32(v) {
                                Some(c) => c,
                                None => return bail("escape of no character"),
                            }
                        }
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// A single-quoted scalar on one line; its text only `if want` (else empty).
    pub(super) fn single_quoted(&self, at: usize, want: bool) -> R<String> {
        let s = &self.buf[at + 1..self.end];
        if !want {
            // Only the closing quote matters (the line is UTF-8 already).
            let mut i = 0;
            loop {
                match s.get(i) {
                    None => return bail("single-quoted scalar continued on the next line"),
                    Some(b'\'') if s.get(i + 1) == Some(&b'\'') => i += 2,
                    Some(b'\'') if i + 1 != s.len() => {
                        return bail("text after a single-quoted scalar")
                    }
                    Some(b'\'') => return Ok(String::new()),
                    Some(_) => i += 1,
                }
            }
        }
        let mut out: Vec<u8> = Vec::with_capacity(s.len());
        let mut i = 0;
        loop {
            match s.get(i) {
                None => return bail("single-quoted scalar continued on the next line"),
                Some(b'\'') if s.get(i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    i += 2;
                }
                Some(b'\'') => {
                    if i + 1 != s.len() {
                        return bail("text after a single-quoted scalar");
                    }
                    break;
                }
                Some(&b) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).or_else(|_| bail("invalid UTF-8"))
    }

    /// `|` or `>` (with `-` or `+`) of a node at column `n`. With `want_text`, only literal
    /// scalars with clip or strip chomping are read (the others are left to the full parser);
    /// without, any style is skipped.
    pub(super) fn block_scalar(&mut self, at: usize, n: usize, want_text: bool) -> R<Scalar> {
        let header = &self.buf[at..self.end];
        let literal = header[0] == b'|';
        let chomp = match &header[1..] {
            b"" => b' ',
            b"-" => b'-',
            b"+" => b'+',
            _ => return bail("block scalar header with an indentation indicator or comment"),
        };
        if want_text && (!literal || chomp == b'+') {
            return bail("folded or keep-chomped block scalar in a field that is read");
        }
        self.advance()?;
        if self.comment_before {
            return bail("comment line after a block scalar header");
        }
        if self.eof || self.indent <= n {
            // Empty: "" whatever the chomping (a trailing blank line would count for `+`).
            if want_text && self.blank_before > 0 {
                return bail("block scalar of blank lines");
            }
            return Ok(Scalar::Text(String::new()));
        }
        if want_text && self.blank_before > 0 {
            return bail("block scalar starting with blank lines");
        }
        let ci = self.indent;
        let mut text = String::new();
        let mut first = true;
        while !self.eof && self.indent > n {
            if self.indent < ci {
                return bail("block scalar line less indented than its first line");
            }
            if want_text {
                if self.blank_max > ci {
                    return bail("white space line in a block scalar");
                }
                if !first {
                    text.push('\n');
                }
                for _ in 0..self.blank_before {
                    text.push('\n');
                }
                if !self.newline {
                    // Clip chomping keeps a final line break only if there is one.
                    return bail("block scalar on the last line without a line break");
                }
                // The line with its trailing spaces, less the content indentation.
                text.push_str(std::str::from_utf8(&self.buf[ci..]).unwrap_or_default());
            }
            first = false;
            self.advance()?;
            if self.comment_before {
                return bail("comment line in or after a block scalar");
            }
        }
        if want_text && self.blank_max > ci {
            return bail("white space line at the end of a block scalar");
        }
        if chomp == b' ' {
            text.push('\n');
        }
        Ok(Scalar::Text(text))
    }
}
