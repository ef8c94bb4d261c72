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
        trial(tb, "matrix_from_prebuilt", matrix_from_prebuilt),
        trial(
            tb,
            "signs_with_key_from_environment",
            signs_with_key_from_environment,
        ),
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
    let mut want_lines = [
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

/// The first bytes of an executable of `platform` (format and CPU are all the script reads).
fn fake_executable(platform: &str) -> Vec<u8> {
    let mut b = vec![0u8; 256];
    match platform {
        "linux_arm64" => {
            b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
            b[18..20].copy_from_slice(&0xB7u16.to_le_bytes());
        }
        "darwin_arm64" => {
            b[..4].copy_from_slice(&[0xcf, 0xfa, 0xed, 0xfe]);
            b[4..8].copy_from_slice(&0x0100_000Cu32.to_le_bytes());
        }
        "windows_amd64" => {
            b[..2].copy_from_slice(b"MZ");
            b[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
            b[0x80..0x84].copy_from_slice(b"PE\0\0");
            b[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        }
        _ => unreachable!("{platform}"),
    }
    b
}

/// A build matrix's artifacts (CHARTREG_RELEASE_PREBUILT: `<triple>/terraform-provider-chartreg[.exe]`,
/// here other platforms than this machine's) are packaged under their Terraform platform names
/// (`.exe` inside the Windows zip), summed and signed once, and `make mirror` lists every
/// platform; an artifact of another CPU than its triple says is refused.
fn matrix_from_prebuilt(tb: &Testbed) -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let rel = release(tb)?;
    let dir = tb.scratch_dir("release-matrix");
    let prebuilt = dir.join("artifacts");
    let matrix = [
        ("aarch64-unknown-linux-gnu", "linux_arm64", ""),
        ("aarch64-apple-darwin", "darwin_arm64", ""),
        ("x86_64-pc-windows-msvc", "windows_amd64", ".exe"),
    ];
    for (triple, platform, exe) in matrix {
        let d = prebuilt.join(triple);
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        let f = d.join(format!("{PROJECT}{exe}"));
        std::fs::write(&f, fake_executable(platform)).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let dist = dir.join("dist");
    let triples = matrix.map(|m| m.0).join(" ");
    run_cmd(
        script(
            "release.sh",
            &[
                ("CHARTREG_DIST", &dist),
                ("CHARTREG_RELEASE_PREBUILT", &prebuilt),
                ("GNUPGHOME", &rel.gnupghome),
            ],
        )
        .env("GPG_FINGERPRINT", &rel.fingerprint)
        .env("CHARTREG_RELEASE_TARGETS", &triples),
    )?;
    let sums = String::from_utf8(read(&dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS")))?)
        .map_err(|e| e.to_string())?;
    for (_, platform, exe) in matrix {
        let zip = dist.join(format!("{PROJECT}_{VERSION}_{platform}.zip"));
        let listing = zip_listing(tb, &zip)?;
        ensure(
            listing["entries"][0]["name"] == format!("{PROJECT}_v{VERSION}{exe}")
                && listing["entries"].as_array().map(Vec::len) == Some(1),
            || format!("{}: {listing}", zip.display()),
        )?;
        let line = format!(
            "{}  {PROJECT}_{VERSION}_{platform}.zip",
            hex::encode(Sha256::digest(read(&zip)?))
        );
        ensure(sums.lines().any(|l| l == line), || {
            format!("{line} not in:\n{sums}")
        })?;
    }
    ensure(sums.lines().count() == 4, || sums.clone())?;
    let mirror = dir.join("mirror");
    run_cmd(&mut script(
        "mirror.sh",
        &[("CHARTREG_DIST", &dist), ("CHARTREG_MIRROR", &mirror)],
    ))?;
    let version: Value = serde_json::from_slice(&read(
        &provider_dir_in(&mirror.join("network")).join(format!("{VERSION}.json")),
    )?)
    .map_err(|e| e.to_string())?;
    let platforms: BTreeSet<&str> = version["archives"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    ensure(platforms == matrix.iter().map(|m| m.1).collect(), || {
        format!("{VERSION}.json: {version}")
    })?;

    // this machine's x86_64 binary handed in as the aarch64 build
    std::fs::copy(
        &rel.binary,
        prebuilt.join("aarch64-unknown-linux-gnu").join(PROJECT),
    )
    .map_err(|e| e.to_string())?;
    let out = script(
        "release.sh",
        &[
            ("CHARTREG_DIST", &dir.join("dist2")),
            ("CHARTREG_RELEASE_PREBUILT", &prebuilt),
            ("GNUPGHOME", &rel.gnupghome),
        ],
    )
    .env("GPG_FINGERPRINT", &rel.fingerprint)
    .env("CHARTREG_RELEASE_TARGETS", &triples)
    .output()
    .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(
        !out.status.success()
            && err.contains("is an ELF file for machine 0x3e, not a linux_arm64 executable"),
        || err.to_string(),
    )?;
    ensure(!dir.join("dist2").exists(), || "dist2/ was written".into())
}

/// A CI job's way: the secret key (passphrase-protected) and its passphrase come from the
/// secret store as GPG_PRIVATE_KEY and GPG_PASSPHRASE; the script imports it into a throw-away
/// GNUPGHOME (the caller's keyring is not read), signs, and removes that home. A wrong passphrase
/// fails loudly without writing dist/.
fn signs_with_key_from_environment(tb: &Testbed) -> TestResult {
    let dir = tb.scratch_dir("release-envkey");
    let home = gnupg_home(&dir.join("gnupg"))?;
    let _agent = super::AgentGuard(home.clone());
    let passphrase = crate::harness::fixtures::random_hex(8);
    run_cmd(gpg(&home).args([
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        &passphrase,
        "--quick-gen-key",
        "chartreg acceptance CI key <ci@chartreg.invalid>",
        "rsa2048",
        "sign",
        "1d",
    ]))?;
    let out = run_cmd(gpg(&home).args(["--with-colons", "--list-secret-keys"]))?;
    let fingerprint = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .ok_or("no fingerprint")?;
    let secret = run_cmd(gpg(&home).args([
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        &passphrase,
        "--armor",
        "--export-secret-keys",
        &fingerprint,
    ]))?;
    let secret = String::from_utf8(secret.stdout).map_err(|e| e.to_string())?;
    ensure(secret.contains("BEGIN PGP PRIVATE KEY BLOCK"), || {
        "no armored key".into()
    })?;
    // an aarch64 build, so that nothing is compressed but a small file
    let prebuilt = dir.join("artifacts");
    let d = prebuilt.join("aarch64-unknown-linux-gnu");
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    std::fs::write(d.join(PROJECT), fake_executable("linux_arm64")).map_err(|e| e.to_string())?;
    let empty = gnupg_home(&dir.join("empty-gnupg"))?;
    let run = |dist: &Path, pass: &str| {
        script(
            "release.sh",
            &[
                ("CHARTREG_DIST", dist),
                ("CHARTREG_RELEASE_PREBUILT", &prebuilt),
                ("GNUPGHOME", &empty),
            ],
        )
        .env("CHARTREG_RELEASE_TARGETS", "aarch64-unknown-linux-gnu")
        .env("GPG_FINGERPRINT", &fingerprint)
        .env("GPG_PRIVATE_KEY", &secret)
        .env("GPG_PASSPHRASE", pass)
        .env("TMPDIR", &dir)
        .output()
        .map_err(|e| e.to_string())
    };
    let bad = dir.join("dist-bad");
    let out = run(&bad, "not-the-passphrase")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(!out.status.success() && !bad.exists(), || {
        format!("a wrong passphrase signed:\n{err}")
    })?;
    ensure(!err.contains(&passphrase), || {
        "the passphrase was printed".into()
    })?;

    let dist = dir.join("dist");
    let out = run(&dist, &passphrase)?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure(out.status.success(), || {
        format!("release.sh failed:\n{err}")
    })?;
    ensure(!err.contains(&passphrase), || {
        "the passphrase was printed".into()
    })?;
    let left: Vec<String> = names_in(&dir)?
        .into_iter()
        .filter(|n| n.starts_with("chartreg-gnupg."))
        .collect();
    ensure(left.is_empty(), || {
        format!("the throw-away GNUPGHOME stayed: {left:?}")
    })?;
    // verified with the public key alone
    let public = run_cmd(gpg(&home).args(["--armor", "--export", &fingerprint]))?;
    let vhome = gnupg_home(&dir.join("verify-gnupg"))?;
    let key = dir.join("key.asc");
    std::fs::write(&key, &public.stdout).map_err(|e| e.to_string())?;
    run_cmd(gpg(&vhome).arg("--import").arg(&key))?;
    let sums = dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS"));
    let out = run_cmd(
        gpg(&vhome)
            .args(["--status-fd", "1", "--verify"])
            .arg(dist.join(format!("{PROJECT}_{VERSION}_SHA256SUMS.sig")))
            .arg(&sums),
    )?;
    let status = String::from_utf8_lossy(&out.stdout);
    ensure(status.contains(&format!("VALIDSIG {fingerprint}")), || {
        status.to_string()
    })?;
    ensure(
        names_in(&empty)?
            .iter()
            .all(|n| !n.ends_with(".kbx") && n != "private-keys-v1.d"),
        || "the caller's GNUPGHOME was written".into(),
    )
}
