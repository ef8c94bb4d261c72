//! Documentation generator: renders `docs/` (Terraform Registry layout) from the provider's own
//! schemas plus the HCL under `examples/`. Run by `make docs` (`cargo run --bin chartreg-docs`).

use std::collections::BTreeMap;
use std::path::Path;

use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Schema};

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

fn render_attributes(schema: &Schema, out: &mut String, nested: &mut Vec<(String, String)>) {
    let attrs: BTreeMap<&String, &Attribute> = schema.block.attributes.iter().collect();
    let groups = [
        ("Required", AttributeConstraint::Required),
        ("Optional", AttributeConstraint::Optional),
        ("Read-Only", AttributeConstraint::Computed),
    ];
    out.push_str("## Schema\n");
    for (title, c) in groups {
        let members: Vec<_> = attrs
            .iter()
            .filter(|(_, a)| {
                a.constraint == c
                    || (c == AttributeConstraint::Optional
                        && a.constraint == AttributeConstraint::OptionalComputed)
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        out.push_str(&format!("\n### {title}\n\n"));
        for (name, a) in members {
            let mut kind = type_name(&a.attr_type);
            if a.sensitive {
                kind.push_str(", Sensitive");
            }
            let desc = a.description.content.trim();
            if let Some(fields) = object_fields(&a.attr_type) {
                let anchor = format!("nestedatt--{name}");
                out.push_str(&format!(
                    "- `{name}` ({kind}) {desc} (see [below for nested schema](#{anchor}))\n"
                ));
                let mut n = format!(
                    "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{name}`\n\nRead-Only:\n\n"
                );
                let sorted: BTreeMap<_, _> = fields.iter().collect();
                for (f, t) in sorted {
                    n.push_str(&format!("- `{f}` ({})\n", type_name(t)));
                }
                nested.push((name.to_string(), n));
            } else {
                out.push_str(&format!("- `{name}` ({kind}) {desc}\n"));
            }
        }
    }
}

fn read_example(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
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
    out.push('\n');
    let mut nested = Vec::new();
    render_attributes(schema, &mut out, &mut nested);
    for (_, n) in nested {
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
    render_attributes(&provider, &mut index, &mut nested);
    let mut pages = vec![Page {
        path: "index.md".into(),
        content: index,
    }];
    for (name, schema) in crate::resources::all_schemas() {
        pages.push(Page {
            path: format!("resources/{}.md", name.trim_start_matches("chartreg_")),
            content: render_object("resources", name, &schema, examples_root, "Registries"),
        });
    }
    for (name, schema) in crate::data_sources::all_schemas() {
        pages.push(Page {
            path: format!("data-sources/{}.md", name.trim_start_matches("chartreg_")),
            content: render_object("data-sources", name, &schema, examples_root, "Charts"),
        });
    }
    pages
}
