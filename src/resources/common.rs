//! What the registry resources share: plan-time checks of common attributes, defaults, and the
//! client settings built from them. The chart state is [`super::chart_state`]; planning is
//! [`super::plan`].

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::registry::http::{Credentials, TlsOptions};

/// A required attribute must not be `null` (Terraform lets `name = null` or a null variable
/// through to the provider): refused on the attribute.
pub fn validate_required<T>(
    diags: &mut Diagnostics,
    value: &Value<T>,
    attr: &'static str,
    summary: &'static str,
) {
    if value.is_null() {
        diags.error(
            summary,
            format!("{attr} is required and must not be null."),
            AttributePath::new(attr),
        );
    }
}

/// Check a registry name: lower-case letters, digits, `-`, `_` and `.`, starting and ending with a
/// letter or digit, at most 63 characters (it names cache directories and state IDs). `null` is
/// refused; unknown is checked later.
pub fn validate_name(diags: &mut Diagnostics, name: &Value<String>) {
    validate_required(diags, name, "name", "Missing Registry Name");
    let Value::Value(n) = name else { return };
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric();
    if !ok {
        diags.error(
            "Invalid Registry Name",
            format!("name {n:?} must be 1 to 63 characters of lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit."),
            AttributePath::new("name"),
        );
    }
}

/// Username and password go together, both non-empty: Helm sends basic credentials only when
/// both are non-empty, and so does chartreg ([`credentials`]). One empty while the other is set
/// would silently mean anonymous access, so it is refused on the empty one; both empty (or both
/// null) is anonymous access. One left out or empty is the same problem, with the same summary
/// (`Missing Password`, `Missing Username`); the detail says which.
pub fn validate_credentials(
    diags: &mut Diagnostics,
    username: &Value<String>,
    password: &Value<String>,
) {
    match (username, password) {
        (Value::Value(u), Value::Null) if !u.is_empty() => diags.error(
            "Missing Password",
            "username is set but password is not: set both, or neither for anonymous access.",
            AttributePath::new("username"),
        ),
        (Value::Null, Value::Value(p)) if !p.is_empty() => diags.error(
            "Missing Username",
            "password is set but username is not: set both, or neither for anonymous access.",
            AttributePath::new("password"),
        ),
        (Value::Value(u), _) if u.contains(':') => diags.error(
            "Invalid Username",
            "username must not contain ':' (HTTP basic authentication cannot carry it).",
            AttributePath::new("username"),
        ),
        (Value::Value(u), Value::Value(p)) if u.is_empty() && !p.is_empty() => diags.error(
            "Missing Username",
            "username is empty but password is set: with an empty username no credentials are sent (as Helm sends none). Set both, or neither for anonymous access.",
            AttributePath::new("username"),
        ),
        (Value::Value(u), Value::Value(p)) if !u.is_empty() && p.is_empty() => diags.error(
            "Missing Password",
            "password is empty but username is set: with an empty password no credentials are sent (as Helm sends none). Set both, or neither for anonymous access.",
            AttributePath::new("password"),
        ),
        _ => {}
    }
}

/// `ca_certificate` must be a PEM bundle of at least one X.509 certificate.
pub fn validate_pem(diags: &mut Diagnostics, pem: &Value<String>) {
    let Value::Value(p) = pem else { return };
    if let Err(e) = check_pem(p) {
        diags.error(
            "Invalid CA Certificate",
            format!("ca_certificate: {e}."),
            AttributePath::new("ca_certificate"),
        );
    }
}

/// Parse every certificate of a PEM bundle. Messages name the certificate that is wrong (counted
/// in the order of the bundle) and what a user can do about it; parser internals (DER tags, nom
/// errors) only go to the debug log.
pub fn check_pem(p: &str) -> Result<usize, String> {
    use x509_parser::error::PEMError;
    let mut count = 0;
    for pem in x509_parser::pem::Pem::iter_from_buffer(p.as_bytes()) {
        let n = count + 1;
        let pem = pem.map_err(|e| match e {
            PEMError::Base64DecodeError => format!("certificate {n} is not a PEM certificate: the lines between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- are not valid base64 (was it cut or altered? use the whole PEM file)"),
            PEMError::IncompletePEM => format!("certificate {n} is cut short: it has no -----END CERTIFICATE----- line"),
            PEMError::InvalidHeader | PEMError::MissingHeader => format!("certificate {n} is not a PEM certificate: its -----BEGIN CERTIFICATE----- line is malformed"),
            PEMError::IOError(_) => format!("certificate {n} cannot be read"),
        })?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        if let Err(e) = pem.parse_x509() {
            tracing::debug!(certificate = n, error = %e, "ca_certificate does not parse");
            return Err(format!("certificate {n} is not a valid X.509 certificate: its content is damaged or is not a certificate (export the CA certificate again in PEM form)"));
        }
        count += 1;
    }
    if count == 0 {
        if p.contains("-----BEGIN CERTIFICATE-----") {
            return Err("no PEM certificate found: the -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- lines must start at the beginning of a line (no indentation)".into());
        }
        return Err("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)".into());
    }
    Ok(count)
}

/// The credentials to send: both non-empty, as Helm requires, else none (anonymous).
pub fn credentials(username: &Value<String>, password: &Value<String>) -> Option<Credentials> {
    match (username, password) {
        (Value::Value(u), Value::Value(p)) if !u.is_empty() && !p.is_empty() => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    }
}

pub fn tls(ca: &Value<String>, insecure: &Value<bool>) -> TlsOptions {
    TlsOptions {
        ca_pem: ca.as_ref_option().cloned(),
        insecure_skip_verify: matches!(insecure, Value::Value(true)),
    }
}

/// Value of an optional attribute with a default: the configured value, else the default.
pub fn with_default<T: Clone>(config: &Value<T>, default: T) -> Value<T> {
    match config {
        Value::Null => Value::Value(default),
        v => v.clone(),
    }
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Report the checks of an imported registration as errors of the import ID. The resources run
/// their own `validate` on the state an import ID describes (the very checks a configuration
/// gets, so import and plan cannot drift) and pass its diagnostics here. Returns whether the ID
/// passed.
pub fn import_checks(diags: &mut Diagnostics, checked: Diagnostics) -> bool {
    let ok = checked.errors.is_empty();
    for e in checked.errors {
        // The attribute the check is about, as the ID's part cannot be quoted like a
        // configuration line: `Invalid Base Content Path (base_content_paths[1]): …`.
        let at = if e.attribute.steps.is_empty() {
            String::new()
        } else {
            format!(" ({})", e.attribute)
        };
        diags.root_error(
            "Invalid Import ID",
            format!("{}{at}: {}", e.summary, e.detail),
        );
    }
    for w in checked.warnings {
        diags.root_warning(w.summary, w.detail);
    }
    ok
}

/// Split an import ID `NAME=ENDPOINT`.
pub fn split_import_id(id: &str) -> Option<(String, String)> {
    let (n, e) = id.split_once('=')?;
    let (n, e) = (n.trim(), e.trim());
    (!n.is_empty() && !e.is_empty()).then(|| (n.to_string(), e.to_string()))
}

/// Destroy of a registry resource: its cached files go (a refusal of the cache wall or an I/O
/// error is a warning: the registration is forgotten all the same).
pub fn forget_registry(
    diags: &mut Diagnostics,
    shared: &crate::settings::Shared,
    class: &str,
    name: &str,
    kind: &str,
) {
    let cache_dir = shared.get().cache_dir;
    if let Err(e) = crate::registry::cache::Cache::remove_registry(&cache_dir, class, name) {
        diags.root_warning(
            "Chart Cache Not Removed",
            format!(
                "{e}. The registration is forgotten; its cached files, if any, are left in place."
            ),
        );
    }
    tracing::info!(registry = %name, "{kind} forgotten");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["stable", "a", "my-repo.v2", "x_1"] {
            let mut d = Diagnostics::default();
            validate_name(&mut d, &Value::Value(ok.into()));
            assert!(d.errors.is_empty(), "{ok}");
        }
        for bad in ["", "Stable", "-x", "x-", "a/b", "a b", &"x".repeat(64)] {
            let mut d = Diagnostics::default();
            validate_name(&mut d, &Value::Value(bad.into()));
            assert_eq!(d.errors.len(), 1, "{bad}");
            assert_eq!(d.errors[0].attribute, AttributePath::new("name"));
        }
        let mut d = Diagnostics::default();
        validate_name(&mut d, &Value::Unknown);
        assert!(d.errors.is_empty());
    }

    #[test]
    fn credential_pairs() {
        let mut d = Diagnostics::default();
        // The error sits on the attribute that is written, so Terraform quotes that line.
        validate_credentials(&mut d, &Value::Value("u".into()), &Value::Null);
        assert_eq!(d.errors[0].attribute, AttributePath::new("username"));
        let mut d = Diagnostics::default();
        validate_credentials(&mut d, &Value::Null, &Value::Value("p".into()));
        assert_eq!(d.errors[0].attribute, AttributePath::new("password"));
        let mut d = Diagnostics::default();
        validate_credentials(&mut d, &Value::Value("u".into()), &Value::Unknown);
        assert!(d.errors.is_empty());
    }

    #[test]
    fn null_required_attributes() {
        let mut d = Diagnostics::default();
        validate_name(&mut d, &Value::Null);
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].attribute, AttributePath::new("name"));
        assert!(d.errors[0].detail.contains("null"));
        let mut d = Diagnostics::default();
        validate_required(
            &mut d,
            &Value::<String>::Null,
            "endpoint",
            "Missing Endpoint",
        );
        assert_eq!(d.errors[0].attribute, AttributePath::new("endpoint"));
        for v in [Value::Unknown, Value::Value(String::new())] {
            let mut d = Diagnostics::default();
            validate_required(&mut d, &v, "endpoint", "Missing Endpoint");
            assert!(d.errors.is_empty());
        }
    }

    #[test]
    fn empty_credentials() {
        let v = |s: &str| Value::Value(s.to_string());
        let check = |u: &Value<String>, p: &Value<String>| {
            let mut d = Diagnostics::default();
            validate_credentials(&mut d, u, p);
            d.errors
                .iter()
                .map(|e| e.attribute.clone())
                .collect::<Vec<_>>()
        };
        // One empty, the other set: refused on the empty one, never echoing the password.
        assert_eq!(
            check(&v(""), &v("pw")),
            vec![AttributePath::new("username")]
        );
        assert_eq!(
            check(&v("ci"), &v("")),
            vec![AttributePath::new("password")]
        );
        let mut d = Diagnostics::default();
        validate_credentials(&mut d, &v(""), &v("s3cret"));
        assert!(!d.errors[0].detail.contains("s3cret"));
        // Both empty, both null, or one of them empty and the other null: anonymous access.
        for (u, p) in [
            (v(""), v("")),
            (Value::Null, Value::Null),
            (v(""), Value::Null),
            (Value::Null, v("")),
            (v("ci"), v("pw")),
            (Value::Unknown, v("")),
            (v(""), Value::Unknown),
        ] {
            assert!(check(&u, &p).is_empty(), "{u:?} {p:?}");
        }
        // What is sent: both non-empty, as Helm does, else nothing.
        assert!(credentials(&v("ci"), &v("pw")).is_some());
        assert!(credentials(&v("ci"), &v("")).is_none());
        assert!(credentials(&v(""), &v("pw")).is_none());
    }

    #[test]
    fn import_checks_become_id_errors() {
        let mut checked = Diagnostics::default();
        validate_name(&mut checked, &Value::Value("../..".into()));
        let mut d = Diagnostics::default();
        assert!(!import_checks(&mut d, checked));
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].summary, "Invalid Import ID");
        assert_eq!(d.errors[0].attribute, AttributePath::default());
        assert!(d.errors[0]
            .detail
            .starts_with("Invalid Registry Name (name): name \"../..\""));
        assert!(import_checks(&mut d, Diagnostics::default()));
    }

    #[test]
    fn pem() {
        assert!(check_pem("hello").is_err());
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }

    #[test]
    fn pem_messages_say_what_to_fix() {
        let garbage =
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        let cases = [
            (garbage.to_string(), "certificate 1 is not a valid X.509"),
            (
                "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".into(),
                "certificate 1 is not a PEM certificate",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n".into(),
                "certificate 1 is cut short",
            ),
            (
                format!("  {garbage}"),
                "must start at the beginning of a line",
            ),
        ];
        for (pem, says) in cases {
            let e = check_pem(&pem).unwrap_err();
            assert!(e.contains(says), "{pem:?}: {e}");
            let lower = e.to_ascii_lowercase();
            assert!(
                !lower.contains("der ") && !lower.contains("nom") && !lower.contains("parsing"),
                "{e}"
            );
        }
    }

    #[test]
    fn import_ids() {
        assert_eq!(
            split_import_id("stable=https://h/x?a=b"),
            Some(("stable".into(), "https://h/x?a=b".into()))
        );
        assert_eq!(split_import_id("stable"), None);
    }
}
