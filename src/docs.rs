//! Documentation generator: renders `docs/` (Terraform Registry layout) from the provider's own
//! schemas plus the HCL under `examples/`. Run by `make docs` (`cargo run --bin chartreg-docs`).

use std::collections::BTreeMap;
use std::path::Path;

use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};

use crate::objects::ObjectType;
use crate::schema_util::Nesting;

/// One page to write: path relative to `docs/` and its content.
pub struct Page {
    pub path: String,
    pub content: String,
}

fn type_name(t: &AttributeType) -> String {
    match t {
        AttributeType::String => "String".into(),
        AttributeType::Number => "Number".into(),
        AttributeType::Bool => "Boolean".into(),
        AttributeType::List(i) => format!("List of {}", type_name(i)),
        AttributeType::Set(i) => format!("Set of {}", type_name(i)),
        AttributeType::Map(i) => format!("Map of {}", type_name(i)),
        AttributeType::Object(_) => "Object".into(),
        AttributeType::Tuple(_) => "Tuple".into(),
        AttributeType::Any => "Dynamic".into(),
        _ => "Attributes".into(),
    }
}

fn object_fields(t: &AttributeType) -> Option<&std::collections::HashMap<String, AttributeType>> {
    match t {
        AttributeType::Object(f) => Some(f),
        AttributeType::List(i) | AttributeType::Set(i) | AttributeType::Map(i) => object_fields(i),
        _ => None,
    }
}

/// A group of the Registry layout, and whether a member belongs to it.
const GROUPS: [&str; 3] = ["Required", "Optional", "Read-Only"];

fn attribute_group(a: &Attribute) -> &'static str {
    match a.constraint {
        AttributeConstraint::Required => "Required",
        AttributeConstraint::Optional | AttributeConstraint::OptionalComputed => "Optional",
        AttributeConstraint::Computed => "Read-Only",
    }
}

/// A block is required when it must be written, read-only when everything in it is computed.
fn block_group(nesting: Nesting, b: &Block) -> &'static str {
    if nesting.items().0 > 0 {
        "Required"
    } else if block_read_only(b) {
        "Read-Only"
    } else {
        "Optional"
    }
}

fn block_read_only(b: &Block) -> bool {
    b.attributes
        .values()
        .all(|a| a.constraint == AttributeConstraint::Computed)
        && b.blocks
            .values()
            .all(|n| Nesting::of(n).is_some_and(|(_, b)| block_read_only(b)))
}

/// `Block List, Max: 1` and the like, as the Registry writes a block's kind.
fn block_kind(nesting: Nesting) -> String {
    let mut kind = match nesting {
        Nesting::Single => "Block".to_string(),
        Nesting::AtMostOne | Nesting::List => "Block List".to_string(),
        Nesting::Set => "Block Set".to_string(),
    };
    let (min, max) = nesting.items();
    if nesting != Nesting::Single {
        if min > 0 {
            kind.push_str(&format!(", Min: {min}"));
        }
        if let Some(max) = max {
            kind.push_str(&format!(", Max: {max}"));
        }
    }
    kind
}

/// Render the members of `block` by group (`### Required` at the root, `Required:` in a nested
/// schema) and push the nested schemas they link to onto `nested`, depth first after their
/// parent. `parents` is the path of `block` (empty at the root); anchors are
/// `nestedatt--a--b` for object attributes and `nestedblock--a--b` for blocks.
fn render_block(block: &Block, parents: &[&str], out: &mut String, nested: &mut Vec<String>) {
    enum Member<'a> {
        Attr(&'a Attribute),
        Block(Nesting, &'a Block),
    }
    let mut members: BTreeMap<&str, Member> = block
        .attributes
        .iter()
        .map(|(n, a)| (n.as_str(), Member::Attr(a)))
        .collect();
    for (n, b) in &block.blocks {
        // Map and group blocks are not built by this provider (see `schema_util::Nesting`).
        if let Some((nesting, b)) = Nesting::of(b) {
            members.insert(n.as_str(), Member::Block(nesting, b));
        }
    }
    let root = parents.is_empty();
    if root {
        out.push_str("## Schema\n");
    }
    let mut later = Vec::new();
    for title in GROUPS {
        let in_group: Vec<_> = members
            .iter()
            .filter(|(_, m)| match m {
                Member::Attr(a) => attribute_group(a) == title,
                Member::Block(n, b) => block_group(*n, b) == title,
            })
            .collect();
        if in_group.is_empty() {
            continue;
        }
        if root {
            out.push_str(&format!("\n### {title}\n\n"));
        } else {
            out.push_str(&format!("\n{title}:\n\n"));
        }
        for (name, m) in in_group {
            let path: Vec<&str> = parents.iter().copied().chain([*name]).collect();
            match m {
                Member::Attr(a) => {
                    let mut kind = type_name(&a.attr_type);
                    if a.sensitive {
                        kind.push_str(", Sensitive");
                    }
                    let desc = a.description.content.trim();
                    if let Some(fields) = object_fields(&a.attr_type) {
                        let anchor = format!("nestedatt--{}", path.join("--"));
                        out.push_str(&format!(
                            "- `{name}` ({kind}) {desc} (see [below for nested schema](#{anchor}))\n"
                        ));
                        let mut n = format!(
                            "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{}`\n\nRead-Only:\n\n",
                            path.join(".")
                        );
                        let sorted: BTreeMap<_, _> = fields.iter().collect();
                        for (f, t) in sorted {
                            n.push_str(&format!("- `{f}` ({})\n", type_name(t)));
                        }
                        later.push((n, None));
                    } else {
                        out.push_str(&format!("- `{name}` ({kind}) {desc}\n"));
                    }
                }
                Member::Block(nesting, b) => {
                    let anchor = format!("nestedblock--{}", path.join("--"));
                    let desc = b.description.content.trim();
                    out.push_str(&format!(
                        "- `{name}` ({}) {desc} (see [below for nested schema](#{anchor}))\n",
                        block_kind(*nesting)
                    ));
                    let n = format!(
                        "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{}`\n",
                        path.join(".")
                    );
                    later.push((n, Some((*b, path))));
                }
            }
        }
    }
    for (mut section, inner) in later {
        let mut deeper = Vec::new();
        if let Some((b, path)) = inner {
            render_block(b, &path, &mut section, &mut deeper);
        }
        nested.push(section);
        nested.extend(deeper);
    }
}

fn read_example(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

/// Further sections of an object's page, in file-name order: each `NAME.md` of its example
/// directory (starting with its own `## ` heading), followed by `NAME.tf` when there is one (the
/// acceptance tests exercise it like the main example).
fn extra_sections(root: &Path, dir: &str) -> Vec<(String, Option<String>)> {
    let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".md").map(str::to_string))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let md = read_example(root, &format!("{dir}/{n}.md"))?;
            Some((md, read_example(root, &format!("{dir}/{n}.tf"))))
        })
        .collect()
}

/// Render one resource or data-source page.
pub fn render_object(
    kind: &str,
    full_name: &str,
    schema: &Schema,
    examples_root: &Path,
    subcategory: &str,
) -> String {
    let mut out = format!(
        "---\npage_title: \"{full_name} {} - chartreg\"\nsubcategory: \"{subcategory}\"\ndescription: |-\n  {}\n---\n\n# {full_name} ({})\n\n{}\n",
        if kind == "resources" { "Resource" } else { "Data Source" },
        schema.block.description.content.lines().next().unwrap_or(""),
        if kind == "resources" { "Resource" } else { "Data Source" },
        schema.block.description.content.trim()
    );
    let dir = format!("{kind}/{full_name}");
    let file = if kind == "resources" {
        "resource.tf"
    } else {
        "data-source.tf"
    };
    if let Some(ex) = read_example(examples_root, &format!("{dir}/{file}")) {
        out.push_str(&format!(
            "\n## Example Usage\n\n```terraform\n{}\n```\n",
            ex.trim_end()
        ));
    }
    for (md, tf) in extra_sections(examples_root, &dir) {
        out.push_str(&format!("\n{}\n", md.trim_end()));
        if let Some(tf) = tf {
            out.push_str(&format!("\n```terraform\n{}\n```\n", tf.trim_end()));
        }
    }
    out.push('\n');
    let mut nested = Vec::new();
    render_block(&schema.block, &[], &mut out, &mut nested);
    for n in nested {
        out.push_str(&n);
    }
    if let Some(imp) = read_example(examples_root, &format!("{dir}/import.sh")) {
        out.push_str(&format!(
            "\n## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}\n```\n",
            imp.trim_end()
        ));
    }
    out
}

/// Render every page of `docs/`.
pub fn render_all(examples_root: &Path) -> Vec<Page> {
    let provider = crate::provider::provider_schema();
    let mut index = String::from(
        "---\npage_title: \"chartreg Provider\"\ndescription: |-\n  Manages Helm chart registries (classic Helm repositories and OCI registries) as code.\n---\n\n# chartreg Provider\n\n",
    );
    index.push_str(provider.block.description.content.trim());
    index.push_str("\n\nEnvironment: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` are honoured for registry traffic, and `SSL_CERT_FILE` (or `SSL_CERT_DIR`) replaces the system's trusted root bundle, as in OpenSSL-based tools. `TF_LOG=debug` (or `TF_LOG_PROVIDER=debug`) shows the provider's log lines; secrets are never logged.\n");
    index.push_str("\nRetries: a registry request that fails for a transient reason (connection refused or reset, timeout, an answer cut short while it downloads, HTTP 408, 429 or 5xx except 501 and 505) is retried up to `max_retries` times, the download included. Between attempts chartreg waits what the registry asks in `Retry-After` (seconds or an HTTP-date), else an exponential back-off with jitter (0.1-0.2 s, doubling up to 10 s). A `Retry-After` longer than `request_timeout` is not waited for: the request fails at once, saying when the registry asked to be retried. Other failures (other 4xx, DNS, TLS trust, redirects to a scheme other than http and https) are never retried. One request, retries and waits included, ends within `(max_retries + 1) × request_timeout`. Interrupting Terraform (Ctrl-C, or a SIGINT to the terraform process) cancels the registry requests in flight at once; a registration whose creation is interrupted is not created.\n");
    if let Some(ex) = read_example(examples_root, "provider/provider.tf") {
        index.push_str(&format!(
            "\n## Example Usage\n\n```terraform\n{}\n```\n",
            ex.trim_end()
        ));
    }
    index.push('\n');
    let mut nested = Vec::new();
    render_block(&provider.block, &[], &mut index, &mut nested);
    for n in nested {
        index.push_str(&n);
    }
    let mut pages = vec![Page {
        path: "index.md".into(),
        content: index,
    }];
    pages.extend(object_pages(
        "resources",
        &crate::resources::all(),
        examples_root,
        "Registries",
    ));
    pages.extend(object_pages(
        "data-sources",
        &crate::data_sources::all(),
        examples_root,
        "Charts",
    ));
    pages
}

/// One page per object type of a list the provider serves.
fn object_pages<T: ?Sized>(
    kind: &str,
    objects: &[ObjectType<T>],
    examples_root: &Path,
    subcategory: &str,
) -> Vec<Page> {
    objects
        .iter()
        .map(|o| Page {
            path: format!("{kind}/{}.md", o.name),
            content: render_object(
                kind,
                &o.full_name(),
                &(o.schema)(),
                examples_root,
                subcategory,
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tf_provider::map;

    use super::*;
    use crate::schema_util::{attr, block, schema_with_blocks, secret, C, T};

    /// A schema shaped like `chartreg_oci_registry` with the `ecr {}` block of issue 10.
    fn with_ecr_block() -> Schema {
        let mut ecr = block(
            Nesting::AtMostOne,
            "Amazon ECR authentication.",
            map! {
                "region" => attr(T::String, C::Optional, "AWS region."),
                "secret_access_key" => secret(T::String, C::Optional, "Secret key."),
                "role_arn" => attr(T::String, C::Optional, "Role to assume."),
                "token_expires" => attr(T::String, C::Computed, "When the token expires.")
            },
        );
        if let tf_provider::schema::NestedBlock::Optional(b) = &mut ecr {
            b.blocks.insert(
                "tags".into(),
                block(
                    Nesting::List,
                    "Session tags.",
                    map! {
                        "key" => attr(T::String, C::Required, "Tag key.")
                    },
                ),
            );
        }
        schema_with_blocks(
            "A registry.",
            map! {
                "name" => attr(T::String, C::Required, "Name."),
                "charts" => attr(T::Map(Box::new(T::Object(map! { "name" => T::String }))), C::Computed, "Charts.")
            },
            map! {
                "ecr" => ecr,
                "target" => block(Nesting::Single, "Where to.", map! {
                    "host" => attr(T::String, C::Required, "Host.")
                })
            },
        )
    }

    #[test]
    fn nested_blocks_are_rendered_registry_style() {
        let page = render_object(
            "resources",
            "chartreg_x",
            &with_ecr_block(),
            Path::new("/nonexistent"),
            "Registries",
        );
        let schema = &page[page.find("## Schema").unwrap()..];
        let expected = "## Schema

### Required

- `name` (String) Name.
- `target` (Block) Where to. (see [below for nested schema](#nestedblock--target))

### Optional

- `ecr` (Block List, Max: 1) Amazon ECR authentication. (see [below for nested schema](#nestedblock--ecr))

### Read-Only

- `charts` (Map of Object) Charts. (see [below for nested schema](#nestedatt--charts))

<a id=\"nestedblock--target\"></a>
### Nested Schema for `target`

Required:

- `host` (String) Host.

<a id=\"nestedblock--ecr\"></a>
### Nested Schema for `ecr`

Optional:

- `region` (String) AWS region.
- `role_arn` (String) Role to assume.
- `secret_access_key` (String, Sensitive) Secret key.
- `tags` (Block List) Session tags. (see [below for nested schema](#nestedblock--ecr--tags))

Read-Only:

- `token_expires` (String) When the token expires.

<a id=\"nestedblock--ecr--tags\"></a>
### Nested Schema for `ecr.tags`

Required:

- `key` (String) Tag key.

<a id=\"nestedatt--charts\"></a>
### Nested Schema for `charts`

Read-Only:

- `name` (String)
";
        assert_eq!(schema, expected, "\n{schema}");
    }

    /// Every object the provider serves gets a page, named after the provider's own list.
    #[test]
    fn pages_follow_the_provider_lists() {
        let pages = render_all(Path::new("/nonexistent"));
        let paths: Vec<_> = pages.iter().map(|p| p.path.as_str()).collect();
        let mut expected = vec!["index.md".to_string()];
        expected.extend(
            crate::resources::all()
                .iter()
                .map(|o| format!("resources/{}.md", o.name)),
        );
        expected.extend(
            crate::data_sources::all()
                .iter()
                .map(|o| format!("data-sources/{}.md", o.name)),
        );
        assert_eq!(paths, expected);
    }
}
