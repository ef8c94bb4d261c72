//! Registry clients and the chart catalog. Nothing here knows about Terraform: every module can be
//! used and tested alone.

pub mod cache;
pub mod catalog;
pub mod chart_archive;
pub mod ecr;
pub mod helm_index;
pub mod http;
pub mod oci;
pub mod request;
pub mod resolve;
pub mod scrub;
pub mod search;
pub mod snapshot;
#[cfg(test)]
pub mod testserver;
