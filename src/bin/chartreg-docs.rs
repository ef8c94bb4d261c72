//! `chartreg-docs [--check] [DOCS_DIR] [EXAMPLES_DIR]`: writes the Terraform Registry docs from
//! the provider schema; with `--check`, fails when the files on disk differ (stale docs).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let check = if let Some(i) = args.iter().position(|a| a == "--check") {
        args.remove(i);
        true
    } else {
        false
    };
    let docs = PathBuf::from(args.first().cloned().unwrap_or_else(|| "docs".into()));
    let examples = PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "examples".into()));
    let mut stale = Vec::new();
    for page in chartreg::docs::render_all(&examples) {
        let path = docs.join(&page.path);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == page.content {
            continue;
        }
        if check {
            stale.push(page.path);
        } else {
            std::fs::create_dir_all(path.parent().unwrap())?;
            std::fs::write(&path, &page.content)?;
            println!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        anyhow::bail!(
            "docs/ is stale ({}): run `make docs` and commit the result",
            stale.join(", ")
        );
    }
    Ok(())
}
