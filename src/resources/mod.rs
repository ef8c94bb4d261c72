//! Resources, one Terraform object per file, plus what they share.

pub mod chart_state;
pub mod common;
pub mod helm_registry;
pub mod oci_registry;
pub mod plan;

/// Every resource type with its schema (for the docs generator and tests).
pub fn all_schemas() -> Vec<(&'static str, tf_provider::schema::Schema)> {
    vec![
        ("chartreg_helm_registry", helm_registry::resource_schema()),
        ("chartreg_oci_registry", oci_registry::resource_schema()),
    ]
}
