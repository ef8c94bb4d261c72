//! The `registry` attribute of the data sources: a whole `chartreg_helm_registry` or
//! `chartreg_oci_registry` object, given by reference (`registry = chartreg_helm_registry.stable`)
//! so that endpoint and credentials are never typed twice.
//!
//! Why it decodes into the resources' own state types: the registry clients a data source uses
//! must be built exactly as the resource that registered the registry builds them (same endpoint
//! parsing, same credentials rule, same TLS settings, same base paths). [`decode`] recognises the
//! object by its type (the attribute names of a resource schema: a `terraform_data`, a string or a
//! map is refused with an error on `registry`), deserializes its value into
//! [`HelmRegistryState`] or [`OciRegistryState`], and takes the client inputs from the resource's
//! [`RegistryPlan::client_inputs`], the very function its own plans and reads use.
//!
//! The attribute is sensitive (the object holds the password) and nothing of it is copied into
//! other attributes except derived public values ([`RegistryRef::repository_url`]: no userinfo, no
//! query string).

use std::collections::{BTreeMap, BTreeSet};

use tf_provider::schema::Attribute;
use tf_provider::{AttributePath, Diagnostics};

use crate::data_sources::dynamic::Dynamic;
use crate::registry::cache::Cache;
use crate::registry::helm_index::HelmRepo;
use crate::registry::http::{Credentials, HttpSettings, TlsOptions};
use crate::registry::oci::OciClient;
use crate::registry::snapshot::{Kind, Snapshot, SnapshotError};
use crate::resources::chart_state::ChartState;
use crate::resources::helm_registry::{self, HelmRegistryState};
use crate::resources::oci_registry::{self, OciFetch, OciRegistryState};
use crate::resources::plan::{NotReady, RegistryPlan};
use crate::schema_util::{secret, C, T};

/// The attribute every data source reading a registry has.
pub const ATTRIBUTE: &str = "registry";

/// Name of the computed attribute holding the encoded [`Snapshot`] in both registry resources.
pub const SNAPSHOT_ATTRIBUTE: &str = "catalog_snapshot";

/// The schema of `registry`: dynamic, required, sensitive.
pub fn attribute(what: &str) -> Attribute {
    secret(
        T::Any,
        C::Required,
        &format!("The registry {what}, by reference: a whole `chartreg_helm_registry` or `chartreg_oci_registry` resource (`registry = chartreg_helm_registry.stable`), never retyped. Endpoint, credentials, TLS settings, `synchronization` and the stored catalog are read from it; nothing of it is copied into other attributes (sensitive: the object holds the password). Once read, the data source keeps only the registry's `id` and `name` here: its credentials and catalog are not stored a second time."),
    )
}

/// What a data source keeps of its `registry` once read: an object of the registry's `id` and
/// `name`, nothing else.
///
/// Why: the value Terraform sends is the whole registry object, password and catalog snapshot
/// included, and a data source's result is stored in the plan and the state. Handed back as it
/// came, every data source would hold another copy of the credentials and of the catalog (the
/// state and the plan grow with each data source), and Terraform 1.0 writes a dynamic attribute
/// of every stored object to its debug log on each plan (`UpgradeResourceState: ignoring dynamic
/// block: …`), password in plain text. Terraform does not require a data source to return its
/// configuration unchanged; the reads use the configuration, never this stored value.
pub fn stored(value: &Dynamic) -> Dynamic {
    let field = |name: &str| -> Dynamic {
        let Some((_, Dynamic::Map(entries))) = value.wrapped() else {
            return Dynamic::Nil;
        };
        entries
            .iter()
            .find(|(k, _)| matches!(k, Dynamic::Str(s) if s == name))
            .map(|(_, v)| match v {
                Dynamic::Str(_) => v.clone(),
                _ => Dynamic::Nil,
            })
            .unwrap_or(Dynamic::Nil)
    };
    Dynamic::Seq(vec![
        Dynamic::Bytes(br#"["object",{"id":"string","name":"string"}]"#.to_vec()),
        Dynamic::Map(vec![
            (Dynamic::Str("id".into()), field("id")),
            (Dynamic::Str("name".into()), field("name")),
        ]),
    ])
}

/// What the registry's clients are built from: the value its resource's `client_inputs` gives.
#[allow(clippy::large_enum_variant)] // built once per read; boxing buys nothing
#[derive(Debug, Clone, PartialEq)]
pub enum ClientInputs {
    Helm(HelmRepo),
    Oci(OciFetch),
}

/// A registry object given to a data source, decoded.
#[derive(Debug, Clone)]
pub struct RegistryRef {
    pub kind: Kind,
    /// The registration's `name`.
    pub name: String,
    /// `endpoint` as written (may hold a query string: not for outputs; see
    /// [`RegistryRef::repository_url`]).
    pub endpoint: String,
    pub synchronization: bool,
    /// What the clients are built from (credentials, TLS, pass_credentials, base paths).
    pub client: ClientInputs,
    /// `charts` of the registry's state: one summary per chart.
    pub charts: BTreeMap<String, ChartState>,
    /// `catalog_snapshot` decoded; `None` when the state has none yet (empty: not read yet).
    pub snapshot: Option<Snapshot>,
    /// `index_digest` (Helm) or `catalog_digest` (OCI) of the state: what the stored catalog is.
    pub index_digest: String,
}

/// What [`decode`] found.
#[derive(Debug)]
pub enum Decoded {
    /// A registry object of this kind (or, `None`, a value whose type is not known yet) with
    /// unknown parts: the registry is created or changed in this apply. Terraform reads the data
    /// source at apply then; a `validate` checks only what is known.
    Unknown(Option<Kind>),
    Known(Box<RegistryRef>),
}

/// Why the `registry` value cannot be used; reported on `registry` ([`RefError::report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub summary: &'static str,
    pub detail: String,
}

impl RefError {
    pub fn report(&self, diags: &mut Diagnostics) {
        diags.error(
            self.summary,
            self.detail.clone(),
            AttributePath::new(ATTRIBUTE),
        );
    }
}

const HELM_TYPE: &str = "chartreg_helm_registry";
const OCI_TYPE: &str = "chartreg_oci_registry";

fn not_a_registry(got: String) -> RefError {
    RefError {
        summary: "Invalid Registry Reference",
        detail: format!("registry must be a whole {HELM_TYPE} or {OCI_TYPE} resource, e.g. `registry = {HELM_TYPE}.stable`; got {got}."),
    }
}

/// The attribute and nested-block names of a resource schema (a block such as `ecr` is an
/// attribute of the object Terraform sends): how its objects are recognised.
fn schema_attributes(schema: fn() -> tf_provider::schema::Schema) -> BTreeSet<String> {
    let block = schema().block;
    block
        .attributes
        .into_keys()
        .chain(block.blocks.into_keys())
        .collect()
}

/// Which registry resource an object type (cty type JSON) is the type of, or what it is instead
/// (for the error).
fn kind_of_type(ty: &serde_json::Value) -> Result<Kind, RefError> {
    use serde_json::Value as J;
    let describe = |ty: &J| -> String {
        match ty {
            J::String(s) if s == "string" => "a string".into(),
            J::String(s) if s == "number" => "a number".into(),
            J::String(s) if s == "bool" => "a bool".into(),
            J::String(s) => format!("a value of type {s}"),
            J::Array(a) => match a.first().and_then(J::as_str) {
                Some("list") | Some("set") => "a list (a resource with count? name one instance: `chartreg_helm_registry.stable[0]`)".into(),
                Some("tuple") => "a tuple (a resource with count, or a list of registries? name one instance: `chartreg_helm_registry.stable[0]`)".into(),
                Some("map") => "a map".into(),
                Some(other) => format!("a value of type {other}"),
                None => "a value of unknown type".into(),
            },
            _ => "a value of unknown type".into(),
        }
    };
    let attrs = match ty {
        J::Array(a) if a.first().and_then(J::as_str) == Some("object") => {
            match a.get(1).and_then(J::as_object) {
                Some(o) => o,
                None => return Err(not_a_registry("an object of unknown shape".into())),
            }
        }
        other => return Err(not_a_registry(describe(other))),
    };
    let names: BTreeSet<String> = attrs.keys().cloned().collect();
    if names == schema_attributes(helm_registry::resource_schema) {
        return Ok(Kind::Helm);
    }
    if names == schema_attributes(oci_registry::resource_schema) {
        return Ok(Kind::Oci);
    }
    // An object of registry objects: a resource with for_each.
    let all_registries = !attrs.is_empty() && attrs.values().all(|t| kind_of_type(t).is_ok());
    if all_registries {
        return Err(not_a_registry("an object of registries (a resource with for_each? name one instance: `chartreg_helm_registry.stable[\"key\"]`)".into()));
    }
    let mut listed: Vec<&str> = names.iter().map(String::as_str).take(8).collect();
    if names.len() > 8 {
        listed.push("…");
    }
    let what = if names.contains("triggers_replace") && names.contains("output") {
        " (a terraform_data?)"
    } else {
        ""
    };
    Err(not_a_registry(format!(
        "an object with attributes {}{what}",
        listed.join(", ")
    )))
}

/// Decode the `registry` attribute.
pub fn decode(value: &Dynamic) -> Result<Decoded, RefError> {
    if value.is_unknown() {
        return Ok(Decoded::Unknown(None));
    }
    if matches!(value, Dynamic::Nil) {
        return Err(RefError {
            summary: "Missing Registry",
            detail: format!("registry is required and must not be null: give a whole {HELM_TYPE} or {OCI_TYPE} resource."),
        });
    }
    let Some((ty, inner)) = value.wrapped() else {
        return Err(not_a_registry(
            "a value Terraform sent without its type".into(),
        ));
    };
    let kind = kind_of_type(&ty)?;
    if matches!(inner, Dynamic::Nil) {
        return Err(RefError {
            summary: "Missing Registry",
            detail: "registry is null: the registry resource does not exist (yet).".into(),
        });
    }
    if inner.contains_unknown() {
        return Ok(Decoded::Unknown(Some(kind)));
    }
    let json = inner
        .to_json()
        .ok_or_else(|| not_a_registry("an object that is not a registry resource".into()))?;
    let corrupt = |e: serde_json::Error| {
        tracing::debug!(error = %e, "registry object does not decode");
        not_a_registry("an object of the right shape whose values are not a registry's".into())
    };
    let snapshot_text = json
        .get(SNAPSHOT_ATTRIBUTE)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string();
    let (name, endpoint, synchronization, client, charts, index_digest) = match kind {
        Kind::Helm => {
            let s: HelmRegistryState = serde_json::from_value(json).map_err(corrupt)?;
            let client = inputs(&s).map(ClientInputs::Helm)?;
            (
                s.name,
                s.endpoint,
                s.synchronization,
                client,
                s.charts,
                s.index_digest,
            )
        }
        Kind::Oci => {
            let s: OciRegistryState = serde_json::from_value(json).map_err(corrupt)?;
            let client = inputs(&s).map(ClientInputs::Oci)?;
            (
                s.name,
                s.endpoint,
                s.synchronization,
                client,
                s.charts,
                s.catalog_digest,
            )
        }
    };
    let snapshot = snapshot_of(&snapshot_text, kind)?;
    Ok(Decoded::Known(Box::new(RegistryRef {
        kind,
        name: name.as_ref_option().cloned().unwrap_or_default(),
        endpoint: endpoint.as_ref_option().cloned().unwrap_or_default(),
        synchronization: matches!(synchronization, tf_provider::value::Value::Value(true)),
        client,
        charts: charts.as_ref_option().cloned().unwrap_or_default(),
        snapshot,
        index_digest: index_digest.as_ref_option().cloned().unwrap_or_default(),
    })))
}

/// The registry's `catalog_snapshot`, decoded; `None` when empty (not read yet).
fn snapshot_of(text: &str, kind: Kind) -> Result<Option<Snapshot>, RefError> {
    match Snapshot::decode(text) {
        Ok(s) if s.kind != kind => Err(RefError {
            summary: "Invalid Registry Catalog",
            detail: "the registry's catalog_snapshot is of the other registry kind (a hand-edited state?): change its sync_trigger to read the registry again.".into(),
        }),
        Ok(s) => Ok(Some(s)),
        Err(SnapshotError::Empty) => Ok(None),
        Err(e) => Err(RefError {
            summary: "Invalid Registry Catalog",
            detail: format!("{e}. Change the registry's sync_trigger (or run `terraform apply -replace` on it) to read the registry again with this release."),
        }),
    }
}

/// The client inputs of a registry state, with its resource's own function.
fn inputs<S: RegistryPlan>(s: &S) -> Result<S::Client, RefError> {
    s.client_inputs().map_err(|e| match e {
        NotReady::Unknown => not_a_registry("an object with unknown values".into()),
        NotReady::Invalid(e) => RefError {
            summary: "Invalid Registry Reference",
            detail: format!("the registry's endpoint does not make a registry: {e}."),
        },
    })
}

/// Decode and report: `Some` when the registry is known and usable; errors go on `registry`.
pub fn decode_or_report(diags: &mut Diagnostics, value: &Dynamic) -> Option<Decoded> {
    match decode(value) {
        Ok(d) => Some(d),
        Err(e) => {
            e.report(diags);
            None
        }
    }
}

impl RegistryRef {
    /// `Helm repository "stable"` / `OCI registry "harbor"`: how errors name it.
    pub fn display(&self) -> String {
        match self.kind {
            Kind::Helm => format!("Helm repository {:?}", self.name),
            Kind::Oci => format!("OCI registry {:?}", self.name),
        }
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        match &self.client {
            ClientInputs::Helm(h) => h.credentials.as_ref(),
            ClientInputs::Oci(o) => o.registry.credentials.as_ref(),
        }
    }

    pub fn tls(&self) -> &TlsOptions {
        match &self.client {
            ClientInputs::Helm(h) => &h.tls,
            ClientInputs::Oci(o) => &o.registry.tls,
        }
    }

    /// Helm: send credentials to chart URLs on other hosts too. OCI: false.
    pub fn pass_credentials(&self) -> bool {
        matches!(&self.client, ClientInputs::Helm(h) if h.pass_credentials)
    }

    /// OCI: the base content paths, normalised as the resource lists them. Helm: empty.
    pub fn base_paths(&self) -> &[String] {
        match &self.client {
            ClientInputs::Helm(_) => &[],
            ClientInputs::Oci(o) => &o.base_paths,
        }
    }

    pub fn helm(&self) -> Option<&HelmRepo> {
        match &self.client {
            ClientInputs::Helm(h) => Some(h),
            ClientInputs::Oci(_) => None,
        }
    }

    pub fn oci(&self) -> Option<&OciFetch> {
        match &self.client {
            ClientInputs::Oci(o) => Some(o),
            ClientInputs::Helm(_) => None,
        }
    }

    /// The registry's cache directory (`cache_dir/helm/<name>` or `cache_dir/oci/<name>`), the
    /// one its resource uses.
    pub fn cache(&self, cache_dir: &std::path::Path) -> crate::error::Result<Cache> {
        let class = match self.kind {
            Kind::Helm => helm_registry::CACHE_CLASS,
            Kind::Oci => oci_registry::CACHE_CLASS,
        };
        Cache::registry(cache_dir, class, &self.name)
    }

    /// An OCI client for this registry, built as the resource builds it (Amazon ECR: with its
    /// AWS credential source and lister), `None` for a Helm repository.
    pub fn oci_client(
        &self,
        http: &HttpSettings,
        cache: Option<Cache>,
    ) -> Option<crate::error::Result<OciClient>> {
        self.oci().map(|o| match &o.ecr {
            None => OciClient::new(&o.registry, http, cache),
            Some(auth) => {
                crate::registry::ecr::oci_client(&o.registry, auth, http, cache).map(|(c, _)| c)
            }
        })
    }

    /// The repository as `helm_release` and `helm pull` take it: the Helm repository URL (no
    /// userinfo, no query string, no trailing slash), or `oci://host[:port][/path]`.
    pub fn repository_url(&self) -> String {
        match &self.client {
            ClientInputs::Helm(h) => public_url(&h.endpoint),
            ClientInputs::Oci(o) => {
                let e = &o.registry.endpoint;
                if e.path.is_empty() {
                    format!("oci://{}", e.host)
                } else {
                    format!("oci://{}/{}", e.host, e.path)
                }
            }
        }
    }
}

/// A Helm repository URL without userinfo, query string, fragment or trailing slash.
fn public_url(endpoint: &str) -> String {
    match url::Url::parse(endpoint.trim()) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::snapshot::{ChartRecords, VersionRecord};

    /// The type JSON cty sends for an object with these attributes (all strings: the decoder
    /// only reads the names).
    fn object_type(names: &BTreeSet<String>) -> serde_json::Value {
        let attrs: serde_json::Map<_, _> = names
            .iter()
            .map(|n| (n.clone(), serde_json::json!("string")))
            .collect();
        serde_json::json!(["object", attrs])
    }

    fn wrapped(ty: &serde_json::Value, value: Dynamic) -> Dynamic {
        Dynamic::Seq(vec![Dynamic::Bytes(serde_json::to_vec(ty).unwrap()), value])
    }

    /// A msgpack-like value from JSON (what Terraform sends for a known object).
    fn from_json(j: &serde_json::Value) -> Dynamic {
        use serde_json::Value as J;
        match j {
            J::Null => Dynamic::Nil,
            J::Bool(b) => Dynamic::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map(Dynamic::Int)
                .unwrap_or_else(|| Dynamic::Float(n.as_f64().unwrap())),
            J::String(s) => Dynamic::Str(s.clone()),
            J::Array(a) => Dynamic::Seq(a.iter().map(from_json).collect()),
            J::Object(o) => Dynamic::Map(
                o.iter()
                    .map(|(k, v)| (Dynamic::Str(k.clone()), from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A registry object as Terraform holds it: every schema attribute, null unless set.
    fn registry_object(
        schema: fn() -> tf_provider::schema::Schema,
        set: serde_json::Value,
    ) -> Dynamic {
        let names = schema_attributes(schema);
        let blocks: BTreeSet<String> = schema().block.blocks.into_keys().collect();
        let mut obj = serde_json::Map::new();
        for n in &names {
            // An absent nested block arrives as an empty list, an attribute as null.
            let absent = if blocks.contains(n) {
                serde_json::json!([])
            } else {
                serde_json::Value::Null
            };
            obj.insert(n.clone(), set.get(n).cloned().unwrap_or(absent));
        }
        wrapped(
            &object_type(&names),
            from_json(&serde_json::Value::Object(obj)),
        )
    }

    fn snapshot(kind: Kind) -> Snapshot {
        let mut charts = BTreeMap::new();
        charts.insert(
            "nginx".to_string(),
            ChartRecords {
                name: "nginx".into(),
                repository: String::new(),
                versions: vec![VersionRecord {
                    version: "1.0.0".into(),
                    ..Default::default()
                }],
            },
        );
        Snapshot {
            kind,
            index_url: String::new(),
            charts,
        }
    }

    fn known(v: &Dynamic) -> RegistryRef {
        match decode(v).unwrap() {
            Decoded::Known(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn helm_registry_object() {
        let v = registry_object(
            helm_registry::resource_schema,
            serde_json::json!({
                "name": "stable", "endpoint": "https://h/charts?sig=abc", "synchronization": false,
                "username": "ci", "password": "S3cret", "insecure_skip_tls_verify": true,
                "pass_credentials": true, "index_digest": "d1", "chart_count": 1,
                "catalog_snapshot": snapshot(Kind::Helm).encode(),
            }),
        );
        let r = known(&v);
        assert_eq!(r.kind, Kind::Helm);
        assert_eq!(r.name, "stable");
        assert!(!r.synchronization);
        assert_eq!(r.credentials().unwrap().password, "S3cret");
        assert!(r.tls().insecure_skip_verify);
        assert!(r.pass_credentials());
        assert_eq!(r.index_digest, "d1");
        assert_eq!(r.snapshot, Some(snapshot(Kind::Helm)));
        // The public repository URL carries no query string (it may be a signature or token).
        assert_eq!(r.repository_url(), "https://h/charts");
        assert!(r.helm().is_some() && r.oci().is_none());
        assert!(!format!("{r:?}").contains("S3cret"));
    }

    #[test]
    fn oci_registry_object() {
        let v = registry_object(
            oci_registry::resource_schema,
            serde_json::json!({
                "name": "ghcr", "endpoint": "oci://GHCR.example.com/org/charts", "synchronization": true,
                "base_content_paths": ["/nginx/", "team"], "catalog_digest": "d2",
            }),
        );
        let r = known(&v);
        assert_eq!(r.kind, Kind::Oci);
        assert!(r.synchronization);
        assert_eq!(r.base_paths(), ["nginx", "team"]);
        assert!(r.credentials().is_none());
        assert_eq!(r.repository_url(), "oci://ghcr.example.com/org/charts");
        assert_eq!(r.index_digest, "d2");
        // No snapshot in state yet (before the first read).
        assert_eq!(r.snapshot, None);
    }

    #[test]
    fn unknown_registries_defer() {
        assert!(matches!(
            decode(&Dynamic::Ext(0, vec![])),
            Ok(Decoded::Unknown(None))
        ));
        let names = schema_attributes(oci_registry::resource_schema);
        let v = wrapped(&object_type(&names), Dynamic::Ext(0, vec![]));
        assert!(matches!(decode(&v), Ok(Decoded::Unknown(Some(Kind::Oci)))));
        // Known type, some attributes unknown (a registry created in this apply).
        let Dynamic::Seq(mut parts) = registry_object(
            helm_registry::resource_schema,
            serde_json::json!({"name": "a", "endpoint": "https://h"}),
        ) else {
            unreachable!()
        };
        if let Dynamic::Map(m) = &mut parts[1] {
            for (k, v) in m.iter_mut() {
                if *k == Dynamic::Str("index_digest".into()) {
                    *v = Dynamic::Ext(0, vec![]);
                }
            }
        }
        assert!(matches!(
            decode(&Dynamic::Seq(parts)),
            Ok(Decoded::Unknown(Some(Kind::Helm)))
        ));
    }

    #[test]
    fn other_objects_are_refused_on_registry() {
        let td: BTreeSet<String> = ["id", "input", "output", "triggers_replace"]
            .map(String::from)
            .into();
        let cases = [
            (
                wrapped(&serde_json::json!("string"), Dynamic::Str("x".into())),
                "a string",
            ),
            (
                wrapped(&serde_json::json!(["map", "string"]), Dynamic::Map(vec![])),
                "a map",
            ),
            (
                wrapped(&object_type(&td), Dynamic::Map(vec![])),
                "terraform_data",
            ),
            (
                wrapped(
                    &serde_json::json!([
                        "tuple",
                        [object_type(&schema_attributes(
                            helm_registry::resource_schema
                        ))]
                    ]),
                    Dynamic::Seq(vec![]),
                ),
                "[0]",
            ),
            (
                wrapped(
                    &serde_json::json!(["object", {"a": object_type(&schema_attributes(helm_registry::resource_schema))}]),
                    Dynamic::Map(vec![]),
                ),
                "for_each",
            ),
        ];
        for (v, says) in cases {
            let e = decode(&v).unwrap_err();
            assert_eq!(e.summary, "Invalid Registry Reference");
            assert!(e.detail.contains(says), "{says}: {}", e.detail);
            let mut d = Diagnostics::default();
            e.report(&mut d);
            assert_eq!(d.errors[0].attribute, AttributePath::new("registry"));
        }
        assert_eq!(
            decode(&Dynamic::Nil).unwrap_err().summary,
            "Missing Registry"
        );
    }

    #[test]
    fn snapshots() {
        let s = snapshot(Kind::Oci);
        assert_eq!(snapshot_of(&s.encode(), Kind::Oci), Ok(Some(s.clone())));
        assert_eq!(snapshot_of("", Kind::Oci), Ok(None));
        let e = snapshot_of(&s.encode(), Kind::Helm).unwrap_err();
        assert_eq!(e.summary, "Invalid Registry Catalog");
        let e = snapshot_of("chartreg-snapshot.v0:x", Kind::Helm).unwrap_err();
        assert!(e.detail.contains("sync_trigger"), "{}", e.detail);
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            public_url("https://u:p@h:8443/a/b/?t=1#f"),
            "https://h:8443/a/b"
        );
        assert_eq!(public_url(" http://h "), "http://h");
    }

    /// What a data source stores of `registry`: the id and the name, no password, no catalog.
    #[test]
    fn stored_keeps_id_and_name_only() {
        let v = registry_object(
            helm_registry::resource_schema,
            serde_json::json!({
                "id": "stable", "name": "stable", "endpoint": "https://h/charts",
                "synchronization": true, "username": "ci", "password": "S3cret-pw",
                "catalog_snapshot": snapshot(Kind::Helm).encode(),
            }),
        );
        let s = stored(&v);
        let (ty, value) = s.wrapped().unwrap();
        assert_eq!(
            ty,
            serde_json::json!(["object", {"id": "string", "name": "string"}])
        );
        assert_eq!(
            value.to_json().unwrap(),
            serde_json::json!({"id": "stable", "name": "stable"})
        );
        let bytes = rmp_serde::to_vec(&s).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("S3cret-pw"));
        // Not a registry object (cannot happen after a successful read): nulls, not a panic.
        let s = stored(&Dynamic::Str("x".into()));
        assert_eq!(
            s.wrapped().unwrap().1.to_json().unwrap(),
            serde_json::json!({"id": null, "name": null})
        );
    }
}
