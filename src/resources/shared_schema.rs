//! The attributes both registry resources have, built once: names, types, constraints and
//! sensitivity are written here only, and each resource supplies the words that differ (a Helm
//! repository keeps an *index* it *downloads*, an OCI registry a *catalog* it *lists*).

use std::collections::HashMap;

use tf_provider::schema::Attribute;

use crate::resources::chart_state;
use crate::schema_util::{attr, secret, C, T};

/// What a registry resource says where the shared attributes' descriptions differ.
pub struct Wording {
    /// What `endpoint` designates, singular and plural: `repository`, `repositories`.
    pub registry: &'static str,
    pub registries: &'static str,
    /// What is kept in state (`index`), and how it was obtained at registration (`downloaded`).
    pub index: &'static str,
    pub obtained: &'static str,
    /// What a `sync_trigger` change does on the next apply (`downloads the index`).
    pub resync: &'static str,
    /// Description of `endpoint`.
    pub endpoint: &'static str,
    /// First sentence of `username`'s description (the pairing rule with `password` follows).
    pub username: &'static str,
    /// Description of `password`.
    pub password: &'static str,
    /// The description of `charts` (one chart is a [`chart_state::chart_type`]).
    pub charts: &'static str,
    pub chart_count: &'static str,
    pub version_count: &'static str,
    /// Name and description of the digest of what is in state (`index_digest`).
    pub digest: (&'static str, &'static str),
    pub last_synced: &'static str,
}

/// The attributes of every registry resource; a resource adds its own to the map.
pub fn shared_attributes(w: Wording) -> HashMap<String, Attribute> {
    let Wording {
        registry,
        registries,
        index,
        obtained,
        resync,
        ..
    } = w;
    let attrs = [
        ("id", attr(T::String, C::Computed, "Identifier of the registration: the `name`.")),
        ("name", attr(T::String, C::Required, "Name of the registration: 1 to 63 lower-case letters, digits, `-`, `_` and `.`. Changing it replaces the resource.")),
        ("endpoint", attr(T::String, C::Required, w.endpoint)),
        ("synchronization", attr(T::Bool, C::OptionalComputed, &format!("Refresh the chart {index} on every read (default `true`). With `false` the {index} {obtained} at registration (and at each `sync_trigger` change) is used and no request is made at plan time."))),
        ("sync_trigger", attr(T::String, C::Optional, &format!("Any value; changing it {resync} again on the next apply (a manual re-sync)."))),
        ("username", attr(T::String, C::Optional, &format!("{} Set together with `password`, both non-empty, or neither (or both empty) for anonymous access: like Helm, chartreg sends no credentials when either is empty, so one empty and the other set is refused at plan.", w.username))),
        ("password", secret(T::String, C::Optional, w.password)),
        ("ca_certificate", attr(T::String, C::Optional, &format!("PEM bundle of CA certificates trusted for this {registry} besides the system roots."))),
        ("insecure_skip_tls_verify", attr(T::Bool, C::OptionalComputed, &format!("Skip TLS certificate verification (default `false`); for test {registries} only."))),
        ("charts", attr(T::Map(Box::new(chart_state::chart_type())), C::Computed, w.charts)),
        ("chart_count", attr(T::Number, C::Computed, w.chart_count)),
        ("version_count", attr(T::Number, C::Computed, w.version_count)),
        (w.digest.0, attr(T::String, C::Computed, w.digest.1)),
        ("catalog_snapshot", attr(T::String, C::Computed, &format!("Internal: every chart version of the {index} (version, digest, download URLs or OCI reference, app version, creation time, deprecation, description, keywords) as one compressed, versioned string, read by the `chartreg_helm_chart` and `chartreg_helm_charts` data sources through the `registry` reference. Its format may change in any release; do not parse it. Unknown in a plan that re-reads the {registry}, unchanged when the {index} is."))),
        ("last_synced", attr(T::String, C::Computed, w.last_synced)),
    ];
    attrs.into_iter().map(|(k, a)| (k.to_string(), a)).collect()
}
