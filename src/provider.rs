//! Provider `chartreg`: its configuration block and the wiring of the Terraform objects.
//!
//! The provider lists its objects from [`crate::resources::all`] and [`crate::data_sources::all`]
//! (the docs generator reads the same lists through [`ChartregProvider`]), and hands each of them
//! the [`Shared`] settings cell, which `ConfigureProvider` fills. What the provider block means
//! (defaults, checks, effective settings) is in [`crate::settings`]: the objects import that
//! module, never this one.

use std::collections::HashMap;

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::ValueEmpty;
use tf_provider::{map, Diagnostics, DynamicDataSource, DynamicResource, Provider};
use tokio_util::sync::CancellationToken;

use crate::schema_util::{attr, schema, C, T};
use crate::settings::{
    settings_from, validate_config, ProviderConfig, Shared, DEFAULT_MAX_CHART_SIZE,
    DEFAULT_MAX_INDEX_SIZE, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT, MAX_MAX_RETRIES,
    MIN_MAX_CHART_SIZE, MIN_MAX_INDEX_SIZE, REQUEST_TIMEOUT_RANGE,
};

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
    let (min_timeout, max_timeout) = REQUEST_TIMEOUT_RANGE;
    let timeout = DEFAULT_REQUEST_TIMEOUT.as_secs();
    schema(
        "The chartreg provider manages Helm chart registries (classic Helm repositories and OCI registries) as code: registrations are validated on create and their chart index is kept in state.",
        map! {
            "request_timeout" => attr(T::String, C::Optional, &format!("Timeout of each attempt of an HTTP request to a registry (connecting, sending and reading the whole answer), as a duration string (`\"60s\"`, `\"1m30s\"`, `\"500ms\"`). One request, all its retries and the waits between them included, ends within `(max_retries + 1) × request_timeout`; a `Retry-After` longer than `request_timeout` is not waited for. From `\"{min_timeout}\"` to `\"{max_timeout}\"`. Default `\"{timeout}s\"`.")),
            "max_retries" => attr(T::Number, C::Optional, &format!("How many times a request that failed for a transient reason (connection error or reset, timeout, answer cut short while it downloads, HTTP 408, 429 or 5xx except 501 and 505) is retried, after the wait the registry's `Retry-After` asks for, else an exponential back-off with jitter (0.1-0.2 s, doubling up to 10 s). Other failures (other 4xx, DNS, TLS trust, redirects to a scheme other than http and https) are not retried. A whole number from 0 to {MAX_MAX_RETRIES}. Default `{DEFAULT_MAX_RETRIES}`.")),
            "max_index_size" => attr(T::Number, C::Optional, &format!("Largest registry index accepted, in bytes (a whole number, at least {MIN_MAX_INDEX_SIZE}); a larger index is refused while it downloads. Default `{DEFAULT_MAX_INDEX_SIZE}` ({} MiB).", DEFAULT_MAX_INDEX_SIZE >> 20)),
            "max_chart_size" => attr(T::Number, C::Optional, &format!("Largest chart archive downloaded, in bytes (a whole number, at least {MIN_MAX_CHART_SIZE}): a Helm repository's `.tgz` or an OCI registry's chart layer, read by the data sources; a larger one is refused before or while it downloads and nothing of it is cached. Whatever this setting, a chart is refused as Helm refuses it when its files decompress to more than 100 MiB in all or 5 MiB each. Default `{DEFAULT_MAX_CHART_SIZE}` ({} MiB, Helm's limit on a decompressed chart).", DEFAULT_MAX_CHART_SIZE >> 20)),
            "cache_dir" => attr(T::String, C::Optional, "Directory where downloaded indexes, blobs and chart archives are cached by digest (each verified again before use). Default: `$XDG_CACHE_HOME/chartreg`, else `~/.cache/chartreg`.")
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
        Some(
            crate::resources::all()
                .into_iter()
                .map(|o| (o.name.to_string(), (o.new)(self.shared.clone())))
                .collect(),
        )
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(
            crate::data_sources::all()
                .into_iter()
                .map(|o| (o.name.to_string(), (o.new)(self.shared.clone())))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `get_resources` serves exactly the list the docs are generated from, and each object
    /// answers with the schema the list names.
    #[test]
    fn objects_come_from_the_one_list() {
        let p = ChartregProvider::default();
        let mut d = Diagnostics::default();
        let served = Provider::get_resources(&p, &mut d).unwrap();
        let listed = crate::resources::all();
        assert_eq!(served.len(), listed.len());
        for o in &listed {
            let r = &served[o.name];
            assert_eq!(r.schema(&mut d), Some((o.schema)()), "{}", o.name);
        }
        let served = Provider::get_data_sources(&p, &mut d).unwrap();
        let listed = crate::data_sources::all();
        assert_eq!(served.len(), listed.len());
        for o in &listed {
            let r = &served[o.name];
            assert_eq!(r.schema(&mut d), Some((o.schema)()), "{}", o.name);
        }
        assert!(d.errors.is_empty());
    }
}
