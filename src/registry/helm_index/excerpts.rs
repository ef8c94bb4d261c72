//! Unit tests on the excerpts of real published indexes in `testdata/indexes/` that issue 9
//! found Helm-equality defects on: versions listed more than once (ingress-nginx, grafana,
//! DataDog) and charts with pre-release versions only (rke2). The expected values are what helm
//! v4.1.4 `search repo NAME/ --versions --devel` and `search repo NAME/` list for these files; the
//! acceptance trial `helm_registry::helm_search_excerpts` asks helm again on every run.

use crate::registry::catalog::{Catalog, ChartSummary};
use crate::registry::helm_index::parse_index;

const INGRESS_NGINX: &[u8] =
    include_bytes!("../../../testdata/indexes/ingress-nginx-2026-03-19.excerpt.yaml");
const GRAFANA: &[u8] = include_bytes!("../../../testdata/indexes/grafana-2026-08-20.excerpt.yaml");
const DATADOG: &[u8] = include_bytes!("../../../testdata/indexes/datadog-2026-08-21.excerpt.yaml");
const RKE2: &[u8] = include_bytes!("../../../testdata/indexes/rke2-charts-2026-08-19.excerpt.yaml");

fn catalog(bytes: &[u8]) -> Catalog {
    let idx = parse_index(bytes, "https://h/index.yaml").unwrap();
    assert_eq!(idx.skipped, 0);
    idx.catalog()
}

fn versions<'a>(c: &'a Catalog, chart: &str) -> Vec<&'a str> {
    c.charts[chart]
        .versions
        .iter()
        .map(|v| v.version.as_str())
        .collect()
}

/// The digest of `version` in the snapshot records, and how many records have that version.
fn digest_of<'a>(c: &'a Catalog, chart: &str, version: &str) -> (&'a str, usize) {
    let found: Vec<_> = c.charts[chart]
        .versions
        .iter()
        .filter(|v| v.version == version)
        .collect();
    (found[0].digest.as_str(), found.len())
}

#[test]
fn ingress_nginx_lists_the_nine_times_published_beta_once() {
    let c = catalog(INGRESS_NGINX);
    assert_eq!(
        versions(&c, "ingress-nginx"),
        ["4.12.1", "4.12.0", "4.12.0-beta.0", "4.11.8"]
    );
    // The first of the nine entries (the index's order), with its own digest and date.
    assert_eq!(
        digest_of(&c, "ingress-nginx", "4.12.0-beta.0"),
        (
            "aed5bccc70f4d39ed645acf397618e0c47f06a1befc8bdd97a4e5b57c89a866c",
            1
        )
    );
    let beta = &c.charts["ingress-nginx"].versions[2];
    assert_eq!(beta.created, "2024-10-15T09:49:01.496212197Z");
    assert_eq!(beta.keywords, ["ingress", "nginx"]);
    assert_eq!(
        beta.urls,
        ["https://github.com/kubernetes/ingress-nginx/releases/download/helm-chart-4.12.0-beta.0/ingress-nginx-4.12.0-beta.0.tgz"]
    );
    let s = ChartSummary::of(&c.charts["ingress-nginx"]);
    assert_eq!(
        (
            s.latest_version.as_deref(),
            s.app_version.as_str(),
            s.version_count
        ),
        (Some("4.12.1"), "1.12.1", 4)
    );
    assert_eq!(
        s.description,
        "Ingress controller for Kubernetes using NGINX as a reverse proxy and load balancer"
    );
    assert_eq!(c.version_count(), 4);
}

#[test]
fn grafana_and_datadog_list_a_republished_version_once() {
    let g = catalog(GRAFANA);
    let v = versions(&g, "alloy-operator");
    assert_eq!(v.len(), 14);
    assert_eq!(
        &v[..5],
        [
            "0.2.6",
            "0.2.6-beta.4",
            "0.2.6-beta.3",
            "0.2.6-beta.2",
            "0.2.6-beta.1"
        ]
    );
    assert_eq!(
        digest_of(&g, "alloy-operator", "0.2.6-beta.2"),
        (
            "3314b50c5ed86483c93698ec664f3da31476a1184b896298d8e4a9d31baa9941",
            1
        )
    );
    let s = ChartSummary::of(&g.charts["alloy-operator"]);
    assert_eq!(
        (s.latest_version.as_deref(), s.app_version.as_str()),
        (Some("0.2.6"), "1.0.2")
    );

    let d = catalog(DATADOG);
    let v = versions(&d, "datadog-crds");
    assert_eq!(
        v,
        [
            "2.21.0",
            "2.21.0-dev.3",
            "2.21.0-dev.2",
            "2.21.0-dev.1",
            "2.20.0",
            "2.20.0-dev.6",
            "2.20.0-dev.5",
            "2.20.0-dev.4",
            "2.20.0-dev.3",
            "2.20.0-dev.2",
            "2.20.0-dev.1"
        ]
    );
    assert_eq!(
        digest_of(&d, "datadog-crds", "2.20.0-dev.5"),
        (
            "1c61114b77c0748ca7ebc388527f5cb96bab4ce8559078edc1b4e937b87f3eb8",
            1
        )
    );
    assert_eq!(
        ChartSummary::of(&d.charts["datadog-crds"])
            .latest_version
            .as_deref(),
        Some("2.21.0")
    );
}

#[test]
fn rke2_charts_with_prereleases_only_have_no_latest_version() {
    let c = catalog(RKE2);
    let sum = c.summaries();
    // `helm search repo rke2/` shows rke2-sriov-crd only.
    let shown: Vec<_> = sum
        .iter()
        .filter_map(|(k, s)| Some((k.as_str(), s.latest_version.as_deref()?)))
        .collect();
    assert_eq!(shown, [("rke2-sriov-crd", "v1.0.002")]);
    for (chart, newest, app, description) in [
        (
            "rke2-canal-1.19-1.20",
            "v3.13.3-build2021102203",
            "v3.13.3",
            "Install Canal Network Plugin.",
        ),
        (
            "rke2-canal-crd",
            "v3.27.3-build2024042300",
            "v3.27.3",
            "Install CRDs for Canal Network Plugin.",
        ),
        (
            "rke2-sriov",
            "v1.0.0-build2021042902",
            "v1.0.0",
            "Install SR-IOV operator, cni and device polugin.",
        ),
    ] {
        let s = &sum[chart];
        assert_eq!(s.latest_version, None, "{chart}");
        // Described by the newest version.
        assert_eq!(versions(&c, chart)[0], newest);
        assert_eq!(
            (
                s.app_version.as_str(),
                s.description.as_str(),
                s.version_count
            ),
            (app, description, 2),
            "{chart}"
        );
    }
    // Relative URLs as written (the snapshot's index_url resolves them).
    assert_eq!(
        c.charts["rke2-sriov"].versions[0].urls,
        ["assets/rke2-sriov/rke2-sriov-v1.0.0-build2021042902.tgz"]
    );
}
