variable "helm_repo_url" {
  type    = string
  default = "https://charts.example.com/stable"
}

variable "oci_endpoint" {
  type    = string
  default = "ghcr.io/example-org/charts"
}

resource "chartreg_helm_registry" "stable" {
  name     = "stable"
  endpoint = var.helm_repo_url
}

# A Helm constraint, resolved as `helm pull --version "~15.0"` resolves it on the same repository;
# the details (values.yaml, Chart.yaml) come from the chart archive, verified and cached by digest.
data "chartreg_helm_chart" "nginx" {
  registry = chartreg_helm_registry.stable
  name     = "nginx"
  version  = "~15.0"
}

# A registry that plan time may not reach (or that refuses to list its catalog, like GHCR):
# with synchronization off no request is made at plan, and the version must be exact.
resource "chartreg_oci_registry" "ghcr" {
  name            = "ghcr"
  endpoint        = var.oci_endpoint
  synchronization = false
}

data "chartreg_helm_chart" "podinfo" {
  registry = chartreg_oci_registry.ghcr
  name     = "podinfo"
  version  = "6.5.0"
}

# The hashicorp/helm provider takes them as they are:
#
# resource "helm_release" "nginx" {
#   name       = "nginx"
#   repository = data.chartreg_helm_chart.nginx.repository # the repository URL
#   chart      = data.chartreg_helm_chart.nginx.chart      # "nginx"
#   version    = data.chartreg_helm_chart.nginx.version    # the resolved version, e.g. "15.0.3"
# }
#
# resource "helm_release" "podinfo" {
#   name       = "podinfo"
#   repository = data.chartreg_helm_chart.podinfo.repository # "oci://ghcr.io/example-org/charts"
#   chart      = data.chartreg_helm_chart.podinfo.chart      # "podinfo"
#   version    = data.chartreg_helm_chart.podinfo.version
# }

output "nginx" {
  value = {
    version    = data.chartreg_helm_chart.nginx.version
    digest     = data.chartreg_helm_chart.nginx.digest
    repository = data.chartreg_helm_chart.nginx.repository
    chart      = data.chartreg_helm_chart.nginx.chart
    versions   = data.chartreg_helm_chart.nginx.versions
  }
}

output "nginx_values" {
  value = data.chartreg_helm_chart.nginx.values
}

output "podinfo" {
  value = {
    repository = data.chartreg_helm_chart.podinfo.repository
    chart      = data.chartreg_helm_chart.podinfo.chart
    version    = data.chartreg_helm_chart.podinfo.version
  }
}
