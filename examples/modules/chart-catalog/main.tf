# chart-catalog: register Helm and OCI registries with `for_each` and resolve wanted charts on them.
locals {
  helm_registries = { for k, r in var.registries : k => r if r.type == "helm" }
  oci_registries  = { for k, r in var.registries : k => r if r.type == "oci" }
  helm_charts     = { for k, c in var.charts : k => c if var.registries[c.registry].type == "helm" }
  oci_charts      = { for k, c in var.charts : k => c if var.registries[c.registry].type == "oci" }
}

resource "chartreg_helm_registry" "this" {
  for_each = local.helm_registries

  name            = "${var.name_prefix}${each.key}"
  endpoint        = each.value.endpoint
  username        = each.value.username
  password        = lookup(var.passwords, each.key, null)
  ca_certificate  = each.value.ca_certificate
  synchronization = each.value.synchronization
}

resource "chartreg_oci_registry" "this" {
  for_each = local.oci_registries

  name               = "${var.name_prefix}${each.key}"
  endpoint           = each.value.endpoint
  username           = each.value.username
  password           = lookup(var.passwords, each.key, null)
  ca_certificate     = each.value.ca_certificate
  base_content_paths = each.value.base_content_paths
  synchronization    = each.value.synchronization
}

# One data source per registry type: `registry` takes the whole registration object.
data "chartreg_helm_chart" "helm" {
  for_each = local.helm_charts

  registry = chartreg_helm_registry.this[each.value.registry]
  name     = each.value.name
  version  = each.value.version
}

data "chartreg_helm_chart" "oci" {
  for_each = local.oci_charts

  registry = chartreg_oci_registry.this[each.value.registry]
  name     = each.value.name
  version  = each.value.version
}
