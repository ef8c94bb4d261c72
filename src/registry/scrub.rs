//! Server text fit for an error message: a registry's error body (or a parser's message quoting
//! its reply) is shown only after every secret the request carried has been removed.
//!
//! Why: some servers echo the request back in an error page (debug pages, misconfigured proxies,
//! token services that quote the login). Shown raw, that puts `Authorization: Basic …` — the
//! password in base64 — into the Terraform diagnostic and the logs. So an excerpt is built as:
//! 1. only the first [`SCAN_LIMIT`] bytes are looked at, cut back to a whole line when the body
//!    was longer (a secret cut in two cannot be recognised);
//! 2. every known secret is replaced, in every form a server is likely to echo: as is, base64
//!    (standard and URL-safe, with and without padding), percent-encoded (`%2F`, `%2f`, `+` for
//!    space) and JSON-escaped, matched without regard to ASCII case. Known secrets are the
//!    password, `user:password` (whose base64 is the Basic header) and the bearer tokens held;
//! 3. whatever looks like a credential we do not know is removed by shape: a line naming
//!    `authorization`, `cookie` or `password`, and the word after `Basic` / `Bearer`;
//! 4. control characters become spaces, white space is collapsed, the result is cut at
//!    [`EXCERPT_CHARS`] characters.
//!
//! A secret shorter than [`MIN_SECRET_LEN`] cannot be scrubbed without mangling the text: then
//! no body is shown at all.

use base64::Engine;

use crate::error::Error;
use crate::registry::http::Credentials;

/// Bytes of a body looked at for an excerpt.
pub const SCAN_LIMIT: usize = 8 * 1024;
/// Characters of server text shown at most.
pub const EXCERPT_CHARS: usize = 200;
/// Shorter secrets hide the whole body instead of being replaced.
pub const MIN_SECRET_LEN: usize = 4;

const REDACTED: &str = "[redacted]";

/// The secrets a request carried, in every form they are looked for. `Debug` shows none.
#[derive(Clone, Default)]
pub struct Secrets {
    forms: Vec<String>,
    /// A secret too short to be replaced safely: show no server text.
    hide_all: bool,
    /// Those short secrets (lower-case), for [`Secrets::reveals`].
    short: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} forms)", self.forms.len())
    }
}

fn percent_encode(s: &str, space_plus: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if space_plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Secrets {
    pub fn new() -> Self {
        Secrets::default()
    }

    /// A password (or any secret) in all its forms.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let b64url = base64::engine::general_purpose::URL_SAFE.encode(secret);
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or_default()
            .replace('/', "\\/");
        let forms = [
            secret.to_string(),
            b64.clone(),
            b64url.clone(),
            b64.trim_end_matches('=').to_string(),
            b64url.trim_end_matches('=').to_string(),
            percent_encode(secret, false),
            percent_encode(secret, true),
            json,
        ];
        for f in forms {
            self.push(f);
        }
    }

    /// The password, and `user:password` whose base64 is the Basic header.
    pub fn add_credentials(&mut self, c: &Credentials) {
        self.add(&c.password);
        if !c.password.is_empty() {
            self.add(&format!("{}:{}", c.username, c.password));
        }
    }

    /// A bearer token or similar opaque value: only its literal form is looked for (it is
    /// already made of URL- and header-safe characters).
    pub fn add_token(&mut self, token: &str) {
        self.push(token.to_string());
    }

    /// The value of an `Authorization` header we sent (`Basic …`, `Bearer …`, or anything).
    pub fn add_authorization(&mut self, value: &[u8]) {
        let Ok(v) = std::str::from_utf8(value) else {
            self.hide_all = true;
            return;
        };
        let v = v.trim();
        let token = match v.split_once(' ') {
            Some((_, t)) => t.trim(),
            None => v,
        };
        self.add_token(token.trim_end_matches('='));
        if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(token) {
                if let Ok(raw) = String::from_utf8(raw) {
                    self.add(&raw);
                    if let Some((_, password)) = raw.split_once(':') {
                        self.add(password);
                    }
                }
            }
        }
    }

    fn push(&mut self, form: String) {
        if form.is_empty() {
            return;
        }
        let lower = form.to_ascii_lowercase();
        if form.len() < MIN_SECRET_LEN {
            self.hide_all = true;
            if !self.short.contains(&lower) {
                self.short.push(lower);
            }
            return;
        }
        if !self.forms.contains(&lower) {
            self.forms.push(lower);
        }
    }

    /// Whether a short word from a server (an error code) contains a known secret, or is one
    /// of the short ones.
    pub fn reveals(&self, word: &str) -> bool {
        let lower = word.to_ascii_lowercase();
        self.forms.iter().any(|f| lower.contains(f.as_str())) || self.short.contains(&lower)
    }

    /// `text` with every known form replaced (ASCII case ignored) and credential-shaped words
    /// and lines removed. Not cut short: see [`Secrets::excerpt`].
    pub fn scrub(&self, text: &str) -> String {
        if self.hide_all {
            return REDACTED.to_string();
        }
        let mut forms: Vec<&String> = self.forms.iter().collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut text = text.to_string();
        for f in forms {
            text = replace_ascii_ci(&text, f, REDACTED);
        }
        let lines: Vec<String> = text
            .split(['\n', '\r'])
            .map(|line| redact_scheme_words(&redact_keyed(line)))
            .collect();
        lines.join("\n")
    }

    /// `e` with the server text it quotes scrubbed: a parser's message may quote the document
    /// (`invalid type: string "…"`), and the document may echo the request.
    pub fn scrub_error(&self, e: Error) -> Error {
        match e {
            Error::NotAnIndex { url, reason } => Error::NotAnIndex {
                url,
                reason: self.scrub(&reason),
            },
            Error::Protocol { url, detail } => Error::Protocol {
                url,
                detail: self.scrub(&detail),
            },
            Error::HttpStatus { url, status, body } => Error::HttpStatus {
                url,
                status,
                body: self.excerpt(body.as_bytes(), true),
            },
            other => other,
        }
    }

    /// What of a server's body may be shown: scrubbed, on one line, at most [`EXCERPT_CHARS`]
    /// characters; empty when nothing is left. `complete` is false when `body` is only the start
    /// of a longer body.
    pub fn excerpt(&self, body: &[u8], complete: bool) -> String {
        let mut body = &body[..body.len().min(SCAN_LIMIT)];
        if !complete || body.len() == SCAN_LIMIT {
            // Only whole lines: a secret cut at the end would not be recognised.
            body = match body.iter().rposition(|&b| b == b'\n') {
                Some(p) => &body[..p],
                None => &[],
            };
        }
        let text = String::from_utf8_lossy(body);
        let scrubbed = self.scrub(&text);
        let flat = scrubbed
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>();
        let mut out = String::new();
        for (i, word) in flat.split_whitespace().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        // Nothing but redactions says nothing.
        if out.split_whitespace().all(|w| w == REDACTED) {
            return String::new();
        }
        if out.chars().count() > EXCERPT_CHARS {
            out = out.chars().take(EXCERPT_CHARS).collect();
            out.push('…');
        }
        out
    }
}

/// Keys whose value is a credential, in headers (`Authorization: …`), JSON (`"password": …`)
/// or forms (`access_token=…`).
const KEYS: [&str; 6] = [
    "authorization",
    "cookie",
    "password",
    "passwd",
    "secret",
    "token",
];

/// A line with a credential key followed by `:` or `=` keeps the key and loses the rest:
/// `Authorization: Basic …` → `Authorization: [redacted]`. Prose ("wrong password") stays.
fn redact_keyed(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let cut = KEYS
        .iter()
        .flat_map(|k| lower.match_indices(k).map(move |(at, _)| at + k.len()))
        .filter(|&end| {
            let mut j = end;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'\t') {
                j += 1;
            }
            j < bytes.len() && matches!(bytes[j], b':' | b'=')
        })
        .min();
    match cut {
        Some(end) => format!("{}: {REDACTED}", &line[..end]),
        None => line.to_string(),
    }
}

/// Replace every occurrence of `needle` (lower-case ASCII or any UTF-8) in `text`, ignoring
/// ASCII case. `to_ascii_lowercase` keeps byte offsets, and UTF-8 matches always fall on
/// character boundaries, so ranges found in the lowered copy are valid in `text`.
fn replace_ascii_ci(text: &str, needle: &str, with: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(needle) {
        if at < last {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

/// `Basic <word>` / `Bearer <word>` (any case, after a non-alphanumeric) lose the word when it
/// looks like a credential (a digit or symbol in it, or 16 characters and more): "Basic
/// authentication required" stays.
fn redact_scheme_words(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let scheme = ["basic", "bearer"]
            .into_iter()
            .find(|s| starts_word && lower.as_bytes()[i..].starts_with(s.as_bytes()));
        if let Some(s) = scheme {
            let mut j = i + s.len();
            let spaces = j;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                j += 1;
            }
            let word = j;
            while j < bytes.len() && is_token68(bytes[j]) {
                j += 1;
            }
            let w = &bytes[word..j];
            let credential_like = w.len() >= 16 || w.iter().any(|b| !b.is_ascii_alphabetic());
            if word > spaces && j > word && credential_like {
                out.push_str(&line[copied..word]);
                out.push_str(REDACTED);
                copied = j;
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out.push_str(&line[copied..]);
    out
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=%".contains(&b)
}

/// A JSON parser's message without the values it quotes from the document (`string "…"`,
/// `` `…` ``): the document came from a server and may echo a secret.
pub fn json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let mut out = String::with_capacity(msg.len());
    let mut quote: Option<char> = None;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => {
                quote = Some(c);
                out.push('…');
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "robot".into(),
            password: "S3cr/t+p@ss=w0rd&x y".into(),
        }
    }

    fn secrets() -> Secrets {
        let mut s = Secrets::new();
        s.add_credentials(&creds());
        s
    }

    #[test]
    fn echoed_headers_lose_every_form() {
        let c = creds();
        let basic = c.basic_header();
        let b64 = basic.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let body = format!(
            "GET /index.yaml HTTP/1.1\nuser-agent: chartreg\nAuthorization: {}\nhost: x\n\
             debug: pw={} enc=S3cr%2Ft%2Bp%40ss%3Dw0rd%26x%20y form=S3cr%2ft%2bp%40ss%3dw0rd%26x+y raw={b64} {}",
            basic.to_str().unwrap(),
            c.password,
            c.password.to_uppercase(),
        );
        let e = secrets().excerpt(body.as_bytes(), true);
        assert!(!e.contains(b64.trim_end_matches('=')), "{e}");
        assert!(!e.to_ascii_lowercase().contains("s3cr"), "{e}");
        assert!(!e.contains("w0rd"), "{e}");
        assert!(
            e.starts_with(
                "GET /index.yaml HTTP/1.1 user-agent: chartreg Authorization: [redacted] host: x"
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_credentials_are_removed_by_shape() {
        let s = Secrets::new();
        assert_eq!(
            s.excerpt(
                b"denied: Bearer eyJhbGci.x-y_z= for basic  dXNlcjpwdw==, bearers ok",
                true
            ),
            "denied: Bearer [redacted] for basic [redacted], bearers ok"
        );
        assert_eq!(
            s.excerpt(b"HTTP Basic authentication required", true),
            "HTTP Basic authentication required"
        );
        assert_eq!(
            s.excerpt(b"Cookie: a=b\nfine", true),
            "Cookie: [redacted] fine"
        );
        assert_eq!(
            s.excerpt(
                br#"{"error":"invalid username or password","token" : "abc"}"#,
                true
            ),
            r#"{"error":"invalid username or password","token: [redacted]"#
        );
        assert_eq!(s.excerpt(b"[redacted]", true), "");
    }

    #[test]
    fn tokens_held_and_sent_headers() {
        let mut s = Secrets::new();
        s.add_token("tok-123456");
        s.add_authorization(creds().basic_header().as_bytes());
        let e = s.excerpt(
            br#"{"errors":[{"code":"UNKNOWN","message":"bad tok-123456 S3cr/t+p@ss=w0rd&x y"}]}"#,
            true,
        );
        assert!(!e.contains("tok-123456") && !e.contains("S3cr"), "{e}");
        assert!(e.contains("UNKNOWN"), "{e}");
    }

    #[test]
    fn short_secrets_hide_the_body() {
        let mut s = Secrets::new();
        s.add("pw");
        assert_eq!(s.excerpt(b"an error page mentioning pw", true), "");
        assert_eq!(s.scrub("a warning quoting pw"), REDACTED);
        assert!(s.reveals("PW") && !s.reveals("UNSUPPORTED"));
        let full = secrets();
        assert!(full.reveals("xS3CR/T+P@SS=W0RD&X Yx") && !full.reveals("NAME_UNKNOWN"));
    }

    #[test]
    fn cut_bodies_keep_whole_lines_only() {
        let s = secrets();
        let b64 = base64::engine::general_purpose::STANDARD.encode("robot:S3cr/t+p@ss=w0rd&x y");
        // The secret is cut by the end of what was read.
        let body = format!("first line\n{}", &b64[..10]);
        assert_eq!(s.excerpt(body.as_bytes(), false), "first line");
        let mut long = "x".repeat(SCAN_LIMIT - 5).into_bytes();
        long.extend_from_slice(b"\nsecret-ish tail");
        assert!(s.excerpt(&long, true).starts_with("xxx"));
        assert!(s.excerpt(&long, true).chars().count() <= EXCERPT_CHARS + 1);
    }

    #[test]
    fn plain_excerpts_are_kept_short_and_flat() {
        let s = secrets();
        assert_eq!(s.excerpt(b"  upstream\tdown \r\n ", true), "upstream down");
        assert_eq!(s.excerpt(b"", true), "");
        let long = "é".repeat(500);
        assert_eq!(
            s.excerpt(long.as_bytes(), true).chars().count(),
            EXCERPT_CHARS + 1
        );
    }

    #[test]
    fn hostile_text_never_panics() {
        // Pieces that exercise every branch, glued pseudo-randomly (deterministic LCG).
        let pieces = [
            "Basic ",
            "bearer\t",
            "BASIC",
            "é",
            "日本",
            "\u{0}",
            "\r\n",
            "\n",
            ":",
            "=",
            "\"",
            "'",
            "token",
            "Cookie",
            "password",
            "S3cr/t+p@ss=w0rd&x y",
            "%2F",
            "==",
            "[redacted]",
            " ",
            "\u{202e}",
            "\u{fffd}",
            "cm9ib3Q6",
        ];
        let s = secrets();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..(x % 40) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(pieces[(x >> 33) as usize % pieces.len()]);
            }
            let bytes = text.as_bytes();
            let complete = x.is_multiple_of(2);
            let cut = if complete {
                bytes.len()
            } else {
                (x as usize) % (bytes.len() + 1)
            };
            let e = s.excerpt(&bytes[..cut], complete);
            assert!(!e.contains("w0rd"), "{e}");
            assert!(e.chars().count() <= EXCERPT_CHARS + 1);
        }
    }

    #[test]
    fn errors_quoting_the_document_are_scrubbed() {
        let s = secrets();
        let e = s.scrub_error(Error::NotAnIndex {
            url: "http://h/index.yaml".into(),
            reason: "invalid YAML: invalid type: string \"S3cr/t+p@ss=w0rd&x y\", expected a map"
                .into(),
        });
        let m = e.to_string();
        assert!(!m.contains("S3cr"), "{m}");
        assert!(m.contains("expected a map"), "{m}");
    }

    #[test]
    fn json_errors_do_not_quote_the_document() {
        let e = serde_json::from_str::<Vec<String>>(r#""Basic c2VjcmV0""#).unwrap_err();
        let m = json_error(&e);
        assert!(!m.contains("c2VjcmV0"), "{m}");
        assert!(m.contains("line 1"), "{m}");
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: u8,
        }
        let e = serde_json::from_str::<S>(r#"{"hunter22": 1}"#).unwrap_err();
        assert!(!json_error(&e).contains("hunter22"), "{}", json_error(&e));
    }
}
