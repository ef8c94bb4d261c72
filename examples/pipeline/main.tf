# A configuration run by a CI pipeline (docs/guides/ci-pipeline.md): `ci.sh plan` on every pull
# request, `ci.sh apply` on merge. Commit it with its .terraform.lock.hcl.
terraform {
  required_providers {
    chartreg = {
      source  = "chartreg/chartreg"
      version = "~> 0.1"
    }
  }

  # The state every run of the pipeline shares. Use your team's remote backend here ("s3",
  # "gcs", "azurerm", "http", ...); its settings come from -backend-config (TF_BACKEND_CONFIG in
  # ci.sh) so that one configuration serves every environment.
  backend "local" {}
}

# Credentials come from the CI system's secret store as TF_VAR_charts_username and
# TF_VAR_charts_password: never in the repository, never in a plan's text (sensitive).
variable "charts_url" {
  type        = string
  description = "Helm repository of the team's charts."
}

variable "charts_username" {
  type = string
}

variable "charts_password" {
  type      = string
  sensitive = true
}

resource "chartreg_helm_registry" "internal" {
  name     = "internal"
  endpoint = var.charts_url
  username = var.charts_username
  password = var.charts_password
}

output "charts" {
  value = sort(keys(chartreg_helm_registry.internal.charts))
}
