//! The floor of a plugin provider: `terraform-provider-floor`, the least a provider on the same
//! `tf-provider` crate and the same `serve` (TCP_NODELAY) can do. One resource, `floor_thing`
//! (`input` in, `id` out, nothing stored anywhere), and one data source, `floor_lookup` (`input`
//! in, `output` out). `scripts/bench-plan20.sh` and `scripts/bench-changed.sh` plan the same
//! number of objects with it as with chartreg, so that Terraform's own cost of any plugin
//! provider (plugin starts, AutoMTLS, one RPC per object and phase) is measured apart from what
//! chartreg adds. A benchmark program (`harness = false`), not a test: run by the scripts.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueEmpty, ValueString};
use tf_provider::{
    map, AttributePath, DataSource, Diagnostics, DynamicDataSource, DynamicResource, Provider,
    Resource,
};

fn attr(constraint: AttributeConstraint, desc: &str) -> Attribute {
    Attribute {
        attr_type: AttributeType::String,
        constraint,
        description: Description::plain(desc),
        ..Default::default()
    }
}

fn schema(desc: &str, attributes: HashMap<String, Attribute>) -> Option<Schema> {
    Some(Schema {
        version: 0,
        block: Block {
            description: Description::plain(desc),
            attributes,
            ..Default::default()
        },
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Thing<'a> {
    #[serde(borrow)]
    id: ValueString<'a>,
    #[serde(borrow)]
    input: ValueString<'a>,
}

struct ThingResource;

#[async_trait]
impl Resource for ThingResource {
    type State<'a> = Thing<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _: &mut Diagnostics) -> Option<Schema> {
        schema(
            "A value kept in state only",
            map! {
                "id" => attr(AttributeConstraint::Computed, "The input"),
                "input" => attr(AttributeConstraint::Required, "Any string (forces replacement)"),
            },
        )
    }
    async fn read<'a>(
        &self,
        _: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        Some((state, private))
    }
    async fn plan_create<'a>(
        &self,
        _: &mut Diagnostics,
        mut proposed: Self::State<'a>,
        _: Self::State<'a>,
        _: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        proposed.id = proposed.input.clone();
        Some((proposed, Value::Value(Default::default())))
    }
    async fn plan_update<'a>(
        &self,
        _: &mut Diagnostics,
        prior: Self::State<'a>,
        mut proposed: Self::State<'a>,
        _: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        proposed.id = proposed.input.clone();
        let replace = if prior.input != proposed.input {
            vec![AttributePath::new("input")]
        } else {
            vec![]
        };
        Some((proposed, private, replace))
    }
    async fn plan_destroy<'a>(
        &self,
        _: &mut Diagnostics,
        _: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _: ValueEmpty,
    ) -> Option<Self::PrivateState<'a>> {
        Some(private)
    }
    async fn create<'a>(
        &self,
        _: &mut Diagnostics,
        planned: Self::State<'a>,
        _: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        Some((planned, private))
    }
    async fn update<'a>(
        &self,
        _: &mut Diagnostics,
        _: Self::State<'a>,
        planned: Self::State<'a>,
        _: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _: ValueEmpty,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        Some((planned, private))
    }
    async fn destroy<'a>(
        &self,
        _: &mut Diagnostics,
        _: Self::State<'a>,
        _: Self::PrivateState<'a>,
        _: ValueEmpty,
    ) -> Option<()> {
        Some(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Lookup<'a> {
    #[serde(borrow)]
    input: ValueString<'a>,
    #[serde(borrow)]
    output: ValueString<'a>,
}

struct LookupDataSource;

#[async_trait]
impl DataSource for LookupDataSource {
    type State<'a> = Lookup<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _: &mut Diagnostics) -> Option<Schema> {
        schema(
            "Echoes its input",
            map! {
                "input" => attr(AttributeConstraint::Required, "Any string"),
                "output" => attr(AttributeConstraint::Computed, "The input"),
            },
        )
    }
    async fn read<'a>(
        &self,
        _: &mut Diagnostics,
        mut config: Self::State<'a>,
        _: ValueEmpty,
    ) -> Option<Self::State<'a>> {
        config.output = match &config.input {
            Value::Value(s) => Value::Value(s.clone()),
            _ => Value::Unknown,
        };
        Some(config)
    }
}

struct FloorProvider;

#[async_trait]
impl Provider for FloorProvider {
    type Config<'a> = ValueEmpty;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _: &mut Diagnostics) -> Option<Schema> {
        schema("The floor of a plugin provider", HashMap::new())
    }
    async fn configure<'a>(&self, _: &mut Diagnostics, _: String, _: ValueEmpty) -> Option<()> {
        Some(())
    }
    fn get_resources(
        &self,
        _: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! { "thing" => ThingResource })
    }
    fn get_data_sources(
        &self,
        _: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(map! { "lookup" => LookupDataSource })
    }
}

fn main() -> anyhow::Result<()> {
    // Started by `cargo bench` (not by Terraform, which sets go-plugin's magic cookie): nothing to
    // measure on its own; the scripts run it under Terraform.
    if std::env::var_os("TF_PLUGIN_MAGIC_COOKIE").is_none() {
        eprintln!("floor_provider: a plugin for Terraform, run by scripts/bench-plan20.sh");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(chartreg::serve::serve("floor", Box::new(FloorProvider)))
}
