//! Provider configuration → effective settings, below the provider and the Terraform objects.
//!
//! Why a module of its own: resources are built before Terraform sends `ConfigureProvider`, so
//! the provider and every object share the settings through one cell ([`Shared`]). Keeping that
//! cell, the provider block ([`ProviderConfig`]), its plan-time checks ([`validate_config`]) and
//! its defaults here lets `provider.rs` import the objects (to list them) while the objects import
//! only this module, never the provider.
//!
//! Every default of the provider block is written once, below: the `DEFAULT_*` constants, the
//! user's cache directory ([`default_cache_dir`]), and the `Default` of [`HttpSettings`] (the
//! registry clients' settings), which is implemented here so that `registry/` stays free of
//! Terraform types and of a second copy of the numbers. The schema descriptions in `provider.rs`
//! quote these constants.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use tokio_util::sync::CancellationToken;

use crate::registry::http::HttpSettings;

/// Default `request_timeout`: 60 s per request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Accepted range of `request_timeout`, and the same range as messages and docs write it.
pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(100);
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
pub const REQUEST_TIMEOUT_RANGE: (&str, &str) = ("100ms", "24h");
/// Default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
/// Largest `max_retries` accepted.
pub const MAX_MAX_RETRIES: u32 = 20;
/// Default `max_index_size`: 256 MiB.
pub const DEFAULT_MAX_INDEX_SIZE: u64 = 256 * 1024 * 1024;
/// Smallest `max_index_size` accepted, in bytes.
pub const MIN_MAX_INDEX_SIZE: u64 = 1024;
/// Default `max_chart_size`: 100 MiB, Helm's `MaxDecompressedChartSize` (a chart archive is
/// compressed, so one Helm can load is never larger).
pub const DEFAULT_MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Smallest `max_chart_size` accepted, in bytes.
pub const MIN_MAX_CHART_SIZE: u64 = 1024;

/// The user's cache directory for chartreg, the default `cache_dir`: `$XDG_CACHE_HOME/chartreg`,
/// else `~/.cache/chartreg`, else a directory under the system's temporary directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("chartreg");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".cache").join("chartreg");
    }
    std::env::temp_dir().join("chartreg-cache")
}

/// The provider's defaults, also what the registry clients' own tests run with.
impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_index_size: DEFAULT_MAX_INDEX_SIZE,
            max_chart_size: DEFAULT_MAX_CHART_SIZE,
            cancel: CancellationToken::new(),
        }
    }
}

/// The provider block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub request_timeout: Value<String>,
    pub max_retries: Value<Number>,
    pub max_index_size: Value<Number>,
    pub max_chart_size: Value<Number>,
    pub cache_dir: Value<String>,
}

/// A Terraform number as it arrives: an integer when it is one that fits in 64 bits, else a
/// float64 when exact (`2.5`, `1e20`), else a decimal string (`0.1`, `1e400`). Decoding any of
/// them never fails, so that validation can say on the attribute what is wrong (a whole-block
/// deserialization error otherwise).
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Number {
    /// The value when it is a whole number that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(n) => Some(*n),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Text(t) => t.parse().ok(),
        }
    }

    /// Whether the number has no fractional part (whatever its size).
    pub fn is_whole(&self) -> bool {
        match self {
            Number::Int(_) => true,
            Number::Float(f) => f.is_finite() && f.fract() == 0.0,
            // Terraform writes these in plain decimal notation; an exponent is parsed to be sure.
            Number::Text(t) if t.contains(['e', 'E']) => t
                .parse::<f64>()
                .is_ok_and(|f| f.is_infinite() || f.fract() == 0.0),
            Number::Text(t) => t
                .split_once('.')
                .is_none_or(|(_, frac)| frac.bytes().all(|b| b == b'0')),
        }
    }

    /// For messages: the value, or a description when it is too long to show.
    pub fn shown(&self) -> String {
        let s = match self {
            Number::Int(n) => n.to_string(),
            Number::Float(f) => f.to_string(),
            Number::Text(t) => t.clone(),
        };
        if s.len() > 24 {
            format!("a number of {} digits", s.len())
        } else {
            s
        }
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number::Int(n)
    }
}

impl Serialize for Number {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Number::Int(n) => s.serialize_i64(*n),
            Number::Float(f) => s.serialize_f64(*f),
            Number::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, n: i64) -> Result<Number, E> {
                Ok(Number::Int(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Number, E> {
                Ok(i64::try_from(n).map_or(Number::Float(n as f64), Number::Int))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Number, E> {
                Ok(Number::Float(f))
            }
            fn visit_str<E>(self, t: &str) -> Result<Number, E> {
                Ok(Number::Text(t.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Effective settings after defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http: HttpSettings,
    pub cache_dir: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings::default(),
            cache_dir: default_cache_dir(),
        }
    }
}

/// The settings cell shared by the provider and every Terraform object: written by
/// `ConfigureProvider`, read by an object each time it works (objects are built before the
/// provider is configured). Until then, and if the lock was ever poisoned, it reads the defaults.
/// It also holds the stop token: cancelled when Terraform stops the provider (see `serve.rs`), it
/// ends every HTTP request in flight.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    settings: Arc<RwLock<Settings>>,
    stop: CancellationToken,
}

impl Shared {
    /// The settings, with the stop token in `http.cancel`.
    pub fn get(&self) -> Settings {
        let mut s = self.settings.read().map(|s| s.clone()).unwrap_or_default();
        s.http.cancel = self.stop.clone();
        s
    }
    pub fn set(&self, s: Settings) {
        if let Ok(mut w) = self.settings.write() {
            *w = s;
        }
    }
    /// The token that cancels every request of this provider.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// Parse a Go-style duration (`"60s"`, `"1m30s"`, `"500ms"`, `"2h"`). Never panics: a value too
/// large for a [`Duration`] is an error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?} lacks a unit (use ms, s, m or h, e.g. \"60s\")"))?;
        if num_len == 0 {
            return Err(format!(
                "{s:?} is not a duration (e.g. \"60s\", \"1m30s\", \"500ms\")"
            ));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => {
                return Err(format!(
                    "{s:?} has an unknown unit {u:?} (use ms, s, m or h)"
                ))
            }
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("{s:?} is far too long"))
}

/// `request_timeout` as the provider accepts it: a duration within
/// [`MIN_REQUEST_TIMEOUT`]..=[`MAX_REQUEST_TIMEOUT`].
pub fn parse_request_timeout(s: &str) -> Result<Duration, String> {
    let (min, max) = REQUEST_TIMEOUT_RANGE;
    let range = format!("request_timeout must be between {min} and {max}");
    match parse_duration(s) {
        Ok(d) if (MIN_REQUEST_TIMEOUT..=MAX_REQUEST_TIMEOUT).contains(&d) => Ok(d),
        Ok(_) => Err(format!("{range}, got {s:?}")),
        Err(e) if e.ends_with("far too long") => Err(format!("{range}, got {s:?}")),
        Err(e) => Err(format!(
            "request_timeout: {e}; it must be between {min} and {max}"
        )),
    }
}

/// Plan-time checks of the provider block; each error names its attribute.
pub fn validate_config(diags: &mut Diagnostics, c: &ProviderConfig) {
    if let Value::Value(t) = &c.request_timeout {
        if let Err(e) = parse_request_timeout(t) {
            diags.error(
                "Invalid Request Timeout",
                format!("{e}."),
                AttributePath::new("request_timeout"),
            );
        }
    }
    if let Value::Value(n) = &c.max_retries {
        let msg = if !n.is_whole() {
            Some(format!(
                "max_retries is a count and must be a whole number between 0 and {MAX_MAX_RETRIES}, got {}.",
                n.shown()
            ))
        } else if !n
            .as_i64()
            .is_some_and(|n| (0..=i64::from(MAX_MAX_RETRIES)).contains(&n))
        {
            Some(format!(
                "max_retries must be between 0 and {MAX_MAX_RETRIES}, got {}.",
                n.shown()
            ))
        } else {
            None
        };
        if let Some(msg) = msg {
            diags.error(
                "Invalid Max Retries",
                msg,
                AttributePath::new("max_retries"),
            );
        }
    }
    size_setting(
        diags,
        &c.max_index_size,
        "max_index_size",
        MIN_MAX_INDEX_SIZE,
        "Invalid Max Index Size",
    );
    size_setting(
        diags,
        &c.max_chart_size,
        "max_chart_size",
        MIN_MAX_CHART_SIZE,
        "Invalid Max Chart Size",
    );
    if let Value::Value(d) = &c.cache_dir {
        if d.trim().is_empty() {
            diags.error(
                "Invalid Cache Directory",
                "cache_dir must not be empty; omit it to use the user's cache directory.",
                AttributePath::new("cache_dir"),
            );
        }
    }
}

/// The check of a size in bytes (`max_index_size`, `max_chart_size`): a whole number of at
/// least `min`, reported on `attr`.
fn size_setting(
    diags: &mut Diagnostics,
    value: &Value<Number>,
    attr: &'static str,
    min: u64,
    summary: &'static str,
) {
    let Value::Value(n) = value else {
        return;
    };
    let msg = if !n.is_whole() {
        Some(format!(
            "{attr} is a size in bytes and must be a whole number, got {}.",
            n.shown()
        ))
    } else {
        match n.as_i64() {
            Some(n) if n >= min as i64 => None,
            Some(n) => Some(format!(
                "{attr} is a size in bytes and must be at least {min}, got {n}."
            )),
            None => Some(format!(
                "{attr} is a size in bytes and must be at least {min} and at most {}, got {}.",
                i64::MAX,
                n.shown()
            )),
        }
    };
    if let Some(msg) = msg {
        diags.error(summary, msg, AttributePath::new(attr));
    }
}

/// A validated size setting, or `default`.
fn size_from(value: &Value<Number>, min: u64, default: u64) -> u64 {
    value
        .as_ref_option()
        .and_then(Number::as_i64)
        .map_or(default, |n| n.max(min as i64) as u64)
}

/// Effective settings from a validated configuration.
pub fn settings_from(c: &ProviderConfig) -> Settings {
    let d = Settings::default();
    Settings {
        http: HttpSettings {
            timeout: c
                .request_timeout
                .as_ref_option()
                .and_then(|t| parse_request_timeout(t).ok())
                .unwrap_or(d.http.timeout),
            max_retries: c
                .max_retries
                .as_ref_option()
                .and_then(Number::as_i64)
                .map_or(d.http.max_retries, |n| {
                    n.clamp(0, i64::from(MAX_MAX_RETRIES)) as u32
                }),
            max_index_size: size_from(&c.max_index_size, MIN_MAX_INDEX_SIZE, d.http.max_index_size),
            max_chart_size: size_from(&c.max_chart_size, MIN_MAX_CHART_SIZE, d.http.max_chart_size),
            ..d.http
        },
        cache_dir: c
            .cache_dir
            .as_ref_option()
            .map_or(d.cache_dir, PathBuf::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn validation_names_the_attribute() {
        let mut d = Diagnostics::default();
        validate_config(
            &mut d,
            &ProviderConfig {
                request_timeout: Value::Value("soon".into()),
                max_retries: Value::Value(Number::Int(-1)),
                ..Default::default()
            },
        );
        assert_eq!(d.errors.len(), 2);
        assert_eq!(d.errors[0].attribute, AttributePath::new("request_timeout"));
        assert_eq!(d.errors[1].attribute, AttributePath::new("max_retries"));
    }

    #[test]
    fn request_timeout_range() {
        for bad in [
            "999999999999999999999h",
            &format!("{}s", "9".repeat(400)),
            "25h",
            "0s",
            "1ns",
            "99ms",
        ] {
            let e = parse_request_timeout(bad).unwrap_err();
            assert!(e.contains("between 100ms and 24h"), "{bad}: {e}");
        }
        assert_eq!(
            parse_request_timeout("24h").unwrap(),
            Duration::from_secs(86400)
        );
        assert_eq!(
            parse_request_timeout("100ms").unwrap(),
            Duration::from_millis(100)
        );
        assert!(parse_request_timeout("soon")
            .unwrap_err()
            .contains("not a duration"));
    }

    #[test]
    fn numbers_decode_whatever_terraform_sends() {
        let v: Value<Number> = serde_json::from_str("2.5").unwrap();
        assert_eq!(v, Value::Value(Number::Float(2.5)));
        let v: Value<Number> = serde_json::from_str("3").unwrap();
        assert_eq!(v, Value::Value(Number::Int(3)));
        let v: Value<Number> = serde_json::from_str("\"0.1\"").unwrap();
        assert_eq!(v, Value::Value(Number::Text("0.1".into())));
        let v: Value<Number> = serde_json::from_str("null").unwrap();
        assert_eq!(v, Value::Null);
        let v: Value<Number> = serde_json::from_str("18446744073709551615").unwrap();
        assert!(matches!(v, Value::Value(Number::Float(_))));
        assert!(Number::Text("1000".into()).is_whole());
        assert!(Number::Text("10.00".into()).is_whole());
        assert!(!Number::Text("0.1".into()).is_whole());
        assert!(Number::Text("1e400".into()).is_whole());
        assert_eq!(Number::Text("1".repeat(30)).as_i64(), None);
    }

    #[test]
    fn numbers_are_checked_on_their_attribute() {
        let cases: [(Number, Number, usize); 4] = [
            (Number::Float(2.5), Number::Int(4096), 1),
            (Number::Int(2), Number::Float(1e20), 1),
            (Number::Text("0.1".into()), Number::Text("1".repeat(401)), 2),
            (Number::Int(2), Number::Float(4096.0), 0),
        ];
        for (retries, size, errors) in cases {
            let mut d = Diagnostics::default();
            let c = ProviderConfig {
                max_retries: Value::Value(retries.clone()),
                max_index_size: Value::Value(size.clone()),
                ..Default::default()
            };
            validate_config(&mut d, &c);
            assert_eq!(
                d.errors.len(),
                errors,
                "{retries:?} {size:?}: {:?}",
                d.errors
            );
            for e in &d.errors {
                assert_ne!(e.attribute, AttributePath::root());
            }
            if errors == 0 {
                let s = settings_from(&c);
                assert_eq!((s.http.max_retries, s.http.max_index_size), (2, 4096));
            }
        }
    }

    #[test]
    fn defaults() {
        let s = settings_from(&ProviderConfig::default());
        assert_eq!(s.http.timeout, Duration::from_secs(60));
        assert_eq!(s.http.max_retries, 4);
        assert_eq!(s.http.max_index_size, DEFAULT_MAX_INDEX_SIZE);
        assert_eq!(s.http.max_chart_size, DEFAULT_MAX_CHART_SIZE);
    }

    #[test]
    fn max_chart_size_is_checked_on_its_attribute() {
        for (n, ok) in [
            (Number::Int(1023), false),
            (Number::Float(2048.5), false),
            (Number::Text("1".repeat(30)), false),
            (Number::Int(1024), true),
            (Number::Int(5 << 20), true),
        ] {
            let c = ProviderConfig {
                max_chart_size: Value::Value(n.clone()),
                ..Default::default()
            };
            let mut d = Diagnostics::default();
            validate_config(&mut d, &c);
            assert_eq!(d.errors.is_empty(), ok, "{n:?}: {:?}", d.errors);
            if ok {
                assert_eq!(
                    settings_from(&c).http.max_chart_size,
                    n.as_i64().unwrap() as u64
                );
            } else {
                assert_eq!(d.errors[0].summary, "Invalid Max Chart Size");
                assert_eq!(d.errors[0].attribute, AttributePath::new("max_chart_size"));
            }
        }
    }
}
