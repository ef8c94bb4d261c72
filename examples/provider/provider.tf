terraform {
  required_providers {
    chartreg = {
      source = "chartreg/chartreg"
    }
  }
}

provider "chartreg" {
  request_timeout = "30s"
  max_retries     = 4
  max_index_size  = 268435456 # 256 MiB
  max_chart_size  = 104857600 # 100 MiB
  # cache_dir     = "/var/cache/chartreg"
}
