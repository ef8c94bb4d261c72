//! Provider `chartreg`: configuration block, validation, and the wiring of resources and data
//! sources. Resources are built before `ConfigureProvider`, so they share the settings through
//! [`Shared`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};
use tokio_util::sync::CancellationToken;

use crate::registry::cache::default_cache_dir;
use crate::registry::http::HttpSettings;
use crate::resources::{helm_registry::HelmRegistryResource, oci_registry::OciRegistryResource};
use crate::schema_util::{attr, schema, C, T};

/// The provider block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub request_timeout: Value<String>,
    pub max_retries: Value<Number>,
    pub max_index_size: Value<Number>,
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

/// Settings shared between the provider and its resources, and the stop token: cancelled when
/// Terraform stops the provider (see `serve.rs`), it ends every HTTP request in flight.
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

/// Accepted range of `request_timeout` (also in the schema description).
pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(100);
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

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
    let range = "request_timeout must be between 100ms and 24h";
    match parse_duration(s) {
        Ok(d) if (MIN_REQUEST_TIMEOUT..=MAX_REQUEST_TIMEOUT).contains(&d) => Ok(d),
        Ok(_) => Err(format!("{range}, got {s:?}")),
        Err(e) if e.ends_with("far too long") => Err(format!("{range}, got {s:?}")),
        Err(e) => Err(format!(
            "request_timeout: {e}; it must be between 100ms and 24h"
        )),
    }
}

pub const DEFAULT_MAX_INDEX_SIZE: i64 = 256 * 1024 * 1024;

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
                "max_retries is a count and must be a whole number between 0 and 20, got {}.",
                n.shown()
            ))
        } else if !n.as_i64().is_some_and(|n| (0..=20).contains(&n)) {
            Some(format!(
                "max_retries must be between 0 and 20, got {}.",
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
    if let Value::Value(n) = &c.max_index_size {
        let msg = if !n.is_whole() {
            Some(format!(
                "max_index_size is a size in bytes and must be a whole number, got {}.",
                n.shown()
            ))
        } else {
            match n.as_i64() {
                Some(n) if n >= 1024 => None,
                Some(n) => Some(format!("max_index_size is a size in bytes and must be at least 1024, got {n}.")),
                None => Some(format!("max_index_size is a size in bytes and must be at least 1024 and at most {}, got {}.", i64::MAX, n.shown())),
            }
        };
        if let Some(msg) = msg {
            diags.error(
                "Invalid Max Index Size",
                msg,
                AttributePath::new("max_index_size"),
            );
        }
    }
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
                .map_or(d.http.max_retries, |n| n.clamp(0, 20) as u32),
            max_index_size: c
                .max_index_size
                .as_ref_option()
                .and_then(Number::as_i64)
                .map_or(d.http.max_index_size, |n| n.max(1024) as u64),
            ..d.http
        },
        cache_dir: c
            .cache_dir
            .as_ref_option()
            .map_or(d.cache_dir, PathBuf::from),
    }
}

#[derive(Default)]
pub struct ChartregProvider {
    shared: Shared,
}

impl ChartregProvider {
    pub fn shared(&self) -> Shared {
        self.shared.clone()
    }
    /// Cancel it when Terraform stops the provider: every request in flight ends at once.
    pub fn stop_token(&self) -> CancellationToken {
        self.shared.stop_token()
    }
}

pub fn provider_schema() -> Schema {
    schema(
        "The chartreg provider manages Helm chart registries (classic Helm repositories and OCI registries) as code: registrations are validated on create and their chart index is kept in state.",
        map! {
            "request_timeout" => attr(T::String, C::Optional, "Timeout of each attempt of an HTTP request to a registry (connecting, sending and reading the whole answer), as a duration string (`\"60s\"`, `\"1m30s\"`, `\"500ms\"`). One request, all its retries and the waits between them included, ends within `(max_retries + 1) × request_timeout`; a `Retry-After` longer than `request_timeout` is not waited for. From `\"100ms\"` to `\"24h\"`. Default `\"60s\"`."),
            "max_retries" => attr(T::Number, C::Optional, "How many times a request that failed for a transient reason (connection error or reset, timeout, answer cut short while it downloads, HTTP 408, 429 or 5xx except 501 and 505) is retried, after the wait the registry's `Retry-After` asks for, else an exponential back-off with jitter (0.1-0.2 s, doubling up to 10 s). Other failures (other 4xx, DNS, TLS trust, redirects to a scheme other than http and https) are not retried. A whole number from 0 to 20. Default `4`."),
            "max_index_size" => attr(T::Number, C::Optional, "Largest registry index accepted, in bytes (a whole number, at least 1024); a larger index is refused while it downloads. Default `268435456` (256 MiB)."),
            "cache_dir" => attr(T::String, C::Optional, "Directory where downloaded indexes and blobs are cached by digest. Default: `$XDG_CACHE_HOME/chartreg`, else `~/.cache/chartreg`.")
        },
    )
}

#[async_trait]
impl Provider for ChartregProvider {
    type Config<'a> = Option<ProviderConfig>;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(provider_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::Config<'a>) -> Option<()> {
        if let Some(c) = config {
            validate_config(diags, &c);
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let c = config.unwrap_or_default();
        validate_config(diags, &c);
        if !diags.errors.is_empty() {
            return None;
        }
        let s = settings_from(&c);
        tracing::info!(%terraform_version, timeout = ?s.http.timeout, max_retries = s.http.max_retries, "provider configured");
        self.shared.set(s);
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "helm_registry" => HelmRegistryResource::new(self.shared.clone()),
            "oci_registry" => OciRegistryResource::new(self.shared.clone())
        })
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        // `helm_chart` and `helm_charts` plug in here.
        Some(HashMap::new())
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
        assert_eq!(s.http.max_index_size, DEFAULT_MAX_INDEX_SIZE as u64);
    }
}
