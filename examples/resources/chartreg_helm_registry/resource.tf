variable "helm_repo_url" {
  type    = string
  default = "https://charts.example.com/stable"
}

variable "helm_repo_password" {
  type      = string
  sensitive = true
  default   = null
}

# A public repository whose index is refreshed on every read.
resource "chartreg_helm_registry" "stable" {
  name     = "stable"
  endpoint = var.helm_repo_url
}

# A private repository behind basic auth and a private CA, downloaded once and used offline;
# bump sync_trigger to re-download the index.
resource "chartreg_helm_registry" "internal" {
  name            = "internal"
  endpoint        = var.helm_repo_url
  synchronization = false
  sync_trigger    = "2026-11-21"
  username        = var.helm_repo_password == null ? null : "ci"
  password        = var.helm_repo_password
}

output "stable_charts" {
  value = { for name, c in chartreg_helm_registry.stable.charts : name => c.latest_version }
}
