//! The harness's own smoke tests: every server works with real clients (Helm v4 and v3, boto3,
//! Terraform 1.0 and 1.15), and the dedicated-server / bulk helpers do what they promise.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;

use crate::harness::{self, run_cmd, HelmCli, RegistryAuth, TestResult, Testbed, Tf, TfCli};

fn trial(tb: &Arc<Testbed>, name: &str, f: fn(&Testbed) -> TestResult) -> Trial {
    let tb = tb.clone();
    Trial::test(format!("smoke::{name}"), move || {
        f(&tb).map_err(|e| harness::redact(&e).into())
    })
}

pub fn tests(tb: &Arc<Testbed>) -> Vec<Trial> {
    let mut v = vec![
        trial(tb, "helm_repo_http", |tb| classic(tb, &tb.helm.http, false)),
        trial(tb, "helm_repo_http_auth", |tb| {
            classic(tb, &tb.helm.http_auth, true)
        }),
        trial(tb, "helm_repo_https", |tb| {
            classic(tb, &tb.helm.https, false)
        }),
        trial(tb, "helm_repo_https_auth", |tb| {
            classic(tb, &tb.helm.https_auth, true)
        }),
        trial(tb, "oci_plain_helm4", |tb| {
            oci(tb, RegistryAuth::None, false)
        }),
        trial(tb, "oci_basic_helm4", |tb| {
            oci(tb, RegistryAuth::Basic, false)
        }),
        trial(tb, "oci_token_helm4", |tb| {
            oci(tb, RegistryAuth::Token, false)
        }),
        trial(tb, "oci_basic_helm3_hostname", |tb| {
            oci(tb, RegistryAuth::Basic, true)
        }),
        trial(tb, "oci_token_helm3_hostname", |tb| {
            oci(tb, RegistryAuth::Token, true)
        }),
        trial(tb, "oci_raw_client", oci_raw_client),
        trial(tb, "moto_sts_ecr", moto_sts_ecr),
        trial(tb, "realworld_search", realworld_search),
        trial(tb, "dedicated_helm_repo", dedicated_helm_repo),
        trial(
            tb,
            "dedicated_helm_repo_tls_auth",
            dedicated_helm_repo_tls_auth,
        ),
        trial(tb, "dedicated_registry_plain", |tb| {
            dedicated_registry(tb, RegistryAuth::None)
        }),
        trial(tb, "dedicated_registry_basic", |tb| {
            dedicated_registry(tb, RegistryAuth::Basic)
        }),
        trial(tb, "dedicated_registry_token", |tb| {
            dedicated_registry(tb, RegistryAuth::Token)
        }),
        trial(tb, "bulk_plain", |tb| bulk(tb, RegistryAuth::None)),
        trial(tb, "bulk_token", |tb| bulk(tb, RegistryAuth::Token)),
        // the harness's own parsers (no server involved)
        trial(tb, "hcl_locate", |_| harness::hcl::self_check()),
        trial(tb, "sweep_forms", |_| harness::sweep::self_check()),
    ];
    v.extend(harness::both_tf(tb, "smoke::terraform", terraform));
    v.extend(harness::both_tf(
        tb,
        "smoke::provider_loads",
        provider_loads,
    ));
    v
}

fn stdout(cmd: &mut std::process::Command) -> TestResult<String> {
    run_cmd(cmd).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `helm search repo KEYWORD --versions -o json` → [(name, version)]
fn search(helm: &HelmCli, keyword: &str) -> TestResult<Vec<(String, String)>> {
    let out = stdout(
        helm.command()
            .args(["search", "repo", keyword, "--versions", "-o", "json"]),
    )?;
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("helm search output ({e}): {out}"))?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

fn mkdir(p: std::path::PathBuf) -> TestResult<std::path::PathBuf> {
    std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(p)
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn same_file(a: &Path, b: &Path) -> TestResult {
    let (x, y) = (
        std::fs::read(a).map_err(|e| format!("{}: {e}", a.display()))?,
        std::fs::read(b).map_err(|e| format!("{}: {e}", b.display()))?,
    );
    ensure(x == y, || {
        format!("{} and {} differ", a.display(), b.display())
    })
}

// ------------------------------------------------------------------ classic repositories

fn classic(tb: &Testbed, url: &str, auth: bool) -> TestResult {
    let home = tb.helm_home();
    let helm = &home.helm4;
    let tls = url.starts_with("https");
    let mut add = helm.command();
    add.args(["repo", "add", "r", url]);
    if tls {
        add.arg("--ca-file").arg(&tb.ca_cert);
    }
    if auth {
        // without credentials the repository must refuse
        let o = add.output().map_err(|e| e.to_string())?;
        ensure(!o.status.success(), || {
            format!("helm repo add {url} without credentials succeeded")
        })?;
        add.args(["--username", &tb.user, "--password", &tb.password]);
    }
    run_cmd(&mut add)?;
    let found = search(helm, "r/")?;
    for want in [
        ("r/mychart", "0.1.0"),
        ("r/mychart", "0.2.0"),
        ("r/other", "1.0.0"),
    ] {
        ensure(
            found.iter().any(|(n, v)| n == want.0 && v == want.1),
            || format!("{want:?} not in helm search: {found:?}"),
        )?;
    }
    let out = mkdir(home.dir.join("out"))?;
    run_cmd(
        helm.command()
            .args(["pull", "r/mychart", "--version", "0.2.0", "-d"])
            .arg(&out),
    )?;
    same_file(&out.join("mychart-0.2.0.tgz"), &tb.charts.mychart_020)
}

fn realworld_search(tb: &Testbed) -> TestResult {
    let home = tb.helm_home();
    let helm = &home.helm4;
    for name in ["bitnami", "rancher"] {
        run_cmd(helm.command().args([
            "repo",
            "add",
            name,
            &format!("{}/{name}", tb.helm.realworld),
        ]))?;
    }
    let nginx = search(helm, "bitnami/nginx")?;
    ensure(
        nginx.iter().filter(|(n, _)| n == "bitnami/nginx").count() > 20,
        || format!("bitnami/nginx: only {} versions", nginx.len()),
    )?;
    let rancher = search(helm, "rancher/")?;
    ensure(rancher.len() > 500, || {
        format!("only {} rancher versions found", rancher.len())
    })?;
    // Helm v3 reads the same real-world index too
    let h3 = &home.helm3;
    run_cmd(h3.command().args([
        "repo",
        "add",
        "bitnami",
        &format!("{}/bitnami", tb.helm.realworld),
    ]))?;
    let v3 = search(h3, "bitnami/nginx")?;
    ensure(v3.len() == nginx.len(), || {
        format!(
            "helm3 found {} nginx versions, helm4 {}",
            v3.len(),
            nginx.len()
        )
    })
}

// ------------------------------------------------------------------ shared registries

fn oci(tb: &Testbed, auth: RegistryAuth, helm3_via_hostname: bool) -> TestResult {
    let home = tb.helm_home();
    let host = if helm3_via_hostname {
        ensure(tb.hostname_is_loopback, || {
            format!(
                "hostname {:?} does not resolve to 127.0.0.1: Helm 3 needs it for TLS registries \
                 (add it to /etc/hosts)",
                tb.hostname
            )
        })?;
        let port = tb.oci_host(auth).rsplit(':').next().unwrap_or_default();
        format!("{}:{port}", tb.hostname)
    } else {
        tb.oci_host(auth).to_string()
    };
    let helm = if helm3_via_hostname {
        &home.helm3
    } else {
        &home.helm4
    };
    let flags = harness::servers::registry_flags(tb, auth);
    let out = mkdir(home.dir.join("out"))?;
    // seeded chart
    run_cmd(
        helm.command()
            .args([
                "pull",
                &format!("oci://{host}/charts/mychart"),
                "--version",
                "0.2.0",
                "-d",
            ])
            .arg(&out)
            .args(&flags),
    )?;
    same_file(&out.join("mychart-0.2.0.tgz"), &tb.charts.mychart_020)?;
    // push a new chart, pull it back
    let name = format!(
        "smoke-{}-{}",
        auth.label(),
        if helm3_via_hostname { "h3" } else { "h4" }
    );
    let tgz = tb.try_package_chart(&name, "0.0.1", "1", "smoke")?;
    run_cmd(
        helm.command()
            .arg("push")
            .arg(&tgz)
            .arg(format!("oci://{host}/smoke"))
            .args(&flags),
    )?;
    let out2 = mkdir(home.dir.join("out2"))?;
    run_cmd(
        helm.command()
            .args([
                "pull",
                &format!("oci://{host}/smoke/{name}"),
                "--version",
                "0.0.1",
                "-d",
            ])
            .arg(&out2)
            .args(&flags),
    )?;
    same_file(&out2.join(format!("{name}-0.0.1.tgz")), &tgz)?;
    let tags = tb.oci_client(auth).tags(&format!("smoke/{name}"))?;
    ensure(tags == ["0.0.1"], || format!("tags: {tags:?}"))
}

fn oci_raw_client(tb: &Testbed) -> TestResult {
    for auth in [RegistryAuth::None, RegistryAuth::Basic, RegistryAuth::Token] {
        let c = tb.oci_client(auth);
        let catalog = c.catalog()?;
        for r in ["charts/mychart", "charts/other"] {
            ensure(catalog.iter().any(|c| c == r), || {
                format!("{}: {r} not in catalog {catalog:?}", auth.label())
            })?;
        }
        let mut tags = c.tags("charts/mychart")?;
        tags.sort();
        ensure(tags == ["0.1.0", "0.2.0"], || format!("tags {tags:?}"))?;
        let (digest, media_type, m) = c.manifest("charts/mychart", "0.1.0")?;
        ensure(
            digest.starts_with("sha256:")
                && media_type == harness::oci::OCI_MANIFEST
                && m["config"]["mediaType"] == harness::oci::HELM_CONFIG,
            || format!("manifest {digest} {media_type} {m}"),
        )?;
    }
    // anonymous requests are refused by the auth registries
    for host in [&tb.oci.basic, &tb.oci.token] {
        let r = tb.http_get(&format!("https://{host}/v2/_catalog"), &[], false)?;
        ensure(r.status == 401, || {
            format!("anonymous catalog on {host}: {}", r.status)
        })?;
    }
    Ok(())
}

// ------------------------------------------------------------------ moto

const BOTO: &str = r#"
import base64, os, sys, boto3
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"])
sts = boto3.client("sts", **kw)
c = sts.assume_role(RoleArn=sys.argv[1], RoleSessionName="smoke")["Credentials"]
ecr = boto3.client("ecr", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                   aws_session_token=c["SessionToken"], **kw)
a = ecr.get_authorization_token()["authorizationData"][0]
assert base64.b64decode(a["authorizationToken"]).startswith(b"AWS:"), a
repos = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
assert sys.argv[2] in repos, repos
tags = sorted(i["imageTag"] for i in ecr.list_images(repositoryName=sys.argv[2])["imageIds"])
assert tags == ["0.1.0", "0.2.0"], tags
print("ok")
"#;

fn moto_sts_ecr(tb: &Testbed) -> TestResult {
    let out = stdout(
        tb.python()
            .args(["-c", BOTO])
            .arg(&tb.aws.role_arn)
            .arg(&tb.aws.ecr_repo),
    )?;
    ensure(out.trim() == "ok", || format!("boto3 said {out}"))
}

// ------------------------------------------------------------------ terraform

fn terraform(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    let v = tf.run_ok(&["version"])?;
    let want = format!("Terraform v{}.{}.", cli.version.0, cli.version.1);
    ensure(v.stdout.starts_with(&want), || format!("want {want}: {v}"))?;
    // a configuration without providers exercises the runner (no init needed)
    tf.write(
        r#"
variable "who" {
  default = "chartreg"
}
locals {
  greeting = "hello ${var.who}"
}
output "greeting" {
  value = local.greeting
}
"#,
    );
    tf.apply()?;
    let g = tf.output("greeting")?;
    ensure(g == "hello chartreg", || format!("greeting = {g}"))?;
    tf.plan_is_empty()?;
    let state = tf.state_json()?;
    ensure(
        state["values"]["outputs"]["greeting"]["value"] == "hello chartreg",
        || format!("show -json: {state}"),
    )?;
    tf.destroy()?;
    // the CLI config points dev_overrides at the cargo-built provider
    let rc =
        std::fs::read_to_string(tf.dir.join(".home/terraform.rc")).map_err(|e| e.to_string())?;
    ensure(rc.contains("chartreg/chartreg"), || rc.clone())
}

/// The cargo-built provider answers Terraform through `dev_overrides` (no `terraform init`).
fn provider_loads(tb: &Testbed, cli: &TfCli) -> TestResult {
    let tf = Tf::new(tb, cli);
    tf.write(
        r#"
terraform {
  required_providers {
    chartreg = {
      source = "chartreg/chartreg"
    }
  }
}
provider "chartreg" {}
"#,
    );
    let o = tf.run_ok(&["validate", "-no-color"])?;
    ensure(o.stdout.contains("The configuration is valid"), || {
        o.to_string()
    })?;
    let schema = tf.run_ok(&["providers", "schema", "-json"])?;
    let v: serde_json::Value = serde_json::from_str(&schema.stdout).map_err(|e| e.to_string())?;
    let schemas = &v["provider_schemas"];
    ensure(
        schemas
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.ends_with("chartreg/chartreg"))),
        || format!("no chartreg provider schema in {schemas}"),
    )
}

// ------------------------------------------------------------------ dedicated servers

fn dedicated_helm_repo(tb: &Testbed) -> TestResult {
    let repo = tb.spawn_helm_repo("smoke");
    let first = tb.http_get(&repo.index_url(), &[], false)?;
    ensure(
        first.status == 200 && first.text().contains("mychart"),
        || format!("index: {} {}", first.status, first.text()),
    )?;
    let etag = first.header("ETag").ok_or("no ETag")?.to_string();
    let modified = first
        .header("Last-Modified")
        .ok_or("no Last-Modified")?
        .to_string();
    let r = tb.http_get(&repo.index_url(), &[("If-None-Match", &etag)], false)?;
    ensure(r.status == 304, || {
        format!("If-None-Match gave {}", r.status)
    })?;
    let r = tb.http_get(
        &repo.index_url(),
        &[("If-Modified-Since", &modified)],
        false,
    )?;
    ensure(r.status == 304, || {
        format!("If-Modified-Since gave {}", r.status)
    })?;
    let log = repo.requests_to("/index.yaml");
    ensure(
        log.len() == 3
            && log[1].status == 304
            && log[1].if_none_match.as_deref() == Some(etag.as_str()),
        || format!("access log: {log:?}"),
    )?;

    // publish with the real helm; Helm sees both versions
    std::thread::sleep(Duration::from_millis(1100)); // Last-Modified has 1 s resolution
    repo.publish("mychart", "0.2.0")?;
    repo.publish("third", "3.0.0")?;
    let r = tb.http_get(&repo.index_url(), &[("If-None-Match", &etag)], false)?;
    ensure(r.status == 200, || {
        format!("changed index answered {}", r.status)
    })?;
    let home = tb.helm_home();
    run_cmd(home.helm().args(["repo", "add", "d", &repo.url]))?;
    let found = search(&home.helm4, "d/")?;
    ensure(found.len() == 3, || format!("search: {found:?}"))?;

    // stop: connection refused; start: same URL works again
    repo.stop();
    ensure(tb.http_get(&repo.index_url(), &[], false).is_err(), || {
        "stopped repository still answers".into()
    })?;
    repo.start()?;
    let r = tb.http_get(&repo.index_url(), &[], false)?;
    ensure(r.status == 200 && r.text().contains("third"), || {
        format!("after restart: {}", r.status)
    })
}

fn dedicated_helm_repo_tls_auth(tb: &Testbed) -> TestResult {
    let repo = tb.try_spawn_helm_repo("smoke-tls", true, true)?;
    ensure(repo.url.starts_with("https://"), || repo.url.clone())?;
    let r = tb.http_get(&repo.index_url(), &[], false)?;
    ensure(r.status == 401, || format!("anonymous: {}", r.status))?;
    let home = tb.helm_home();
    run_cmd(
        home.helm()
            .args([
                "repo",
                "add",
                "t",
                &repo.url,
                "--username",
                &tb.user,
                "--password",
                &tb.password,
            ])
            .arg("--ca-file")
            .arg(&tb.ca_cert),
    )?;
    let out = mkdir(home.dir.join("out"))?;
    run_cmd(
        home.helm()
            .args(["pull", "t/mychart", "--version", "0.1.0", "-d"])
            .arg(&out),
    )?;
    same_file(&out.join("mychart-0.1.0.tgz"), &tb.charts.mychart_010)?;
    let users: Vec<_> = repo
        .requests_to("/mychart-0.1.0.tgz")
        .into_iter()
        .map(|e| (e.status, e.user))
        .collect();
    ensure(users == [(200, Some(tb.user.clone()))], || {
        format!("chart download log: {users:?}")
    })
}

fn dedicated_registry(tb: &Testbed, auth: RegistryAuth) -> TestResult {
    let reg = tb.spawn_registry(auth);
    ensure(reg.scheme == auth.scheme(), || reg.scheme.to_string())?;
    let pushed = reg.push(&tb.charts.other_100, "team/charts")?;
    ensure(
        pushed.reference == format!("{}/team/charts/other:1.0.0", reg.host)
            && pushed.digest.starts_with("sha256:"),
        || format!("{pushed:?}"),
    )?;
    let image = reg.push_image("images/app", "v1")?;
    let (digest, _, m) = reg.client().manifest("images/app", "v1")?;
    ensure(
        digest == image && m["config"]["mediaType"] == harness::oci::IMAGE_CONFIG,
        || format!("image manifest {digest} {m}"),
    )?;
    let (digest, _, _) = reg.client().manifest("team/charts/other", "1.0.0")?;
    ensure(digest == pushed.digest, || {
        format!("helm said {} registry says {digest}", pushed.digest)
    })?;

    // data survives a restart on the same port
    reg.stop();
    ensure(reg.client().catalog().is_err(), || {
        "stopped registry still answers".into()
    })?;
    reg.start()?;
    let mut catalog = reg.client().catalog()?;
    catalog.sort();
    ensure(catalog == ["images/app", "team/charts/other"], || {
        format!("catalog after restart: {catalog:?}")
    })?;
    // Helm pulls what it pushed; delete removes the tag
    let home = tb.helm_home();
    let out = mkdir(home.dir.join("out"))?;
    run_cmd(
        home.helm()
            .args([
                "pull",
                &reg.oci_url("team/charts/other"),
                "--version",
                "1.0.0",
                "-d",
            ])
            .arg(&out)
            .args(reg.helm_flags()),
    )?;
    same_file(&out.join("other-1.0.0.tgz"), &tb.charts.other_100)?;
    reg.client().delete_manifest("images/app", "v1")?;
    let tags = reg.client().tags("images/app")?;
    ensure(tags.is_empty(), || format!("tags after delete: {tags:?}"))
}

fn bulk(tb: &Testbed, auth: RegistryAuth) -> TestResult {
    let reg = tb.spawn_registry(auth);
    let t = Instant::now();
    let repos = reg.bulk_repos("bulk", 250)?;
    let tags = reg.bulk_tags("many/tags", 250)?;
    let took = t.elapsed();
    if harness::verbose() {
        eprintln!(
            "bulk {}: 250 repositories + 250 tags in {:.2} s",
            auth.label(),
            took.as_secs_f64()
        );
    }
    ensure(took < Duration::from_secs(60), || {
        format!("bulk creation took {took:?}")
    })?;
    let catalog = reg.client().catalog()?;
    ensure(
        catalog.len() == 251 && repos.iter().all(|r| catalog.contains(r)),
        || format!("catalog has {} repositories", catalog.len()),
    )?;
    let mut listed = reg.client().tags("many/tags")?;
    listed.sort();
    let mut want = tags.clone();
    want.sort();
    ensure(listed == want, || format!("{} tags listed", listed.len()))?;
    // Helm accepts the bulk manifests as charts
    let home = tb.helm_home();
    run_cmd(
        home.helm()
            .args([
                "show",
                "chart",
                &reg.oci_url("many/tags"),
                "--version",
                "1.0.7",
            ])
            .args(reg.helm_flags()),
    )
    .map(|_| ())
}
