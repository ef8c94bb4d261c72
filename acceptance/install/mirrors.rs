//! `terraform init` installing the released archive from the packed filesystem mirror and from
//! the network mirror, under both Terraform versions: what it locks, and what it refuses.
//!
//! What Terraform records (both versions, `internal/providercache/installer.go`): the `h1:` hash
//! of the package it installed, plus the hashes of its source only when the source's checksums
//! were signed (the Registry). A mirror is not signed, so a mirror install locks the `h1:` alone;
//! the network mirror's `zh:` is what Terraform verifies the download against ("verified
//! checksum"). The `zh:` hashes the release published enter a lock file the way a team pins a
//! release for every platform: written from SHA256SUMS into the committed lock, which init then
//! enforces and keeps.

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::Trial;

use super::{
    copy_tree, expect_installed, init, lock_file, provider_dir_in, read_lock, registry_config,
    release, said, serve_network_mirror, tf_filesystem, tf_network, write_tampered_zip, Lock,
    VERSION,
};
use crate::harness::{self, ensure, Body, TestResult, Testbed, TfCli};

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let list: &[(&str, Body)] = &[
        ("filesystem_mirror_locks_h1", filesystem_mirror_locks_h1),
        ("network_mirror_locks_h1", network_mirror_locks_h1),
        (
            "network_mirror_keeps_release_zh",
            network_mirror_keeps_release_zh,
        ),
        (
            "network_mirror_refuses_archive_not_in_sums",
            network_mirror_refuses_archive_not_in_sums,
        ),
        (
            "swapped_archive_refused_after_locking",
            swapped_archive_refused_after_locking,
        ),
        (
            "republished_archive_refused_after_locking",
            republished_archive_refused_after_locking,
        ),
    ];
    harness::scenarios(tb, "install::mirrors", list)
}

fn expect_lock(dir: &Path, hashes: &[&str]) -> TestResult<Lock> {
    let lock = read_lock(dir)?;
    let mut want: Vec<String> = hashes.iter().map(|h| h.to_string()).collect();
    want.sort();
    ensure(
        lock.version == VERSION
            && lock.constraints.as_deref() == Some(VERSION)
            && lock.hashes == want,
        || format!("lock file entry {lock:?}, expected version {VERSION} with hashes {want:?}"),
    )?;
    Ok(lock)
}

/// Packed filesystem mirror: init installs the released binary and locks exactly the `h1:` the
/// test computed from the zip (no `zh:`: Terraform gives none for a local archive); the
/// installed provider then applies a registration and re-plans empty.
fn filesystem_mirror_locks_h1(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    let tf = tf_filesystem(tb, cli, &rel.filesystem_mirror());
    tf.write(&registry_config(tb));
    let o = init(&tf);
    ensure(o.success(), || o.to_string())?;
    ensure(
        o.contains(&format!("Installed chartreg/chartreg v{VERSION}")),
        || o.to_string(),
    )?;
    expect_lock(&tf.dir, &[&rel.h1])?;
    expect_installed(&tf, rel)?;
    tf.apply()?;
    tf.plan_is_empty()
}

/// Network mirror over HTTPS: without the test CA init cannot reach it (TLS is real); with
/// SSL_CERT_FILE it fetches index.json, <version>.json and the zip, verifies the zip against the
/// published `zh:`, and locks the same `h1:` as the filesystem mirror. The provider then plans.
fn network_mirror_locks_h1(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    let srv = serve_network_mirror(tb, &format!("netmirror-{}", cli.label), &rel.network_tree())?;
    let mut tf = tf_network(tb, cli, &format!("{}/", srv.url));
    tf.write(&registry_config(tb));
    tf.env("SSL_CERT_FILE", "/dev/null");
    let o = init(&tf);
    ensure(!o.success() && o.combined().contains("certificate"), || {
        format!("init must fail without the test CA:\n{o}")
    })?;
    tf.env("SSL_CERT_FILE", &tb.ca_cert.display().to_string());
    let o = init(&tf);
    ensure(o.success(), || o.to_string())?;
    ensure(o.contains("(verified checksum)"), || o.to_string())?;
    expect_lock(&tf.dir, &[&rel.h1])?;
    expect_installed(&tf, rel)?;
    let base = format!("/{}", super::ADDRESS);
    for path in [
        format!("{base}/index.json"),
        format!("{base}/{VERSION}.json"),
        format!("{base}/{}", rel.zip_name()),
    ] {
        let hits = srv.requests_to(&path);
        ensure(hits.iter().any(|e| e.status == 200), || {
            format!("the mirror never served {path}:\n{}", srv.log_tail(20))
        })?;
    }
    let p = tf.plan(&["-detailed-exitcode"]);
    ensure(
        p.code == 2 && p.contains("chartreg_helm_registry.public will be created"),
        || p.to_string(),
    )
}

/// A committed lock file holding only the release's `zh:` (from SHA256SUMS, the way the Registry
/// records a signed release): while the mirror serves another build (with a consistent
/// <version>.json) init refuses it on that `zh:`; once the mirror serves the release again,
/// init installs it, keeps the `zh:` and adds the `h1:`.
fn network_mirror_keeps_release_zh(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    let srv = serve_network_mirror(
        tb,
        &format!("netmirror-zh-{}", cli.label),
        &rel.network_tree(),
    )?;
    let tf = tf_network(tb, cli, &format!("{}/", srv.url));
    tf.write(&registry_config(tb));
    let zh = format!("zh:{}", rel.zip_sha256);
    let lock = lock_file(std::slice::from_ref(&zh));
    tf.write_file(".terraform.lock.hcl", &lock);

    republish_tampered(tb, &srv)?;
    let o = init(&tf);
    ensure(
        !o.success() && said(&o, "doesn't match any of the checksums previously recorded in the dependency lock file"),
        || format!("init must refuse an archive the locked zh: does not name:\n{o}"),
    )?;
    ensure(read(&tf.dir.join(".terraform.lock.hcl"))? == lock, || {
        "the lock file changed".into()
    })?;

    copy_tree(&rel.network_tree(), &srv.dir)?;
    let o = init(&tf);
    ensure(o.success(), || o.to_string())?;
    expect_lock(&tf.dir, &[&rel.h1, &zh])?;
    expect_installed(&tf, rel)
}

fn read(p: &Path) -> TestResult<String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The mirror of `srv` republishes another build: the zip replaced by a tampered one and
/// <version>.json naming it with its own `zh:` (as a compromised mirror would).
fn republish_tampered(tb: &Testbed, srv: &crate::harness::HelmRepoServer) -> TestResult {
    let dir = provider_dir_in(&srv.dir);
    let name = format!("{}_{VERSION}_{}.zip", super::PROJECT, super::PLATFORM);
    let zip = dir.join(&name);
    write_tampered_zip(tb, &zip)?;
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(
            std::fs::read(&zip).map_err(|e| e.to_string())?,
        ))
    };
    let version = serde_json::json!({ "archives": { super::PLATFORM: {
        "url": name, "hashes": [format!("zh:{digest}")] } } });
    std::fs::write(dir.join(format!("{VERSION}.json")), version.to_string())
        .map_err(|e| e.to_string())
}

/// A network mirror serving another archive than the one SHA256SUMS names (its <version>.json
/// unchanged): init refuses it on the `zh:` mismatch, before any lock exists, and installs nothing.
fn network_mirror_refuses_archive_not_in_sums(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    let srv = serve_network_mirror(
        tb,
        &format!("netmirror-bad-{}", cli.label),
        &rel.network_tree(),
    )?;
    write_tampered_zip(tb, &provider_dir_in(&srv.dir).join(rel.zip_name()))?;
    let tf = tf_network(tb, cli, &format!("{}/", srv.url));
    tf.write(&registry_config(tb));
    let o = init(&tf);
    ensure(!o.success() && o.combined().contains("checksum"), || {
        format!("init must refuse the archive:\n{o}")
    })?;
    ensure(!tf.dir.join(".terraform.lock.hcl").exists(), || {
        "a lock file was written".into()
    })?;
    ensure(!super::installed_binary(&tf).exists(), || {
        "the archive was installed".into()
    })
}

/// Packed filesystem mirror: after init locked the release, the archive in the mirror is
/// replaced by another build (a fresh checkout: no `.terraform`); init refuses it as not matching
/// the lock file and leaves the lock as it was.
fn swapped_archive_refused_after_locking(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    let mirror = tb.scratch_dir("fsmirror-swap");
    copy_tree(&rel.filesystem_mirror(), &mirror)?;
    let tf = tf_filesystem(tb, cli, &mirror);
    tf.write(&registry_config(tb));
    let o = init(&tf);
    ensure(o.success(), || o.to_string())?;
    let locked = expect_lock(&tf.dir, &[&rel.h1])?;

    write_tampered_zip(tb, &provider_dir_in(&mirror).join(rel.zip_name()))?;
    std::fs::remove_dir_all(tf.dir.join(".terraform")).map_err(|e| e.to_string())?;
    let o = init(&tf);
    ensure(
        !o.success() && said(&o, "doesn't match any of the checksums previously recorded in the dependency lock file"),
        || format!("init must refuse the swapped archive:\n{o}"),
    )?;
    ensure(read_lock(&tf.dir)? == locked, || {
        "the lock file changed".into()
    })?;
    ensure(!super::installed_binary(&tf).exists(), || {
        "the swapped archive was installed".into()
    })
}

/// Network mirror: after init locked the release, the mirror republishes another build with a
/// consistent <version>.json (its own `zh:`, as a compromised mirror would); init in a fresh
/// checkout refuses it on the locked `h1:`.
fn republished_archive_refused_after_locking(tb: &Testbed, cli: &TfCli) -> TestResult {
    let rel = release(tb)?;
    let srv = serve_network_mirror(
        tb,
        &format!("netmirror-repub-{}", cli.label),
        &rel.network_tree(),
    )?;
    let tf = tf_network(tb, cli, &format!("{}/", srv.url));
    tf.write(&registry_config(tb));
    let o = init(&tf);
    ensure(o.success(), || o.to_string())?;
    let locked = expect_lock(&tf.dir, &[&rel.h1])?;

    republish_tampered(tb, &srv)?;
    std::fs::remove_dir_all(tf.dir.join(".terraform")).map_err(|e| e.to_string())?;
    let o = init(&tf);
    ensure(
        !o.success() && said(&o, "doesn't match any of the checksums previously recorded in the dependency lock file"),
        || format!("init must refuse the republished archive:\n{o}"),
    )?;
    ensure(read_lock(&tf.dir)? == locked, || {
        "the lock file changed".into()
    })
}
