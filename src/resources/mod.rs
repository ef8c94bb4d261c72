//! Resources, one Terraform object per file, plus what they share.

pub mod common;
pub mod helm_registry;
pub mod oci_registry;
