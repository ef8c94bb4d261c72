output "charts" {
  description = "Per chart key: repository, chart and version for helm_release, and the archive's sha256 digest."
  value = merge(
    { for k, c in data.chartreg_helm_chart.helm : k => {
      repository = c.repository
      chart      = c.chart
      version    = c.version
      digest     = c.digest
    } },
    { for k, c in data.chartreg_helm_chart.oci : k => {
      repository = c.repository
      chart      = c.chart
      version    = c.version
      digest     = c.digest
    } },
  )
}

output "registries" {
  description = "Registration id per registry key."
  value = merge(
    { for k, r in chartreg_helm_registry.this : k => r.id },
    { for k, r in chartreg_oci_registry.this : k => r.id },
  )
}
