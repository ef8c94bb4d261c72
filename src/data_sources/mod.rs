//! Data sources, one Terraform object per file, plus what they share: the `registry` reference
//! ([`registry_ref`]) and the dynamic value it arrives in ([`dynamic`]).

pub mod dynamic;
pub mod registry_ref;

use crate::objects::DataSourceType;

/// Every data source type: read by the provider (`get_data_sources`) and the docs generator.
pub fn all() -> Vec<DataSourceType> {
    vec![]
}
