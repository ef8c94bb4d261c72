# Quickstart: register a classic Helm repository and an OCI registry, look at their charts, and
# resolve one chart version as Helm would (what `helm_release` takes, its digest and values).
# `make demo` runs this against local servers; set the variables to use your own registries.
terraform {
  required_providers {
    chartreg = {
      source = "chartreg/chartreg"
    }
  }
}

variable "helm_repo_url" {
  type        = string
  description = "URL of a classic Helm repository (serves index.yaml)."
}

variable "oci_endpoint" {
  type        = string
  description = "OCI registry endpoint (host[:port][/path]; http:// for plain HTTP)."
}

variable "chart" {
  type        = string
  description = "A chart of the Helm repository to resolve."
  default     = "podinfo"
}

variable "chart_version" {
  type        = string
  description = "Exact version or Helm constraint (null: the newest stable version)."
  default     = null
}

provider "chartreg" {
  request_timeout = "30s"
}

resource "chartreg_helm_registry" "demo" {
  name     = "demo"
  endpoint = var.helm_repo_url
}

resource "chartreg_oci_registry" "demo" {
  name               = "demo-oci"
  endpoint           = var.oci_endpoint
  base_content_paths = ["demo"]
}

# One chart version, resolved as `helm pull --version` resolves it; its details come from the
# chart archive (verified against the index digest, cached: the next plan downloads nothing).
data "chartreg_helm_chart" "app" {
  registry = chartreg_helm_registry.demo
  name     = var.chart
  version  = var.chart_version
}

locals {
  values_lines = split("\n", data.chartreg_helm_chart.app.values == null ? "" : data.chartreg_helm_chart.app.values)
}

output "helm_charts" {
  description = "Latest stable version of each chart in the Helm repository."
  value       = { for name, c in chartreg_helm_registry.demo.charts : name => c.latest_version }
}

output "helm_index_digest" {
  value = chartreg_helm_registry.demo.index_digest
}

output "oci_charts" {
  description = "Chart repositories of the OCI registry with their latest stable version."
  value       = { for path, c in chartreg_oci_registry.demo.charts : path => c.latest_version }
}

output "chart_versions" {
  description = "Every version of the chart, newest first."
  value       = data.chartreg_helm_chart.app.versions
}

output "helm_release" {
  description = "What a helm_release (hashicorp/helm) takes: repository, chart, version."
  value = {
    repository = data.chartreg_helm_chart.app.repository
    chart      = data.chartreg_helm_chart.app.chart
    version    = data.chartreg_helm_chart.app.version
  }
}

output "resolved_chart" {
  description = "The resolved chart: version, digest and the first lines of its values.yaml."
  value = join("\n", concat(
    [
      "${data.chartreg_helm_chart.app.chart} ${data.chartreg_helm_chart.app.version} (${data.chartreg_helm_chart.app.repository})",
      "digest: sha256:${data.chartreg_helm_chart.app.digest}",
      "values.yaml:",
    ],
    [for l in slice(local.values_lines, 0, min(8, length(local.values_lines))) : "  ${l}"],
  ))
}
