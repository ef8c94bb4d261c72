//! A small raw OCI distribution client for fixtures: blob upload, manifest PUT/GET/DELETE, tags,
//! catalog, plain (non-Helm) images and fast bulk creation of chart manifests.
//!
//! Synchronous API (each call drives a private current-thread Tokio runtime); never call it from
//! inside an async runtime.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::{redact, RegistryAuth, TestResult, Testbed};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const HELM_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const IMAGE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Concurrent requests used by the bulk operations.
const PARALLEL: usize = 16;

/// One chart manifest to create with [`OciClient::bulk_push_charts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkChart {
    /// Repository path, e.g. `bulk/chart-001`.
    pub repo: String,
    /// Tag, e.g. `1.0.0` (a `+` in a version is written `_` in tags, as Helm does).
    pub tag: String,
}

impl BulkChart {
    pub fn new(repo: &str, tag: &str) -> BulkChart {
        BulkChart {
            repo: repo.to_string(),
            tag: tag.to_string(),
        }
    }
}

pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Raw client of one registry, with the testbed's credentials when the registry has auth.
pub struct OciClient {
    /// `scheme://host`
    pub base: String,
    pub auth: RegistryAuth,
    user: String,
    password: String,
    token_realm: String,
    token_service: String,
    http: reqwest::Client,
    tokens: std::sync::Mutex<HashMap<String, (String, Instant)>>,
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl OciClient {
    /// Client for `host` (`127.0.0.1:P`) with that auth (plain HTTP for `None`).
    pub fn new(tb: &Testbed, host: &str, auth: RegistryAuth) -> OciClient {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(PARALLEL);
        if !tb.ca_pem.is_empty() {
            b = b.add_root_certificate(
                reqwest::Certificate::from_pem(tb.ca_pem.as_bytes()).expect("test CA PEM"),
            );
        }
        OciClient {
            base: format!("{}://{host}", auth.scheme()),
            auth,
            user: tb.user.clone(),
            password: tb.password.clone(),
            token_realm: tb.token.realm.clone(),
            token_service: tb.token.service.clone(),
            http: b.build().expect("reqwest client"),
            tokens: Default::default(),
        }
    }

    /// The same client logging in as `user`/`password` instead of the testbed's.
    pub fn with_login(mut self, user: &str, password: &str) -> OciClient {
        self.user = user.to_string();
        self.password = password.to_string();
        self
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(f)
    }

    fn basic(&self) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password))
        )
    }

    /// Authorization header for a scope (`repository:NAME:pull,push`, `registry:catalog:*`;
    /// several scopes separated by spaces).
    async fn auth_header(&self, scope: &str) -> TestResult<Option<String>> {
        match self.auth {
            RegistryAuth::None => Ok(None),
            RegistryAuth::Basic => Ok(Some(self.basic())),
            RegistryAuth::Token => {
                if let Some((t, at)) = self.tokens.lock().unwrap().get(scope) {
                    if at.elapsed() < Duration::from_secs(200) {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let r = self
                    .http
                    .get(&self.token_realm)
                    .query(&[("service", self.token_service.as_str())])
                    .query(
                        &scope
                            .split_whitespace()
                            .map(|s| ("scope", s))
                            .collect::<Vec<_>>(),
                    )
                    .header("Authorization", self.basic())
                    .send()
                    .await
                    .map_err(|e| format!("token request: {e}"))?;
                let status = r.status();
                let body = r.bytes().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!(
                        "token server answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                let v: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                let t = v["token"]
                    .as_str()
                    .or(v["access_token"].as_str())
                    .ok_or("no token in token response")?
                    .to_string();
                self.tokens
                    .lock()
                    .unwrap()
                    .insert(scope.to_string(), (t.clone(), Instant::now()));
                Ok(Some(format!("Bearer {t}")))
            }
        }
    }

    async fn req(
        &self,
        method: Method,
        path_or_url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> TestResult<Resp> {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let mut rb = self.http.request(method.clone(), &url);
        if let Some(a) = self.auth_header(scope).await? {
            rb = rb.header("Authorization", a);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let r = rb
            .send()
            .await
            .map_err(|e| redact(&format!("{method} {url}: {e}")))?;
        Ok(Resp {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.bytes().await.map_err(|e| e.to_string())?.to_vec(),
        })
    }

    fn expect(r: Resp, ok: &[u16], what: &str) -> TestResult<Resp> {
        if ok.contains(&r.status.as_u16()) {
            Ok(r)
        } else {
            Err(redact(&format!(
                "{what}: HTTP {} {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(600)])
            )))
        }
    }

    fn push_scope(repo: &str) -> String {
        format!("repository:{repo}:pull,push")
    }

    /// Uploads a blob (POST + PUT) unless the repository has it already; returns its digest.
    async fn put_blob(&self, repo: &str, data: &[u8]) -> TestResult<String> {
        let digest = sha256_digest(data);
        let head = self
            .req(
                Method::HEAD,
                &format!("/v2/{repo}/blobs/{digest}"),
                &Self::push_scope(repo),
                &[],
                None,
            )
            .await?;
        if head.status.is_success() {
            return Ok(digest);
        }
        self.upload_blob(repo, data, None).await
    }

    /// POST (+ PUT) a blob without checking first. With `mount_from`, asks the registry to mount
    /// the blob from that repository (one request when it has it; an upload otherwise).
    async fn upload_blob(
        &self,
        repo: &str,
        data: &[u8],
        mount_from: Option<&str>,
    ) -> TestResult<String> {
        let digest = sha256_digest(data);
        let mut scope = Self::push_scope(repo);
        let mut path = format!("/v2/{repo}/blobs/uploads/");
        if let Some(from) = mount_from {
            scope = format!("{scope} repository:{from}:pull");
            path = format!("{path}?mount={digest}&from={from}");
        }
        let r = self.req(Method::POST, &path, &scope, &[], None).await?;
        if r.status.as_u16() == 201 {
            return Ok(digest); // mounted
        }
        let r = Self::expect(r, &[202], &format!("start upload to {repo}"))?;
        let loc = r
            .headers
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .ok_or("upload without Location")?
            .to_string();
        let sep = if loc.contains('?') { '&' } else { '?' };
        let url = format!("{loc}{sep}digest={}", digest.replace(':', "%3A"));
        let r = self
            .req(
                Method::PUT,
                &url,
                &Self::push_scope(repo),
                &[("Content-Type", "application/octet-stream")],
                Some(data.to_vec()),
            )
            .await?;
        Self::expect(r, &[201], &format!("upload blob to {repo}"))?;
        Ok(digest)
    }

    async fn put_manifest_async(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> TestResult<String> {
        let digest = sha256_digest(&body);
        let r = self
            .req(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &Self::push_scope(repo),
                &[("Content-Type", media_type)],
                Some(body),
            )
            .await?;
        Self::expect(r, &[201], &format!("put manifest {repo}:{reference}"))?;
        Ok(digest)
    }

    /// PUT a manifest (any media type); returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> TestResult<String> {
        self.block_on(self.put_manifest_async(repo, reference, media_type, body.to_vec()))
    }

    /// Uploads a blob; returns its digest.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> TestResult<String> {
        self.block_on(self.put_blob(repo, data))
    }

    /// Pushes a plain OCI image (`application/vnd.oci.image.config.v1+json` config, one tar+gzip
    /// layer made of `layer`) as `repo:tag`; returns the manifest digest.
    pub fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> TestResult<String> {
        self.block_on(async {
            let layer_digest = self.put_blob(repo, layer).await?;
            let config = serde_json::to_vec(&serde_json::json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
            }))
            .unwrap();
            let config_digest = self.put_blob(repo, &config).await?;
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": IMAGE_CONFIG, "digest": config_digest, "size": config.len()},
                "layers": [{"mediaType": IMAGE_LAYER, "digest": layer_digest, "size": layer.len()}],
            });
            self.put_manifest_async(
                repo,
                tag,
                OCI_MANIFEST,
                serde_json::to_vec(&manifest).unwrap(),
            )
            .await
        })
    }

    /// Creates Helm chart manifests fast: the layer (`layer` bytes, e.g. a fixture `.tgz`) is
    /// uploaded once and mounted into the other repositories, one small config blob per item
    /// (`{"name":<last repo segment>,"version":<tag with _ as +>,...}`) and one manifest PUT,
    /// 16 requests in flight. 250 items take a few seconds.
    pub fn bulk_push_charts(&self, items: &[BulkChart], layer: &[u8]) -> TestResult {
        let repos: BTreeSet<&str> = items.iter().map(|i| i.repo.as_str()).collect();
        let Some(first) = repos.first().copied() else {
            return Ok(());
        };
        self.block_on(async {
            // the layer is uploaded once, then mounted into every other repository
            let layer_digest = &self.put_blob(first, layer).await?;
            stream::iter(repos.iter().filter(|r| **r != first))
                .map(|repo| async move { self.upload_blob(repo, layer, Some(first)).await })
                .buffer_unordered(PARALLEL)
                .try_collect::<Vec<String>>()
                .await?;
            stream::iter(items)
                .map(|item| async move {
                    let name = item.repo.rsplit('/').next().unwrap_or(&item.repo);
                    let version = item.tag.replace('_', "+");
                    let config = format!(
                        "{{\"name\":{},\"version\":{},\"description\":\"bulk fixture\",\"apiVersion\":\"v2\",\"appVersion\":\"1\"}}",
                        serde_json::to_string(name).unwrap(),
                        serde_json::to_string(&version).unwrap()
                    );
                    let config_digest =
                        self.upload_blob(&item.repo, config.as_bytes(), None).await?;
                    let manifest = serde_json::json!({
                        "schemaVersion": 2,
                        "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": HELM_CONFIG, "digest": config_digest, "size": config.len()},
                        "layers": [{"mediaType": HELM_LAYER, "digest": layer_digest, "size": layer.len()}],
                        "annotations": {
                            "org.opencontainers.image.title": name,
                            "org.opencontainers.image.version": version,
                        },
                    });
                    self.put_manifest_async(
                        &item.repo,
                        &item.tag,
                        OCI_MANIFEST,
                        serde_json::to_vec(&manifest).unwrap(),
                    )
                    .await
                    .map(|_| ())
                })
                .buffer_unordered(PARALLEL)
                .try_collect::<Vec<()>>()
                .await
                .map(|_| ())
        })
    }

    /// All tags of a repository (follows `Link` pagination; registry order, i.e. unsorted).
    pub fn tags(&self, repo: &str) -> TestResult<Vec<String>> {
        self.paginate(
            &format!("/v2/{repo}/tags/list?n=1000"),
            &format!("repository:{repo}:pull"),
            "tags",
        )
    }

    /// All repositories (`/v2/_catalog`, follows `Link` pagination).
    pub fn catalog(&self) -> TestResult<Vec<String>> {
        self.paginate("/v2/_catalog?n=1000", "registry:catalog:*", "repositories")
    }

    fn paginate(&self, first: &str, scope: &str, key: &str) -> TestResult<Vec<String>> {
        self.block_on(async {
            let mut out = Vec::new();
            let mut next = Some(first.to_string());
            while let Some(path) = next.take() {
                let r = self.req(Method::GET, &path, scope, &[], None).await?;
                let r = Self::expect(r, &[200], &format!("GET {path}"))?;
                let v: serde_json::Value =
                    serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
                out.extend(
                    v[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_string)),
                );
                // Link: </v2/_catalog?last=x&n=1000>; rel="next"
                next = r
                    .headers
                    .get("Link")
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| l.split('<').nth(1))
                    .and_then(|l| l.split('>').next())
                    .map(str::to_string);
            }
            Ok(out)
        })
    }

    /// GET a manifest: (digest, media type, JSON).
    pub fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> TestResult<(String, String, serde_json::Value)> {
        self.block_on(async {
            let r = self
                .req(
                    Method::GET,
                    &format!("/v2/{repo}/manifests/{reference}"),
                    &format!("repository:{repo}:pull"),
                    &[(
                        "Accept",
                        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json",
                    )],
                    None,
                )
                .await?;
            let r = Self::expect(r, &[200], &format!("GET manifest {repo}:{reference}"))?;
            let h = |k: &str| {
                r.headers
                    .get(k)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let digest = match h("Docker-Content-Digest") {
                d if d.is_empty() => sha256_digest(&r.body),
                d => d,
            };
            let v = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
            Ok((digest, h("Content-Type"), v))
        })
    }

    /// Deletes a manifest by tag or digest (a tag is resolved to its digest first; every tag
    /// pointing at that manifest disappears).
    pub fn delete_manifest(&self, repo: &str, reference: &str) -> TestResult {
        let digest = if reference.starts_with("sha256:") {
            reference.to_string()
        } else {
            self.manifest(repo, reference)?.0
        };
        self.block_on(async {
            let r = self
                .req(
                    Method::DELETE,
                    &format!("/v2/{repo}/manifests/{digest}"),
                    &format!("repository:{repo}:delete,pull,push"),
                    &[],
                    None,
                )
                .await?;
            Self::expect(r, &[202], &format!("DELETE {repo}@{digest}")).map(|_| ())
        })
    }

    /// Any GET (path relative to the registry root) returning (status, body) without judging it.
    pub fn get(&self, path: &str, scope: &str) -> TestResult<(u16, Vec<u8>)> {
        self.block_on(async {
            let r = self.req(Method::GET, path, scope, &[], None).await?;
            Ok((r.status.as_u16(), r.body))
        })
    }
}

/// A plain HTTP response (for fixture checks: index.yaml, conditional requests).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GET `url` trusting the test CA, with extra headers and optional basic credentials.
pub fn http_get(
    tb: &Testbed,
    url: &str,
    headers: &[(&str, &str)],
    basic: bool,
) -> TestResult<HttpResponse> {
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(60));
    if !tb.ca_pem.is_empty() {
        b = b.add_root_certificate(
            reqwest::Certificate::from_pem(tb.ca_pem.as_bytes()).map_err(|e| e.to_string())?,
        );
    }
    let client = b.build().map_err(|e| e.to_string())?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(async {
            let mut rb = client.get(url);
            if basic {
                rb = rb.basic_auth(&tb.user, Some(&tb.password));
            }
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            let r = rb.send().await.map_err(|e| format!("GET {url}: {e}"))?;
            Ok(HttpResponse {
                status: r.status().as_u16(),
                headers: r.headers().clone(),
                body: r.bytes().await.map_err(|e| e.to_string())?.to_vec(),
            })
        })
}
