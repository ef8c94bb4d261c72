//! chartreg: a Terraform provider (plugin protocol 6) that manages Helm chart registries as code.
//!
//! Layout: [`provider`] (configuration, wiring), [`resources`] and [`data_sources`] (one Terraform
//! object per file), [`registry`] (HTTP clients and the chart catalog, free of Terraform types),
//! [`error`] (the one error type) and [`diagnostics`] (the one Error→Diagnostic bridge).

pub mod data_sources;
pub mod diagnostics;
pub mod docs;
pub mod error;
pub mod logging;
pub mod objects;
pub mod provider;
pub mod registry;
pub mod resources;
pub mod schema_util;
pub mod serve;
pub mod settings;
