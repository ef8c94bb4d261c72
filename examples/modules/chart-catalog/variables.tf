variable "name_prefix" {
  type        = string
  default     = ""
  description = "Prefix of every registration name (the map key follows it)."
}

variable "registries" {
  description = <<-EOT
    Registries to register, by key. `type` is "helm" (classic repository, serves index.yaml) or
    "oci". Every attribute must be given (null where unused): Terraform 1.0 has no optional
    object attributes. Passwords are not here: see `passwords`.
  EOT
  type = map(object({
    type               = string
    endpoint           = string
    username           = string
    ca_certificate     = string
    base_content_paths = list(string)
    synchronization    = bool
  }))
  validation {
    condition     = alltrue([for r in var.registries : contains(["helm", "oci"], r.type)])
    error_message = "Each registry's type must be \"helm\" or \"oci\"."
  }
}

variable "passwords" {
  type        = map(string)
  default     = {}
  sensitive   = true
  description = "Password (or token) per registry key, e.g. from the CI's secret store as TF_VAR_passwords."
}

variable "charts" {
  description = "Wanted charts, by key: the registry key, the chart name (on OCI its path, e.g. \"charts/web\" under base path \"charts\") and a version constraint (null: the newest stable)."
  type = map(object({
    registry = string
    name     = string
    version  = string
  }))
  validation {
    condition     = alltrue([for c in var.charts : c.name != ""])
    error_message = "Each chart needs a name."
  }
}
