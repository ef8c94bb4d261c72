//! Small builders that keep schema definitions readable.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};

pub use tf_provider::schema::AttributeConstraint as C;
pub use tf_provider::schema::AttributeType as T;

/// An attribute with a markdown description.
pub fn attr(t: AttributeType, c: AttributeConstraint, desc: &str) -> Attribute {
    Attribute {
        attr_type: t,
        constraint: c,
        description: Description::markdown(desc),
        sensitive: false,
        deprecated: false,
    }
}

/// A sensitive attribute (never shown in plans or logs).
pub fn secret(t: AttributeType, c: AttributeConstraint, desc: &str) -> Attribute {
    Attribute {
        sensitive: true,
        ..attr(t, c, desc)
    }
}

/// A schema at version 0 (tf-provider cannot upgrade state: changes stay additive).
pub fn schema(desc: &str, attributes: HashMap<String, Attribute>) -> Schema {
    Schema {
        version: 0,
        block: Block {
            version: 0,
            attributes,
            blocks: Default::default(),
            description: Description::markdown(desc),
            deprecated: false,
        },
    }
}
