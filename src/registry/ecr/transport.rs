//! The AWS SDK's HTTP client: our reqwest client behind the SDK's `HttpClient` trait.
//!
//! Why not the SDK's own client: its default (hyper + rustls) brings rustls' `aws-lc-rs` crypto
//! provider beside the `ring` one that reqwest and tonic use. With two providers in the tree
//! rustls has no process default, and tonic's server TLS config panics under Terraform's AutoMTLS:
//! the plugin would not start. Going through reqwest keeps one TLS stack, one crypto provider and
//! one proxy behaviour (HTTPS_PROXY, HTTP_PROXY, NO_PROXY from the environment, as for the
//! registries) for everything the provider sends. The SDK signs and retries; this only sends.
//!
//! Requests end at once when Terraform stops the provider ([`HttpSettings::cancel`]). Headers that
//! carry credentials (`Authorization`, `X-Amz-Security-Token`) are marked sensitive, so that no
//! `Debug` of a request shows them.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use futures::StreamExt;
use reqwest::header::{HeaderName, HeaderValue};

use crate::registry::http::HttpSettings;

/// Largest AWS answer read (a `DescribeRepositories` page of 1000 repositories is well under
/// 1 MiB).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Our reqwest client as the SDK's HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    settings: HttpSettings,
}

impl ReqwestClient {
    pub fn new(client: reqwest::Client, settings: HttpSettings) -> Self {
        ReqwestClient { client, settings }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let method = reqwest::Method::from_bytes(request.method().as_bytes())
            .map_err(|e| ConnectorError::user(Box::new(e)))?;
        let url = request.uri().to_string();
        let body = request
            .body()
            .bytes()
            .ok_or_else(|| {
                ConnectorError::user("streaming request bodies are not supported".into())
            })?
            .to_vec();
        let mut rb = self.client.request(method, &url).body(body);
        for (name, value) in request.headers().iter() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| ConnectorError::user(Box::new(e)))?;
            let mut value =
                HeaderValue::from_str(value).map_err(|e| ConnectorError::user(Box::new(e)))?;
            if matches!(name.as_str(), "authorization" | "x-amz-security-token") {
                value.set_sensitive(true);
            }
            rb = rb.header(name, value);
        }
        let cancel = self.settings.cancel.clone();
        let exchange = async {
            let resp = rb.send().await.map_err(classify)?;
            let mut out = http::Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers() {
                out = out.header(k, v);
            }
            let mut bytes = Vec::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(classify)?;
                if bytes.len() + chunk.len() > BODY_LIMIT {
                    return Err(ConnectorError::other(
                        format!("the AWS answer is larger than {BODY_LIMIT} bytes").into(),
                        None,
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            let out = out
                .body(SdkBody::from(bytes))
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            HttpResponse::try_from(out).map_err(|e| ConnectorError::other(Box::new(e), None))
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ConnectorError::other(Cancelled.into(), None)),
            r = exchange => r,
        }
    }
}

/// The request was cancelled because Terraform is stopping (recognised in `errors.rs`).
#[derive(Debug, thiserror::Error)]
#[error("cancelled: Terraform is stopping")]
pub struct Cancelled;

/// A reqwest failure as the SDK's retry policy understands it: timeouts and connection trouble
/// are transient.
fn classify(e: reqwest::Error) -> ConnectorError {
    // The message of reqwest's error names the URL (no secret: AWS puts none in URLs we send);
    // the source chain says why.
    if e.is_timeout() {
        ConnectorError::timeout(Box::new(e))
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(Box::new(e))
    } else {
        ConnectorError::other(Box::new(e), None)
    }
}

impl HttpConnector for ReqwestClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        HttpConnectorFuture::new(async move { this.send(request).await })
    }
}

impl HttpClient for ReqwestClient {
    /// The SDK's connect and read timeouts are not used: the reqwest client has the provider's
    /// `request_timeout`, which the registries get too.
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
