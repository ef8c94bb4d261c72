//! Import IDs are validated exactly as configuration, the cache refuses any path that is not a
//! plain child of `cache_dir`, and plan refuses what configuration cannot mean (issue 7, points 1,
//! 7, 8 and part of 14).
//!
//! Every workspace has a `box/` holding the provider's explicit `cache_dir` (`box/cache`) and a
//! sentinel directory next to it (`box/sentinel/keep`); whatever a case does, `box/` must hold
//! exactly what it held before, outside `box/cache`.
//!
//! - `import_names_helm`, `import_names_oci`: import IDs whose name escapes the cache
//!   (`../..`, `../../sentinel`, the sentinel's absolute path, `/`, `.`, `a/b`) or whose base paths
//!   are invalid are refused with "Invalid Import ID" and leave nothing in state; import + apply +
//!   destroy leave the sentinel intact. An accepted name that could reach outside the workspace
//!   (`/`) is dropped with `state rm`, never destroyed.
//! - `cache_wall_legacy_state`: a state written before the fix (names `../..` and an absolute
//!   path) is refreshed and destroyed: the cache refuses the paths (a warning), the sentinel stays.
//! - `null_required`: `name = null` / `endpoint = null` (literal, or from a null variable) are
//!   refused at plan, on the attribute.
//! - `empty_credentials`: `username = ""` with a password, `password = ""` with a username: refused
//!   on the empty one; both empty is anonymous access.
//! - `null_base_path`: `base_content_paths = ["charts", null]` is refused on `base_content_paths`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::Trial;

use super::{error_count, expect_error_on, in_resource, q, HELM, OCI};
use crate::harness::{self, ensure, TestResult, Testbed, Tf, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    harness::scenarios(
        tb,
        "security::import_cache",
        &[
            ("import_names_helm", import_names_helm),
            ("import_names_oci", import_names_oci),
            ("cache_wall_legacy_state", cache_wall_legacy_state),
            ("null_required", null_required),
            ("empty_credentials", empty_credentials),
            ("null_base_path", null_base_path),
        ],
    )
}

// ------------------------------------------------------------------ helpers

/// A workspace's `box/`: `cache/` (the provider's `cache_dir`) and `sentinel/keep` next to it.
struct SandBox {
    root: PathBuf,
    cache: PathBuf,
    sentinel: PathBuf,
    before: BTreeMap<PathBuf, Vec<u8>>,
}

impl SandBox {
    fn new(tf: &Tf) -> TestResult<SandBox> {
        let root = tf.dir.join("box");
        let cache = root.join("cache");
        let sentinel = root.join("sentinel");
        let io = |e: std::io::Error| format!("{}: {e}", root.display());
        std::fs::create_dir_all(&cache).map_err(io)?;
        std::fs::create_dir_all(sentinel.join("inner")).map_err(io)?;
        std::fs::write(sentinel.join("keep"), "precious\n").map_err(io)?;
        std::fs::write(sentinel.join("inner/keep"), "precious too\n").map_err(io)?;
        let mut b = SandBox {
            root,
            cache,
            sentinel,
            before: BTreeMap::new(),
        };
        b.before = b.outside_cache();
        Ok(b)
    }

    /// The provider block with `cache_dir` set to `box/cache`.
    fn provider(&self) -> String {
        format!(
            "provider \"chartreg\" {{\n  cache_dir = {}\n}}\n\n",
            q(&self.cache.display().to_string())
        )
    }

    /// Every file and directory under `box/` but outside `box/cache`, with the file contents.
    fn outside_cache(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(d: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(rd) = std::fs::read_dir(d) else { return };
            for e in rd.flatten() {
                let p = e.path();
                if p == skip {
                    continue;
                }
                let ft = e.file_type().ok();
                if ft.is_some_and(|t| t.is_dir()) {
                    out.insert(p.clone(), b"<dir>".to_vec());
                    walk(&p, skip, out);
                } else {
                    out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root, &self.cache, &mut out);
        out
    }

    /// `box/` outside the cache is exactly as it was, and `cache_dir` itself is still there.
    fn untouched(&self, ctx: &str) -> TestResult {
        let now = self.outside_cache();
        ensure(now == self.before, || {
            let shown = |m: &BTreeMap<PathBuf, Vec<u8>>| {
                m.keys()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "{ctx}: files outside cache_dir changed\n  before: {}\n  after:  {}",
                shown(&self.before),
                shown(&now)
            )
        })?;
        ensure(self.cache.is_dir(), || {
            format!("{ctx}: cache_dir {} was removed", self.cache.display())
        })
    }
}

/// `terraform state list` (empty without a state file).
fn state_list(tf: &Tf) -> TestResult<String> {
    if !tf.dir.join("terraform.tfstate").exists() {
        return Ok(String::new());
    }
    Ok(tf
        .run_ok(&["state", "list", "-no-color"])?
        .stdout
        .trim()
        .to_string())
}

// ------------------------------------------------------------------ import_names

/// How an import ID's name relates to the sandbox.
#[derive(Clone, Copy, PartialEq)]
enum Aim {
    /// Resolves to the sentinel or its parent: an accepted import is followed by apply and
    /// destroy, so a regression shows as a destroyed sentinel.
    Sentinel,
    /// Could reach outside the workspace (`/`): an accepted import is dropped with `state rm`.
    Elsewhere,
}

/// Import each of `ids` into `addr`: each must fail with "Invalid Import ID" naming `what`, leave
/// nothing in state and touch nothing outside the cache. Then apply + destroy `cfg`.
fn refuse_imports(
    tf: &Tf,
    sandbox: &SandBox,
    cfg: &str,
    addr: &str,
    ids: &[(String, &str, Aim)],
) -> TestResult {
    tf.write(cfg);
    for (id, what, aim) in ids {
        let out = tf.run(&["import", "-input=false", "-no-color", addr, id]);
        if out.success() {
            let accepted = format!("import {id:?} was accepted:\n{out}");
            if *aim == Aim::Elsewhere {
                let _ = tf.state_rm(addr);
                return Err(accepted);
            }
            // Show what the accepted ID does: the next apply replaces it (its name differs).
            let apply = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
            let _ = tf.destroy();
            let damage = sandbox.untouched(&format!("after importing {id:?} and applying"));
            return Err(format!(
                "{accepted}\n{}\n--- apply ---\n{apply}",
                damage.err().unwrap_or_default()
            ));
        }
        let block = out
            .diag_blocks()
            .into_iter()
            .find(|b| b.starts_with("Error: Invalid Import ID"))
            .ok_or_else(|| format!("import {id:?}: no \"Invalid Import ID\" error:\n{out}"))?;
        // Terraform wraps long details: compare with white space collapsed.
        let flat = block.split_whitespace().collect::<Vec<_>>().join(" ");
        ensure(flat.contains(what), || {
            format!("import {id:?}: the error does not name `{what}`:\n{block}")
        })?;
        let warnings = out
            .diag_blocks()
            .into_iter()
            .filter(|b| b.starts_with("Warning: ") && !b.contains("development overrides"))
            .count();
        ensure(warnings == 0, || {
            format!("import {id:?}: expected errors only:\n{out}")
        })?;
        let list = state_list(tf)?;
        ensure(list.is_empty(), || {
            format!("import {id:?} left state behind: {list}")
        })?;
        sandbox.untouched(&format!("after import {id:?}"))?;
    }
    tf.apply()?;
    tf.plan_is_empty()?;
    tf.destroy()?;
    sandbox.untouched("after apply + destroy")?;
    ensure(state_list(tf)?.is_empty(), || "state not empty".into())
}

/// Names that escape the cache, with `endpoint`; `/` gets `unreachable` instead, so that an
/// accepted import reads nothing and writes nothing (the state is then dropped, not destroyed).
fn name_cases(
    sandbox: &SandBox,
    endpoint: &str,
    unreachable: &str,
) -> Vec<(String, &'static str, Aim)> {
    let abs = sandbox.sentinel.display().to_string();
    vec![
        (
            format!("../..={endpoint}"),
            "Invalid Registry Name (name): name \"",
            Aim::Sentinel,
        ),
        (
            format!("../../sentinel={endpoint}"),
            "Invalid Registry Name (name): name \"",
            Aim::Sentinel,
        ),
        (
            format!("{abs}={endpoint}"),
            "Invalid Registry Name (name): name \"",
            Aim::Sentinel,
        ),
        (
            format!("/={unreachable}"),
            "Invalid Registry Name (name): name \"",
            Aim::Elsewhere,
        ),
        (
            format!(".={endpoint}"),
            "Invalid Registry Name (name): name \"",
            Aim::Sentinel,
        ),
        (
            format!("a/b={endpoint}"),
            "Invalid Registry Name (name): name \"",
            Aim::Sentinel,
        ),
    ]
}

/// After a failure: destroy only a registration that the configuration named (`ok`).
fn cleanup(tf: &Tf, addr: &str) {
    if tf
        .resource_attrs(addr)
        .is_ok_and(|a| a["name"].as_str() == Some("ok"))
    {
        let _ = tf.destroy();
    }
}

fn import_names_helm(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let sandbox = SandBox::new(&tf)?;
    let cfg = format!(
        "{}resource {HELM:?} \"x\" {{\n  name     = \"ok\"\n  endpoint = {}\n}}\n",
        sandbox.provider(),
        q(&tb.helm.http)
    );
    let mut ids = name_cases(&sandbox, &tb.helm.http, "http://127.0.0.1:1/x");
    ids.push(("ok=ftp://127.0.0.1/x".into(), "endpoint", Aim::Sentinel));
    let addr = format!("{HELM}.x");
    let r = refuse_imports(&tf, &sandbox, &cfg, &addr, &ids);
    if r.is_err() {
        cleanup(&tf, &addr);
    }
    r
}

fn import_names_oci(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let sandbox = SandBox::new(&tf)?;
    let ep = format!("http://{}", tb.oci.plain);
    let cfg = format!(
        "{}resource {OCI:?} \"x\" {{\n  name               = \"ok\"\n  endpoint           = {}\n  base_content_paths = [\"charts\"]\n}}\n",
        sandbox.provider(),
        q(&ep)
    );
    let mut ids = name_cases(&sandbox, &format!("{ep},charts"), "http://127.0.0.1:1");
    ids.extend([
        (
            format!("ok={ep},../charts"),
            "(base_content_paths[0])",
            Aim::Sentinel,
        ),
        (
            format!("ok={ep},Charts"),
            "(base_content_paths[0])",
            Aim::Sentinel,
        ),
        (
            format!("ok={ep},charts,,other"),
            "(base_content_paths[1])",
            Aim::Sentinel,
        ),
        ("ok=ftp://127.0.0.1/x".into(), "endpoint", Aim::Sentinel),
    ]);
    let addr = format!("{OCI}.x");
    let r = refuse_imports(&tf, &sandbox, &cfg, &addr, &ids);
    if r.is_err() {
        cleanup(&tf, &addr);
    }
    r
}

// ------------------------------------------------------------------ cache_wall_legacy_state

/// Rewrites `name` (and `id`) of every resource instance in the workspace's local state, as an
/// import by an earlier release could have left them.
fn rewrite_state_names(tf: &Tf, names: &[(&str, &str)]) -> TestResult {
    let path = tf.dir.join("terraform.tfstate");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut st: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("state is not JSON: {e}"))?;
    for r in st["resources"]
        .as_array_mut()
        .ok_or("state has no resources")?
    {
        let rtype = r["type"].as_str().unwrap_or_default().to_string();
        let Some((_, name)) = names.iter().find(|(t, _)| *t == rtype) else {
            continue;
        };
        for i in r["instances"].as_array_mut().into_iter().flatten() {
            let a = &mut i["attributes"];
            a["name"] = (*name).into();
            a["id"] = (*name).into();
            // Forget the digests so that the next refresh stores what it downloads.
            for d in ["index_digest", "catalog_digest"] {
                if a.get(d).is_some() {
                    a[d] = "".into();
                }
            }
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&st).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn cache_wall_legacy_state(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let sandbox = SandBox::new(&tf)?;
    let abs = sandbox.sentinel.display().to_string();
    let resources = format!(
        "resource {HELM:?} \"h\" {{\n  name     = \"h\"\n  endpoint = {}\n}}\n\nresource {OCI:?} \"o\" {{\n  name               = \"o\"\n  endpoint           = {}\n  base_content_paths = [\"charts\"]\n}}\n",
        q(&tb.helm.http),
        q(&format!("http://{}", tb.oci.plain))
    );
    tf.write(&format!("{}{resources}", sandbox.provider()));
    tf.apply()?;
    // An earlier release accepted these names on import.
    rewrite_state_names(&tf, &[(HELM, "../.."), (OCI, &abs)])?;
    // Refresh writes the index and blobs: the cache refuses the paths, the state keeps the index.
    let out = tf.refresh_only()?;
    sandbox.untouched("after a refresh of the legacy state")?;
    ensure(out.contains("Chart Cache Not Writable"), || {
        format!("the refused cache paths are not reported:\n{out}")
    })?;
    // Destroy (the configuration gone) forgets both; the cache refuses to remove their paths.
    tf.write(&sandbox.provider());
    let out = tf.destroy()?;
    sandbox.untouched("after destroying the legacy state")?;
    ensure(out.contains("Chart Cache Not Removed"), || {
        format!("the refused cache removal is not reported:\n{out}")
    })?;
    ensure(state_list(&tf)?.is_empty(), || "state not empty".into())
}

// ------------------------------------------------------------------ null_required

fn null_required(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    // TEST-NET-1: never routed; plan must not need it.
    let helm_ep = q("http://192.0.2.1/charts");
    let oci_ep = q("192.0.2.1");
    let literal = format!(
        r#"resource {HELM:?} "no_name" {{
  name     = null
  endpoint = {helm_ep}
}}

resource {HELM:?} "no_endpoint" {{
  name     = "no-endpoint"
  endpoint = null
}}

resource {OCI:?} "no_name" {{
  name     = null
  endpoint = {oci_ep}
}}

resource {OCI:?} "no_endpoint" {{
  name     = "no-endpoint"
  endpoint = null
}}
"#
    );
    tf.write(&literal);
    let validate = tf.run(&["validate", "-no-color"]);
    let plan = tf.plan(&[]);
    for out in [&validate, &plan] {
        ensure(!out.success(), || format!("expected a failure:\n{out}"))?;
        for rtype in [HELM, OCI] {
            let b = expect_error_on(out, "", &in_resource(rtype, "no_name"), "name")?;
            ensure(b.contains("null"), || {
                format!("the error does not say null:\n{b}")
            })?;
            expect_error_on(out, "", &in_resource(rtype, "no_endpoint"), "endpoint")?;
        }
        let n = error_count(out);
        ensure(n == 4, || format!("expected 4 errors, got {n}:\n{out}"))?;
    }
    // A null from a variable is known at plan time only: refused there.
    let from_var = format!(
        r#"variable "nothing" {{
  type    = string
  default = null
}}

resource {HELM:?} "var_name" {{
  name     = var.nothing
  endpoint = {helm_ep}
}}

resource {OCI:?} "var_endpoint" {{
  name     = "var-endpoint"
  endpoint = var.nothing
}}
"#
    );
    tf.write(&from_var);
    let plan = tf.plan(&[]);
    ensure(!plan.success(), || format!("expected a failure:\n{plan}"))?;
    expect_error_on(&plan, "", &in_resource(HELM, "var_name"), "name")?;
    expect_error_on(&plan, "", &in_resource(OCI, "var_endpoint"), "endpoint")?;
    let n = error_count(&plan);
    ensure(n == 2, || format!("expected 2 errors, got {n}:\n{plan}"))?;
    ensure(state_list(&tf).unwrap_or_default().is_empty(), || {
        "state not empty".into()
    })
}

// ------------------------------------------------------------------ empty_credentials

fn empty_credentials(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let helm_ep = q("http://192.0.2.1/charts");
    let oci_ep = q("192.0.2.1");
    let res = |rtype: &str, name: &str, ep: &str, creds: &str| {
        format!(
            "resource {rtype:?} {name:?} {{\n  name     = {}\n  endpoint = {ep}\n{creds}}}\n\n",
            q(&name.replace('_', "-"))
        )
    };
    let no_user = "  username = \"\"\n  password = \"s3cret\"\n";
    let no_pass = "  username = \"ci\"\n  password = \"\"\n";
    let cfg = [
        res(HELM, "no_user", &helm_ep, no_user),
        res(HELM, "no_pass", &helm_ep, no_pass),
        res(OCI, "no_user", &oci_ep, no_user),
        res(OCI, "no_pass", &oci_ep, no_pass),
    ]
    .concat();
    tf.write(&cfg);
    let validate = tf.run(&["validate", "-no-color"]);
    let plan = tf.plan(&[]);
    for out in [&validate, &plan] {
        ensure(!out.success(), || format!("expected a failure:\n{out}"))?;
        for rtype in [HELM, OCI] {
            expect_error_on(out, "", &in_resource(rtype, "no_user"), "username")?;
            expect_error_on(out, "", &in_resource(rtype, "no_pass"), "password")?;
        }
        ensure(!out.contains("s3cret"), || {
            format!("the password is echoed:\n{out}")
        })?;
        let n = error_count(out);
        ensure(n == 4, || format!("expected 4 errors, got {n}:\n{out}"))?;
    }
    // Both empty: anonymous access, as Helm takes it.
    let both = "  username = \"\"\n  password = \"\"\n";
    tf.write(
        &[
            res(HELM, "anon", &helm_ep, both),
            res(OCI, "anon", &oci_ep, both),
        ]
        .concat(),
    );
    let out = tf.plan(&["-detailed-exitcode"]);
    ensure(out.code == 2, || {
        format!("both credentials empty must plan (anonymous access):\n{out}")
    })
}

// ------------------------------------------------------------------ null_base_path

fn null_base_path(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let cfg = format!(
        "resource {OCI:?} \"paths\" {{\n  name               = \"paths\"\n  endpoint           = \"192.0.2.1\"\n  base_content_paths = [\"charts\", null]\n}}\n"
    );
    tf.write(&cfg);
    let validate = tf.run(&["validate", "-no-color"]);
    let plan = tf.plan(&[]);
    for out in [&validate, &plan] {
        ensure(!out.success(), || format!("expected a failure:\n{out}"))?;
        let b = expect_error_on(out, "", &in_resource(OCI, "paths"), "base_content_paths")?;
        ensure(b.contains("null"), || {
            format!("the error does not say null:\n{b}")
        })?;
        let n = error_count(out);
        ensure(n == 1, || format!("expected 1 error, got {n}:\n{out}"))?;
    }
    Ok(())
}
