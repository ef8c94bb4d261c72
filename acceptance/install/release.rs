//! `make release` and `make mirror` (scripts/release.sh, scripts/mirror.sh): what they write, in
//! the Terraform Registry's layout, and what they refuse. One Terraform-independent trial each.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Trial;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    gnupg_home, gpg, provider_dir_in, release, script, zip_listing, ADDRESS, PLATFORM, PROJECT,
    VERSION,
};
use crate::harness::{self, ensure, run_cmd, TestResult, Testbed};

fn trial(tb: &Arc<Testbed>, name: &str, f: fn(&Testbed) -> TestResult) -> Trial {
    let tb = tb.clone();
    Trial::test(format!("install::release::{name}"), move || {
        f(&tb).map_err(|e| harness::redact(&e).into())
    })
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    vec![
        trial(tb, "dist_layout", dist_layout),
        trial(tb, "signature_verifies", signature_verifies),
        trial(tb, "mirror_trees", mirror_trees),
        trial(tb, "refuses_without_key", refuses_without_key),
        trial(tb, "refuses_unknown_target", refuses_unknown_target),
    ]
}

fn read(p: &Path) -> TestResult<Vec<u8>> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn names_in(dir: &Path) -> TestResult<BTreeSet<String>> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// dist/ holds exactly the Registry's four artifacts; the zip holds only the executable
/// `terraform-provider-chartreg_v<version>` (the packaged binary); the manifest is the
/// repository's; SHA256SUMS lists the zip and the manifest with their digests, in name order.
fn dist_layout(tb: &Testbed) -> TestResult {
    let rel = release(tb)?;
    let zip = rel.zip_name();
    let manifest = format!("{PROJECT}_{VERSION}_manifest.json");
    let sums = format!("{PROJECT}_{VERSION}_SHA256SUMS");
    let want: BTreeSet<String> = [
        zip.clone(),
        manifest.clone(),
        sums.clone(),
        format!("{sums}.sig"),
    ]
    .into_iter()
    .collect();
    let got = names_in(&rel.dist)?;
    ensure(got == want, || {
        format!("dist/ holds {got:?}, expected {want:?}")
    })?;

    let listing = zip_listing(tb, &rel.zip())?;
    let binary = hex::encode(Sha256::digest(read(&rel.binary)?));
    let entries = listing["entries"].as_array().cloned().unwrap_or_default();
    ensure(entries.len() == 1, || {
        format!("the zip must hold one file: {listing}")
    })?;
    let e = &entries[0];
    ensure(e["name"] == format!("{PROJECT}_v{VERSION}"), || {
        format!("zip entry: {e}")
    })?;
    ensure(e["mode"] == json!(0o100755), || {
        format!("zip entry mode: {e}")
    })?;
    ensure(e["sha256"] == binary, || {
        format!("the zip does not hold the packaged binary: {e}")
    })?;

    let m: Value = serde_json::from_slice(&read(&rel.dist.join(&manifest))?)
        .map_err(|e| format!("{manifest}: {e}"))?;
    let repo_manifest: Value = serde_json::from_slice(&read(
        &harness::repo_dir().join("terraform-registry-manifest.json"),
    )?)
    .map_err(|e| e.to_string())?;
    ensure(m == repo_manifest, || format!("{manifest}: {m}"))?;
    ensure(m["metadata"]["protocol_versions"] == json!(["6.0"]), || {
        format!("{manifest} must announce protocol 6.0: {m}")
    })?;

    let text = String::from_utf8(read(&rel.dist.join(&sums))?).map_err(|e| e.to_string())?;
    let mut want_lines = vec![
        format!("{}  {zip}", rel.zip_sha256),
        format!(
            "{}  {manifest}",
            hex::encode(Sha256::digest(read(&rel.dist.join(&manifest))?))
        ),
    ];
    want_lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    ensure(text == want_lines.join("\n") + "\n", || {
        format!("{sums}:\n{text}\nexpected:\n{}", want_lines.join("\n"))
    })
}

/// The detached signature verifies with the public key alone (as the Registry and a user
/// checking a download do), is binary (not armored), and a changed SHA256SUMS fails it.
fn signature_verifies(tb: &Testbed) -> TestResult {
    let rel = release(tb)?;
    let sig = rel.dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS.sig"));
    let sig_bytes = read(&sig)?;
    ensure(!sig_bytes.starts_with(b"-----BEGIN"), || {
        "the signature must be binary, as HashiCorp's are".into()
    })?;
    let dir = tb.scratch_dir("verify");
    let public = run_cmd(gpg(&rel.gnupghome).args(["--armor", "--export", &rel.fingerprint]))?;
    let home = gnupg_home(&dir.join("gnupg"))?;
    let key = dir.join("key.asc");
    std::fs::write(&key, &public.stdout).map_err(|e| e.to_string())?;
    run_cmd(gpg(&home).arg("--import").arg(&key))?;
    let out = run_cmd(
        gpg(&home)
            .args(["--status-fd", "1", "--verify"])
            .arg(&sig)
            .arg(rel.sums()),
    )?;
    let status = String::from_utf8_lossy(&out.stdout);
    ensure(
        status
            .lines()
            .any(|l| l.starts_with("[GNUPG:] VALIDSIG ") && l.contains(&rel.fingerprint)),
        || format!("no VALIDSIG by {}:\n{status}", rel.fingerprint),
    )?;
    // the same signature over sums that name another archive digest
    let mut forged = read(&rel.sums())?;
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let forged_path = dir.join("forged_SHA256SUMS");
    std::fs::write(&forged_path, forged).map_err(|e| e.to_string())?;
    let bad = gpg(&home)
        .arg("--verify")
        .arg(&sig)
        .arg(&forged_path)
        .output()
        .map_err(|e| e.to_string())?;
    ensure(!bad.status.success(), || {
        "a changed SHA256SUMS still verifies".into()
    })
}

/// `make mirror`: the packed filesystem mirror holds the released zip at
/// `<host>/chartreg/chartreg/`; the network tree has `index.json` listing the version and
/// `<version>.json` naming the archive by a relative URL with the `zh:` hash of SHA256SUMS.
fn mirror_trees(tb: &Testbed) -> TestResult {
    let rel = release(tb)?;
    let released = read(&rel.zip())?;
    let fs = provider_dir_in(&rel.filesystem_mirror());
    ensure(
        names_in(&fs)? == [rel.zip_name()].into_iter().collect(),
        || format!("{} holds {:?}", fs.display(), names_in(&fs)),
    )?;
    ensure(read(&fs.join(rel.zip_name()))? == released, || {
        "the filesystem mirror's zip is not the released one".into()
    })?;

    let net = provider_dir_in(&rel.network_tree());
    let index: Value = serde_json::from_slice(&read(&net.join("index.json"))?)
        .map_err(|e| format!("index.json: {e}"))?;
    ensure(index == json!({ "versions": { VERSION: {} } }), || {
        format!("index.json: {index}")
    })?;
    let version: Value = serde_json::from_slice(&read(&net.join(format!("{VERSION}.json")))?)
        .map_err(|e| format!("{VERSION}.json: {e}"))?;
    let sums = String::from_utf8(read(&rel.sums())?).map_err(|e| e.to_string())?;
    let published = sums
        .lines()
        .find_map(|l| l.strip_suffix(&format!("  {}", rel.zip_name())))
        .ok_or("the zip is not in SHA256SUMS")?;
    ensure(published == rel.zip_sha256, || "SHA256SUMS is wrong".into())?;
    let want = json!({ "archives": { PLATFORM: {
        "url": rel.zip_name(),
        "hashes": [format!("zh:{published}")],
    }}});
    ensure(version == want, || {
        format!("{VERSION}.json: {version}\nexpected {want}")
    })?;
    ensure(read(&net.join(rel.zip_name()))? == released, || {
        "the network mirror's zip is not the released one".into()
    })?;
    ensure(ADDRESS.starts_with("registry.terraform.io/"), || {
        ADDRESS.into()
    })
}

/// Without GPG_FINGERPRINT nothing is built or written and the previous dist/ stays as it was.
fn refuses_without_key(tb: &Testbed) -> TestResult {
    let rel = release(tb)?;
    let dir = tb.scratch_dir("release-nokey");
    let dist = dir.join("dist");
    super::copy_tree(&rel.dist, &dist)?;
    let before = names_in(&dist)?;
    let sums_before = read(&dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS")))?;
    let out = script(
        "release.sh",
        &[
            ("CHARTREG_DIST", &dist),
            ("CHARTREG_RELEASE_BINARY", &rel.binary),
            ("GNUPGHOME", &rel.gnupghome),
        ],
    )
    .output()
    .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(!out.status.success(), || {
        format!("release.sh succeeded without a key:\n{err}")
    })?;
    ensure(err.contains("GPG_FINGERPRINT is not set"), || {
        err.to_string()
    })?;
    ensure(names_in(&dist)? == before, || "dist/ changed".into())?;
    ensure(
        read(&dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS")))? == sums_before,
        || "dist/ changed".into(),
    )?;
    // a key that is not in the keyring is refused the same way, before anything is built
    let out = script(
        "release.sh",
        &[
            ("CHARTREG_DIST", &dist),
            ("CHARTREG_RELEASE_BINARY", &rel.binary),
            ("GNUPGHOME", &rel.gnupghome),
        ],
    )
    .env(
        "GPG_FINGERPRINT",
        "0000000000000000000000000000000000000000",
    )
    .output()
    .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(
        !out.status.success() && err.contains("no secret key"),
        || err.to_string(),
    )?;
    ensure(names_in(&dist)? == before, || "dist/ changed".into())
}

/// A target triple without a Terraform platform is refused by name; a known cross target maps
/// to its Terraform name before anything is built (the matrix README.md documents).
fn refuses_unknown_target(tb: &Testbed) -> TestResult {
    let rel = release(tb)?;
    let dist = tb.scratch_dir("release-target").join("dist");
    let out = script(
        "release.sh",
        &[("CHARTREG_DIST", &dist), ("GNUPGHOME", &rel.gnupghome)],
    )
    .env("GPG_FINGERPRINT", &rel.fingerprint)
    .env(
        "CHARTREG_RELEASE_TARGETS",
        "x86_64-unknown-linux-gnu riscv64gc-unknown-linux-gnu",
    )
    .output()
    .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(
        !out.status.success()
            && err.contains("target riscv64gc-unknown-linux-gnu has no Terraform platform"),
        || err.to_string(),
    )?;
    ensure(!dist.exists(), || "dist/ was written".into())?;
    // two triples for one platform
    let out = script(
        "release.sh",
        &[("CHARTREG_DIST", &dist), ("GNUPGHOME", &rel.gnupghome)],
    )
    .env("GPG_FINGERPRINT", &rel.fingerprint)
    .env(
        "CHARTREG_RELEASE_TARGETS",
        "x86_64-unknown-linux-gnu x86_64-unknown-linux-musl",
    )
    .output()
    .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(
        !out.status.success() && err.contains("are both linux_amd64"),
        || err.to_string(),
    )
}
