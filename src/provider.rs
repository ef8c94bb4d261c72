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

use crate::registry::cache::default_cache_dir;
use crate::registry::http::HttpSettings;
use crate::resources::{helm_registry::HelmRegistryResource, oci_registry::OciRegistryResource};
use crate::schema_util::{attr, schema, C, T};

/// The provider block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub request_timeout: Value<String>,
    pub max_retries: Value<i64>,
    pub max_index_size: Value<i64>,
    pub cache_dir: Value<String>,
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

/// Settings shared between the provider and its resources.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<RwLock<Settings>>);

impl Shared {
    pub fn get(&self) -> Settings {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }
    pub fn set(&self, s: Settings) {
        if let Ok(mut w) = self.0.write() {
            *w = s;
        }
    }
}

/// Parse a Go-style duration (`"60s"`, `"1m30s"`, `"500ms"`, `"2h"`).
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
    Ok(Duration::from_secs_f64(total))
}

pub const DEFAULT_MAX_INDEX_SIZE: i64 = 256 * 1024 * 1024;

/// Plan-time checks of the provider block; each error names its attribute.
pub fn validate_config(diags: &mut Diagnostics, c: &ProviderConfig) {
    if let Value::Value(t) = &c.request_timeout {
        match parse_duration(t) {
            Ok(d) if d.is_zero() => diags.error(
                "Invalid Request Timeout",
                "request_timeout must be longer than zero, e.g. \"60s\".",
                AttributePath::new("request_timeout"),
            ),
            Ok(_) => {}
            Err(e) => diags.error(
                "Invalid Request Timeout",
                format!("request_timeout: {e}."),
                AttributePath::new("request_timeout"),
            ),
        }
    }
    if let Value::Value(n) = c.max_retries {
        if !(0..=20).contains(&n) {
            diags.error(
                "Invalid Max Retries",
                format!("max_retries must be between 0 and 20, got {n}."),
                AttributePath::new("max_retries"),
            );
        }
    }
    if let Value::Value(n) = c.max_index_size {
        if n < 1024 {
            diags.error(
                "Invalid Max Index Size",
                format!("max_index_size is a size in bytes and must be at least 1024, got {n}."),
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
                .and_then(|t| parse_duration(t).ok())
                .unwrap_or(d.http.timeout),
            max_retries: c
                .max_retries
                .as_ref_option()
                .map_or(d.http.max_retries, |n| *n as u32),
            max_index_size: c
                .max_index_size
                .as_ref_option()
                .map_or(d.http.max_index_size, |n| *n as u64),
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
}

pub fn provider_schema() -> Schema {
    schema(
        "The chartreg provider manages Helm chart registries (classic Helm repositories and OCI registries) as code: registrations are validated on create and their chart index is kept in state.",
        map! {
            "request_timeout" => attr(T::String, C::Optional, "Timeout of each HTTP request to a registry, as a duration string (`\"60s\"`, `\"1m30s\"`, `\"500ms\"`). Default `\"60s\"`."),
            "max_retries" => attr(T::Number, C::Optional, "How many times a request that failed for a transient reason (connection error, timeout, HTTP 5xx or 429) is retried, with exponential back-off. Default `4`."),
            "max_index_size" => attr(T::Number, C::Optional, "Largest registry index accepted, in bytes; a larger index is refused while it downloads. Default `268435456` (256 MiB)."),
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
                max_retries: Value::Value(-1),
                ..Default::default()
            },
        );
        assert_eq!(d.errors.len(), 2);
        assert_eq!(d.errors[0].attribute, AttributePath::new("request_timeout"));
        assert_eq!(d.errors[1].attribute, AttributePath::new("max_retries"));
    }

    #[test]
    fn defaults() {
        let s = settings_from(&ProviderConfig::default());
        assert_eq!(s.http.timeout, Duration::from_secs(60));
        assert_eq!(s.http.max_retries, 4);
        assert_eq!(s.http.max_index_size, DEFAULT_MAX_INDEX_SIZE as u64);
    }
}
