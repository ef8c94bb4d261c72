//! Issue 13: the provider installed the way its users install it, not through `dev_overrides`.
//!
//! One release is made per run ([`release`]): a throw-away GPG key, `scripts/release.sh` on the
//! provider binary cargo built for these tests (or `$CHARTREG_RELEASE_BINARY`, e.g. the release
//! build of `make release`; no second build either way), then `scripts/mirror.sh`. The trials
//! read it; the ones that tamper with archives work on copies.
//!
//! - `release`: the `dist/` layout, the signature, the manifest, the mirror trees the scripts wrote
//!   and what the scripts refuse.
//! - `mirrors`: `terraform init` from the packed filesystem mirror and from the network mirror
//!   (nginx, HTTPS with the test CA, trusted through `SSL_CERT_FILE` as Terraform reads it on
//!   Linux), the hashes it locks, and the archives it refuses.
//! - `module`: `examples/modules/chart-catalog` called from a root configuration (through the
//!   development build, like the data-source tests: the module is under test, not the install).
//! - `pipeline`: `examples/pipeline/ci.sh`, the CI recipe of `docs/guides/ci-pipeline.md`, run as a
//!   pull-request job and a merge job.
//!
//! Every workspace here has its own CLI configuration ([`Tf::with_cli_config`]) naming a mirror
//! and nothing else: no `dev_overrides`, no `direct`, no network but the test's own servers.

mod mirrors;
mod module;
mod pipeline;
mod release;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use libtest_mimic::Trial;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{self, ensure, run_cmd, HelmRepoServer, TestResult, Testbed, Tf, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut trials = Vec::new();
    trials.extend(release::tests(tb));
    trials.extend(mirrors::tests(tb));
    trials.extend(pipeline::tests(tb));
    trials.extend(module::tests(tb));
    trials
}

pub const PROJECT: &str = "terraform-provider-chartreg";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The only platform this machine builds (see the release matrix in README.md).
pub const PLATFORM: &str = "linux_amd64";
/// The source address `chartreg/chartreg`, in full, as lock files and mirrors spell it.
pub const ADDRESS: &str = "registry.terraform.io/chartreg/chartreg";

/// The release of this run and what the test computed from it on its own.
pub struct Release {
    pub dist: PathBuf,
    /// `filesystem/` and `network/`, as `scripts/mirror.sh` wrote them.
    pub mirror: PathBuf,
    /// The binary that was packaged.
    pub binary: PathBuf,
    /// The GNUPGHOME holding the throw-away key (secret and public).
    pub gnupghome: PathBuf,
    pub fingerprint: String,
    /// `h1:` of the archive, computed here from the zip entries (Terraform's dirhash "h1" scheme).
    pub h1: String,
    /// sha256 hex of the archive, computed here.
    pub zip_sha256: String,
}

impl Release {
    pub fn zip_name(&self) -> String {
        format!("{PROJECT}_{VERSION}_{PLATFORM}.zip")
    }
    pub fn zip(&self) -> PathBuf {
        self.dist.join(self.zip_name())
    }
    pub fn sums(&self) -> PathBuf {
        self.dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS"))
    }
    pub fn filesystem_mirror(&self) -> PathBuf {
        self.mirror.join("filesystem")
    }
    pub fn network_tree(&self) -> PathBuf {
        self.mirror.join("network")
    }
}

static RELEASE: OnceLock<Result<Release, String>> = OnceLock::new();

/// The release of this run, made by the first trial that asks (the others wait for it).
pub fn release(tb: &Testbed) -> TestResult<&'static Release> {
    RELEASE
        .get_or_init(|| make_release(tb))
        .as_ref()
        .map_err(|e| format!("[release fixture] {e}"))
}

/// `bash scripts/<script>` with a clean environment for the release scripts plus `envs`.
pub fn script(name: &str, envs: &[(&str, &Path)]) -> Command {
    let mut c = Command::new("bash");
    c.arg(harness::repo_dir().join("scripts").join(name));
    for k in [
        "GPG_FINGERPRINT",
        "GPG_PRIVATE_KEY",
        "GPG_PASSPHRASE",
        "GNUPGHOME",
        "CHARTREG_RELEASE_TARGETS",
        "CHARTREG_RELEASE_BINARY",
        "CHARTREG_DIST",
        "CHARTREG_MIRROR",
        "CHARTREG_MIRROR_HOSTNAME",
        "SOURCE_DATE_EPOCH",
    ] {
        c.env_remove(k);
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

/// Stops the gpg-agent of one GNUPGHOME (gpg starts it for key generation and signing).
pub struct AgentGuard(pub PathBuf);

impl Drop for AgentGuard {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.0)
            .output();
    }
}

/// `gpg --batch` in `home`.
pub fn gpg(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.env("GNUPGHOME", home).arg("--batch");
    c
}

/// A GNUPGHOME (mode 0700) under `dir`.
pub fn gnupg_home(dir: &Path) -> TestResult<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    Ok(dir.to_path_buf())
}

fn make_release(tb: &Testbed) -> TestResult<Release> {
    let t0 = std::time::Instant::now();
    let root = tb.scratch_dir("release");
    let gnupghome = gnupg_home(&root.join("gnupg"))?;
    let _agent = AgentGuard(gnupghome.clone());
    // RSA: the key type the Terraform Registry accepts for provider signing keys.
    run_cmd(gpg(&gnupghome).args([
        "--passphrase",
        "",
        "--quick-gen-key",
        "chartreg acceptance throw-away key <acceptance@chartreg.invalid>",
        "rsa2048",
        "sign",
        "1d",
    ]))?;
    let out = run_cmd(gpg(&gnupghome).args(["--with-colons", "--list-secret-keys"]))?;
    let fingerprint = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .ok_or("no fingerprint in gpg --list-secret-keys")?;
    let binary = match std::env::var_os("CHARTREG_RELEASE_BINARY") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => harness::terraform::provider_dir().join(PROJECT),
    };
    let dist = root.join("dist");
    let mirror = root.join("mirror");
    run_cmd(
        script(
            "release.sh",
            &[
                ("GNUPGHOME", &gnupghome),
                ("CHARTREG_DIST", &dist),
                ("CHARTREG_RELEASE_BINARY", &binary),
            ],
        )
        .env("GPG_FINGERPRINT", &fingerprint),
    )?;
    run_cmd(&mut script(
        "mirror.sh",
        &[("CHARTREG_DIST", &dist), ("CHARTREG_MIRROR", &mirror)],
    ))?;
    let zip = dist.join(format!("{PROJECT}_{VERSION}_{PLATFORM}.zip"));
    let bytes = std::fs::read(&zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    let zip_sha256 = hex::encode(Sha256::digest(&bytes));
    let h1 = zip_listing(tb, &zip)?["h1"]
        .as_str()
        .ok_or("no h1 in the zip listing")?
        .to_string();
    if harness::verbose() {
        eprintln!(
            "install: release fixture in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(Release {
        dist,
        mirror,
        binary,
        gnupghome,
        fingerprint,
        h1,
        zip_sha256,
    })
}

/// What a zip holds, read with Python's zipfile: `{"entries": [{name, mode, size, sha256}],
/// "h1": …}`, `h1` computed as Terraform's `dirhash.Hash1` does over the entries (for each file
/// in name order `"<sha256 hex>  <name>\n"`, then base64 of the sha256 of that summary).
pub fn zip_listing(tb: &Testbed, zip: &Path) -> TestResult<Value> {
    const PY: &str = r#"
import base64, hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    entries = [{"name": i.filename, "mode": i.external_attr >> 16, "size": i.file_size,
                "sha256": hashlib.sha256(z.read(i)).hexdigest()} for i in z.infolist()]
summary = "".join(f"{e['sha256']}  {e['name']}\n" for e in sorted(entries, key=lambda e: e["name"])
                  if not e["name"].endswith("/"))
h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
print(json.dumps({"entries": entries, "h1": h1}))
"#;
    let out = run_cmd(tb.python().args(["-c", PY]).arg(zip))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("zip listing: {e}"))
}

/// A zip laid out like the release's whose `terraform-provider-chartreg_v<version>` is another
/// program (a small script standing for a tampered build: it is refused before it could run).
pub fn write_tampered_zip(tb: &Testbed, out: &Path) -> TestResult {
    const PY: &str = r##"
import sys, zipfile
info = zipfile.ZipInfo(sys.argv[2], date_time=(2020, 1, 1, 0, 0, 0))
info.create_system, info.external_attr = 3, 0o100755 << 16
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr(info, "#!/bin/sh\necho 'not the released provider' >&2\nexit 1\n")
"##;
    run_cmd(
        tb.python()
            .args(["-c", PY])
            .arg(out)
            .arg(format!("{PROJECT}_v{VERSION}")),
    )
    .map(drop)
}

// ------------------------------------------------------------------ workspaces

/// `provider_installation` with the packed filesystem mirror at `path` and nothing else.
pub fn filesystem_mirror_config(path: &Path) -> String {
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = {}\n    include = [\"{ADDRESS}\"]\n  }}\n}}\n",
        q(&path.display().to_string())
    )
}

/// `provider_installation` with the network mirror at `url` and nothing else.
pub fn network_mirror_config(url: &str) -> String {
    format!(
        "provider_installation {{\n  network_mirror {{\n    url     = {}\n    include = [\"{ADDRESS}\"]\n  }}\n}}\n",
        q(url)
    )
}

/// An HCL string literal.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// `required_providers` pinning chartreg to this release.
pub fn required_providers() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    chartreg = {{\n      source  = \"chartreg/chartreg\"\n      version = \"{VERSION}\"\n    }}\n  }}\n}}\n"
    )
}

/// A workspace installing from the packed filesystem mirror at `path`.
pub fn tf_filesystem(tb: &Testbed, cli: &TfCli, path: &Path) -> Tf {
    Tf::with_cli_config(tb, cli, &filesystem_mirror_config(path))
}

/// A workspace installing from the network mirror at `url` (HTTPS, trusting the test CA).
pub fn tf_network(tb: &Testbed, cli: &TfCli, url: &str) -> Tf {
    let mut tf = Tf::with_cli_config(tb, cli, &network_mirror_config(url));
    tf.env("SSL_CERT_FILE", &tb.ca_cert.display().to_string());
    tf
}

/// Whether a command's output says `text`, however Terraform wrapped and boxed it.
pub fn said(o: &harness::TfOutput, text: &str) -> bool {
    let flat = |s: &str| {
        s.replace(['│', '╷', '╵'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    flat(&o.combined()).contains(&flat(text))
}

/// `terraform init -input=false -no-color` (not judged).
pub fn init(tf: &Tf) -> harness::TfOutput {
    tf.run(&["init", "-input=false", "-no-color"])
}

/// A dedicated nginx over HTTPS (test CA) serving a copy of `tree` at its root: a provider
/// network mirror. (It is the harness's dedicated static server; the Helm index it is seeded
/// with is not part of the mirror and nothing asks for it.)
pub fn serve_network_mirror(tb: &Testbed, name: &str, tree: &Path) -> TestResult<HelmRepoServer> {
    let srv = tb.try_spawn_helm_repo(name, true, false)?;
    copy_tree(tree, &srv.dir)?;
    Ok(srv)
}

/// The directory of the provider inside a network mirror tree or a packed filesystem mirror.
pub fn provider_dir_in(mirror_root: &Path) -> PathBuf {
    mirror_root.join(ADDRESS)
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) -> TestResult {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for e in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", src.display()))?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ the lock file

/// The chartreg entry of a workspace's `.terraform.lock.hcl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub version: String,
    pub constraints: Option<String>,
    pub hashes: Vec<String>,
}

/// Reads the `provider "registry.terraform.io/chartreg/chartreg"` block of the lock file in `dir`.
pub fn read_lock(dir: &Path) -> TestResult<Lock> {
    let path = dir.join(".terraform.lock.hcl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let head = format!("provider \"{ADDRESS}\" {{");
    let start = text
        .find(&head)
        .ok_or_else(|| format!("no {head} block in the lock file:\n{text}"))?;
    let body = &text[start + head.len()..];
    let body = &body[..body.find("\n}").unwrap_or(body.len())];
    let value = |key: &str| {
        body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let hashes = match body.find("hashes = [") {
        Some(i) => {
            let list = &body[i + "hashes = [".len()..];
            let list = &list[..list.find(']').unwrap_or(list.len())];
            list.split(',')
                .map(|h| h.trim().trim_matches('"').to_string())
                .filter(|h| !h.is_empty())
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Lock {
        version: value("version").ok_or_else(|| format!("no version in:\n{text}"))?,
        constraints: value("constraints"),
        hashes,
    })
}

/// A lock file holding `hashes` for this release, as `terraform init` writes it.
pub fn lock_file(hashes: &[String]) -> String {
    let mut s = format!(
        "provider \"{ADDRESS}\" {{\n  version     = \"{VERSION}\"\n  constraints = \"{VERSION}\"\n  hashes = [\n"
    );
    for h in hashes {
        s.push_str(&format!("    \"{h}\",\n"));
    }
    s.push_str("  ]\n}\n");
    s
}

/// The installed provider binary of a workspace after `init`.
pub fn installed_binary(tf: &Tf) -> PathBuf {
    tf.dir.join(format!(
        ".terraform/providers/{ADDRESS}/{VERSION}/{PLATFORM}/{PROJECT}_v{VERSION}"
    ))
}

/// The installed binary is byte for byte the packaged one.
pub fn expect_installed(tf: &Tf, rel: &Release) -> TestResult {
    let inst = installed_binary(tf);
    let got = std::fs::read(&inst).map_err(|e| format!("{}: {e}", inst.display()))?;
    let want = std::fs::read(&rel.binary).map_err(|e| e.to_string())?;
    ensure(Sha256::digest(&got) == Sha256::digest(&want), || {
        format!("{} is not the packaged binary", inst.display())
    })
}

/// A configuration with one registration on the shared plain-HTTP Helm repository: the installed
/// provider has to serve it.
pub fn registry_config(tb: &Testbed) -> String {
    format!(
        "{}\nresource \"chartreg_helm_registry\" \"public\" {{\n  name     = \"public\"\n  endpoint = {}\n}}\n",
        required_providers(),
        q(&tb.helm.http)
    )
}
