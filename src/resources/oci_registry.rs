//! Resource `chartreg_oci_registry` (being written).
use crate::provider::Shared;
pub struct OciRegistryResource {
    #[allow(dead_code)]
    shared: Shared,
}
impl OciRegistryResource {
    pub fn new(shared: Shared) -> Self {
        OciRegistryResource { shared }
    }
}
