variable "helm_repo_url" {
  type    = string
  default = "https://charts.example.com/stable"
}

resource "chartreg_helm_registry" "stable" {
  name     = "stable"
  endpoint = var.helm_repo_url
}

# As `helm search repo ingress`: charts whose name, description or keywords contain "ingress"
# (case-insensitive), each with the version Helm lists (its newest stable one, as a rule).
data "chartreg_helm_charts" "ingress" {
  registry = chartreg_helm_registry.stable
  query    = "ingress"
}

# As `helm search repo --regexp '^web' --versions --devel`: every version of the charts whose
# name starts with "web", pre-releases included, newest first.
data "chartreg_helm_charts" "web" {
  registry = chartreg_helm_registry.stable
  query    = "^web"
  regexp   = true
  versions = true
  devel    = true
}

output "ingress_charts" {
  value = { for c in data.chartreg_helm_charts.ingress.charts : c.name => c.version }
}

output "web_versions" {
  value = [for c in data.chartreg_helm_charts.web.charts : c.version if c.name == "web"]
}
