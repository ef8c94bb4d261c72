//! What the provider and the docs generator know of a Terraform object type: its name, its
//! schema and how to build it. [`crate::resources::all`] and [`crate::data_sources::all`] are the
//! one list of each kind; `ChartregProvider::get_resources`/`get_data_sources` and `chartreg-docs`
//! both read them, so that an object is added in one place.

use tf_provider::schema::Schema;
use tf_provider::{DynamicDataSource, DynamicResource};

use crate::settings::Shared;

/// One object type of kind `T` (`dyn DynamicResource` or `dyn DynamicDataSource`).
pub struct ObjectType<T: ?Sized> {
    /// The type name without the provider's prefix (`helm_registry` for
    /// `chartreg_helm_registry`), as `get_resources` hands it to tf-provider.
    pub name: &'static str,
    /// The schema the object answers with (checked against the built object in tests).
    pub schema: fn() -> Schema,
    /// Build the object around the provider's settings cell.
    pub new: fn(Shared) -> Box<T>,
}

pub type ResourceType = ObjectType<dyn DynamicResource>;
pub type DataSourceType = ObjectType<dyn DynamicDataSource>;

/// The provider's name, the prefix of every type name (`chartreg_helm_registry`).
pub const PROVIDER_NAME: &str = "chartreg";

impl<T: ?Sized> ObjectType<T> {
    /// The full type name as configurations write it (`chartreg_helm_registry`).
    pub fn full_name(&self) -> String {
        format!("{PROVIDER_NAME}_{}", self.name)
    }
}
