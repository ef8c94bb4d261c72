//! What a failed request was for, so that an error can be worded for it (a 404 of an OCI config
//! blob is not "Registry Index Not Found").
//!
//! It is read back from the request URL every error carries, and that is exact rather than a
//! guess because the clients only ever send these requests: a classic Helm repository is asked
//! for `index.yaml` (and chart archives, any other URL); an OCI registry for the routes of the
//! OCI distribution spec (`/v2/`, `/v2/_catalog`, `/v2/<name>/tags/list`,
//! `/v2/<name>/manifests/<reference>`, `/v2/<name>/blobs/<digest>`), each a path the spec
//! reserves, and for tokens at the realm its challenge names (errors from the realm carry the
//! realm URL), which is any other URL.

/// The kind of registry a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A classic Helm repository (`index.yaml` over HTTP).
    Helm,
    /// An OCI registry (distribution API).
    Oci,
}

/// What a request fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A Helm repository's `index.yaml`.
    Index,
    /// A chart archive (`.tgz`) of a Helm repository.
    Archive,
    /// `GET /v2/`: the registry's API root (reachability and authentication).
    Ping,
    /// `GET /v2/_catalog`: the repository list.
    Catalog,
    /// `GET /v2/<name>/tags/list`: a repository's tags.
    Tags,
    /// `GET /v2/<name>/manifests/<reference>`: a chart's manifest.
    Manifest,
    /// `GET /v2/<name>/blobs/<digest>`: a chart's config or layer.
    Blob,
    /// A token from the registry's token service (realm).
    Token,
}

impl Request {
    /// What the request to `url` (as an error shows it: redacted, any query cut) was for.
    pub fn of(protocol: Protocol, url: &str) -> Request {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        // Drop scheme and host: only the path says what was asked.
        let path = match path.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => path.find('/').map_or("/", |i| &path[i..]),
        };
        match protocol {
            Protocol::Helm if path.ends_with("/index.yaml") => Request::Index,
            Protocol::Helm => Request::Archive,
            Protocol::Oci => oci_route(path),
        }
    }
}

fn oci_route(path: &str) -> Request {
    let Some(i) = path
        .find("/v2/")
        .or_else(|| path.ends_with("/v2").then_some(path.len() - 3))
    else {
        return Request::Token;
    };
    let route = path[i..].trim_start_matches("/v2").trim_start_matches('/');
    // A repository name may hold any segment; the route is read from the last two, which
    // the spec fixes (`tags/list`, `manifests/<reference>`, `blobs/<digest>`: no `/` inside).
    let mut tail = route.rsplit('/');
    let (last, kind) = (tail.next().unwrap_or(""), tail.next());
    match (kind, last) {
        (None, "") => Request::Ping,
        (None, "_catalog") => Request::Catalog,
        (Some("tags"), "list") => Request::Tags,
        (Some("manifests"), r) if !r.is_empty() => Request::Manifest,
        (Some("blobs"), d) if !d.is_empty() => Request::Blob,
        _ => Request::Token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let oci = |u| Request::of(Protocol::Oci, u);
        assert_eq!(oci("https://r.example.com/v2/"), Request::Ping);
        assert_eq!(oci("http://127.0.0.1:5000/v2/_catalog?…"), Request::Catalog);
        assert_eq!(oci("https://r/v2/charts/x/tags/list?…"), Request::Tags);
        assert_eq!(oci("https://r/v2/a/b/manifests/1.0.0"), Request::Manifest);
        assert_eq!(
            oci("https://r/v2/a/blobs/sha256:0123456789abcdef"),
            Request::Blob
        );
        // A repository named like a route part is still read by its last route segments.
        assert_eq!(oci("https://r/v2/blobs/manifests/1"), Request::Manifest);
        assert_eq!(
            oci("https://r/v2/x/manifests/y/blobs/sha256:00"),
            Request::Blob
        );
        assert_eq!(oci("https://r/v2/tags/list/tags/list"), Request::Tags);
        assert_eq!(oci("https://auth.example.com/token?…"), Request::Token);
        assert_eq!(oci("https://quay.io/v2/auth?…"), Request::Token);
        assert_eq!(oci("https://r/service/token"), Request::Token);
        let helm = |u| Request::of(Protocol::Helm, u);
        assert_eq!(helm("https://h/stable/index.yaml?…"), Request::Index);
        assert_eq!(helm("https://h/stable/mychart-0.1.0.tgz"), Request::Archive);
    }
}
