//! Small builders that keep schema definitions readable: attributes, schemas, and nested blocks.
//!
//! Nested *blocks* (`ecr { … }`), not nested *attributes* (`ecr = { … }`): Terraform 1.0 crashes
//! on a schema with nested attributes (protocol 6 `NestedType`), while blocks work in every
//! version.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
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
    schema_with_blocks(desc, attributes, HashMap::new())
}

/// A schema at version 0 with nested blocks (built with [`block`]).
pub fn schema_with_blocks(
    desc: &str,
    attributes: HashMap<String, Attribute>,
    blocks: HashMap<String, NestedBlock>,
) -> Schema {
    Schema {
        version: 0,
        block: Block {
            version: 0,
            attributes,
            blocks,
            description: Description::markdown(desc),
            deprecated: false,
        },
    }
}

/// How many times a nested block may be written. tf-provider 0.2.2 derives `min_items` and
/// `max_items` from the nesting mode it sends; these are the combinations it can express
/// ([`Nesting::items`]), each with the state shape it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// Exactly once (nesting `single`, `min_items = max_items = 1`): a required block. State: the
    /// block's struct.
    Single,
    /// At most once (nesting `list`, `min_items = 0`, `max_items = 1`), like the SDK's
    /// `MaxItems: 1`: an optional block, null when absent. State: `Value<TheBlock>` with
    /// `#[serde(with = "tf_provider::value::serde_as_vec")]`.
    AtMostOne,
    /// Any number, in order (nesting `list`, no limit). State: `Value<Vec<Value<TheBlock>>>`.
    List,
    /// Any number, unordered (nesting `set`, no limit).
    Set,
}

impl Nesting {
    /// `(min_items, max_items)` as Terraform receives them; `None` is no limit.
    pub fn items(self) -> (i64, Option<i64>) {
        match self {
            Nesting::Single => (1, Some(1)),
            Nesting::AtMostOne => (0, Some(1)),
            Nesting::List | Nesting::Set => (0, None),
        }
    }

    /// The nesting of a block of a schema, with its block; `None` for the modes this provider
    /// does not build (`map`, `group`).
    pub fn of(b: &NestedBlock) -> Option<(Nesting, &Block)> {
        match b {
            NestedBlock::Single(b) => Some((Nesting::Single, b)),
            NestedBlock::Optional(b) => Some((Nesting::AtMostOne, b)),
            NestedBlock::List(b) => Some((Nesting::List, b)),
            NestedBlock::Set(b) => Some((Nesting::Set, b)),
            NestedBlock::Map(_) | NestedBlock::Group(_) => None,
        }
    }
}

/// A nested block with a markdown description and its attributes. Deeper blocks, if ever
/// needed, go in the returned block's `blocks`.
pub fn block(nesting: Nesting, desc: &str, attributes: HashMap<String, Attribute>) -> NestedBlock {
    let b = Block {
        version: 0,
        attributes,
        blocks: HashMap::new(),
        description: Description::markdown(desc),
        deprecated: false,
    };
    match nesting {
        Nesting::Single => NestedBlock::Single(b),
        Nesting::AtMostOne => NestedBlock::Optional(b),
        Nesting::List => NestedBlock::List(b),
        Nesting::Set => NestedBlock::Set(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_their_nesting() {
        for n in [
            Nesting::Single,
            Nesting::AtMostOne,
            Nesting::List,
            Nesting::Set,
        ] {
            let b = block(n, "d", HashMap::new());
            let (back, inner) = Nesting::of(&b).unwrap();
            assert_eq!(back, n);
            assert_eq!(inner.description.content, "d");
            assert_eq!(inner.version, 0);
        }
        assert_eq!(Nesting::AtMostOne.items(), (0, Some(1)));
        assert_eq!(Nesting::Single.items(), (1, Some(1)));
    }
}
