# Quickstart: register a classic Helm repository and an OCI registry, and look at their charts.
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

output "helm_charts" {
  description = "Latest version of each chart in the Helm repository."
  value       = { for name, c in chartreg_helm_registry.demo.charts : name => c.latest_version }
}

output "helm_versions" {
  description = "All versions of each chart, newest first."
  value       = { for name, c in chartreg_helm_registry.demo.charts : name => c.versions }
}

output "helm_index_digest" {
  value = chartreg_helm_registry.demo.index_digest
}

output "oci_charts" {
  description = "Chart repositories of the OCI registry with their versions."
  value       = { for path, c in chartreg_oci_registry.demo.charts : path => c.versions }
}
