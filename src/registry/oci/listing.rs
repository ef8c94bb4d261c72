//! Listings of an OCI registry: `Link` pagination (the only end of a listing is the absence of a
//! `rel="next"` link: registries answer shorter pages than asked), `tags/list` of one repository
//! and the registry's repositories through a [`RepositoryLister`].
//!
//! The lister is a seam: [`CatalogLister`] reads the distribution spec's `_catalog` (with the
//! `registry:catalog:*` scope, which token registries grant separately from repository pulls);
//! registries without a usable `_catalog` (Amazon ECR: `DescribeRepositories`) bring their own
//! lister and keep the rest of the client.

use std::collections::HashSet;

use async_trait::async_trait;
use reqwest::header::LINK;
use reqwest::StatusCode;
use url::Url;

use super::auth::{read_param_value, repo_scope, Session};
use super::chart::semver_tags;
use super::endpoint::{invalid, normalize_base_path};
use super::OciClient;
use super::Reply;
use crate::error::{redact_url, Error, Result};
use crate::registry::scrub::json_error;

/// Page size asked for `_catalog` and `tags/list` (`?n=`). Registries may answer shorter pages:
/// only the absence of a `Link: <…>; rel="next"` header ends a listing.
pub const PAGE_SIZE: u32 = 100;
const MAX_PAGES: usize = 100_000;
const CATALOG_SCOPE: &str = "registry:catalog:*";

/// The target of the `rel="next"` link of a `Link` header value, as written (maybe relative).
pub fn parse_next_link(header: &str) -> Option<String> {
    let s: Vec<char> = header.chars().collect();
    let mut i = 0;
    while i < s.len() {
        while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
            i += 1;
        }
        if i >= s.len() || s[i] != '<' {
            return None;
        }
        let start = i + 1;
        while i < s.len() && s[i] != '>' {
            i += 1;
        }
        let target: String = s[start..i.min(s.len())].iter().collect();
        i += 1;
        let mut next = false;
        // parameters: `; name=value` or `; name="quoted, value"`, until a `,` or the end
        loop {
            while i < s.len() && s[i].is_whitespace() {
                i += 1;
            }
            if i >= s.len() || s[i] != ';' {
                break;
            }
            i += 1;
            let ns = i;
            while i < s.len() && !matches!(s[i], '=' | ';' | ',') {
                i += 1;
            }
            let name: String = s[ns..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_ascii_lowercase();
            let mut value = String::new();
            if i < s.len() && s[i] == '=' {
                i += 1;
                while i < s.len() && s[i].is_whitespace() {
                    i += 1;
                }
                value = read_param_value(&s, &mut i, |c| matches!(c, ';' | ','));
            }
            if name == "rel"
                && value
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            {
                next = true;
            }
        }
        if next {
            return Some(target.trim().to_string());
        }
    }
    None
}

/// Follow a paginated listing (`_catalog` or `tags/list`) to its end. `Err(reply)` carries the
/// first non-success answer.
async fn list_paginated(
    session: &Session,
    first: Url,
    scope: &str,
    field: &str,
) -> Result<std::result::Result<Vec<String>, Reply>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut next = Some(first);
    while let Some(u) = next.take() {
        if !seen.insert(u.to_string()) || seen.len() > MAX_PAGES {
            return Err(Error::Protocol {
                url: redact_url(u.as_str()),
                detail: "the registry's pagination (Link header) loops".into(),
            });
        }
        let reply = session
            .get(
                &u,
                Some(scope),
                Some("application/json"),
                session.settings().max_index_size,
            )
            .await?;
        if !reply.status.is_success() {
            return Ok(Err(reply));
        }
        let v: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| reply.protocol(format!("invalid JSON listing: {}", json_error(&e))))?;
        match v.get(field) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(a)) => {
                for x in a {
                    let s = x
                        .as_str()
                        .ok_or_else(|| reply.protocol(format!("`{field}` holds a non-string")))?;
                    out.push(s.to_string());
                }
            }
            Some(_) => return Err(reply.protocol(format!("`{field}` is not a list"))),
        }
        let link = reply
            .headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_next_link);
        if let Some(l) = link {
            let n = u
                .join(&l)
                .map_err(|e| reply.protocol(format!("invalid Link header: {e}")))?;
            tracing::debug!(next = %redact_url(n.as_str()), "following pagination");
            next = Some(n);
        }
    }
    Ok(Ok(out))
}

/// What `tags/list` of one repository answered.
pub(super) enum TagsOutcome {
    Tags(Vec<String>),
    NotFound,
    Denied(u16),
}

/// The tags of repository `repo` (all pages), and the URL of the first page.
pub(super) async fn list_tags(session: &Session, repo: &str) -> Result<(TagsOutcome, Url)> {
    let url = session.url(&format!("/v2/{repo}/tags/list?n={PAGE_SIZE}"))?;
    let outcome = match list_paginated(session, url.clone(), &repo_scope(repo), "tags").await? {
        Ok(tags) => TagsOutcome::Tags(tags),
        Err(r) if r.status == StatusCode::NOT_FOUND => TagsOutcome::NotFound,
        Err(r) if matches!(r.status.as_u16(), 401 | 403) => TagsOutcome::Denied(r.status.as_u16()),
        Err(r) => return Err(r.status_error()),
    };
    Ok((outcome, url))
}

/// What a [`RepositoryLister`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryListing {
    /// Repository paths in the registry. May hold more than was asked for: the sync keeps the
    /// ones equal to a prefix or below it.
    Listed(Vec<String>),
    /// The registry does not let these credentials list its repositories; the reason, worded for
    /// the error ("GET /v2/_catalog answered HTTP 401"). The sync then only finds base paths that
    /// are repositories themselves.
    Refused(String),
}

/// How the sync learns which repositories a registry holds.
#[async_trait]
pub trait RepositoryLister: Send + Sync + std::fmt::Debug {
    /// The repositories equal to or below any of `prefixes` (repository paths in the registry,
    /// without slashes at the ends; `""` is the whole registry). Called once per sync, before the
    /// tags of any repository are read. `session` is the registry's authenticated session, for
    /// listers that ask the registry itself.
    async fn repositories(
        &self,
        session: &Session,
        prefixes: &[String],
    ) -> Result<RepositoryListing>;
}

/// The distribution spec's `GET /v2/_catalog` (paginated, `registry:catalog:*` scope). It lists
/// the whole registry whatever the prefixes; a client error or HTTP 501 is
/// [`RepositoryListing::Refused`] (GHCR, Docker Hub and many token servers refuse the scope).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogLister;

#[async_trait]
impl RepositoryLister for CatalogLister {
    async fn repositories(
        &self,
        session: &Session,
        _prefixes: &[String],
    ) -> Result<RepositoryListing> {
        let url = session.url(&format!("/v2/_catalog?n={PAGE_SIZE}"))?;
        match list_paginated(session, url, CATALOG_SCOPE, "repositories").await? {
            Ok(names) => Ok(RepositoryListing::Listed(names)),
            Err(r) if r.status.is_client_error() || r.status == StatusCode::NOT_IMPLEMENTED => {
                let codes = if r.codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.codes.join(", "))
                };
                Ok(RepositoryListing::Refused(format!(
                    "GET /v2/_catalog answered HTTP {}{codes}",
                    r.status.as_u16()
                )))
            }
            Err(r) => Err(r.status_error()),
        }
    }
}

impl OciClient {
    /// The chart versions of repository `repo` (a path in the registry, e.g. from
    /// [`SyncReport::repositories`]): its tags mapped `_`→`+`, semver only, newest first. Cheap
    /// (tag listing only): manifests are not checked, so a semver-tagged non-chart image is
    /// included; cross-check with the catalog when that matters.
    ///
    /// [`SyncReport::repositories`]: super::SyncReport::repositories
    pub async fn chart_versions(&self, repo: &str) -> Result<Vec<String>> {
        let repo = normalize_base_path(repo).map_err(|r| invalid(repo, r))?;
        let (outcome, url) = list_tags(&self.session, &repo).await?;
        let tags = match outcome {
            TagsOutcome::Tags(t) => t,
            TagsOutcome::NotFound => {
                return Err(Error::NotFound {
                    url: redact_url(url.as_str()),
                })
            }
            TagsOutcome::Denied(status) => {
                return Err(Error::Unauthorized {
                    url: redact_url(url.as_str()),
                    status,
                })
            }
        };
        let mut versions: Vec<String> = semver_tags(&tags).into_iter().map(|(_, v)| v).collect();
        crate::registry::catalog::sort_versions_desc(&mut versions, |v| v);
        Ok(versions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            parse_next_link(r#"</v2/_catalog?last=many%2Frepo095&n=100>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=many%2Frepo095&n=100")
        );
        assert_eq!(
            parse_next_link(r#"<https://r/v2/a/tags/list?n=2&last=b>; rel="prev", <https://r/v2/a/tags/list?n=2&last=d>; rel=next"#)
                .as_deref(),
            Some("https://r/v2/a/tags/list?n=2&last=d")
        );
        assert_eq!(parse_next_link(r#"</x>; rel="prev first""#), None);
        assert_eq!(
            parse_next_link(r#"</x>; title="a, <b>"; rel="other next""#).as_deref(),
            Some("/x")
        );
        assert_eq!(parse_next_link(""), None);
    }
}
