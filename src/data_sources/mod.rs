//! Data sources, one Terraform object per file, plus what they share: the `registry` reference
//! ([`registry_ref`]) and the dynamic value it arrives in ([`dynamic`]).

pub mod chart_fetch;
pub mod dynamic;
pub mod helm_chart;
pub mod helm_charts;
pub mod registry_ref;

use crate::objects::DataSourceType;

/// Every data source type: read by the provider (`get_data_sources`) and the docs generator.
pub fn all() -> Vec<DataSourceType> {
    vec![
        DataSourceType {
            name: "helm_chart",
            schema: helm_chart::data_source_schema,
            new: |shared| Box::new(helm_chart::HelmChartDataSource::new(shared)),
        },
        DataSourceType {
            name: "helm_charts",
            schema: helm_charts::data_source_schema,
            new: |shared| Box::new(helm_charts::HelmChartsDataSource::new(shared)),
        },
    ]
}
