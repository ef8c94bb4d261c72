//! Data sources (`chartreg_helm_chart`, `chartreg_helm_charts`) land here, one file each.

use crate::objects::DataSourceType;

/// Every data source type: read by the provider (`get_data_sources`) and the docs generator.
pub fn all() -> Vec<DataSourceType> {
    vec![]
}
