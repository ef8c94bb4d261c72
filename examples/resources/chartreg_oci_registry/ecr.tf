variable "ecr_registry" {
  type    = string
  default = "123456789012.dkr.ecr.us-east-1.amazonaws.com" # without https://
}

variable "partner_registry" {
  type    = string
  default = "210987654321.dkr.ecr.us-east-1.amazonaws.com"
}

variable "aws_region" {
  type    = string
  default = "us-east-1" # optional: the region in the registry host is the default
}

variable "aws_access_key_id" {
  type      = string
  sensitive = true
}

variable "aws_secret_access_key" {
  type      = string
  sensitive = true
}

variable "partner_role_arn" {
  type    = string
  default = "arn:aws:iam::210987654321:role/chart-reader"
}

variable "partner_external_id" {
  type      = string
  sensitive = true
}

# 1. An IAM user's access keys.
resource "chartreg_oci_registry" "keys" {
  name               = "ecr-keys"
  endpoint           = var.ecr_registry
  base_content_paths = ["charts"]
  ecr {
    region            = var.aws_region
    access_key_id     = var.aws_access_key_id
    secret_access_key = var.aws_secret_access_key
  }
}

# 2. A role in another account, assumed with STS; the source credentials are the default chain
#    here (add access_key_id/secret_access_key to use static keys instead).
resource "chartreg_oci_registry" "partner" {
  name               = "ecr-partner"
  endpoint           = var.partner_registry
  base_content_paths = ["team/charts"]
  ecr {
    region       = var.aws_region
    role_arn     = var.partner_role_arn
    external_id  = var.partner_external_id
    session_name = "chartreg"
  }
}

# 3. The default AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
#    web identity, container or instance metadata) and AWS_REGION: no ecr block needed.
resource "chartreg_oci_registry" "chain" {
  name                = "ecr-chain"
  endpoint            = var.ecr_registry
  authentication_type = "ecr"
  base_content_paths  = ["charts"]
}

output "ecr_charts" {
  value = { for path, c in chartreg_oci_registry.keys.charts : path => c.latest_version }
}
