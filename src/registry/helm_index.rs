//! Classic Helm repository client: resolves `<endpoint>/index.yaml` as Helm does, fetches it with
//! conditional requests, parses YAML or JSON and validates entries with Helm's rules.
//! INTERFACE STUB: bodies are being implemented.

use std::collections::BTreeMap;

use url::Url;

use crate::error::Result;
use crate::registry::catalog::Catalog;
use crate::registry::http::{Credentials, HttpSettings, TlsOptions};

/// A classic Helm repository as configured.
#[derive(Debug, Clone)]
pub struct HelmRepo {
    /// The endpoint as the user wrote it (http or https).
    pub endpoint: String,
    pub credentials: Option<Credentials>,
    pub tls: TlsOptions,
    /// Send credentials to chart URLs on other hosts too.
    pub pass_credentials: bool,
}

/// HTTP cache validators of the index last downloaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One chart version of an index, with what later resolution needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub app_version: String,
    pub description: String,
    pub deprecated: bool,
    pub digest: String,
    /// Chart URLs as written in the index (relative or absolute).
    pub urls: Vec<String>,
    pub created: String,
}

/// A parsed and validated index.
#[derive(Debug, Clone, Default)]
pub struct ParsedIndex {
    /// Valid entries per chart name, newest first.
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    /// Entries skipped because they fail Helm's metadata validation.
    pub skipped: usize,
}

impl ParsedIndex {
    pub fn catalog(&self) -> Catalog {
        todo!()
    }
}

/// A downloaded index.
#[derive(Debug, Clone)]
pub struct FetchedIndex {
    pub url: Url,
    pub bytes: Vec<u8>,
    /// Lower-case hex sha256 of `bytes`.
    pub digest: String,
    pub validators: Validators,
    pub index: ParsedIndex,
}

#[derive(Debug, Clone)]
pub enum IndexFetch {
    NotModified,
    Fetched(Box<FetchedIndex>),
}

/// `<endpoint>/index.yaml` the way Helm builds it.
pub fn index_url(endpoint: &str) -> Result<Url> {
    let _ = endpoint;
    todo!()
}

/// Parse index bytes (YAML or JSON).
pub fn parse_index(bytes: &[u8], url: &str) -> Result<ParsedIndex> {
    let _ = (bytes, url);
    todo!()
}

/// Download the index; with `validators`, a conditional request that may answer `NotModified`.
pub async fn fetch_index(
    repo: &HelmRepo,
    settings: &HttpSettings,
    validators: Option<&Validators>,
) -> Result<IndexFetch> {
    let _ = (repo, settings, validators);
    todo!()
}
