//! Data sources (`chartreg_helm_chart`, `chartreg_helm_charts`) land here, one file each.

/// Every data source with its schema (for the docs generator and tests).
pub fn all_schemas() -> Vec<(&'static str, tf_provider::schema::Schema)> {
    vec![]
}
