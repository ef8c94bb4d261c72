//! How the registry resources plan, and the one difference between create, update and refresh.
//!
//! - **What forces a re-download is derived, never listed.** Each resource builds the very value
//!   its registry client receives ([`RegistryPlan::client_inputs`]: a `HelmRepo`, or an
//!   `OciRegistry` with its base paths) from its state; a plan re-reads the registry when that
//!   value (or `sync_trigger`, the manual re-sync) differs between prior and planned state, or
//!   cannot be known yet. An attribute that changes what is fetched cannot be forgotten: it has
//!   to go through `client_inputs` to reach the client at all (`pass_credentials` once changed
//!   what was fetched without forcing a re-download).
//! - **Import takes the plan's defaults**: [`planned`] is the one function that fills defaults
//!   and `id`, for `plan_create`, `plan_update` and `import`.
//! - **[`Phase`]** says what a synchronization is for, and so how it reports failures and whether
//!   an unchanged catalog is recorded again.

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::diagnostics::{self, ErrorMap};
use crate::error::Error;

/// Why a resource's client inputs cannot be built.
#[derive(Debug)]
pub enum NotReady {
    /// An input is unknown (at plan time only: it becomes known before apply).
    Unknown,
    /// An input does not make a registry (e.g. an endpoint that does not parse).
    Invalid(Error),
}

impl From<Error> for NotReady {
    fn from(e: Error) -> Self {
        NotReady::Invalid(e)
    }
}

/// Read an attribute as a client input: [`NotReady::Unknown`] when it is not known yet.
pub trait Known {
    fn known(&self) -> Result<&Self, NotReady>;
}

impl<T> Known for Value<T> {
    fn known(&self) -> Result<&Self, NotReady> {
        if self.is_unknown() {
            Err(NotReady::Unknown)
        } else {
            Ok(self)
        }
    }
}

/// What the computed attributes of a plan become.
pub enum Computed<'a, S> {
    /// Known after apply (the registry is read).
    Unknown,
    /// An empty catalog (an import, before its first read).
    Empty,
    /// The prior state's (nothing to re-read).
    CopyOf(&'a S),
}

impl<S> Computed<'_, S> {
    /// The new value of one computed attribute: `of` picks it from a prior state, `empty` is its
    /// empty value.
    pub fn value<T: Clone>(&self, of: impl Fn(&S) -> &Value<T>, empty: T) -> Value<T> {
        match self {
            Computed::Unknown => Value::Unknown,
            Computed::Empty => Value::Value(empty),
            Computed::CopyOf(prior) => of(prior).clone(),
        }
    }
}

/// What the registry resources' plans have in common: `id` is the name, the name is the identity
/// (a change replaces), a change of what is fetched makes the computed catalog unknown, and any
/// other change keeps it.
pub trait RegistryPlan: Default {
    /// What the registry client receives: compared between prior and planned state.
    type Client: PartialEq + std::fmt::Debug;
    fn name(&self) -> &Value<String>;
    fn sync_trigger(&self) -> &Value<String>;
    fn set_id(&mut self, id: Value<String>);
    /// Fill optional attributes that have a default and are null in `config`.
    fn apply_defaults(&mut self, config: &Self);
    /// The value the registry client is built from, from this state's attributes (each read
    /// through [`Known::known`]).
    fn client_inputs(&self) -> Result<Self::Client, NotReady>;
    /// Set every computed attribute (the one list of them).
    fn set_computed(&mut self, to: Computed<'_, Self>);
    /// `catalog_snapshot` (see [`snapshot_missing`]).
    fn catalog_snapshot(&self) -> &Value<String>;
}

/// Whether a registration in state has no `catalog_snapshot` at all (`null`): a state written
/// before the attribute existed (Terraform decodes it, dropping the per-chart `versions` list that
/// no longer is in the schema). The catalog is then read again: by the next refresh with
/// synchronization on (unconditionally: an index answered 304 would leave the snapshot missing),
/// else by an update planned for it. An import's empty catalog is `""`, not `null`.
pub fn snapshot_missing<S: RegistryPlan>(s: &S) -> bool {
    matches!(s.catalog_snapshot(), Value::Null)
}

/// Does going from `prior` to `planned` read the registry again? When what the client receives
/// or `sync_trigger` differs, or is not known yet.
pub fn needs_sync<S: RegistryPlan>(prior: &S, planned: &S) -> bool {
    match (prior.client_inputs(), planned.client_inputs()) {
        (Ok(a), Ok(b)) => a != b || changed(prior.sync_trigger(), planned.sync_trigger()),
        _ => true,
    }
}

/// Does an update from `prior` to `planned` read the registry? When [`needs_sync`], or when the
/// prior state has no snapshot ([`snapshot_missing`]). The plan and the apply both ask this.
pub fn reads_again<S: RegistryPlan>(prior: &S, planned: &S) -> bool {
    needs_sync(prior, planned) || snapshot_missing(prior)
}

/// Whether two planned values may differ (unknown counts as a change).
pub fn changed<T: PartialEq>(a: &Value<T>, b: &Value<T>) -> bool {
    a.is_unknown() || b.is_unknown() || a != b
}

/// `proposed` with the defaults of `config` and `id` from the name: the state a plan (and an
/// import) starts from.
pub fn planned<S: RegistryPlan>(mut proposed: S, config: Option<&S>) -> S {
    let none = S::default();
    proposed.apply_defaults(config.unwrap_or(&none));
    let id = proposed.name().clone();
    proposed.set_id(id);
    proposed
}

/// The state an import ID describes: `s`, checked by the resource's own `validate` (its
/// diagnostics are `checked`, reported as errors of the ID), with the defaults a plan gives and
/// an empty catalog (the read that follows an import fills it). `None` when the ID failed.
pub fn imported<S: RegistryPlan + Clone>(
    diags: &mut Diagnostics,
    checked: Diagnostics,
    s: S,
) -> Option<S> {
    if !super::common::import_checks(diags, checked) {
        return None;
    }
    let mut imported = planned(s.clone(), Some(&s));
    imported.set_computed(Computed::Empty);
    Some(imported)
}

/// Plan a creation: defaults applied, `id` known from the name, the catalog unknown.
pub fn plan_create<S: RegistryPlan>(proposed: S, config: Option<S>) -> S {
    let mut s = planned(proposed, config.as_ref());
    s.set_computed(Computed::Unknown);
    s
}

/// Plan an update; returns the planned state and the attributes that force replacement.
pub fn plan_update<S: RegistryPlan>(
    prior: &S,
    proposed: S,
    config: Option<S>,
) -> (S, Vec<AttributePath>) {
    let mut s = planned(proposed, config.as_ref());
    let mut replace = vec![];
    if changed(prior.name(), s.name()) {
        replace.push(AttributePath::new("name"));
        s.set_computed(Computed::Unknown);
    } else if reads_again(prior, &s) {
        s.set_computed(Computed::Unknown);
    } else {
        s.set_computed(Computed::CopyOf(prior));
    }
    (s, replace)
}

/// What a synchronization (reading the registry into state) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `apply` of a new registration: the registry is validated; a failure is an error and
    /// nothing is created.
    Create,
    /// `apply` of a change of what is fetched (or of `sync_trigger`): a failure is an error and
    /// the registration stays as it was.
    Update,
    /// A read (`plan`, `refresh`): a failure is a warning and the previous catalog is kept;
    /// conditional requests and the previous catalog save work.
    Refresh,
}

impl Phase {
    /// Whether a catalog equal to the one in state is stored again (with a new `last_synced`):
    /// a create or update reads the registry because it was asked to; a refresh that finds
    /// nothing new changes nothing.
    pub fn records_unchanged(self) -> bool {
        self != Phase::Refresh
    }

    /// Report a failed synchronization of the object `what` (e.g. `OCI registry "harbor"`).
    pub fn report(
        self,
        diags: &mut Diagnostics,
        err: &Error,
        map: &ErrorMap,
        have_credentials: bool,
        what: &str,
    ) {
        match self {
            Phase::Refresh => {
                let kept = map.kept_on_refresh();
                let ctx = format!("{what}: refresh failed, the previous {kept} is kept");
                diagnostics::warning(diags, err, map, have_credentials, &ctx);
            }
            Phase::Create | Phase::Update => {
                diagnostics::error(diags, err, map, have_credentials, what)
            }
        }
    }
}

/// A resource's client inputs at apply time, when every input is known: an invalid input is
/// reported as the phase reports failures.
pub fn inputs_for_apply<S: RegistryPlan>(
    s: &S,
    diags: &mut Diagnostics,
    phase: Phase,
    map: &ErrorMap,
    what: &str,
) -> Option<S::Client> {
    match s.client_inputs() {
        Ok(c) => Some(c),
        Err(NotReady::Invalid(e)) => {
            phase.report(diags, &e, map, false, what);
            None
        }
        Err(NotReady::Unknown) => {
            diags.root_error(
                "Unknown Registry Settings",
                format!("{what}: a setting is still unknown when the registry is read; this is a bug in chartreg."),
            );
            None
        }
    }
}

/// Test support: every configurable attribute of a resource either changes what its client
/// receives (so changing it re-reads the registry) or is named in `not_fetched`. An attribute
/// added to the schema but not to `client_inputs` fails here.
#[cfg(test)]
pub(crate) fn assert_inputs_derived<S>(
    base: &S,
    schema: &tf_provider::schema::Schema,
    not_fetched: &[&str],
) where
    S: RegistryPlan + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use crate::schema_util::{C, T};
    let json = serde_json::to_value(base).expect("state to JSON");
    for (name, a) in &schema.block.attributes {
        if matches!(a.constraint, C::Computed) || name == "name" {
            continue;
        }
        let mut changed_json = json.clone();
        changed_json[name.as_str()] = match (&a.attr_type, &json[name.as_str()]) {
            (T::Bool, v) => serde_json::Value::Bool(!v.as_bool().unwrap_or(false)),
            (T::String, _) => serde_json::Value::from("changed.example.com"),
            (T::List(_), _) => serde_json::json!(["changed"]),
            (t, _) => panic!("{name}: no test value for {t:?}"),
        };
        let changed: S = serde_json::from_value(changed_json).expect("state from JSON");
        let fetched = needs_sync(base, &changed);
        let expected = !not_fetched.contains(&name.as_str());
        assert_eq!(
            fetched,
            expected,
            "{name}: a change {} the registry again (client inputs {:?})",
            if fetched { "reads" } else { "does not read" },
            changed.client_inputs().map_err(|_| "not ready")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases() {
        assert!(Phase::Create.records_unchanged());
        assert!(Phase::Update.records_unchanged());
        assert!(!Phase::Refresh.records_unchanged());
        let map = ErrorMap {
            protocol: crate::registry::request::Protocol::Oci,
            at: |_, _| AttributePath::new("endpoint"),
        };
        let e = Error::Connect {
            url: "https://r/v2/".into(),
            detail: "refused".into(),
        };
        let mut d = Diagnostics::default();
        Phase::Refresh.report(&mut d, &e, &map, false, "OCI registry \"r\"");
        assert!(d.errors.is_empty());
        assert!(d.warnings[0]
            .detail
            .starts_with("OCI registry \"r\": refresh failed, the previous catalog is kept"));
        for p in [Phase::Create, Phase::Update] {
            let mut d = Diagnostics::default();
            p.report(&mut d, &e, &map, false, "OCI registry \"r\"");
            assert_eq!(d.errors.len(), 1);
            assert!(d.warnings.is_empty());
        }
    }

    #[test]
    fn known_inputs() {
        assert!(Value::<String>::Unknown.known().is_err());
        assert!(Value::<String>::Null.known().is_ok());
        assert!(Value::Value(1).known().is_ok());
    }
}
