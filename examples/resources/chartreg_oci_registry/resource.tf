variable "oci_endpoint" {
  type    = string
  default = "registry.example.com"
}

variable "oci_password" {
  type      = string
  sensitive = true
  default   = null
}

# Anonymous access to a registry whose charts live under two paths.
resource "chartreg_oci_registry" "public" {
  name               = "public"
  endpoint           = var.oci_endpoint
  base_content_paths = ["library", "team-a/charts"]
}

# A registry with basic or bearer-token authentication, listed once and used offline;
# bump sync_trigger to list it again.
resource "chartreg_oci_registry" "harbor" {
  name               = "harbor"
  endpoint           = var.oci_endpoint
  base_content_paths = ["library"]
  synchronization    = false
  sync_trigger       = "1"
  username           = var.oci_password == null ? null : "robot"
  password           = var.oci_password
}

output "public_charts" {
  value = { for path, c in chartreg_oci_registry.public.charts : path => c.latest_version }
}
